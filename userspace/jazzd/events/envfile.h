/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The NethServer 8 module environment: the file "environment" in the
 * module's state directory, KEY=VALUE lines that NS8's agent adds to every
 * handler step's environment. NS8's rules (core/agent/envstate.go): the
 * file is split at '\n' only; an empty line or a line without '=' does not
 * count; every other line is taken byte for byte (no comments, no quotes,
 * no trimming, a '\r' stays in the value). Then the step environment is the
 * agent's own, the file's lines and the AGENT_* variables, and for a name
 * given twice the last one wins (Go's os/exec).
 *
 * jazz adds bounds NS8 lacks: a file over JZ_ENVFILE_MAX or not a regular
 * file (a FIFO would block) is ignored; a line with a NUL byte or over
 * JZ_ENVLINE_MAX (the kernel's limit for one string, MAX_ARG_STRLEN) is
 * dropped. Both are logged, once per read.
 */
#ifndef JAZZD_ENVFILE_H
#define JAZZD_ENVFILE_H

#include <stddef.h>

#define JZ_ENVFILE_MAX (1u << 20)
#define JZ_ENVLINE_MAX (128u * 1024 - 1)

struct jz_envfile {
	char *buf;		/* the file, lines NUL-terminated in place */
	char **lines;		/* the lines that count, pointing into buf */
	size_t n;
};

/* Internal to events/: hidden from dlopen()ed plugins. */
#pragma GCC visibility push(hidden)
/*
 * Reads path (a missing file is not an error: n = 0). what names the
 * reader in log lines. Returns 0, or -1 when out of memory.
 */
int jz_envfile_read(const char *path, const char *what, struct jz_envfile *ef);
void jz_envfile_free(struct jz_envfile *ef);

/*
 * The environment of a step: the entries of the lists in order, and for a
 * name set twice only the last one, at its position (as Go's os/exec).
 * Returns a NULL-terminated array pointing at the given strings (free only
 * the array), or NULL when out of memory.
 */
char **jz_env_merge(char *const *const *lists, const size_t *counts, size_t nlists);
#pragma GCC visibility pop

#endif
