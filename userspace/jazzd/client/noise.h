/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The device's identity key and the pair handshake (noise.c): Noise_KK
 * over X25519 / ChaCha20-Poly1305 / SHA-256, every primitive from OpenSSL
 * 3 (EVP_PKEY_derive, EVP AEAD, EVP_KDF HKDF). The wire format is in
 * docs/PROTOCOL.md "Pair handshake". Internal to client/: pairs.c drives
 * it; nothing here knows sessions, peers or the kernel.
 */
#ifndef JAZZD_NOISE_H
#define JAZZD_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

#define JZ_HS_INIT 1		/* message 1 of version 1 */
#define JZ_HS_RESP 2
#define JZ_HS_CONFIRM 3
#define JZ_HS_INIT_V2 4		/* message 1 of version 2 */
/* Handshake versions (docs/PROTOCOL.md "Versions"): they differ in the
 * prologue and in the data path's nonce salts, which version 2 leaves zero
 * so that the kernel runs ChaCha20-Poly1305 on lib/crypto. */
#define JZ_HS_V1 1
#define JZ_HS_V2 2
#define JZ_HS_HDR 2		/* type, key id */
#define JZ_HS_INIT_LEN (JZ_HS_HDR + 32 + 8 + 16)
#define JZ_HS_RESP_LEN (JZ_HS_HDR + 32 + 16)
#define JZ_HS_CONFIRM_LEN (JZ_HS_HDR + 16)
#define JZ_HS_MAX JZ_HS_INIT_LEN

/* One message as it came: checked for type and exact length only. */
struct jz_hs_msg {
	uint8_t type, key_id;
	const uint8_t *body;	/* after the header */
	size_t len;		/* of body */
};

/* A handshake in progress (symmetric state plus our ephemeral key).
 * Owned by one pair; jz_hs_clear wipes and frees it. */
struct jz_hs {
	uint8_t key_id;
	uint8_t version;	/* JZ_HS_V1 or JZ_HS_V2 */
	uint8_t h[32], ck[32];
	uint8_t re[32];		/* the peer's ephemeral (responder side) */
	EVP_PKEY *e;
};

/* What a finished handshake gives: kernel key material per direction and
 * the key that authenticates the confirm message. */
struct jz_pair_keys {
	uint8_t i2r_key[32], i2r_salt[4];
	uint8_t r2i_key[32], r2i_salt[4];
	uint8_t confirm[32];
	uint8_t hh[32];		/* the final handshake hash */
	uint8_t key_id;
	uint8_t version;	/* of the handshake that made them */
};

/* The identity key at path: loaded, or made (0600, O_EXCL) the first
 * time. A file readable by others, or not an X25519 key, is refused. */
EVP_PKEY *jz_devkey_load(const char *path, uint8_t pub[32], char *err, size_t errlen);
/* 32 bytes a peer may use as an X25519 public key (not all zero, and a
 * point OpenSSL accepts). */
bool jz_pubkey_ok(const uint8_t pub[32]);

int jz_hs_parse(const uint8_t *buf, size_t len, struct jz_hs_msg *m, char *err, size_t errlen);

/* The version a parsed message 1 is of (0: not a message 1). */
uint8_t jz_hs_init_version(const struct jz_hs_msg *m);

/* Initiator: writes message 1 (JZ_HS_INIT_LEN bytes) of @version carrying
 * ts. */
int jz_hs_init_write(struct jz_hs *hs, EVP_PKEY *s, const uint8_t spub[32],
		     const uint8_t rs[32], uint8_t key_id, uint8_t version, uint64_t ts,
		     uint8_t *out);
/* Responder: reads message 1 (either version) from the peer whose static
 * key is rs and writes message 2 (JZ_HS_RESP_LEN bytes) of the same
 * version; fills *k. *ts: the init's. */
int jz_hs_respond(EVP_PKEY *s, const uint8_t spub[32], const uint8_t rs[32],
		  const struct jz_hs_msg *m, uint64_t *ts, uint8_t *out,
		  struct jz_pair_keys *k);
/* Initiator: reads message 2 into *k; hs is spent either way. */
int jz_hs_finish(struct jz_hs *hs, EVP_PKEY *s, const uint8_t rs[32],
		 const struct jz_hs_msg *m, struct jz_pair_keys *k);
/* The confirm message (JZ_HS_CONFIRM_LEN bytes) and its check. */
int jz_hs_confirm_write(const struct jz_pair_keys *k, uint8_t *out);
int jz_hs_confirm_check(const struct jz_pair_keys *k, const struct jz_hs_msg *m);
void jz_hs_clear(struct jz_hs *hs);

#endif
