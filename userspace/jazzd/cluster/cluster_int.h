/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cluster_int.h - what the files of cluster/ share: the Redis connection
 * (rconn.c), the Lua scripts (scripts.c) and the Redis backend's state
 * (redis_state.c, feed.c). Internal to cluster/: others use state.h.
 */
#ifndef JAZZD_CLUSTER_INT_H
#define JAZZD_CLUSTER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "state.h"

/* The scripts of scripts.c, each protecting one invariant
 * (docs/ARCHITECTURE.md "Several servers"). */
enum jz_script { JZ_SC_LEASE, JZ_SC_ONLINE, JZ_SC_HEARTBEAT, JZ_SC_OFFLINE, JZ_SC_CANDS,
		 JZ_SC_CHECK, JZ_SC_N };

/* One synchronous hiredis connection to the Redis primary, found through
 * the Sentinels when there are some. Commands fail fast (NULL) while it is
 * down and the next try is not due yet: a login is refused at once
 * rather than waiting on a Redis that is away. */
struct jz_rconn {
	char *addr;			/* [cluster] redis, or NULL */
	char *sentinels, *master, *password;
	int timeout_ms;
	redisContext *c;
	char where[300];		/* the primary in use, host:port */
	double retry_at;		/* no connection attempt before */
	int backoff_ms;
	bool down_logged;
	unsigned long connects;		/* successful connections so far */
	char sha[JZ_SC_N][41];
};

/* One of this server's devices (online, or leased for a login under way). */
struct rdev {
	struct rdev *next;		/* hash chain by lease index */
	struct jz_lease lease;
	uint64_t sid;			/* the session holding it online; 0 none */
	unsigned int refs;		/* sessions pointing at lease */
	uint64_t claim_ms, claim_seq;	/* the feed entry of our claim: older
					 * entries of others are history */
};

#define RDEV_BUCKETS 4096

/* A device online on another server, as this server last heard. */
struct rghost {
	struct rghost *next;	/* hash chain by lease index */
	uint32_t idx;
	char srv[64];
	uint64_t sid;
	uint64_t cv;		/* its record's candidates version when read */
};

struct jz_rstate {
	struct jz_daemon *d;
	struct jz_rconn rc;
	char *server_id, *prefix;
	int session_ttl_ms, heartbeat_ms, wait_replicas, wait_ms;
	int lease_ttl_s;
	struct jz_leases *pool;		/* the pools' arithmetic only */
	uint32_t max_idx;
	struct rdev *tab[RDEV_BUCKETS];
	size_t n_online;
	struct event *tick;
	double last_ok;			/* last heartbeat Redis answered */
	bool cut_off;			/* sessions dropped: Redis away too long */
	char feed_id[48];		/* last change-feed entry read */
	unsigned long feed_conn;	/* rc.connects when feed_id was set */
	struct jz_state_cbs cb;
	struct rghost *gtab[RDEV_BUCKETS];
	size_t n_ghosts;
	unsigned int ticks;
	char relay_id[48];		/* last relay entry read (P:relay:<us>) */
};

#pragma GCC visibility push(hidden)
extern const char *const jz_scripts[JZ_SC_N];
int jz_rconn_init(struct jz_rconn *r, const struct jz_cluster_cfg *k);
void jz_rconn_close(struct jz_rconn *r);
/* argv/lens as redisCommandArgv; NULL when Redis cannot answer now (the
 * reason logged once per outage). A reply of type ERROR is returned. */
redisReply *jz_rconn_cmd(struct jz_rconn *r, int argc, const char **argv, const size_t *lens);
redisReply *jz_rconn_script(struct jz_rconn *r, enum jz_script sc, int argc,
			    const char **argv, const size_t *lens);
/* Asks a Sentinel which node is the primary; a new one: reconnect. */
void jz_rconn_recheck(struct jz_rconn *r);

struct jz_rstate *jz_rstate_new(struct jz_daemon *d, const struct jz_state_cbs *cbs,
				char *err, size_t errlen);
bool jz_rstate_relay(struct jz_rstate *r, uint32_t from, uint32_t to, const char *kind,
		     const char *msg);
/* remote.c: devices of other servers (ghosts), and relays to them */
void jz_remote_on(struct jz_rstate *r, uint32_t idx, const char *srv, size_t srvlen,
		  uint64_t sid);
void jz_remote_off(struct jz_rstate *r, uint32_t idx, const char *srv, size_t srvlen,
		   uint64_t sid);
void jz_remote_forget(struct jz_rstate *r, uint32_t idx);
void jz_remote_resync(struct jz_rstate *r);
void jz_remote_check(struct jz_rstate *r);
void jz_remote_mark(struct jz_rstate *r);
void jz_remote_read_relays(struct jz_rstate *r);
void jz_remote_free(struct jz_rstate *r);
void jz_rstate_free(struct jz_rstate *r);
struct rdev *jz_rdev_find(struct jz_rstate *r, uint32_t idx);
void jz_rstate_lost(struct jz_rstate *r, struct rdev *v, const char *why);
enum jz_state_rc jz_rstate_lease(struct jz_rstate *r, const char *user, const char *realm,
				 const char *device, int max_devices, struct jz_lease **out);
enum jz_state_rc jz_rstate_online(struct jz_rstate *r, struct jz_lease *l,
				  const struct jz_state_dev *dev, struct jz_state_prev *prev);
void jz_rstate_offline(struct jz_rstate *r, struct jz_lease *l, uint64_t sid);
void jz_rstate_cands(struct jz_rstate *r, struct jz_lease *l, uint64_t sid, const char *cands);
bool jz_rstate_vip_idx(struct jz_rstate *r, const char *ip, uint32_t *idx);
void jz_rstate_verdict_put(struct jz_rstate *r, const char *key, bool approve,
			   uint32_t lifetime, int ttl);
bool jz_rstate_verdict_get(struct jz_rstate *r, const char *key, bool *approve,
			   uint32_t *lifetime);
/* feed.c: the heartbeat and the change feed, on a timer */
int jz_feed_start(struct jz_rstate *r);
void jz_feed_stop(struct jz_rstate *r);
/* A server name as stored: 1-63 of [A-Za-z0-9._-]. */
bool jz_cluster_name_ok(const char *s, size_t n);
int jz_stream_end(struct jz_rstate *r, const char *key, char *out, size_t outlen);
bool jz_stream_read(struct jz_rstate *r, const char *key, const char *id,
		    void (*fn)(struct jz_rstate *r, const redisReply *e));
/* @n decimal digits (at most 20) as a number. */
bool jz_cl_u64(const char *s, size_t n, uint64_t *out);
/* A stream entry id "ms-seq". */
bool jz_feed_id_parse(const char *s, size_t n, uint64_t *ms, uint64_t *seq);
#pragma GCC visibility pop

#endif
