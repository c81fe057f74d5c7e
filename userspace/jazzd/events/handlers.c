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
 * Must not know Redis (bus.c hands it jobs).
 */
#include <dirent.h>
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

#include <event2/buffer.h>

#include "handlers.h"
#include "log.h"

extern char **environ;

#define LINE_MAX_RELAY 4096	/* longer output lines are split */
#define STDIN_PIPE_MAX 65536	/* fits an empty pipe; bigger goes to a memfd */

struct jz_out {
	struct jz_job *job;
	int fd;
	int level;
	struct event *ev;
	struct evbuffer *buf;
};

struct jz_job {
	TAILQ_ENTRY(jz_job) link;
	struct jz_runner *r;
	char *kind, *what, *name, *source;
	struct jz_steps steps;
	size_t cur;
	char *payload;
	size_t len;

	pid_t pid;
	int pidfd;
	bool alive;		/* a step process is running */
	bool timed_out;
	struct event *ev_exit, *ev_timeout;
	struct jz_out out, err;
};

TAILQ_HEAD(jz_jobq, jz_job);

struct jz_runner {
	struct event_base *base;
	struct jz_runner_limits lim;
	struct jz_jobq queue, running_q;
	size_t queued, queued_bytes;
	unsigned running;
	bool pumping;
	bool no_pidfd;		/* fall back to SIGCHLD */
	struct event *ev_chld;
	struct jz_runner_stats st;
	time_t last_drop_log;
	unsigned long drops_unlogged;
};

static void job_advance(struct jz_job *job);
static void runner_pump(struct jz_runner *r);

/* ---- steps ------------------------------------------------------------ */

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

static int is_regular(const char *dir, struct dirent *de, const char *path)
{
	struct stat sb;

	if (de->d_type == DT_REG)
		return 1;
	if (de->d_type != DT_LNK && de->d_type != DT_UNKNOWN)
		return 0;
	return !stat(path, &sb) && S_ISREG(sb.st_mode);
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
			if (!is_regular(dpath, de, fpath))
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

/* ---- output relay ----------------------------------------------------- */

static const char *job_step(const struct jz_job *job)
{
	return job->cur < job->steps.n ? job->steps.names[job->cur] : "?";
}

static void out_emit(struct jz_out *o, bool flush)
{
	struct jz_job *job = o->job;
	char *line;
	size_t n;

	while ((line = evbuffer_readln(o->buf, &n, EVBUFFER_EOL_LF))) {
		jz_log(o->level, "%s %s step %s[%d]: %s", job->kind, job->what,
		       job_step(job), (int)job->pid, line);
		free(line);
	}
	while (evbuffer_get_length(o->buf) >= LINE_MAX_RELAY ||
	       (flush && evbuffer_get_length(o->buf))) {
		char chunk[LINE_MAX_RELAY + 1];
		int got = evbuffer_remove(o->buf, chunk, LINE_MAX_RELAY);

		if (got <= 0)
			break;
		chunk[got] = '\0';
		jz_log(o->level, "%s %s step %s[%d]: %s", job->kind, job->what,
		       job_step(job), (int)job->pid, chunk);
	}
}

/* Reads what is there; returns false at EOF or error. */
static bool out_read(struct jz_out *o)
{
	for (;;) {
		int n = evbuffer_read(o->buf, o->fd, 65536);

		if (n > 0) {
			out_emit(o, false);
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		return false;
	}
}

static void out_close(struct jz_out *o)
{
	if (o->fd < 0)
		return;
	out_emit(o, true);
	event_free(o->ev);
	o->ev = NULL;
	close(o->fd);
	o->fd = -1;
}

static void on_output(evutil_socket_t fd, short what, void *arg)
{
	struct jz_out *o = arg;

	if (!out_read(o))
		out_close(o);
}

static int out_open(struct jz_job *job, struct jz_out *o, int level, int *wfd)
{
	int p[2];

	o->job = job;
	o->level = level;
	o->fd = -1;
	if (!o->buf)
		o->buf = evbuffer_new();
	if (!o->buf || pipe2(p, O_CLOEXEC))
		return -1;
	/* only our end is non-blocking: the step's stdout stays blocking */
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	o->ev = event_new(job->r->base, p[0], EV_READ | EV_PERSIST, on_output, o);
	if (!o->ev) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	o->fd = p[0];
	*wfd = p[1];
	event_add(o->ev, NULL);
	return 0;
}

/* ---- spawning --------------------------------------------------------- */

/* The payload as a readable fd positioned at 0. */
static int stdin_fd(const struct jz_job *job)
{
	int p[2];

	if (job->len <= STDIN_PIPE_MAX) {
		if (pipe2(p, O_CLOEXEC))
			return -1;
		/* an empty pipe takes 64 KiB without blocking */
		if (job->len && write(p[1], job->payload, job->len) != (ssize_t)job->len) {
			close(p[0]);
			close(p[1]);
			return -1;
		}
		close(p[1]);
		return p[0];
	}
	p[0] = memfd_create("jazz-event", MFD_CLOEXEC);
	if (p[0] < 0)
		return -1;
	for (size_t off = 0; off < job->len;) {
		ssize_t n = write(p[0], job->payload + off, job->len - off);

		if (n <= 0) {
			close(p[0]);
			return -1;
		}
		off += n;
	}
	lseek(p[0], 0, SEEK_SET);
	return p[0];
}

static char **job_env(const struct jz_job *job)
{
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + 3, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "AGENT_EVENT_NAME=", 17) &&
		    strncmp(environ[i], "AGENT_EVENT_SOURCE=", 19))
			env[k++] = environ[i];
	if (asprintf(&env[k], "AGENT_EVENT_NAME=%s", job->name) < 0)
		env[k] = NULL;
	else
		k++;
	if (asprintf(&env[k], "AGENT_EVENT_SOURCE=%s", job->source) < 0)
		env[k] = NULL;
	return env;
}

static void env_free(char **env)
{
	size_t n = 0;

	if (!env)
		return;
	while (env[n])
		n++;
	/* the two we allocated are last */
	for (size_t i = n >= 2 ? n - 2 : 0; i < n; i++)
		if (!strncmp(env[i], "AGENT_EVENT_", 12))
			free(env[i]);
	free(env);
}

static int spawn_step(struct jz_job *job, const char *path, int in, int out,
		      int err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	char *dir = NULL, *slash;
	char **env = job_env(job);
	char *argv[4];
	sigset_t all, none;
	int rc;

	if (!env)
		return ENOMEM;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in, 0);
	posix_spawn_file_actions_adddup2(&fa, out, 1);
	posix_spawn_file_actions_adddup2(&fa, err, 2);
	/* sockets of the daemon (Redis, TLS) must not outlive it in a step */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	if (job->steps.shell) {
		argv[0] = "/bin/sh";
		argv[1] = "-c";
		argv[2] = (char *)path;
		argv[3] = NULL;
	} else {
		dir = strdup(path);
		slash = dir ? strrchr(dir, '/') : NULL;
		if (slash && slash != dir) {
			*slash = '\0';
			posix_spawn_file_actions_addchdir_np(&fa, dir);
		}
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
	rc = posix_spawn(&job->pid, argv[0], &fa, &at, argv, env);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	free(dir);
	env_free(env);
	return rc;
}

/* ---- job life --------------------------------------------------------- */

static void job_free(struct jz_job *job)
{
	jz_steps_free(&job->steps);
	if (job->out.buf)
		evbuffer_free(job->out.buf);
	if (job->err.buf)
		evbuffer_free(job->err.buf);
	free(job->kind);
	free(job->what);
	free(job->name);
	free(job->source);
	free(job->payload);
	free(job);
}

static void job_finish(struct jz_job *job, bool ok)
{
	struct jz_runner *r = job->r;

	TAILQ_REMOVE(&r->running_q, job, link);
	r->running--;
	r->st.done++;
	if (!ok)
		r->st.failed++;
	job_free(job);
	runner_pump(r);
}

static void step_cleanup(struct jz_job *job)
{
	if (job->out.fd >= 0 && !out_read(&job->out))
		out_close(&job->out);
	if (job->err.fd >= 0 && !out_read(&job->err))
		out_close(&job->err);
	/*
	 * Anything the step wrote is in the pipes already; a grandchild that
	 * kept them open does not hold the job.
	 */
	out_close(&job->out);
	out_close(&job->err);
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
		job_finish(job, false);
		return;
	}
	if (job->timed_out) {
		jz_err("%s %s step %s[%d] timed out after %d ms, process group killed; later steps aborted",
		       job->kind, job->what, job_step(job), (int)job->pid,
		       job->r->lim.step_timeout_ms);
		job_finish(job, false);
		return;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		jz_debug("%s %s step %s[%d] done", job->kind, job->what,
			 job_step(job), (int)job->pid);
		job->cur++;
		job_advance(job);
		return;
	}
	if (WIFEXITED(status))
		jz_err("%s %s step %s[%d] failed with exit code %d; later steps aborted",
		       job->kind, job->what, job_step(job), (int)job->pid,
		       WEXITSTATUS(status));
	else
		jz_err("%s %s step %s[%d] killed by signal %d; later steps aborted",
		       job->kind, job->what, job_step(job), (int)job->pid,
		       WTERMSIG(status));
	job_finish(job, false);
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

/* Starts the current step; returns 0 when running, else the skip reason. */
static int step_start(struct jz_job *job)
{
	const char *path = job->steps.paths[job->cur];
	int in = -1, wout = -1, werr = -1, rc;
	struct timeval tv;

	if (!job->steps.shell && access(path, X_OK))
		return errno;
	in = stdin_fd(job);
	if (in < 0)
		return errno;
	if (out_open(job, &job->out, LOG_INFO, &wout) ||
	    out_open(job, &job->err, LOG_WARNING, &werr)) {
		rc = errno ? errno : ENOMEM;
		goto fail;
	}
	rc = spawn_step(job, path, in, wout, werr);
	if (rc)
		goto fail;
	close(in);
	close(wout);
	close(werr);
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
		in = wout = werr = -1;
		goto fail;
	}
	if (job->r->lim.step_timeout_ms > 0) {
		job->ev_timeout = evtimer_new(job->r->base, on_timeout, job);
		tv.tv_sec = job->r->lim.step_timeout_ms / 1000;
		tv.tv_usec = (job->r->lim.step_timeout_ms % 1000) * 1000;
		evtimer_add(job->ev_timeout, &tv);
	}
	jz_debug("%s %s step %s[%d] started", job->kind, job->what,
		 job_step(job), (int)job->pid);
	return 0;
fail:
	if (in >= 0)
		close(in);
	if (wout >= 0)
		close(wout);
	if (werr >= 0)
		close(werr);
	out_close(&job->out);
	out_close(&job->err);
	return rc ? rc : EIO;
}

static void job_advance(struct jz_job *job)
{
	while (job->cur < job->steps.n) {
		int rc = step_start(job);

		if (!rc)
			return;
		jz_err("%s %s step %s cannot be executed (%s), skipped", job->kind,
		       job->what, job_step(job), strerror(rc));
		job->cur++;
	}
	job_finish(job, true);
}

static void runner_pump(struct jz_runner *r)
{
	struct jz_job *job;

	if (r->pumping)
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
		job_advance(job);
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

int jz_runner_submit(struct jz_runner *r, const char *kind, const char *what,
		     struct jz_steps *steps, const char *payload, size_t len,
		     const char *name, const char *source)
{
	struct jz_job *job;

	if (r->queued >= r->lim.queue_max ||
	    r->queued_bytes + len > r->lim.queue_bytes) {
		/* room in a slot right now counts as not full */
		if (r->running >= r->lim.max_running || r->queued) {
			log_drop(r, kind, what);
			jz_steps_free(steps);
			return -1;
		}
	}
	job = calloc(1, sizeof(*job));
	if (!job)
		goto oom;
	job->r = r;
	job->pidfd = -1;
	job->out.fd = job->err.fd = -1;
	job->kind = strdup(kind);
	job->what = strdup(what);
	job->name = strdup(name ? name : "");
	job->source = strdup(source ? source : "");
	job->payload = malloc(len ? len : 1);
	if (!job->kind || !job->what || !job->name || !job->source || !job->payload) {
		job_free(job);
		goto oom;
	}
	memcpy(job->payload, payload, len);
	job->len = len;
	job->steps = *steps;
	memset(steps, 0, sizeof(*steps));
	TAILQ_INSERT_TAIL(&r->queue, job, link);
	r->queued++;
	r->queued_bytes += len;
	runner_pump(r);
	return 0;
oom:
	log_drop(r, kind, what);
	jz_steps_free(steps);
	return -1;
}

/* ---- runner ----------------------------------------------------------- */

struct jz_runner *jz_runner_new(struct event_base *base,
				const struct jz_runner_limits *l)
{
	struct jz_runner *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->base = base;
	TAILQ_INIT(&r->queue);
	TAILQ_INIT(&r->running_q);
	jz_runner_set_limits(r, l);
	return r;
}

void jz_runner_set_limits(struct jz_runner *r, const struct jz_runner_limits *l)
{
	r->lim = *l;
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
	free(r);
}
