// SPDX-License-Identifier: GPL-2.0
/*
 * The Redis backend of the state interface (state.h): leases, online
 * records, identity keys, endpoints and pair verdicts in Redis, written
 * by the scripts of scripts.c; every reply checked here, at the edge,
 * before a value is used (a malformed one is refused with a log line).
 *
 * This server's devices are kept in a table by lease index (struct rdev):
 * the lease struct the server's sessions point to, and which session holds
 * it online. Entries are reused, never freed before the state (a closing
 * session may still read its lease).
 *
 * Must not know sessions (the server calls in; lost devices go out through
 * the lost callback) nor parse configuration text.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "cluster_int.h"
#include "log.h"

bool jz_cluster_name_ok(const char *s, size_t n)
{
	if (!n || n > 63)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-",
			    s[i]) || !s[i])
			return false;
	return true;
}

struct rdev *jz_rdev_find(struct jz_rstate *r, uint32_t idx)
{
	struct rdev *v;

	for (v = r->tab[idx % RDEV_BUCKETS]; v; v = v->next)
		if (v->lease.idx == idx)
			return v;
	return NULL;
}

static struct rdev *rdev_of(struct jz_lease *l)
{
	return (struct rdev *)((char *)l - offsetof(struct rdev, lease));
}

/* Tells the server, once, that session @v->sid is no longer ours. */
void jz_rstate_lost(struct jz_rstate *r, struct rdev *v, const char *why)
{
	uint64_t sid = v->sid;

	if (!sid)
		return;
	v->sid = 0;
	r->n_online--;
	r->cb.lost(r->cb.arg, v->lease.idx, sid, why);
}

static int int_arg(char *buf, size_t len, long long x)
{
	return snprintf(buf, len, "%lld", x);
}

/* A reply {code, ...} of a script: the code, or -1 if it is not one. */
static long long reply_code(const redisReply *x, size_t min_elems)
{
	if (!x || x->type != REDIS_REPLY_ARRAY || x->elements < min_elems ||
	    x->elements > 4 || x->element[0]->type != REDIS_REPLY_INTEGER)
		return -1;
	return x->element[0]->integer;
}

static const char *reply_why(const redisReply *x)
{
	if (!x)
		return "no answer";
	if (x->type == REDIS_REPLY_ERROR)
		return x->str;
	if (x->type == REDIS_REPLY_ARRAY && x->elements == 2 &&
	    x->element[1]->type == REDIS_REPLY_STRING && x->element[1]->len < 300)
		return x->element[1]->str;
	return "a reply of an unexpected form";
}

enum jz_state_rc jz_rstate_lease(struct jz_rstate *r, const char *user, const char *realm,
				 const char *device, int max_devices, struct jz_lease **out)
{
	char key[600], ukey[520], maxi[16], maxd[16], ttl[16];
	const char *argv[6] = { r->prefix, key, ukey, maxi, maxd, ttl };
	redisReply *x;
	struct rdev *v;
	long long code, idx;

	snprintf(key, sizeof(key), "%s@%s/%s", user, realm, device);
	snprintf(ukey, sizeof(ukey), "%s@%s", user, realm);
	int_arg(maxi, sizeof(maxi), r->max_idx);
	int_arg(maxd, sizeof(maxd), max_devices);
	int_arg(ttl, sizeof(ttl), r->lease_ttl_s);
	x = jz_rconn_script(&r->rc, JZ_SC_LEASE, 6, argv, NULL);
	code = reply_code(x, 2);
	if (code == 1 || code == 2) {
		freeReplyObject(x);
		return code == 1 ? JZ_STATE_POOL_FULL : JZ_STATE_TOO_MANY;
	}
	if (code != 0 || x->elements != 3 || x->element[1]->type != REDIS_REPLY_INTEGER) {
		enum jz_state_rc rc = x ? JZ_STATE_MALFORMED : JZ_STATE_UNAVAILABLE;

		if (x)
			jz_err("cluster: lease of %s refused: Redis holds what cannot be used: %s",
			       key, reply_why(x));
		freeReplyObject(x);
		return rc;
	}
	idx = x->element[1]->integer;
	freeReplyObject(x);
	if (idx < 1 || idx > r->max_idx) {
		jz_err("cluster: lease of %s refused: index %lld is outside the pool", key, idx);
		return JZ_STATE_MALFORMED;
	}
	v = jz_rdev_find(r, (uint32_t)idx);
	if (v && strcmp(v->lease.key, key) && v->refs) {
		/* only a store that lost writes (a failover) does this */
		jz_err("cluster: index %lld given to %s is held here by %s; refused", idx, key,
		       v->lease.key);
		return JZ_STATE_MALFORMED;
	}
	if (!v) {
		v = calloc(1, sizeof(*v));
		if (!v)
			return JZ_STATE_UNAVAILABLE;
		v->lease.idx = (uint32_t)idx;
		v->next = r->tab[idx % RDEV_BUCKETS];
		r->tab[idx % RDEV_BUCKETS] = v;
	}
	if (strcmp(v->lease.key, key)) {
		snprintf(v->lease.key, sizeof(v->lease.key), "%s", key);
		v->lease.has_pub = false;
	}
	jz_leases_addrs(r->pool, v->lease.idx, v->lease.vip4, v->lease.vip6);
	v->lease.last_seen = time(NULL);
	v->refs++;
	*out = &v->lease;
	return JZ_STATE_OK;
}

/* The previous owner "<server> <session>" and key from ONLINE's reply. */
static void take_prev(struct jz_rstate *r, const redisReply *x, const char *key,
		      struct jz_state_prev *prev)
{
	const redisReply *o = x->element[1], *p = x->element[2];
	size_t n;

	memset(prev, 0, sizeof(*prev));
	if (o->type == REDIS_REPLY_STRING && o->len) {
		n = strcspn(o->str, " ");
		if (jz_cluster_name_ok(o->str, n) && n < sizeof(prev->server) &&
		    (n != strlen(r->server_id) || memcmp(o->str, r->server_id, n)))
			memcpy(prev->server, o->str, n);
	}
	if (p->type == REDIS_REPLY_STRING && p->len) {
		if (p->len > 44 || jz_pubkey_parse(p->str, prev->pub))
			jz_warn("cluster: %s: the identity key Redis holds is malformed; "
				"taken as none", key);
		else
			prev->has_pub = true;
	}
}

enum jz_state_rc jz_rstate_online(struct jz_rstate *r, struct jz_lease *l,
				  const struct jz_state_dev *dev, struct jz_state_prev *prev)
{
	struct rdev *v = rdev_of(l);
	char idx[16], sid[24], ttl[16], port[16], *pub = NULL;
	const char *argv[9] = { r->prefix, idx, l->key, r->server_id, sid, ttl, "",
				dev->ep_ip, port };
	redisReply *x, *w;
	uint64_t cms = 0, cseq = 0;

	int_arg(idx, sizeof(idx), l->idx);
	snprintf(sid, sizeof(sid), "%" PRIu64, dev->sid);
	int_arg(ttl, sizeof(ttl), r->session_ttl_ms);
	int_arg(port, sizeof(port), dev->ep_port);
	if (dev->pub) {
		pub = jz_b64_encode(dev->pub, 32);
		argv[6] = pub ? pub : "";
	}
	x = jz_rconn_script(&r->rc, JZ_SC_ONLINE, 9, argv, NULL);
	free(pub);
	if (reply_code(x, 4) != 0 || x->elements != 4 ||
	    x->element[3]->type != REDIS_REPLY_STRING ||
	    !jz_feed_id_parse(x->element[3]->str, x->element[3]->len, &cms, &cseq)) {
		enum jz_state_rc rc = x ? JZ_STATE_MALFORMED : JZ_STATE_UNAVAILABLE;

		if (x)
			jz_err("cluster: %s cannot go online: %s", l->key, reply_why(x));
		freeReplyObject(x);
		return rc;
	}
	take_prev(r, x, l->key, prev);
	freeReplyObject(x);
	if (r->wait_replicas > 0) {
		/* the login's writes on a replica before the welcome: the
		 * asynchronous-replication window (ARCHITECTURE.md) shrinks to
		 * what WAIT cannot cover */
		char n[16], ms[16];
		const char *wa[3] = { "WAIT", n, ms };

		int_arg(n, sizeof(n), r->wait_replicas);
		int_arg(ms, sizeof(ms), r->wait_ms);
		w = jz_rconn_cmd(&r->rc, 3, wa, NULL);
		if (!w || w->type != REDIS_REPLY_INTEGER || w->integer < r->wait_replicas)
			jz_warn("cluster: %s: online on the primary, not yet on %d replica(s) "
				"(WAIT %d ms)", l->key, r->wait_replicas, r->wait_ms);
		freeReplyObject(w);
	}
	if (v->sid)
		jz_rstate_lost(r, v, "replaced by a new session");
	jz_remote_forget(r, l->idx);	/* no longer another server's */
	v->sid = dev->sid;
	v->claim_ms = cms;
	v->claim_seq = cseq;
	r->n_online++;
	if (dev->pub) {
		memcpy(l->pub, dev->pub, 32);
		l->has_pub = true;
	} else if (prev->has_pub) {
		memcpy(l->pub, prev->pub, 32);
		l->has_pub = true;
	}
	return JZ_STATE_OK;
}

void jz_rstate_offline(struct jz_rstate *r, struct jz_lease *l, uint64_t sid)
{
	struct rdev *v = rdev_of(l);
	char idx[16], s[24];
	const char *argv[4] = { r->prefix, idx, r->server_id, s };

	if (v->refs)
		v->refs--;
	if (!sid || v->sid != sid)
		return;
	v->sid = 0;
	r->n_online--;
	int_arg(idx, sizeof(idx), l->idx);
	snprintf(s, sizeof(s), "%" PRIu64, sid);
	/* not ours any more, or Redis away: the record expires on its own */
	freeReplyObject(jz_rconn_script(&r->rc, JZ_SC_OFFLINE, 4, argv, NULL));
}

/* The device's candidates into its record (if the record is still this
 * session's), announced to the other servers ("cd" in the feed). */
void jz_rstate_cands(struct jz_rstate *r, struct jz_lease *l, uint64_t sid, const char *cands)
{
	struct rdev *v = rdev_of(l);
	char idx[16], s[24];
	const char *argv[5] = { r->prefix, idx, r->server_id, s, cands };
	redisReply *x;

	if (!sid || v->sid != sid)
		return;
	int_arg(idx, sizeof(idx), l->idx);
	snprintf(s, sizeof(s), "%" PRIu64, sid);
	x = jz_rconn_script(&r->rc, JZ_SC_CANDS, 5, argv, NULL);
	if (!x || x->type != REDIS_REPLY_INTEGER || x->integer != 1)
		jz_warn("cluster: the candidates of device %u are not in Redis (%s): other "
			"servers list it without them", l->idx, !x ? "Redis away" :
			x->type == REDIS_REPLY_INTEGER ? "its record is not this session's" :
			"refused");
	freeReplyObject(x);
}

/* An address's index by the pools' arithmetic, checked by making the
 * index's addresses again. */
bool jz_rstate_vip_idx(struct jz_rstate *r, const char *ip, uint32_t *out)
{
	char b4[46], b6[46];
	unsigned char a[16], base[16];
	uint32_t idx, x = 0, y = 0;

	jz_leases_addrs(r->pool, 0, b4, b6);
	if (strchr(ip, ':')) {
		if (inet_pton(AF_INET6, ip, a) != 1 || inet_pton(AF_INET6, b6, base) != 1)
			return false;
		for (int i = 12; i < 16; i++) {
			x = x << 8 | a[i];
			y = y << 8 | base[i];
		}
	} else {
		if (inet_pton(AF_INET, ip, a) != 1 || inet_pton(AF_INET, b4, base) != 1)
			return false;
		memcpy(&x, a, 4);
		memcpy(&y, base, 4);
		x = ntohl(x);
		y = ntohl(y);
	}
	idx = x - y;
	if (!idx || idx > r->max_idx)
		return false;
	jz_leases_addrs(r->pool, idx, b4, b6);
	if (strcmp(b4, ip) && strcmp(b6, ip))
		return false;
	*out = idx;
	return true;
}

void jz_rstate_verdict_put(struct jz_rstate *r, const char *key, bool approve,
			   uint32_t lifetime, int ttl)
{
	char k[400], v[32], t[16];
	const char *argv[5] = { "SET", k, v, "EX", t };

	if (ttl <= 0)
		return;
	snprintf(k, sizeof(k), "%s:v:%s", r->prefix, key);
	snprintf(v, sizeof(v), "%d %u", approve, lifetime);
	int_arg(t, sizeof(t), ttl);
	freeReplyObject(jz_rconn_cmd(&r->rc, 5, argv, NULL));
}

bool jz_rstate_verdict_get(struct jz_rstate *r, const char *key, bool *approve,
			   uint32_t *lifetime)
{
	char k[400];
	const char *argv[2] = { "GET", k };
	redisReply *x;
	unsigned int a, lt;
	int used = 0;
	bool ok = false;

	snprintf(k, sizeof(k), "%s:v:%s", r->prefix, key);
	x = jz_rconn_cmd(&r->rc, 2, argv, NULL);
	if (x && x->type == REDIS_REPLY_STRING) {
		if (x->len < 24 && sscanf(x->str, "%1u %10u%n", &a, &lt, &used) == 2 &&
		    (size_t)used == x->len && a <= 1) {
			*approve = a;
			*lifetime = lt;
			ok = true;
		} else {
			jz_warn("cluster: verdict %s in Redis is malformed; asking the policy", key);
		}
	}
	freeReplyObject(x);
	return ok;
}

struct jz_rstate *jz_rstate_new(struct jz_daemon *d, const struct jz_state_cbs *cbs,
				char *err, size_t errlen)
{
	const struct jz_config *c = &d->cfg;
	struct jz_rstate *r = calloc(1, sizeof(*r));

	if (!r) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->d = d;
	r->cb = *cbs;
	r->server_id = strdup(c->cluster.server_id);
	r->prefix = strdup(c->cluster.prefix);
	r->session_ttl_ms = c->cluster.session_ttl_ms;
	r->heartbeat_ms = c->cluster.heartbeat_ms;
	r->wait_replicas = c->cluster.wait_replicas;
	r->wait_ms = c->cluster.wait_ms;
	r->lease_ttl_s = c->lease_expiry_s > 0 ? c->lease_expiry_s : 30 * 86400;
	r->pool = jz_leases_new(NULL, c->pool4, c->pool6, err, errlen);
	if (!r->pool || jz_rconn_init(&r->rc, &c->cluster)) {
		if (r->pool)
			snprintf(err, errlen, "cluster: cannot hash the scripts");
		jz_rstate_free(r);
		return NULL;
	}
	r->max_idx = jz_leases_max_idx(r->pool);
	r->last_ok = jz_now();
	if (jz_feed_start(r)) {
		snprintf(err, errlen, "cluster: out of memory");
		jz_rstate_free(r);
		return NULL;
	}
	jz_info("cluster: server %s, state in Redis (%s%s), prefix %s", r->server_id,
		c->cluster.sentinels ? "Sentinels " : "",
		c->cluster.sentinels ? c->cluster.sentinels : c->cluster.redis_addr, r->prefix);
	return r;
}

void jz_rstate_free(struct jz_rstate *r)
{
	if (!r)
		return;
	jz_feed_stop(r);
	jz_remote_free(r);
	for (size_t i = 0; i < RDEV_BUCKETS; i++) {
		while (r->tab[i]) {
			struct rdev *v = r->tab[i];

			r->tab[i] = v->next;
			free(v);
		}
	}
	jz_rconn_close(&r->rc);
	jz_leases_free(r->pool);
	free(r->server_id);
	free(r->prefix);
	free(r);
}
