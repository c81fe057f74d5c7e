// SPDX-License-Identifier: GPL-2.0
/*
 * The Python backend: an embedded CPython runs events.py, the JazzVPN
 * policy script (see docs/CALLBACKS.md, "Python"). This file runs the
 * callbacks and their timeouts and loads events.py; the interpreter's
 * start, the `jazz` module and logging are python_interp.c's, the value
 * conversions python_conv.c's. It must not convert values itself.
 *
 * - The thread that started the interpreter releases the GIL at once, so
 *   the event loop never waits for Python; every callback takes the GIL on
 *   the dispatcher's worker thread. Calls may run concurrently (a sleeping
 *   callback releases the GIL), so the backend is marked concurrent.
 * - Each load (SIGHUP) compiles the file into a fresh module object; a
 *   failure leaves the previous backend, and its module, in use.
 * - interrupt() raises jazz.CallbackTimeout in a call that ran past its
 *   timeout, from a helper thread (taking the GIL must not block the loop),
 *   and again every second while the call keeps running.
 */
#include "python_int.h"

static const char *const cb_names[CB__COUNT] = {
	"accept_conn", "user_key", "validate_user", "peer_filter", "peer_connection",
};


/* Interpreter-wide state, set up once under load_lock. */
static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static bool py_started, py_broken;
/* ---- calls and their timeouts ---------------------------------------- */

/*
 * Which call each worker thread runs, so that interrupt() hits the call
 * that timed out and not the next one the thread picked up. seq changes
 * only with the GIL held; the table itself is under run_lock.
 */
#define MAX_THREADS 128

struct running {
	unsigned long tid;
	unsigned long seq;
	struct timespec started;
	bool active;
	bool interrupted;	/* an async exception may be pending */
};

static pthread_mutex_t run_lock = PTHREAD_MUTEX_INITIALIZER;
static struct running running[MAX_THREADS];
static unsigned long run_seq;
static __thread int my_slot = -1;
static __thread bool my_tstate;	/* this thread keeps a Python thread state */

struct pending {
	unsigned long tid, seq;
	struct timespec due;
};

static pthread_cond_t irq_cond = PTHREAD_COND_INITIALIZER;
static struct pending irq[MAX_THREADS];
static size_t n_irq;
static bool irq_thread_started;

static pthread_key_t slot_key;
static pthread_once_t slot_once = PTHREAD_ONCE_INIT;

/* A thread that ends gives its slot back (thread ids are reused). */
static void slot_release(void *arg)
{
	int i = (int)(intptr_t)arg - 1;

	pthread_mutex_lock(&run_lock);
	memset(&running[i], 0, sizeof(running[i]));
	pthread_mutex_unlock(&run_lock);
}

static void slot_key_init(void)
{
	pthread_key_create(&slot_key, slot_release);
}

static struct running *slot_get(unsigned long tid)
{
	if (my_slot < 0) {
		pthread_once(&slot_once, slot_key_init);
		pthread_mutex_lock(&run_lock);
		for (int i = 0; i < MAX_THREADS; i++) {
			if (!running[i].tid) {
				running[i].tid = tid;
				my_slot = i;
				break;
			}
		}
		pthread_mutex_unlock(&run_lock);
		if (my_slot >= 0)
			pthread_setspecific(slot_key, (void *)(intptr_t)(my_slot + 1));
	}
	return my_slot >= 0 ? &running[my_slot] : NULL;
}

static void running_start(struct running *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&run_lock);
	r->seq = ++run_seq;
	r->active = true;
	clock_gettime(CLOCK_MONOTONIC, &r->started);
	pthread_mutex_unlock(&run_lock);
}

/* With the GIL: the call is over; drop a timeout exception that came late. */
static void running_stop(struct running *r, unsigned long tid)
{
	bool interrupted = false;

	if (r) {
		pthread_mutex_lock(&run_lock);
		r->active = false;
		interrupted = r->interrupted;
		r->interrupted = false;
		pthread_mutex_unlock(&run_lock);
	}
	if (interrupted)
		PyThreadState_SetAsyncExc(tid, NULL);
}

struct call {
	PyGILState_STATE gil;
	bool first;
	unsigned long tid;
	struct running *r;
};

static void call_enter(struct call *c)
{
	c->gil = PyGILState_Ensure();
	/* The first call on a thread keeps its thread state for good (left
	 * with PyEval_SaveThread): no state created and torn down per call. */
	c->first = !my_tstate;
	my_tstate = true;
	c->tid = PyThread_get_thread_ident();
	c->r = slot_get(c->tid);
	running_start(c->r);
}

static void call_leave(struct call *c)
{
	if (PyErr_Occurred())
		log_exception("internal", NULL, 0);
	/* output without its final newline still belongs to this call */
	if (PyDict_GET_SIZE(g_out_parts) || PyDict_GET_SIZE(g_err_parts)) {
		PyObject *r = PyObject_CallNoArgs(g_flush);

		if (!r)
			PyErr_Clear();
		Py_XDECREF(r);
	}
	running_stop(c->r, c->tid);
	if (c->first)
		PyEval_SaveThread();
	else
		PyGILState_Release(c->gil);
}

static void ts_add_ms(struct timespec *t, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, t);
	t->tv_sec += ms / 1000;
	t->tv_nsec += (ms % 1000) * 1000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

static bool still_running(unsigned long tid, unsigned long seq)
{
	for (int i = 0; i < MAX_THREADS; i++)
		if (running[i].tid == tid)
			return running[i].active && running[i].seq == seq;
	return false;
}

/* With the GIL: raise CallbackTimeout in the call if it still runs. */
static void fire(const struct pending *p)
{
	PyGILState_STATE g = PyGILState_Ensure();

	pthread_mutex_lock(&run_lock);
	if (still_running(p->tid, p->seq)) {
		for (int i = 0; i < MAX_THREADS; i++)
			if (running[i].tid == p->tid)
				running[i].interrupted = true;
		PyThreadState_SetAsyncExc(p->tid, g_timeout_exc);
	}
	pthread_mutex_unlock(&run_lock);
	PyGILState_Release(g);
}

static void *irq_main(void *arg)
{
	pthread_mutex_lock(&run_lock);
	for (;;) {
		struct pending now_due[MAX_THREADS];
		size_t n_due = 0;
		struct timespec now, next;

		clock_gettime(CLOCK_MONOTONIC, &now);
		ts_add_ms(&next, 3600 * 1000);
		for (size_t i = 0; i < n_irq;) {
			if (!still_running(irq[i].tid, irq[i].seq)) {
				irq[i] = irq[--n_irq];
				continue;
			}
			if (irq[i].due.tv_sec < now.tv_sec ||
			    (irq[i].due.tv_sec == now.tv_sec &&
			     irq[i].due.tv_nsec <= now.tv_nsec)) {
				now_due[n_due++] = irq[i];
				/* re-raise while it goes on: it may catch the first */
				ts_add_ms(&irq[i].due, 1000);
			}
			if (irq[i].due.tv_sec < next.tv_sec ||
			    (irq[i].due.tv_sec == next.tv_sec &&
			     irq[i].due.tv_nsec < next.tv_nsec))
				next = irq[i].due;
			i++;
		}
		if (n_due) {
			pthread_mutex_unlock(&run_lock);
			for (size_t i = 0; i < n_due; i++)
				fire(&now_due[i]);
			pthread_mutex_lock(&run_lock);
			continue;
		}
		pthread_cond_timedwait(&irq_cond, &run_lock, &next);
	}
	return NULL;
}

/*
 * Loop thread: never takes the GIL here, only queues the request. The
 * interface names the thread, not the call: a call that started within the
 * last 2 ms is one the thread picked up after the late one ended, not the
 * late one itself.
 */
static void request_interrupt(unsigned long tid)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&run_lock);
	for (int i = 0; i < MAX_THREADS; i++) {
		struct timespec *st = &running[i].started;

		if (running[i].tid != tid || !running[i].active)
			continue;
		if ((now.tv_sec - st->tv_sec) * 1000000000L + (now.tv_nsec - st->tv_nsec) <
		    2000000L)
			break;
		if (!irq_thread_started) {
			pthread_t th;
			pthread_condattr_t ca;

			pthread_condattr_init(&ca);
			pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
			pthread_cond_destroy(&irq_cond);
			pthread_cond_init(&irq_cond, &ca);
			if (pthread_create(&th, NULL, irq_main, NULL) == 0) {
				pthread_detach(th);
				irq_thread_started = true;
			}
		}
		if (n_irq < MAX_THREADS) {
			irq[n_irq].tid = tid;
			irq[n_irq].seq = running[i].seq;
			clock_gettime(CLOCK_MONOTONIC, &irq[n_irq].due);
			n_irq++;
		}
		pthread_cond_signal(&irq_cond);
		break;
	}
	pthread_mutex_unlock(&run_lock);
}

static void py_interrupt(struct jz_backend *b, unsigned long tid)
{
	request_interrupt(tid);
}

/*
 * One callback: build the argument, call, log an exception or convert the
 * result. conv returns 0 when the result was a valid answer.
 */
typedef int (*conv_fn)(PyObject *res, void *ctx, char *why, size_t whylen);

static int invoke(struct pyb *p, int cb, PyObject *arg, conv_fn conv, void *ctx)
{
	char why[512] = "";
	PyObject *res;
	int rc = JAZZ_CB_ERROR;

	if (!arg) {
		log_exception(cb_names[cb], NULL, 0);
		return JAZZ_CB_ERROR;
	}
	res = PyObject_CallOneArg(p->fn[cb], arg);
	Py_DECREF(arg);
	if (!res) {
		log_exception(cb_names[cb], NULL, 0);
		return JAZZ_CB_ERROR;
	}
	if (conv(res, ctx, why, sizeof(why)) == 0) {
		rc = JAZZ_CB_OK;
	} else {
		if (PyErr_Occurred())
			log_exception(cb_names[cb], NULL, 0);
		jz_py_log(LOG_ERR, cb_names[cb], "%s", why[0] ? why : "invalid answer");
	}
	Py_DECREF(res);
	return rc;
}

static int conv_accept(PyObject *res, void *ctx, char *why, size_t whylen)
{
	return jz_py_accept_result(res, ctx, why, whylen);
}

static int py_accept(struct jz_backend *b, const struct jazz_accept_info *info,
		     int *accept)
{
	struct call c;
	int rc;

	call_enter(&c);
	rc = invoke(PYB(b), CB_ACCEPT, jz_py_accept_args(info), conv_accept, accept);
	call_leave(&c);
	return rc;
}

struct uk_ctx {
	const char *enctype;
	struct jazz_user_key_reply *reply;
};

static int conv_user_key(PyObject *res, void *ctx, char *why, size_t whylen)
{
	struct uk_ctx *u = ctx;

	return jz_py_user_key_result(res, u->enctype, u->reply, why, whylen);
}

static int py_user_key(struct jz_backend *b, const struct jazz_user_key_request *req,
		       struct jazz_user_key_reply *reply)
{
	struct uk_ctx u = { req->enctype, reply };
	struct call c;
	int rc;

	call_enter(&c);
	rc = invoke(PYB(b), CB_USER_KEY, jz_py_user_key_args(req), conv_user_key, &u);
	call_leave(&c);
	return rc;
}

static int conv_validate(PyObject *res, void *ctx, char *why, size_t whylen)
{
	return jz_py_validate_result(res, ctx, why, whylen);
}

static int py_validate(struct jz_backend *b, const struct jazz_validate_request *req,
		       struct jazz_validate_reply *reply)
{
	struct call c;
	int rc;

	call_enter(&c);
	rc = invoke(PYB(b), CB_VALIDATE, jz_py_validate_args(req), conv_validate, reply);
	call_leave(&c);
	return rc;
}

struct pf_ctx {
	PyObject *users, *peers;
	unsigned char *keep_users, *keep_peers;
};

static int conv_filter(PyObject *res, void *ctx, char *why, size_t whylen)
{
	struct pf_ctx *f = ctx;

	return jz_py_filter_result(res, f->users, f->peers, f->keep_users,
				   f->keep_peers, why, whylen);
}

static int py_filter(struct jz_backend *b, const struct jazz_peer_review *review,
		     unsigned char *keep_users, unsigned char *keep_peers)
{
	struct pf_ctx f = { NULL, NULL, keep_users, keep_peers };
	struct call c;
	PyObject *arg;
	int rc;

	call_enter(&c);
	arg = jz_py_filter_args(review, &f.users, &f.peers);
	rc = invoke(PYB(b), CB_FILTER, arg, conv_filter, &f);
	Py_XDECREF(f.users);
	Py_XDECREF(f.peers);
	call_leave(&c);
	return rc;
}

static int conv_connection(PyObject *res, void *ctx, char *why, size_t whylen)
{
	return jz_py_connection_result(res, ctx, why, whylen);
}

static int py_connection(struct jz_backend *b, const struct jazz_connection_info *info,
			 struct jazz_connection_reply *reply)
{
	struct call c;
	int rc;

	call_enter(&c);
	rc = invoke(PYB(b), CB_CONNECTION, jz_py_connection_args(info), conv_connection,
		    reply);
	call_leave(&c);
	return rc;
}

/* ---- loading ----------------------------------------------------------- */

static void py_destroy(struct jz_backend *b)
{
	struct pyb *p = PYB(b);
	PyGILState_STATE g = PyGILState_Ensure();
	PyObject *mods = PySys_GetObject("modules");

	/* the module stays importable while it is the current one */
	if (mods && PyDict_GetItemString(mods, MODULE_NAME) == p->module &&
	    PyDict_DelItemString(mods, MODULE_NAME))
		PyErr_Clear();
	for (int i = 0; i < CB__COUNT; i++)
		Py_XDECREF(p->fn[i]);
	Py_XDECREF(p->module);
	PyGILState_Release(g);
	free(p);
}

/* Finds the five callbacks; a name bound to a non-callable is an error. */
static int find_callbacks(struct pyb *p, const char *path, char *err, size_t errlen)
{
	for (int i = 0; i < CB__COUNT; i++) {
		PyObject *f = NULL;

		f = PyObject_GetAttrString(p->module, cb_names[i]);
		if (!f) {
			if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
				log_exception("load", err, errlen);
				return -1;
			}
			PyErr_Clear();
		}
		if (f && !PyCallable_Check(f)) {
			snprintf(err, errlen, "python %s: %s is a %s, not a function", path,
				 cb_names[i], Py_TYPE(f)->tp_name);
			Py_DECREF(f);
			return -1;
		}
		p->fn[i] = f;
	}
	return 0;
}

static struct pyb *load_module(const char *path, char *err, size_t errlen)
{
	char what[64 + PATH_MAX];
	char summary[400];
	struct pyb *p;
	PyObject *mod;

	mod = PyObject_CallFunction(g_load, "ss", path, MODULE_NAME);
	if (!mod) {
		snprintf(what, sizeof(what), "load %s", path);
		log_exception_skip(what, summary, sizeof(summary), 1);
		snprintf(err, errlen, "python %s: %s", path, summary);
		return NULL;
	}
	p = calloc(1, sizeof(*p) + strlen(path) + 8);
	sprintf(p->name, "python:%s", path);
	p->module = mod;
	if (find_callbacks(p, path, err, errlen)) {
		for (int i = 0; i < CB__COUNT; i++)
			Py_XDECREF(p->fn[i]);
		Py_DECREF(mod);
		free(p);
		return NULL;
	}
	return p;
}

/*
 * A load runs on a thread of its own with a time limit, so that module code
 * that hangs (a network call at import time) cannot hang jazzd's SIGHUP
 * handling for good: past the limit the load is interrupted like a late
 * callback, and abandoned if it still does not end.
 */
#define LOAD_TIMEOUT_MS_DEFAULT 5000

struct loadjob {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int refs;
	bool done, abandoned;
	unsigned long tid;
	struct pyb *p;
	char err[1024];
	char path[];
};

static PyObject *g_current;	/* module of the last successful load */

static void job_put(struct loadjob *j)
{
	int left;

	pthread_mutex_lock(&j->lock);
	left = --j->refs;
	pthread_mutex_unlock(&j->lock);
	if (left)
		return;
	pthread_mutex_destroy(&j->lock);
	pthread_cond_destroy(&j->cond);
	free(j);
}

/* With the GIL: a load that came back too late is dropped. */
static void drop_late(struct pyb *p)
{
	PyObject *mods = PySys_GetObject("modules");

	if (mods && PyDict_GetItemString(mods, MODULE_NAME) == p->module) {
		if (g_current)
			PyDict_SetItemString(mods, MODULE_NAME, g_current);
		else
			PyDict_DelItemString(mods, MODULE_NAME);
		PyErr_Clear();
	}
	for (int i = 0; i < CB__COUNT; i++)
		Py_XDECREF(p->fn[i]);
	Py_XDECREF(p->module);
	free(p);
}

static void *load_main(void *arg)
{
	struct loadjob *j = arg;
	PyGILState_STATE g = PyGILState_Ensure();
	unsigned long tid = PyThread_get_thread_ident();
	struct running *r = slot_get(tid);
	struct pyb *p;

	running_start(r);
	pthread_mutex_lock(&j->lock);
	j->tid = tid;
	pthread_mutex_unlock(&j->lock);
	p = load_module(j->path, j->err, sizeof(j->err));
	running_stop(r, tid);
	pthread_mutex_lock(&j->lock);
	if (j->abandoned && p) {
		jz_warn("python %s: the abandoned load finished late; dropped", j->path);
		drop_late(p);
		p = NULL;
	}
	j->p = p;
	j->done = true;
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->lock);
	PyGILState_Release(g);
	job_put(j);
	return NULL;
}

static long load_timeout_ms(void)
{
	const char *e = getenv("JAZZD_PYTHON_LOAD_TIMEOUT_MS");
	long v = e ? strtol(e, NULL, 10) : 0;

	return v > 0 ? v : LOAD_TIMEOUT_MS_DEFAULT;
}

/* Waits until the job is done or ms have passed; true if done. */
static bool job_wait(struct loadjob *j, long ms)
{
	struct timespec until;

	ts_add_ms(&until, ms);
	while (!j->done)
		if (pthread_cond_timedwait(&j->cond, &j->lock, &until))
			break;
	return j->done;
}

static struct pyb *load_bounded(const char *path, char *err, size_t errlen)
{
	struct loadjob *j = calloc(1, sizeof(*j) + strlen(path) + 1);
	long ms = load_timeout_ms();
	pthread_condattr_t ca;
	pthread_t th;
	struct pyb *p;

	strcpy(j->path, path);
	j->refs = 2;
	pthread_mutex_init(&j->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&th, NULL, load_main, j)) {
		snprintf(err, errlen, "python %s: cannot start the load thread", path);
		free(j);
		return NULL;
	}
	pthread_detach(th);
	pthread_mutex_lock(&j->lock);
	if (!job_wait(j, ms)) {
		unsigned long tid = j->tid;

		pthread_mutex_unlock(&j->lock);
		jz_warn("python %s: module code still running after %ld ms; interrupting",
			path, ms);
		if (tid)
			request_interrupt(tid);
		pthread_mutex_lock(&j->lock);
		if (!job_wait(j, 1000)) {
			j->abandoned = true;
			snprintf(j->err, sizeof(j->err), "python %s: loading took longer "
				 "than %ld ms (module code blocked); abandoned", path, ms);
		} else if (!j->p) {
			snprintf(j->err, sizeof(j->err), "python %s: loading took longer "
				 "than %ld ms; interrupted (traceback above)", path, ms);
		}
	}
	p = j->p;
	snprintf(err, errlen, "%s", j->err);
	pthread_mutex_unlock(&j->lock);
	job_put(j);
	return p;
}

struct jz_backend *jz_python_load(const char *path, char *err, size_t errlen)
{
	PyGILState_STATE g;
	struct pyb *p;

	pthread_mutex_lock(&load_lock);
	if (py_broken) {
		snprintf(err, errlen, "python: the interpreter failed to start earlier");
		pthread_mutex_unlock(&load_lock);
		return NULL;
	}
	if (!py_started) {
		if (py_start(err, errlen)) {
			py_broken = true;
			pthread_mutex_unlock(&load_lock);
			return NULL;
		}
		py_started = true;
	}
	p = load_bounded(path, err, errlen);
	if (p) {
		g = PyGILState_Ensure();
		Py_XDECREF(g_current);
		g_current = p->module;
		Py_INCREF(g_current);
		PyGILState_Release(g);
	}
	pthread_mutex_unlock(&load_lock);
	if (!p)
		return NULL;

	p->b.name = p->name;
	p->b.concurrent = true;
	p->b.priv = p;
	p->b.interrupt = py_interrupt;
	p->b.destroy = py_destroy;
	if (p->fn[CB_ACCEPT])
		p->b.accept_conn = py_accept;
	if (p->fn[CB_USER_KEY])
		p->b.user_key = py_user_key;
	if (p->fn[CB_VALIDATE])
		p->b.validate_user = py_validate;
	if (p->fn[CB_FILTER])
		p->b.peer_filter = py_filter;
	if (p->fn[CB_CONNECTION])
		p->b.peer_connection = py_connection;
	jz_info("python %s: loaded, defines:%s%s%s%s%s", path,
		p->fn[CB_ACCEPT] ? " accept_conn" : "",
		p->fn[CB_USER_KEY] ? " user_key" : "",
		p->fn[CB_VALIDATE] ? " validate_user" : "",
		p->fn[CB_FILTER] ? " peer_filter" : "",
		p->fn[CB_CONNECTION] ? " peer_connection" : "");
	return &p->b;
}
