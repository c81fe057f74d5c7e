/* SPDX-License-Identifier: GPL-2.0 */
/*
 * eventsgw.conf, NethServer 8 style: an INI file whose [actions] section maps
 * a channel or glob pattern to an action name (steps in <actions dir>/<name>/)
 * and whose [commands] section maps a pattern to a shell command. Both get
 * the event payload on stdin. Keys keep their case; patterns are matched
 * like Redis PSUBSCRIBE globs (fnmatch without FNM_PATHNAME: '*' spans '/').
 *
 * Internal to events/.
 */
#ifndef JAZZD_EVENTSGW_H
#define JAZZD_EVENTSGW_H

#include <stddef.h>

enum jz_gw_kind { JZ_GW_ACTION, JZ_GW_COMMAND };

struct jz_gw_entry {
	enum jz_gw_kind kind;
	char *pattern;
	char *value;		/* action name or shell command */
};

struct jz_eventsgw {
	struct jz_gw_entry *e;
	size_t n;
};

/*
 * Loads path into gw (empty when path is NULL or the file does not exist,
 * like NS8 where eventsgw runs only if the file exists). Returns 0, or -1
 * with err and gw left empty.
 */
int jz_eventsgw_load(const char *path, struct jz_eventsgw *gw, char *err, size_t errlen);
void jz_eventsgw_free(struct jz_eventsgw *gw);
/* Index of the next entry at or after from matching channel, or -1. */
int jz_eventsgw_match(const struct jz_eventsgw *gw, size_t from, const char *channel);

#endif
