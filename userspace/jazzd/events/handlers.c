// SPDX-License-Identifier: GPL-2.0
/*
 * Handler runner (see handlers.h). Steps are started with posix_spawn
 * (vfork-like in glibc, cheap even when jazzd is large), in their own
 * process group so that a timeout kills the step and everything it forked.
 * Exits are noticed through pidfds, one event each: no SIGCHLD handler
 * competes with the rest of the daemon. Where pidfd_open() is missing
 * (kernels before 5.3, valgrind) a SIGCHLD event checks each running step
 * with waitpid(pid, WNOHANG), never waitpid(-1).
 *
 * Output pipes are read one buffer per loop iteration each: a step that
 * floods its stdout or AGENT_COMFD is slowed down by the full pipe (nothing
 * is lost) and cannot keep the loop from the other events.
 *
 * Must not know Redis (bus.c hands it jobs).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "envfile.h"
#include "handlers.h"
#include "log.h"
#include "relay.h"

extern char **environ;

#define STDIN_PIPE_MAX 65536	/* fits an empty pipe; bigger goes to a memfd */
#define COMFD 3			/* AGENT_COMFD in the step */

struct jz_job {
	TAILQ_ENTRY(jz_job) link;
	struct jz_runner *r;
	char *kind, *what, *name, *source, *channel;
	struct jz_steps steps;
	size_t cur;
	char *payload;
	size_t len;

	/* the steps' environment, made when the job starts (NS8: per event) */
	char *state_dir;
	struct jz_envfile envfile;
	char *agent_vars[4];
	char **env;

	pid_t pid;
	int pidfd;
	bool alive;		/* a step process is running */
	bool timed_out;
	struct event *ev_exit, *ev_timeout;
	struct jz_out out, err, com;
};

TAILQ_HEAD(jz_jobq, jz_job);

struct jz_runner {
	struct event_base *base;
	struct jz_runner_limits lim;
	char *state_dir;
	struct jz_jobq queue, running_q;
	size_t queued, queued_bytes;
	unsigned running;
	bool pumping;
	bool no_pidfd;		/* fall back to SIGCHLD */
	struct event *ev_chld;
	struct jz_runner_stats st;
	time_t last_drop_log;
	unsigned long drops_unlogged;
	/* graceful stop */
	bool draining, drained;
	void (*drained_cb)(void *);
	void *drained_arg;
	struct event *ev_drained;
};

static void job_advance(struct jz_job *job);
static void runner_pump(struct jz_runner *r);

/* ---- spawning --------------------------------------------------------- */

static const char *job_step(const struct jz_job *job)
{
	return job->cur < job->steps.n ? job->steps.names[job->cur] : "?";
}


/* The payload in a memfd, positioned at 0. */
static int stdin_memfd(const struct jz_job *job)
{
	int fd = memfd_create("jazz-event", MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	for (size_t off = 0; off < job->len;) {
		ssize_t n = write(fd, job->payload + off, job->len - off);

		if (n <= 0) {
			close(fd);
			return -1;
		}
		off += n;
	}
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* The payload as a readable fd that never blocks the step: data, then EOF. */
static int stdin_fd(const struct jz_job *job)
{
	int p[2];

	if (job->len > STDIN_PIPE_MAX)
		return jz_fd_high(stdin_memfd(job));
	if (pipe2(p, O_CLOEXEC))
		return -1;
	/* an empty pipe holds 64 KiB, unless pipe-user-pages-soft shrank it */
	fcntl(p[1], F_SETFL, O_NONBLOCK);
	if (job->len && write(p[1], job->payload, job->len) != (ssize_t)job->len) {
		close(p[0]);
		close(p[1]);
		return jz_fd_high(stdin_memfd(job));
	}
	close(p[1]);
	return jz_fd_high(p[0]);
}

static char *env_var(const char *name, const char *value)
{
	char *s;

	return asprintf(&s, "%s=%s", name, value) < 0 ? NULL : s;
}

/*
 * NS8's order (hevent.go): the agent's environment, ./environment, then
 * AGENT_COMFD, AGENT_EVENT_NAME, AGENT_EVENT_SOURCE; for a name given twice
 * the last wins. AGENT_STATE_DIR, which NS8's unit sets for its agent,
 * comes with state_dir, before the file (which may set its own).
 */
static int job_env(struct jz_job *job)
{
	char path[4096], comfd[16];
	char *const *lists[4];
	size_t counts[4], nenv = 0;
	int rc;

	if (job->state_dir)
		rc = snprintf(path, sizeof(path), "%s/environment", job->state_dir);
	else
		rc = snprintf(path, sizeof(path), "./environment");
	if (rc >= (int)sizeof(path) || jz_envfile_read(path, job->channel, &job->envfile))
		return -1;
	snprintf(comfd, sizeof(comfd), "%d", COMFD);
	job->agent_vars[0] = job->state_dir ? env_var("AGENT_STATE_DIR", job->state_dir) : NULL;
	job->agent_vars[1] = env_var("AGENT_COMFD", comfd);
	job->agent_vars[2] = env_var("AGENT_EVENT_NAME", job->name);
	job->agent_vars[3] = env_var("AGENT_EVENT_SOURCE", job->source);
	if ((job->state_dir && !job->agent_vars[0]) || !job->agent_vars[1] ||
	    !job->agent_vars[2] || !job->agent_vars[3])
		return -1;
	while (environ[nenv])
		nenv++;
	lists[0] = environ;
	counts[0] = nenv;
	lists[1] = job->agent_vars;
	counts[1] = job->state_dir ? 1 : 0;
	lists[2] = job->envfile.lines;
	counts[2] = job->envfile.n;
	lists[3] = job->agent_vars + 1;
	counts[3] = 3;
	job->env = jz_env_merge(lists, counts, 4);
	return job->env ? 0 : -1;
}

static int spawn_step(struct jz_job *job, const char *path, int in, int out,
		      int err, int com)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	char *argv[4];
	sigset_t all, none;
	int rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in, 0);
	posix_spawn_file_actions_adddup2(&fa, out, 1);
	posix_spawn_file_actions_adddup2(&fa, err, 2);
	posix_spawn_file_actions_adddup2(&fa, com, COMFD);
	/* sockets of the daemon (Redis, TLS) must not outlive it in a step */
	posix_spawn_file_actions_addclosefrom_np(&fa, COMFD + 1);
	/* NS8: steps run in the agent's working directory, its state dir */
	if (job->state_dir)
		posix_spawn_file_actions_addchdir_np(&fa, job->state_dir);
	if (job->steps.shell) {
		argv[0] = "/bin/sh";
		argv[1] = "-c";
		argv[2] = (char *)path;
		argv[3] = NULL;
	} else {
		argv[0] = (char *)path;
		argv[1] = NULL;
	}
	posix_spawnattr_init(&at);
	sigfillset(&all);
	sigemptyset(&none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
				 POSIX_SPAWN_SETSIGMASK);
	rc = posix_spawn(&job->pid, argv[0], &fa, &at, argv, job->env);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	return rc;
}

/* ---- job life --------------------------------------------------------- */

static void job_free(struct jz_job *job)
{
	jz_steps_free(&job->steps);
	jz_out_free(&job->out);
	jz_out_free(&job->err);
	jz_out_free(&job->com);
	jz_envfile_free(&job->envfile);
	for (size_t i = 0; i < sizeof(job->agent_vars) / sizeof(job->agent_vars[0]); i++)
		free(job->agent_vars[i]);
	free(job->env);
	free(job->state_dir);
	free(job->kind);
	free(job->what);
	free(job->name);
	free(job->source);
	free(job->channel);
	free(job->payload);
	free(job);
}

/* NS8's words: what an operator of NS8 greps for. */
static void job_log_head(const struct jz_job *job, char *buf, size_t size)
{
	if (!strcmp(job->kind, "event"))
		snprintf(buf, size, "Handler of %s", job->channel);
	else
		snprintf(buf, size, "%s %s for %s", job->kind, job->what, job->channel);
}

static void drained_check(struct jz_runner *r)
{
	static const struct timeval now;

	if (r->draining && !r->running && !r->drained && r->ev_drained) {
		r->drained = true;
		/* from the loop: the caller may free the runner */
		evtimer_add(r->ev_drained, &now);
	}
}

/*
 * code: the step's exit code, -1 when it was killed (as Go's ExitCode());
 * last: the step it ended at.
 */
static void job_finish(struct jz_job *job, int code, bool ok)
{
	struct jz_runner *r = job->r;
	const char *last = job->steps.n ? job->steps.names[job->cur < job->steps.n ?
					  job->cur : job->steps.n - 1] : "";
	char head[512];

	job_log_head(job, head, sizeof(head));
	if (ok)
		jz_info("%s exited with status \"completed\" (0) at step %s", head, last);
	else
		jz_warn("%s exited with status \"aborted\" (%d) at step %s", head, code, last);
	TAILQ_REMOVE(&r->running_q, job, link);
	r->running--;
	r->st.done++;
	if (!ok)
		r->st.failed++;
	job_free(job);
	runner_pump(r);
	drained_check(r);
}

static void step_cleanup(struct jz_job *job)
{
	/*
	 * Anything the step wrote is in the pipes already; a grandchild that
	 * kept them open does not hold the job.
	 */
	jz_out_drain(&job->out);
	jz_out_drain(&job->err);
	jz_out_drain(&job->com);
	if (job->ev_exit) {
		event_free(job->ev_exit);
		job->ev_exit = NULL;
	}
	if (job->ev_timeout) {
		event_free(job->ev_timeout);
		job->ev_timeout = NULL;
	}
	if (job->pidfd >= 0) {
		close(job->pidfd);
		job->pidfd = -1;
	}
	job->alive = false;
}

static void on_exit_ev(evutil_socket_t fd, short what, void *arg)
{
	struct jz_job *job = arg;
	int status;
	pid_t p;

	p = waitpid(job->pid, &status, WNOHANG);
	if (p == 0)
		return;		/* spurious */
	step_cleanup(job);
	if (p < 0) {
		jz_err("%s %s step %s[%d]: lost track of the process: %s", job->kind,
		       job->what, job_step(job), (int)job->pid, strerror(errno));
		job_finish(job, -1, false);
		return;
	}
	if (job->timed_out) {
		jz_err("%s %s step %s[%d] timed out after %d ms, process group killed; later steps aborted",
		       job->kind, job->what, job_step(job), (int)job->pid,
		       job->r->lim.step_timeout_ms);
		job_finish(job, -1, false);
		return;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		jz_debug("%s %s step %s[%d] done", job->kind, job->what,
			 job_step(job), (int)job->pid);
		job->cur++;
		job_advance(job);
		return;
	}
	if (WIFEXITED(status)) {
		jz_err("%s %s step %s[%d] failed with exit code %d; later steps aborted",
		       job->kind, job->what, job_step(job), (int)job->pid,
		       WEXITSTATUS(status));
		job_finish(job, WEXITSTATUS(status), false);
		return;
	}
	jz_err("%s %s step %s[%d] killed by signal %d; later steps aborted",
	       job->kind, job->what, job_step(job), (int)job->pid, WTERMSIG(status));
	job_finish(job, -1, false);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct jz_job *job = arg;

	job->timed_out = true;
	kill(-job->pid, SIGKILL);
	kill(job->pid, SIGKILL);	/* in case setpgid lost a race */
}

static void on_sigchld(evutil_socket_t sig, short what, void *arg)
{
	struct jz_runner *r = arg;
	struct jz_job *job;
	bool again = true;

	/* reaping may end jobs and start others: rescan until nothing exited */
	while (again) {
		again = false;
		TAILQ_FOREACH(job, &r->running_q, link) {
			siginfo_t si = { .si_pid = 0 };

			if (!job->alive || job->pidfd >= 0)
				continue;
			/* WNOWAIT: on_exit_ev() reaps and reads the status */
			if (waitid(P_PID, job->pid, &si, WEXITED | WNOHANG | WNOWAIT) ||
			    si.si_pid) {
				on_exit_ev(-1, 0, job);
				again = true;
				break;
			}
		}
	}
}

/* pidfd_open() is missing: watch SIGCHLD instead. false if that fails too. */
static bool sigchld_fallback(struct jz_runner *r)
{
	if (!r->ev_chld) {
		jz_warn("pidfd_open: %s; watching handler steps through SIGCHLD",
			strerror(errno));
		r->no_pidfd = true;
		r->ev_chld = evsignal_new(r->base, SIGCHLD, on_sigchld, r);
		if (!r->ev_chld || event_add(r->ev_chld, NULL))
			return false;
	}
	/* the step may have exited before the event was there */
	event_active(r->ev_chld, EV_SIGNAL, 1);
	return true;
}

static void close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
}

/* The relays name the step's process in their log lines. */
static void relay_who(struct jz_job *job)
{
	char *who;

	if (asprintf(&who, "%s %s step %s[%d]", job->kind, job->what, job_step(job),
		     (int)job->pid) < 0)
		return;
	jz_out_who(&job->out, who);
	jz_out_who(&job->err, who);
	jz_out_who(&job->com, who);
	free(who);
}

/* Starts the current step; returns 0 when running, else the skip reason. */
static int step_start(struct jz_job *job)
{
	const char *path = job->steps.paths[job->cur];
	int fds[4] = { -1, -1, -1, -1 };	/* stdin, stdout, stderr, AGENT_COMFD */
	struct timeval tv;
	int rc;

	if (!job->steps.shell && access(path, X_OK))
		return errno;
	fds[0] = stdin_fd(job);
	if (fds[0] < 0)
		return errno;
	if (jz_out_open(&job->out, job->r->base, LOG_INFO, "", &fds[1]) ||
	    jz_out_open(&job->err, job->r->base, LOG_WARNING, "", &fds[2]) ||
	    jz_out_open(&job->com, job->r->base, LOG_INFO, "ignored during events: ",
			&fds[3])) {
		rc = errno ? errno : ENOMEM;
		goto fail;
	}
	rc = spawn_step(job, path, fds[0], fds[1], fds[2], fds[3]);
	if (rc)
		goto fail;
	close_fds(fds, 4);
	relay_who(job);
	job->timed_out = false;
	job->alive = true;
	job->pidfd = job->r->no_pidfd ? -1 : (int)syscall(SYS_pidfd_open, job->pid, 0);
	if (job->pidfd >= 0) {
		job->ev_exit = event_new(job->r->base, job->pidfd, EV_READ | EV_PERSIST,
					 on_exit_ev, job);
		event_add(job->ev_exit, NULL);
	} else if (!sigchld_fallback(job->r)) {
		/* cannot watch it: do not leave it running unwatched */
		kill(-job->pid, SIGKILL);
		waitpid(job->pid, NULL, 0);
		job->alive = false;
		rc = ENOSYS;
		goto fail;
	}
	if (job->r->lim.step_timeout_ms > 0) {
		job->ev_timeout = evtimer_new(job->r->base, on_timeout, job);
		tv.tv_sec = job->r->lim.step_timeout_ms / 1000;
		tv.tv_usec = (job->r->lim.step_timeout_ms % 1000) * 1000;
		evtimer_add(job->ev_timeout, &tv);
	}
	if (!strcmp(job->kind, "event"))
		jz_debug("Handler of %s is starting step %s [%d]", job->channel,
			 job_step(job), (int)job->pid);
	else
		jz_debug("%s %s step %s[%d] started", job->kind, job->what,
			 job_step(job), (int)job->pid);
	return 0;
fail:
	close_fds(fds, 4);
	jz_out_close(&job->out);
	jz_out_close(&job->err);
	jz_out_close(&job->com);
	return rc ? rc : EIO;
}

static void job_advance(struct jz_job *job)
{
	char head[512];

	while (job->cur < job->steps.n) {
		int rc = step_start(job);

		if (!rc)
			return;
		/* NS8: "skipped step", the event goes on */
		job_log_head(job, head, sizeof(head));
		jz_warn("%s skipped step %s: %s", head, job_step(job), strerror(rc));
		jz_warn("%s %s step %s cannot be executed (%s), skipped", job->kind,
			job->what, job_step(job), strerror(rc));
		if (job->cur + 1 == job->steps.n)
			break;	/* the last one: "at step" names it */
		job->cur++;
	}
	job_finish(job, 0, true);
}

/* The job leaves the queue: its environment is read now, as NS8 does per event. */
static void job_start(struct jz_job *job)
{
	if (job_env(job)) {
		jz_err("%s %s for %s: out of memory for the environment, not run",
		       job->kind, job->what, job->channel);
		job_finish(job, -1, false);
		return;
	}
	job_advance(job);
}

static void runner_pump(struct jz_runner *r)
{
	struct jz_job *job;

	if (r->pumping || r->draining)
		return;		/* the loop below picks up the freed slot */
	r->pumping = true;
	while (r->running < r->lim.max_running && (job = TAILQ_FIRST(&r->queue))) {
		TAILQ_REMOVE(&r->queue, job, link);
		r->queued--;
		r->queued_bytes -= job->len;
		TAILQ_INSERT_TAIL(&r->running_q, job, link);
		r->running++;
		r->st.started++;
		if (r->running > r->st.max_running_seen)
			r->st.max_running_seen = r->running;
		job->state_dir = r->state_dir ? strdup(r->state_dir) : NULL;
		if (r->state_dir && !job->state_dir) {
			job_finish(job, -1, false);
			continue;
		}
		job_start(job);
	}
	r->pumping = false;
}

static void log_drop(struct jz_runner *r, const char *kind, const char *what)
{
	time_t now = time(NULL);

	r->st.dropped++;
	r->drops_unlogged++;
	/* one line per second at most during a flood */
	if (now == r->last_drop_log)
		return;
	jz_err("handler queue full (%zu queued, %u running): dropped %lu job(s), last %s %s; %lu dropped in total",
	       r->queued, r->running, r->drops_unlogged, kind, what, r->st.dropped);
	r->last_drop_log = now;
	r->drops_unlogged = 0;
}

int jz_runner_submit(struct jz_runner *r, const struct jz_job_desc *d,
		     struct jz_steps *steps)
{
	struct jz_job *job;

	if (r->draining) {
		jz_warn("graceful stop: %s %s for %s not started", d->kind, d->what,
			d->channel);
		r->st.dropped++;
		jz_steps_free(steps);
		return -1;
	}
	if (r->queued >= r->lim.queue_max ||
	    r->queued_bytes + d->len > r->lim.queue_bytes) {
		/* room in a slot right now counts as not full */
		if (r->running >= r->lim.max_running || r->queued) {
			log_drop(r, d->kind, d->what);
			jz_steps_free(steps);
			return -1;
		}
	}
	job = calloc(1, sizeof(*job));
	if (!job)
		goto oom;
	job->r = r;
	job->pidfd = -1;
	jz_out_init(&job->out);
	jz_out_init(&job->err);
	jz_out_init(&job->com);
	job->kind = strdup(d->kind);
	job->what = strdup(d->what);
	job->name = strdup(d->name ? d->name : "");
	job->source = strdup(d->source ? d->source : "");
	job->channel = strdup(d->channel ? d->channel : "");
	job->payload = malloc(d->len ? d->len : 1);
	if (!job->kind || !job->what || !job->name || !job->source || !job->channel ||
	    !job->payload) {
		job_free(job);
		goto oom;
	}
	memcpy(job->payload, d->payload, d->len);
	job->len = d->len;
	job->steps = *steps;
	memset(steps, 0, sizeof(*steps));
	TAILQ_INSERT_TAIL(&r->queue, job, link);
	r->queued++;
	r->queued_bytes += d->len;
	runner_pump(r);
	return 0;
oom:
	log_drop(r, d->kind, d->what);
	jz_steps_free(steps);
	return -1;
}

/* ---- runner ----------------------------------------------------------- */

static void on_drained(evutil_socket_t fd, short what, void *arg)
{
	struct jz_runner *r = arg;

	if (r->drained_cb)
		r->drained_cb(r->drained_arg);
}

struct jz_runner *jz_runner_new(struct event_base *base,
				const struct jz_runner_limits *l)
{
	struct jz_runner *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->base = base;
	TAILQ_INIT(&r->queue);
	TAILQ_INIT(&r->running_q);
	r->ev_drained = evtimer_new(base, on_drained, r);
	if (!r->ev_drained) {
		free(r);
		return NULL;
	}
	jz_runner_set_limits(r, l);
	return r;
}

void jz_runner_set_limits(struct jz_runner *r, const struct jz_runner_limits *l)
{
	char *sd = l->state_dir ? strdup(l->state_dir) : NULL;

	if (l->state_dir && !sd) {
		jz_err("handlers: out of memory, state_dir unchanged");
	} else {
		free(r->state_dir);
		r->state_dir = sd;
	}
	r->lim = *l;
	r->lim.state_dir = NULL;	/* r->state_dir is the copy */
	if (!r->lim.max_running)
		r->lim.max_running = 1;
	/* a raised limit starts waiting jobs now; a lowered one lets running ones end */
	runner_pump(r);
}

void jz_runner_get_stats(const struct jz_runner *r, struct jz_runner_stats *st)
{
	*st = r->st;
	st->running = r->running;
	st->queued = r->queued;
}

bool jz_runner_idle(const struct jz_runner *r)
{
	return !r->running && !r->queued;
}

void jz_runner_drain(struct jz_runner *r, void (*done)(void *), void *arg)
{
	struct jz_job *job;
	unsigned long n = 0;

	r->drained_cb = done;
	r->drained_arg = arg;
	if (r->draining)
		return;
	r->draining = true;
	while ((job = TAILQ_FIRST(&r->queue))) {
		TAILQ_REMOVE(&r->queue, job, link);
		jz_warn("graceful stop: %s %s for %s not started", job->kind,
			job->what, job->channel);
		r->queued--;
		r->queued_bytes -= job->len;
		r->st.dropped++;
		n++;
		job_free(job);
	}
	jz_info("graceful stop: %u handler(s) running to their end, %lu queued not started",
		r->running, n);
	drained_check(r);
}

void jz_runner_free(struct jz_runner *r)
{
	struct jz_job *job;

	if (!r)
		return;
	while ((job = TAILQ_FIRST(&r->queue))) {
		TAILQ_REMOVE(&r->queue, job, link);
		job_free(job);
	}
	while ((job = TAILQ_FIRST(&r->running_q))) {
		TAILQ_REMOVE(&r->running_q, job, link);
		if (job->alive) {
			jz_warn("%s %s step %s[%d] killed at shutdown", job->kind,
				job->what, job_step(job), (int)job->pid);
			kill(-job->pid, SIGKILL);
			waitpid(job->pid, NULL, 0);
		}
		step_cleanup(job);
		job_free(job);
	}
	if (r->ev_chld)
		event_free(r->ev_chld);
	event_free(r->ev_drained);
	free(r->state_dir);
	free(r);
}
