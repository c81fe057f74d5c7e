// SPDX-License-Identifier: GPL-2.0
/*
 * jazzctl answer DEV|all approve-all|deny-all|rules FILE
 *                [--lifetime S] [--count N] [--json] [--quiet] [--rcvbuf BYTES]
 *
 * Listens on the "approvals" group and answers each connection request of
 * DEV with conn-verdict by cookie: for tests and simple setups. Approver
 * probes (approver-probe-ntf) of DEV are answered in the same batches with
 * approver-probe-reply; they do not count towards --count. A probe that
 * another listener answered first gets ENOENT, which is not an error here.
 *
 * Built for latency, because a held packet waits for it:
 * - verdicts go out on a second socket, without NLM_F_ACK: the kernel runs
 *   a verdict inside our sendmsg(), so when it returns the verdict is in
 *   force and any error is already queued on that socket (read without
 *   blocking); nothing waits for a round trip;
 * - requests are read with one recvmmsg(MSG_WAITFORONE): it blocks for the
 *   first and takes the others already queued; they are answered together,
 *   one sendmsg() carrying up to ANSWER_BATCH verdicts;
 * - lines are printed after the verdicts went out, into a buffered stdout
 *   flushed before we block again (or not at all with --quiet);
 * - a large receive buffer (SO_RCVBUFFORCE, 8 MiB by default) and
 *   NETLINK_BROADCAST_ERROR: if the buffer still overflows, the kernel
 *   sees the loss (and repeats pending requests, see PROTOCOL.md) instead
 *   of taking us for absent, and we say so and resync from a dump of the
 *   pending connections.
 */
#include <errno.h>
#include <inttypes.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include "jazzctl.h"

#define ANSWER_BATCH	64

struct answer_item {
	struct jz_connreq conn;
	struct jz_conninfo_ext x;
	int verdict;
	long rule;		/* 1-based, 0: none (rules mode) */
	uint32_t seq;
	int error;		/* from the kernel, 0: applied */
	bool probe;		/* an approver-probe-reply, conn.cookie its cookie */
};

struct answer {
	struct nl cmd;
	uint16_t family;
	uint32_t ifindex;	/* 0: all devices */
	int mode;		/* 0 rules, else JAZZ_VERDICT_* for everything */
	struct jz_rule *rules;
	int n_rules;
	uint32_t lifetime;
	bool has_lifetime, json, quiet;
	long count, done;
	unsigned long lost;	/* ENOBUFS seen */
	/* The batch being built. */
	struct answer_item items[ANSWER_BATCH];
	int n;
	char *out;
	size_t outlen;
	/* Last ifindex -> name, for the output lines. */
	uint32_t name_idx;
	char name[IF_NAMESIZE];
};

static const char *answer_ifname(struct answer *a, uint32_t ifindex)
{
	if (ifindex != a->name_idx) {
		ifname_of(ifindex, a->name);
		a->name_idx = ifindex;
	}
	return a->name;
}

/*
 * The peer and addresses the kernel asked about go back with the verdict:
 * the kernel refuses it unless they are the held connection's.
 */
static void answer_bind(struct nlmsghdr *nlh, const struct jz_connreq *c)
{
	size_t alen = c->family == AF_INET ? 4 : 16;

	if (c->peer_id)
		mnl_attr_put_u32(nlh, JAZZ_A_CONN_PEER_ID, c->peer_id);
	if (c->family != AF_INET && c->family != AF_INET6)
		return;
	mnl_attr_put_u16(nlh, JAZZ_A_CONN_FAMILY, (uint16_t)c->family);
	mnl_attr_put_u8(nlh, JAZZ_A_CONN_PROTO, c->proto);
	mnl_attr_put(nlh, JAZZ_A_CONN_SRC_ADDR, alen, c->src);
	mnl_attr_put(nlh, JAZZ_A_CONN_DST_ADDR, alen, c->dst);
	mnl_attr_put_u16(nlh, JAZZ_A_CONN_SRC_PORT, htons(c->sport));
	mnl_attr_put_u16(nlh, JAZZ_A_CONN_DST_PORT, htons(c->dport));
}

/* Queue a verdict for @c (by cookie, device by ifindex: no name lookup). */
static void answer_add(struct answer *a, const struct jz_connreq *c,
		       const struct jz_conninfo_ext *x)
{
	const uint32_t *lt = a->has_lifetime ? &a->lifetime : NULL;
	const struct jz_rule *r = NULL;
	struct answer_item *it = &a->items[a->n++];
	struct nlmsghdr *nlh;
	struct nlattr *nest;
	int verdict = a->mode;

	if (!verdict) {
		r = rules_match(a->rules, a->n_rules, c);
		verdict = r ? r->verdict : JAZZ_VERDICT_DENY;
		if (r && r->has_lifetime)
			lt = &r->lifetime;
	}
	it->conn = *c;
	it->x = *x;
	it->verdict = verdict;
	it->rule = r ? (long)(r - a->rules) + 1 : 0;
	it->error = 0;
	it->probe = false;	/* the slot may have held a probe reply */
	nlh = nl_msg(&a->cmd, a->out + a->outlen, JAZZ_CMD_CONN_VERDICT, 0);
	nlh->nlmsg_flags &= ~NLM_F_ACK;		/* errors still come back */
	it->seq = nlh->nlmsg_seq;
	mnl_attr_put_u32(nlh, JAZZ_A_IFINDEX, c->ifindex);
	nest = mnl_attr_nest_start(nlh, JAZZ_A_CONN);
	mnl_attr_put_u64(nlh, JAZZ_A_CONN_COOKIE, c->cookie);
	mnl_attr_put_u8(nlh, JAZZ_A_CONN_VERDICT, (uint8_t)verdict);
	answer_bind(nlh, c);
	if (lt)
		mnl_attr_put_u32(nlh, JAZZ_A_CONN_LIFETIME_S, *lt);
	mnl_attr_nest_end(nlh, nest);
	a->outlen += NLMSG_ALIGN(nlh->nlmsg_len);
}

/* Queue the reply to an approver probe of device @ifindex. */
static void answer_probe(struct answer *a, uint32_t ifindex, uint64_t cookie)
{
	struct answer_item *it = &a->items[a->n++];
	struct nlmsghdr *nlh;
	struct nlattr *nest;

	memset(it, 0, sizeof(*it));
	it->probe = true;
	it->conn.ifindex = ifindex;
	it->conn.cookie = cookie;
	nlh = nl_msg(&a->cmd, a->out + a->outlen, JAZZ_CMD_APPROVER_PROBE_REPLY, 0);
	nlh->nlmsg_flags &= ~NLM_F_ACK;
	it->seq = nlh->nlmsg_seq;
	mnl_attr_put_u32(nlh, JAZZ_A_IFINDEX, ifindex);
	nest = mnl_attr_nest_start(nlh, JAZZ_A_PROBE);
	mnl_attr_put_u64(nlh, JAZZ_A_PROBE_COOKIE, cookie);
	mnl_attr_nest_end(nlh, nest);
	a->outlen += NLMSG_ALIGN(nlh->nlmsg_len);
}

static void answer_print_probe(struct answer *a, const struct answer_item *it)
{
	const char *dev = answer_ifname(a, it->conn.ifindex);
	char b[24];
	struct jw w;

	/* ENOENT: another listener answered first, or it expired. */
	if (it->error && it->error != -ENOENT)
		fprintf(stderr, "%s: answer: %s: probe cookie %" PRIu64 ": reply failed: %s\n",
			PROG, dev, it->conn.cookie, strerror(-it->error));
	if (a->quiet)
		return;
	if (a->json) {
		jw_init(&w, stdout);
		jw_obj(&w, NULL);
		jw_str(&w, "event", "approver-probe");
		jw_bool(&w, "ok", it->error == 0);
		jw_str(&w, "ifname", dev);
		snprintf(b, sizeof(b), "%" PRIu64, it->conn.cookie);
		jw_str(&w, "cookie", b);
		jw_obj_end(&w);
		putchar('\n');
	} else {
		printf("probe%s %s cookie %" PRIu64 "\n", it->error ? " (not first)" : "", dev,
		       it->conn.cookie);
	}
}

/* Errors of the verdicts just sent: already queued when sendmsg returned. */
static void answer_errors(struct answer *a)
{
	static char buf[NL_BUF];
	const struct nlmsghdr *nlh;
	const struct nlmsgerr *err;
	ssize_t n;
	int i, len;

	for (;;) {
		n = recv(mnl_socket_get_fd(a->cmd.sk), buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && (errno == ENOBUFS || errno == EINTR))
			continue;	/* some errors were lost; read the rest */
		if (n <= 0)
			return;
		len = (int)n;
		for (nlh = (struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			if (nlh->nlmsg_type != NLMSG_ERROR ||
			    mnl_nlmsg_get_payload_len(nlh) < sizeof(*err))
				continue;
			err = mnl_nlmsg_get_payload(nlh);
			for (i = 0; i < a->n; i++)
				if (a->items[i].seq == nlh->nlmsg_seq)
					a->items[i].error = err->error < 0 ? err->error :
									     -err->error;
		}
	}
}

static void answer_print(struct answer *a, const struct answer_item *it)
{
	const char *dev = answer_ifname(a, it->conn.ifindex);
	struct jw w;

	if (it->probe) {
		answer_print_probe(a, it);
		return;
	}
	if (it->error)
		fprintf(stderr, "%s: answer: %s: cookie %" PRIu64 ": %s verdict failed: %s\n",
			PROG, dev, it->conn.cookie, verdict_name((uint8_t)it->verdict),
			strerror(-it->error));
	if (a->quiet)
		return;
	if (a->json) {
		jw_init(&w, stdout);
		jw_obj(&w, NULL);
		jw_str(&w, "verdict", verdict_name((uint8_t)it->verdict));
		jw_bool(&w, "ok", it->error == 0);
		if (!a->mode)
			jw_u64(&w, "rule", (uint64_t)it->rule);
		print_conn_json(&w, dev, &it->conn, &it->x);
		jw_obj_end(&w);
		putchar('\n');
	} else {
		printf("%s%s ", verdict_name((uint8_t)it->verdict), it->error ? " (failed)" : "");
		print_conn_text(dev, &it->conn, &it->x);
	}
}

/* Send the batch (one sendmsg), collect its errors, print it. */
static int answer_flush(struct answer *a)
{
	int i;

	if (!a->n)
		return 0;
	if (mnl_socket_sendto(a->cmd.sk, a->out, a->outlen) < 0) {
		fprintf(stderr, "%s: answer: sending %d verdicts: %s\n", PROG, a->n,
			strerror(errno));
		for (i = 0; i < a->n; i++)
			a->items[i].error = -errno;
	} else {
		answer_errors(a);
	}
	for (i = 0; i < a->n; i++)
		answer_print(a, &a->items[i]);
	a->n = 0;
	a->outlen = 0;
	return 0;
}

/* One request from the approvals group. */
static void answer_msg(struct answer *a, const struct nlmsghdr *nlh)
{
	const struct genlmsghdr *g = mnl_nlmsg_get_payload(nlh);
	struct jz_conninfo_ext x = { 0 };
	struct jz_connreq c = { 0 };
	const struct nlattr *at;
	uint32_t ifindex = 0;
	bool has_conn = false;

	struct jz_probe p = { 0 };

	if (nlh->nlmsg_type != a->family || mnl_nlmsg_get_payload_len(nlh) < sizeof(*g) ||
	    (g->cmd != JAZZ_CMD_CONN_REQUEST_NTF && g->cmd != JAZZ_CMD_APPROVER_PROBE_NTF) ||
	    (a->count && a->done >= a->count))
		return;
	if (a->n == ANSWER_BATCH)
		answer_flush(a);
	mnl_attr_for_each(at, nlh, sizeof(*g)) {
		if (mnl_attr_get_type(at) == JAZZ_A_IFINDEX &&
		    !mnl_attr_validate(at, MNL_TYPE_U32))
			ifindex = mnl_attr_get_u32(at);
		else if (mnl_attr_get_type(at) == JAZZ_A_CONN && !has_conn)
			has_conn = !conn_parse(at, &c, &x);
		else if (mnl_attr_get_type(at) == JAZZ_A_PROBE && !p.has_cookie)
			probe_parse(at, &p);
	}
	if (g->cmd == JAZZ_CMD_APPROVER_PROBE_NTF) {
		if (p.has_cookie && ifindex && (!a->ifindex || ifindex == a->ifindex))
			answer_probe(a, ifindex, p.cookie);
		return;
	}
	if (!has_conn || !c.has_cookie || !ifindex || (a->ifindex && ifindex != a->ifindex))
		return;
	c.ifindex = ifindex;
	answer_add(a, &c, &x);
	a->done++;
}

/* ---- resync after a receive buffer overflow ---- */

struct resync {
	struct answer_item *v;
	size_t n, cap;
};

/* Collect the pending connections of a dump; answered once it is over. */
static int resync_cb(const struct nlmsghdr *nlh, void *data)
{
	struct resync *rs = data;
	struct answer_item *it;
	struct nlattr *at;
	uint32_t ifindex = 0;

	mnl_attr_for_each(at, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(at) == JAZZ_A_IFINDEX && !mnl_attr_validate(at, MNL_TYPE_U32))
			ifindex = mnl_attr_get_u32(at);
		if (mnl_attr_get_type(at) != JAZZ_A_CONN)
			continue;
		if (grow_for_one((void **)&rs->v, &rs->cap, rs->n, sizeof(*rs->v)))
			return MNL_CB_ERROR;
		it = &rs->v[rs->n];
		memset(it, 0, sizeof(*it));
		if (conn_parse(at, &it->conn, &it->x) || !it->conn.has_cookie ||
		    !it->x.has_state || it->x.state != JAZZ_CONN_STATE_PENDING)
			continue;
		it->conn.ifindex = ifindex;
		rs->n++;
	}
	return MNL_CB_OK;
}

/* Dump one device's connections and answer the pending ones. */
static int resync_dev(struct answer *a, uint32_t ifindex)
{
	static char buf[NL_SMALL];
	struct resync rs = { 0 };
	struct nlmsghdr *nlh;
	struct nl_err e;
	int rc, tries = 0;
	size_t i;

	do {	/* again while entries come and go under the dump (EINTR) */
		rs.n = 0;
		nlh = nl_msg(&a->cmd, buf, JAZZ_CMD_CONN_GET, NLM_F_DUMP);
		mnl_attr_put_u32(nlh, JAZZ_A_IFINDEX, ifindex);
		rc = nl_run(&a->cmd, nlh, resync_cb, &rs, &e);
	} while (rc == -EINTR && ++tries < 8);
	if (rc) {
		free(rs.v);
		return nl_fail("answer: resync: conn-get dump", rc, &e);
	}
	for (i = 0; i < rs.n && !(a->count && a->done >= a->count); i++) {
		answer_add(a, &rs.v[i].conn, &rs.v[i].x);
		a->done++;
		if (a->n == ANSWER_BATCH)
			answer_flush(a);
	}
	answer_flush(a);
	if (!a->quiet)
		fprintf(stderr, "%s: answer: resync: %zu pending connection(s) answered\n",
			PROG, i);
	free(rs.v);
	return 0;
}

static int answer_resync(struct answer *a)
{
	struct jz_dev *devs = NULL;
	struct nl_err e;
	int i, n = 0, rc = 0;

	if (a->ifindex)
		return resync_dev(a, a->ifindex);
	rc = fetch_devs(&a->cmd, &devs, &n, &e);
	if (rc)
		return nl_fail("answer: resync: dev-get dump", rc, &e);
	for (i = 0; i < n && !rc; i++)
		rc = resync_dev(a, devs[i].ifindex);
	for (i = 0; i < n; i++)
		dev_free(&devs[i]);
	free(devs);
	return rc;
}

/* ---- the loop ---- */

/*
 * One recvmmsg() with MSG_WAITFORONE per round: it blocks for the first
 * request and takes whatever else is queued without blocking, so a lone
 * request costs one receive call before its verdict goes out.
 */
static int answer_loop(struct nl *ev, struct answer *a)
{
	static char bufs[ANSWER_BATCH][NL_SMALL];
	static struct mmsghdr mm[ANSWER_BATCH];
	static struct iovec iov[ANSWER_BATCH];
	int fd = mnl_socket_get_fd(ev->sk), i, n, len;
	const struct nlmsghdr *nlh;

	for (i = 0; i < ANSWER_BATCH; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = sizeof(bufs[i]);
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	for (;;) {
		n = recvmmsg(fd, mm, ANSWER_BATCH, MSG_WAITFORONE, NULL);
		if (n < 0 && errno == ENOBUFS) {
			a->lost++;
			fprintf(stderr, "%s: answer: approval requests lost: receive buffer "
				"overflow (%lu so far); the kernel repeats pending requests, "
				"resyncing from the connection table\n", PROG, a->lost);
			/*
			 * Leftover replies on the command socket would fail the
			 * dump's sequence check. A failed resync is reported but
			 * not fatal: exiting would fail every pending connection
			 * closed, while the kernel repeats their requests anyway.
			 */
			answer_errors(a);
			if (answer_resync(a))
				fprintf(stderr, "%s: answer: resync failed; waiting for the "
					"kernel's repeated requests\n", PROG);
			fflush(stdout);
			if (a->count && a->done >= a->count)
				return 0;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "%s: answer: receiving requests: %s\n", PROG,
				strerror(errno));
			return EXIT_FAIL;
		}
		for (i = 0; i < n; i++) {
			len = (int)mm[i].msg_len;
			for (nlh = (struct nlmsghdr *)bufs[i]; mnl_nlmsg_ok(nlh, len);
			     nlh = mnl_nlmsg_next(nlh, &len))
				answer_msg(a, nlh);
		}
		answer_flush(a);
		if (!a->quiet)
			fflush(stdout);
		if (a->count && a->done >= a->count)
			return 0;
	}
}

static int usage(void)
{
	fprintf(stderr, "Usage: %s answer DEV|all approve-all|deny-all|rules FILE "
		"[--lifetime S] [--count N] [--json] [--quiet] [--rcvbuf BYTES]\n", PROG);
	return EXIT_USAGE;
}

static int answer_args(struct answer *a, int argc, char **argv, int i, int *rcvbuf)
{
	uint32_t u;

	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			a->json = true;
		} else if (!strcmp(argv[i], "--quiet")) {
			a->quiet = true;
		} else if (!strcmp(argv[i], "--count") && i + 1 < argc) {
			if (parse_u32(argv[++i], INT32_MAX, &u) || !u) {
				fprintf(stderr, "%s: answer: invalid count '%s'\n", PROG, argv[i]);
				return EXIT_USAGE;
			}
			a->count = u;
		} else if (!strcmp(argv[i], "--rcvbuf") && i + 1 < argc) {
			if (parse_u32(argv[++i], INT32_MAX / 2, &u) || u < 1024) {
				fprintf(stderr, "%s: answer: invalid rcvbuf '%s'\n", PROG, argv[i]);
				return EXIT_USAGE;
			}
			*rcvbuf = (int)u;
		} else if (!strcmp(argv[i], "--lifetime") && i + 1 < argc) {
			if (parse_duration(argv[++i], false, UINT32_MAX, &a->lifetime)) {
				fprintf(stderr, "%s: answer: invalid lifetime '%s'\n", PROG, argv[i]);
				return EXIT_USAGE;
			}
			a->has_lifetime = true;
		} else {
			fprintf(stderr, "%s: answer: unexpected argument '%s'\n", PROG, argv[i]);
			return EXIT_USAGE;
		}
	}
	return 0;
}

int cmd_answer(int argc, char **argv)
{
	static struct answer a;
	int rcvbuf = NL_RCVBUF, one = 1;
	struct nl ev;
	char err[512];
	FILE *f;
	int i, rc;

	if (argc < 3)
		return usage();
	if (strcmp(argv[1], "all")) {
		a.ifindex = if_nametoindex(argv[1]);
		if (!a.ifindex) {
			fprintf(stderr, "%s: answer: no device '%s'\n", PROG, argv[1]);
			return EXIT_FAIL;
		}
	}
	i = 3;
	if (!strcmp(argv[2], "approve-all")) {
		a.mode = JAZZ_VERDICT_APPROVE;
	} else if (!strcmp(argv[2], "deny-all")) {
		a.mode = JAZZ_VERDICT_DENY;
	} else if (!strcmp(argv[2], "rules") && argc > 3) {
		f = fopen(argv[3], "r");
		if (!f) {
			fprintf(stderr, "%s: answer: cannot open '%s': %s\n", PROG, argv[3],
				strerror(errno));
			return EXIT_USAGE;
		}
		rc = rules_parse(f, argv[3], &a.rules, &a.n_rules, err, sizeof(err));
		fclose(f);
		if (rc) {
			fprintf(stderr, "%s: %s\n", PROG, err);
			return EXIT_USAGE;
		}
		i = 4;
	} else {
		return usage();
	}
	rc = answer_args(&a, argc, argv, i, &rcvbuf);
	if (rc)
		return rc;
	a.out = malloc((size_t)ANSWER_BATCH * 256);
	if (!a.out)
		return EXIT_FAIL;
	/* Lines go out in blocks, flushed before we wait for more requests. */
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	if (nl_open(&ev)) {
		free(a.out);
		return EXIT_FAIL;
	}
	if (nl_open(&a.cmd)) {
		nl_close(&ev);
		free(a.out);
		return EXIT_FAIL;
	}
	a.family = ev.family;
	rc = nl_rcvbuf(&ev, rcvbuf) ? EXIT_FAIL : 0;
	/* An overflow is reported to the kernel (-ENOBUFS), not taken as "nobody". */
	if (!rc)
		mnl_socket_setsockopt(ev.sk, NETLINK_BROADCAST_ERROR, &one, sizeof(one));
	if (!rc)
		rc = join_group(&ev, JAZZ_MCGRP_APPROVALS);
	if (!rc)
		rc = answer_loop(&ev, &a);
	nl_close(&a.cmd);
	nl_close(&ev);
	free(a.rules);
	free(a.out);
	return rc;
}
