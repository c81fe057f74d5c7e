/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One logging path for jazzctl and jazzd: syslog priorities, to stderr
 * (foreground, tests) or to syslog/journal (daemon). Thread-safe.
 */
#ifndef JAZZ_LOG_H
#define JAZZ_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <syslog.h>

enum jz_log_target {
	JZ_LOG_STDERR,
	JZ_LOG_SYSLOG,
};

/* ident: program name; max_level: LOG_DEBUG..LOG_ERR, lines above are dropped. */
void jz_log_open(const char *ident, enum jz_log_target target, int max_level);
void jz_log_set_level(int max_level);
/* Would a line of this level be logged? (to skip building costly ones) */
bool jz_log_enabled(int level);
int jz_log_level_from_name(const char *name); /* "debug", "info", ...; -1 if unknown */

void jz_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void jz_vlog(int level, const char *fmt, va_list ap);

#define jz_err(...) jz_log(LOG_ERR, __VA_ARGS__)
#define jz_warn(...) jz_log(LOG_WARNING, __VA_ARGS__)
#define jz_info(...) jz_log(LOG_INFO, __VA_ARGS__)
#define jz_debug(...) jz_log(LOG_DEBUG, __VA_ARGS__)

#endif
