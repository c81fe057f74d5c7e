/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The callback dispatcher: picks the backend that answers each callback
 * ([callbacks] order), runs the call on a worker thread, and brings the
 * result back to the event loop with a timeout and fail-closed answers.
 *
 * Usage: call = jz_cb_call_new(kind); fill call->u.<kind> (strings with
 * jz_cb_strdup so they live as long as the call); jz_cb_submit(). The done
 * function runs on the loop thread exactly once unless the call is
 * cancelled first; the call is freed by the dispatcher afterwards.
 *
 * policy/ interface: other folders include only this header of policy/.
 */
#ifndef JAZZD_CALLBACKS_H
#define JAZZD_CALLBACKS_H

#include <stdbool.h>
#include <event2/event.h>
#include <jazz/events.h>

#include "core/jazzd.h"

enum jz_cb_kind {
	JZ_CB_ACCEPT_CONN,
	JZ_CB_USER_KEY,
	JZ_CB_VALIDATE_USER,
	JZ_CB_PEER_FILTER,
	JZ_CB_PEER_CONNECTION,
	JZ_CB_WORK,		/* not a callback: fn(arg) on a worker, no timeout */
};

struct jz_cb_call;
typedef void (*jz_cb_done_fn)(void *arg, struct jz_cb_call *call);
/*
 * A peer_filter call's arrays built on the loop thread when a worker is
 * about to take it (or when it fails before that), not at submit: a call
 * held behind a burst holds no O(peers) review. Returns false when there
 * is nothing left to ask (its viewers went away): done() is then called
 * with the call not run (skipped).
 */
typedef bool (*jz_cb_prepare_fn)(void *arg, struct jz_cb_call *call);

struct jz_cb_call {
	enum jz_cb_kind kind;
	/* outcome, valid in done(): */
	bool failed;		/* error or timeout: the fail-closed answer */
	bool defaulted;		/* no backend defines it: the default answer */
	const char *backend;	/* name of the backend that answered */
	uint64_t run_ns;	/* time it spent in the backend (0: not run) */
	/*
	 * peer_filter only: held_out, it failed waiting for a worker (no
	 * peer_filter call came back for 20 x timeout_ms: workers stuck);
	 * skipped, prepare() said there was nothing to ask. A call that
	 * waits while the workers make progress is never failed.
	 */
	bool held_out;
	bool skipped;
	jz_cb_prepare_fn prepare;	/* set before jz_cb_submit (peer_filter) */
	union {
		struct {
			struct jazz_accept_info info;
			int accept;
		} accept;
		struct {
			struct jazz_user_key_request req;
			struct jazz_user_key_reply reply;
		} user_key;
		struct {
			struct jazz_validate_request req;
			struct jazz_data_item *items;
			struct jazz_validate_reply reply;
		} validate;
		struct {
			/*
			 * Viewers reviewing the same users and peers: one job
			 * for a worker, one timeout (timeout_ms for all), one
			 * answer back. A backend with peer_filter_many gets
			 * them in one call; else its peer_filter (the seed's
			 * signature) is called once per viewer, the viewer's
			 * own device (viewers[v].self) and a user owning only
			 * that (solo_user[v]) left out, as a review always had
			 * them. An error in any fails the call closed: failed
			 * means everything hidden, and the keep arrays must not
			 * be read then (a worker past the timeout may still
			 * write them). The users and peers may be shared with
			 * other calls (jz_cb_hold).
			 */
			struct jazz_peer_reviews reviews;
			unsigned char **keep_users;	/* [viewer][user] */
			unsigned char **keep_peers;	/* [viewer][peer] */
			size_t *solo_user;	/* [viewer]: or JAZZ_NO_PEER */
		} filter;
		struct {
			struct jazz_connection_info info;
			struct jazz_connection_reply reply;
		} conn;
		struct {
			void (*fn)(void *arg);
			void *arg;
		} work;
	} u;
	/* private */
	struct jz_cb_priv *priv;
};

struct jz_callbacks;

struct jz_callbacks *jz_callbacks_new(struct event_base *base,
				      const struct jz_config *c,
				      char *err, size_t errlen);
/* Loads the configured backends anew; on failure keeps the old ones. */
int jz_callbacks_reload(struct jz_callbacks *cb, const struct jz_config *c,
			char *err, size_t errlen);
void jz_callbacks_free(struct jz_callbacks *cb);

struct jz_cb_call *jz_cb_call_new(enum jz_cb_kind kind);
const char *jz_cb_strdup(struct jz_cb_call *call, const char *s);
void *jz_cb_alloc(struct jz_cb_call *call, size_t size);
/* @obj is used by the call until it is freed (on the loop thread, after
 * its worker let go of it, which may be after done()): put(obj) then. One
 * per call. */
void jz_cb_hold(struct jz_cb_call *call, void (*put)(void *obj), void *obj);
void jz_cb_submit(struct jz_callbacks *cb, struct jz_cb_call *call,
		  jz_cb_done_fn done, void *arg);
/* Whether a backend's answer in @call is one it may give (the dispatcher
 * fails closed otherwise): strings terminated and valid UTF-8, prompt
 * codes 1-63 bytes without control characters, counts and kinds in range. */
bool jz_cb_reply_valid(const struct jz_cb_call *call);
/* The caller goes away: done() will not be called. */
void jz_cb_cancel(struct jz_cb_call *call);

/* peer_filter calls waiting for a worker (back-pressure: the server
 * stops taking logins while there are many, server/limits.c). */
size_t jz_cb_filter_held(const struct jz_callbacks *cb);
/* No peer_filter call came back from a worker for 20 x timeout_ms while
 * some run: the workers are stuck, the queue is not back-pressure. */
bool jz_cb_filter_stuck(const struct jz_callbacks *cb);

/* A pool without backends, for CPU work kept off the loop (Kerberos). */
struct jz_callbacks *jz_workpool_new(struct event_base *base, int threads);

/* Statistics for tests and logs. */
struct jz_cb_stats {
	unsigned long calls, timeouts, errors;
};
void jz_callbacks_stats(struct jz_callbacks *cb, struct jz_cb_stats *st);

#endif
