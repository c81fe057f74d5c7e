// SPDX-License-Identifier: GPL-2.0
/*
 * The netlink backend's STUN socket (issue 20): its own generic netlink
 * socket in jazz.ko's "stun" group, so that STUN datagrams (rate-limited by
 * the kernel, but anyone on the internet can send them) never share a
 * receive buffer with approval requests. Sends stun-send without waiting
 * (a refusal comes back as an error message and is logged), reads
 * stun-rx-ntf from the kernel only, parses them at the edge
 * (kernel_parse.c) and hands them to k->on_stun.
 *
 * Must not parse STUN itself (common/stun.c does, in the caller) nor keep
 * state beyond the socket.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <netinet/in.h>

#include <jazz.h>

#include "kernel_int.h"
#include "log.h"
#include "nlcheck.h"

struct knl_stun {
	struct jz_kernel *k;
	struct mnl_socket *sk;
	struct event *ev;
	uint16_t family;
	uint32_t ifindex;
	unsigned int seq;
	unsigned int refused, failed;
};

static int stun_cb(const struct nlmsghdr *nlh, void *data)
{
	struct knl_stun *st = data;
	const struct genlmsghdr *g = mnl_nlmsg_get_payload(nlh);
	struct jz_kstun s;
	int rc;

	if (nlh->nlmsg_type == NLMSG_ERROR &&
	    nlh->nlmsg_len >= NLMSG_HDRLEN + sizeof(struct nlmsgerr)) {
		const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

		if (e->error && st->failed++ % 100 == 0)
			jz_warn("kernel: stun-send refused: %s (%u so far)",
				strerror(-e->error), st->failed);
		return MNL_CB_OK;
	}
	if (nlh->nlmsg_type != st->family || nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(*g) ||
	    g->cmd != JAZZ_CMD_STUN_RX_NTF)
		return MNL_CB_OK;
	rc = jz_knl_parse_stun(nlh, st->ifindex, &s);
	if (rc == -1 && st->refused++ % 1000 == 0)
		jz_warn("netlink: stun-rx-ntf malformed: ignored (%u so far)", st->refused);
	if (!rc && st->k->on_stun)
		st->k->on_stun(st->k->arg, &s);
	return MNL_CB_OK;
}

static void on_stun_mc(evutil_socket_t fd, short what, void *arg)
{
	struct knl_stun *st = arg;
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct sockaddr_nl from;
	socklen_t flen = sizeof(from);
	ssize_t len;
	int n = 0;

	/* a bounded batch: the kernel sends at most stun_rate a second */
	while (n++ < 64 && (len = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT,
					    (struct sockaddr *)&from, &flen)) > 0) {
		if (flen >= sizeof(from) && from.nl_pid == 0 && jz_nl_msgs_sane(buf, (size_t)len))
			mnl_cb_run(buf, (size_t)len, 0, 0, stun_cb, st);
		flen = sizeof(from);
	}
}

struct knl_stun *jz_knl_stun_new(struct jz_kernel *k, uint16_t family, uint32_t grp,
				 uint32_t ifindex, const char *ifname)
{
	struct knl_stun *st;
	int g = (int)grp;

	if (!grp) {
		jz_warn("kernel: jazz.ko has no stun group (older module): no endpoint discovery");
		return NULL;
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->k = k;
	st->family = family;
	st->ifindex = ifindex;
	st->seq = 1;
	st->sk = mnl_socket_open(NETLINK_GENERIC);
	if (!st->sk || mnl_socket_bind(st->sk, 0, MNL_SOCKET_AUTOPID) ||
	    mnl_socket_setsockopt(st->sk, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g))) {
		jz_warn("kernel: cannot join the %s group of %s: %s: no endpoint discovery",
			JAZZ_MCGRP_STUN, ifname, strerror(errno));
		jz_knl_stun_free(st);
		return NULL;
	}
	st->ev = event_new(k->base, mnl_socket_get_fd(st->sk), EV_READ | EV_PERSIST,
			   on_stun_mc, st);
	if (!st->ev || event_add(st->ev, NULL)) {
		jz_knl_stun_free(st);
		return NULL;
	}
	return st;
}

int jz_knl_stun_send(struct knl_stun *st, const struct sockaddr_storage *to,
		     const void *msg, size_t len)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct genlmsghdr *g;
	struct nlattr *nest;

	if (!st)
		return -EOPNOTSUPP;
	if (len > JAZZ_STUN_MAX_LEN)
		return -EMSGSIZE;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = st->family;
	nlh->nlmsg_flags = NLM_F_REQUEST;	/* no ack: errors come as messages */
	nlh->nlmsg_seq = st->seq++;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = JAZZ_CMD_STUN_SEND;
	g->version = JAZZ_GENL_VERSION;
	mnl_attr_put_u32(nlh, JAZZ_A_IFINDEX, st->ifindex);
	nest = mnl_attr_nest_start(nlh, JAZZ_A_STUN);
	if (to->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)to;

		mnl_attr_put(nlh, JAZZ_A_STUN_ADDR, 4, &s4->sin_addr);
		mnl_attr_put_u16(nlh, JAZZ_A_STUN_PORT, s4->sin_port);
	} else if (to->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)to;

		mnl_attr_put(nlh, JAZZ_A_STUN_ADDR, 16, &s6->sin6_addr);
		mnl_attr_put_u16(nlh, JAZZ_A_STUN_PORT, s6->sin6_port);
		if (s6->sin6_scope_id)
			mnl_attr_put_u32(nlh, JAZZ_A_STUN_SCOPE_ID, s6->sin6_scope_id);
	} else {
		return -EAFNOSUPPORT;
	}
	mnl_attr_put(nlh, JAZZ_A_STUN_DATA, len, msg);
	mnl_attr_nest_end(nlh, nest);
	if (mnl_socket_sendto(st->sk, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	return 0;
}

void jz_knl_stun_free(struct knl_stun *st)
{
	if (!st)
		return;
	if (st->ev)
		event_free(st->ev);
	if (st->sk)
		mnl_socket_close(st->sk);
	free(st);
}
