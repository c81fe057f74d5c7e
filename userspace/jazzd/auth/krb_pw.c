// SPDX-License-Identifier: GPL-2.0
/*
 * krb_pw.c - login mode (b), the encrypted-timestamp password login: token
 * encoding, string-to-key, the client's token and reply check, the server's
 * peek, replay table and verify. Must not know the AP-REQ mode; shared
 * helpers are in krb.c.
 */
#include "krb_int.h"

/* ------------------------------------------------------------------ */
/* Mode (b): encoding helpers                                           */

struct wbuf {
	unsigned char *p;
	size_t len, cap;
	bool over;
};

static void w_bytes(struct wbuf *w, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (w->over || w->len + n > w->cap) {
		w->over = true;
		return;
	}
	memcpy(w->p + w->len, p, n);
	w->len += n;
}

static void w_u8(struct wbuf *w, unsigned v)
{
	unsigned char b = v;

	w_bytes(w, &b, 1);
}

static void w_be(struct wbuf *w, uint64_t v, int n)
{
	unsigned char b[8];

	for (int i = 0; i < n; i++)
		b[i] = v >> (8 * (n - 1 - i));
	w_bytes(w, b, n);
}

static void w_str8(struct wbuf *w, const void *p, size_t n)
{
	w_u8(w, n);
	w_bytes(w, p, n);
}

struct rbuf {
	const unsigned char *p;
	size_t len, off;
	bool bad;
};

static const unsigned char *r_bytes(struct rbuf *r, size_t n)
{
	const unsigned char *p;

	if (r->bad || r->len - r->off < n) {
		r->bad = true;
		return NULL;
	}
	p = r->p + r->off;
	r->off += n;
	return p;
}

static uint64_t r_be(struct rbuf *r, int n)
{
	const unsigned char *b = r_bytes(r, n);
	uint64_t v = 0;

	for (int i = 0; b && i < n; i++)
		v = (v << 8) | b[i];
	return v;
}

/* A u8-length-prefixed string into dst (NUL-terminated); non-empty, no NUL. */
static void r_str8(struct rbuf *r, char *dst, size_t dstlen)
{
	size_t n = r_be(r, 1);
	const unsigned char *p = r_bytes(r, n);

	if (!p || n == 0 || n >= dstlen || memchr(p, 0, n)) {
		r->bad = true;
		dst[0] = '\0';
		return;
	}
	memcpy(dst, p, n);
	dst[n] = '\0';
}

static int salt_key(krb5_context ctx, int enctype, const char *user,
		    const char *realm, const char *password, krb5_keyblock *kb,
		    char *err, size_t errlen)
{
	char salt_s[2 * JZ_KRB_NAME_MAX];
	krb5_data pw, salt;
	krb5_error_code code;
	int n;

	n = snprintf(salt_s, sizeof(salt_s), "%s%s", realm, user);
	if (n < 0 || (size_t)n >= sizeof(salt_s))
		return seterr(err, errlen, JZ_KRB_EMALFORMED, "name too long");
	pw.magic = salt.magic = KV5M_DATA;
	pw.data = (char *)password;
	pw.length = strlen(password);
	salt.data = salt_s;
	salt.length = n;
	code = krb5_c_string_to_key(ctx, enctype, &pw, &salt, kb);
	if (code)
		return krberr(ctx, code, err, errlen, JZ_KRB_EUNSUPPORTED,
			      "string-to-key");
	return 0;
}

/* Key for enctype from a password (salted) or a raw key; kb->contents is
 * malloc'd: free with krb5_free_keyblock_contents. */
static int make_key(krb5_context ctx, int enctype, const char *user,
		    const char *realm, const char *password,
		    const unsigned char *raw, size_t raw_len, krb5_keyblock *kb,
		    char *err, size_t errlen)
{
	size_t keybytes, keylen;
	krb5_error_code code;

	memset(kb, 0, sizeof(*kb));
	if (!jz_krb_pw_enctype_ok(enctype))
		return seterr(err, errlen, JZ_KRB_EUNSUPPORTED,
			      "enctype %d not allowed for password login",
			      enctype);
	if (password)
		return salt_key(ctx, enctype, user, realm, password, kb, err,
				errlen);
	code = krb5_c_keylengths(ctx, enctype, &keybytes, &keylen);
	if (code)
		return krberr(ctx, code, err, errlen, JZ_KRB_EUNSUPPORTED,
			      "key length");
	if (!raw || raw_len != keylen)
		return seterr(err, errlen, JZ_KRB_EBADKEY,
			      "raw key must be %zu bytes, got %zu", keylen,
			      raw_len);
	kb->magic = KV5M_KEYBLOCK;
	kb->enctype = enctype;
	kb->length = keylen;
	kb->contents = malloc(keylen);
	if (!kb->contents)
		return seterr(err, errlen, JZ_KRB_EINTERNAL, "out of memory");
	memcpy(kb->contents, raw, keylen);
	return 0;
}

static int encrypt_to(krb5_context ctx, const krb5_keyblock *kb, int usage,
		      const unsigned char *pt, size_t ptlen, unsigned char *ct,
		      size_t ctcap, size_t *ctlen, char *err, size_t errlen)
{
	krb5_data in;
	krb5_enc_data out;
	size_t need;
	krb5_error_code code;

	code = krb5_c_encrypt_length(ctx, kb->enctype, ptlen, &need);
	if (code || need > ctcap)
		return seterr(err, errlen, JZ_KRB_EINTERNAL, "encrypt length");
	memset(&out, 0, sizeof(out));
	in.magic = KV5M_DATA;
	in.data = (char *)pt;
	in.length = ptlen;
	out.ciphertext.data = (char *)ct;
	out.ciphertext.length = need;
	code = krb5_c_encrypt(ctx, kb, usage, NULL, &in, &out);
	if (code)
		return krberr(ctx, code, err, errlen, JZ_KRB_EINTERNAL, "encrypt");
	*ctlen = out.ciphertext.length;
	return 0;
}

/* Decrypt into pt (cap ptcap). Integrity failure = wrong key = EBADKEY. */
static int decrypt_to(krb5_context ctx, const krb5_keyblock *kb, int usage,
		      const unsigned char *ct, size_t ctlen, unsigned char *pt,
		      size_t ptcap, size_t *ptlen, const char *bad,
		      char *err, size_t errlen)
{
	krb5_enc_data in;
	krb5_data out;
	krb5_error_code code;

	if (ctlen > ptcap)
		return seterr(err, errlen, JZ_KRB_EMALFORMED, "ciphertext too long");
	memset(&in, 0, sizeof(in));
	in.enctype = kb->enctype;
	in.ciphertext.magic = KV5M_DATA;
	in.ciphertext.data = (char *)ct;
	in.ciphertext.length = ctlen;
	out.magic = KV5M_DATA;
	out.data = (char *)pt;
	out.length = ptcap;
	code = krb5_c_decrypt(ctx, kb, usage, NULL, &in, &out);
	if (code == KRB5KRB_AP_ERR_BAD_INTEGRITY)
		return seterr(err, errlen, JZ_KRB_EBADKEY, "%s", bad);
	if (code)
		return krberr(ctx, code, err, errlen, JZ_KRB_EMALFORMED,
			      "decrypt");
	*ptlen = out.length;
	return 0;
}

#define JZ_PW_PT_MAX (4 + 8 + 4 + JZ_PW_NONCE_LEN + 3 * 256)
#define JZ_PW_CT_MAX (JZ_PW_PT_MAX + 128)
#define JZ_PW_TOKEN_MAX (2 + 4 + 2 * 256 + 2 + JZ_PW_CT_MAX)

/* ------------------------------------------------------------------ */
/* Mode (b): client                                                     */

static int pw_check_names(const char *user, const char *realm, char *err,
			  size_t errlen)
{
	if (!user || !realm || !*user || !*realm ||
	    strlen(user) >= JZ_KRB_NAME_MAX || strlen(realm) >= JZ_KRB_NAME_MAX)
		return seterr(err, errlen, JZ_KRB_EMALFORMED,
			      "user and realm must be 1..255 bytes");
	return 0;
}

int jz_krb_pw_client_new(const struct jz_krb_pw_cfg *cfg, const void *cb,
			 size_t cb_len, struct jz_krb_pw_client **out,
			 struct jz_krb_buf *token, char *err, size_t errlen)
{
	struct jz_krb_pw_client *c;
	unsigned char pt[JZ_PW_PT_MAX], ct[JZ_PW_CT_MAX], tok[JZ_PW_TOKEN_MAX];
	struct wbuf w = { pt, 0, sizeof(pt), false };
	struct wbuf t = { tok, 0, sizeof(tok), false };
	int enctype = cfg->enctype ? cfg->enctype : ENCTYPE_AES256_CTS_HMAC_SHA1_96;
	krb5_data rnd;
	krb5_error_code code;
	size_t ctlen;
	int rc;

	*out = NULL;
	token->data = NULL;
	token->len = 0;
	rc = pw_check_names(cfg->user, cfg->realm, err, errlen);
	if (rc)
		return rc;
	if (cb_len > JZ_KRB_CB_MAX)
		return seterr(err, errlen, JZ_KRB_EUNSUPPORTED,
			      "channel binding too long");
	c = calloc(1, sizeof(*c));
	if (!c)
		return seterr(err, errlen, JZ_KRB_EINTERNAL, "out of memory");
	rc = context_new(&c->ctx, cfg->time_offset, err, errlen);
	if (rc) {
		free(c);
		return rc;
	}
	rc = make_key(c->ctx, enctype, cfg->user, cfg->realm, cfg->password,
		      cfg->key, cfg->key_len, &c->key, err, errlen);
	if (rc)
		goto fail;
	rnd.magic = KV5M_DATA;
	rnd.data = (char *)c->nonce;
	rnd.length = sizeof(c->nonce);
	code = krb5_c_random_make_octets(c->ctx, &rnd);
	if (code || now_of(c->ctx, &c->ts, &c->usec)) {
		rc = seterr(err, errlen, JZ_KRB_EINTERNAL, "random/clock");
		goto fail;
	}
	w_bytes(&w, JZ_PW_MAGIC_TS, 4);
	w_be(&w, (uint64_t)c->ts, 8);
	w_be(&w, c->usec, 4);
	w_bytes(&w, c->nonce, sizeof(c->nonce));
	w_str8(&w, cfg->user, strlen(cfg->user));
	w_str8(&w, cfg->realm, strlen(cfg->realm));
	w_str8(&w, cb, cb ? cb_len : 0);
	rc = encrypt_to(c->ctx, &c->key, JZ_KU_PW_TIMESTAMP, pt, w.len, ct,
			sizeof(ct), &ctlen, err, errlen);
	wipe(pt, sizeof(pt));
	if (rc)
		goto fail;
	w_u8(&t, JZ_PW_VERSION);
	w_u8(&t, JZ_PW_TYPE_LOGIN);
	w_be(&t, (uint32_t)enctype, 4);
	w_str8(&t, cfg->user, strlen(cfg->user));
	w_str8(&t, cfg->realm, strlen(cfg->realm));
	w_be(&t, ctlen, 2);
	w_bytes(&t, ct, ctlen);
	if (t.over || buf_set(token, tok, t.len)) {
		rc = seterr(err, errlen, JZ_KRB_EINTERNAL, "token");
		goto fail;
	}
	*out = c;
	return 0;
fail:
	jz_krb_pw_client_free(c);
	return rc;
}

void jz_krb_pw_client_free(struct jz_krb_pw_client *c)
{
	if (!c)
		return;
	if (c->key.contents)
		krb5_free_keyblock_contents(c->ctx, &c->key);	/* zeroes it */
	krb5_free_context(c->ctx);
	wipe(c, sizeof(*c));
	free(c);
}

/* Reply token: version, type 2, enctype, u16 length, ciphertext. */
static int parse_reply_hdr(struct rbuf *r, int *enctype, const unsigned char **ct,
			   size_t *ctlen)
{
	unsigned ver = r_be(r, 1), type = r_be(r, 1);

	*enctype = (int32_t)r_be(r, 4);
	*ctlen = r_be(r, 2);
	*ct = r_bytes(r, *ctlen);
	if (r->bad || r->off != r->len || ver != JZ_PW_VERSION ||
	    type != JZ_PW_TYPE_REPLY)
		return -1;
	return 0;
}

int jz_krb_pw_client_reply(struct jz_krb_pw_client *c, const void *reply,
			   size_t len, char *err, size_t errlen)
{
	struct rbuf r = { reply, len, 0, false };
	unsigned char pt[JZ_PW_CT_MAX];
	const unsigned char *ct, *nonce;
	size_t ctlen, ptlen;
	int enctype, rc;
	struct rbuf p;

	if (!reply || len > JZ_PW_TOKEN_MAX || parse_reply_hdr(&r, &enctype, &ct,
							       &ctlen))
		return seterr(err, errlen, JZ_KRB_EMALFORMED,
			      "malformed password reply token");
	if (enctype != c->key.enctype)
		return seterr(err, errlen, JZ_KRB_EMALFORMED,
			      "reply enctype differs from ours");
	rc = decrypt_to(c->ctx, &c->key, JZ_KU_PW_REPLY, ct, ctlen, pt,
			sizeof(pt), &ptlen,
			"server failed mutual authentication (reply not made with our key)",
			err, errlen);
	if (rc)
		return rc;
	p = (struct rbuf){ pt, ptlen, 0, false };
	if (!ct_equal(r_bytes(&p, 4) ?: (const unsigned char *)"????",
		      JZ_PW_MAGIC_REPLY, 4))
		p.bad = true;
	nonce = r_bytes(&p, JZ_PW_NONCE_LEN);
	if (!p.bad && (int64_t)r_be(&p, 8) == c->ts &&
	    (uint32_t)r_be(&p, 4) == c->usec && (r_be(&p, 8), true) &&
	    !p.bad && p.off == p.len && ct_equal(nonce, c->nonce, JZ_PW_NONCE_LEN)) {
		wipe(pt, sizeof(pt));
		return 0;
	}
	wipe(pt, sizeof(pt));
	return seterr(err, errlen, JZ_KRB_EBADKEY,
		      "server reply does not echo our nonce and timestamp");
}

/* ------------------------------------------------------------------ */
/* Mode (b): server                                                     */

struct pw_login {
	int enctype;
	char user[JZ_KRB_NAME_MAX], realm[JZ_KRB_NAME_MAX];
	const unsigned char *ct;
	size_t ctlen;
};

static int parse_login(const void *token, size_t len, struct pw_login *l,
		       char *err, size_t errlen)
{
	struct rbuf r = { token, len, 0, false };
	unsigned ver, type;

	if (!token || len > JZ_PW_TOKEN_MAX)
		return seterr(err, errlen, JZ_KRB_EMALFORMED,
			      "password token length %zu out of range", len);
	ver = r_be(&r, 1);
	type = r_be(&r, 1);
	if (!r.bad && (ver != JZ_PW_VERSION || type != JZ_PW_TYPE_LOGIN))
		return seterr(err, errlen, JZ_KRB_EMALFORMED,
			      "password token version %u type %u unknown", ver,
			      type);
	l->enctype = (int32_t)r_be(&r, 4);
	r_str8(&r, l->user, sizeof(l->user));
	r_str8(&r, l->realm, sizeof(l->realm));
	l->ctlen = r_be(&r, 2);
	l->ct = r_bytes(&r, l->ctlen);
	if (r.bad || r.off != r.len)
		return seterr(err, errlen, JZ_KRB_EMALFORMED,
			      "password token truncated or has trailing bytes");
	if (!jz_krb_pw_enctype_ok(l->enctype)) {
		char nm[64] = "?";

		krb5_enctype_to_name(l->enctype, 0, nm, sizeof(nm));
		return seterr(err, errlen, JZ_KRB_EUNSUPPORTED,
			      "enctype %s (%d) not allowed for password login",
			      nm, l->enctype);
	}
	return 0;
}

int jz_krb_pw_peek(const void *token, size_t len, struct jz_krb_pw_hello *h,
		   char *err, size_t errlen)
{
	struct pw_login l;
	int rc;

	memset(h, 0, sizeof(*h));
	rc = parse_login(token, len, &l, err, errlen);
	if (rc)
		return rc;
	strcpy(h->user, l.user);
	strcpy(h->realm, l.realm);
	h->enctype = l.enctype;
	h->enctype_name = jz_krb_enctype_name(l.enctype);
	return 0;
}

uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

static void rp_sweep(struct jz_krb_server *s, time_t now)
{
	for (size_t i = 0; i < s->rp_nbuckets; i++) {
		struct jz_replay_ent **pp = &s->rp_tab[i], *e;

		while ((e = *pp)) {
			if (e->expire < now) {
				*pp = e->next;
				free(e);
				s->rp_count--;
			} else {
				pp = &e->next;
			}
		}
	}
	s->rp_swept = now;
}

/* Remember (who, ts, usec, nonce) until ts + skew; EREPLAY if known. */
static int rp_check_insert(struct jz_krb_server *s, const char *user,
			   const char *realm, int64_t ts, uint32_t usec,
			   const unsigned char *nonce, int64_t now, char *err,
			   size_t errlen)
{
	uint64_t who = fnv1a(fnv1a(0xcbf29ce484222325ULL, user, strlen(user) + 1),
			     realm, strlen(realm) + 1);
	uint64_t h = fnv1a(fnv1a(who, &ts, sizeof(ts)), nonce, JZ_PW_NONCE_LEN);
	struct jz_replay_ent *e, **head;
	int rc = 0;

	pthread_mutex_lock(&s->rp_mu);
	head = &s->rp_tab[h & (s->rp_nbuckets - 1)];
	for (e = *head; e; e = e->next) {
		if (e->who == who && e->ts == ts && e->usec == usec &&
		    !memcmp(e->nonce, nonce, JZ_PW_NONCE_LEN)) {
			rc = seterr(err, errlen, JZ_KRB_EREPLAY,
				    "password token replayed");
			goto out;
		}
	}
	/* Sweep expired entries at most once a second, or when full. */
	if (s->rp_count >= s->cfg.pw_replay_max ||
	    now - s->rp_swept >= s->cfg.max_skew)
		if (now != s->rp_swept)
			rp_sweep(s, now);
	if (s->rp_count >= s->cfg.pw_replay_max) {
		rc = seterr(err, errlen, JZ_KRB_EFULL,
			    "password replay memory full (%zu entries)",
			    s->rp_count);
		goto out;
	}
	e = malloc(sizeof(*e));
	if (!e) {
		rc = seterr(err, errlen, JZ_KRB_EINTERNAL, "out of memory");
		goto out;
	}
	e->who = who;
	e->ts = ts;
	e->usec = usec;
	memcpy(e->nonce, nonce, JZ_PW_NONCE_LEN);
	e->expire = ts + s->cfg.max_skew + 1;
	e->next = *head;
	*head = e;
	s->rp_count++;
out:
	pthread_mutex_unlock(&s->rp_mu);
	return rc;
}

struct pw_plain {
	int64_t ts;
	uint32_t usec;
	const unsigned char *nonce, *cb;
	size_t cb_len;
	char user[JZ_KRB_NAME_MAX], realm[JZ_KRB_NAME_MAX];
};

static int parse_plain(const unsigned char *pt, size_t ptlen, struct pw_plain *p)
{
	struct rbuf r = { pt, ptlen, 0, false };
	const unsigned char *magic = r_bytes(&r, 4);

	if (!magic || memcmp(magic, JZ_PW_MAGIC_TS, 4))
		return -1;
	p->ts = (int64_t)r_be(&r, 8);
	p->usec = r_be(&r, 4);
	p->nonce = r_bytes(&r, JZ_PW_NONCE_LEN);
	r_str8(&r, p->user, sizeof(p->user));
	r_str8(&r, p->realm, sizeof(p->realm));
	p->cb_len = r_be(&r, 1);
	p->cb = r_bytes(&r, p->cb_len);
	if (r.bad || r.off != r.len || p->usec > 999999)
		return -1;
	return 0;
}

static int pw_make_reply(krb5_context ctx, const krb5_keyblock *kb,
			 const struct pw_plain *p, int64_t now,
			 struct jz_krb_buf *reply, char *err, size_t errlen)
{
	unsigned char pt[64], ct[256], tok[300];
	struct wbuf w = { pt, 0, sizeof(pt), false };
	struct wbuf t = { tok, 0, sizeof(tok), false };
	size_t ctlen;
	int rc;

	w_bytes(&w, JZ_PW_MAGIC_REPLY, 4);
	w_bytes(&w, p->nonce, JZ_PW_NONCE_LEN);
	w_be(&w, (uint64_t)p->ts, 8);
	w_be(&w, p->usec, 4);
	w_be(&w, (uint64_t)now, 8);
	rc = encrypt_to(ctx, kb, JZ_KU_PW_REPLY, pt, w.len, ct, sizeof(ct),
			&ctlen, err, errlen);
	if (rc)
		return rc;
	w_u8(&t, JZ_PW_VERSION);
	w_u8(&t, JZ_PW_TYPE_REPLY);
	w_be(&t, (uint32_t)kb->enctype, 4);
	w_be(&t, ctlen, 2);
	w_bytes(&t, ct, ctlen);
	if (t.over || buf_set(reply, tok, t.len))
		return seterr(err, errlen, JZ_KRB_EINTERNAL, "reply token");
	return 0;
}

/*
 * The same token in the on-disk replay cache the AP-REQs use (file2 under
 * the state directory by default): the table above is lost at a restart,
 * this is not, so a token captured before a restart stays refused after it
 * (without channel binding, the only thing that stops it). MIT keeps an
 * entry for its clockskew (libdefaults, 300 s by default).
 */
static int rc_store(krb5_context ctx, krb5_rcache rcache, const struct pw_login *l,
		    char *err, size_t errlen)
{
	krb5_enc_data ed = { .enctype = l->enctype };
	krb5_error_code code;

	if (!rcache)
		return 0;
	ed.ciphertext.data = (char *)l->ct;
	ed.ciphertext.length = (unsigned int)l->ctlen;
	code = k5_rc_store(ctx, rcache, &ed);
	if (code == KRB5KRB_AP_ERR_REPEAT)
		return seterr(err, errlen, JZ_KRB_EREPLAY,
			      "password token replayed (replay cache)");
	if (code)
		return krberr(ctx, code, err, errlen, JZ_KRB_EINTERNAL, "replay cache");
	return 0;
}

/* Everything after the key is known: decrypt and check. */
static int pw_check(struct jz_krb_server *s, krb5_context ctx, krb5_rcache rcache,
		    const struct pw_login *l, const krb5_keyblock *kb,
		    const void *cb, size_t cb_len, struct jz_krb_buf *reply,
		    char *err, size_t errlen)
{
	unsigned char pt[JZ_PW_CT_MAX];
	struct pw_plain p;
	size_t ptlen;
	int64_t now;
	uint32_t us;
	int rc;

	rc = decrypt_to(ctx, kb, JZ_KU_PW_TIMESTAMP, l->ct, l->ctlen, pt,
			sizeof(pt), &ptlen,
			"wrong password or key (decryption integrity check failed)",
			err, errlen);
	if (rc)
		return rc;
	if (parse_plain(pt, ptlen, &p)) {
		rc = seterr(err, errlen, JZ_KRB_EMALFORMED,
			    "malformed encrypted timestamp");
		goto out;
	}
	if (strcmp(p.user, l->user) || strcmp(p.realm, l->realm)) {
		rc = seterr(err, errlen, JZ_KRB_EBADKEY,
			    "encrypted timestamp is for another user");
		goto out;
	}
	if (now_of(ctx, &now, &us)) {
		rc = seterr(err, errlen, JZ_KRB_EINTERNAL, "clock");
		goto out;
	}
	if (p.ts > now + s->cfg.max_skew || p.ts < now - s->cfg.max_skew) {
		rc = seterr(err, errlen, JZ_KRB_ESKEW,
			    "timestamp is %+lld s from ours (limit %d s)",
			    (long long)(p.ts - now), s->cfg.max_skew);
		goto out;
	}
	if (cb && (p.cb_len != cb_len || !ct_equal(p.cb, cb, cb_len))) {
		rc = seterr(err, errlen, JZ_KRB_ECHANNEL,
			    p.cb_len ? "channel binding does not match this connection"
				     : "token carries no channel binding");
		goto out;
	}
	rc = rp_check_insert(s, l->user, l->realm, p.ts, p.usec, p.nonce, now,
			     err, errlen);
	if (!rc)
		rc = rc_store(ctx, rcache, l, err, errlen);
	if (!rc)
		rc = pw_make_reply(ctx, kb, &p, now, reply, err, errlen);
out:
	wipe(pt, sizeof(pt));
	return rc;
}

int jz_krb_pw_verify(struct jz_krb_server *s, const void *token, size_t len,
		     const struct jz_krb_secret *secret,
		     const void *cb, size_t cb_len, struct jz_krb_identity *id,
		     struct jz_krb_buf *reply, char *err, size_t errlen)
{
	struct pw_login l;
	struct jz_slot *sl;
	krb5_keyblock kb;
	unsigned char tag[JZ_KC_TAG_MAX];
	size_t tag_len = 0;
	bool tagged = false, cached = false;
	int rc = 0;

	memset(id, 0, sizeof(*id));
	reply->data = NULL;
	reply->len = 0;
	rc = parse_login(token, len, &l, err, errlen);
	if (rc)
		return rc;
	if (cb_len > JZ_KRB_CB_MAX)
		return seterr(err, errlen, JZ_KRB_EUNSUPPORTED,
			      "channel binding too long");
	if (!secret || (!secret->password && !secret->key))
		return seterr(err, errlen, JZ_KRB_EBADKEY, "no password or key");
	if (!jz_krb_enctype_allowed(s, l.enctype))
		return seterr(err, errlen, JZ_KRB_EUNSUPPORTED,
			      "enctype %s not accepted", jz_krb_enctype_name(l.enctype));
	sl = slot_get(s, err, errlen);
	if (!sl)
		return JZ_KRB_EINTERNAL;
	memset(&kb, 0, sizeof(kb));
	if (s->kc && secret->password &&
	    !kc_tag(s, sl->ctx, secret->password, tag, &tag_len)) {
		cached = !kc_get(s, l.user, l.realm, l.enctype, tag, tag_len, &kb);
		tagged = true;
	}
	if (!cached && secret->password && secret->no_derive)
		rc = seterr(err, errlen, JZ_KRB_ELIMIT,
			    "too many logins for this user: try again later");
	else if (!cached)
		rc = make_key(sl->ctx, l.enctype, l.user, l.realm,
			      secret->password, secret->key, secret->key_len,
			      &kb, err, errlen);
	if (!rc) {
		rc = pw_check(s, sl->ctx, sl->rc, &l, &kb, cb, cb_len, reply, err,
			      errlen);
		/*
		 * The key comes from the caller's secret, not from the token:
		 * keep it even when this token was wrong, so a stream of wrong
		 * tokens for one user costs one derivation, not one each.
		 */
		if (tagged && !cached && rc != JZ_KRB_EMALFORMED)
			kc_put(s, l.user, l.realm, tag, tag_len, &kb);
		krb5_free_keyblock_contents(sl->ctx, &kb);
	}
	wipe(tag, sizeof(tag));
	slot_put(s, sl);
	if (rc)
		return rc;
	strcpy(id->user, l.user);
	strcpy(id->realm, l.realm);
	id->enctype = l.enctype;
	return 0;
}

int jz_krb_pw_string_to_key(int enctype, const char *user, const char *realm,
			    const char *password, unsigned char *key,
			    size_t *key_len, char *err, size_t errlen)
{
	krb5_context ctx;
	krb5_keyblock kb;
	int rc;

	rc = pw_check_names(user, realm, err, errlen);
	if (rc)
		return rc;
	if (!password)
		return seterr(err, errlen, JZ_KRB_EBADKEY, "no password");
	if (krb5_init_context(&ctx))
		return seterr(err, errlen, JZ_KRB_EINTERNAL, "krb5_init_context");
	rc = make_key(ctx, enctype, user, realm, password, NULL, 0, &kb, err,
		      errlen);
	if (!rc) {
		if (kb.length > 32)
			rc = seterr(err, errlen, JZ_KRB_EINTERNAL, "key too long");
		else
			memcpy(key, kb.contents, kb.length);
		*key_len = rc ? 0 : kb.length;
		krb5_free_keyblock_contents(ctx, &kb);
	}
	krb5_free_context(ctx);
	return rc;
}

