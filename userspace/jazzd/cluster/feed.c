// SPDX-License-Identifier: GPL-2.0
/*
 * The Redis backend's timer, every [cluster] heartbeat_ms:
 *  - heartbeat: refresh the online records (and leases) this server still
 *    owns; a record another server took means the device logged in there
 *    (the last login wins): its session here is dropped;
 *  - change feed: read the P:feed stream from where we were; an "on" entry
 *    of another server for a device we hold drops ours at once, without
 *    waiting for the heartbeat. After a reconnect (a new primary, maybe one
 *    that lost the tail of the stream) the heartbeat is the resync: it
 *    checks every device we hold, then the feed goes on from its end;
 *  - every ~2 s the Sentinels are asked which node is the primary (a
 *    switch-over is followed even if the old primary still answers);
 *  - cut off: when Redis has not answered for session_ttl_ms, our records
 *    have expired there and other servers may take our devices, so every
 *    session here is dropped (the clients move to another server) rather
 *    than diverging.
 *
 * Must not know sessions (it reports through the lost callback).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_int.h"
#include "log.h"

#define HB_BATCH 300	/* devices per HEARTBEAT call */
#define FEED_COUNT "256"

bool jz_cl_u64(const char *s, size_t n, uint64_t *out)
{
	char buf[24], *end;

	if (!n || n > 20 || strspn(s, "0123456789") < n)
		return false;
	memcpy(buf, s, n);
	buf[n] = 0;
	*out = strtoull(buf, &end, 10);
	return !*end;
}

bool jz_feed_id_parse(const char *s, size_t n, uint64_t *ms, uint64_t *seq)
{
	size_t d = strcspn(s, "-");

	return d < n && jz_cl_u64(s, d, ms) && jz_cl_u64(s + d + 1, n - d - 1, seq);
}

/* HEARTBEAT's reply: {index, session, owner now}... each one we lost. */
static int hb_reply(struct jz_rstate *r, redisReply *x)
{
	char why[160];

	if (!x || x->type != REDIS_REPLY_ARRAY || x->elements % 3) {
		if (x)
			jz_err("cluster: heartbeat: %s", x->type == REDIS_REPLY_ERROR ?
			       x->str : "a reply of an unexpected form");
		return -1;
	}
	for (size_t i = 0; i < x->elements; i += 3) {
		redisReply **e = x->element + i;
		uint64_t idx, sid;
		struct rdev *v;
		size_t n;

		if (e[0]->type != REDIS_REPLY_STRING || e[1]->type != REDIS_REPLY_STRING ||
		    e[2]->type != REDIS_REPLY_STRING ||
		    !jz_cl_u64(e[0]->str, e[0]->len, &idx) ||
		    !jz_cl_u64(e[1]->str, e[1]->len, &sid))
			continue;
		v = idx <= UINT32_MAX ? jz_rdev_find(r, (uint32_t)idx) : NULL;
		if (!v || v->sid != sid)
			continue;
		n = strcspn(e[2]->str, " ");
		if (e[2]->len && jz_cluster_name_ok(e[2]->str, n))
			snprintf(why, sizeof(why), "replaced on server %.*s", (int)n, e[2]->str);
		else
			snprintf(why, sizeof(why), "its online record expired in the cluster state");
		jz_rstate_lost(r, v, why);
	}
	return 0;
}

static int heartbeat(struct jz_rstate *r)
{
	size_t cap = 4 + 3 * HB_BATCH, n;
	const char **argv = calloc(cap, sizeof(*argv));
	char (*nums)[24] = calloc(2 * HB_BATCH, sizeof(*nums));
	char ttl[16], lttl[16];
	struct rdev *batch[HB_BATCH];
	size_t b = 0, bucket = 0;
	struct rdev *v = NULL;
	int rc = 0;

	if (!argv || !nums) {
		free(argv);
		free(nums);
		return -1;
	}
	snprintf(ttl, sizeof(ttl), "%d", r->session_ttl_ms);
	snprintf(lttl, sizeof(lttl), "%d", r->lease_ttl_s);
	/* one call per HB_BATCH devices, and one at least (this server's mark) */
	for (;;) {
		while (!v && bucket < RDEV_BUCKETS)
			v = r->tab[bucket++];
		if (v && v->sid) {
			batch[b++] = v;
		}
		if (v)
			v = v->next;
		if (b == HB_BATCH || (!v && bucket == RDEV_BUCKETS)) {
			argv[0] = r->prefix;
			argv[1] = r->server_id;
			argv[2] = ttl;
			argv[3] = lttl;
			n = 4;
			for (size_t i = 0; i < b; i++) {
				snprintf(nums[2 * i], 24, "%u", batch[i]->lease.idx);
				snprintf(nums[2 * i + 1], 24, "%" PRIu64, batch[i]->sid);
				argv[n++] = nums[2 * i];
				argv[n++] = nums[2 * i + 1];
				argv[n++] = batch[i]->lease.key;
			}
			if (hb_reply(r, jz_rconn_script(&r->rc, JZ_SC_HEARTBEAT, (int)n, argv,
							  NULL)))
				rc = -1;
			b = 0;
			if (!v && bucket == RDEV_BUCKETS)
				break;
		}
	}
	free(argv);
	free(nums);
	return rc;
}

/* Where stream @key ends now (into @out): new entries are read from there. */
int jz_stream_end(struct jz_rstate *r, const char *key, char *out, size_t outlen)
{
	const char *argv[6] = { "XREVRANGE", key, "+", "-", "COUNT", "1" };
	redisReply *x = jz_rconn_cmd(&r->rc, 6, argv, NULL);

	snprintf(out, outlen, "0-0");
	if (!x || x->type != REDIS_REPLY_ARRAY) {
		/* not a stream (the scripts replace it) or no answer */
		freeReplyObject(x);
		return x ? 0 : -1;
	}
	if (x->elements == 1 && x->element[0]->type == REDIS_REPLY_ARRAY &&
	    x->element[0]->elements == 2 &&
	    x->element[0]->element[0]->type == REDIS_REPLY_STRING &&
	    x->element[0]->element[0]->len < outlen)
		snprintf(out, outlen, "%s", x->element[0]->element[0]->str);
	freeReplyObject(x);
	return 0;
}

static int feed_mark(struct jz_rstate *r)
{
	char key[128];

	snprintf(key, sizeof(key), "%s:feed", r->prefix);
	if (jz_stream_end(r, key, r->feed_id, sizeof(r->feed_id)))
		return -1;
	jz_remote_mark(r);
	r->feed_conn = r->rc.connects;
	return 0;
}

/* One feed entry: {id, {field, value, ...}}, checked at the edge. */
static void feed_entry(struct jz_rstate *r, const redisReply *e)
{
	const redisReply *f;
	const char *t = NULL, *srv = NULL;
	size_t srvlen = 0;
	uint64_t idx = 0, sid = 0, ms, seq;
	bool have_idx = false;
	struct rdev *v;
	char why[128];

	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
	    e->element[0]->type != REDIS_REPLY_STRING || e->element[0]->len >= sizeof(r->feed_id))
		return;
	if (!jz_feed_id_parse(e->element[0]->str, e->element[0]->len, &ms, &seq))
		return;
	snprintf(r->feed_id, sizeof(r->feed_id), "%s", e->element[0]->str);
	f = e->element[1];
	if (f->type != REDIS_REPLY_ARRAY || f->elements > 16 || f->elements % 2)
		return;
	for (size_t i = 0; i < f->elements; i += 2) {
		const redisReply *k = f->element[i], *val = f->element[i + 1];

		if (k->type != REDIS_REPLY_STRING || val->type != REDIS_REPLY_STRING)
			return;
		if (!strcmp(k->str, "t"))
			t = val->str;
		else if (!strcmp(k->str, "i"))
			have_idx = jz_cl_u64(val->str, val->len, &idx);
		else if (!strcmp(k->str, "s") && jz_cluster_name_ok(val->str, val->len))
			srv = val->str, srvlen = val->len;
		else if (!strcmp(k->str, "sid"))
			jz_cl_u64(val->str, val->len, &sid);
	}
	if (!t || !have_idx || !srv || idx > UINT32_MAX || !idx)
		return;
	if (srvlen == strlen(r->server_id) && !memcmp(srv, r->server_id, srvlen))
		return;		/* our own */
	if (!strcmp(t, "off")) {
		jz_remote_off(r, (uint32_t)idx, srv, srvlen, sid);
		return;
	}
	v = jz_rdev_find(r, (uint32_t)idx);
	if (!strcmp(t, "cd")) {		/* its candidates changed: read it again */
		if (!v || !v->sid)
			jz_remote_on(r, (uint32_t)idx, srv, srvlen, sid);
		return;
	}
	if (strcmp(t, "on"))
		return;
	if (v && v->sid) {
		if (ms < v->claim_ms || (ms == v->claim_ms && seq <= v->claim_seq))
			return;		/* before our claim: history */
		snprintf(why, sizeof(why), "replaced on server %.*s", (int)srvlen, srv);
		jz_rstate_lost(r, v, why);
	}
	jz_remote_on(r, (uint32_t)idx, srv, srvlen, sid);
}

/* The entries of stream @key after @id (a buffer @fn moves on), to @fn;
 * true if more are waiting than one call reads (this server lags). */
bool jz_stream_read(struct jz_rstate *r, const char *key, const char *id,
		    void (*fn)(struct jz_rstate *r, const redisReply *e))
{
	const char *argv[6] = { "XREAD", "COUNT", FEED_COUNT, "STREAMS", key, id };
	redisReply *x, *s;
	size_t n;

	for (int round = 0; round < 8; round++) {
		x = jz_rconn_cmd(&r->rc, 6, argv, NULL);
		if (!x || x->type != REDIS_REPLY_ARRAY || x->elements != 1 ||
		    x->element[0]->type != REDIS_REPLY_ARRAY || x->element[0]->elements != 2 ||
		    x->element[0]->element[1]->type != REDIS_REPLY_ARRAY) {
			freeReplyObject(x);
			return false;
		}
		s = x->element[0]->element[1];
		n = s->elements;
		for (size_t i = 0; i < n; i++)
			fn(r, s->element[i]);
		freeReplyObject(x);
		if (n < 256)
			return false;
	}
	return true;
}

static void feed_read(struct jz_rstate *r)
{
	char key[128];

	snprintf(key, sizeof(key), "%s:feed", r->prefix);
	if (jz_stream_read(r, key, r->feed_id, feed_entry)) {
		/* the stream is trimmed at ~10,000: what we would read later may
		 * be gone; the next tick starts from its end with a resync */
		jz_warn("cluster: the change feed runs ahead of this server; resyncing");
		r->feed_conn = 0;
	}
}

static void cut_off(struct jz_rstate *r, double since)
{
	char why[160];

	if (!r->cut_off)
		jz_err("cluster: Redis has not answered for %.1f s (session_ttl_ms %d): this "
		       "server's %zu device(s) may be taken by other servers; dropping them "
		       "and refusing logins until Redis is back", since, r->session_ttl_ms,
		       r->n_online);
	r->cut_off = true;
	snprintf(why, sizeof(why), "the cluster state (Redis) is unreachable");
	for (size_t i = 0; i < RDEV_BUCKETS; i++)
		for (struct rdev *v = r->tab[i]; v; v = v->next)
			jz_rstate_lost(r, v, why);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct jz_rstate *r = arg;
	bool fresh = r->rc.connects != r->feed_conn;
	double now = jz_now();

	/* after a (re)connect: mark the feed's end first, then the heartbeat
	 * checks every device (what the feed may have missed) */
	if (fresh && feed_mark(r))
		goto failed;
	if (heartbeat(r))
		goto failed;
	if (r->cut_off)
		jz_info("cluster: Redis answers again; taking logins");
	r->cut_off = false;
	r->last_ok = now;
	if (fresh)
		jz_remote_resync(r);	/* every device of the other servers */
	feed_read(r);
	jz_remote_read_relays(r);
	if (++r->ticks % 5 == 0)
		jz_remote_check(r);
	/* about every 2 s: does a Sentinel name another primary? */
	if (r->ticks % (2000 / r->heartbeat_ms + 1) == 0)
		jz_rconn_recheck(&r->rc);
	return;
failed:
	if (now - r->last_ok >= r->session_ttl_ms / 1000.0)
		cut_off(r, now - r->last_ok);
}

int jz_feed_start(struct jz_rstate *r)
{
	struct timeval tv = { r->heartbeat_ms / 1000, (r->heartbeat_ms % 1000) * 1000 };

	r->tick = event_new(r->d->base, -1, EV_PERSIST, on_tick, r);
	if (!r->tick)
		return -1;
	evtimer_add(r->tick, &tv);
	return 0;
}

void jz_feed_stop(struct jz_rstate *r)
{
	if (r->tick)
		event_free(r->tick);
	r->tick = NULL;
}
