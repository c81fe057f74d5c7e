// SPDX-License-Identifier: GPL-2.0
/*
 * The conversions of events.py's answers into the plugin API's structs
 * (policy/python_conv.c), in the embedded interpreter. The input is a
 * Python literal (ast.literal_eval: values only, nothing runs), given as
 * the return value of each of the five callbacks in turn.
 */
#include <Python.h>
#include <jazz/events.h>

#include "policy/python.h"
#include "fuzz.h"

static PyObject *literal_eval, *users, *peers;

static void init(void)
{
	static const struct jazz_user_entry u[] = { { "alice", "R" }, { "bob", "R" } };
	static const struct jazz_peer_entry p[] = {
		{ "a-pc", "alice", "R", "10.77.0.2", "" },
		{ "b-pc", "bob", "R", "10.77.0.3", "fd77::3" },
		{ "b-tab", "bob", "R", "", "fd77::4" },
	};
	struct jazz_peer_review r = { .username = "carol", .realm = "R",
				      .users = u, .n_users = 2, .peers = p, .n_peers = 3 };
	PyObject *ast, *d;

	fuzz_quiet();
	/* plain malloc, so that LeakSanitizer sees what Python's objects hold */
	setenv("PYTHONMALLOC", "malloc", 1);
	Py_InitializeEx(0);
	ast = PyImport_ImportModule("ast");
	literal_eval = ast ? PyObject_GetAttrString(ast, "literal_eval") : NULL;
	if (!literal_eval || jz_py_keys_init())
		abort();
	d = jz_py_filter_args(&r, &users, &peers);
	if (!d)
		abort();
	Py_DECREF(d);
	Py_DECREF(ast);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jazz_user_key_reply uk;
	struct jazz_validate_reply vr;
	struct jazz_connection_reply cr;
	unsigned char ku[2], kp[3];
	PyObject *src, *v;
	char why[256];
	int accept;

	if (!literal_eval)
		init();
	src = PyUnicode_DecodeUTF8((const char *)data, (Py_ssize_t)size, "replace");
	v = src ? PyObject_CallOneArg(literal_eval, src) : NULL;
	Py_XDECREF(src);
	if (!v) {
		PyErr_Clear();
		return 0;
	}
	jz_py_accept_result(v, &accept, why, sizeof(why));
	PyErr_Clear();
	jz_py_user_key_result(v, "aes256-cts-hmac-sha1-96", &uk, why, sizeof(why));
	PyErr_Clear();
	jz_py_user_key_result(v, NULL, &uk, why, sizeof(why));
	PyErr_Clear();
	jz_py_validate_result(v, &vr, why, sizeof(why));
	PyErr_Clear();
	memset(ku, 1, sizeof(ku));
	memset(kp, 1, sizeof(kp));
	jz_py_filter_result(v, users, peers, ku, kp, why, sizeof(why));
	PyErr_Clear();
	jz_py_connection_result(v, &cr, why, sizeof(why));
	PyErr_Clear();
	Py_DECREF(v);
	return 0;
}
