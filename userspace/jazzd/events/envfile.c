// SPDX-License-Identifier: GPL-2.0
/*
 * NS8's module environment file and the merge of a step's environment
 * (envfile.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "envfile.h"
#include "log.h"

void jz_envfile_free(struct jz_envfile *ef)
{
	free(ef->buf);
	free(ef->lines);
	memset(ef, 0, sizeof(*ef));
}

/* Whole regular file into a NUL-terminated buffer; *len its size. */
static int slurp(const char *path, const char *what, char **out, size_t *len)
{
	struct stat st;
	size_t got = 0, cap;
	char *buf;
	int fd;

	*out = NULL;
	*len = 0;
	/* O_NONBLOCK: a FIFO put there must not hang the daemon in open() */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno != ENOENT)
			jz_warn("%s: cannot read %s: %s; steps run without it", what,
				path, strerror(errno));
		return 0;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		jz_warn("%s: %s is not a regular file; steps run without it", what, path);
		close(fd);
		return 0;
	}
	if ((size_t)st.st_size > JZ_ENVFILE_MAX) {
		jz_warn("%s: %s is %lld bytes, over the %u bytes limit; steps run without it",
			what, path, (long long)st.st_size, JZ_ENVFILE_MAX);
		close(fd);
		return 0;
	}
	/* one byte more than its size tells a file that grew meanwhile */
	cap = (size_t)st.st_size + 1;
	buf = malloc(cap + 1);
	if (!buf) {
		close(fd);
		return -1;
	}
	for (;;) {
		ssize_t n = got < cap ? read(fd, buf + got, cap - got) : 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			jz_warn("%s: reading %s: %s; steps run without it", what, path,
				strerror(errno));
			got = 0;
			break;
		}
		if (n == 0)
			break;
		got += n;
		if (got == cap) {
			jz_warn("%s: %s changed while being read; steps run without it",
				what, path);
			got = 0;
			break;
		}
	}
	close(fd);
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return 0;
}

int jz_envfile_read(const char *path, const char *what, struct jz_envfile *ef)
{
	size_t len, cap = 0, nul = 0, huge = 0, first_bad = 0, lineno = 0;
	char *p, *end;

	memset(ef, 0, sizeof(*ef));
	if (slurp(path, what, &ef->buf, &len))
		return -1;
	if (!ef->buf || !len)
		return 0;
	for (p = ef->buf, end = ef->buf + len; p < end; ) {
		char *nl = memchr(p, '\n', end - p);
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
		bool bad_nul, bad_len;

		lineno++;
		p[l] = '\0';	/* the '\n', or the terminator after the buffer */
		if (l == 0 || !memchr(p, '=', l))
			goto next;	/* NS8: blank or without '=' does not count */
		bad_nul = strlen(p) != l;
		bad_len = l > JZ_ENVLINE_MAX;
		if (bad_nul || bad_len) {
			nul += bad_nul;
			huge += bad_len && !bad_nul;
			if (!first_bad)
				first_bad = lineno;
			goto next;
		}
		if (ef->n == cap) {
			char **nv = realloc(ef->lines, (cap = cap ? 2 * cap : 16) * sizeof(*nv));

			if (!nv) {
				jz_envfile_free(ef);
				return -1;
			}
			ef->lines = nv;
		}
		ef->lines[ef->n++] = p;
next:
		p += l + 1;
	}
	if (nul || huge)
		jz_warn("%s: %s: %zu line(s) dropped (%zu with a NUL byte, %zu over %u bytes), the first at line %zu",
			what, path, nul + huge, nul, huge, JZ_ENVLINE_MAX, first_bad);
	return 0;
}

/* ---- merge ------------------------------------------------------------ */

struct env_ent {
	const char *s;
	size_t klen;		/* SIZE_MAX: no '=', never a duplicate */
	size_t idx;
};

/* Go's os/exec key: up to the first '=', a leading '=' belongs to the name. */
static size_t env_key_len(const char *s)
{
	const char *eq = strchr(*s == '=' ? s + 1 : s, '=');

	if (!eq)
		return *s == '=' ? 0 : SIZE_MAX;
	return eq - s;
}

static int ent_cmp(const void *a, const void *b)
{
	const struct env_ent *x = a, *y = b;
	size_t kx = x->klen == SIZE_MAX ? 0 : x->klen;
	size_t ky = y->klen == SIZE_MAX ? 0 : y->klen;
	int c = memcmp(x->s, y->s, kx < ky ? kx : ky);

	if (c)
		return c;
	if (kx != ky)
		return kx < ky ? -1 : 1;
	if ((x->klen == SIZE_MAX) != (y->klen == SIZE_MAX))
		return x->klen == SIZE_MAX ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

char **jz_env_merge(char *const *const *lists, const size_t *counts, size_t nlists)
{
	struct env_ent *e;
	size_t n = 0, k = 0;
	bool *drop;
	char **out;

	for (size_t l = 0; l < nlists; l++)
		n += counts[l];
	e = calloc(n ? n : 1, sizeof(*e));
	drop = calloc(n ? n : 1, sizeof(*drop));
	out = calloc(n + 1, sizeof(*out));
	if (!e || !drop || !out) {
		free(e);
		free(drop);
		free(out);
		return NULL;
	}
	for (size_t l = 0; l < nlists; l++)
		for (size_t i = 0; i < counts[l]; i++, k++) {
			e[k].s = lists[l][i];
			e[k].klen = env_key_len(e[k].s);
			e[k].idx = k;
		}
	qsort(e, n, sizeof(*e), ent_cmp);
	/* in a run of one name, all but the last given are dropped */
	for (size_t i = 0; i + 1 < n; i++)
		if (e[i].klen != SIZE_MAX && e[i].klen == e[i + 1].klen &&
		    !memcmp(e[i].s, e[i + 1].s, e[i].klen))
			drop[e[i].idx] = true;
	k = 0;
	for (size_t l = 0, idx = 0; l < nlists; l++)
		for (size_t i = 0; i < counts[l]; i++, idx++)
			if (!drop[idx] && *lists[l][i])
				out[k++] = lists[l][i];
	out[k] = NULL;
	free(e);
	free(drop);
	return out;
}
