// SPDX-License-Identifier: GPL-2.0
/*
 * jazzctl stun DEV HOST:PORT [--timeout MS] [--json]
 *
 * Endpoint discovery by hand (issue 20): a STUN binding request (RFC 8489)
 * sent from DEV's own UDP socket (the kernel's stun-send) to a STUN server
 * (jazzd's [server] stun_listen, or any other), and the answer taken from
 * the kernel's stun-rx-ntf: prints the public address and port that NATs on
 * the way gave DEV's tunnel socket. The request is sent again after 500,
 * 1000, 2000 ... ms (RFC 8489's doubling) until the timeout (default
 * 3000 ms). Only an answer with our random transaction id, from the
 * address we asked, counts. Fails (exit 1, one line on stderr) when the
 * kernel refuses the request or nothing answers in time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <sys/random.h>
#include "jazzctl.h"
#include "stun.h"
#include "nlcheck.h"

struct stun_run {
	uint16_t family;
	uint32_t ifindex;
	struct sockaddr_storage server;
	uint8_t txid[JZ_STUN_TXID];
	struct jz_stun_msg answer;
	uint16_t local_port;
	bool done;
};

/* The stun nest of a stun-rx-ntf: source, local port and the message. */
static int stun_ntf(const struct nlattr *nest, struct stun_run *sr)
{
	const void *addr = NULL, *data = NULL;
	uint16_t port = 0, local = 0, alen = 0, dlen = 0;
	struct jz_stun_msg m;
	struct nlattr *a;
	char err[96];

	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case JAZZ_A_STUN_ADDR:
			addr = mnl_attr_get_payload(a);
			alen = mnl_attr_get_payload_len(a);
			break;
		case JAZZ_A_STUN_PORT:
			if (!mnl_attr_validate(a, MNL_TYPE_U16))
				port = ntohs(mnl_attr_get_u16(a));
			break;
		case JAZZ_A_STUN_LOCAL_PORT:
			if (!mnl_attr_validate(a, MNL_TYPE_U16))
				local = mnl_attr_get_u16(a);
			break;
		case JAZZ_A_STUN_DATA:
			data = mnl_attr_get_payload(a);
			dlen = mnl_attr_get_payload_len(a);
			break;
		}
	}
	if (!addr || !data)
		return -1;
	/* From the server we asked (another source proves nothing). */
	if (sr->server.ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)&sr->server;

		if (alen != 4 || memcmp(addr, &s->sin_addr, 4) || port != ntohs(s->sin_port))
			return -1;
	} else {
		const struct sockaddr_in6 *s = (const void *)&sr->server;

		if (alen != 16 || memcmp(addr, &s->sin6_addr, 16) ||
		    port != ntohs(s->sin6_port))
			return -1;
	}
	if (jz_stun_parse(data, dlen, &m, err, sizeof(err)) ||
	    memcmp(m.txid, sr->txid, JZ_STUN_TXID) ||
	    (m.type != JZ_STUN_BINDING_SUCCESS && m.type != JZ_STUN_BINDING_ERROR))
		return -1;
	sr->answer = m;
	sr->local_port = local;
	sr->done = true;
	return 0;
}

static int stun_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct genlmsghdr *g = mnl_nlmsg_get_payload(nlh);
	struct stun_run *sr = data;
	uint32_t ifindex = 0;
	struct nlattr *a, *nest = NULL;

	if (nlh->nlmsg_type != sr->family || mnl_nlmsg_get_payload_len(nlh) < sizeof(*g) ||
	    g->cmd != JAZZ_CMD_STUN_RX_NTF)
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(*g)) {
		if (mnl_attr_get_type(a) == JAZZ_A_IFINDEX && !mnl_attr_validate(a, MNL_TYPE_U32))
			ifindex = mnl_attr_get_u32(a);
		else if (mnl_attr_get_type(a) == JAZZ_A_STUN)
			nest = a;
	}
	if (nest && ifindex == sr->ifindex && !sr->done)
		stun_ntf(nest, sr);
	return MNL_CB_OK;
}

static int send_request(struct nl *nl, const char *dev, struct stun_run *sr, struct nl_err *e)
{
	static char buf[NL_SMALL];
	uint8_t msg[JZ_STUN_HDR];
	struct nlmsghdr *nlh;
	struct nlattr *nest;

	nlh = nl_msg(nl, buf, JAZZ_CMD_STUN_SEND, 0);
	nl_put_dev(nlh, dev);
	nest = mnl_attr_nest_start(nlh, JAZZ_A_STUN);
	if (sr->server.ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)&sr->server;

		mnl_attr_put(nlh, JAZZ_A_STUN_ADDR, 4, &s->sin_addr);
		mnl_attr_put_u16(nlh, JAZZ_A_STUN_PORT, s->sin_port);
	} else {
		const struct sockaddr_in6 *s = (const void *)&sr->server;

		mnl_attr_put(nlh, JAZZ_A_STUN_ADDR, 16, &s->sin6_addr);
		mnl_attr_put_u16(nlh, JAZZ_A_STUN_PORT, s->sin6_port);
		if (s->sin6_scope_id)
			mnl_attr_put_u32(nlh, JAZZ_A_STUN_SCOPE_ID, s->sin6_scope_id);
	}
	mnl_attr_put(nlh, JAZZ_A_STUN_DATA, jz_stun_request(msg, sr->txid), msg);
	mnl_attr_nest_end(nlh, nest);
	return nl_run(nl, nlh, NULL, NULL, e);
}

static long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* Ask until answered or @timeout ms passed: 0, -ETIMEDOUT or -errno. */
static int stun_ask(struct nl *nl, const char *dev, int timeout, struct stun_run *sr,
		    struct nl_err *e)
{
	static char buf[NL_BUF];
	long end = ms_now() + timeout, next = 0, rto = 500;
	struct pollfd pfd = { .fd = mnl_socket_get_fd(nl->sk), .events = POLLIN };
	ssize_t n;
	int rc;

	while (!sr->done) {
		long now = ms_now();

		if (now >= end)
			return -ETIMEDOUT;
		if (now >= next) {
			rc = send_request(nl, dev, sr, e);
			if (rc)
				return rc;
			next = now + rto;
			rto *= 2;
			continue;
		}
		rc = poll(&pfd, 1, (int)((next < end ? next : end) - now));
		if (rc < 0 && errno != EINTR)
			return -errno;
		if (rc <= 0)
			continue;
		n = mnl_socket_recvfrom(nl->sk, buf, sizeof(buf));
		if (n < 0 && errno == ENOBUFS)
			continue;	/* overrun: the answer comes again */
		if (n < 0)
			return -errno;
		if (jz_nl_msgs_sane(buf, (size_t)n))
			mnl_cb_run(buf, (size_t)n, 0, 0, stun_cb, sr);
	}
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "Usage: %s stun DEV HOST:PORT [--timeout MS] [--json]\n", PROG);
	return EXIT_USAGE;
}

int cmd_stun(int argc, char **argv)
{
	struct stun_run sr = { 0 };
	uint32_t timeout = 3000;
	char ctx[80], mapped[64];
	bool json = false;
	struct nl_err e;
	struct nl nl;
	int a, rc;

	if (argc < 3)
		return usage();
	if (parse_endpoint(argv[2], true, &sr.server)) {
		fprintf(stderr, "%s: stun: invalid server '%s' (HOST:PORT, [V6]:PORT)\n", PROG,
			argv[2]);
		return EXIT_USAGE;
	}
	for (a = 3; a < argc; a++) {
		if (!strcmp(argv[a], "--json")) {
			json = true;
		} else if (!strcmp(argv[a], "--timeout") && a + 1 < argc) {
			if (parse_duration(argv[++a], true, 600000, &timeout) || !timeout) {
				fprintf(stderr, "%s: stun: invalid timeout '%s'\n", PROG, argv[a]);
				return EXIT_USAGE;
			}
		} else {
			return usage();
		}
	}
	sr.ifindex = if_nametoindex(argv[1]);
	if (!sr.ifindex) {
		fprintf(stderr, "%s: stun: no device '%s'\n", PROG, argv[1]);
		return EXIT_FAIL;
	}
	if (getrandom(sr.txid, sizeof(sr.txid), 0) != sizeof(sr.txid) || nl_open(&nl))
		return EXIT_FAIL;
	sr.family = nl.family;
	snprintf(ctx, sizeof(ctx), "stun %s", argv[1]);
	rc = nl_join(&nl, nl.grp_stun);
	if (rc) {
		fprintf(stderr, "%s: %s: cannot join the stun group: %s\n", PROG, ctx,
			rc == -ENOENT ? "the module has none (too old)" : strerror(-rc));
		nl_close(&nl);
		return EXIT_FAIL;
	}
	rc = stun_ask(&nl, argv[1], (int)timeout, &sr, &e);
	nl_close(&nl);
	if (rc == -ETIMEDOUT) {
		fprintf(stderr, "%s: %s: no answer from %s within %u ms\n", PROG, ctx, argv[2],
			timeout);
		return EXIT_FAIL;
	}
	if (rc)
		return nl_fail(ctx, rc, &e);
	if (sr.answer.type == JZ_STUN_BINDING_ERROR || !sr.answer.mapped.family) {
		fprintf(stderr, "%s: %s: %s answered error %d, no mapped address\n", PROG, ctx,
			argv[2], sr.answer.error_code);
		return EXIT_FAIL;
	}
	jz_stun_addr_str(&sr.answer.mapped, mapped, sizeof(mapped));
	if (json)
		printf("{\"ifname\":\"%s\",\"server\":\"%s\",\"mapped\":\"%s\",\"local_port\":%u}\n",
		       argv[1], argv[2], mapped, sr.local_port);
	else
		printf("%s: mapped %s (local port %u, asked %s)\n", argv[1], mapped,
		       sr.local_port, argv[2]);
	return EXIT_OK;
}
