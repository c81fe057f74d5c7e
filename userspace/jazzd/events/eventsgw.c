// SPDX-License-Identifier: GPL-2.0
/*
 * eventsgw.conf parsing with inih (see eventsgw.h). inih keeps keys as
 * written; section names are compared without case. Its limits apply and
 * are documented in docs/EVENTS.md: lines up to 199 characters, and " ;"
 * starts an inline comment (so a command cannot contain " ;").
 *
 * Must not run actions (handlers.c does).
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "eventsgw.h"
#include "log.h"

struct gw_parse {
	struct jz_eventsgw *gw;
	const char *path;
	char *err;
	size_t errlen;
	int failed;
};

static int gw_add(struct jz_eventsgw *gw, enum jz_gw_kind kind,
		  const char *pattern, const char *value)
{
	struct jz_gw_entry *e = realloc(gw->e, (gw->n + 1) * sizeof(*e));

	if (!e)
		return -1;
	gw->e = e;
	e = &gw->e[gw->n];
	e->kind = kind;
	e->pattern = strdup(pattern);
	e->value = strdup(value);
	if (!e->pattern || !e->value) {
		free(e->pattern);
		free(e->value);
		return -1;
	}
	gw->n++;
	return 0;
}

static int gw_handler(void *user, const char *section, const char *name,
		      const char *value)
{
	struct gw_parse *p = user;
	enum jz_gw_kind kind;

	if (!strcasecmp(section, "actions")) {
		kind = JZ_GW_ACTION;
		/* the action name is a directory under the actions dir */
		if (!*value || strchr(value, '/') || !strcmp(value, ".") ||
		    !strcmp(value, "..")) {
			snprintf(p->err, p->errlen, "%s: [actions] %s: bad action name '%s'",
				 p->path, name, value);
			p->failed = 1;
			return 0;
		}
	} else if (!strcasecmp(section, "commands")) {
		kind = JZ_GW_COMMAND;
		if (!*value) {
			snprintf(p->err, p->errlen, "%s: [commands] %s: empty command",
				 p->path, name);
			p->failed = 1;
			return 0;
		}
	} else {
		jz_warn("%s: section [%s] ignored (only [actions] and [commands])",
			p->path, section);
		return 1;
	}
	if (gw_add(p->gw, kind, name, value)) {
		snprintf(p->err, p->errlen, "%s: out of memory", p->path);
		p->failed = 1;
		return 0;
	}
	return 1;
}

int jz_eventsgw_load(const char *path, struct jz_eventsgw *gw, char *err, size_t errlen)
{
	struct gw_parse p = { gw, path, err, errlen, 0 };
	FILE *f;
	int rc;

	memset(gw, 0, sizeof(*gw));
	if (!path || !*path)
		return 0;
	f = fopen(path, "r");
	if (!f) {
		if (errno == ENOENT) {
			jz_info("%s does not exist: no eventsgw actions or commands", path);
			return 0;
		}
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = ini_parse_file(f, gw_handler, &p);
	fclose(f);
	if (rc && !p.failed)
		snprintf(err, errlen, "%s:%d: syntax error (or a line over 199 characters)",
			 path, rc);
	if (rc || p.failed) {
		jz_eventsgw_free(gw);
		return -1;
	}
	return 0;
}

void jz_eventsgw_free(struct jz_eventsgw *gw)
{
	for (size_t i = 0; i < gw->n; i++) {
		free(gw->e[i].pattern);
		free(gw->e[i].value);
	}
	free(gw->e);
	memset(gw, 0, sizeof(*gw));
}

int jz_eventsgw_match(const struct jz_eventsgw *gw, size_t from, const char *channel)
{
	for (size_t i = from; i < gw->n; i++)
		if (!fnmatch(gw->e[i].pattern, channel, 0))
			return (int)i;
	return -1;
}
