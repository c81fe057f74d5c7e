// SPDX-License-Identifier: GPL-2.0
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
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

/*
 * Control characters (a newline forging a second log line, terminal escape
 * sequences) become \xNN: names and messages from the network are logged
 * as text, never as layout. (Names that must stay unambiguous are escaped
 * where they enter, backslashes included: jz_escape() in jazzd.)
 */
static void escape_ctl(const char *in, char *out, size_t outlen)
{
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			if (o + 5 > outlen)
				break;
			snprintf(out + o, 5, "\\x%02x", *p);
			o += 4;
		} else {
			if (o + 2 > outlen)
				break;
			out[o++] = (char)*p;
		}
	}
	out[o] = 0;
}

void jz_vlog(int level, const char *fmt, va_list ap)
{
	struct timespec ts;
	struct tm tm;
	/*
	 * Room for the longest line jazzd logs on purpose: a handler step's
	 * output relayed in 4 KiB pieces, each byte possibly escaped to four
	 * (events/relay.c), plus its prefix. Longer messages are cut.
	 */
	char msg[4 * 4096 + 1024], *safe;
	size_t len, room;

	if (level > jz_logger.max_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	len = strlen(msg);
	room = 4 * len + 1;
	safe = malloc(room);
	if (!safe) {
		/* no memory for the escaped copy: drop control bytes in place */
		for (char *c = msg; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				*c = '?';
		safe = msg;
	} else {
		escape_ctl(msg, safe, room);
	}
	if (jz_logger.target == JZ_LOG_SYSLOG) {
		syslog(level, "%s", safe);
		if (safe != msg)
			free(safe);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	pthread_mutex_lock(&jz_logger.lock);
	fprintf(stderr, "%02d:%02d:%02d.%03ld %s[%s]: %s\n", tm.tm_hour, tm.tm_min,
		tm.tm_sec, ts.tv_nsec / 1000000, jz_logger.ident,
		level_names[level & 7], safe);
	fflush(stderr);
	pthread_mutex_unlock(&jz_logger.lock);
	if (safe != msg)
		free(safe);
}

void jz_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	jz_vlog(level, fmt, ap);
	va_end(ap);
}
