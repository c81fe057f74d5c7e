// SPDX-License-Identifier: GPL-2.0
/*
 * jazzctl rtt DEV [--count N]
 *
 * The generic netlink round trip of this machine, measured the way
 * `jazzctl answer` talks to the kernel (libmnl, one socket, no NLM_F_ACK):
 * N dev-get requests for DEV, each one sendmsg() and one recvmsg() of the
 * reply, timed with CLOCK_MONOTONIC. Prints the median, minimum and 90th
 * percentile in microseconds: the baseline of scripts/bench-conncheck.sh.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include "jazzctl.h"

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* One dev-get do, reply read; 0 or -errno. */
static int rtt_once(struct nl *nl, const char *dev, char *buf, size_t len)
{
	const struct nlmsghdr *r;
	struct nlmsghdr *nlh;
	ssize_t n;

	nlh = nl_msg(nl, buf, JAZZ_CMD_DEV_GET, 0);
	nlh->nlmsg_flags &= ~NLM_F_ACK;
	nl_put_dev(nlh, dev);
	if (mnl_socket_sendto(nl->sk, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	n = mnl_socket_recvfrom(nl->sk, buf, len);
	if (n < 0)
		return -errno;
	r = (const struct nlmsghdr *)buf;
	if (!mnl_nlmsg_ok(r, (int)n))
		return -EIO;
	if (r->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = mnl_nlmsg_get_payload(r);

		return e->error ? e->error : -EIO;
	}
	return r->nlmsg_type == nl->family ? 0 : -EIO;
}

int cmd_rtt(int argc, char **argv)
{
	static char buf[NL_BUF];
	uint32_t count = 1000;
	struct nl nl;
	double *d, t0;
	uint32_t i;
	int rc = 0;

	if (argc == 4 && !strcmp(argv[2], "--count")) {
		if (parse_u32(argv[3], 10000000, &count) || !count) {
			fprintf(stderr, "%s: rtt: invalid count '%s'\n", PROG, argv[3]);
			return EXIT_USAGE;
		}
	} else if (argc != 2) {
		fprintf(stderr, "Usage: %s rtt DEV [--count N]\n", PROG);
		return EXIT_USAGE;
	}
	d = calloc(count, sizeof(*d));
	if (!d || nl_open(&nl)) {
		free(d);
		return EXIT_FAIL;
	}
	for (i = 0; i < count && !rc; i++) {
		t0 = now_us();
		rc = rtt_once(&nl, argv[1], buf, sizeof(buf));
		d[i] = now_us() - t0;
	}
	nl_close(&nl);
	if (rc) {
		fprintf(stderr, "%s: rtt: dev-get %s: %s\n", PROG, argv[1], strerror(-rc));
		free(d);
		return EXIT_FAIL;
	}
	qsort(d, count, sizeof(*d), cmp_double);
	printf("dev-get round trips %u median %.0f us min %.0f us p90 %.0f us\n", count,
	       d[count / 2], d[0], d[count * 9 / 10]);
	free(d);
	return EXIT_OK;
}
