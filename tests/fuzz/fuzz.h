/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared bits of the libFuzzer harnesses (tests/fuzz/fuzz_*.c): each one is
 * linked with every jazzd source but main.c (tests/fuzz/Makefile), so it
 * defines main.c's one global, and it keeps jazzd's log quiet.
 */
#ifndef JAZZ_FUZZ_H
#define JAZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/jazzd.h"
#include "log.h"

struct jz_daemon *jz_d;

static inline void fuzz_quiet(void)
{
	jz_log_open("fuzz", JZ_LOG_STDERR, LOG_EMERG);
}

/* The input as a file (for parsers that take a path): a memfd, rewritten
 * for each input, named by /proc/self/fd/N. */
static inline const char *fuzz_as_file(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];

	if (fd < 0) {
		fd = memfd_create("fuzz", 0);
		if (fd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	return path;
}

#endif
