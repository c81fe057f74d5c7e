// SPDX-License-Identifier: GPL-2.0
/*
 * tlsbench: the server's CPU cost of one TLS 1.3 handshake as jazzd does
 * it (the SSL_CTX from proto.c's jz_tls_server_ctx, the exporter value
 * for the channel binding), client and server in one thread over an
 * in-memory BIO pair: no sockets, no event loop, no daemon. Only the time
 * the server side spends is counted (the thread's CPU clock around each
 * server call). This is the floor that every login pays besides the
 * Kerberos check; scripts/bench-control.sh reports it in the same run.
 *
 *   tlsbench CERT KEY N   prints "tls n=N client_cpu_seconds=C
 *                         server_cpu_seconds=S cpu_rate=R" (R: server side)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <openssl/ssl.h>

#include "jazzd.h"
#include "proto.h"

static double tcpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	char err[256];
	SSL_CTX *sctx, *cctx;
	unsigned char bind[JZ_BINDING_LEN];
	double srv = 0, cli = 0;
	long n;

	if (argc != 4) {
		fprintf(stderr, "usage: tlsbench CERT KEY N\n");
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
