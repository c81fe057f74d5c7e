// SPDX-License-Identifier: GPL-2.0
/*
 * The netlink layer: one generic netlink socket on libmnl, the jazz family
 * and its multicast groups resolved once, requests run to their ack (or the
 * end of a dump) with the kernel's extack message kept for the error line.
 */
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include "jazzctl.h"

static int grp_cb(const struct nlattr *grp, struct nl *nl)
{
	struct nlattr *a;
	const char *name = NULL;
	uint32_t id = 0;

	mnl_attr_for_each_nested(a, grp) {
		if (mnl_attr_get_type(a) == CTRL_ATTR_MCAST_GRP_NAME &&
		    !mnl_attr_validate(a, MNL_TYPE_NUL_STRING))
			name = mnl_attr_get_str(a);
		else if (mnl_attr_get_type(a) == CTRL_ATTR_MCAST_GRP_ID &&
			 !mnl_attr_validate(a, MNL_TYPE_U32))
			id = mnl_attr_get_u32(a);
	}
	if (!name)
		return 0;
	if (!strcmp(name, JAZZ_MCGRP_NOTIFY))
		nl->grp_notify = id;
	else if (!strcmp(name, JAZZ_MCGRP_APPROVALS))
		nl->grp_approvals = id;
	else if (!strcmp(name, JAZZ_MCGRP_STUN))
		nl->grp_stun = id;
	return 0;
}

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl *nl = data;
	struct nlattr *a, *g;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		switch (mnl_attr_get_type(a)) {
		case CTRL_ATTR_FAMILY_ID:
			if (!mnl_attr_validate(a, MNL_TYPE_U16))
				nl->family = mnl_attr_get_u16(a);
			break;
		case CTRL_ATTR_MCAST_GROUPS:
			mnl_attr_for_each_nested(g, a)
				grp_cb(g, nl);
			break;
		}
	}
	return MNL_CB_OK;
}

int nl_open(struct nl *nl)
{
	char buf[NL_SMALL];
	struct nlmsghdr *nlh;
	struct genlmsghdr *g;
	struct nl_err e;
	int one = 1, rc;

	memset(nl, 0, sizeof(*nl));
	nl->sk = mnl_socket_open(NETLINK_GENERIC);
	if (!nl->sk || mnl_socket_bind(nl->sk, 0, MNL_SOCKET_AUTOPID) < 0) {
		fprintf(stderr, "%s: cannot open a netlink socket: %s\n", PROG, strerror(errno));
		return -1;
	}
	/* Ask for the kernel's error strings; do not echo our request back. */
	mnl_socket_setsockopt(nl->sk, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl->sk, NETLINK_CAP_ACK, &one, sizeof(one));
	nl->portid = mnl_socket_get_portid(nl->sk);
	nl->seq = (uint32_t)time(NULL);

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = GENL_ID_CTRL;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++nl->seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = CTRL_CMD_GETFAMILY;
	g->version = 1;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, JAZZ_GENL_NAME);
	rc = nl_run(nl, nlh, family_cb, nl, &e);
	if (rc == -ENOENT || (!rc && !nl->family)) {
		fprintf(stderr, "%s: the jazz generic netlink family is not available "
			"(is the jazz module loaded?)\n", PROG);
		nl_close(nl);
		return -1;
	}
	if (rc) {
		nl_fail("resolving the jazz family", rc, &e);
		nl_close(nl);
		return -1;
	}
	return 0;
}

void nl_close(struct nl *nl)
{
	if (nl->sk)
		mnl_socket_close(nl->sk);
	nl->sk = NULL;
}

struct nlmsghdr *nl_msg(struct nl *nl, void *buf, uint8_t cmd, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;

	nlh->nlmsg_type = nl->family;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	nlh->nlmsg_seq = ++nl->seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = JAZZ_GENL_VERSION;
	return nlh;
}

void nl_put_dev(struct nlmsghdr *nlh, const char *dev)
{
	mnl_attr_put_strz(nlh, JAZZ_A_IFNAME, dev);
}

struct run_ctx {
	nl_cb cb;
	void *data;
	struct nl_err *e;
	int error;
};

static int ext_cb(const struct nlattr *a, void *data)
{
	struct nl_err *e = data;

	switch (mnl_attr_get_type(a)) {
	case NLMSGERR_ATTR_MSG:
		if (!mnl_attr_validate(a, MNL_TYPE_NUL_STRING))
			snprintf(e->msg, sizeof(e->msg), "%s", mnl_attr_get_str(a));
		break;
	case NLMSGERR_ATTR_MISS_TYPE:
		if (!mnl_attr_validate(a, MNL_TYPE_U32))
			e->miss_type = (int)mnl_attr_get_u32(a);
		break;
	}
	return MNL_CB_OK;
}

/* NLMSG_ERROR (an ack when error is 0) and NLMSG_DONE both may carry extack. */
static int ctl_cb(const struct nlmsghdr *nlh, void *data)
{
	struct run_ctx *c = data;
	const struct nlmsgerr *err;
	unsigned int off;
	int error;

	if (nlh->nlmsg_type == NLMSG_ERROR) {
		if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*err))
			return MNL_CB_ERROR;
		err = mnl_nlmsg_get_payload(nlh);
		error = err->error;
		off = sizeof(*err);
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			off += err->msg.nlmsg_len - sizeof(struct nlmsghdr);
	} else if (nlh->nlmsg_type == NLMSG_DONE) {
		if (mnl_nlmsg_get_payload_len(nlh) < sizeof(int))
			return MNL_CB_STOP;
		error = *(const int *)mnl_nlmsg_get_payload(nlh);
		off = sizeof(int);
	} else {
		return MNL_CB_OK;
	}
	if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) && c->e &&
	    mnl_nlmsg_get_payload_len(nlh) >= off)
		mnl_attr_parse(nlh, off, ext_cb, c->e);
	if (error) {
		c->error = error < 0 ? error : -error;
		return MNL_CB_ERROR;
	}
	return MNL_CB_STOP;
}

static int data_cb(const struct nlmsghdr *nlh, void *data)
{
	struct run_ctx *c = data;

	return c->cb ? c->cb(nlh, c->data) : MNL_CB_OK;
}

/*
 * A dump the kernel marked NLM_F_DUMP_INTR (libmnl stops with EINTR): read
 * the rest of it, up to its NLMSG_DONE or error, so the socket is clean for
 * the caller's retry.
 */
static void nl_drain(struct nl *nl, char *buf, ssize_t n, uint32_t seq)
{
	for (;;) {
		const struct nlmsghdr *h = (const struct nlmsghdr *)buf;
		int len = (int)n;

		for (; mnl_nlmsg_ok(h, len); h = mnl_nlmsg_next(h, &len))
			if (h->nlmsg_seq == seq && (h->nlmsg_type == NLMSG_DONE ||
						    h->nlmsg_type == NLMSG_ERROR))
				return;
		n = mnl_socket_recvfrom(nl->sk, buf, NL_BUF);
		if (n <= 0)
			return;
	}
}

/*
 * Send nlh and read replies until the ack, an error, or the end of a dump.
 * Returns 0 or -errno (-EINTR: the dump spanned a change, retry it); e gets
 * the extack message.
 */
int nl_run(struct nl *nl, struct nlmsghdr *nlh, nl_cb cb, void *data, struct nl_err *e)
{
	static char buf[NL_BUF];
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = { 0 };
	struct run_ctx c = { .cb = cb, .data = data, .e = e };
	uint32_t seq = nlh->nlmsg_seq;
	ssize_t n;
	int rc;

	ctl[NLMSG_ERROR] = ctl_cb;
	ctl[NLMSG_DONE] = ctl_cb;
	if (e) {
		e->msg[0] = 0;
		e->miss_type = -1;
	}
	if (mnl_socket_sendto(nl->sk, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(nl->sk, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		/* ctl_cb gets c through data; data_cb unwraps it. */
		rc = mnl_cb_run2(buf, (size_t)n, seq, nl->portid, data_cb, &c, ctl, NLMSG_MIN_TYPE);
		if (rc == MNL_CB_ERROR && !c.error && errno == EINTR) {
			nl_drain(nl, buf, n, seq);
			return -EINTR;
		}
		if (rc == MNL_CB_ERROR)
			return c.error ? c.error : (errno ? -errno : -EIO);
		if (rc == MNL_CB_STOP)
			return 0;
	}
}

int nl_join(struct nl *nl, uint32_t grp)
{
	if (!grp)
		return -ENOENT;
	if (mnl_socket_setsockopt(nl->sk, NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp)) < 0)
		return -errno;
	return 0;
}

/* "jazzctl: CTX: Strerror: extack" on stderr; returns EXIT_FAIL. */
int nl_fail(const char *ctx, int rc, const struct nl_err *e)
{
	fprintf(stderr, "%s: %s: %s", PROG, ctx, strerror(-rc));
	if (e && e->msg[0])
		fprintf(stderr, ": %s", e->msg);
	else if (e && e->miss_type >= 0)
		fprintf(stderr, ": missing attribute %d", e->miss_type);
	fputc('\n', stderr);
	return EXIT_FAIL;
}

const char *ifname_of(uint32_t ifindex, char *buf)
{
	if (!if_indextoname(ifindex, buf))
		snprintf(buf, IF_NAMESIZE, "if%u", ifindex);
	return buf;
}

/* A big receive buffer: SO_RCVBUFFORCE (CAP_NET_ADMIN), else SO_RCVBUF. */
int nl_rcvbuf(struct nl *nl, int bytes)
{
	int fd = mnl_socket_get_fd(nl->sk);

	if (!setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)))
		return 0;
	if (!setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes)))
		return 0;
	fprintf(stderr, "%s: cannot set the receive buffer to %d bytes: %s\n", PROG, bytes,
		strerror(errno));
	return -1;
}
