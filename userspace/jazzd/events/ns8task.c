// SPDX-License-Identifier: GPL-2.0
/*
 * NS8 agent tasks from eventsgw actions (ns8task.h). The id is a random
 * (version 4) UUID from libuuid, as NS8's submitters use uuid4().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <jansson.h>
#include <uuid/uuid.h>

#include "ns8task.h"

/* The event payload as the task's "data". */
static json_t *task_data(const char *payload, size_t len, const char **why)
{
	json_t *j = json_loadb(payload, len, JSON_DECODE_ANY, NULL);

	if (j)
		return j;
	/* as is, as a string; jansson checks UTF-8 and refuses a NUL */
	j = json_stringn(payload, len);
	if (!j)
		*why = "payload is neither JSON nor UTF-8 text";
	return j;
}

static void timestamp(char *buf, size_t size)
{
	struct timeval tv;
	struct tm tm;

	size_t n;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	/* RFC 3339, what Go's time.Time takes from JSON */
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, size - n, ".%06uZ", (unsigned)tv.tv_usec % 1000000u);
}

int jz_ns8_task(const char *agent_id, const char *action, const char *channel,
		const char *payload, size_t len, char **json, char *id,
		const char **why)
{
	char ts[64], *title = NULL, *queue = NULL;
	json_t *data, *task = NULL;
	uuid_t u;

	*json = NULL;
	*why = "out of memory";
	data = task_data(payload, len, why);
	if (!data)
		return -1;
	uuid_generate_random(u);
	uuid_unparse_lower(u, id);
	timestamp(ts, sizeof(ts));
	if (asprintf(&title, "%s/%s", agent_id, action) < 0)
		title = NULL;
	if (asprintf(&queue, "%s/tasks", agent_id) < 0)
		queue = NULL;
	if (title && queue)
		task = json_pack("{ss ss so s{ss ss sb} ss ss ss}",
				 "id", id, "action", action, "data", data,
				 "extra", "title", title, "description", channel,
				 "isNotificationHidden", 1,
				 "parent", "", "queue", queue, "timestamp", ts);
	else
		json_decref(data);
	/* json_pack's "o" took data, also on failure (jansson >= 2.11) */
	if (!task && title && queue)
		*why = "the channel or the action name is not UTF-8 text";
	if (task)
		*json = json_dumps(task, JSON_COMPACT);
	json_decref(task);
	free(title);
	free(queue);
	return *json ? 0 : -1;
}
