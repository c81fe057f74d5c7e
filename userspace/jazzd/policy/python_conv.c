// SPDX-License-Identifier: GPL-2.0
/*
 * The Python backend's data conversions: the C structs of <jazz/events.h>
 * into dicts, and what events.py returns back into the C replies. The
 * shapes are specified in docs/CALLBACKS.md ("Python"); keep both in step.
 *
 * Return values are checked strictly: anything but the documented types
 * is an error (the dispatcher then uses the fail-closed answer), so that a
 * typo in a policy never silently turns into "accept".
 *
 * Must not touch the interpreter's state (python.c, python_interp.c).
 */
#include <stdio.h>
#include <string.h>

#include "python.h"

PyObject *jz_py_keys[K__COUNT];

static const char *const key_names[K__COUNT] = {
	[K_IP] = "ip", [K_PORT] = "port", [K_SOURCE] = "source",
	[K_SOURCE_IP] = "source_ip", [K_SOURCE_PORT] = "source_port",
	[K_USERNAME] = "username", [K_REALM] = "realm", [K_ENCTYPE] = "enctype",
	[K_DEVICE] = "device", [K_METHOD] = "method", [K_OTHER_DATA] = "other_data",
	[K_ROUND] = "round", [K_CODE] = "code", [K_VALUE] = "value",
	[K_USERS] = "users", [K_PEERS] = "peers", [K_VIP4] = "vip4", [K_VIP6] = "vip6",
	[K_ORIGIN_USERNAME] = "origin_username", [K_ORIGIN_REALM] = "origin_realm",
	[K_ORIGIN_DEVICE] = "origin_device", [K_ORIGIN] = "origin",
	[K_ORIGIN_IP] = "origin_ip", [K_ORIGIN_PORT] = "origin_port",
	[K_DESTINATION_DEVICE] = "destination_device",
	[K_DESTINATION] = "destination", [K_DESTINATION_IP] = "destination_ip",
	[K_DESTINATION_PORT] = "destination_port", [K_PROTOCOL] = "protocol",
	[K_STATUS] = "status", [K_PROMPTS] = "prompts", [K_MESSAGE] = "message",
	[K_TEXT] = "text", [K_SECRET] = "secret", [K_APPROVE] = "approve",
	[K_LIFETIME] = "lifetime", [K_RELAYED] = "relayed",
};

int jz_py_keys_init(void)
{
	for (int i = 0; i < K__COUNT; i++) {
		jz_py_keys[i] = PyUnicode_InternFromString(key_names[i]);
		if (!jz_py_keys[i])
			return -1;
	}
	return 0;
}

#define KEY(k) jz_py_keys[K_##k]

/* ---- building the arguments ------------------------------------------ */

/* Strings from the network may be any bytes: keep them round-trippable. */
static PyObject *str(const char *s)
{
	if (!s)
		s = "";
	return PyUnicode_DecodeUTF8(s, strlen(s), "surrogateescape");
}

/* Steals v. A NULL v (failed conversion) fails the whole build. */
static int put(PyObject *d, PyObject *key, PyObject *v)
{
	int rc;

	if (!v)
		return -1;
	rc = PyDict_SetItem(d, key, v);
	Py_DECREF(v);
	return rc;
}

/* "ip:port", "[ip6]:port" */
static PyObject *endpoint_str(const struct jazz_endpoint *e)
{
	if (strchr(e->ip, ':'))
		return PyUnicode_FromFormat("[%s]:%u", e->ip, (unsigned int)e->port);
	return PyUnicode_FromFormat("%s:%u", e->ip, (unsigned int)e->port);
}

/* Adds source, source_ip, source_port (or the given three keys). */
static int put_endpoint(PyObject *d, const struct jazz_endpoint *e,
			PyObject *k, PyObject *k_ip, PyObject *k_port)
{
	if (put(d, k, endpoint_str(e)) || put(d, k_ip, str(e->ip)) ||
	    put(d, k_port, PyLong_FromLong(e->port)))
		return -1;
	return 0;
}

static PyObject *fail(PyObject *d)
{
	Py_XDECREF(d);
	return NULL;
}

PyObject *jz_py_accept_args(const struct jazz_accept_info *info)
{
	PyObject *d = PyDict_New();

	if (!d || put_endpoint(d, &info->source, KEY(SOURCE), KEY(IP), KEY(PORT)))
		return fail(d);
	return d;
}

PyObject *jz_py_user_key_args(const struct jazz_user_key_request *req)
{
	PyObject *d = PyDict_New();

	if (!d || put(d, KEY(USERNAME), str(req->username)) ||
	    put(d, KEY(REALM), str(req->realm)) ||
	    put_endpoint(d, &req->source, KEY(SOURCE), KEY(SOURCE_IP), KEY(SOURCE_PORT)) ||
	    put(d, KEY(ENCTYPE), str(req->enctype)))
		return fail(d);
	return d;
}

static PyObject *data_items(const struct jazz_data_item *it, size_t n)
{
	PyObject *l = PyList_New((Py_ssize_t)n);

	for (size_t i = 0; l && i < n; i++) {
		PyObject *d = PyDict_New();

		if (!d || put(d, KEY(CODE), str(it[i].code)) ||
		    put(d, KEY(VALUE), str(it[i].value))) {
			Py_XDECREF(d);
			Py_DECREF(l);
			return NULL;
		}
		PyList_SET_ITEM(l, (Py_ssize_t)i, d);
	}
	return l;
}

PyObject *jz_py_validate_args(const struct jazz_validate_request *req)
{
	PyObject *d = PyDict_New();

	if (!d || put(d, KEY(USERNAME), str(req->username)) ||
	    put(d, KEY(REALM), str(req->realm)) ||
	    put(d, KEY(DEVICE), str(req->device)) ||
	    put_endpoint(d, &req->source, KEY(SOURCE), KEY(SOURCE_IP), KEY(SOURCE_PORT)) ||
	    put(d, KEY(METHOD), str(req->method)) ||
	    put(d, KEY(OTHER_DATA), data_items(req->other_data, req->n_other_data)) ||
	    put(d, KEY(ROUND), PyLong_FromUnsignedLong(req->round)))
		return fail(d);
	return d;
}

static PyObject *user_list(const struct jazz_user_entry *u, size_t n)
{
	PyObject *l = PyList_New((Py_ssize_t)n);

	for (size_t i = 0; l && i < n; i++) {
		PyObject *d = PyDict_New();

		if (!d || put(d, KEY(USERNAME), str(u[i].username)) ||
		    put(d, KEY(REALM), str(u[i].realm))) {
			Py_XDECREF(d);
			Py_DECREF(l);
			return NULL;
		}
		PyList_SET_ITEM(l, (Py_ssize_t)i, d);
	}
	return l;
}

static PyObject *peer_list(const struct jazz_peer_entry *p, size_t n)
{
	PyObject *l = PyList_New((Py_ssize_t)n);

	for (size_t i = 0; l && i < n; i++) {
		PyObject *d = PyDict_New();

		if (!d || put(d, KEY(DEVICE), str(p[i].device)) ||
		    put(d, KEY(USERNAME), str(p[i].username)) ||
		    put(d, KEY(REALM), str(p[i].realm)) ||
		    put(d, KEY(VIP4), str(p[i].vip4)) ||
		    put(d, KEY(VIP6), str(p[i].vip6))) {
			Py_XDECREF(d);
			Py_DECREF(l);
			return NULL;
		}
		PyList_SET_ITEM(l, (Py_ssize_t)i, d);
	}
	return l;
}

/*
 * The callback gets copies of the lists (a script may filter them in
 * place); *users / *peers keep the originals, whose items are the same
 * dict objects, for matching the answer.
 */
PyObject *jz_py_filter_args(const struct jazz_peer_review *r,
			    PyObject **users, PyObject **peers)
{
	PyObject *d = PyDict_New();

	*users = user_list(r->users, r->n_users);
	*peers = peer_list(r->peers, r->n_peers);
	if (!d || !*users || !*peers ||
	    put(d, KEY(USERNAME), str(r->username)) ||
	    put(d, KEY(REALM), str(r->realm)) ||
	    put_endpoint(d, &r->source, KEY(SOURCE), KEY(SOURCE_IP), KEY(SOURCE_PORT)) ||
	    put(d, KEY(USERS), PyList_GetSlice(*users, 0, PY_SSIZE_T_MAX)) ||
	    put(d, KEY(PEERS), PyList_GetSlice(*peers, 0, PY_SSIZE_T_MAX))) {
		Py_CLEAR(*users);
		Py_CLEAR(*peers);
		return fail(d);
	}
	return d;
}

PyObject *jz_py_connection_args(const struct jazz_connection_info *i)
{
	PyObject *d = PyDict_New();

	if (!d || put(d, KEY(ORIGIN_USERNAME), str(i->origin_username)) ||
	    put(d, KEY(ORIGIN_REALM), str(i->origin_realm)) ||
	    put(d, KEY(ORIGIN_DEVICE), str(i->origin_device)) ||
	    put_endpoint(d, &i->origin, KEY(ORIGIN), KEY(ORIGIN_IP), KEY(ORIGIN_PORT)) ||
	    put(d, KEY(DESTINATION_DEVICE), str(i->destination_device)) ||
	    put_endpoint(d, &i->destination, KEY(DESTINATION), KEY(DESTINATION_IP),
			 KEY(DESTINATION_PORT)) ||
	    put(d, KEY(PROTOCOL), str(i->protocol)) ||
	    put(d, KEY(RELAYED), PyBool_FromLong(i->relayed)))
		return fail(d);
	return d;
}

/* ---- reading the answers --------------------------------------------- */

/* A coroutine means "async def": say so rather than "wrong type". */
static int bad_type(char *why, size_t whylen, const char *want, PyObject *v)
{
	if (PyCoro_CheckExact(v)) {
		snprintf(why, whylen, "returned a coroutine: async callbacks are not supported");
		return -1;
	}
	snprintf(why, whylen, "wrong return type: expected %s, got %s", want,
		 Py_TYPE(v)->tp_name);
	return -1;
}

/* UTF-8 text of a str that fits (with its NUL) in size bytes, or -1. */
static int copy_text(PyObject *s, char *dst, size_t size, const char *what,
		     char *why, size_t whylen)
{
	const char *u;
	Py_ssize_t len;

	if (!PyUnicode_Check(s)) {
		snprintf(why, whylen, "%s must be a str, not %s", what, Py_TYPE(s)->tp_name);
		return -1;
	}
	u = PyUnicode_AsUTF8AndSize(s, &len);
	if (!u) {
		PyErr_Clear();
		snprintf(why, whylen, "%s is not valid UTF-8 text", what);
		return -1;
	}
	if ((size_t)len >= size || memchr(u, 0, (size_t)len)) {
		snprintf(why, whylen, "%s is %s (at most %zu bytes, no NUL)", what,
			 (size_t)len >= size ? "too long" : "not text", size - 1);
		return -1;
	}
	memcpy(dst, u, (size_t)len + 1);
	return 0;
}

int jz_py_accept_result(PyObject *v, int *accept, char *why, size_t whylen)
{
	if (!PyBool_Check(v))
		return bad_type(why, whylen, "bool", v);
	*accept = v == Py_True;
	return 0;
}

/* Key length the enctype needs, 0 if we do not know the enctype. */
static size_t enctype_key_len(const char *enctype)
{
	if (!enctype)
		return 0;
	if (!strncmp(enctype, "aes256-", 7) || !strncmp(enctype, "camellia256-", 12))
		return 32;
	if (!strncmp(enctype, "aes128-", 7) || !strncmp(enctype, "camellia128-", 12))
		return 16;
	return 0;
}

int jz_py_user_key_result(PyObject *v, const char *enctype,
			  struct jazz_user_key_reply *r, char *why, size_t whylen)
{
	memset(r, 0, sizeof(*r));
	if (v == Py_None) {
		r->kind = JAZZ_USER_KEY_UNKNOWN_USER;
		return 0;
	}
	if (PyUnicode_Check(v)) {
		r->kind = JAZZ_USER_KEY_PASSWORD;
		return copy_text(v, r->password, sizeof(r->password), "the password",
				 why, whylen);
	}
	if (PyBytes_Check(v) || PyByteArray_Check(v)) {
		const char *p = PyBytes_Check(v) ? PyBytes_AS_STRING(v) : PyByteArray_AS_STRING(v);
		size_t n = (size_t)(PyBytes_Check(v) ? PyBytes_GET_SIZE(v) : PyByteArray_GET_SIZE(v));
		size_t want = enctype_key_len(enctype);

		if (n == 0 || n > JAZZ_RAW_KEY_MAX || (want && n != want)) {
			snprintf(why, whylen, "raw key of %zu bytes for %s (want %zu)", n,
				 enctype ? enctype : "?", want ? want : (size_t)JAZZ_RAW_KEY_MAX);
			return -1;
		}
		r->kind = JAZZ_USER_KEY_RAW;
		memcpy(r->key, p, n);
		r->key_len = n;
		return 0;
	}
	return bad_type(why, whylen, "str (password), bytes (raw key) or None", v);
}

/* A status: a real int (not a bool: True would read as REJECTED). */
static int get_status(PyObject *v, int *status, char *why, size_t whylen)
{
	long s;

	if (PyBool_Check(v) || !PyLong_Check(v))
		return bad_type(why, whylen, "a jazz.VALIDATE_USER_STATUS_* int", v);
	s = PyLong_AsLong(v);
	if (s != JAZZ_VALIDATE_USER_STATUS_ACCEPTED &&
	    s != JAZZ_VALIDATE_USER_STATUS_REJECTED &&
	    s != JAZZ_VALIDATE_USER_STATUS_MORE_DATA) {
		PyErr_Clear();
		snprintf(why, whylen, "unknown validate_user status %ld", s);
		return -1;
	}
	*status = (int)s;
	return 0;
}

/* One prompt: a dict {code, text[, secret]} or a tuple (code, text[, secret]). */
static int get_prompt(PyObject *p, struct jazz_prompt *out, char *why, size_t whylen)
{
	PyObject *code, *text, *secret = NULL;

	if (PyDict_Check(p)) {
		Py_ssize_t known = 0;

		code = PyDict_GetItemWithError(p, KEY(CODE));
		text = PyDict_GetItemWithError(p, KEY(TEXT));
		secret = PyDict_GetItemWithError(p, KEY(SECRET));
		known = !!code + !!text + !!secret;
		if (PyErr_Occurred() || !code || !text || known != PyDict_Size(p)) {
			snprintf(why, whylen, "a prompt dict has the keys code, text "
				 "and optionally secret");
			return -1;
		}
	} else if (PyTuple_Check(p) && (PyTuple_GET_SIZE(p) == 2 || PyTuple_GET_SIZE(p) == 3)) {
		code = PyTuple_GET_ITEM(p, 0);
		text = PyTuple_GET_ITEM(p, 1);
		if (PyTuple_GET_SIZE(p) == 3)
			secret = PyTuple_GET_ITEM(p, 2);
	} else {
		return bad_type(why, whylen, "a prompt: jazz.prompt(code, text[, secret]), "
				"a dict or a (code, text[, secret]) tuple", p);
	}
	if (copy_text(code, out->code, sizeof(out->code), "a prompt code", why, whylen) ||
	    copy_text(text, out->text, sizeof(out->text), "a prompt text", why, whylen))
		return -1;
	if (!out->code[0]) {
		snprintf(why, whylen, "a prompt code is empty");
		return -1;
	}
	if (secret && !PyBool_Check(secret))
		return bad_type(why, whylen, "bool for a prompt's secret", secret);
	out->secret = secret == Py_True;
	return 0;
}

static int get_prompts(PyObject *l, struct jazz_validate_reply *r, char *why,
		       size_t whylen)
{
	PyObject *seq;
	Py_ssize_t n;

	if (l == Py_None)
		return 0;
	if (!PyList_Check(l) && !PyTuple_Check(l))
		return bad_type(why, whylen, "a list of prompts", l);
	seq = PySequence_Fast(l, "prompts");
	if (!seq)
		return -1;
	n = PySequence_Fast_GET_SIZE(seq);
	if (n > JAZZ_PROMPTS_MAX) {
		snprintf(why, whylen, "%zd prompts (at most %d)", n, JAZZ_PROMPTS_MAX);
		Py_DECREF(seq);
		return -1;
	}
	for (Py_ssize_t i = 0; i < n; i++) {
		if (get_prompt(PySequence_Fast_GET_ITEM(seq, i), &r->prompts[i], why, whylen)) {
			Py_DECREF(seq);
			return -1;
		}
	}
	r->n_prompts = (size_t)n;
	Py_DECREF(seq);
	return 0;
}

static int validate_dict(PyObject *v, PyObject **status, PyObject **prompts,
			 PyObject **message, char *why, size_t whylen)
{
	PyObject *key, *val;
	Py_ssize_t pos = 0;

	while (PyDict_Next(v, &pos, &key, &val)) {
		if (PyUnicode_Check(key) && !PyUnicode_Compare(key, KEY(STATUS)))
			*status = val;
		else if (PyUnicode_Check(key) && !PyUnicode_Compare(key, KEY(PROMPTS)))
			*prompts = val;
		else if (PyUnicode_Check(key) && !PyUnicode_Compare(key, KEY(MESSAGE)))
			*message = val;
		else {
			PyErr_Clear();
			snprintf(why, whylen, "unknown key in the validate_user answer "
				 "(allowed: status, prompts, message)");
			return -1;
		}
	}
	if (!*status) {
		snprintf(why, whylen, "the validate_user answer dict has no status");
		return -1;
	}
	return 0;
}

/*
 * status | (status, prompts) | (status, prompts, message)
 *        | {'status': ..., 'prompts': [...], 'message': '...'}
 */
int jz_py_validate_result(PyObject *v, struct jazz_validate_reply *r,
			  char *why, size_t whylen)
{
	PyObject *status = NULL, *prompts = Py_None, *message = Py_None;
	int st = 0;

	memset(r, 0, sizeof(*r));
	if (PyTuple_Check(v)) {
		Py_ssize_t n = PyTuple_GET_SIZE(v);

		if (n < 2 || n > 3) {
			snprintf(why, whylen, "a validate_user tuple is (status, prompts"
				 "[, message]), got %zd items", n);
			return -1;
		}
		status = PyTuple_GET_ITEM(v, 0);
		prompts = PyTuple_GET_ITEM(v, 1);
		if (n == 3)
			message = PyTuple_GET_ITEM(v, 2);
	} else if (PyDict_Check(v)) {
		if (validate_dict(v, &status, &prompts, &message, why, whylen))
			return -1;
	} else {
		status = v;
	}
	if (get_status(status, &st, why, whylen) || get_prompts(prompts, r, why, whylen))
		return -1;
	if (message != Py_None &&
	    copy_text(message, r->message, sizeof(r->message), "the message", why, whylen))
		return -1;
	r->status = (enum jazz_validate_status)st;
	if (st == JAZZ_VALIDATE_USER_STATUS_MORE_DATA && !r->n_prompts) {
		snprintf(why, whylen, "VALIDATE_USER_STATUS_MORE_DATA needs at least one prompt");
		return -1;
	}
	if (st != JAZZ_VALIDATE_USER_STATUS_MORE_DATA && r->n_prompts) {
		snprintf(why, whylen, "prompts are only allowed with "
			 "VALIDATE_USER_STATUS_MORE_DATA");
		return -1;
	}
	return 0;
}

/*
 * Marks in keep[] the entries of orig that the answer list names. An
 * answer item must be one of the entries passed in (the same object or an
 * equal dict), each at most once: a filter can hide, never add.
 */
static int match_subset(PyObject *answer, PyObject *orig, unsigned char *keep,
			const char *what, char *why, size_t whylen)
{
	Py_ssize_t n = PyList_GET_SIZE(orig), cursor = 0, na;
	PyObject *seq;

	if (!PyList_Check(answer) && !PyTuple_Check(answer))
		return bad_type(why, whylen, "a list of entries", answer);
	seq = PySequence_Fast(answer, what);
	if (!seq)
		return -1;
	memset(keep, 0, (size_t)n);
	na = PySequence_Fast_GET_SIZE(seq);
	for (Py_ssize_t i = 0; i < na; i++) {
		PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
		Py_ssize_t j, found = -1;

		/* usual case: a filtered copy, same objects, same order */
		for (j = cursor; j < n && found < 0; j++)
			if (PyList_GET_ITEM(orig, j) == item && !keep[j])
				found = j;
		for (j = 0; j < n && found < 0; j++) {
			int eq;

			if (keep[j])
				continue;
			eq = PyObject_RichCompareBool(PyList_GET_ITEM(orig, j), item, Py_EQ);
			if (eq < 0) {
				Py_DECREF(seq);
				return -1;
			}
			if (eq)
				found = j;
		}
		if (found < 0) {
			snprintf(why, whylen, "%s[%zd] is not one of the entries passed in "
				 "(a filter can only remove entries)", what, i);
			Py_DECREF(seq);
			return -1;
		}
		keep[found] = 1;
		cursor = found + 1;
	}
	Py_DECREF(seq);
	return 0;
}

/*
 * None: unchanged. A dict: its 'users' and/or 'peers' lists are what to
 * keep (other keys are ignored, so the argument dict itself may be
 * returned after editing its lists). A list: the peers to keep.
 */
int jz_py_filter_result(PyObject *v, PyObject *users, PyObject *peers,
			unsigned char *keep_users, unsigned char *keep_peers,
			char *why, size_t whylen)
{
	PyObject *u, *p;

	memset(keep_users, 1, (size_t)PyList_GET_SIZE(users));
	memset(keep_peers, 1, (size_t)PyList_GET_SIZE(peers));
	if (v == Py_None)
		return 0;
	if (PyList_Check(v))
		return match_subset(v, peers, keep_peers, "peers", why, whylen);
	if (!PyDict_Check(v))
		return bad_type(why, whylen, "None, a dict with users/peers or a list of peers", v);
	u = PyDict_GetItemWithError(v, KEY(USERS));
	if (!u && PyErr_Occurred())
		return -1;
	p = PyDict_GetItemWithError(v, KEY(PEERS));
	if (!p && PyErr_Occurred())
		return -1;
	if (u && match_subset(u, users, keep_users, "users", why, whylen))
		return -1;
	if (p && match_subset(p, peers, keep_peers, "peers", why, whylen))
		return -1;
	return 0;
}

/* bool | (bool, lifetime_s) */
int jz_py_connection_result(PyObject *v, struct jazz_connection_reply *r,
			    char *why, size_t whylen)
{
	PyObject *life = NULL;
	unsigned long l = 0;

	if (PyTuple_Check(v) && PyTuple_GET_SIZE(v) == 2) {
		life = PyTuple_GET_ITEM(v, 1);
		v = PyTuple_GET_ITEM(v, 0);
	}
	if (!PyBool_Check(v))
		return bad_type(why, whylen, "bool or (bool, lifetime_s)", v);
	if (life) {
		if (PyBool_Check(life) || !PyLong_Check(life))
			return bad_type(why, whylen, "an int lifetime in seconds", life);
		l = PyLong_AsUnsignedLong(life);
		if ((l == (unsigned long)-1 && PyErr_Occurred()) || l > UINT32_MAX) {
			PyErr_Clear();
			snprintf(why, whylen, "lifetime out of range (0..%u seconds)", UINT32_MAX);
			return -1;
		}
	}
	r->approve = v == Py_True;
	r->lifetime_s = (uint32_t)l;
	return 0;
}
