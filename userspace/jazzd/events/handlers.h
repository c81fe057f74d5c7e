/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Handler runner: runs the steps of event handlers, eventsgw actions and
 * eventsgw commands as child processes on the daemon's event loop.
 *
 * A job is an ordered list of steps plus the event payload. Steps run one
 * after the other (payload on stdin, stdout/stderr relayed line by line to
 * the log, a non-zero exit aborts the rest, a step that cannot be executed
 * is logged and skipped, a step past the timeout is killed with its process
 * group). At most max_running jobs run at once; the others wait in a
 * bounded FIFO; a job that does not fit is dropped, counted and logged.
 *
 * Children are watched through pidfds, so jazzd must not reap with
 * waitpid(-1) nor set SIGCHLD to SIG_IGN.
 *
 * Internal to events/.
 */
#ifndef JAZZD_HANDLERS_H
#define JAZZD_HANDLERS_H

#include <stdbool.h>
#include <stddef.h>
#include <event2/event.h>

struct jz_runner_limits {
	unsigned max_running;
	size_t queue_max;
	size_t queue_bytes;
	int step_timeout_ms;
};

struct jz_runner_stats {
	unsigned long started, done, failed, dropped;
	unsigned running, max_running_seen;
	size_t queued;
};

/* The steps of one job: file paths, or one shell command (argv sh -c). */
struct jz_steps {
	char **names;	/* step name for the log (file name, or the pattern) */
	char **paths;	/* executable, or the shell command when shell */
	size_t n;
	bool shell;
};

struct jz_runner;

struct jz_runner *jz_runner_new(struct event_base *base,
				const struct jz_runner_limits *l);
void jz_runner_set_limits(struct jz_runner *r, const struct jz_runner_limits *l);
/* Kills the process groups of running steps, frees queued jobs. */
void jz_runner_free(struct jz_runner *r);
void jz_runner_get_stats(const struct jz_runner *r, struct jz_runner_stats *st);

/*
 * Collects every regular file of <dir>/<sub>/ over dirs (for the same file
 * name the later dir wins), sorted by name. Returns the number of steps
 * (0: nothing to run), -1 on allocation failure.
 */
int jz_steps_from_dirs(char *const *dirs, size_t ndirs, const char *sub,
		       struct jz_steps *out);
int jz_steps_shell(const char *label, const char *command, struct jz_steps *out);
void jz_steps_free(struct jz_steps *s);

/*
 * Queues a job (steps taken over, payload copied). kind and what name it in
 * the log ("event user-logged-in", "action renew", "command <pattern>");
 * name and source become AGENT_EVENT_NAME and AGENT_EVENT_SOURCE.
 * Returns 0 when started or queued, -1 when dropped.
 */
int jz_runner_submit(struct jz_runner *r, const char *kind, const char *what,
		     struct jz_steps *steps, const char *payload, size_t len,
		     const char *name, const char *source);

#endif
