// SPDX-License-Identifier: GPL-2.0
/*
 * hstool: plays the other device of a pair handshake for tests, with the
 * jazzd client's own handshake code (client/noise.c):
 *
 *   hstool pub KEYFILE                        the identity key's public
 *                                             half (base64); makes the
 *                                             key (0600) if missing
 *   hstool init KEYFILE PEERPUB KEYID TS      message 1 from KEYFILE's
 *                                             device to PEERPUB (base64)
 *                                             with timestamp TS (base64)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "client/noise.h"

static void put_b64(const unsigned char *b, size_t n)
{
	char out[256];

	EVP_EncodeBlock((unsigned char *)out, b, (int)n);
	puts(out);
}

int main(int argc, char **argv)
{
	unsigned char pub[32], rs[48], msg[JZ_HS_INIT_LEN];
	struct jz_hs hs;
	char err[256];
	EVP_PKEY *k;

	if (argc < 3)
		return 2;
	k = jz_devkey_load(argv[2], pub, err, sizeof(err));
	if (!k) {
		fprintf(stderr, "hstool: %s\n", err);
		return 1;
	}
	if (!strcmp(argv[1], "pub")) {
		put_b64(pub, 32);
		return 0;
	}
	if (!strcmp(argv[1], "init") && argc == 6) {
		if (strlen(argv[3]) != 44 ||
		    EVP_DecodeBlock(rs, (const unsigned char *)argv[3], 44) != 33) {
			fprintf(stderr, "hstool: PEERPUB is not 32 bytes of base64\n");
			return 1;
		}
		if (jz_hs_init_write(&hs, k, pub, rs, (uint8_t)atoi(argv[4]),
				     strtoull(argv[5], NULL, 10), msg)) {
			fprintf(stderr, "hstool: handshake failed\n");
			return 1;
		}
		jz_hs_clear(&hs);
		put_b64(msg, sizeof(msg));
		return 0;
	}
	return 2;
}
