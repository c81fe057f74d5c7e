/* SPDX-License-Identifier: GPL-2.0 */
/*
 * eventsgw [actions] handed to a NethServer 8 agent: instead of running an
 * action's steps itself, jazzd pushes a task on the agent's queue, as NS8's
 * own task submitters do (agent/tasks/redisclient.py, api-server): LPUSH
 * <agent_id>/tasks <json>, which the agent takes with BRPOP and runs from
 * its actions dirs (core/agent/htask.go). The task:
 *
 *   {"id":"<uuid4>","action":"<action>","data":<event payload decoded>,
 *    "extra":{"title":"<agent_id>/<action>","description":"<channel>",
 *             "isNotificationHidden":true},
 *    "parent":"","queue":"<agent_id>/tasks","timestamp":"<RFC 3339 UTC>"}
 *
 * A payload that is not JSON becomes a JSON string (the agent's "data" is
 * JSON); one that is not UTF-8 either cannot be carried and is refused.
 */
#ifndef JAZZD_NS8TASK_H
#define JAZZD_NS8TASK_H

#include <stddef.h>

#define JZ_TASK_ID_LEN 36

/* Internal to events/: hidden from dlopen()ed plugins. */
#pragma GCC visibility push(hidden)
/*
 * Builds the task. *json (malloc'ed, compact) and id (JZ_TASK_ID_LEN + 1)
 * are set on success (0). On -1 why says the reason.
 */
int jz_ns8_task(const char *agent_id, const char *action, const char *channel,
		const char *payload, size_t len, char **json, char *id,
		const char **why);
#pragma GCC visibility pop

#endif
