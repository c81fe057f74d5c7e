// SPDX-License-Identifier: GPL-2.0
/*
 * hstool: plays the other device of a pair handshake for tests, with the
 * jazzd client's own handshake code (client/noise.c):
 *
 *   hstool pub KEYFILE                        the identity key's public
 *                                             half (base64); makes the
 *                                             key (0600) if missing
 *   hstool init KEYFILE PEERPUB KEYID TS [V]  message 1 from KEYFILE's
 *                                             device to PEERPUB (base64)
 *                                             with timestamp TS (decimal),
 *                                             handshake version V (1 or 2,
 *                                             default 2)
 *   hstool respond KEYFILE PEERPUB MSG1       as the responder: message 2
 *                                             (base64), then the timestamp
 *                                             and the split (hex: i2r key,
 *                                             r2i key, i2r salt, r2i salt,
 *                                             confirm key), one a line
 *   hstool bench KEYFILE PEERKEYFILE N        N complete handshakes
 *                                             between the two keys, both
 *                                             ends in this process: prints
 *                                             "handshakes N cpu_s S per_s R"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>

#include "client/noise.h"

static void put_b64(const unsigned char *b, size_t n)
{
	char out[256];

	EVP_EncodeBlock((unsigned char *)out, b, (int)n);
	puts(out);
}

static void put_hex(const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", b[i]);
	putchar('\n');
}

static int b64_32(const char *s, unsigned char out[48])
{
	return strlen(s) == 44 && EVP_DecodeBlock(out, (const unsigned char *)s, 44) == 33 ?
	       0 : -1;
}

static int respond(EVP_PKEY *k, const unsigned char pub[32], const char *peer,
		   const char *m1)
{
	unsigned char rs[48], raw[128], out[JZ_HS_RESP_LEN];
	struct jz_pair_keys pk;
	struct jz_hs_msg m;
	uint64_t ts;
	char err[160];
	int n = (int)strlen(m1);

	if (b64_32(peer, rs) || n > 160 || n % 4)
		return 1;
	/* EVP_DecodeBlock counts the padding's zero bytes: take them off */
	n = EVP_DecodeBlock(raw, (const unsigned char *)m1, n);
	for (const char *e = m1 + strlen(m1); n > 0 && e > m1 && e[-1] == '='; e--)
		n--;
	if (n < 0 || jz_hs_parse(raw, (size_t)n, &m, err, sizeof(err))) {
		fprintf(stderr, "hstool: %s\n", n < 0 ? "not base64" : err);
		return 1;
	}
	if (jz_hs_respond(k, pub, rs, &m, &ts, out, &pk)) {
		fprintf(stderr, "hstool: message 1 does not authenticate\n");
		return 1;
	}
	put_b64(out, sizeof(out));
	printf("%llu\n", (unsigned long long)ts);
	put_hex(pk.i2r_key, 32);
	put_hex(pk.r2i_key, 32);
	put_hex(pk.i2r_salt, 4);
	put_hex(pk.r2i_salt, 4);
	put_hex(pk.confirm, 32);
	return 0;
}

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* n handshakes: message 1, 2 and the confirm, each parsed as received. */
static int bench(EVP_PKEY *ik, const unsigned char ipub[32], const char *rfile, long n)
{
	unsigned char rpub[32], m1[JZ_HS_INIT_LEN], m2[JZ_HS_RESP_LEN], m3[JZ_HS_CONFIRM_LEN];
	struct jz_pair_keys rk, ik2;
	struct jz_hs_msg m;
	struct jz_hs hs;
	char err[256];
	uint64_t ts;
	EVP_PKEY *rk_key = jz_devkey_load(rfile, rpub, err, sizeof(err));
	double t0;

	if (!rk_key) {
		fprintf(stderr, "hstool: %s\n", err);
		return 1;
	}
	t0 = cpu_s();
	for (long i = 0; i < n; i++) {
		if (jz_hs_init_write(&hs, ik, ipub, rpub, (uint8_t)i, JZ_HS_V2, (uint64_t)i + 1,
				     m1) ||
		    jz_hs_parse(m1, sizeof(m1), &m, err, sizeof(err)) ||
		    jz_hs_respond(rk_key, rpub, ipub, &m, &ts, m2, &rk) ||
		    jz_hs_parse(m2, sizeof(m2), &m, err, sizeof(err)) ||
		    jz_hs_finish(&hs, ik, rpub, &m, &ik2) ||
		    jz_hs_confirm_write(&ik2, m3) ||
		    jz_hs_parse(m3, sizeof(m3), &m, err, sizeof(err)) ||
		    jz_hs_confirm_check(&rk, &m) ||
		    memcmp(ik2.i2r_key, rk.i2r_key, 32)) {
			fprintf(stderr, "hstool: handshake %ld failed\n", i);
			return 1;
		}
	}
	t0 = cpu_s() - t0;
	printf("handshakes %ld cpu_s %.3f per_s %.0f\n", n, t0, n / t0);
	return 0;
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
	if (!strcmp(argv[1], "bench") && argc == 5)
		return bench(k, pub, argv[3], atol(argv[4]));
	if (!strcmp(argv[1], "respond") && argc == 5)
		return respond(k, pub, argv[3], argv[4]);
	if (!strcmp(argv[1], "init") && (argc == 6 || argc == 7)) {
		if (b64_32(argv[3], rs)) {
			fprintf(stderr, "hstool: PEERPUB is not 32 bytes of base64\n");
			return 1;
		}
		if (jz_hs_init_write(&hs, k, pub, rs, (uint8_t)atoi(argv[4]),
				     argc == 7 ? (uint8_t)atoi(argv[6]) : JZ_HS_V2,
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
