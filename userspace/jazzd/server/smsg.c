// SPDX-License-Identifier: GPL-2.0
/*
 * A client's messages to the server, parsed and checked where they enter
 * (smsg.h), and the challenge built from a plugin's answer. Pure functions
 * of their input: no session, no server, no I/O.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include <jazz.h>

#include "core/jazzd.h"
#include "core/proto.h"
#include "smsg.h"

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)

/* Canonical text of a v4/v6 address field, or -1. */
static int get_ip(json_t *o, const char *key, char *out, size_t len)
{
	char in[JZ_SM_IP];
	unsigned char b[16];

	if (jz_msg_get_str(o, key, in, sizeof(in), true))
		return -1;
	if (inet_pton(AF_INET, in, b) == 1)
		return inet_ntop(AF_INET, b, out, len) ? 0 : -1;
	if (inet_pton(AF_INET6, in, b) == 1)
		return inet_ntop(AF_INET6, b, out, len) ? 0 : -1;
	return -1;
}

/* "proto": a name or a number, into its canonical name. */
static int get_proto(json_t *o, int *proto, char pname[8])
{
	char s[16], nb[8];
	int p;

	if (jz_msg_get_str(o, "proto", s, sizeof(s), true))
		return -1;
	p = jz_ipproto_parse(s);
	if (p < 0)
		return -1;
	if (proto)
		*proto = p;
	snprintf(pname, 8, "%s", jz_ipproto_name(p, nb));
	return 0;
}

void jz_sm_data_free(struct jz_sm_data *d)
{
	for (size_t i = 0; i < d->n; i++) {
		if (d->it[i].value) {
			OPENSSL_cleanse(d->it[i].value, strlen(d->it[i].value));
			free(d->it[i].value);
		}
	}
	d->n = 0;
}

/* "other_data": absent, or an array of at most JZ_SM_ITEMS {code, value}. */
static int get_data(json_t *m, struct jz_sm_data *d, char *err, size_t errlen)
{
	json_t *arr = json_object_get(m, "other_data"), *it;
	size_t i;

	d->n = 0;
	if (!arr)
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) > JZ_SM_ITEMS)
		FAIL("other_data must be an array of at most %d items", JZ_SM_ITEMS);
	json_array_foreach(arr, i, it) {
		struct jz_sm_item *x = &d->it[d->n];
		json_t *v = json_object_get(it, "value");

		if (jz_msg_get_str(it, "code", x->code, sizeof(x->code), true) || !x->code[0] ||
		    !json_is_string(v) || json_string_length(v) > JZ_SM_VALUE_MAX ||
		    memchr(json_string_value(v), 0, json_string_length(v))) {
			jz_sm_data_free(d);
			FAIL("other_data item %zu: code must be 1-%d bytes and value a "
			     "string of at most %d bytes", i, JAZZ_CODE_MAX - 1, JZ_SM_VALUE_MAX);
		}
		x->value = strdup(json_string_value(v));
		if (!x->value) {
			jz_sm_data_free(d);
			FAIL("out of memory");
		}
		d->n++;
	}
	return 0;
}

int jz_sm_data_merge(struct jz_sm_data *into, struct jz_sm_data *from)
{
	int rc = 0;

	for (size_t i = 0; i < from->n; i++) {
		struct jz_sm_item *x = &from->it[i];
		size_t j;

		for (j = 0; j < into->n && strcmp(into->it[j].code, x->code); j++)
			;
		if (j == into->n && into->n == JZ_SM_ITEMS) {
			rc = -1;
			break;
		}
		if (j < into->n) {
			OPENSSL_cleanse(into->it[j].value, strlen(into->it[j].value));
			free(into->it[j].value);
		} else {
			memcpy(into->it[j].code, x->code, sizeof(x->code));
			into->n++;
		}
		into->it[j].value = x->value;
		x->value = NULL;
	}
	jz_sm_data_free(from);
	return rc;
}

/* Whether the array "features" names @name (anything else is ignored). */
static bool has_feature(json_t *f, const char *name)
{
	json_t *x;
	size_t i;

	json_array_foreach(f, i, x)
		if (json_is_string(x) && !strcmp(json_string_value(x), name))
			return true;
	return false;
}

/* "peers_known": exactly {digest, count}, the digest 32 bytes of base64 */
static int get_known(json_t *k, struct jz_sm_login *l)
{
	char b64[JZ_LIST_DIGEST_LEN / 3 * 4 + 8];
	unsigned char *raw;
	size_t n = 0;
	long long count;

	if (!json_is_object(k) || json_object_size(k) != 2 ||
	    jz_msg_get_str(k, "digest", b64, sizeof(b64), true) ||
	    jz_msg_get_int(k, "count", 0, JZ_SM_KNOWN_MAX, -1, &count) || count < 0)
		return -1;
	raw = jz_b64_decode(b64, &n);
	if (!raw || n != JZ_LIST_DIGEST_LEN) {
		free(raw);
		return -1;
	}
	memcpy(l->known_digest, raw, n);
	free(raw);
	l->known_count = (uint32_t)count;
	l->has_known = true;
	return 0;
}

int jz_sm_login(json_t *m, struct jz_sm_login *l, char *err, size_t errlen)
{
	json_t *tok = json_object_get(m, "token"), *feat = json_object_get(m, "features");
	char method[16];
	long long port;

	memset(l, 0, sizeof(*l));
	if (jz_msg_get_str(m, "method", method, sizeof(method), true) ||
	    (strcmp(method, "kerberos") && strcmp(method, "password")))
		FAIL("method must be \"kerberos\" or \"password\"");
	l->kerberos = !strcmp(method, "kerberos");
	if (jz_msg_get_str(m, "device", l->device, sizeof(l->device), true))
		FAIL("device must be a string of at most %d bytes", JZ_SM_DEV - 1);
	if (jz_msg_get_str(m, "endpoint_ip", l->ep_ip, sizeof(l->ep_ip), false))
		FAIL("endpoint_ip must be an address");
	if (jz_msg_get_int(m, "listen_port", 0, 65535, 0, &port))
		FAIL("listen_port must be 0-65535");
	l->listen_port = (uint16_t)port;
	if (feat && !json_is_array(feat))
		FAIL("features must be an array");
	l->takes_delta = has_feature(feat, "peers_delta");
	l->takes_more = has_feature(feat, "peers_more");
	l->takes_compact = has_feature(feat, "peers_compact");
	if (json_object_get(m, "peers_known") && get_known(json_object_get(m, "peers_known"), l))
		FAIL("peers_known must be {\"digest\": base64 of %d bytes, \"count\": 0-%u}",
		     JZ_LIST_DIGEST_LEN, JZ_SM_KNOWN_MAX);
	if (json_object_get(m, "pubkey")) {
		json_t *pk = json_object_get(m, "pubkey");

		l->has_pub = json_is_string(pk) && !jz_pubkey_parse(json_string_value(pk), l->pub);
		l->pub_bad = !l->has_pub;
	}
	if (!json_is_string(tok) || !json_string_length(tok) ||
	    json_string_length(tok) > JZ_SM_TOKEN_MAX / 3 * 4 + 4)
		FAIL("token must be base64 of 1-%d bytes", JZ_SM_TOKEN_MAX);
	l->token = jz_b64_decode(json_string_value(tok), &l->token_len);
	if (!l->token || !l->token_len) {
		free(l->token);
		l->token = NULL;
		FAIL("token is not base64");
	}
	if (get_data(m, &l->data, err, errlen)) {
		free(l->token);
		l->token = NULL;
		return -1;
	}
	return 0;
}

void jz_sm_login_free(struct jz_sm_login *l)
{
	if (l->token) {
		OPENSSL_cleanse(l->token, l->token_len);
		free(l->token);
		l->token = NULL;
	}
	jz_sm_data_free(&l->data);
}

int jz_sm_answer(json_t *m, struct jz_sm_data *d, char *err, size_t errlen)
{
	return get_data(m, d, err, errlen);
}

int jz_sm_conn_request(json_t *m, struct jz_sm_conn_req *r, char *err, size_t errlen)
{
	char dir[16];
	long long sp, dp, cookie, rid, peer;

	memset(r, 0, sizeof(*r));
	if (get_proto(m, &r->proto, r->pname))
		FAIL("bad proto");
	if (get_ip(m, "src", r->src, sizeof(r->src)))
		FAIL("bad src");
	if (get_ip(m, "dst", r->dst, sizeof(r->dst)))
		FAIL("bad dst");
	if (jz_msg_get_int(m, "sport", 0, 65535, -1, &sp) || jz_msg_get_int(m, "dport", 0, 65535, -1, &dp) ||
	    sp < 0 || dp < 0)
		FAIL("bad port");
	if (jz_msg_get_str(m, "dir", dir, sizeof(dir), false) ||
	    (dir[0] && strcmp(dir, "ingress") && strcmp(dir, "egress")))
		FAIL("bad dir");
	if (jz_msg_get_int(m, "cookie", 0, INT64_MAX, -1, &cookie))
		FAIL("bad cookie");
	if (jz_msg_get_int(m, "rid", INT64_MIN, INT64_MAX, 0, &rid))
		FAIL("bad rid");
	if (jz_msg_get_int(m, "peer", 0, UINT32_MAX, 0, &peer))
		FAIL("bad peer");
	r->sport = (uint16_t)sp;
	r->dport = (uint16_t)dp;
	r->ingress = !strcmp(dir, "ingress");
	r->has_cookie = cookie >= 0;
	r->cookie = r->has_cookie ? cookie : 0;
	r->has_rid = json_object_get(m, "rid") != NULL;
	r->rid = rid;
	r->peer = (uint32_t)peer;
	return 0;
}

/* The names of jazz.yaml's conn-end, for the connection-expired event. */
static const char *end_name(int end)
{
	static const char *const names[] = {
		[JAZZ_CONN_END_IDLE] = "idle", [JAZZ_CONN_END_CLOSED] = "closed",
		[JAZZ_CONN_END_LIFETIME] = "lifetime", [JAZZ_CONN_END_TIMEOUT] = "timeout",
		[JAZZ_CONN_END_NO_LISTENER] = "no-listener",
		[JAZZ_CONN_END_DELETED] = "deleted",
		[JAZZ_CONN_END_PEER_REMOVED] = "peer-removed",
	};

	return end >= 0 && (size_t)end < sizeof(names) / sizeof(names[0]) && names[end]
	       ? names[end] : "unknown";
}

int jz_sm_conn_expired(json_t *m, struct jz_sm_conn_expired *e, char *err, size_t errlen)
{
	long long sp, dp, end;

	memset(e, 0, sizeof(*e));
	if (get_proto(m, NULL, e->pname))
		FAIL("bad proto");
	if (get_ip(m, "src", e->src, sizeof(e->src)) || get_ip(m, "dst", e->dst, sizeof(e->dst)))
		FAIL("bad address");
	if (jz_msg_get_int(m, "sport", 0, 65535, 0, &sp) || jz_msg_get_int(m, "dport", 0, 65535, 0, &dp))
		FAIL("bad port");
	if (jz_msg_get_int(m, "end", 0, 255, 0, &end))
		FAIL("bad end");
	e->sport = (uint16_t)sp;
	e->dport = (uint16_t)dp;
	e->end = (int)end;
	e->reason = end_name(e->end);
	return 0;
}

int jz_sm_key_ack(json_t *m, struct jz_sm_key_ack *k, char *err, size_t errlen)
{
	long long peer, id;

	if (jz_msg_get_int(m, "peer", 0, UINT32_MAX, -1, &peer) || peer < 0 ||
	    jz_msg_get_int(m, "key_id", 0, 255, -1, &id) || id < 0)
		FAIL("peer and key_id must be integers (0-4294967295, 0-255)");
	k->peer = (uint32_t)peer;
	k->key_id = (uint8_t)id;
	return 0;
}

int jz_sm_verdict_ack(json_t *m, uint64_t *vid, char *err, size_t errlen)
{
	long long v;

	if (jz_msg_get_int(m, "vid", 1, INT64_MAX, 0, &v) || !v)
		FAIL("vid must be a positive integer");
	*vid = (uint64_t)v;
	return 0;
}

json_t *jz_sm_challenge_msg(const struct jazz_validate_reply *r, unsigned int round)
{
	json_t *prompts = json_array(), *p;

	for (size_t i = 0; prompts && i < r->n_prompts && i < JAZZ_PROMPTS_MAX; i++) {
		p = json_pack("{s:s,s:s,s:b}", "code", r->prompts[i].code,
			      "text", r->prompts[i].text, "secret", r->prompts[i].secret != 0);
		if (!p || json_array_append_new(prompts, p)) {
			json_decref(prompts);
			return NULL;
		}
	}
	return prompts ? json_pack("{s:s,s:i,s:o,s:s}", "type", "challenge",
				   "round", (int)round, "prompts", prompts,
				   "message", r->message) : NULL;
}

int jz_sm_pair(json_t *m, struct jz_sm_pair *p, char *err, size_t errlen)
{
	unsigned char *raw;
	size_t n = 0;

	memset(p, 0, sizeof(*p));
	if (jz_msg_get_int(m, "peer", 1, UINT32_MAX, 0, &p->peer) || !p->peer) {
		p->peer = 0;
		FAIL("peer must be a device index 1-%u", UINT32_MAX);
	}
	if (jz_msg_get_str(m, "msg", p->msg, sizeof(p->msg), true))
		FAIL("msg must be base64 of 1-%d bytes", JZ_SM_PAIR_MAX);
	raw = jz_b64_decode(p->msg, &n);
	free(raw);
	if (!raw || !n || n > JZ_SM_PAIR_MAX)
		FAIL("msg must be base64 of 1-%d bytes", JZ_SM_PAIR_MAX);
	return 0;
}

/* A candidate address no peer can use: unspecified, loopback, multicast,
 * IPv4 broadcast. */
static bool cand_ip_bad(const char *ip)
{
	unsigned char b[16];

	if (inet_pton(AF_INET, ip, b) == 1)
		return !b[0] || b[0] == 127 || b[0] >= 224;
	if (inet_pton(AF_INET6, ip, b) != 1)
		return true;
	return b[0] == 0xff || !memcmp(b, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 15) ||
	       (!memcmp(b, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) && (!b[12] || b[12] == 127));
}

int jz_sm_candidates(json_t *m, struct jz_sm_cands *c, char *err, size_t errlen)
{
	json_t *arr = json_object_get(m, "cands"), *it;
	size_t i;

	memset(c, 0, sizeof(*c));
	if (json_object_get(m, "direct_only") && !json_is_boolean(json_object_get(m, "direct_only")))
		FAIL("direct_only must be a boolean");
	c->direct_only = json_is_true(json_object_get(m, "direct_only"));
	if (!json_is_array(arr) || json_array_size(arr) > JZ_SM_CANDS)
		FAIL("cands must be an array of at most %d candidates", JZ_SM_CANDS);
	json_array_foreach(arr, i, it) {
		struct jz_sm_cand *x = &c->c[c->n];
		char kind[8];
		long long port;

		if (!json_is_object(it) || get_ip(it, "ip", x->ip, sizeof(x->ip)) ||
		    jz_msg_get_int(it, "port", 1, 65535, 0, &port) || !port ||
		    jz_msg_get_str(it, "kind", kind, sizeof(kind), true) ||
		    (strcmp(kind, "host") && strcmp(kind, "srflx")))
			FAIL("candidate %zu: needs ip, port 1-65535 and kind host|srflx", i);
		if (cand_ip_bad(x->ip))
			FAIL("candidate %zu: %s is not a unicast address a peer can reach", i,
			     x->ip);
		x->port = (uint16_t)port;
		x->srflx = kind[0] == 's';
		for (size_t j = 0; j < c->n; j++)
			if (c->c[j].port == x->port && !strcmp(c->c[j].ip, x->ip))
				FAIL("candidate %zu: %s port %u twice", i, x->ip, x->port);
		c->n++;
	}
	return 0;
}

int jz_sm_relay_request(json_t *m, uint32_t *peer, char *err, size_t errlen)
{
	long long id;

	if (jz_msg_get_int(m, "peer", 1, UINT32_MAX, 0, &id) || !id)
		FAIL("peer must be a device id");
	*peer = (uint32_t)id;
	return 0;
}

const char *const jz_sm_path_how_name[5] = {
	[JZ_PH_HOST] = "host", [JZ_PH_SRFLX] = "srflx", [JZ_PH_SERVER] = "server-seen",
	[JZ_PH_PEER] = "peer-seen", [JZ_PH_RELAY] = "relay",
};

int jz_sm_path(json_t *m, struct jz_sm_path *p, char *err, size_t errlen)
{
	json_t *r = json_object_get(m, "reason");
	char kind[16], how[16];
	long long id;
	size_t len, i;
	int h;

	memset(p, 0, sizeof(*p));
	if (jz_msg_get_int(m, "peer", 1, UINT32_MAX, 0, &id) || !id)
		FAIL("peer must be a device id");
	p->peer = (uint32_t)id;
	if (jz_msg_get_str(m, "kind", kind, sizeof(kind), true) ||
	    (strcmp(kind, "direct") && strcmp(kind, "relayed")))
		FAIL("kind must be \"direct\" or \"relayed\"");
	p->relayed = kind[0] == 'r';
	if (jz_msg_get_str(m, "how", how, sizeof(how), true))
		how[0] = 0;
	for (h = 0; h < 5 && strcmp(how, jz_sm_path_how_name[h]); h++)
		;
	if (h == 5 || (h == JZ_PH_RELAY) != p->relayed)
		FAIL("how must be host, srflx, server-seen or peer-seen (direct) or relay "
		     "(relayed)");
	p->how = (enum jz_sm_path_how)h;
	len = json_is_string(r) ? json_string_length(r) : 0;
	if (!len || len > JZ_SM_PATH_REASON)
		FAIL("reason must be a string of 1-%d bytes", JZ_SM_PATH_REASON);
	for (i = 0; i < len; i++)
		if (json_string_value(r)[i] < 0x20 || json_string_value(r)[i] > 0x7e)
			FAIL("reason must be printable ASCII");
	memcpy(p->reason, json_string_value(r), len);
	return 0;
}
_Static_assert(JZ_SM_PATH_REASON == JAZZ_PATH_REASON_MAX,
	       "a path report's reason fits jazz.ko's path record");
