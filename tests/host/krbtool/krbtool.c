// SPDX-License-Identifier: GPL-2.0
/*
 * krbtool - drives userspace/jazzd/auth/krb*.c for tests/host/krb*.sh and
 * scripts/bench-krb.sh. Client and server of one login run in this one
 * process (the client must keep its state to check the server's answer);
 * options inject the faults the tests need.
 *
 *   krbtool ap [opts]     AP-REQ login; prints "result=<status> ..."
 *   krbtool pw [opts]     password (encrypted timestamp) login
 *   krbtool s2k ENCTYPE USER REALM PASSWORD     print the key in hex
 *   krbtool bench-ap [opts] --n N --threads T  AP-REQ verifications/s
 *   krbtool bench-pw [opts] --n N --threads T  password verifications/s
 *
 * Exit status: 0 when the result equals --expect (default "ok"), 1 if not,
 * 2 on usage errors.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <krb5/krb5.h>

#include "auth/krb.h"

struct opts {
	/* server */
	const char *keytab, *service, *rcache, *server_cb;
	int skew, server_offset;
	/* AP client */
	const char *ccache, *client_keytab, *principal, *target, *client_cb;
	int client_offset;
	/* password */
	const char *user, *realm, *password, *enctype, *server_password;
	const char *server_keytab_db;	/* user keys looked up in a keytab */
	bool no_secret;
	/* faults */
	bool replay, tamper_reply, no_client_cb_check, reload;
	long truncate, flip, append, garbage;
	const char *save, *load, *tamper_user;
	const char *expect;
	/* bench */
	long n, threads, logins;
	const char *then_password, *then_server_password;
	bool raw_key, same, stale_ticket;
	int key_cache;		/* jz_krb_server_cfg.pw_key_cache */
	long replay_max;	/* jz_krb_server_cfg.pw_replay_max */
	bool key_cache_set;
};

static char err[1024];
/* Freed by finish(), so that error paths do not leak (ASan runs). */
static struct jz_krb_server *g_server;
static struct jz_krb_client *g_client;
static struct jz_krb_buf g_req, g_rep;

static void hexdump(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
	printf("\n");
}

static int finish(const struct opts *o, int st, const char *what,
		  const struct jz_krb_identity *id)
{
	const char *name = jz_krb_status_name(st);
	const char *want = o->expect ? o->expect : "ok";

	jz_krb_server_free(g_server);
	jz_krb_client_free(g_client);
	jz_krb_buf_free(&g_req);
	jz_krb_buf_free(&g_rep);
	g_server = NULL;
	g_client = NULL;

	if (st)
		printf("# %s: %s: %s\n", what, name, err);
	if (!st && id)
		printf("result=ok user=%s realm=%s enctype=%s\n", id->user,
		       id->realm, jz_krb_enctype_name(id->enctype));
	else
		printf("result=%s\n", name);
	return strcmp(name, want) ? 1 : 0;
}

/* Apply the token faults in place (the buffer is realloc'd for append). */
static void mangle(const struct opts *o, struct jz_krb_buf *b)
{
	if (o->garbage >= 0) {
		free(b->data);
		b->data = malloc(o->garbage + 1);
		for (long i = 0; i < o->garbage; i++)
			b->data[i] = (unsigned char)random();
		b->len = o->garbage;
	}
	if (o->truncate >= 0 && (size_t)o->truncate < b->len)
		b->len = o->truncate;
	if (o->flip >= 0 && (size_t)o->flip < b->len)
		b->data[o->flip] ^= 0x01;
	if (o->append > 0) {
		b->data = realloc(b->data, b->len + o->append);
		memset(b->data + b->len, 0x41, o->append);
		b->len += o->append;
	}
}

static struct jz_krb_server *server(const struct opts *o)
{
	struct jz_krb_server_cfg cfg = {
		.keytab = o->keytab,
		.service = o->service,
		.max_skew = o->skew,
		.rcache = o->rcache,
		.time_offset = o->server_offset,
		.pw_key_cache = o->key_cache,
		.pw_replay_max = o->replay_max,
	};
	struct jz_krb_server *s;
	int st = jz_krb_server_new(&cfg, &s, err, sizeof(err));

	if (st) {
		printf("# server_new: %s: %s\nresult=%s\n",
		       jz_krb_status_name(st), err, jz_krb_status_name(st));
		return NULL;
	}
	return s;
}

static const void *cbp(const char *s)
{
	return s;
}

static size_t cbl(const char *s)
{
	return s ? strlen(s) : 0;
}

static int load_file(const char *path, struct jz_krb_buf *b)
{
	FILE *f = fopen(path, "rb");
	unsigned char tmp[JZ_KRB_TOKEN_MAX];

	if (!f)
		return -1;
	b->len = fread(tmp, 1, sizeof(tmp), f);
	fclose(f);
	b->data = malloc(b->len + 1);
	memcpy(b->data, tmp, b->len);
	return 0;
}

static void save_file(const char *path, const struct jz_krb_buf *b)
{
	FILE *f = fopen(path, "wb");

	if (f) {
		fwrite(b->data, 1, b->len, f);
		fclose(f);
	}
}

static struct jz_krb_client *ap_client(const struct opts *o)
{
	struct jz_krb_client_cfg cc = {
		.ccache = o->ccache,
		.keytab = o->client_keytab,
		.principal = o->principal,
		.service = o->target,
		.time_offset = o->client_offset,
	};
	struct jz_krb_client *c;
	int st = jz_krb_client_new(&cc, &c, err, sizeof(err));

	if (st) {
		printf("# client_new: %s: %s\n", jz_krb_status_name(st), err);
		return NULL;
	}
	return c;
}

/*
 * --stale-ticket: build the AP-REQ from the service ticket in the ccache
 * even if it has expired (libkrb5's krb5_get_credentials would refuse it;
 * krb5_mk_req_extended accepts it within its own clock skew). This is how a
 * client with an expired ticket looks to the server; the authenticator
 * itself is fresh.
 */
static int stale_ap_req(const struct opts *o, struct jz_krb_buf *out)
{
	krb5_context ctx;
	krb5_ccache cc = NULL;
	krb5_creds m, creds;
	krb5_auth_context ac = NULL;
	krb5_data d = { 0 };
	krb5_error_code code;

	if (krb5_init_context(&ctx))
		return -1;
	memset(&m, 0, sizeof(m));
	code = krb5_cc_resolve(ctx, o->ccache, &cc);
	if (!code)
		code = krb5_cc_get_principal(ctx, cc, &m.client);
	if (!code)
		code = krb5_parse_name(ctx, o->target, &m.server);
	if (!code)
		code = krb5_cc_retrieve_cred(ctx, cc, 0, &m, &creds);
	if (!code) {
		code = krb5_mk_req_extended(ctx, &ac, AP_OPTS_MUTUAL_REQUIRED,
					    NULL, &creds, &d);
		krb5_free_cred_contents(ctx, &creds);
	}
	if (code) {
		const char *msg = krb5_get_error_message(ctx, code);

		snprintf(err, sizeof(err), "stale ticket AP-REQ: %s", msg);
		krb5_free_error_message(ctx, msg);
	} else {
		out->data = malloc(d.length);
		memcpy(out->data, d.data, d.length);
		out->len = d.length;
	}
	krb5_free_data_contents(ctx, &d);
	krb5_free_cred_contents(ctx, &m);
	if (cc)
		krb5_cc_close(ctx, cc);
	if (ac)
		krb5_auth_con_free(ctx, ac);
	krb5_free_context(ctx);
	return code ? -1 : 0;
}

static int cmd_ap(const struct opts *o)
{
	struct jz_krb_server *s = server(o);
	struct jz_krb_client *c = NULL;
	struct jz_krb_identity id;
	int st;

	if (!s)
		return finish(o, JZ_KRB_EINTERNAL, "server", NULL);
	g_server = s;
	if (o->load) {
		if (load_file(o->load, &g_req))
			return finish(o, JZ_KRB_EINTERNAL, "load", NULL);
	} else if (o->stale_ticket) {
		if (stale_ap_req(o, &g_req))
			return finish(o, JZ_KRB_ENOCREDS, "stale", NULL);
	} else {
		c = ap_client(o);
		if (!c)
			return finish(o, JZ_KRB_ENOCREDS, "client", NULL);
		g_client = c;
		st = jz_krb_client_ap_req(c, cbp(o->client_cb), cbl(o->client_cb),
					  &g_req, err, sizeof(err));
		if (st)
			return finish(o, st, "client_ap_req", NULL);
	}
	if (o->save)
		save_file(o->save, &g_req);
	printf("# AP-REQ %zu bytes\n", g_req.len);
	mangle(o, &g_req);
	st = jz_krb_ap_verify(s, g_req.data, g_req.len, cbp(o->server_cb),
			      cbl(o->server_cb), &id, &g_rep, err, sizeof(err));
	if (st)
		return finish(o, st, "ap_verify", NULL);
	printf("# first verify ok: %s@%s, AP-REP %zu bytes\n", id.user,
	       id.realm, g_rep.len);
	if (o->replay) {
		jz_krb_buf_free(&g_rep);
		st = jz_krb_ap_verify(s, g_req.data, g_req.len, cbp(o->server_cb),
				      cbl(o->server_cb), &id, &g_rep, err,
				      sizeof(err));
		if (st)
			return finish(o, st, "ap_verify (replayed)", NULL);
	}
	if (c) {
		if (o->tamper_reply && g_rep.len > 20)
			g_rep.data[g_rep.len - 3] ^= 0x01;
		st = jz_krb_client_ap_rep(c, g_rep.data, g_rep.len, err, sizeof(err));
		if (st)
			return finish(o, st, "client_ap_rep", NULL);
		printf("# mutual authentication ok\n");
	}
	return finish(o, 0, "ap", &id);
}

/* The user database of the password tests: a keytab (raw keys, as a
 * user_key callback returning JAZZ_USER_KEY_RAW would) or one password. */
static int lookup_secret(const struct opts *o, const struct jz_krb_pw_hello *h,
			 struct jz_krb_secret *sec, unsigned char *key)
{
	krb5_context ctx;
	krb5_keytab kt;
	krb5_principal p;
	krb5_keytab_entry ent;
	char name[600];
	int rc = -1;

	memset(sec, 0, sizeof(*sec));
	if (o->no_secret)
		return -1;
	if (o->server_password) {
		sec->password = o->server_password;
		return 0;
	}
	if (!o->server_keytab_db)
		return -1;
	snprintf(name, sizeof(name), "%s@%s", h->user, h->realm);
	if (krb5_init_context(&ctx))
		return -1;
	if (!krb5_kt_resolve(ctx, o->server_keytab_db, &kt)) {
		if (!krb5_parse_name(ctx, name, &p)) {
			if (!krb5_kt_get_entry(ctx, kt, p, 0, h->enctype, &ent)) {
				memcpy(key, ent.key.contents, ent.key.length);
				sec->key = key;
				sec->key_len = ent.key.length;
				krb5_free_keytab_entry_contents(ctx, &ent);
				rc = 0;
			}
			krb5_free_principal(ctx, p);
		}
		krb5_kt_close(ctx, kt);
	}
	krb5_free_context(ctx);
	return rc;
}

static int pw_enctype(const struct opts *o)
{
	return o->enctype ? jz_krb_enctype_from_name(o->enctype) : 0;
}

/* One password login against server s; returns the status, fills *id. */
static int pw_login(const struct opts *o, struct jz_krb_server *s,
		    struct jz_krb_identity *id, const char **what)
{
	struct jz_krb_pw_client *c = NULL;
	struct jz_krb_pw_cfg pc = {
		.user = o->user, .realm = o->realm, .password = o->password,
		.enctype = pw_enctype(o), .time_offset = o->client_offset,
	};
	struct jz_krb_buf tok = { 0 }, rep = { 0 };
	struct jz_krb_pw_hello h;
	struct jz_krb_secret sec;
	unsigned char key[64];
	int st;

	if (o->load) {
		*what = "load";
		if (load_file(o->load, &tok))
			return JZ_KRB_EINTERNAL;
	} else {
		*what = "pw_client_new";
		st = jz_krb_pw_client_new(&pc, cbp(o->client_cb), cbl(o->client_cb),
					  &c, &tok, err, sizeof(err));
		if (st)
			return st;
	}
	if (o->save)
		save_file(o->save, &tok);
	printf("# password token %zu bytes\n", tok.len);
	mangle(o, &tok);
	if (o->tamper_user && tok.len > 7) {
		/* Same length user name in the clear header only. */
		size_t ul = tok.data[6];

		if (strlen(o->tamper_user) == ul)
			memcpy(tok.data + 7, o->tamper_user, ul);
	}
	*what = "pw_peek";
	st = jz_krb_pw_peek(tok.data, tok.len, &h, err, sizeof(err));
	if (st)
		goto out;
	printf("# peek: user=%s realm=%s enctype=%s\n", h.user, h.realm,
	       h.enctype_name);
	*what = "user_key";
	if (lookup_secret(o, &h, &sec, key)) {
		snprintf(err, sizeof(err), "user_key: no such user %s@%s",
			 h.user, h.realm);
		st = JZ_KRB_EBADKEY;
		goto out;
	}
	*what = "pw_verify";
	st = jz_krb_pw_verify(s, tok.data, tok.len, &sec, cbp(o->server_cb),
			      cbl(o->server_cb), id, &rep, err, sizeof(err));
	if (st)
		goto out;
	printf("# first verify ok, reply %zu bytes\n", rep.len);
	if (o->replay && o->reload) {
		/* --reload: a new server object adopts the old one's memory,
		 * as jazzd does on SIGHUP, before the replay. */
		struct jz_krb_server *n = server(o);

		if (!n) {
			st = JZ_KRB_EINTERNAL;
			goto out;
		}
		jz_krb_server_adopt(n, s);
		jz_krb_server_free(s);
		g_server = s = n;
		printf("# reloaded: new server object adopted the old one\n");
	}
	if (o->replay) {
		jz_krb_buf_free(&rep);
		*what = "pw_verify (replayed)";
		st = jz_krb_pw_verify(s, tok.data, tok.len, &sec,
				      cbp(o->server_cb), cbl(o->server_cb),
				      id, &rep, err, sizeof(err));
		if (st)
			goto out;
	}
	if (c) {
		if (o->tamper_reply && rep.len > 20)
			rep.data[rep.len - 3] ^= 0x01;
		*what = "pw_client_reply";
		st = jz_krb_pw_client_reply(c, rep.data, rep.len, err,
					    sizeof(err));
		if (st)
			goto out;
		printf("# mutual authentication ok\n");
	}
out:
	jz_krb_buf_free(&tok);
	jz_krb_buf_free(&rep);
	jz_krb_pw_client_free(c);
	return st;
}

/*
 * --logins N: N logins on one server object (all must pass; the key cache
 * serves all but the first). --then-password / --then-server-password: one
 * more login with the client's / the user database's password changed; its
 * result is the result.
 */
static int cmd_pw(const struct opts *o)
{
	struct jz_krb_server *s = server(o);
	struct jz_krb_identity id;
	const char *what = "pw";
	long n = o->logins > 0 ? o->logins : 1;
	int st = 0;

	if (!s)
		return finish(o, JZ_KRB_EINTERNAL, "server", NULL);
	g_server = s;
	for (long i = 0; i < n && !st; i++) {
		st = pw_login(o, s, &id, &what);
		s = g_server;	/* --reload may have replaced it */
	}
	if (!st && (o->then_password || o->then_server_password)) {
		struct opts o2 = *o;

		if (o->then_password)
			o2.password = o->then_password;
		if (o->then_server_password)
			o2.server_password = o->then_server_password;
		printf("# then: client password %s, user database password %s\n",
		       o->then_password ? "changed" : "same",
		       o->then_server_password ? "changed" : "same");
		st = pw_login(&o2, s, &id, &what);
	}
	return finish(o, st, what, st ? NULL : &id);
}

static int cmd_s2k(int argc, char **argv)
{
	unsigned char key[32];
	size_t len;
	int st;

	if (argc != 5)
		return 2;
	st = jz_krb_pw_string_to_key(jz_krb_enctype_from_name(argv[1]), argv[2],
				     argv[3], argv[4], key, &len, err,
				     sizeof(err));
	if (st) {
		fprintf(stderr, "s2k: %s\n", err);
		return 1;
	}
	hexdump(key, len);
	return 0;
}

/* ---- benchmarks ----------------------------------------------------- */

struct bench {
	const struct opts *o;
	struct jz_krb_server *s;
	struct jz_krb_buf *toks;
	struct jz_krb_secret sec;
	long n, next, failures;
	bool pw;
	pthread_mutex_t mu;
};

static void *bench_worker(void *arg)
{
	struct bench *b = arg;
	char e[256];

	for (;;) {
		struct jz_krb_identity id;
		struct jz_krb_buf rep = { 0 };
		long i;
		int st;

		pthread_mutex_lock(&b->mu);
		i = b->next++;
		pthread_mutex_unlock(&b->mu);
		if (i >= b->n)
			break;
		if (b->pw)
			st = jz_krb_pw_verify(b->s, b->toks[i].data, b->toks[i].len,
					      &b->sec, NULL, 0, &id, &rep, e,
					      sizeof(e));
		else
			st = jz_krb_ap_verify(b->s, b->toks[i].data, b->toks[i].len,
					      NULL, 0, &id, &rep, e, sizeof(e));
		jz_krb_buf_free(&rep);
		if (st) {
			pthread_mutex_lock(&b->mu);
			if (b->failures++ == 0 && !b->o->same)
				fprintf(stderr, "bench: %s\n", e);
			pthread_mutex_unlock(&b->mu);
		}
	}
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU seconds this process used so far (all threads, user + system) */
static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static int run_bench(struct bench *b, const char *label)
{
	pthread_t th[64];
	long nt = b->o->threads > 0 ? b->o->threads : 1;
	double t0, dt, c0, dc;

	if (nt > 64)
		nt = 64;
	pthread_mutex_init(&b->mu, NULL);
	t0 = now_s();
	c0 = cpu_s();
	for (long i = 0; i < nt; i++)
		pthread_create(&th[i], NULL, bench_worker, b);
	for (long i = 0; i < nt; i++)
		pthread_join(th[i], NULL);
	dt = now_s() - t0;
	dc = cpu_s() - c0;
	/* cpu_rate: per CPU second (the capacity of one core), next to wall rate */
	printf("%s n=%ld threads=%ld seconds=%.3f cpu_seconds=%.3f cpu_rate=%.1f "
	       "rate=%.1f failures=%ld\n", label, b->n, nt, dt, dc,
	       dc > 0 ? b->n / dc : 0.0, b->n / dt, b->failures);
	if (b->o->same)	/* exactly one may succeed */
		return b->failures == b->n - 1 ? 0 : 1;
	return b->failures ? 1 : 0;
}

static int cmd_bench_ap(const struct opts *o)
{
	struct bench b = { .o = o, .n = o->n > 0 ? o->n : 1000 };
	struct jz_krb_client *c = ap_client(o);
	int rc;

	b.s = server(o);
	if (!c || !b.s)
		return 1;
	b.toks = calloc(b.n, sizeof(*b.toks));
	for (long i = 0; i < b.n; i++) {
		if (o->same && i > 0) {
			/* --same: one token, verified by all threads at once. */
			b.toks[i].data = malloc(b.toks[0].len);
			memcpy(b.toks[i].data, b.toks[0].data, b.toks[0].len);
			b.toks[i].len = b.toks[0].len;
			continue;
		}
		if (jz_krb_client_ap_req(c, NULL, 0, &b.toks[i], err,
					 sizeof(err))) {
			fprintf(stderr, "ap_req: %s\n", err);
			return 1;
		}
	}
	rc = run_bench(&b, "ap-verify");
	for (long i = 0; i < b.n; i++)
		jz_krb_buf_free(&b.toks[i]);
	free(b.toks);
	jz_krb_client_free(c);
	jz_krb_server_free(b.s);
	return rc;
}

static int cmd_bench_pw(const struct opts *o_in)
{
	struct opts oo = *o_in, *o = &oo;
	struct bench b = { .o = o, .n = o->n > 0 ? o->n : 200, .pw = true };
	struct jz_krb_pw_cfg pc = {
		.user = o->user, .realm = o->realm, .password = o->password,
		.enctype = pw_enctype(o),
	};
	unsigned char key[32];
	size_t klen;
	char label[80];
	int rc;

	/* The raw rate is the uncached cost unless --key-cache is given. */
	if (!o->key_cache_set)
		o->key_cache = -1;
	b.o = o;
	b.s = server(o);
	if (!b.s)
		return 1;
	b.toks = calloc(b.n, sizeof(*b.toks));
	/* Tokens made from the raw key: the client's string-to-key is not what
	 * is measured. */
	if (jz_krb_pw_string_to_key(pc.enctype ? pc.enctype
				    : ENCTYPE_AES256_CTS_HMAC_SHA1_96,
				    o->user, o->realm, o->password, key, &klen,
				    err, sizeof(err))) {
		fprintf(stderr, "s2k: %s\n", err);
		return 1;
	}
	pc.password = NULL;
	pc.key = key;
	pc.key_len = klen;
	for (long i = 0; i < b.n; i++) {
		struct jz_krb_pw_client *c;

		if (o->same && i > 0) {
			b.toks[i].data = malloc(b.toks[0].len);
			memcpy(b.toks[i].data, b.toks[0].data, b.toks[0].len);
			b.toks[i].len = b.toks[0].len;
			continue;
		}
		if (jz_krb_pw_client_new(&pc, NULL, 0, &c, &b.toks[i], err,
					 sizeof(err))) {
			fprintf(stderr, "pw_client: %s\n", err);
			return 1;
		}
		jz_krb_pw_client_free(c);
	}
	if (o->raw_key) {
		b.sec.key = key;
		b.sec.key_len = klen;
	} else {
		b.sec.password = o->password;
	}
	snprintf(label, sizeof(label), "pw-verify-%s enctype=%s",
		 o->raw_key ? "rawkey" : o->key_cache >= 0 ? "password-cached"
			    : "password",
		 jz_krb_enctype_name(pc.enctype ? pc.enctype
				     : ENCTYPE_AES256_CTS_HMAC_SHA1_96));
	rc = run_bench(&b, label);
	for (long i = 0; i < b.n; i++)
		jz_krb_buf_free(&b.toks[i]);
	free(b.toks);
	jz_krb_server_free(b.s);
	return rc;
}

/* ---- main ----------------------------------------------------------- */

enum {
	O_KEYTAB = 256, O_SERVICE, O_RCACHE, O_SERVER_CB, O_SKEW, O_SOFF,
	O_CCACHE, O_CKEYTAB, O_PRINCIPAL, O_TARGET, O_CLIENT_CB, O_COFF,
	O_USER, O_REALM, O_PASSWORD, O_ENCTYPE, O_SPASSWORD, O_SKEYTABDB,
	O_NOSECRET, O_REPLAY, O_TAMPER_REPLY, O_TRUNCATE, O_FLIP, O_APPEND,
	O_GARBAGE, O_SAVE, O_LOAD, O_TAMPER_USER, O_EXPECT, O_N, O_THREADS,
	O_RAWKEY, O_SAME, O_STALE, O_KEYCACHE, O_LOGINS, O_THENPW, O_THENSPW,
	O_RPMAX, O_RELOAD,
};

static const struct option longopts[] = {
	{ "keytab", 1, 0, O_KEYTAB }, { "service", 1, 0, O_SERVICE },
	{ "rcache", 1, 0, O_RCACHE }, { "server-cb", 1, 0, O_SERVER_CB },
	{ "skew", 1, 0, O_SKEW }, { "server-offset", 1, 0, O_SOFF },
	{ "ccache", 1, 0, O_CCACHE }, { "client-keytab", 1, 0, O_CKEYTAB },
	{ "principal", 1, 0, O_PRINCIPAL }, { "target", 1, 0, O_TARGET },
	{ "client-cb", 1, 0, O_CLIENT_CB }, { "client-offset", 1, 0, O_COFF },
	{ "user", 1, 0, O_USER }, { "realm", 1, 0, O_REALM },
	{ "password", 1, 0, O_PASSWORD }, { "enctype", 1, 0, O_ENCTYPE },
	{ "server-password", 1, 0, O_SPASSWORD },
	{ "server-keytab-db", 1, 0, O_SKEYTABDB },
	{ "no-secret", 0, 0, O_NOSECRET }, { "replay", 0, 0, O_REPLAY },
	{ "tamper-reply", 0, 0, O_TAMPER_REPLY },
	{ "truncate", 1, 0, O_TRUNCATE }, { "flip", 1, 0, O_FLIP },
	{ "append", 1, 0, O_APPEND }, { "garbage", 1, 0, O_GARBAGE },
	{ "save", 1, 0, O_SAVE }, { "load", 1, 0, O_LOAD },
	{ "tamper-user", 1, 0, O_TAMPER_USER }, { "expect", 1, 0, O_EXPECT },
	{ "n", 1, 0, O_N }, { "threads", 1, 0, O_THREADS },
	{ "raw-key", 0, 0, O_RAWKEY }, { "same", 0, 0, O_SAME },
	{ "stale-ticket", 0, 0, O_STALE }, { "key-cache", 1, 0, O_KEYCACHE },
	{ "logins", 1, 0, O_LOGINS }, { "then-password", 1, 0, O_THENPW },
	{ "then-server-password", 1, 0, O_THENSPW },
	{ "replay-max", 1, 0, O_RPMAX }, { "reload", 0, 0, O_RELOAD },
	{ 0 },
};

static int parse(int argc, char **argv, struct opts *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->truncate = o->flip = o->garbage = -1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case O_KEYTAB: o->keytab = optarg; break;
		case O_SERVICE: o->service = strcmp(optarg, "-") ? optarg : NULL; break;
		case O_RCACHE: o->rcache = optarg; break;
		case O_SERVER_CB: o->server_cb = optarg; break;
		case O_SKEW: o->skew = atoi(optarg); break;
		case O_SOFF: o->server_offset = atoi(optarg); break;
		case O_CCACHE: o->ccache = optarg; break;
		case O_CKEYTAB: o->client_keytab = optarg; break;
		case O_PRINCIPAL: o->principal = optarg; break;
		case O_TARGET: o->target = optarg; break;
		case O_CLIENT_CB: o->client_cb = optarg; break;
		case O_COFF: o->client_offset = atoi(optarg); break;
		case O_USER: o->user = optarg; break;
		case O_REALM: o->realm = optarg; break;
		case O_PASSWORD: o->password = optarg; break;
		case O_ENCTYPE: o->enctype = optarg; break;
		case O_SPASSWORD: o->server_password = optarg; break;
		case O_SKEYTABDB: o->server_keytab_db = optarg; break;
		case O_NOSECRET: o->no_secret = true; break;
		case O_REPLAY: o->replay = true; break;
		case O_TAMPER_REPLY: o->tamper_reply = true; break;
		case O_TRUNCATE: o->truncate = atol(optarg); break;
		case O_FLIP: o->flip = atol(optarg); break;
		case O_APPEND: o->append = atol(optarg); break;
		case O_GARBAGE: o->garbage = atol(optarg); break;
		case O_SAVE: o->save = optarg; break;
		case O_LOAD: o->load = optarg; break;
		case O_TAMPER_USER: o->tamper_user = optarg; break;
		case O_EXPECT: o->expect = optarg; break;
		case O_N: o->n = atol(optarg); break;
		case O_THREADS: o->threads = atol(optarg); break;
		case O_RAWKEY: o->raw_key = true; break;
		case O_SAME: o->same = true; break;
		case O_STALE: o->stale_ticket = true; break;
		case O_KEYCACHE: o->key_cache = atoi(optarg); o->key_cache_set = true; break;
		case O_LOGINS: o->logins = atol(optarg); break;
		case O_THENPW: o->then_password = optarg; break;
		case O_THENSPW: o->then_server_password = optarg; break;
		case O_RPMAX: o->replay_max = atol(optarg); break;
		case O_RELOAD: o->reload = true; break;
		default: return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	const char *cmd = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	srandom(getpid());
	if (!strcmp(cmd, "s2k"))
		return cmd_s2k(argc - 1, argv + 1);
	if (parse(argc - 1, argv + 1, &o)) {
		fprintf(stderr, "usage: krbtool ap|pw|s2k|bench-ap|bench-pw [options]\n");
		return 2;
	}
	if (!strcmp(cmd, "ap"))
		return cmd_ap(&o);
	if (!strcmp(cmd, "pw"))
		return cmd_pw(&o);
	if (!strcmp(cmd, "bench-ap"))
		return cmd_bench_ap(&o);
	if (!strcmp(cmd, "bench-pw"))
		return cmd_bench_pw(&o);
	fprintf(stderr, "usage: krbtool ap|pw|s2k|bench-ap|bench-pw [options]\n");
	return 2;
}
