/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Handler runner: runs the steps of event handlers, eventsgw actions and
 * eventsgw commands as child processes on the daemon's event loop.
 *
 * A job is an ordered list of steps plus the event payload, run the way
 * NethServer 8's agent runs an event handler (core/agent/hevent.go): steps
 * one after the other in the state directory, payload on stdin, the
 * environment of jazzd plus the state directory's "environment" file
 * (envfile.h) plus AGENT_COMFD, AGENT_EVENT_NAME and AGENT_EVENT_SOURCE.
 * stdout, stderr and the AGENT_COMFD pipe are relayed line by line to the
 * log (commands on AGENT_COMFD are ignored during events, as in NS8). A
 * non-zero exit aborts the rest, a step that cannot be executed is logged
 * and skipped, a step past the timeout is killed with its process group.
 * The last line of a job is NS8's: Handler of <channel> exited with status
 * "completed" (0) | "aborted" (<code>) at step <step>.
 *
 * At most max_running jobs run at once; the others wait in a bounded FIFO;
 * a job that does not fit is dropped, counted and logged.
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
	/* working directory of the steps and where "environment" is read;
	 * NULL: jazzd's own (NS8's agent runs in its state dir). Copied. */
	const char *state_dir;
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
 * Collects every entry but directories of <dir>/<sub>/ over dirs (for the
 * same file name the later dir wins), sorted by name (bytes), as NS8 does:
 * what cannot be executed is skipped with a warning when its turn comes.
 * Returns the number of steps (0: nothing to run), -1 on allocation failure.
 */
int jz_steps_from_dirs(char *const *dirs, size_t ndirs, const char *sub,
		       struct jz_steps *out);
int jz_steps_shell(const char *label, const char *command, struct jz_steps *out);
void jz_steps_free(struct jz_steps *s);

/* What a job is about; everything is copied by jz_runner_submit(). */
struct jz_job_desc {
	const char *kind;	/* "event", "action", "command": for the log */
	const char *what;	/* event name, action name, pattern */
	const char *channel;	/* the Redis channel */
	const char *name;	/* AGENT_EVENT_NAME */
	const char *source;	/* AGENT_EVENT_SOURCE */
	const char *payload;	/* bytes, handed over as they are */
	size_t len;
};

/*
 * Queues a job (steps taken over). Returns 0 when started or queued, -1
 * when dropped (queue full, or draining).
 */
int jz_runner_submit(struct jz_runner *r, const struct jz_job_desc *d,
		     struct jz_steps *steps);

/*
 * Graceful stop (SIGUSR1): from now on no job starts; the queued ones are
 * dropped, each logged; the running ones finish. done(arg) is called once,
 * from the event loop, when none runs any more (at once if none does).
 */
void jz_runner_drain(struct jz_runner *r, void (*done)(void *), void *arg);
bool jz_runner_idle(const struct jz_runner *r);

#endif
