// SPDX-License-Identifier: GPL-2.0
/*
 * steps.c - which steps a handler or action has (handlers.h): the entries
 * of <dir>/<name>/ over several dirs, as NS8's agent collects them.
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "handlers.h"

void jz_steps_free(struct jz_steps *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->names[i]);
		free(s->paths[i]);
	}
	free(s->names);
	free(s->paths);
	memset(s, 0, sizeof(*s));
}

static int steps_put(struct jz_steps *s, const char *name, const char *path)
{
	char **nn, **pp;

	for (size_t i = 0; i < s->n; i++) {
		if (!strcmp(s->names[i], name)) {	/* later dir wins */
			char *p = strdup(path);

			if (!p)
				return -1;
			free(s->paths[i]);
			s->paths[i] = p;
			return 0;
		}
	}
	nn = realloc(s->names, (s->n + 1) * sizeof(*nn));
	if (!nn)
		return -1;
	s->names = nn;
	pp = realloc(s->paths, (s->n + 1) * sizeof(*pp));
	if (!pp)
		return -1;
	s->paths = pp;
	s->names[s->n] = strdup(name);
	s->paths[s->n] = strdup(path);
	if (!s->names[s->n] || !s->paths[s->n]) {
		free(s->names[s->n]);
		free(s->paths[s->n]);
		return -1;
	}
	s->n++;
	return 0;
}

/*
 * NS8 takes every entry that is not a directory (Go's DirEntry.IsDir(): a
 * symlink counts as what it is, a link, even when it points at a dir).
 */
static bool is_step(struct dirent *de, const char *path)
{
	struct stat sb;

	if (de->d_type != DT_UNKNOWN)
		return de->d_type != DT_DIR;
	return lstat(path, &sb) || !S_ISDIR(sb.st_mode);
}

static void steps_sort(struct jz_steps *s)
{
	/* insertion sort: a handler has a handful of steps */
	for (size_t i = 1; i < s->n; i++) {
		for (size_t j = i; j > 0 && strcmp(s->names[j - 1], s->names[j]) > 0; j--) {
			char *t = s->names[j];

			s->names[j] = s->names[j - 1];
			s->names[j - 1] = t;
			t = s->paths[j];
			s->paths[j] = s->paths[j - 1];
			s->paths[j - 1] = t;
		}
	}
}

int jz_steps_from_dirs(char *const *dirs, size_t ndirs, const char *sub,
		       struct jz_steps *out)
{
	char dpath[4096], fpath[4096];

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < ndirs; i++) {
		struct dirent *de;
		DIR *d;

		if (snprintf(dpath, sizeof(dpath), "%s/%s", dirs[i], sub) >= (int)sizeof(dpath))
			continue;
		d = opendir(dpath);
		if (!d)
			continue;
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if (snprintf(fpath, sizeof(fpath), "%s/%s", dpath, de->d_name) >=
			    (int)sizeof(fpath))
				continue;
			if (!is_step(de, fpath))
				continue;
			if (steps_put(out, de->d_name, fpath)) {
				closedir(d);
				jz_steps_free(out);
				return -1;
			}
		}
		closedir(d);
	}
	steps_sort(out);
	return (int)out->n;
}

int jz_steps_shell(const char *label, const char *command, struct jz_steps *out)
{
	memset(out, 0, sizeof(*out));
	if (steps_put(out, label, command))
		return -1;
	out->shell = true;
	return 1;
}
