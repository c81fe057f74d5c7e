// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the Python backend's conversions (userspace/jazzd/policy/
 * python_conv.c): every accepted answer form and the edge cases that must
 * be refused. The interpreter is started through jz_python_load() (as
 * jazzd does); values are built with Python expressions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "policy/python.h"
#include "policy/backend.h"
#include "log.h"

static char why[512];
static PyObject *globals;

/* Evaluates a Python expression (module jazz available as `jazz`). */
static PyObject *ev(const char *expr)
{
	PyObject *v = PyRun_String(expr, Py_eval_input, globals, globals);

	if (!v) {
		PyErr_Print();
		fail_msg("cannot evaluate %s", expr);
	}
	return v;
}

static int accept_of(const char *expr, int *accept)
{
	PyObject *v = ev(expr);
	int rc = jz_py_accept_result(v, accept, why, sizeof(why));

	Py_DECREF(v);
	PyErr_Clear();
	return rc;
}

static void test_accept(void **state)
{
	int a = -1;

	assert_int_equal(accept_of("True", &a), 0);
	assert_int_equal(a, 1);
	assert_int_equal(accept_of("False", &a), 0);
	assert_int_equal(a, 0);
	assert_int_equal(accept_of("1", &a), -1);
	assert_non_null(strstr(why, "expected bool, got int"));
	assert_int_equal(accept_of("None", &a), -1);
	assert_int_equal(accept_of("'True'", &a), -1);
}

static int key_of(const char *expr, const char *enctype, struct jazz_user_key_reply *r)
{
	PyObject *v = ev(expr);
	int rc = jz_py_user_key_result(v, enctype, r, why, sizeof(why));

	Py_DECREF(v);
	PyErr_Clear();
	return rc;
}

static void test_user_key(void **state)
{
	struct jazz_user_key_reply r;
	const char *aes = "aes256-cts-hmac-sha384-192";

	assert_int_equal(key_of("'pässword'", aes, &r), 0);
	assert_int_equal(r.kind, JAZZ_USER_KEY_PASSWORD);
	assert_string_equal(r.password, "p\xc3\xa4ssword");
	assert_int_equal(key_of("''", aes, &r), 0);	/* empty is a password */
	assert_int_equal(key_of("None", aes, &r), 0);
	assert_int_equal(r.kind, JAZZ_USER_KEY_UNKNOWN_USER);
	assert_int_equal(key_of("bytes(range(32))", aes, &r), 0);
	assert_int_equal(r.kind, JAZZ_USER_KEY_RAW);
	assert_int_equal(r.key_len, 32);
	assert_int_equal(r.key[31], 31);
	assert_int_equal(key_of("bytearray(b'k' * 16)", "aes128-cts-hmac-sha1-96", &r), 0);
	assert_int_equal(r.key_len, 16);
	/* refused */
	assert_int_equal(key_of("b''", aes, &r), -1);
	assert_int_equal(key_of("bytes(31)", aes, &r), -1);
	assert_int_equal(key_of("bytes(65)", "des3-whatever", &r), -1);
	assert_int_equal(key_of("'x' * 255", aes, &r), 0);
	assert_int_equal(key_of("'x' * 256", aes, &r), -1);
	assert_non_null(strstr(why, "too long"));
	assert_int_equal(key_of("'a\\x00b'", aes, &r), -1);
	assert_int_equal(key_of("'\\udcff'", aes, &r), -1);	/* lone surrogate */
	assert_non_null(strstr(why, "UTF-8"));
	assert_int_equal(key_of("12345", aes, &r), -1);
	assert_int_equal(key_of("['password']", aes, &r), -1);
}

static int val_of(const char *expr, struct jazz_validate_reply *r)
{
	PyObject *v = ev(expr);
	int rc = jz_py_validate_result(v, r, why, sizeof(why));

	Py_DECREF(v);
	PyErr_Clear();
	return rc;
}

static void test_validate(void **state)
{
	struct jazz_validate_reply r;

	assert_int_equal(val_of("jazz.VALIDATE_USER_STATUS_ACCEPTED", &r), 0);
	assert_int_equal(r.status, JAZZ_VALIDATE_USER_STATUS_ACCEPTED);
	assert_int_equal(val_of("jazz.VALIDATE_USER_STATUS_REJECTED", &r), 0);
	assert_int_equal(r.status, JAZZ_VALIDATE_USER_STATUS_REJECTED);
	assert_int_equal(val_of("(jazz.VALIDATE_USER_STATUS_MORE_DATA, "
				"[jazz.prompt('otp', 'Code', secret=True), ('pin', 'PIN'), "
				"{'code': 'q', 'text': 'Q?', 'secret': False}, ('x', 'X', True)])", &r), 0);
	assert_int_equal(r.status, JAZZ_VALIDATE_USER_STATUS_MORE_DATA);
	assert_int_equal(r.n_prompts, 4);
	assert_string_equal(r.prompts[0].code, "otp");
	assert_string_equal(r.prompts[0].text, "Code");
	assert_int_equal(r.prompts[0].secret, 1);
	assert_string_equal(r.prompts[1].code, "pin");
	assert_int_equal(r.prompts[1].secret, 0);
	assert_int_equal(r.prompts[3].secret, 1);
	assert_int_equal(val_of("(1, None, 'go away')", &r), 0);
	assert_string_equal(r.message, "go away");
	assert_int_equal(val_of("(1, [])", &r), 0);
	assert_int_equal(val_of("{'status': 2, 'prompts': [('a', 'b')], 'message': 'm'}", &r), 0);
	assert_int_equal(r.n_prompts, 1);
	assert_string_equal(r.message, "m");
	assert_int_equal(val_of("{'status': 0}", &r), 0);
	/* refused */
	assert_int_equal(val_of("True", &r), -1);
	assert_non_null(strstr(why, "got bool"));
	assert_int_equal(val_of("3", &r), -1);
	assert_int_equal(val_of("-1", &r), -1);
	assert_int_equal(val_of("2**80", &r), -1);
	assert_int_equal(val_of("None", &r), -1);
	assert_int_equal(val_of("'accepted'", &r), -1);
	assert_int_equal(val_of("2", &r), -1);	/* MORE_DATA without prompts */
	assert_non_null(strstr(why, "needs at least one prompt"));
	assert_int_equal(val_of("(2, [])", &r), -1);
	assert_int_equal(val_of("(0, [('a', 'b')])", &r), -1);	/* prompts with ACCEPTED */
	assert_int_equal(val_of("(0,)", &r), -1);
	assert_int_equal(val_of("(0, None, 'm', 'x')", &r), -1);
	assert_int_equal(val_of("(2, [('a', 'b')] * 9)", &r), -1);
	assert_int_equal(val_of("(2, [('a', 'b')] * 8)", &r), 0);
	assert_int_equal(val_of("(2, [('', 'b')])", &r), -1);
	assert_int_equal(val_of("(2, [('c' * 64, 'b')])", &r), -1);
	assert_int_equal(val_of("(2, [('c' * 63, 't' * 255)])", &r), 0);
	assert_int_equal(val_of("(2, [('c', 't' * 256)])", &r), -1);
	assert_int_equal(val_of("(2, [('a', 'b', 1)])", &r), -1);	/* secret not bool */
	assert_int_equal(val_of("(2, [('a',)])", &r), -1);
	assert_int_equal(val_of("(2, ['otp'])", &r), -1);
	assert_int_equal(val_of("(2, [{'code': 'a'}])", &r), -1);
	assert_int_equal(val_of("(2, [{'code': 'a', 'text': 'b', 'extra': 1}])", &r), -1);
	assert_int_equal(val_of("(2, ('a', 'b'))", &r), -1);	/* a prompt, not a list */
	assert_int_equal(val_of("{'status': 0, 'satus': 1}", &r), -1);
	assert_non_null(strstr(why, "unknown key"));
	assert_int_equal(val_of("{'prompts': [('a', 'b')]}", &r), -1);
	assert_int_equal(val_of("(1, None, 42)", &r), -1);
	assert_int_equal(val_of("(1, None, 'm' * 256)", &r), -1);
}

/* peer_filter answers, against two users and three peers */
static int filter_of(const char *expr, unsigned char *ku, unsigned char *kp)
{
	struct jazz_user_entry users[2] = { { "alice", "R" }, { "bob", "R" } };
	struct jazz_peer_entry peers[3] = {
		{ "lap", "alice", "R", "10.0.0.1", "" },
		{ "pc", "bob", "R", "10.0.0.2", "fd::2" },
		{ "pbx", "bob", "R", "10.0.0.3", "" },
	};
	struct jazz_peer_review rv = { "alice", "R", { "127.0.0.1", 1 }, users, 2, peers, 3 };
	PyObject *u, *p, *arg, *v;
	int rc;

	arg = jz_py_filter_args(&rv, &u, &p);
	assert_non_null(arg);
	PyDict_SetItemString(globals, "review", arg);
	v = ev(expr);
	rc = jz_py_filter_result(v, u, p, ku, kp, why, sizeof(why));
	Py_DECREF(v);
	Py_DECREF(arg);
	Py_DECREF(u);
	Py_DECREF(p);
	PyErr_Clear();
	return rc;
}

static void test_filter(void **state)
{
	unsigned char ku[2], kp[3];

	assert_int_equal(filter_of("None", ku, kp), 0);
	assert_memory_equal(kp, "\1\1\1", 3);
	assert_int_equal(filter_of("{'peers': [p for p in review['peers'] if p['device'] != 'pbx']}",
				   ku, kp), 0);
	assert_memory_equal(kp, "\1\1\0", 3);
	assert_memory_equal(ku, "\1\1", 2);
	/* a list means peers; order does not matter; equal copies match */
	assert_int_equal(filter_of("[dict(review['peers'][2]), review['peers'][0]]", ku, kp), 0);
	assert_memory_equal(kp, "\1\0\1", 3);
	assert_int_equal(filter_of("{'users': [], 'peers': []}", ku, kp), 0);
	assert_memory_equal(ku, "\0\0", 2);
	assert_memory_equal(kp, "\0\0\0", 3);
	/* the argument itself, edited in place */
	assert_int_equal(filter_of("(review['users'].pop(1), review)[1]", ku, kp), 0);
	assert_memory_equal(ku, "\1\0", 2);
	assert_memory_equal(kp, "\1\1\1", 3);
	assert_int_equal(filter_of("{'peers': tuple(review['peers'][:1])}", ku, kp), 0);
	/* refused: additions, duplicates, changed entries, wrong types */
	assert_int_equal(filter_of("[{'device': 'x', 'username': 'a', 'realm': 'R', "
				   "'vip4': '', 'vip6': ''}]", ku, kp), -1);
	assert_non_null(strstr(why, "not one of the entries"));
	assert_int_equal(filter_of("[review['peers'][0], review['peers'][0]]", ku, kp), -1);
	assert_int_equal(filter_of("[dict(review['peers'][0], vip4='10.9.9.9')]", ku, kp), -1);
	assert_int_equal(filter_of("{'users': [review['peers'][0]]}", ku, kp), -1);
	assert_int_equal(filter_of("True", ku, kp), -1);
	assert_int_equal(filter_of("{'peers': None}", ku, kp), -1);
	assert_int_equal(filter_of("['lap']", ku, kp), -1);
}

static int conn_of(const char *expr, struct jazz_connection_reply *r)
{
	PyObject *v = ev(expr);
	int rc = jz_py_connection_result(v, r, why, sizeof(why));

	Py_DECREF(v);
	PyErr_Clear();
	return rc;
}

static void test_connection(void **state)
{
	struct jazz_connection_reply r;

	assert_int_equal(conn_of("True", &r), 0);
	assert_int_equal(r.approve, 1);
	assert_int_equal(r.lifetime_s, 0);
	assert_int_equal(conn_of("(False, 30)", &r), 0);
	assert_int_equal(r.approve, 0);
	assert_int_equal(r.lifetime_s, 30);
	assert_int_equal(conn_of("(True, 2**32 - 1)", &r), 0);
	assert_int_equal(r.lifetime_s, 4294967295u);
	assert_int_equal(conn_of("(True, 2**32)", &r), -1);
	assert_int_equal(conn_of("(True, -1)", &r), -1);
	assert_int_equal(conn_of("(True, True)", &r), -1);
	assert_int_equal(conn_of("(True, 1.5)", &r), -1);
	assert_int_equal(conn_of("(1, 30)", &r), -1);
	assert_int_equal(conn_of("(True, 30, 1)", &r), -1);
	assert_int_equal(conn_of("'approve'", &r), -1);
	assert_int_equal(conn_of("None", &r), -1);
}

static void test_args(void **state)
{
	struct jazz_accept_info ai = { { "2001:db8::7", 443 } };
	struct jazz_data_item items[2] = { { "otp", "1" }, { "bad", "\xff\xfe" } };
	struct jazz_validate_request vr = { "b\xc3\xb6" "b", "R", "pc", { "10.0.0.1", 5 },
					    "kerberos", items, 2, 3 };
	PyObject *d;

	d = jz_py_accept_args(&ai);
	PyDict_SetItemString(globals, "d", d);
	Py_DECREF(d);
	d = ev("d == {'source': '[2001:db8::7]:443', 'ip': '2001:db8::7', 'port': 443}");
	assert_true(d == Py_True);
	Py_DECREF(d);
	d = jz_py_validate_args(&vr);
	PyDict_SetItemString(globals, "d", d);
	Py_DECREF(d);
	/* non-UTF-8 bytes arrive as surrogate escapes, UTF-8 as text */
	d = ev("d['username'] == 'b\\xf6b' and d['round'] == 3 and "
	       "d['other_data'][1]['value'].encode('utf-8', 'surrogateescape') == b'\\xff\\xfe' "
	       "and sorted(d) == sorted(['username', 'realm', 'device', 'source', 'source_ip', "
	       "'source_port', 'method', 'other_data', 'round'])");
	assert_true(d == Py_True);
	Py_DECREF(d);
}

static void test_jazz_module(void **state)
{
	PyObject *v = ev("(jazz.LOG_DEBUG, jazz.LOG_INFO, jazz.LOG_WARNING, jazz.LOG_ERROR, "
			 "jazz.VALIDATE_USER_STATUS_ACCEPTED, jazz.VALIDATE_USER_STATUS_REJECTED, "
			 "jazz.VALIDATE_USER_STATUS_MORE_DATA, issubclass(jazz.CallbackTimeout, "
			 "BaseException) and not issubclass(jazz.CallbackTimeout, Exception)) == "
			 "(7, 6, 4, 3, 0, 1, 2, True)");

	assert_true(v == Py_True);
	Py_DECREF(v);
	assert_int_equal(JAZZ_LOG_DEBUG, 7);
	assert_null(PyRun_String("jazz.log(99, 'x')", Py_eval_input, globals, globals));
	assert_true(PyErr_ExceptionMatches(PyExc_ValueError));
	PyErr_Clear();
	assert_null(PyRun_String("jazz.prompt('a')", Py_eval_input, globals, globals));
	PyErr_Clear();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept),
		cmocka_unit_test(test_user_key),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_filter),
		cmocka_unit_test(test_connection),
		cmocka_unit_test(test_args),
		cmocka_unit_test(test_jazz_module),
	};
	char path[] = "/tmp/jazz-test-python-XXXXXX.py", err[512];
	struct jz_backend *b;
	PyGILState_STATE g;
	int fd, rc;

	jz_log_open("test_python", JZ_LOG_STDERR, LOG_WARNING);
	fd = mkstemps(path, 3);
	if (fd < 0 || write(fd, "import jazz\n", 12) != 12)
		return 1;
	close(fd);
	b = jz_python_load(path, err, sizeof(err));
	unlink(path);
	if (!b) {
		fprintf(stderr, "test_python: %s\n", err);
		return 1;
	}
	g = PyGILState_Ensure();
	globals = PyDict_New();
	PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins());
	PyDict_SetItemString(globals, "jazz", PyImport_ImportModule("jazz"));
	rc = cmocka_run_group_tests_name("python_conv", tests, NULL, NULL);
	PyGILState_Release(g);
	return rc;
}
