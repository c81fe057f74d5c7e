// SPDX-License-Identifier: GPL-2.0
/*
 * jazzd server: the STUN port ([server] stun_listen; issue 20). Answers
 * RFC 8489 binding requests with the address and port each came from
 * (XOR-MAPPED-ADDRESS), so that a device asking from its jazz device's own
 * UDP socket (the kernel's stun-send) learns the public mapping its tunnel
 * packets get. Any STUN client can use it too.
 *
 * Stateless and unauthenticated, like every public STUN server: no
 * session, no login, nothing kept per source. What bounds it: at most
 * [server] stun_rate answers a second (token bucket, burst of one second),
 * at most 64 datagrams read per loop turn, answers only to well-formed
 * binding requests (common/stun.c parses them) that carry no
 * comprehension-required attribute it does not know, sent without
 * blocking (a full socket buffer drops the answer). An answer is 32 bytes
 * (IPv4) or 44 (IPv6) for a request of at least 20: the amplification is
 * that of any STUN server.
 *
 * Must not: touch sessions or the peer computation, or block the loop.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>
#include <event2/util.h>
#include "stun.h"
#include "server_int.h"

#define STUN_BATCH	64

struct jz_stun_srv {
	int fd;
	struct event *ev;
	double tokens;		/* answers we may still send */
	double last;		/* CLOCK_MONOTONIC seconds of the last refill */
	int rate;
	unsigned long answered, over_rate, ignored;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool take_token(struct jz_stun_srv *st)
{
	double t = now_s();

	st->tokens += (t - st->last) * st->rate;
	if (st->tokens > st->rate)
		st->tokens = st->rate;
	st->last = t;
	if (st->tokens < 1)
		return false;
	st->tokens -= 1;
	return true;
}

/* The datagram's source as a STUN address (v4-mapped IPv6 as IPv4). */
static int source_addr(const struct sockaddr_storage *ss,
		       struct jz_stun_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		a->family = AF_INET;
		memcpy(a->addr, &s4->sin_addr, 4);
		a->port = ntohs(s4->sin_port);
		return 0;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			a->family = AF_INET;
			memcpy(a->addr, s6->sin6_addr.s6_addr + 12, 4);
		} else {
			a->family = AF_INET6;
			memcpy(a->addr, &s6->sin6_addr, 16);
		}
		a->port = ntohs(s6->sin6_port);
		return 0;
	}
	return -1;
}

static void answer(struct jz_stun_srv *st, const uint8_t *buf, size_t len,
		   const struct sockaddr_storage *from, socklen_t fromlen)
{
	struct jz_stun_addr src;
	struct jz_stun_msg m;
	uint8_t out[64];
	char err[96];
	size_t n;

	if (jz_stun_parse(buf, len, &m, err, sizeof(err)) ||
	    m.type != JZ_STUN_BINDING_REQUEST || m.unknown_required ||
	    source_addr(from, &src)) {
		st->ignored++;
		return;
	}
	if (!take_token(st)) {
		st->over_rate++;
		return;
	}
	n = jz_stun_response(out, m.txid, &src);
	if (n && sendto(st->fd, out, n, MSG_DONTWAIT, (const struct sockaddr *)from,
			fromlen) == (ssize_t)n)
		st->answered++;
}

static void on_stun(evutil_socket_t fd, short what, void *arg)
{
	struct jz_stun_srv *st = arg;
	uint8_t buf[JZ_STUN_MAX + 1];
	struct sockaddr_storage from;
	socklen_t fromlen;
	ssize_t n;
	int i;

	for (i = 0; i < STUN_BATCH; i++) {
		fromlen = sizeof(from);
		n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT,
			     (struct sockaddr *)&from, &fromlen);
		if (n < 0)
			break;
		/* one byte more than the largest message: longer ones fail */
		answer(st, buf, (size_t)n, &from, fromlen);
	}
}

int jz_stun_srv_start(struct jz_server *srv, char *err, size_t errlen)
{
	struct jz_config *c = &srv->d->cfg;
	struct sockaddr_storage ss;
	int sslen = sizeof(ss), off = 0;
	struct jz_stun_srv *st;

	if (!c->stun_listen || !*c->stun_listen)
		return 0;
	if (c->stun_rate < 1) {
		snprintf(err, errlen, "[server] stun_rate must be at least 1");
		return -1;
	}
	if (evutil_parse_sockaddr_port(c->stun_listen, (struct sockaddr *)&ss, &sslen)) {
		snprintf(err, errlen, "[server] stun_listen: cannot parse %s", c->stun_listen);
		return -1;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	st->rate = c->stun_rate;
	st->tokens = st->rate;
	st->last = now_s();
	st->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (st->fd >= 0 && ss.ss_family == AF_INET6)
		/* "[::]:port" answers IPv4 too */
		setsockopt(st->fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	if (st->fd < 0 || bind(st->fd, (struct sockaddr *)&ss, sslen)) {
		snprintf(err, errlen, "[server] stun_listen %s: %s", c->stun_listen,
			 strerror(errno));
		goto fail;
	}
	st->ev = event_new(srv->d->base, st->fd, EV_READ | EV_PERSIST, on_stun, st);
	if (!st->ev || event_add(st->ev, NULL)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	srv->stun = st;
	jz_info("STUN binding requests answered on %s (at most %d a second)",
		c->stun_listen, st->rate);
	return 0;
fail:
	if (st->fd >= 0)
		close(st->fd);
	free(st);
	return -1;
}

void jz_stun_srv_free(struct jz_server *srv)
{
	struct jz_stun_srv *st = srv->stun;

	if (!st)
		return;
	jz_info("STUN port closed: %lu answered, %lu over the rate, %lu ignored",
		st->answered, st->over_rate, st->ignored);
	event_free(st->ev);
	close(st->fd);
	free(st);
	srv->stun = NULL;
}
