/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internals of the Python backend (python.c: interpreter, `jazz` module,
 * loading, threads; python_conv.c: C structs <-> Python values). The
 * public entry point is jz_python_load() in backend.h.
 *
 * Every function here is called with the GIL held.
 *
 * Internal to policy/ (and its tests).
 */
#ifndef JAZZD_PYTHON_H
#define JAZZD_PYTHON_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <jazz/events.h>

/* Interned dict keys, created once at interpreter start. */
enum jz_py_key {
	K_IP, K_PORT, K_SOURCE, K_SOURCE_IP, K_SOURCE_PORT,
	K_USERNAME, K_REALM, K_ENCTYPE, K_DEVICE, K_METHOD, K_OTHER_DATA,
	K_ROUND, K_CODE, K_VALUE, K_USERS, K_PEERS, K_VIP4, K_VIP6,
	K_ORIGIN_USERNAME, K_ORIGIN_REALM, K_ORIGIN_DEVICE, K_ORIGIN,
	K_ORIGIN_IP, K_ORIGIN_PORT, K_DESTINATION_DEVICE, K_DESTINATION,
	K_DESTINATION_IP, K_DESTINATION_PORT, K_PROTOCOL, K_STATUS, K_PROMPTS,
	K_MESSAGE, K_TEXT, K_SECRET, K_APPROVE, K_LIFETIME, K_RELAYED,
	K__COUNT
};

extern PyObject *jz_py_keys[K__COUNT];
int jz_py_keys_init(void);

/* Logs "python: <what>: <msg>" (msg may hold several lines). */
void jz_py_log(int level, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Argument builders: a new dict, or NULL with a Python exception set.
 * peer_filter also returns its two entry lists (new references) so that
 * the reply can be matched against the very objects that were passed.
 */
PyObject *jz_py_accept_args(const struct jazz_accept_info *info);
PyObject *jz_py_user_key_args(const struct jazz_user_key_request *req);
PyObject *jz_py_validate_args(const struct jazz_validate_request *req);
PyObject *jz_py_filter_args(const struct jazz_peer_review *r,
			    PyObject **users, PyObject **peers);
PyObject *jz_py_connection_args(const struct jazz_connection_info *info);

/*
 * Reply parsers: 0 when the value was a valid answer (reply filled in), -1
 * on a wrong type or value, with the reason in why (a Python exception may
 * be set too; the caller clears it).
 */
int jz_py_accept_result(PyObject *v, int *accept, char *why, size_t whylen);
int jz_py_user_key_result(PyObject *v, const char *enctype,
			  struct jazz_user_key_reply *r, char *why, size_t whylen);
int jz_py_validate_result(PyObject *v, struct jazz_validate_reply *r,
			  char *why, size_t whylen);
int jz_py_filter_result(PyObject *v, PyObject *users, PyObject *peers,
			unsigned char *keep_users, unsigned char *keep_peers,
			char *why, size_t whylen);
int jz_py_connection_result(PyObject *v, struct jazz_connection_reply *r,
			    char *why, size_t whylen);

#endif
