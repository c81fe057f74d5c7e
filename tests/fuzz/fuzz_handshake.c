// SPDX-License-Identifier: GPL-2.0
/* The pair handshake's message parser and readers (client/noise.c): the
 * input is one relayed message as a device gets it. It is parsed, then
 * read as the responder would read a message 1, as an initiator with a
 * handshake in progress would read a message 2, and as a confirm. Fixed
 * identity keys, so that a corpus entry made with them (the seeds are
 * real messages) goes past the parser into the AEAD checks. */
#include <openssl/evp.h>

#include "client/noise.h"
#include "fuzz.h"

static EVP_PKEY *key(uint8_t seed, uint8_t pub[32])
{
	uint8_t priv[32];
	size_t n = 32;
	EVP_PKEY *k;

	memset(priv, seed, sizeof(priv));
	k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, 32);
	if (!k || EVP_PKEY_get_raw_public_key(k, pub, &n) != 1)
		abort();
	return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static EVP_PKEY *ki, *kr;
	static uint8_t pi[32], pr[32];
	uint8_t out[JZ_HS_MAX], m1[JZ_HS_INIT_LEN];
	struct jz_pair_keys k = { 0 };
	struct jz_hs_msg m;
	struct jz_hs hs;
	char err[160];
	uint64_t ts;

	if (!ki) {
		fuzz_quiet();
		ki = key(1, pi);
		kr = key(2, pr);
	}
	if (jz_hs_parse(data, size, &m, err, sizeof(err)))
		return 0;
	switch (m.type) {
	case JZ_HS_INIT:
	case JZ_HS_INIT_V2:
		jz_hs_respond(kr, pr, pi, &m, &ts, out, &k);
		break;
	case JZ_HS_RESP:
		/* the answer is read as one to either version */
		if (jz_hs_init_write(&hs, ki, pi, pr, m.key_id,
				     m.key_id & 1 ? JZ_HS_V1 : JZ_HS_V2, 1, m1))
			abort();
		jz_hs_finish(&hs, ki, pr, &m, &k);
		jz_hs_clear(&hs);
		break;
	default:
		jz_hs_confirm_check(&k, &m);
	}
	return 0;
}
