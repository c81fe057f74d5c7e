// SPDX-License-Identifier: GPL-2.0
/*
 * Callback dispatcher: backends in the configured order, a small pool of
 * worker threads, results handed back to the event loop through a list
 * and an eventfd, a timer per call. Only the loop thread touches a call's
 * bookkeeping except for the two atomics "abandoned" and "thread".
 *
 * The hand-back: a worker appends the finished call to the done list and
 * writes the eventfd only when the list was empty, i.e. when the loop has
 * not been woken for it yet; the loop takes the whole list per wakeup.
 * Under load (many logins at once) one wakeup and one read serve many
 * calls, where a pipe cost a write per call and two reads per wakeup.
 *
 * Must not know what a callback's answer means to the server (server/ does).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "metrics/metrics.h"
#include "backend.h"
#include "callbacks.h"
#include "log.h"

#define MAX_BACKENDS 2
#define JZ_DEFAULT_EVENTS_PY "/etc/jazz/events.py"

/* The Python developer's python.c overrides this when it is built in. */
__attribute__((weak)) struct jz_backend *jz_python_load(const char *path,
							  char *err, size_t errlen)
{
	snprintf(err, errlen, "python support not built");
	return NULL;
}

/*
 * The events.py to load: the configured one, or /etc/jazz/events.py when
 * that exists and nothing was configured; "python =" empty or "none" turns
 * Python off. A configured file that is missing is an error at load.
 */
static const char *python_path(const struct jz_config *c)
{
	if (!c->python)
		return access(JZ_DEFAULT_EVENTS_PY, F_OK) ? NULL : JZ_DEFAULT_EVENTS_PY;
	if (!*c->python || !strcmp(c->python, "none"))
		return NULL;
	return c->python;
}

/* A set of loaded backends; calls keep a reference across a reload. */
struct bset {
	int refs;
	size_t n;
	struct jz_backend *b[MAX_BACKENDS];
	pthread_mutex_t lock[MAX_BACKENDS];	/* for !concurrent backends */
};

struct strnode {
	struct strnode *next;
	char data[];
};

struct jz_cb_priv {
	struct jz_callbacks *cb;
	struct bset *set;
	int idx;		/* backend index, -1: default answer */
	jz_cb_done_fn done;
	void *arg;
	struct event *timer;
	bool delivered;		/* done() called (or cancelled) */
	atomic_bool abandoned;	/* the worker must not run it / ignore result */
	atomic_ulong thread;	/* worker running it, 0 if none */
	int rc;
	struct strnode *mem;
	void (*put)(void *obj);	/* jz_cb_hold */
	void *obj;
	struct jz_cb_call *qnext;	/* submit queue */
	struct jz_cb_call *dnext;	/* done list */
	struct jz_cb_call *hnext;	/* held peer_filter calls (loop thread) */
	bool held;		/* waiting in the held queue */
	bool dispatched;	/* counted in filter_inflight */
};

struct jz_callbacks {
	struct event_base *base;
	struct bset *set;
	int timeout_ms;
	int efd;		/* eventfd: "the done list has calls" */
	struct event *done_ev;
	pthread_mutex_t dlock;
	struct jz_cb_call *dhead, *dtail;
	pthread_t *threads;
	int n_threads;
	pthread_mutex_t qlock;
	pthread_cond_t qcond;
	struct jz_cb_call *qhead, *qtail;
	bool stopping;
	struct jz_cb_stats stats;
	/*
	 * Back-pressure for peer_filter: at most n_threads - 1 calls are with the
	 * workers at once, the rest wait here (loop thread only) and their
	 * timeout starts when they go to a worker, so a join burst's queue
	 * does not eat the callback's time. Waiting is back-pressure, not a
	 * failure: a held call fails only when no peer_filter call came back
	 * from a worker for JZ_CB_HOLD_FACTOR timeouts (workers stuck in
	 * callbacks), however long the queue.
	 */
	struct jz_cb_call *hhead, *htail;
	size_t nheld;
	int filter_inflight;
	uint64_t filter_back_ns;	/* when a worker last gave one back (or,
					 * when none ran, when one was given) */
};

#define JZ_CB_HOLD_FACTOR 20

static const char *const kind_names[] = {
	"accept_conn", "user_key", "validate_user", "peer_filter", "peer_connection",
	"work",
};

static void bset_put(struct bset *s)
{
	if (!s || --s->refs > 0)
		return;
	for (size_t i = 0; i < s->n; i++) {
		if (s->b[i]->destroy)
			s->b[i]->destroy(s->b[i]);
		pthread_mutex_destroy(&s->lock[i]);
	}
	free(s);
}

static struct bset *bset_load(const struct jz_config *c, char *err, size_t errlen)
{
	struct bset *s = calloc(1, sizeof(*s));
	char order[128];
	char *tok, *save;

	s->refs = 1;
	snprintf(order, sizeof(order), "%s", c->order ? c->order : "plugin,python");
	for (tok = strtok_r(order, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		struct jz_backend *b = NULL;

		if (!strcmp(tok, "plugin")) {
			if (!c->plugin || !*c->plugin)
				continue;
			b = jz_plugin_load(c->plugin, err, errlen);
		} else if (!strcmp(tok, "python")) {
			const char *py = python_path(c);

			if (!py)
				continue;
			b = jz_python_load(py, err, errlen);
		} else {
			snprintf(err, errlen, "[callbacks] order: unknown backend '%s'", tok);
			goto fail;
		}
		if (!b)
			goto fail;
		if (s->n == MAX_BACKENDS) {
			b->destroy(b);
			snprintf(err, errlen, "[callbacks] order names a backend twice");
			goto fail;
		}
		pthread_mutex_init(&s->lock[s->n], NULL);
		s->b[s->n++] = b;
		jz_info("callbacks: loaded %s", b->name);
	}
	return s;
fail:
	bset_put(s);
	return NULL;
}

static bool backend_has(struct jz_backend *b, enum jz_cb_kind k)
{
	switch (k) {
	case JZ_CB_ACCEPT_CONN: return b->accept_conn;
	case JZ_CB_USER_KEY: return b->user_key;
	case JZ_CB_VALIDATE_USER: return b->validate_user;
	case JZ_CB_PEER_FILTER: return b->peer_filter || b->peer_filter_many;
	case JZ_CB_PEER_CONNECTION: return b->peer_connection;
	case JZ_CB_WORK: return false;
	}
	return false;
}

/* @n items of @size at @src less item @skip, into @dst (n - 1 items) */
static void copy_less_one(void *dst, const void *src, size_t n, size_t skip, size_t size)
{
	memcpy(dst, src, skip * size);
	memcpy((char *)dst + skip * size, (const char *)src + (skip + 1) * size,
	       (n - skip - 1) * size);
}

/* the answers for @n - 1 items back into @dst (n items), item @skip left */
static void copy_back_one(unsigned char *dst, const unsigned char *src, size_t n, size_t skip)
{
	memcpy(dst, src, skip);
	memcpy(dst + skip + 1, src + skip, n - skip - 1);
}

/*
 * The seed's peer_filter, once per viewer of the call: its review is the
 * call's users and peers less its own device and a user owning only that
 * (what a review always held), copied as entries, not strings, into one
 * array reused for every viewer; its answers mapped back. Stops at an
 * error, or when the call was abandoned (timed out) meanwhile.
 */
static int filter_each(struct jz_backend *b, struct jz_cb_call *c)
{
	const struct jazz_peer_reviews *rs = &c->u.filter.reviews;
	struct jazz_peer_entry *pe = NULL;
	struct jazz_user_entry *ue = NULL;
	unsigned char *kp = NULL, *ku = NULL;
	int rc = JAZZ_CB_OK;

	for (size_t v = 0; v < rs->n_viewers && rc == JAZZ_CB_OK; v++) {
		const struct jazz_viewer *w = &rs->viewers[v];
		size_t self = w->self;
		size_t solo = c->u.filter.solo_user ? c->u.filter.solo_user[v] : JAZZ_NO_PEER;
		unsigned char *kpv = c->u.filter.keep_peers[v], *kuv = c->u.filter.keep_users[v];
		struct jazz_peer_review r = {
			.username = w->username, .realm = w->realm, .source = w->source,
			.users = rs->users, .n_users = rs->n_users,
			.peers = rs->peers, .n_peers = rs->n_peers,
		};

		if (v && atomic_load(&c->priv->abandoned)) {
			rc = JAZZ_CB_ERROR;	/* timed out: stop here */
			break;
		}
		if ((self < rs->n_peers && !pe) || (solo < rs->n_users && !ue)) {
			pe = pe ?: malloc((rs->n_peers + 1) * sizeof(*pe));
			kp = kp ?: malloc(rs->n_peers + 1);
			ue = ue ?: malloc((rs->n_users + 1) * sizeof(*ue));
			ku = ku ?: malloc(rs->n_users + 1);
			if (!pe || !kp || !ue || !ku) {
				rc = JAZZ_CB_ERROR;
				break;
			}
		}
		if (self < rs->n_peers) {
			copy_less_one(pe, rs->peers, rs->n_peers, self, sizeof(*pe));
			memset(kp, 1, rs->n_peers - 1);
			r.peers = pe;
			r.n_peers = rs->n_peers - 1;
		}
		if (solo < rs->n_users) {
			copy_less_one(ue, rs->users, rs->n_users, solo, sizeof(*ue));
			memset(ku, 1, rs->n_users - 1);
			r.users = ue;
			r.n_users = rs->n_users - 1;
		}
		rc = b->peer_filter(b, &r, solo < rs->n_users ? ku : kuv,
				    self < rs->n_peers ? kp : kpv);
		if (self < rs->n_peers)
			copy_back_one(kpv, kp, rs->n_peers, self);
		if (solo < rs->n_users)
			copy_back_one(kuv, ku, rs->n_users, solo);
	}
	free(pe);
	free(kp);
	free(ue);
	free(ku);
	return rc;
}

static int backend_call(struct jz_backend *b, struct jz_cb_call *c)
{
	switch (c->kind) {
	case JZ_CB_ACCEPT_CONN:
		return b->accept_conn(b, &c->u.accept.info, &c->u.accept.accept);
	case JZ_CB_USER_KEY:
		return b->user_key(b, &c->u.user_key.req, &c->u.user_key.reply);
	case JZ_CB_VALIDATE_USER:
		return b->validate_user(b, &c->u.validate.req, &c->u.validate.reply);
	case JZ_CB_PEER_FILTER:
		if (b->peer_filter_many)
			return b->peer_filter_many(b, &c->u.filter.reviews,
						   c->u.filter.keep_users,
						   c->u.filter.keep_peers);
		return filter_each(b, c);
	case JZ_CB_PEER_CONNECTION:
		return b->peer_connection(b, &c->u.conn.info, &c->u.conn.reply);
	case JZ_CB_WORK:
		break;
	}
	return JAZZ_CB_ERROR;
}

/* Every answer of a peer_filter call, for each of its viewers: all kept
 * (1) or all hidden (0). */
static void filter_fill(struct jz_cb_call *c, int v)
{
	const struct jazz_peer_reviews *rs = &c->u.filter.reviews;

	for (size_t i = 0; i < rs->n_viewers; i++) {
		memset(c->u.filter.keep_users[i], v, rs->n_users);
		memset(c->u.filter.keep_peers[i], v, rs->n_peers);
	}
}

/* Answers when no backend defines the callback. */
static void set_default(struct jz_cb_call *c)
{
	switch (c->kind) {
	case JZ_CB_ACCEPT_CONN:
		c->u.accept.accept = 1;
		break;
	case JZ_CB_USER_KEY:
		c->u.user_key.reply.kind = JAZZ_USER_KEY_UNKNOWN_USER;
		break;
	case JZ_CB_VALIDATE_USER:
		c->u.validate.reply.status = JAZZ_VALIDATE_USER_STATUS_ACCEPTED;
		c->u.validate.reply.n_prompts = 0;
		break;
	case JZ_CB_PEER_FILTER:
		filter_fill(c, 1);
		break;
	case JZ_CB_PEER_CONNECTION:
		c->u.conn.reply.approve = 1;
		c->u.conn.reply.lifetime_s = 0;
		break;
	case JZ_CB_WORK:
		break;
	}
}

/* Answers after an error or a timeout: refuse / reject / hide / deny. */
static void set_fail_closed(struct jz_cb_call *c)
{
	c->failed = true;
	switch (c->kind) {
	case JZ_CB_ACCEPT_CONN:
		c->u.accept.accept = 0;
		break;
	case JZ_CB_USER_KEY:
		memset(&c->u.user_key.reply, 0, sizeof(c->u.user_key.reply));
		c->u.user_key.reply.kind = JAZZ_USER_KEY_UNKNOWN_USER;
		break;
	case JZ_CB_VALIDATE_USER:
		c->u.validate.reply.status = JAZZ_VALIDATE_USER_STATUS_REJECTED;
		c->u.validate.reply.n_prompts = 0;
		snprintf(c->u.validate.reply.message, sizeof(c->u.validate.reply.message),
			 "user validation failed");
		break;
	case JZ_CB_PEER_FILTER:
		/* everything hidden: c->failed says so; the arrays are left
		 * alone, a worker past the timeout may still write them */
		break;
	case JZ_CB_PEER_CONNECTION:
		c->u.conn.reply.approve = 0;
		c->u.conn.reply.lifetime_s = 0;
		break;
	case JZ_CB_WORK:
		break;
	}
}

/* NUL-terminated within @size and valid UTF-8 (jansson's own test, so
 * exactly what json_pack will take when the text goes on the wire). */
static bool text_ok(const char *t, size_t size)
{
	json_t *j;

	if (!memchr(t, 0, size))
		return false;
	j = json_string(t);
	json_decref(j);
	return j != NULL;
}

/* Reply sanity: an answer a backend cannot give is an error. */
bool jz_cb_reply_valid(const struct jz_cb_call *c)
{
	switch (c->kind) {
	case JZ_CB_USER_KEY: {
		const struct jazz_user_key_reply *r = &c->u.user_key.reply;

		if (r->kind == JAZZ_USER_KEY_PASSWORD)
			return memchr(r->password, 0, sizeof(r->password)) != NULL;
		if (r->kind == JAZZ_USER_KEY_RAW)
			return r->key_len > 0 && r->key_len <= JAZZ_RAW_KEY_MAX;
		return r->kind == JAZZ_USER_KEY_UNKNOWN_USER;
	}
	case JZ_CB_VALIDATE_USER: {
		const struct jazz_validate_reply *r = &c->u.validate.reply;

		/* the message goes to the client with a reject or a challenge */
		if (!text_ok(r->message, sizeof(r->message)))
			return false;
		if (r->status != JAZZ_VALIDATE_USER_STATUS_MORE_DATA)
			return r->status == JAZZ_VALIDATE_USER_STATUS_ACCEPTED ||
			       r->status == JAZZ_VALIDATE_USER_STATUS_REJECTED;
		if (r->n_prompts < 1 || r->n_prompts > JAZZ_PROMPTS_MAX)
			return false;
		/* a code the client can answer with: 1-63 bytes of UTF-8
		 * without control characters */
		for (size_t i = 0; i < r->n_prompts; i++) {
			const char *code = r->prompts[i].code;

			if (!text_ok(code, sizeof(r->prompts[i].code)) || !code[0] ||
			    !text_ok(r->prompts[i].text, sizeof(r->prompts[i].text)))
				return false;
			for (; *code; code++)
				if ((unsigned char)*code < 0x20 || *code == 0x7f)
					return false;
		}
		return true;
	}
	case JZ_CB_PEER_CONNECTION:
		return c->u.conn.reply.approve == 0 || c->u.conn.reply.approve == 1;
	default:
		return true;
	}
}

static void queue_push(struct jz_callbacks *cb, struct jz_cb_call *c);
static void call_free(struct jz_cb_call *c);
static void on_default(evutil_socket_t fd, short what, void *arg);
static void arm_timer(struct jz_callbacks *cb, struct jz_cb_call *c, int ms);

/*
 * How many peer_filter calls @c's backend may run at once: every worker
 * but one. The one left is the login path's (accept_conn, user_key,
 * validate_user) and the approvals' (peer_connection): with every worker
 * in a join burst's reviews, a login's callbacks waited behind them and
 * timed out (fail-closed: the device was refused and retried, and the
 * burst grew). A backend that is not concurrent runs one call at a time
 * anyway (its other callbacks wait for that one call at most).
 */
static int filter_room(struct jz_callbacks *cb, struct jz_cb_call *c)
{
	struct jz_cb_priv *p = c->priv;

	if (p->idx >= 0 && !p->set->b[p->idx]->concurrent)
		return 1;
	return cb->n_threads > 1 ? cb->n_threads - 1 : 1;
}

/*
 * Loop thread: held peer_filter calls go to the workers while there is
 * room (a backend that is not concurrent runs one at a time anyway: one
 * at a time is all it gets, or the others' wait would count as theirs).
 */
static void filter_pump(struct jz_callbacks *cb)
{
	while (cb->hhead && cb->filter_inflight < filter_room(cb, cb->hhead)) {
		struct jz_cb_call *c = cb->hhead;
		struct jz_cb_priv *p = c->priv;

		cb->hhead = p->hnext;
		if (!cb->hhead)
			cb->htail = NULL;
		p->held = false;
		if (p->delivered || atomic_load(&p->abandoned)) {
			call_free(c);	/* not counted any more (held_drop) */
			continue;
		}
		cb->nheld--;
		if (c->prepare && !c->prepare(p->arg, c)) {
			struct timeval now = { 0, 0 };

			/* nothing to ask: done() from the loop, not from inside
			 * a submit */
			c->skipped = true;
			evtimer_del(p->timer);
			event_base_once(cb->base, -1, EV_TIMEOUT, on_default, c, &now);
			continue;
		}
		filter_fill(c, 1);	/* the arrays were made just now */
		if (!cb->filter_inflight)
			cb->filter_back_ns = jz_metrics_now_ns();	/* busy from now */
		p->dispatched = true;
		cb->filter_inflight++;
		arm_timer(cb, c, cb->timeout_ms);
		queue_push(cb, c);
	}
}

/* A held call answered without a worker (failed held, skipped,
 * cancelled): it stays in the queue until filter_pump frees it, but
 * waits no more. */
static void held_drop(struct jz_cb_call *c)
{
	if (c->priv->held && !c->priv->delivered && !atomic_load(&c->priv->abandoned))
		c->priv->cb->nheld--;
}

static void call_free(struct jz_cb_call *c)
{
	struct jz_cb_priv *p = c->priv;

	if (p->timer)
		event_free(p->timer);
	bset_put(p->set);
	if (p->put)
		p->put(p->obj);
	while (p->mem) {
		struct strnode *n = p->mem->next;

		free(p->mem);
		p->mem = n;
	}
	free(p);
	free(c);
}

static void deliver(struct jz_cb_call *c)
{
	struct jz_cb_priv *p = c->priv;

	if (p->delivered)
		return;
	p->delivered = true;
	if (p->timer)
		evtimer_del(p->timer);
	if (p->done)
		p->done(p->arg, c);
}

/* Loop thread: workers finished (or skipped) the calls on the done list. */
static void on_done(evutil_socket_t fd, short what, void *arg)
{
	struct jz_callbacks *cb = arg;
	struct jz_cb_call *c, *next;
	uint64_t v;

	/* resets the counter; a call added after the list is taken below
	 * finds the list empty and writes again */
	while (read(fd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&cb->dlock);
	c = cb->dhead;
	cb->dhead = cb->dtail = NULL;
	pthread_mutex_unlock(&cb->dlock);
	for (; c; c = next) {
		struct jz_cb_priv *p = c->priv;

		next = p->dnext;
		if (p->dispatched) {
			p->dispatched = false;
			cb->filter_inflight--;
			cb->filter_back_ns = jz_metrics_now_ns();
		}
		if (!p->delivered && !atomic_load(&p->abandoned)) {
			if (p->rc != JAZZ_CB_OK || !jz_cb_reply_valid(c)) {
				jz_warn("callback %s (%s) failed: %s; fail-closed",
					kind_names[c->kind], c->backend,
					p->rc != JAZZ_CB_OK ? "returned an error"
							    : "invalid answer");
				cb->stats.errors++;
				set_fail_closed(c);
			}
			deliver(c);
		}
		call_free(c);
	}
	filter_pump(cb);
}

/* Worker: hand a finished call back to the loop. */
static void done_push(struct jz_callbacks *cb, struct jz_cb_call *c)
{
	static const uint64_t one = 1;
	bool wake;

	c->priv->dnext = NULL;
	pthread_mutex_lock(&cb->dlock);
	wake = !cb->dhead;
	if (cb->dtail)
		cb->dtail->priv->dnext = c;
	else
		cb->dhead = c;
	cb->dtail = c;
	pthread_mutex_unlock(&cb->dlock);
	if (wake)
		while (write(cb->efd, &one, sizeof(one)) < 0 && errno == EINTR)
			;
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct jz_cb_call *c = arg;
	struct jz_cb_priv *p = c->priv;
	struct jz_callbacks *cb = p->cb;
	unsigned long th;

	if (p->held) {
		int hold_ms = cb->timeout_ms * JZ_CB_HOLD_FACTOR;

		/* the workers are getting through the queue: wait on (a burst's
		 * queue is not a failed filter) */
		if (jz_metrics_now_ns() - cb->filter_back_ns < (uint64_t)hold_ms * 1000000) {
			arm_timer(cb, c, hold_ms);
			return;
		}
		/* never reached a worker: filter_pump frees it */
		held_drop(c);
		atomic_store(&p->abandoned, true);
		cb->stats.timeouts++;
		if (c->prepare && !c->prepare(p->arg, c)) {
			c->skipped = true;
			deliver(c);
			return;
		}
		jz_warn("callback %s (%s) waited %d ms for a worker and none came back "
			"meanwhile; fail-closed", kind_names[c->kind], c->backend, hold_ms);
		c->held_out = true;
		set_fail_closed(c);
		deliver(c);
		return;
	}
	atomic_store(&p->abandoned, true);
	cb->stats.timeouts++;
	jz_warn("callback %s (%s) timed out after %d ms; abandoned, fail-closed",
		kind_names[c->kind], c->backend, cb->timeout_ms);
	th = atomic_load(&p->thread);
	if (th && p->idx >= 0 && p->set->b[p->idx]->interrupt)
		p->set->b[p->idx]->interrupt(p->set->b[p->idx], th);
	set_fail_closed(c);
	deliver(c);
}

static void on_default(evutil_socket_t fd, short what, void *arg)
{
	struct jz_cb_call *c = arg;

	deliver(c);
	call_free(c);
}

static void *worker(void *arg)
{
	struct jz_callbacks *cb = arg;

	for (;;) {
		struct jz_cb_call *c;
		struct jz_cb_priv *p;

		pthread_mutex_lock(&cb->qlock);
		while (!cb->qhead && !cb->stopping)
			pthread_cond_wait(&cb->qcond, &cb->qlock);
		if (!cb->qhead) {
			pthread_mutex_unlock(&cb->qlock);
			return NULL;
		}
		c = cb->qhead;
		cb->qhead = c->priv->qnext;
		if (!cb->qhead)
			cb->qtail = NULL;
		pthread_mutex_unlock(&cb->qlock);

		p = c->priv;
		if (c->kind == JZ_CB_WORK) {
			if (!atomic_load(&p->abandoned))
				c->u.work.fn(c->u.work.arg);
			p->rc = JAZZ_CB_OK;
		} else if (!atomic_load(&p->abandoned)) {
			struct jz_backend *b = p->set->b[p->idx];
			bool lock = !b->concurrent;

			if (lock)
				pthread_mutex_lock(&p->set->lock[p->idx]);
			if (!atomic_load(&p->abandoned)) {
				uint64_t t0 = jz_metrics_now_ns();

				atomic_store(&p->thread, (unsigned long)pthread_self());
				p->rc = backend_call(b, c);
				atomic_store(&p->thread, 0);
				c->run_ns = jz_metrics_now_ns() - t0;
				jz_metrics_callback_duration(kind_names[c->kind], c->run_ns);
			}
			if (lock)
				pthread_mutex_unlock(&p->set->lock[p->idx]);
		}
		done_push(cb, c);
	}
}

struct jz_cb_call *jz_cb_call_new(enum jz_cb_kind kind)
{
	struct jz_cb_call *c = calloc(1, sizeof(*c));

	c->kind = kind;
	c->priv = calloc(1, sizeof(*c->priv));
	c->priv->idx = -1;
	return c;
}

void *jz_cb_alloc(struct jz_cb_call *call, size_t size)
{
	struct strnode *n = calloc(1, sizeof(*n) + size + 1);

	n->next = call->priv->mem;
	call->priv->mem = n;
	return n->data;
}

void jz_cb_hold(struct jz_cb_call *call, void (*put)(void *obj), void *obj)
{
	call->priv->put = put;
	call->priv->obj = obj;
}

const char *jz_cb_strdup(struct jz_cb_call *call, const char *s)
{
	size_t len = strlen(s ? s : "");
	char *d = jz_cb_alloc(call, len);

	memcpy(d, s ? s : "", len);
	return d;
}

void jz_cb_submit(struct jz_callbacks *cb, struct jz_cb_call *c,
		  jz_cb_done_fn done, void *arg)
{
	struct jz_cb_priv *p = c->priv;
	struct timeval tv = { 0, 0 };

	p->cb = cb;
	p->done = done;
	p->arg = arg;
	p->set = cb->set;
	p->set->refs++;
	cb->stats.calls++;
	if (c->kind == JZ_CB_PEER_FILTER && !c->prepare)
		filter_fill(c, 1);
	if (c->kind == JZ_CB_WORK) {
		c->backend = "work";
		p->idx = 0;
		goto queue;
	}
	for (size_t i = 0; i < p->set->n; i++) {
		if (backend_has(p->set->b[i], c->kind)) {
			p->idx = (int)i;
			break;
		}
	}
	if (p->idx < 0) {
		c->defaulted = true;
		c->backend = "default";
		if (c->prepare && !c->prepare(arg, c))
			c->skipped = true;
		else
			set_default(c);
		event_base_once(cb->base, -1, EV_TIMEOUT, on_default, c, &tv);
		return;
	}
	c->backend = p->set->b[p->idx]->name;
	p->timer = evtimer_new(cb->base, on_timeout, c);
	if (c->kind == JZ_CB_PEER_FILTER) {
		p->held = true;
		cb->nheld++;
		if (cb->htail)
			cb->htail->priv->hnext = c;
		else
			cb->hhead = c;
		cb->htail = c;
		arm_timer(cb, c, cb->timeout_ms * JZ_CB_HOLD_FACTOR);
		filter_pump(cb);
		return;
	}
	arm_timer(cb, c, cb->timeout_ms);
queue:
	queue_push(cb, c);
}

static void arm_timer(struct jz_callbacks *cb, struct jz_cb_call *c, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(c->priv->timer, &tv);
}

static void queue_push(struct jz_callbacks *cb, struct jz_cb_call *c)
{
	pthread_mutex_lock(&cb->qlock);
	if (cb->qtail)
		cb->qtail->priv->qnext = c;
	else
		cb->qhead = c;
	cb->qtail = c;
	pthread_cond_signal(&cb->qcond);
	pthread_mutex_unlock(&cb->qlock);
}

void jz_cb_cancel(struct jz_cb_call *c)
{
	if (!c)
		return;
	held_drop(c);
	c->priv->delivered = true;
	atomic_store(&c->priv->abandoned, true);
	if (c->priv->timer)
		evtimer_del(c->priv->timer);
}

struct jz_callbacks *jz_callbacks_new(struct event_base *base,
				      const struct jz_config *c,
				      char *err, size_t errlen)
{
	struct jz_callbacks *cb = calloc(1, sizeof(*cb));

	cb->base = base;
	cb->timeout_ms = c->cb_timeout_ms > 0 ? c->cb_timeout_ms : 2000;
	cb->set = bset_load(c, err, errlen);
	if (!cb->set) {
		free(cb);
		return NULL;
	}
	cb->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (cb->efd < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		bset_put(cb->set);
		free(cb);
		return NULL;
	}
	pthread_mutex_init(&cb->dlock, NULL);
	cb->done_ev = event_new(base, cb->efd, EV_READ | EV_PERSIST, on_done, cb);
	event_add(cb->done_ev, NULL);
	pthread_mutex_init(&cb->qlock, NULL);
	pthread_cond_init(&cb->qcond, NULL);
	cb->n_threads = c->cb_threads > 0 ? c->cb_threads : 5;
	cb->threads = calloc(cb->n_threads, sizeof(pthread_t));
	for (int i = 0; i < cb->n_threads; i++)
		pthread_create(&cb->threads[i], NULL, worker, cb);
	return cb;
}

struct jz_callbacks *jz_workpool_new(struct event_base *base, int threads)
{
	struct jz_config c = { .order = "", .cb_threads = threads };
	char err[64];

	return jz_callbacks_new(base, &c, err, sizeof(err));
}

int jz_callbacks_reload(struct jz_callbacks *cb, const struct jz_config *c,
			char *err, size_t errlen)
{
	struct bset *s = bset_load(c, err, errlen);

	if (!s)
		return -1;
	bset_put(cb->set);
	cb->set = s;
	cb->timeout_ms = c->cb_timeout_ms > 0 ? c->cb_timeout_ms : 2000;
	return 0;
}

size_t jz_cb_filter_held(const struct jz_callbacks *cb)
{
	return cb->nheld;
}

bool jz_cb_filter_stuck(const struct jz_callbacks *cb)
{
	uint64_t hold_ns = (uint64_t)cb->timeout_ms * JZ_CB_HOLD_FACTOR * 1000000;

	return cb->filter_inflight > 0 && jz_metrics_now_ns() - cb->filter_back_ns >= hold_ns;
}

void jz_callbacks_stats(struct jz_callbacks *cb, struct jz_cb_stats *st)
{
	*st = cb->stats;
}

void jz_callbacks_free(struct jz_callbacks *cb)
{
	if (!cb)
		return;
	pthread_mutex_lock(&cb->qlock);
	cb->stopping = true;
	pthread_cond_broadcast(&cb->qcond);
	pthread_mutex_unlock(&cb->qlock);
	/* Workers stuck in a callback are not waited for: the process is
	 * going away, and joining would hang on a callback that never ends. */
	for (int i = 0; i < cb->n_threads; i++)
		pthread_detach(cb->threads[i]);
	free(cb->threads);
	event_free(cb->done_ev);
}
