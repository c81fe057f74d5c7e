// SPDX-License-Identifier: GPL-2.0
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"

static struct {
	const char *ident;
	enum jz_log_target target;
	int max_level;
	pthread_mutex_t lock; /* keeps stderr lines whole */
} jz_logger = {
	.ident = "jazz",
	.target = JZ_LOG_STDERR,
	.max_level = LOG_INFO,
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

static const char *const level_names[] = {
	[LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
	[LOG_ERR] = "error", [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

void jz_log_open(const char *ident, enum jz_log_target target, int max_level)
{
	jz_logger.ident = ident;
	jz_logger.target = target;
	jz_logger.max_level = max_level;
	if (target == JZ_LOG_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void jz_log_set_level(int max_level)
{
	jz_logger.max_level = max_level;
}

bool jz_log_enabled(int level)
{
	return level <= jz_logger.max_level;
}

int jz_log_level_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (!strcasecmp(name, level_names[i]))
			return (int)i;
	if (!strcasecmp(name, "err"))
		return LOG_ERR;
	if (!strcasecmp(name, "warn"))
		return LOG_WARNING;
	return -1;
}

void jz_vlog(int level, const char *fmt, va_list ap)
{
	struct timespec ts;
	struct tm tm;

	if (level > jz_logger.max_level)
		return;
	if (jz_logger.target == JZ_LOG_SYSLOG) {
		vsyslog(level, fmt, ap);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	pthread_mutex_lock(&jz_logger.lock);
	fprintf(stderr, "%02d:%02d:%02d.%03ld %s[%s]: ", tm.tm_hour, tm.tm_min,
		tm.tm_sec, ts.tv_nsec / 1000000, jz_logger.ident,
		level_names[level & 7]);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	fflush(stderr);
	pthread_mutex_unlock(&jz_logger.lock);
}

void jz_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	jz_vlog(level, fmt, ap);
	va_end(ap);
}
