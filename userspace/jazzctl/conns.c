// SPDX-License-Identifier: GPL-2.0
/*
 * jazzctl conns [DEV|all] [--json]: the direct-connection table (conn-get
 * dump, joined across messages), one line or one JSON object per entry.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include "jazzctl.h"

static bool has_ports(uint8_t proto)
{
	return proto == 6 || proto == 17 || proto == 132;
}

static char *side(const struct jz_connreq *c, const uint8_t *addr, uint16_t port, char *buf,
		  size_t len)
{
	char a[64];

	fmt_addr(c->family, addr, a, sizeof(a));
	if (!has_ports(c->proto))
		snprintf(buf, len, "%s", a);
	else if (c->family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", a, port);
	else
		snprintf(buf, len, "%s:%u", a, port);
	return buf;
}

void print_conn_text(const char *dev, const struct jz_connreq *c, const struct jz_conninfo_ext *x)
{
	char s[80], d[80], p[8];

	printf("%s cookie %" PRIu64 " peer %u", dev, c->cookie, c->peer_id);
	if (c->peer_name[0])
		printf(" (%s)", c->peer_name);
	printf(" %s %s %s -> %s", direction_name(c->direction), proto_name(c->proto, p, sizeof(p)),
	       side(c, c->src, c->sport, s, sizeof(s)), side(c, c->dst, c->dport, d, sizeof(d)));
	if (!has_ports(c->proto) && c->sport)
		printf(" id %u", c->sport);
	if (x->has_state)
		printf(" %s", conn_state_name(x->state));
	if (x->has_end)
		printf(" end %s", conn_end_name(x->end));
	if (x->has_counters)
		printf(" age %" PRIu64 "ms idle %" PRIu64 "ms packets %" PRIu64 " bytes %" PRIu64
		       " held %u", x->age_ms, x->idle_ms, x->packets, x->bytes, x->held);
	if (x->wait_ns)
		printf(" wait %.1fus", (double)x->wait_ns / 1e3);
	if (x->verdict_ns)
		printf(" verdict-after %.1fus", (double)x->verdict_ns / 1e3);
	putchar('\n');
}

void print_conn_json(struct jw *w, const char *dev, const struct jz_connreq *c,
		     const struct jz_conninfo_ext *x)
{
	char b[64], p[8];

	jw_str(w, "ifname", dev);
	jw_u64(w, "ifindex", c->ifindex);
	/* A string: 64-bit cookies do not survive JSON readers that use doubles. */
	snprintf(b, sizeof(b), "%" PRIu64, c->cookie);
	jw_str(w, "cookie", b);
	jw_u64(w, "peer_id", c->peer_id);
	jw_str(w, "peer_name", c->peer_name);
	jw_str(w, "direction", direction_name(c->direction));
	jw_str(w, "proto", proto_name(c->proto, p, sizeof(p)));
	jw_u64(w, "proto_num", c->proto);
	jw_str(w, "family", c->family == AF_INET6 ? "inet6" : "inet");
	jw_str(w, "src", fmt_addr(c->family, c->src, b, sizeof(b)));
	jw_u64(w, "sport", c->sport);
	jw_str(w, "dst", fmt_addr(c->family, c->dst, b, sizeof(b)));
	jw_u64(w, "dport", c->dport);
	if (x->has_state)
		jw_str(w, "state", conn_state_name(x->state));
	if (x->has_end)
		jw_str(w, "end", conn_end_name(x->end));
	if (x->has_counters) {
		jw_u64(w, "age_ms", x->age_ms);
		jw_u64(w, "idle_ms", x->idle_ms);
		jw_u64(w, "packets", x->packets);
		jw_u64(w, "bytes", x->bytes);
		jw_u64(w, "held", x->held);
	}
	if (x->wait_ns)
		jw_u64(w, "wait_ns", x->wait_ns);
	if (x->verdict_ns)
		jw_u64(w, "verdict_ns", x->verdict_ns);
}

struct conn_item {
	struct jz_connreq c;
	struct jz_conninfo_ext x;
};

/* One device's entries, printed once its dump ended consistent. */
struct conns_ctx {
	const char *dev;
	bool json;
	struct jw *w;
	struct conn_item *v;
	size_t n, cap;
};

static int conns_cb(const struct nlmsghdr *nlh, void *data)
{
	struct conns_ctx *cx = data;
	struct conn_item *it;
	struct nlattr *a;
	uint32_t ifindex = 0;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(a) == JAZZ_A_IFINDEX && !mnl_attr_validate(a, MNL_TYPE_U32))
			ifindex = mnl_attr_get_u32(a);
		if (mnl_attr_get_type(a) != JAZZ_A_CONN)
			continue;
		if (grow_for_one((void **)&cx->v, &cx->cap, cx->n, sizeof(*cx->v)))
			return MNL_CB_ERROR;
		it = &cx->v[cx->n++];
		memset(it, 0, sizeof(*it));
		conn_parse(a, &it->c, &it->x);
		it->c.ifindex = ifindex;
	}
	return MNL_CB_OK;
}

/* A dump the table changed under (NLM_F_DUMP_INTR) is read again. */
#define CONNS_TRIES 8

static int dump_conns(struct nl *nl, const struct jz_dev *d, struct conns_ctx *cx)
{
	static char buf[NL_SMALL];
	struct nlmsghdr *nlh;
	struct nl_err e;
	int rc, tries = 0;
	size_t i;

	cx->dev = d->ifname;
	do {
		cx->n = 0;
		nlh = nl_msg(nl, buf, JAZZ_CMD_CONN_GET, NLM_F_DUMP);
		mnl_attr_put_u32(nlh, JAZZ_A_IFINDEX, d->ifindex);
		rc = nl_run(nl, nlh, conns_cb, cx, &e);
	} while (rc == -EINTR && ++tries < CONNS_TRIES);
	if (rc == -EINTR) {
		fprintf(stderr, "%s: %s: the connection table changed during each of %d dumps; try again\n",
			PROG, d->ifname, CONNS_TRIES);
		return EXIT_FAIL;
	}
	if (rc)
		return nl_fail(d->ifname, rc, &e);
	for (i = 0; i < cx->n; i++) {
		if (cx->json) {
			jw_obj(cx->w, NULL);
			print_conn_json(cx->w, cx->dev, &cx->v[i].c, &cx->v[i].x);
			jw_obj_end(cx->w);
		} else {
			print_conn_text(cx->dev, &cx->v[i].c, &cx->v[i].x);
		}
	}
	return 0;
}

int cmd_conns(int argc, char **argv)
{
	struct jz_dev *devs = NULL, one;
	struct conns_ctx cx = { 0 };
	const char *dev = NULL;
	struct nl_err e;
	struct jw w;
	struct nl nl;
	int i, n = 0, rc = 0;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			cx.json = true;
		else if (!dev)
			dev = argv[i];
		else {
			fprintf(stderr, "%s: conns: unexpected argument '%s'\n", PROG, argv[i]);
			return EXIT_USAGE;
		}
	}
	if (nl_open(&nl))
		return EXIT_FAIL;
	if (!dev || !strcmp(dev, "all")) {
		rc = fetch_devs(&nl, &devs, &n, &e);
		if (rc) {
			rc = nl_fail("dev-get dump", rc, &e);
			goto out;
		}
	} else {
		rc = fetch_dev(&nl, dev, &one, &e);
		if (rc) {
			rc = nl_fail(dev, rc, &e);
			goto out;
		}
		devs = malloc(sizeof(*devs));
		if (!devs) {
			rc = EXIT_FAIL;
			goto out;
		}
		devs[0] = one;
		n = 1;
	}
	jw_init(&w, stdout);
	cx.w = &w;
	if (cx.json)
		jw_arr(&w, NULL);
	for (i = 0; i < n && !rc; i++)
		rc = dump_conns(&nl, &devs[i], &cx);
	if (cx.json) {
		jw_arr_end(&w);
		putchar('\n');
	}
out:
	free(cx.v);
	free(devs);
	nl_close(&nl);
	return rc;
}
