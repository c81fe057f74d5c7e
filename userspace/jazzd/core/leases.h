/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Virtual address leases of the server (leases.c).
 *
 * core/ interface, used by server/. Must not know sessions.
 */
#ifndef JAZZD_LEASES_H
#define JAZZD_LEASES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <jansson.h>

struct jz_lease {
	char key[600];		/* user@realm/device */
	uint32_t idx;		/* 1.. : peer id everywhere */
	char vip4[46], vip6[46];
	time_t last_seen;
	/* the device's identity key (X25519), bound at its first login with
	 * one; public, kept so that a change of key is noticed and logged */
	unsigned char pub[32];
	bool has_pub;
};

struct jz_leases;

/* @path NULL: no file (cluster/'s Redis backend uses the pool arithmetic only). */
struct jz_leases *jz_leases_new(const char *path, const char *pool4, const char *pool6,
				char *err, size_t errlen);
struct jz_lease *jz_leases_find(struct jz_leases *l, const char *key);
struct jz_lease *jz_leases_by_vip(struct jz_leases *l, const char *ip);
/* Finds or makes the lease; NULL when the pool is full. The change is
 * written by the next jz_leases_flush(). */
struct jz_lease *jz_leases_get(struct jz_leases *l, const char *key);
int jz_leases_save(struct jz_leases *l);
/* Writes the file if anything changed (the server calls it on a short timer). */
int jz_leases_flush(struct jz_leases *l);
void jz_leases_prefix(struct jz_leases *l, int *plen4, int *plen6);
/* The highest index the pools hold, and the addresses of index @idx. */
uint32_t jz_leases_max_idx(struct jz_leases *l);
void jz_leases_addrs(struct jz_leases *l, uint32_t idx, char vip4[46], char vip6[46]);
/* Leases whose key starts with @prefix ("user@realm/": a user's devices). */
size_t jz_leases_count_prefix(struct jz_leases *l, const char *prefix);
/* Frees the leases last seen before @before that in_use() does not claim;
 * their addresses go back to the pool. Pointers to them become invalid.
 * Returns how many. */
size_t jz_leases_expire(struct jz_leases *l, time_t before,
			bool (*in_use)(void *arg, uint32_t idx), void *arg);
void jz_leases_free(struct jz_leases *l);

#endif
