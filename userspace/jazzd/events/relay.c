// SPDX-License-Identifier: GPL-2.0
/*
 * relay.c - a handler step's stdout, stderr and AGENT_COMFD to the log
 * (relay.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "log.h"
#include "relay.h"

#define READ_CHUNK 65536	/* one read per pipe per loop iteration */
#define DRAIN_MAX (1u << 20)	/* read after the step exited, at most */

void jz_out_init(struct jz_out *o)
{
	memset(o, 0, sizeof(*o));
	o->fd = -1;
}

void jz_out_who(struct jz_out *o, const char *who)
{
	free(o->who);
	o->who = strdup(who);
}

void jz_out_free(struct jz_out *o)
{
	jz_out_close(o);
	if (o->buf)
		evbuffer_free(o->buf);
	free(o->who);
	jz_out_init(o);
}

/*
 * One line to the log: a trailing '\r' (CRLF, as Python's csv writer ends
 * NS8's AGENT_COMFD commands) goes, control bytes and NUL become \xNN so
 * that binary output cannot cut or forge log lines.
 */
static void relay(struct jz_out *o, const char *line, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char esc[JZ_RELAY_LINE * 4 + 1];
	size_t k = 0;

	if (len && line[len - 1] == '\r')
		len--;
	for (size_t i = 0; i < len && i < JZ_RELAY_LINE; i++) {
		unsigned char c = line[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			esc[k++] = '\\';
			esc[k++] = 'x';
			esc[k++] = hex[c >> 4];
			esc[k++] = hex[c & 15];
		} else {
			esc[k++] = c;
		}
	}
	esc[k] = '\0';
	jz_log(o->level, "%s: %s%s", o->who ? o->who : "handler step", o->prefix, esc);
}

static void out_emit(struct jz_out *o, bool flush)
{
	char chunk[JZ_RELAY_LINE];
	struct evbuffer_ptr p;
	size_t avail;

	for (;;) {
		struct evbuffer_ptr end, *endp = NULL;

		avail = evbuffer_get_length(o->buf);
		if (!avail)
			return;
		/* look for the end of line in the first JZ_RELAY_LINE bytes only */
		if (avail > JZ_RELAY_LINE &&
		    !evbuffer_ptr_set(o->buf, &end, JZ_RELAY_LINE, EVBUFFER_PTR_SET))
			endp = &end;
		p = evbuffer_search_range(o->buf, "\n", 1, NULL, endp);
		if (p.pos >= 0 && (size_t)p.pos < JZ_RELAY_LINE) {
			evbuffer_remove(o->buf, chunk, p.pos);
			evbuffer_drain(o->buf, 1);
			relay(o, chunk, p.pos);
			continue;
		}
		/* no end of line within JZ_RELAY_LINE bytes: split */
		if (avail < JZ_RELAY_LINE && !flush)
			return;
		avail = evbuffer_remove(o->buf, chunk, JZ_RELAY_LINE);
		relay(o, chunk, avail);
	}
}

/* One read; returns false at EOF or error. */
static bool out_read(struct jz_out *o, size_t *got)
{
	int n = evbuffer_read(o->buf, o->fd, READ_CHUNK);

	if (n > 0) {
		*got += n;
		out_emit(o, false);
		return true;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	return false;
}

void jz_out_close(struct jz_out *o)
{
	if (o->fd < 0)
		return;
	out_emit(o, true);
	event_free(o->ev);
	o->ev = NULL;
	close(o->fd);
	o->fd = -1;
}

static void on_output(evutil_socket_t fd, short what, void *arg)
{
	struct jz_out *o = arg;
	size_t got = 0;

	if (!out_read(o, &got))
		jz_out_close(o);
}

/* What is in the pipe once the step is gone, bounded: a grandchild may keep writing. */
void jz_out_drain(struct jz_out *o)
{
	size_t got = 0, before;

	while (o->fd >= 0 && got < DRAIN_MAX) {
		before = got;
		if (!out_read(o, &got) || got == before)
			break;
	}
	jz_out_close(o);
}

int jz_fd_high(int fd)
{
	int h;

	if (fd < 0 || fd > 3)
		return fd;
	h = fcntl(fd, F_DUPFD_CLOEXEC, 4);
	close(fd);
	return h;
}

int jz_out_open(struct jz_out *o, struct event_base *base, int level,
		const char *prefix, int *wfd)
{
	int p[2];

	o->level = level;
	o->prefix = prefix;
	o->fd = -1;
	if (!o->buf)
		o->buf = evbuffer_new();
	if (!o->buf || pipe2(p, O_CLOEXEC))
		return -1;
	p[1] = jz_fd_high(p[1]);
	if (p[1] < 0) {
		close(p[0]);
		return -1;
	}
	/* only our end is non-blocking: the step's stays blocking */
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	o->ev = event_new(base, p[0], EV_READ | EV_PERSIST, on_output, o);
	if (!o->ev) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	o->fd = p[0];
	*wfd = p[1];
	event_add(o->ev, NULL);
	return 0;
}
