// SPDX-License-Identifier: GPL-2.0
/*
 * tlsbench: the server's CPU cost of one TLS 1.3 handshake as jazzd does
 * it (the SSL_CTX from core/proto.c's jz_tls_server_ctx, the exporter value
 * for the channel binding), client and server in one thread over an
 * in-memory BIO pair: no sockets, no event loop, no daemon. Only the time
 * the server side spends is counted (the thread's CPU clock around each
 * server call). This is the floor that every login pays besides the
 * Kerberos check; scripts/bench-control.sh reports it in the same run.
 *
 *   tlsbench CERT KEY N   prints "tls n=N client_cpu_seconds=C
 *                         server_cpu_seconds=S cpu_rate=R" (R: server side)
 *   tlsbench crypto N     the public-key operations inside the server's
 *                         side of such a handshake, each alone through the
 *                         same EVP calls OpenSSL 3.0 makes (fetches
 *                         included), N times: "crypto x25519_keygen_us=..
 *                         x25519_derive_us=.. p256_keygen_us=..
 *                         p256_derive_us=.. ecdsa_p256_sign_us=..
 *                         ed25519_sign_us=.." (microseconds of CPU per op)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "core/jazzd.h"
#include "core/proto.h"

static double tcpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static EVP_PKEY *keygen(int p256)
{
	return p256 ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")
		    : EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
}

/* microseconds of CPU per keygen of the group */
static double us_keygen(int p256, long n)
{
	double t0 = tcpu();

	for (long i = 0; i < n; i++)
		EVP_PKEY_free(keygen(p256));
	return (tcpu() - t0) / n * 1e6;
}

/* ... per derive (our key, the peer's public key) */
static double us_derive(int p256, long n)
{
	EVP_PKEY *k = keygen(p256), *peer = keygen(p256);
	unsigned char sec[64];
	size_t len;
	double t0 = tcpu();

	for (long i = 0; i < n; i++) {
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k, NULL);

		len = sizeof(sec);
		if (EVP_PKEY_derive_init(c) != 1 || EVP_PKEY_derive_set_peer(c, peer) != 1 ||
		    EVP_PKEY_derive(c, sec, &len) != 1)
			return -1;
		EVP_PKEY_CTX_free(c);
	}
	t0 = tcpu() - t0;
	EVP_PKEY_free(k);
	EVP_PKEY_free(peer);
	return t0 / n * 1e6;
}

/* ... per signature of a 32-byte message (ECDSA with SHA-256, or Ed25519) */
static double us_sign(int ed, long n)
{
	EVP_PKEY *k = ed ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")
			 : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	unsigned char sig[128], msg[32] = { 0 };
	size_t len;
	double t0 = tcpu();

	for (long i = 0; i < n; i++) {
		EVP_MD_CTX *m = EVP_MD_CTX_new();

		len = sizeof(sig);
		if (EVP_DigestSignInit(m, NULL, ed ? NULL : EVP_sha256(), NULL, k) != 1 ||
		    EVP_DigestSign(m, sig, &len, msg, sizeof(msg)) != 1)
			return -1;
		EVP_MD_CTX_free(m);
	}
	t0 = tcpu() - t0;
	EVP_PKEY_free(k);
	return t0 / n * 1e6;
}

static int crypto(long n)
{
	printf("crypto x25519_keygen_us=%.1f x25519_derive_us=%.1f p256_keygen_us=%.1f "
	       "p256_derive_us=%.1f ecdsa_p256_sign_us=%.1f ed25519_sign_us=%.1f\n",
	       us_keygen(0, n), us_derive(0, n), us_keygen(1, n), us_derive(1, n),
	       us_sign(0, n), us_sign(1, n));
	return 0;
}

int main(int argc, char **argv)
{
	char err[256];
	SSL_CTX *sctx, *cctx;
	unsigned char bind[JZ_BINDING_LEN];
	double srv = 0, cli = 0;
	long n;

	if (argc == 3 && !strcmp(argv[1], "crypto"))
		return crypto(atol(argv[2]) > 0 ? atol(argv[2]) : 1);
	if (argc != 4) {
		fprintf(stderr, "usage: tlsbench CERT KEY N | tlsbench crypto N\n");
		return 2;
	}
	n = atol(argv[3]);
	sctx = jz_tls_server_ctx(argv[1], argv[2], err, sizeof(err));
	cctx = jz_tls_client_ctx(argv[1], NULL, err, sizeof(err));
	if (!sctx || !cctx) {
		fprintf(stderr, "tlsbench: %s\n", err);
		return 1;
	}
	for (long i = 0; i < n; i++) {
		SSL *s = SSL_new(sctx), *c = SSL_new(cctx);
		BIO *bs, *bc;
		int done = 0, rounds = 0;
		double t0;

		BIO_new_bio_pair(&bs, 0, &bc, 0);
		SSL_set_bio(s, bs, bs);
		SSL_set_bio(c, bc, bc);
		SSL_set_accept_state(s);
		SSL_set_connect_state(c);
		SSL_set_tlsext_host_name(c, "server.jazz.test");
		while (done != 3 && rounds++ < 20) {
			t0 = tcpu();
			if (SSL_do_handshake(c) == 1)
				done |= 1;
			cli += tcpu() - t0;
			t0 = tcpu();
			if (SSL_do_handshake(s) == 1)
				done |= 2;
			srv += tcpu() - t0;
		}
		t0 = tcpu();
		if (done != 3 || jz_tls_binding(s, bind)) {
			fprintf(stderr, "tlsbench: handshake %ld failed\n", i);
			return 1;
		}
		srv += tcpu() - t0;
		t0 = tcpu();
		SSL_free(s);
		srv += tcpu() - t0;
		SSL_free(c);
	}
	printf("tls n=%ld client_cpu_seconds=%.3f server_cpu_seconds=%.3f cpu_rate=%.1f\n",
	       n, cli, srv, srv > 0 ? n / srv : 0.0);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	return 0;
}
