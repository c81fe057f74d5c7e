/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A callback backend: the native plugin (plugin.c) or the Python events.py
 * (python.c). Both answer the five callbacks of <jazz/events.h> with the
 * same data; callbacks.c chooses which backend answers, runs the call on a
 * worker thread with a timeout and turns errors into fail-closed answers.
 *
 * A NULL function pointer means the backend does not define that callback.
 * Functions are called from worker threads; a backend that is not
 * thread-safe sets concurrent = false and callbacks.c serializes its calls.
 *
 * Internal to policy/ (and its tests): other folders include callbacks.h.
 */
#ifndef JAZZD_BACKEND_H
#define JAZZD_BACKEND_H

#include <stdbool.h>
#include <jazz/events.h>

struct jz_backend {
	const char *name;	/* "plugin:/path/x.so" or "python:/path/events.py" */
	bool concurrent;
	void *priv;

	int (*accept_conn)(struct jz_backend *b, const struct jazz_accept_info *info,
			   int *accept);
	int (*user_key)(struct jz_backend *b, const struct jazz_user_key_request *req,
			struct jazz_user_key_reply *reply);
	int (*validate_user)(struct jz_backend *b,
			     const struct jazz_validate_request *req,
			     struct jazz_validate_reply *reply);
	int (*peer_filter)(struct jz_backend *b, const struct jazz_peer_review *review,
			   unsigned char *keep_users, unsigned char *keep_peers);
	/* many viewers in one call (plugins exporting peer_filter_many);
	 * NULL: callbacks.c calls peer_filter once per viewer */
	int (*peer_filter_many)(struct jz_backend *b, const struct jazz_peer_reviews *r,
				unsigned char *const *keep_users,
				unsigned char *const *keep_peers);
	int (*peer_connection)(struct jz_backend *b,
			       const struct jazz_connection_info *info,
			       struct jazz_connection_reply *reply);

	/* Interrupt a call running on another thread past its timeout, if the
	 * backend can (Python raises an exception in it); may be NULL. */
	void (*interrupt)(struct jz_backend *b, unsigned long thread_id);
	void (*destroy)(struct jz_backend *b);
};

/*
 * Loading: each returns NULL with a message in err on failure, so that a
 * failed reload keeps the backend already in use.
 */
struct jz_backend *jz_plugin_load(const char *path, char *err, size_t errlen);
struct jz_backend *jz_python_load(const char *path, char *err, size_t errlen);

#endif
