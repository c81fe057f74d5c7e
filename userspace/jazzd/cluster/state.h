/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The server's shared state (issue 21): address leases, which devices are
 * online and on which server, their identity keys and endpoints, and the
 * policy's decision for a pair. Two backends behind one interface:
 *  - local (no [cluster], or backend = local): today's single server, the
 *    leases JSON file of core/leases.c, everything else in memory;
 *  - redis ([cluster] backend = redis): the state in Redis, written by Lua
 *    scripts where writes must not race (docs/ARCHITECTURE.md, "Several
 *    servers"), so that several jazzd servers make one network.
 *
 * cluster/ interface, used by server/. Must not know sessions: the server
 * hands in what it knows (ids, keys, endpoints) and is told through the
 * lost callback when a device it holds went to another server.
 */
#ifndef JAZZD_CLUSTER_STATE_H
#define JAZZD_CLUSTER_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/jazzd.h"
#include "core/leases.h"

struct jz_state;

enum jz_state_rc {
	JZ_STATE_OK = 0,
	JZ_STATE_POOL_FULL,	/* no free address */
	JZ_STATE_TOO_MANY,	/* the user has max_devices devices */
	JZ_STATE_UNAVAILABLE,	/* the state cannot be written (Redis away) */
	JZ_STATE_MALFORMED,	/* the store holds something we refuse to use */
};

/* A device going online, as the server knows it. */
struct jz_state_dev {
	uint64_t sid;
	const unsigned char *pub;	/* 32 bytes, or NULL */
	const char *ep_ip;
	uint16_t ep_port;
};

/* What the store knew of the device before this login. */
struct jz_state_prev {
	bool has_pub;
	unsigned char pub[32];
	char server[64];	/* the server that had it online ("" none/this) */
};

/* The device with lease index @idx, session @sid, is no longer this
 * server's (@why: "replaced on server X", "cluster state unreachable"). */
typedef void (*jz_state_lost_fn)(void *arg, uint32_t idx, uint64_t sid, const char *why);

/* A device online on another server of the cluster, as its record says
 * (checked: names, key, endpoint). */
struct jz_state_remote {
	const char *user, *realm, *device;
	const char *server;
	const unsigned char *pub;	/* 32 bytes, or NULL */
	const char *ep_ip;
	uint16_t ep_port;
	/* its candidates as its server wrote them (at most JZ_STATE_CANDS_MAX
	 * bytes, no NUL; NOT parsed here: the server parses them as it does
	 * a device's "candidates"), or NULL */
	const char *cands;
};

struct jz_state_cbs {
	jz_state_lost_fn lost;
	/* device @idx is online on another server (@r), or no longer (NULL) */
	void (*remote)(void *arg, uint32_t idx, const struct jz_state_remote *r);
	/* a message relayed by another server from its device @from for our
	 * @to: @kind "pair" (a handshake), "verdict" (JSON), "ack" (a vid),
	 * "relay" (JSON {ip, port}: that server relays the pair, issue 20) */
	void (*relay)(void *arg, uint32_t from, uint32_t to, const char *kind,
		      const char *msg);
	void *arg;
};

struct jz_state *jz_state_new(struct jz_daemon *d, const struct jz_state_cbs *cbs,
			      char *err, size_t errlen);
void jz_state_free(struct jz_state *st);
const char *jz_state_backend(struct jz_state *st);	/* "local" / "redis" */
void jz_state_prefix(struct jz_state *st, int *plen4, int *plen6);

/* The lease of user@realm/device, made if new (max_devices 0: no limit).
 * *out stays valid until jz_state_offline() for a session that went
 * online with it, or until the next jz_state_lease() if it did not. */
enum jz_state_rc jz_state_lease(struct jz_state *st, const char *user, const char *realm,
				const char *device, int max_devices, struct jz_lease **out);
/* Records the device online on this server (the last login wins: another
 * server holding it is told to drop it) and binds its identity key. */
enum jz_state_rc jz_state_online(struct jz_state *st, struct jz_lease *l,
				 const struct jz_state_dev *dev, struct jz_state_prev *prev);
/* Session @sid of the device is gone (nothing if it is no longer ours). */
void jz_state_offline(struct jz_state *st, struct jz_lease *l, uint64_t sid);
/* Session @sid's candidates (issue 20; the "candidates" message's JSON,
 * at most JZ_STATE_CANDS_MAX bytes) for the other servers: into the
 * device's record and announced in the feed (local backend: nothing). */
#define JZ_STATE_CANDS_MAX 1024
void jz_state_cands(struct jz_state *st, struct jz_lease *l, uint64_t sid, const char *cands);
/* The addresses of lease index @idx. */
void jz_state_addrs(struct jz_state *st, uint32_t idx, char vip4[46], char vip6[46]);
/* The lease index an address of the pools belongs to (false: none). */
bool jz_state_vip_idx(struct jz_state *st, const char *ip, uint32_t *idx);

/* A message of our device @from for @to, online on another server (kinds
 * as the relay callback's): handed to that server through Redis. False if
 * @to is not known to be elsewhere, or Redis did not take it. */
bool jz_state_relay(struct jz_state *st, uint32_t from, uint32_t to, const char *kind,
		    const char *msg);

/* The policy's decision for a pair, shared by all servers for @ttl s. */
void jz_state_verdict_put(struct jz_state *st, const char *key, bool approve,
			  uint32_t lifetime, int ttl);
bool jz_state_verdict_get(struct jz_state *st, const char *key, bool *approve,
			  uint32_t *lifetime);

/* Local backend's housekeeping (the Redis backend keeps TTLs): write the
 * leases file if it changed; free leases unused since @before. */
void jz_state_flush(struct jz_state *st);
size_t jz_state_expire(struct jz_state *st, time_t before,
		       bool (*in_use)(void *arg, uint32_t idx), void *arg);
/* Online devices are seen now (local backend: last_seen). */
void jz_state_seen(struct jz_state *st, struct jz_lease *l, time_t now);

#endif
