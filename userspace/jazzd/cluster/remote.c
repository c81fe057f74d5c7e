// SPDX-License-Identifier: GPL-2.0
/*
 * The devices of the other servers (issue 21, stage 2): this server learns
 * them from the change feed ("on"/"off" entries), reads each one's record
 * (P:d:<index>: key, public key, endpoint, server, session, candidates),
 * checks it at the edge and hands it to the server, which lists it to its own devices
 * like a local one. After a (re)connect every online record is read again
 * (the resync); every fifth tick the records of the devices we think are
 * elsewhere are checked, so a server that died (its records expire, no
 * "off" entry) takes its devices out of the lists, and a device whose
 * candidates changed without our seeing its "cd" entry (lost with the
 * feed's tail) is read again: the check compares its record's candidates
 * version (cv, counted up by CANDS) with the one last read, so the record
 * is read and parsed again only when it changed.
 *
 * "pair" handshake messages for such a device go to its server's relay
 * stream P:relay:<server>; that server reads its own stream each tick and
 * delivers them. Devices check every handshake themselves (Noise_KK with
 * the listed keys): a relay can drop or delay messages, never forge keys.
 *
 * Must not know sessions (the server's callbacks do).
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_int.h"
#include "log.h"

#define CHECK_BATCH 300
#define RELAY_MAXLEN "10000"

static struct rghost **ghost_slot(struct jz_rstate *r, uint32_t idx)
{
	struct rghost **pp = &r->gtab[idx % RDEV_BUCKETS];

	while (*pp && (*pp)->idx != idx)
		pp = &(*pp)->next;
	return pp;
}

static void ghost_unlink(struct jz_rstate *r, uint32_t idx, bool tell)
{
	struct rghost **pp = ghost_slot(r, idx), *g = *pp;

	if (!g)
		return;
	*pp = g->next;
	free(g);
	r->n_ghosts--;
	if (tell)
		r->cb.remote(r->cb.arg, idx, NULL);
}

void jz_remote_forget(struct jz_rstate *r, uint32_t idx)
{
	ghost_unlink(r, idx, false);
}

/* "user@realm/device" into its parts (in @buf); false if it is not one. */
static bool split_key(const char *key, size_t len, char *buf, size_t buflen,
		      const char **user, const char **realm, const char **device)
{
	char *slash, *at;

	if (len >= buflen)
		return false;
	memcpy(buf, key, len);
	buf[len] = 0;
	slash = strrchr(buf, '/');
	if (!slash)
		return false;
	*slash = 0;
	at = strrchr(buf, '@');
	if (!at || at == buf || !at[1] || !slash[1] || strlen(slash + 1) > 63)
		return false;
	*at = 0;
	*user = buf;
	*realm = at + 1;
	*device = slash + 1;
	return jz_name_ok(*user) && jz_name_ok(*realm) &&
	       strspn(*device, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			       "0123456789._-") == strlen(*device);
}

static const redisReply *field(const redisReply *x, const char *name)
{
	for (size_t i = 0; i + 1 < x->elements; i += 2)
		if (x->element[i]->type == REDIS_REPLY_STRING &&
		    !strcmp(x->element[i]->str, name) &&
		    x->element[i + 1]->type == REDIS_REPLY_STRING)
			return x->element[i + 1];
	return NULL;
}

/* The record of device @idx, checked, to the server (if it is @srv's @sid). */
void jz_remote_on(struct jz_rstate *r, uint32_t idx, const char *srv, size_t srvlen,
		  uint64_t sid)
{
	char key[64], buf[600], sv[64], ep[46];
	const char *argv[2] = { "HGETALL", key };
	const redisReply *k, *pub, *e, *port, *rs, *rsid, *cd, *cv;
	struct jz_state_remote rem = { 0 };
	unsigned char pk[32], a[16];
	struct rdev *v = jz_rdev_find(r, idx);
	struct rghost **pp, *g;
	uint64_t n, rsidv, cvv = 0;
	redisReply *x;

	if ((v && v->sid) || srvlen >= sizeof(sv))
		return;		/* ours (the feed drops ours first if it moved) */
	memcpy(sv, srv, srvlen);
	sv[srvlen] = 0;
	snprintf(key, sizeof(key), "%s:d:%u", r->prefix, idx);
	x = jz_rconn_cmd(&r->rc, 2, argv, NULL);
	if (!x || x->type != REDIS_REPLY_ARRAY || x->elements > 32) {
		freeReplyObject(x);
		return;
	}
	k = field(x, "key");
	pub = field(x, "pub");
	e = field(x, "ep");
	port = field(x, "port");
	rs = field(x, "srv");
	rsid = field(x, "sid");
	cd = field(x, "cands");
	cv = field(x, "cv");
	if (!rs || rs->len != srvlen || memcmp(rs->str, srv, srvlen) || !rsid ||
	    !jz_cl_u64(rsid->str, rsid->len, &rsidv) || rsidv != sid) {
		freeReplyObject(x);
		return;		/* a newer record replaced it: its entry follows */
	}
	if (cv && !jz_cl_u64(cv->str, cv->len, &cvv))
		cvv = 0;
	g = *ghost_slot(r, idx);
	if (g)
		g->cv = cvv;	/* read: a malformed record is not read again each check */
	if (!k || !split_key(k->str, k->len, buf, sizeof(buf), &rem.user, &rem.realm,
			     &rem.device) ||
	    !e || e->len >= sizeof(ep) || !port || !jz_cl_u64(port->str, port->len, &n) ||
	    n > 65535 || (pub && pub->len && (pub->len > 44 || jz_pubkey_parse(pub->str, pk)))) {
		jz_warn("cluster: the record of device %u (server %s) in Redis is malformed; "
			"not listed", idx, sv);
		freeReplyObject(x);
		return;
	}
	memcpy(ep, e->str, e->len);
	ep[e->len] = 0;
	if (inet_pton(strchr(ep, ':') ? AF_INET6 : AF_INET, ep, a) != 1) {
		jz_warn("cluster: device %u (server %s): endpoint in Redis is not an address; "
			"not listed", idx, sv);
		freeReplyObject(x);
		return;
	}
	rem.server = sv;
	rem.pub = pub && pub->len ? pk : NULL;
	rem.ep_ip = ep;
	rem.ep_port = (uint16_t)n;
	if (cd && (cd->len > JZ_STATE_CANDS_MAX || strlen(cd->str) != cd->len))
		jz_warn("cluster: device %u (server %s): candidates in Redis are not short "
			"text; listed without them", idx, sv);
	else if (cd)
		rem.cands = cd->str;
	pp = ghost_slot(r, idx);
	g = *pp;
	if (!g) {
		g = calloc(1, sizeof(*g));
		if (!g) {
			freeReplyObject(x);
			return;
		}
		g->idx = idx;
		*pp = g;
		r->n_ghosts++;
		jz_debug("cluster: device %u (%s@%s/%s) online on server %s", idx, rem.user,
			 rem.realm, rem.device, sv);
	}
	snprintf(g->srv, sizeof(g->srv), "%s", sv);
	g->sid = sid;
	g->cv = cvv;
	r->cb.remote(r->cb.arg, idx, &rem);
	freeReplyObject(x);
}

void jz_remote_off(struct jz_rstate *r, uint32_t idx, const char *srv, size_t srvlen,
		   uint64_t sid)
{
	struct rghost *g = *ghost_slot(r, idx);

	if (g && g->sid == sid && strlen(g->srv) == srvlen && !memcmp(g->srv, srv, srvlen))
		ghost_unlink(r, idx, true);
}

/* An online record's value "<server> <session>" and its record's
 * candidates version @cv: another server's, taken (read again if its
 * candidates changed since we read it). */
static void take_record(struct jz_rstate *r, uint32_t idx, const redisReply *v,
			const redisReply *cv)
{
	size_t n;
	uint64_t sid, cvv = 0;

	if (!v || v->type != REDIS_REPLY_STRING || v->len > 100) {
		ghost_unlink(r, idx, true);
		return;
	}
	n = strcspn(v->str, " ");
	if (n >= v->len || !jz_cluster_name_ok(v->str, n) ||
	    !jz_cl_u64(v->str + n + 1, v->len - n - 1, &sid)) {
		ghost_unlink(r, idx, true);
		return;
	}
	if (n == strlen(r->server_id) && !memcmp(v->str, r->server_id, n)) {
		ghost_unlink(r, idx, false);	/* ours now */
		return;
	}
	{
		struct rghost *g = *ghost_slot(r, idx);

		if (g && g->sid == sid && strlen(g->srv) == n && !memcmp(g->srv, v->str, n)) {
			if (!cv || cv->type != REDIS_REPLY_STRING ||
			    !jz_cl_u64(cv->str, cv->len, &cvv) || cvv == g->cv)
				return;		/* as we know it */
			jz_debug("cluster: device %u (server %s): its candidates changed "
				 "(version %" PRIu64 " -> %" PRIu64 ") without a feed entry "
				 "here; read again", idx, g->srv, g->cv, cvv);
		}
	}
	jz_remote_on(r, idx, v->str, n, sid);
}

/* The online records and candidates versions of @ids (CHECK, one round
 * trip), each taken as above. */
static void check_ids(struct jz_rstate *r, const uint32_t *ids, size_t n)
{
	const char **argv = calloc(n + 1, sizeof(*argv));
	char (*keys)[16] = calloc(n, sizeof(*keys));
	redisReply *x;

	if (!argv || !keys)
		goto out;
	argv[0] = r->prefix;
	for (size_t i = 0; i < n; i++) {
		snprintf(keys[i], sizeof(keys[i]), "%u", ids[i]);
		argv[i + 1] = keys[i];
	}
	x = jz_rconn_script(&r->rc, JZ_SC_CHECK, (int)n + 1, argv, NULL);
	if (x && x->type == REDIS_REPLY_ARRAY && x->elements == 2 * n)
		for (size_t i = 0; i < n; i++)
			take_record(r, ids[i], x->element[2 * i], x->element[2 * i + 1]);
	freeReplyObject(x);
out:
	free(argv);
	free(keys);
}

void jz_remote_check(struct jz_rstate *r)
{
	uint32_t *ids = calloc(r->n_ghosts + 1, sizeof(*ids));
	size_t n = 0;

	if (!ids)
		return;
	for (size_t b = 0; b < RDEV_BUCKETS; b++)
		for (struct rghost *g = r->gtab[b]; g; g = g->next)
			ids[n++] = g->idx;
	for (size_t i = 0; i < n; i += CHECK_BATCH)
		check_ids(r, ids + i, n - i < CHECK_BATCH ? n - i : CHECK_BATCH);
	free(ids);
}

/* After a (re)connect: every online record, by SCAN. */
void jz_remote_resync(struct jz_rstate *r)
{
	char pat[96], cur[32] = "0";
	const char *argv[6] = { "SCAN", cur, "MATCH", pat, "COUNT", "1000" };
	size_t plen = strlen(r->prefix) + 4;
	redisReply *x;

	snprintf(pat, sizeof(pat), "%s:on:*", r->prefix);
	for (int round = 0; round < 100000; round++) {
		uint32_t ids[1000];
		size_t n = 0;
		uint64_t idx;

		x = jz_rconn_cmd(&r->rc, 6, argv, NULL);
		if (!x || x->type != REDIS_REPLY_ARRAY || x->elements != 2 ||
		    x->element[0]->type != REDIS_REPLY_STRING || x->element[0]->len >= sizeof(cur) ||
		    x->element[1]->type != REDIS_REPLY_ARRAY) {
			freeReplyObject(x);
			return;
		}
		snprintf(cur, sizeof(cur), "%s", x->element[0]->str);
		for (size_t i = 0; i < x->element[1]->elements && n < 1000; i++) {
			const redisReply *k = x->element[1]->element[i];

			if (k->type == REDIS_REPLY_STRING && k->len > plen &&
			    jz_cl_u64(k->str + plen, k->len - plen, &idx) && idx && idx <= r->max_idx)
				ids[n++] = (uint32_t)idx;
		}
		freeReplyObject(x);
		for (size_t i = 0; i < n; i += CHECK_BATCH)
			check_ids(r, ids + i, n - i < CHECK_BATCH ? n - i : CHECK_BATCH);
		if (!strcmp(cur, "0"))
			return;
	}
}

bool jz_rstate_relay(struct jz_rstate *r, uint32_t from, uint32_t to, const char *kind,
		     const char *msg)
{
	struct rghost *g = *ghost_slot(r, to);
	char key[128], f[16], t[16];
	const char *argv[14] = { "XADD", key, "MAXLEN", "~", RELAY_MAXLEN, "*", "f", f, "t", t,
				 "k", kind, "m", msg };
	redisReply *x;
	bool ok;

	if (!g)
		return false;
	snprintf(key, sizeof(key), "%s:relay:%s", r->prefix, g->srv);
	snprintf(f, sizeof(f), "%u", from);
	snprintf(t, sizeof(t), "%u", to);
	x = jz_rconn_cmd(&r->rc, 14, argv, NULL);
	ok = x && x->type == REDIS_REPLY_STRING;
	freeReplyObject(x);
	return ok;
}

void jz_remote_mark(struct jz_rstate *r)
{
	char key[128];

	snprintf(key, sizeof(key), "%s:relay:%s", r->prefix, r->server_id);
	jz_stream_end(r, key, r->relay_id, sizeof(r->relay_id));
}

/* One relay entry {id, {f, t, k, m}}: checked, then to the server. */
static void relay_entry(struct jz_rstate *r, const redisReply *e)
{
	const redisReply *fl;
	const redisReply *f = NULL, *t = NULL, *k = NULL, *m = NULL;
	uint64_t from, to, ms, seq;

	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
	    e->element[0]->type != REDIS_REPLY_STRING ||
	    e->element[0]->len >= sizeof(r->relay_id) ||
	    !jz_feed_id_parse(e->element[0]->str, e->element[0]->len, &ms, &seq))
		return;
	snprintf(r->relay_id, sizeof(r->relay_id), "%s", e->element[0]->str);
	fl = e->element[1];
	if (fl->type != REDIS_REPLY_ARRAY || fl->elements != 8) {
		jz_warn("cluster: a malformed relay entry %s ignored", r->relay_id);
		return;
	}
	f = field(fl, "f");
	t = field(fl, "t");
	k = field(fl, "k");
	m = field(fl, "m");
	if (!f || !t || !k || !m || !jz_cl_u64(f->str, f->len, &from) ||
	    (strcmp(k->str, "pair") && strcmp(k->str, "verdict") && strcmp(k->str, "ack") &&
	     strcmp(k->str, "relay")) ||
	    !jz_cl_u64(t->str, t->len, &to) || !from || !to || from > r->max_idx ||
	    to > r->max_idx || !m->len || m->len > 4096 || strlen(m->str) != m->len) {
		jz_warn("cluster: a malformed relay entry %s ignored", r->relay_id);
		return;
	}
	r->cb.relay(r->cb.arg, (uint32_t)from, (uint32_t)to, k->str, m->str);
}

void jz_remote_read_relays(struct jz_rstate *r)
{
	char key[128];

	snprintf(key, sizeof(key), "%s:relay:%s", r->prefix, r->server_id);
	jz_stream_read(r, key, r->relay_id, relay_entry);
}

void jz_remote_free(struct jz_rstate *r)
{
	for (size_t b = 0; b < RDEV_BUCKETS; b++)
		while (r->gtab[b]) {
			struct rghost *g = r->gtab[b];

			r->gtab[b] = g->next;
			free(g);
		}
	r->n_ghosts = 0;
}
