// SPDX-License-Identifier: GPL-2.0
/*
 * OpenSSL's record buffers, kept for the next SSL_write/SSL_read of any
 * session. Sessions run with SSL_MODE_RELEASE_BUFFERS (core/proto.c): an
 * idle session holds no 17 KB read and write buffers (10,000 sessions
 * would hold 340 MB), so OpenSSL allocates a buffer for every record
 * written to an idle session and frees it once written. A join at 10,000
 * devices writes one record to every viewer: glibc's malloc and free of
 * 17 KB chunks (and the consolidation their free sets off) were ~20 % of
 * the join's server CPU (docs/BENCHMARKS.md, sessions 14 and 15).
 *
 * The allocator OpenSSL uses (CRYPTO_set_mem_functions, before its first
 * allocation) keeps up to SPARES freed blocks of record-buffer size per
 * thread and hands them out again for a request they fit closely: a
 * per-thread stack, no lock, nothing kept for other sizes. At most
 * SPARES x SPARE_MAX bytes a thread; blocks freed on another thread than
 * the one that made them are simply that thread's spares.
 */
#include <malloc.h>
#include <stdlib.h>
#include <openssl/crypto.h>

#include "core/proto.h"

#define SPARE_MIN 16384			/* a record's 16 KiB and its overhead ... */
#define SPARE_MAX (48 * 1024)		/* ... up to a read buffer with its slack */
#define SPARE_SLACK 2048		/* a spare serves requests at most this smaller */
#define SPARES 4

static __thread struct {
	void *blk[SPARES];
	size_t len[SPARES];		/* malloc_usable_size of each */
	unsigned int n;
} spares;

static void *spare_malloc(size_t num, const char *file, int line)
{
	(void)file;
	(void)line;
	if (num >= SPARE_MIN && num <= SPARE_MAX) {
		for (unsigned int i = spares.n; i-- > 0;) {
			void *p = spares.blk[i];

			if (spares.len[i] < num || spares.len[i] > num + SPARE_SLACK)
				continue;
			spares.n--;
			spares.blk[i] = spares.blk[spares.n];
			spares.len[i] = spares.len[spares.n];
			return p;
		}
	}
	return malloc(num);
}

static void spare_free(void *p, const char *file, int line)
{
	size_t len;

	(void)file;
	(void)line;
	if (!p)
		return;
	len = malloc_usable_size(p);
	if (len >= SPARE_MIN && len <= SPARE_MAX + SPARE_SLACK && spares.n < SPARES) {
		spares.blk[spares.n] = p;
		spares.len[spares.n++] = len;
		return;
	}
	free(p);
}

static void *spare_realloc(void *p, size_t num, const char *file, int line)
{
	(void)file;
	(void)line;
	return realloc(p, num);
}

bool jz_tls_spare_buffers(void)
{
	return CRYPTO_set_mem_functions(spare_malloc, spare_realloc, spare_free) == 1;
}
