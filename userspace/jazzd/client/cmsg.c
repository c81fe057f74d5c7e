// SPDX-License-Identifier: GPL-2.0
/* The server's messages to a client, parsed and checked where they enter. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "client/cmsg.h"
#include "core/jazzd.h"
#include "core/proto.h"

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)

static bool is_ip(int af, const char *s)
{
	unsigned char buf[16];

	return inet_pton(af, s, buf) == 1;
}

int jz_cm_auth(json_t *m, struct jz_cm_auth *a, char *err, size_t errlen)
{
	char p64[8192];

	memset(a, 0, sizeof(*a));
	if (jz_msg_get_str(m, "user", a->user, sizeof(a->user), true) ||
	    jz_msg_get_str(m, "realm", a->realm, sizeof(a->realm), true))
		FAIL("auth: user and realm must be strings of at most %d bytes",
		     JZ_CM_NAME - 1);
	if (jz_msg_get_str(m, "proof", p64, sizeof(p64), true) || !p64[0])
		FAIL("auth: no proof");
	a->proof = jz_b64_decode(p64, &a->proof_len);
	if (!a->proof)
		FAIL("auth: the proof is not base64");
	return 0;
}

void jz_cm_auth_free(struct jz_cm_auth *a)
{
	free(a->proof);
	a->proof = NULL;
}

int jz_cm_challenge(json_t *m, struct jz_cm_challenge *c, char *err, size_t errlen)
{
	json_t *arr = json_object_get(m, "prompts"), *p;
	size_t i;

	memset(c, 0, sizeof(*c));
	if (jz_msg_get_int(m, "round", 0, 1000, 0, &c->round))
		FAIL("challenge: bad round");
	if (jz_msg_get_str(m, "message", c->message, sizeof(c->message), false))
		FAIL("challenge: message is not a string of at most %d bytes",
		     JZ_CM_TEXT - 1);
	if (!json_is_array(arr) || !json_array_size(arr) ||
	    json_array_size(arr) > JZ_CM_PROMPTS)
		FAIL("challenge: prompts must be 1-%d items", JZ_CM_PROMPTS);
	json_array_foreach(arr, i, p) {
		struct jz_cm_prompt *q = &c->p[i];
		json_t *s = json_object_get(p, "secret");

		if (!json_is_object(p) ||
		    jz_msg_get_str(p, "code", q->code, sizeof(q->code), true) || !q->code[0] ||
		    jz_msg_get_str(p, "text", q->text, sizeof(q->text), false) ||
		    (s && !json_is_boolean(s)))
			FAIL("challenge: prompt %zu is malformed", i);
		for (const char *x = q->code; *x; x++)
			if ((unsigned char)*x <= ' ' || *x == '=' || *x == 0x7f)
				FAIL("challenge: prompt %zu: a code of blanks, '=' or control characters",
				     i);
		if (!q->text[0])
			memcpy(q->text, q->code, sizeof(q->code));
		q->secret = json_is_true(s);
	}
	c->n = i;
	return 0;
}

int jz_cm_welcome(json_t *m, struct jz_cm_welcome *w, char *err, size_t errlen)
{
	long long id, p4, p6;

	memset(w, 0, sizeof(*w));
	if (jz_msg_get_int(m, "id", 1, UINT32_MAX, 0, &id) || !id)
		FAIL("welcome: no device id");
	if (jz_msg_get_str(m, "user", w->user, sizeof(w->user), false) ||
	    jz_msg_get_str(m, "realm", w->realm, sizeof(w->realm), false) ||
	    jz_msg_get_str(m, "device", w->device, sizeof(w->device), false))
		FAIL("welcome: user, realm or device malformed");
	if (jz_msg_get_str(m, "vip4", w->vip4, sizeof(w->vip4), false) ||
	    jz_msg_get_str(m, "vip6", w->vip6, sizeof(w->vip6), false))
		FAIL("welcome: vip4/vip6 malformed");
	if (!w->vip4[0] && !w->vip6[0])
		FAIL("welcome: no address");
	if (w->vip4[0] && !is_ip(AF_INET, w->vip4))
		FAIL("welcome: vip4 is not an IPv4 address");
	if (w->vip6[0] && !is_ip(AF_INET6, w->vip6))
		FAIL("welcome: vip6 is not an IPv6 address");
	if (jz_msg_get_int(m, "prefix4", 0, 32, 16, &p4) || jz_msg_get_int(m, "prefix6", 0, 128, 64, &p6))
		FAIL("welcome: prefix4/prefix6 out of range");
	w->server_keys = !json_is_string(json_object_get(m, "pair_keys")) ||
			 strcmp(json_string_value(json_object_get(m, "pair_keys")), "device");
	w->id = (uint32_t)id;
	w->prefix4 = (int)p4;
	w->prefix6 = (int)p6;
	return 0;
}

/* the entry's "pubkey" (see jz_pubkey_parse) */
static int get_pub(json_t *o, uint8_t pub[32])
{
	char b64[48];

	if (jz_msg_get_str(o, "pubkey", b64, sizeof(b64), true))
		return -1;
	return jz_pubkey_parse(b64, pub);
}

/* "cands": absent, or at most JZ_CM_CANDS {ip, port 1-65535, kind
 * host|srflx}; -1 if malformed */
static int get_cands(json_t *e, struct jz_cm_peer *p)
{
	json_t *arr = json_object_get(e, "cands"), *x;
	size_t i;

	if (!arr)
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) > JZ_CM_CANDS)
		return -1;
	json_array_foreach(arr, i, x) {
		struct jz_cm_cand *cd = &p->cands[p->ncands];
		char ip[JZ_CM_IP], kind[8];
		long long port;

		if (!json_is_object(x) || jz_msg_get_str(x, "ip", ip, sizeof(ip), true) ||
		    jz_msg_get_int(x, "port", 1, 65535, 0, &port) || !port ||
		    jz_msg_get_str(x, "kind", kind, sizeof(kind), true) ||
		    (strcmp(kind, "host") && strcmp(kind, "srflx")))
			return -1;
		if (inet_pton(AF_INET, ip, cd->addr) == 1)
			cd->family = AF_INET;
		else if (inet_pton(AF_INET6, ip, cd->addr) == 1)
			cd->family = AF_INET6;
		else
			return -1;
		cd->port = (uint16_t)port;
		cd->srflx = kind[0] == 's';
		p->ncands++;
	}
	return 0;
}

static void peer_parse(json_t *e, struct jz_cm_peer *p)
{
	json_t *ep = json_object_get(e, "endpoint");
	long long id, port;

	memset(p, 0, sizeof(*p));
	if (!json_is_object(e) || jz_msg_get_int(e, "id", 1, UINT32_MAX, 0, &id) || !id) {
		snprintf(p->bad, sizeof(p->bad), "no id");
		return;
	}
	p->id = (uint32_t)id;
	p->linked = json_is_true(json_object_get(e, "linked"));
	if (jz_msg_get_str(e, "device", p->device, sizeof(p->device), false))
		snprintf(p->bad, sizeof(p->bad), "device name malformed");
	else if (jz_msg_get_str(e, "vip4", p->vip4, sizeof(p->vip4), false) ||
		 jz_msg_get_str(e, "vip6", p->vip6, sizeof(p->vip6), false))
		snprintf(p->bad, sizeof(p->bad), "vip4/vip6 malformed");
	else if (ep && (!json_is_object(ep) ||
			jz_msg_get_str(ep, "ip", p->ep_ip, sizeof(p->ep_ip), true) ||
			jz_msg_get_int(ep, "port", 0, 65535, -1, &port) || port < 0 ||
			(!is_ip(AF_INET, p->ep_ip) && !is_ip(AF_INET6, p->ep_ip))))
		snprintf(p->bad, sizeof(p->bad), "endpoint is not an address and port");
	else if (ep && port)
		p->ep_port = (uint16_t)port;
	else if (ep)	/* port 0: the peer announced none; no endpoint until
			 * its first authenticated packet tells the kernel */
		p->ep_ip[0] = 0;
	if (!p->bad[0] && json_object_get(e, "pubkey") && get_pub(e, p->pub))
		snprintf(p->bad, sizeof(p->bad), "pubkey is not 32 bytes of base64");
	else if (!p->bad[0] && get_cands(e, p))
		snprintf(p->bad, sizeof(p->bad), "cands: not at most %d {ip, port, kind}",
			 JZ_CM_CANDS);
	else if (!p->bad[0])
		p->has_pub = json_object_get(e, "pubkey") != NULL;
}

int jz_cm_peers(json_t *m, bool delta, size_t max, struct jz_cm_peers *p,
		char *err, size_t errlen)
{
	json_t *set = json_object_get(m, delta ? "set" : "peers");
	json_t *del = json_object_get(m, "del"), *e, *more = json_object_get(m, "more");
	long long part;
	size_t i, n;

	memset(p, 0, sizeof(*p));
	p->delta = delta;
	if (!delta) {
		p->bad_part = true;
		if (jz_msg_get_int(m, "part", 0, JZ_CM_MAX_PART, 0, &part))
			FAIL("peers: \"part\" is not an integer in [0, %d]", JZ_CM_MAX_PART);
		if (more && !json_is_boolean(more))
			FAIL("peers: \"more\" is not a boolean");
		p->bad_part = false;
		p->part = (unsigned int)part;
		p->more = json_is_true(more);
	}
	if ((set || !delta) && !json_is_array(set))
		FAIL("%s: %s is not an array", delta ? "peers_delta" : "peers",
		     delta ? "set" : "peers");
	if (delta && del && !json_is_array(del))
		FAIL("peers_delta: del is not an array");
	p->total = json_array_size(set);
	n = p->total < max ? p->total : max;
	p->set = calloc(n ? n : 1, sizeof(*p->set));
	p->del = calloc(json_array_size(del) ? json_array_size(del) : 1, sizeof(*p->del));
	if (!p->set || !p->del) {
		jz_cm_peers_free(p);
		FAIL("out of memory");
	}
	json_array_foreach(set, i, e) {
		if (i == n)
			break;
		peer_parse(e, &p->set[p->n_set++]);
	}
	json_array_foreach(del, i, e) {
		if (!json_is_integer(e) || json_integer_value(e) < 1 ||
		    json_integer_value(e) > UINT32_MAX)
			continue;
		p->del[p->n_del++] = (uint32_t)json_integer_value(e);
	}
	return 0;
}

int jz_cm_peers_unchanged(json_t *m, uint32_t *count, char *err, size_t errlen)
{
	long long n;

	if (jz_msg_get_int(m, "count", 0, UINT32_MAX, -1, &n) || n < 0)
		FAIL("peers_unchanged: \"count\" is not an integer in [0, %u]", UINT32_MAX);
	*count = (uint32_t)n;
	return 0;
}

void jz_cm_peers_free(struct jz_cm_peers *p)
{
	free(p->set);
	free(p->del);
	p->set = NULL;
	p->del = NULL;
}

int jz_cm_pair(json_t *m, bool refused, struct jz_cm_pair *p, char *err, size_t errlen)
{
	char b64[JZ_CM_PAIR_MAX * 4 / 3 + 8], why[sizeof(p->reason)];
	long long peer;
	unsigned char *raw;
	size_t n = 0;

	memset(p, 0, sizeof(*p));
	if (jz_msg_get_int(m, "peer", 1, UINT32_MAX, 0, &peer) || !peer)
		FAIL("%s: no peer", refused ? "pair_refused" : "pair");
	p->peer = (uint32_t)peer;
	if (refused) {
		if (jz_msg_get_str(m, "reason", why, sizeof(why), false))
			FAIL("pair_refused for peer %u: reason malformed", p->peer);
		jz_cm_escape(why, p->reason, sizeof(p->reason));
		return 0;
	}
	if (jz_msg_get_str(m, "msg", b64, sizeof(b64), true))
		FAIL("pair from peer %u: msg missing or over %d bytes", p->peer,
		     JZ_CM_PAIR_MAX);
	raw = jz_b64_decode(b64, &n);
	if (!raw || !n || n > JZ_CM_PAIR_MAX) {
		free(raw);
		FAIL("pair from peer %u: msg is not base64 of 1-%d bytes", p->peer,
		     JZ_CM_PAIR_MAX);
	}
	memcpy(p->msg, raw, n);
	p->len = n;
	free(raw);
	return 0;
}

static int get_keydir(json_t *o, uint8_t key[32], uint8_t salt[4])
{
	char k64[64], s64[16];
	size_t kl = 0, sl = 0;
	unsigned char *k, *s;
	int ok;

	if (!json_is_object(o) || jz_msg_get_str(o, "key", k64, sizeof(k64), true) ||
	    jz_msg_get_str(o, "salt", s64, sizeof(s64), true))
		return -1;
	k = jz_b64_decode(k64, &kl);
	s = jz_b64_decode(s64, &sl);
	ok = k && s && kl == 32 && sl == 4;
	if (ok) {
		memcpy(key, k, 32);
		memcpy(salt, s, 4);
	}
	if (k)
		OPENSSL_cleanse(k, kl);
	free(k);
	free(s);
	return ok ? 0 : -1;
}

int jz_cm_key(json_t *m, struct jz_cm_key *k, char *err, size_t errlen)
{
	char cipher[32];
	long long peer, id;

	memset(k, 0, sizeof(*k));
	if (jz_msg_get_int(m, "peer", 1, UINT32_MAX, 0, &peer) || !peer)
		FAIL("key: no peer");
	k->peer = (uint32_t)peer;
	if (jz_msg_get_int(m, "key_id", 0, 255, 0, &id))
		FAIL("key for peer %u: key_id not 0-255", k->peer);
	k->key_id = (uint8_t)id;
	if (jz_msg_get_str(m, "cipher", cipher, sizeof(cipher), false))
		FAIL("key for peer %u: cipher malformed", k->peer);
	if (!strcmp(cipher, "aes-256-gcm"))
		k->aes = true;
	else if (cipher[0] && strcmp(cipher, "chacha20-poly1305"))
		FAIL("key for peer %u: unknown cipher", k->peer);
	if (get_keydir(json_object_get(m, "tx"), k->tx_key, k->tx_salt) ||
	    get_keydir(json_object_get(m, "rx"), k->rx_key, k->rx_salt)) {
		OPENSSL_cleanse(k, sizeof(*k));
		FAIL("malformed key for peer %u", (unsigned)peer);
	}
	return 0;
}

int jz_cm_key_swap(json_t *m, struct jz_cm_key_swap *s, char *err, size_t errlen)
{
	long long peer, id;

	if (jz_msg_get_int(m, "peer", 1, UINT32_MAX, 0, &peer) || !peer ||
	    jz_msg_get_int(m, "key_id", 0, 255, -1, &id) || id < 0)
		FAIL("key_swap: bad peer or key_id");
	s->peer = (uint32_t)peer;
	s->key_id = (int)id;
	return 0;
}

int jz_cm_verdict(json_t *m, struct jz_cm_verdict *v, char *err, size_t errlen)
{
	char verdict[16], dir[16];
	long long x;
	json_t *vid = json_object_get(m, "vid");

	memset(v, 0, sizeof(*v));
	if (jz_msg_get_str(m, "verdict", verdict, sizeof(verdict), true) ||
	    (strcmp(verdict, "approve") && strcmp(verdict, "deny")))
		FAIL("verdict: neither approve nor deny");
	v->approve = !strcmp(verdict, "approve");
	if (jz_msg_get_str(m, "dir", dir, sizeof(dir), false) ||
	    (dir[0] && strcmp(dir, "ingress") && strcmp(dir, "egress")))
		FAIL("verdict: bad dir");
	v->ingress = !strcmp(dir, "ingress");
	if (jz_msg_get_str(m, "proto", v->proto, sizeof(v->proto), false))
		FAIL("verdict: bad proto");
	if (jz_msg_get_str(m, "src", v->src, sizeof(v->src), false) ||
	    jz_msg_get_str(m, "dst", v->dst, sizeof(v->dst), false) ||
	    (v->src[0] && !is_ip(AF_INET, v->src) && !is_ip(AF_INET6, v->src)) ||
	    (v->dst[0] && !is_ip(AF_INET, v->dst) && !is_ip(AF_INET6, v->dst)))
		FAIL("verdict: src/dst are not addresses");
	if (jz_msg_get_int(m, "sport", 0, 65535, 0, &x))
		FAIL("verdict: bad sport");
	v->sport = (uint16_t)x;
	if (jz_msg_get_int(m, "dport", 0, 65535, 0, &x))
		FAIL("verdict: bad dport");
	v->dport = (uint16_t)x;
	if (jz_msg_get_int(m, "peer", 0, UINT32_MAX, 0, &x))
		FAIL("verdict: bad peer");
	v->peer = (uint32_t)x;
	if (jz_msg_get_int(m, "lifetime", 0, UINT32_MAX, 0, &x))
		FAIL("verdict: bad lifetime");
	v->lifetime = (uint32_t)x;
	if (jz_msg_get_int(m, "cookie", 0, INT64_MAX, 0, &x))
		FAIL("verdict: bad cookie");
	v->cookie = (uint64_t)x;
	if (vid) {
		if (!json_is_integer(vid))
			FAIL("verdict: vid is not an integer");
		v->has_vid = true;
		v->vid = json_integer_value(vid);
	}
	return 0;
}

/* Length of the valid UTF-8 sequence at s (without control characters
 * beyond ASCII's: C1 controls U+0080-U+009F are escaped too), or 0. */
static size_t utf8_ok(const unsigned char *s)
{
	size_t n;
	uint32_t cp;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
	cp = s[0] & (0x3f >> (n - 1));
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
		return 0;
	return n;
}

void jz_cm_escape(const char *in, char *out, size_t outlen)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0;

	if (!outlen)
		return;
	while (*s) {
		char tmp[8];
		size_t n = 0, u;

		if (*s == '\\')
			n = (size_t)snprintf(tmp, sizeof(tmp), "\\\\");
		else if (*s == '\n')
			n = (size_t)snprintf(tmp, sizeof(tmp), "\\n");
		else if (*s == '\r')
			n = (size_t)snprintf(tmp, sizeof(tmp), "\\r");
		else if (*s == '\t')
			n = (size_t)snprintf(tmp, sizeof(tmp), "\\t");
		else if (*s >= 0x20 && *s < 0x7f)
			tmp[n++] = (char)*s;
		else if (*s >= 0x80 && (u = utf8_ok(s))) {
			if (o + u >= outlen)
				break;
			memcpy(out + o, s, u);
			o += u;
			s += u;
			continue;
		} else
			n = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", *s);
		if (o + n >= outlen)
			break;
		memcpy(out + o, tmp, n);
		o += n;
		s++;
	}
	out[o] = 0;
}

static int hexval(char c)
{
	return c <= '9' ? c - '0' : c - 'a' + 10;
}

int jz_cm_relay(json_t *m, bool refused, struct jz_cm_relay *r, char *err, size_t errlen)
{
	char ip[JZ_CM_IP], reason[128], token[2 * sizeof(r->token) + 2];
	long long peer, port;

	memset(r, 0, sizeof(*r));
	if (jz_msg_get_int(m, "peer", 1, UINT32_MAX, 0, &peer) || !peer)
		FAIL("%s: no peer", refused ? "relay_refused" : "relay");
	r->peer = (uint32_t)peer;
	if (refused) {
		if (jz_msg_get_str(m, "reason", reason, sizeof(reason), false))
			FAIL("relay_refused: reason is not a short string");
		jz_cm_escape(reason, r->reason, sizeof(r->reason));
		return 0;
	}
	if (jz_msg_get_str(m, "ip", ip, sizeof(ip), true) ||
	    jz_msg_get_int(m, "port", 1, 65535, 0, &port) || !port)
		FAIL("relay: needs ip and port 1-65535");
	if (inet_pton(AF_INET, ip, r->addr) == 1)
		r->family = AF_INET;
	else if (inet_pton(AF_INET6, ip, r->addr) == 1)
		r->family = AF_INET6;
	else
		FAIL("relay: ip is not an address");
	r->port = (uint16_t)port;
	if (jz_msg_get_str(m, "token", token, sizeof(token), false))
		FAIL("relay: token is not 24 hex digits");
	if (!token[0])
		return 0;	/* a server that sends none: the latch's id is ours */
	if (strlen(token) != 2 * sizeof(r->token) ||
	    strspn(token, "0123456789abcdef") != 2 * sizeof(r->token))
		FAIL("relay: token is not 24 hex digits");
	for (size_t i = 0; i < sizeof(r->token); i++)
		r->token[i] = (uint8_t)(hexval(token[2 * i]) << 4 | hexval(token[2 * i + 1]));
	r->has_token = true;
	return 0;
}
