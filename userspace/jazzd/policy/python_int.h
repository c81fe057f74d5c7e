/* SPDX-License-Identifier: GPL-2.0 */
/*
 * python_int.h - what python.c and python_interp.c share: the backend struct,
 * the callback numbers and the interpreter-wide objects. Internal to policy/
 * (other folders include callbacks.h).
 */
#ifndef JAZZD_PYTHON_INT_H
#define JAZZD_PYTHON_INT_H

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "python.h"
#include "backend.h"
#include "log.h"

#define MODULE_NAME "events"

enum { CB_ACCEPT, CB_USER_KEY, CB_VALIDATE, CB_FILTER, CB_CONNECTION, CB__COUNT };
struct pyb {
	struct jz_backend b;
	PyObject *module;
	PyObject *fn[CB__COUNT];
	char name[];
};

#define PYB(b) ((struct pyb *)(b))

/* Shared by the files of this folder only; hidden from dlopen()ed plugins. */
#pragma GCC visibility push(hidden)
void log_exception_skip(const char *what, char *summary, size_t sumlen,
			int skip);
void log_exception(const char *what, char *summary, size_t sumlen);
int py_start(char *err, size_t errlen);
extern PyObject *g_load;
extern PyObject *g_timeout_exc;
extern PyObject *g_out_parts, *g_err_parts;
extern PyObject *g_flush;
#pragma GCC visibility pop

#endif
