// SPDX-License-Identifier: GPL-2.0
/*
 * jazzctl probe DEV [--count N] [--timeout MS] [--each]
 *
 * Health check of the approval listeners: approver-probe makes the kernel
 * multicast a probe on the approvals group, a listener (jazzctl answer,
 * jazzd) answers it, and the kernel sends us the round trip it measured
 * with the clock and at the points it uses for a connection's wait (conn
 * wait-ns). So the result is the floor of the approval delay on this
 * machine, measured the same way as the approval itself.
 *
 * One probe at a time. Prints every round trip with --each (or when N is
 * 1), else one summary line. Fails (exit 1, one line on stderr) when the
 * kernel refuses the probe (nobody listens on approvals, no such device)
 * or when no listener answers within the timeout (default 2000 ms).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include "jazzctl.h"

struct probe_run {
	uint16_t family;
	struct jz_probe sent;		/* cookie from the reply */
	struct jz_probe result;		/* from approver-probe-result-ntf */
	bool have_result;
};

/* The reply and the result, in whatever order they arrive. */
static int probe_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct genlmsghdr *g = mnl_nlmsg_get_payload(nlh);
	struct probe_run *pr = data;
	struct jz_probe p;
	struct nlattr *a;

	if (nlh->nlmsg_type != pr->family || mnl_nlmsg_get_payload_len(nlh) < sizeof(*g))
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(*g)) {
		if (mnl_attr_get_type(a) != JAZZ_A_PROBE || probe_parse(a, &p))
			continue;
		if (g->cmd == JAZZ_CMD_APPROVER_PROBE) {
			pr->sent = p;
		} else if (g->cmd == JAZZ_CMD_APPROVER_PROBE_RESULT_NTF) {
			pr->result = p;
			pr->have_result = true;
		}
	}
	return MNL_CB_OK;
}

static bool probe_done(const struct probe_run *pr)
{
	return pr->have_result && pr->sent.has_cookie && pr->result.cookie == pr->sent.cookie;
}

/* One probe: 0 with pr->result filled, -ETIMEDOUT, or another -errno. */
static int probe_once(struct nl *nl, const char *dev, int timeout_ms, struct probe_run *pr,
		      struct nl_err *e)
{
	static char buf[NL_BUF];
	struct nlmsghdr *nlh;
	struct pollfd pfd;
	ssize_t n;
	int rc;

	pr->have_result = false;
	pr->sent.has_cookie = false;
	nlh = nl_msg(nl, buf, JAZZ_CMD_APPROVER_PROBE, 0);
	nl_put_dev(nlh, dev);
	rc = nl_run(nl, nlh, probe_cb, pr, e);
	if (rc)
		return rc;
	if (!pr->sent.has_cookie)
		return -EPROTO;
	pfd.fd = mnl_socket_get_fd(nl->sk);
	pfd.events = POLLIN;
	while (!probe_done(pr)) {
		rc = poll(&pfd, 1, timeout_ms);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return -errno;
		if (!rc)
			return -ETIMEDOUT;
		n = mnl_socket_recvfrom(nl->sk, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		/* Unicast from the kernel: port id and sequence 0. */
		mnl_cb_run(buf, (size_t)n, 0, 0, probe_cb, pr);
	}
	return 0;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

static int usage(void)
{
	fprintf(stderr, "Usage: %s probe DEV [--count N] [--timeout MS] [--each]\n", PROG);
	return EXIT_USAGE;
}

int cmd_probe(int argc, char **argv)
{
	uint32_t count = 1, timeout = 2000, i;
	struct probe_run pr = { 0 };
	bool each = false;
	uint64_t *rtt;
	struct nl_err e;
	struct nl nl;
	char ctx[64];
	int a, rc = 0;

	if (argc < 2)
		return usage();
	for (a = 2; a < argc; a++) {
		if (!strcmp(argv[a], "--each")) {
			each = true;
		} else if (!strcmp(argv[a], "--count") && a + 1 < argc) {
			if (parse_u32(argv[++a], 10000000, &count) || !count) {
				fprintf(stderr, "%s: probe: invalid count '%s'\n", PROG, argv[a]);
				return EXIT_USAGE;
			}
		} else if (!strcmp(argv[a], "--timeout") && a + 1 < argc) {
			if (parse_duration(argv[++a], true, 3600000, &timeout) || !timeout) {
				fprintf(stderr, "%s: probe: invalid timeout '%s'\n", PROG, argv[a]);
				return EXIT_USAGE;
			}
		} else {
			return usage();
		}
	}
	rtt = calloc(count, sizeof(*rtt));
	if (!rtt || nl_open(&nl)) {
		free(rtt);
		return EXIT_FAIL;
	}
	pr.family = nl.family;
	snprintf(ctx, sizeof(ctx), "probe %s", argv[1]);
	for (i = 0; i < count && !rc; i++) {
		rc = probe_once(&nl, argv[1], (int)timeout, &pr, &e);
		if (rc)
			break;
		rtt[i] = pr.result.rtt_ns;
		if (each || count == 1)
			printf("approver-probe %s cookie %" PRIu64 " rtt %.1f us listener %u\n",
			       argv[1], pr.result.cookie, (double)pr.result.rtt_ns / 1e3,
			       pr.result.listener);
	}
	nl_close(&nl);
	if (rc == -ETIMEDOUT) {
		fprintf(stderr, "%s: %s: no listener answered within %u ms\n", PROG, ctx, timeout);
	} else if (rc) {
		nl_fail(ctx, rc, &e);
	} else if (count > 1) {
		qsort(rtt, count, sizeof(*rtt), cmp_u64);
		printf("approver-probe %s: %u answered, rtt median %.1f us min %.1f us "
		       "p90 %.1f us max %.1f us\n", argv[1], count, (double)rtt[count / 2] / 1e3,
		       (double)rtt[0] / 1e3, (double)rtt[count * 9 / 10] / 1e3,
		       (double)rtt[count - 1] / 1e3);
	}
	free(rtt);
	return rc ? EXIT_FAIL : EXIT_OK;
}
