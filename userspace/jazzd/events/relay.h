/* SPDX-License-Identifier: GPL-2.0 */
/*
 * relay.h - a handler step's output to the log (internal to events/): the
 * read end of a pipe (stdout, stderr or AGENT_COMFD) watched on the event
 * loop, each line logged as "<who>: <prefix><line>". One read per loop turn
 * (a flooding step is slowed down by the full pipe, nothing is lost, the
 * loop stays free for other events); lines over JZ_RELAY_LINE bytes are
 * split; a trailing '\r' goes; control bytes and NUL are logged as \xNN.
 */
#ifndef JAZZD_RELAY_H
#define JAZZD_RELAY_H

#include <event2/event.h>

#define JZ_RELAY_LINE 4096

struct jz_out {
	int fd;			/* our read end, -1 when closed */
	int level;
	const char *prefix;	/* static: "" or the AGENT_COMFD note */
	char *who;		/* "event x step 10a[pid]", set once spawned */
	struct event *ev;
	struct evbuffer *buf;
};

/* Internal to events/: hidden from dlopen()ed plugins. */
#pragma GCC visibility push(hidden)
/* A closed relay, ready for jz_out_open(). */
void jz_out_init(struct jz_out *o);
/* A pipe: we read, the step gets *wfd (CLOEXEC, above the step's fds). */
int jz_out_open(struct jz_out *o, struct event_base *base, int level,
		const char *prefix, int *wfd);
/* Names the writer in the log lines (copied). */
void jz_out_who(struct jz_out *o, const char *who);
/* The step is gone: what is in the pipe (bounded), then close. */
void jz_out_drain(struct jz_out *o);
void jz_out_close(struct jz_out *o);
/* Closes and frees everything. */
void jz_out_free(struct jz_out *o);

/* fd moved to a number above the step's 0-3 (CLOEXEC), so dup2 never hits itself. */
int jz_fd_high(int fd);
#pragma GCC visibility pop

#endif
