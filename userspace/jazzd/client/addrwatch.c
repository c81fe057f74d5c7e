// SPDX-License-Identifier: GPL-2.0
/*
 * jazzd client: the control connection's own address (issue 14, session
 * 13). When the address the TCP connection to the server left from goes
 * away (a DHCP renew that hands out another address, a Wi-Fi switch),
 * nothing tells the socket: its segments cannot leave any more, and the
 * client noticed only at the dead timeout (three keepalives: 45 s by
 * default), all that time without approvals (every new connection waited
 * and failed closed). This file listens to rtnetlink's address groups and,
 * when an address goes away, drops the connection at once if its local
 * address is no longer configured: the reconnect leaves from the new one.
 *
 * The notifications are not parsed: any message from the kernel on these
 * groups only says "look again", and the look is getifaddrs() against the
 * socket's getsockname(). Owns the rtnetlink socket and its event. Must not
 * touch the connection other than through client_drop(), nor the kernel's
 * peers.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <event2/event.h>

#include "client_int.h"
#include "log.h"

struct client_addrwatch {
	int fd;			/* NETLINK_ROUTE, address groups; owned */
	struct event *ev;	/* owned */
};

static bool same_addr(const struct sockaddr *a, const struct sockaddr_storage *b)
{
	if (a->sa_family != b->ss_family)
		return false;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->sa_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			       &((const struct sockaddr_in6 *)b)->sin6_addr,
			       sizeof(struct in6_addr));
	return false;
}

/* 1: @local is configured on an interface, 0: it is not, -1: cannot tell. */
static int addr_present(const struct sockaddr_storage *local)
{
	struct ifaddrs *ifa, *i;
	int found = 0;

	if (getifaddrs(&ifa))
		return -1;
	for (i = ifa; i && !found; i = i->ifa_next)
		found = i->ifa_addr && same_addr(i->ifa_addr, local);
	freeifaddrs(ifa);
	return found;
}

/*
 * @ss as interfaces list it: an IPv6 socket to an IPv4 server has an
 * IPv4-mapped address, made plain IPv4 here. False: not bound to one
 * address yet (or not IP).
 */
static bool as_listed(struct sockaddr_storage *ss)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in v4 = { .sin_family = AF_INET };

	if (ss->ss_family == AF_INET)
		return ((struct sockaddr_in *)ss)->sin_addr.s_addr != htonl(INADDR_ANY);
	if (ss->ss_family != AF_INET6 || IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr))
		return false;
	if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		memcpy(&v4.sin_addr, &s6->sin6_addr.s6_addr[12], 4);
		memset(ss, 0, sizeof(*ss));
		memcpy(ss, &v4, sizeof(v4));
	}
	return true;
}

/* The connection's local address still there? If not, drop it now. */
static void recheck(struct jz_client *c)
{
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	char txt[INET6_ADDRSTRLEN], why[INET6_ADDRSTRLEN + 64];
	evutil_socket_t fd;
	uint16_t port;

	if (!c->bev || c->state == C_IDLE)
		return;
	fd = bufferevent_getfd(c->bev);
	memset(&local, 0, sizeof(local));
	if (fd < 0 || getsockname(fd, (struct sockaddr *)&local, &len) ||
	    !as_listed(&local) || addr_present(&local) != 0)
		return;
	jz_sockaddr_str(&local, txt, sizeof(txt), &port);
	snprintf(why, sizeof(why), "local address %s is gone", txt);
	client_drop(c, why);
}

static void on_rtnl(evutil_socket_t fd, short what, void *arg)
{
	struct jz_client *c = arg;
	char buf[8192];
	bool look = false;

	for (;;) {
		struct sockaddr_nl from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);

		if (n < 0) {
			if (errno == ENOBUFS)
				look = true;	/* overrun: something changed */
			if (errno == EINTR || errno == ENOBUFS)
				continue;
			break;	/* EAGAIN: drained */
		}
		/* only the kernel speaks on these groups; anything else is noise */
		if (flen == sizeof(from) && from.nl_family == AF_NETLINK && !from.nl_pid)
			look = true;
	}
	if (look)
		recheck(c);
}

int client_addrwatch_start(struct jz_client *c, char *err, size_t errlen)
{
	struct sockaddr_nl sa = {
		.nl_family = AF_NETLINK,
		.nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR,
	};
	struct client_addrwatch *w = calloc(1, sizeof(*w));

	if (!w) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	w->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (w->fd < 0 || bind(w->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		/* not fatal: the dead timeout still ends a stale connection */
		jz_warn("address changes not watched (rtnetlink: %s): a lost local "
			"address is noticed at the dead timeout only", strerror(errno));
		if (w->fd >= 0)
			close(w->fd);
		free(w);
		return 0;
	}
	w->ev = event_new(c->d->base, w->fd, EV_READ | EV_PERSIST, on_rtnl, c);
	if (!w->ev || event_add(w->ev, NULL)) {
		snprintf(err, errlen, "cannot watch address changes");
		if (w->ev)
			event_free(w->ev);
		close(w->fd);
		free(w);
		return -1;
	}
	c->addrwatch = w;
	return 0;
}

void client_addrwatch_free(struct jz_client *c)
{
	struct client_addrwatch *w = c->addrwatch;

	if (!w)
		return;
	event_free(w->ev);
	close(w->fd);
	free(w);
	c->addrwatch = NULL;
}
