// SPDX-License-Identifier: GPL-2.0
/*
 * The device identity key (X25519, made once in the state directory) and
 * the pair handshake, Noise_KK_25519_ChaChaPoly_SHA256 with the jazz
 * prologue and key split of docs/PROTOCOL.md "Pair handshake". Every
 * primitive is OpenSSL's: this file only composes them the way the Noise
 * specification (rev. 34) says. Must not know peers, sessions or the
 * kernel (client/pairs.c does).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>

#include "client/noise.h"

static const char proto_name[] = "Noise_KK_25519_ChaChaPoly_SHA256";
/* ‖ the key id byte; "v2" for version 2 (same length) */
static const char prologue_v1[] = "jazz pair v1";
static const char prologue_v2[] = "jazz pair v2";

/* ------------------------------------------------------------------ */
/* identity key */

static int pub_of(EVP_PKEY *k, uint8_t pub[32])
{
	size_t n = 32;

	return EVP_PKEY_get_raw_public_key(k, pub, &n) == 1 && n == 32 ? 0 : -1;
}

static EVP_PKEY *devkey_make(const char *path, char *err, size_t errlen)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	int fd;
	FILE *f;

	if (!k) {
		snprintf(err, errlen, "cannot make an X25519 key");
		return NULL;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
		EVP_PKEY_free(k);
		return NULL;
	}
	f = fdopen(fd, "w");
	if (!f || !PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) ||
	    fflush(f) || fsync(fd)) {
		snprintf(err, errlen, "cannot write %s", path);
		if (f)
			fclose(f);
		else
			close(fd);
		unlink(path);
		EVP_PKEY_free(k);
		return NULL;
	}
	fclose(f);
	return k;
}

EVP_PKEY *jz_devkey_load(const char *path, uint8_t pub[32], char *err, size_t errlen)
{
	struct stat st;
	EVP_PKEY *k = NULL;
	FILE *f;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		k = devkey_make(path, err, errlen);
		if (!k)
			return NULL;
		goto done;
	}
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (st.st_mode & 077)) {
		snprintf(err, errlen, "%s: not a regular file of mode 0600 (a private key "
			 "others can read is no longer this device's alone)", path);
		close(fd);
		return NULL;
	}
	f = fdopen(fd, "r");
	if (f)
		k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	if (f)
		fclose(f);
	else
		close(fd);
	if (!k || !EVP_PKEY_is_a(k, "X25519")) {
		snprintf(err, errlen, "%s: not an X25519 private key in PEM", path);
		EVP_PKEY_free(k);
		return NULL;
	}
done:
	if (pub_of(k, pub)) {
		snprintf(err, errlen, "%s: no public key", path);
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

bool jz_pubkey_ok(const uint8_t pub[32])
{
	static const uint8_t zero[32];
	EVP_PKEY *k;

	if (!CRYPTO_memcmp(pub, zero, 32))
		return false;
	k = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pub, 32);
	EVP_PKEY_free(k);
	return k != NULL;
}

/* ------------------------------------------------------------------ */
/* Noise symmetric state (spec section 5.2), SHA-256 and ChaChaPoly */

struct sym {
	uint8_t h[32], ck[32], k[32];
	bool has_k;
	uint64_t n;
};

static int mix_hash(struct sym *s, const uint8_t *d, size_t len)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) &&
		 EVP_DigestUpdate(c, s->h, 32) && EVP_DigestUpdate(c, d, len) &&
		 EVP_DigestFinal_ex(c, s->h, NULL);

	EVP_MD_CTX_free(c);
	return ok ? 0 : -1;
}

/* HKDF(ck, ikm) of the spec = RFC 5869 with salt ck and empty info */
static int hkdf(const uint8_t ck[32], const uint8_t *ikm, size_t ikm_len,
		uint8_t *out, size_t outlen)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *c = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM p[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)ck, 32),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
						  (void *)(ikm ? ikm : (const uint8_t *)""),
						  ikm_len),
		OSSL_PARAM_construct_end(),
	};
	int ok = c && EVP_KDF_derive(c, out, outlen, p) == 1;

	EVP_KDF_CTX_free(c);
	EVP_KDF_free(kdf);
	return ok ? 0 : -1;
}

static int mix_key(struct sym *s, const uint8_t ikm[32])
{
	uint8_t out[64];

	if (hkdf(s->ck, ikm, 32, out, sizeof(out)))
		return -1;
	memcpy(s->ck, out, 32);
	memcpy(s->k, out + 32, 32);
	s->has_k = true;
	s->n = 0;
	OPENSSL_cleanse(out, sizeof(out));
	return 0;
}

/* ENCRYPT/DECRYPT(k, n, ad, ...): nonce = 4 zero bytes || n little-endian */
static int aead(bool enc, const uint8_t k[32], uint64_t n, const uint8_t *ad,
		size_t adlen, const uint8_t *in, size_t inlen, uint8_t *out,
		uint8_t tag[16])
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	uint8_t iv[12] = { 0 };
	int l, ok;

	for (int i = 0; i < 8; i++)
		iv[4 + i] = (uint8_t)(n >> (8 * i));
	ok = c && EVP_CipherInit_ex(c, EVP_chacha20_poly1305(), NULL, NULL, NULL, enc) &&
	     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) &&
	     EVP_CipherInit_ex(c, NULL, NULL, k, iv, enc) &&
	     EVP_CipherUpdate(c, NULL, &l, ad, (int)adlen) &&
	     (!inlen || EVP_CipherUpdate(c, out, &l, in, (int)inlen));
	if (ok && !enc)
		ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, 16, tag);
	ok = ok && EVP_CipherFinal_ex(c, out + inlen, &l);
	if (ok && enc)
		ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, tag);
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -1;
}

/* EncryptAndHash / DecryptAndHash: out/in is ciphertext || tag */
static int enc_hash(struct sym *s, const uint8_t *p, size_t len, uint8_t *out)
{
	if (!s->has_k || aead(true, s->k, s->n, s->h, 32, p, len, out, out + len))
		return -1;
	s->n++;
	return mix_hash(s, out, len + 16);
}

static int dec_hash(struct sym *s, const uint8_t *c, size_t len, uint8_t *out)
{
	uint8_t tag[16];

	if (!s->has_k || len < 16)
		return -1;
	memcpy(tag, c + len - 16, 16);
	if (aead(false, s->k, s->n, s->h, 32, c, len - 16, out, tag))
		return -1;
	s->n++;
	return mix_hash(s, c, len);
}

/* Initialize + MixHash(prologue of the version || key id) + the
 * pre-messages of KK (initiator's static, then responder's). */
static int sym_init(struct sym *s, uint8_t version, uint8_t key_id, const uint8_t is[32],
		    const uint8_t rs[32])
{
	uint8_t pro[sizeof(prologue_v1)];

	memset(s, 0, sizeof(*s));
	memcpy(s->h, proto_name, 32);	/* exactly HASHLEN: used as is */
	memcpy(s->ck, s->h, 32);
	memcpy(pro, version == JZ_HS_V2 ? prologue_v2 : prologue_v1, sizeof(pro) - 1);
	pro[sizeof(pro) - 1] = key_id;
	return mix_hash(s, pro, sizeof(pro)) || mix_hash(s, is, 32) ||
	       mix_hash(s, rs, 32) ? -1 : 0;
}

static int dh(EVP_PKEY *priv, const uint8_t pub[32], uint8_t out[32])
{
	EVP_PKEY *p = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pub, 32);
	EVP_PKEY_CTX *c = p ? EVP_PKEY_CTX_new(priv, NULL) : NULL;
	size_t n = 32;
	/* OpenSSL refuses an all-zero result (a low-order point) here */
	int ok = c && EVP_PKEY_derive_init(c) == 1 && EVP_PKEY_derive_set_peer(c, p) == 1 &&
		 EVP_PKEY_derive(c, out, &n) == 1 && n == 32;

	EVP_PKEY_CTX_free(c);
	EVP_PKEY_free(p);
	ERR_clear_error();
	return ok ? 0 : -1;
}

static int mix_dh(struct sym *s, EVP_PKEY *priv, const uint8_t pub[32])
{
	uint8_t sh[32];
	int r = dh(priv, pub, sh) || mix_key(s, sh) ? -1 : 0;

	OPENSSL_cleanse(sh, sizeof(sh));
	return r;
}

/* Split, extended: HKDF(ck, empty) to 128 bytes, whose first 64 are the
 * spec's two cipher keys. Version 1 takes the data path's salts from it;
 * version 2 leaves them zero (each key is fresh, its counter never
 * repeats: the salt adds nothing, and zero lets jazz.ko use lib/crypto). */
static int split(struct sym *s, uint8_t version, uint8_t key_id, struct jz_pair_keys *k)
{
	uint8_t out[128];

	if (hkdf(s->ck, NULL, 0, out, sizeof(out)))
		return -1;
	memcpy(k->i2r_key, out, 32);
	memcpy(k->r2i_key, out + 32, 32);
	if (version == JZ_HS_V2) {
		memset(k->i2r_salt, 0, 4);
		memset(k->r2i_salt, 0, 4);
	} else {
		memcpy(k->i2r_salt, out + 64, 4);
		memcpy(k->r2i_salt, out + 68, 4);
	}
	k->version = version;
	memcpy(k->confirm, out + 96, 32);
	memcpy(k->hh, s->h, 32);
	k->key_id = key_id;
	OPENSSL_cleanse(out, sizeof(out));
	return 0;
}

/* ------------------------------------------------------------------ */
/* messages */

int jz_hs_parse(const uint8_t *buf, size_t len, struct jz_hs_msg *m, char *err, size_t errlen)
{
	static const size_t want[] = { 0, JZ_HS_INIT_LEN, JZ_HS_RESP_LEN, JZ_HS_CONFIRM_LEN,
				       JZ_HS_INIT_LEN };

	if (len < JZ_HS_HDR) {
		snprintf(err, errlen, "handshake message of %zu bytes: too short", len);
		return -1;
	}
	if (buf[0] < JZ_HS_INIT || buf[0] > JZ_HS_INIT_V2) {
		snprintf(err, errlen, "handshake message of unknown type %u", buf[0]);
		return -1;
	}
	if (len != want[buf[0]]) {
		snprintf(err, errlen, "handshake message type %u of %zu bytes, not %zu",
			 buf[0], len, want[buf[0]]);
		return -1;
	}
	m->type = buf[0];
	m->key_id = buf[1];
	m->body = buf + JZ_HS_HDR;
	m->len = len - JZ_HS_HDR;
	return 0;
}

void jz_hs_clear(struct jz_hs *hs)
{
	EVP_PKEY_free(hs->e);
	OPENSSL_cleanse(hs, sizeof(*hs));
}

static void save(struct jz_hs *hs, const struct sym *s)
{
	memcpy(hs->h, s->h, 32);
	memcpy(hs->ck, s->ck, 32);
}

uint8_t jz_hs_init_version(const struct jz_hs_msg *m)
{
	return m->type == JZ_HS_INIT ? JZ_HS_V1 : m->type == JZ_HS_INIT_V2 ? JZ_HS_V2 : 0;
}

int jz_hs_init_write(struct jz_hs *hs, EVP_PKEY *s, const uint8_t spub[32],
		     const uint8_t rs[32], uint8_t key_id, uint8_t version, uint64_t ts,
		     uint8_t *out)
{
	struct sym y;
	uint8_t p[8], *b = out + JZ_HS_HDR;
	int r = -1;

	memset(hs, 0, sizeof(*hs));
	if (version != JZ_HS_V1 && version != JZ_HS_V2)
		return -1;
	hs->key_id = key_id;
	hs->version = version;
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(ts >> (56 - 8 * i));
	out[0] = version == JZ_HS_V2 ? JZ_HS_INIT_V2 : JZ_HS_INIT;
	out[1] = key_id;
	hs->e = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	if (!hs->e || sym_init(&y, version, key_id, spub, rs) || pub_of(hs->e, b) ||
	    mix_hash(&y, b, 32) ||			/* -> e */
	    mix_dh(&y, hs->e, rs) ||			/* es */
	    mix_dh(&y, s, rs) ||			/* ss */
	    enc_hash(&y, p, sizeof(p), b + 32))	/* timestamp */
		goto out;
	save(hs, &y);
	r = 0;
out:
	OPENSSL_cleanse(&y, sizeof(y));
	if (r)
		jz_hs_clear(hs);
	return r;
}

int jz_hs_respond(EVP_PKEY *s, const uint8_t spub[32], const uint8_t rs[32],
		  const struct jz_hs_msg *m, uint64_t *ts, uint8_t *out,
		  struct jz_pair_keys *k)
{
	struct sym y;
	uint8_t p[8], *b = out + JZ_HS_HDR;
	EVP_PKEY *e = NULL;
	uint8_t version = jz_hs_init_version(m);
	int r = -1;

	if (!version || m->len != JZ_HS_INIT_LEN - JZ_HS_HDR)
		return -1;
	if (sym_init(&y, version, m->key_id, rs, spub) ||
	    mix_hash(&y, m->body, 32) ||		/* <- e */
	    mix_dh(&y, s, m->body) ||			/* es */
	    mix_dh(&y, s, rs) ||			/* ss */
	    dec_hash(&y, m->body + 32, 8 + 16, p))
		goto out;
	*ts = 0;
	for (int i = 0; i < 8; i++)
		*ts = *ts << 8 | p[i];
	out[0] = JZ_HS_RESP;
	out[1] = m->key_id;
	e = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	if (!e || pub_of(e, b) || mix_hash(&y, b, 32) ||	/* -> e */
	    mix_dh(&y, e, m->body) ||			/* ee */
	    mix_dh(&y, e, rs) ||			/* se */
	    enc_hash(&y, NULL, 0, b + 32) ||
	    split(&y, version, m->key_id, k))
		goto out;
	r = 0;
out:
	EVP_PKEY_free(e);
	OPENSSL_cleanse(&y, sizeof(y));
	return r;
}

int jz_hs_finish(struct jz_hs *hs, EVP_PKEY *s, const uint8_t rs[32],
		 const struct jz_hs_msg *m, struct jz_pair_keys *k)
{
	struct sym y = { 0 };
	uint8_t none[1];
	int r = -1;

	if (!hs->e || m->type != JZ_HS_RESP || m->key_id != hs->key_id ||
	    m->len != JZ_HS_RESP_LEN - JZ_HS_HDR)
		return -1;
	memcpy(y.h, hs->h, 32);
	memcpy(y.ck, hs->ck, 32);
	if (mix_hash(&y, m->body, 32) ||		/* <- e */
	    mix_dh(&y, hs->e, m->body) ||		/* ee */
	    mix_dh(&y, s, m->body) ||			/* se */
	    dec_hash(&y, m->body + 32, 16, none) ||
	    split(&y, hs->version, m->key_id, k))
		goto out;
	r = 0;
out:
	OPENSSL_cleanse(&y, sizeof(y));
	return r;
}

int jz_hs_confirm_write(const struct jz_pair_keys *k, uint8_t *out)
{
	out[0] = JZ_HS_CONFIRM;
	out[1] = k->key_id;
	return aead(true, k->confirm, 0, k->hh, 32, NULL, 0, out + JZ_HS_HDR,
		    out + JZ_HS_HDR);
}

int jz_hs_confirm_check(const struct jz_pair_keys *k, const struct jz_hs_msg *m)
{
	uint8_t tag[16], none[1];

	if (m->type != JZ_HS_CONFIRM || m->key_id != k->key_id || m->len != 16)
		return -1;
	memcpy(tag, m->body, 16);
	return aead(false, k->confirm, 0, k->hh, 32, NULL, 0, none, tag);
}
