// SPDX-License-Identifier: GPL-2.0
/*
 * The Redis backend's connection: one synchronous hiredis context to the
 * primary, found through the Sentinels ([cluster] sentinels, master) or
 * given ([cluster] redis). hiredis has no Sentinel client: we ask each
 * Sentinel "SENTINEL get-master-addr-by-name" in turn and check with ROLE
 * that the answer really is a primary. A connection error, or a reply
 * saying the node is no primary (READONLY, MASTERDOWN, LOADING), drops the
 * connection and asks again: that is how a promotion (+switch-master) is
 * followed. Attempts are timed (backoff 100 ms .. 2 s with jitter), never
 * issued in a loop (TEAM-NOTES, session 6); between them commands fail at
 * once, so a login is refused without waiting on an absent Redis.
 *
 * A command blocks the loop for at most [cluster] timeout_ms (loopback or
 * a LAN: well under a millisecond when Redis is there); a connection
 * attempt for one timeout_ms per Sentinel asked plus one for the primary,
 * and only when the backoff allows one.
 *
 * Must not know the data model (redis_state.c, feed.c, scripts.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cluster_int.h"
#include "log.h"

static struct timeval ms_tv(int ms)
{
	return (struct timeval){ ms / 1000, (ms % 1000) * 1000 };
}

static redisContext *dial(struct jz_rconn *r, const char *hostport, char *err, size_t errlen)
{
	char host[256];
	uint16_t port;
	redisContext *c;

	if (jz_parse_hostport(hostport, host, sizeof(host), &port) || !port) {
		snprintf(err, errlen, "cannot parse '%s' as host:port", hostport);
		return NULL;
	}
	c = redisConnectWithTimeout(host, port, ms_tv(r->timeout_ms));
	if (!c || c->err) {
		snprintf(err, errlen, "%s: %s", hostport, c ? c->errstr : "out of memory");
		if (c)
			redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, ms_tv(r->timeout_ms));
	return c;
}

/* A reply we can read: @type, and for strings/arrays no more than @max. */
static bool reply_is(const redisReply *x, int type, size_t max)
{
	if (!x || x->type != type)
		return false;
	if (type == REDIS_REPLY_STRING || type == REDIS_REPLY_STATUS)
		return x->len <= max;
	if (type == REDIS_REPLY_ARRAY)
		return x->elements <= max;
	return true;
}

/* The primary's host:port from one Sentinel, checked at the edge. */
static int ask_sentinel(struct jz_rconn *r, const char *sentinel, char *out, size_t outlen,
			char *err, size_t errlen)
{
	redisContext *c = dial(r, sentinel, err, errlen);
	redisReply *x;
	long port;
	char *end;
	int rc = -1;

	if (!c)
		return -1;
	x = redisCommand(c, "SENTINEL get-master-addr-by-name %s", r->master);
	if (!reply_is(x, REDIS_REPLY_ARRAY, 2) || x->elements != 2 ||
	    !reply_is(x->element[0], REDIS_REPLY_STRING, 255) ||
	    !reply_is(x->element[1], REDIS_REPLY_STRING, 5)) {
		snprintf(err, errlen, "Sentinel %s: no primary named %s%s%s", sentinel, r->master,
			 x && x->type == REDIS_REPLY_ERROR ? ": " : "",
			 x && x->type == REDIS_REPLY_ERROR ? x->str : "");
		goto out;
	}
	port = strtol(x->element[1]->str, &end, 10);
	if (*end || port < 1 || port > 65535 || strchr(x->element[0]->str, ' ')) {
		snprintf(err, errlen, "Sentinel %s: a malformed address for %s", sentinel,
			 r->master);
		goto out;
	}
	snprintf(out, outlen, "%s%s%s:%ld", strchr(x->element[0]->str, ':') ? "[" : "",
		 x->element[0]->str, strchr(x->element[0]->str, ':') ? "]" : "", port);
	rc = 0;
out:
	freeReplyObject(x);
	redisFree(c);
	return rc;
}

/* AUTH, then ROLE: only a primary takes our writes. */
static int check_primary(struct jz_rconn *r, redisContext *c, char *err, size_t errlen)
{
	redisReply *x;
	int rc = -1;

	if (r->password) {
		x = redisCommand(c, "AUTH %s", r->password);
		if (!x || x->type == REDIS_REPLY_ERROR) {
			snprintf(err, errlen, "AUTH: %s", x ? x->str : c->errstr);
			freeReplyObject(x);
			return -1;
		}
		freeReplyObject(x);
	}
	x = redisCommand(c, "ROLE");
	if (reply_is(x, REDIS_REPLY_ARRAY, 16) && x->elements >= 1 &&
	    reply_is(x->element[0], REDIS_REPLY_STRING, 16) &&
	    !strcmp(x->element[0]->str, "master"))
		rc = 0;
	else
		snprintf(err, errlen, "%s", x ? "not a primary (ROLE)" : c->errstr);
	freeReplyObject(x);
	return rc;
}

static void next_try(struct jz_rconn *r)
{
	unsigned int j = 0;

	r->backoff_ms = r->backoff_ms ? r->backoff_ms * 2 : 100;
	if (r->backoff_ms > 2000)
		r->backoff_ms = 2000;
	RAND_bytes((unsigned char *)&j, sizeof(j));
	r->retry_at = jz_now() + (r->backoff_ms + j % (r->backoff_ms / 2 + 1)) / 1000.0;
}

static int connect_primary(struct jz_rconn *r)
{
	char err[512] = "", where[300], list[1100], *save = NULL, *s;
	redisContext *c = NULL;

	if (r->sentinels) {
		snprintf(list, sizeof(list), "%s", r->sentinels);
		for (s = strtok_r(list, " ,", &save); s && !c; s = strtok_r(NULL, " ,", &save)) {
			if (ask_sentinel(r, s, where, sizeof(where), err, sizeof(err)))
				continue;
			c = dial(r, where, err, sizeof(err));
			if (c && check_primary(r, c, err, sizeof(err))) {
				redisFree(c);
				c = NULL;
			}
		}
		if (!s && !c && !err[0])
			snprintf(err, sizeof(err), "no Sentinel listed");
	} else {
		snprintf(where, sizeof(where), "%s", r->addr);
		c = dial(r, where, err, sizeof(err));
		if (c && check_primary(r, c, err, sizeof(err))) {
			redisFree(c);
			c = NULL;
		}
	}
	if (!c) {
		if (!r->down_logged)
			jz_err("cluster: no Redis primary: %s; logins are refused until one "
			       "answers", err);
		r->down_logged = true;
		next_try(r);
		return -1;
	}
	r->c = c;
	r->backoff_ms = 0;
	r->down_logged = false;
	r->connects++;
	if (strcmp(r->where, where) || r->connects == 1)
		jz_info("cluster: Redis primary %s%s", where, r->sentinels ? " (from Sentinel)" : "");
	snprintf(r->where, sizeof(r->where), "%s", where);
	return 0;
}

static void drop(struct jz_rconn *r, const char *why, bool at_once)
{
	if (r->c)
		redisFree(r->c);
	r->c = NULL;
	jz_warn("cluster: Redis %s: %s", r->where[0] ? r->where : "?", why);
	r->down_logged = false;
	if (at_once)
		r->retry_at = 0;	/* ask the Sentinels again now */
	else
		next_try(r);
}

redisReply *jz_rconn_cmd(struct jz_rconn *r, int argc, const char **argv, const size_t *lens)
{
	redisReply *x;
	char why[300];

	if (!r->c && (jz_now() < r->retry_at || connect_primary(r)))
		return NULL;
	x = redisCommandArgv(r->c, argc, argv, lens);
	if (!x) {
		snprintf(why, sizeof(why), "%s", r->c->errstr);
		drop(r, why, false);
		return NULL;
	}
	if (x->type == REDIS_REPLY_ERROR &&
	    (!strncmp(x->str, "READONLY", 8) || !strncmp(x->str, "MASTERDOWN", 10) ||
	     !strncmp(x->str, "LOADING", 7))) {
		snprintf(why, sizeof(why), "%.200s: no longer the primary", x->str);
		freeReplyObject(x);
		drop(r, why, true);
		return NULL;
	}
	return x;
}

/*
 * The Sentinels' word on the primary, asked now and then while connected
 * (feed.c): a switch-over the old primary does not notice (it is cut off
 * from the Sentinels but not from us) is followed within that period,
 * as a +switch-master subscription would. Nothing if no Sentinel answers.
 */
void jz_rconn_recheck(struct jz_rconn *r)
{
	char err[512], where[300], list[1100], *save = NULL, *s;

	if (!r->sentinels || !r->c)
		return;
	snprintf(list, sizeof(list), "%s", r->sentinels);
	for (s = strtok_r(list, " ,", &save); s; s = strtok_r(NULL, " ,", &save)) {
		if (ask_sentinel(r, s, where, sizeof(where), err, sizeof(err)))
			continue;
		if (strcmp(where, r->where)) {
			char why[400];

			snprintf(why, sizeof(why), "Sentinel %s names %s as the primary now", s,
				 where);
			drop(r, why, true);
		}
		return;
	}
}

redisReply *jz_rconn_script(struct jz_rconn *r, enum jz_script sc, int argc,
			    const char **argv, const size_t *lens)
{
	const char **a = calloc(argc + 3, sizeof(*a));
	size_t *l = calloc(argc + 3, sizeof(*l));
	redisReply *x = NULL;

	if (!a || !l)
		goto out;
	a[0] = "EVALSHA";
	a[1] = r->sha[sc];
	a[2] = "0";
	for (int i = 0; i < argc; i++) {
		a[i + 3] = argv[i];
		l[i + 3] = lens ? lens[i] : strlen(argv[i]);
	}
	for (int i = 0; i < 3; i++)
		l[i] = strlen(a[i]);
	x = jz_rconn_cmd(r, argc + 3, a, l);
	if (x && x->type == REDIS_REPLY_ERROR && !strncmp(x->str, "NOSCRIPT", 8)) {
		freeReplyObject(x);
		a[0] = "EVAL";
		a[1] = jz_scripts[sc];
		l[0] = 4;
		l[1] = strlen(a[1]);
		x = jz_rconn_cmd(r, argc + 3, a, l);
	}
out:
	free(a);
	free(l);
	return x;
}

int jz_rconn_init(struct jz_rconn *r, const struct jz_cluster_cfg *k)
{
	memset(r, 0, sizeof(*r));
	r->addr = k->redis_addr ? strdup(k->redis_addr) : NULL;
	r->sentinels = k->sentinels ? strdup(k->sentinels) : NULL;
	r->master = k->master ? strdup(k->master) : NULL;
	r->password = k->password ? strdup(k->password) : NULL;
	r->timeout_ms = k->timeout_ms;
	for (int i = 0; i < JZ_SC_N; i++) {
		unsigned char md[20];
		unsigned int n = 0;

		if (!EVP_Digest(jz_scripts[i], strlen(jz_scripts[i]), md, &n, EVP_sha1(), NULL))
			return -1;
		jz_hex(md, 20, r->sha[i]);
	}
	return 0;
}

void jz_rconn_close(struct jz_rconn *r)
{
	if (r->c)
		redisFree(r->c);
	free(r->addr);
	free(r->sentinels);
	free(r->master);
	if (r->password)
		memset(r->password, 0, strlen(r->password));
	free(r->password);
	memset(r, 0, sizeof(*r));
}
