// SPDX-License-Identifier: GPL-2.0
/*
 * jazzctl conn DEV approve|deny SPEC [lifetime S]
 * jazzctl conn DEV del SPEC
 * jazzctl conn DEV flush [peer ID]
 *
 * SPEC is "cookie C" or "proto P from ADDR[:PORT] to ADDR[:PORT]" with
 * optional "peer ID", "direction egress|ingress" and "id N" (ICMP echo id).
 * A verdict by addresses for a connection the kernel has not seen yet is
 * installed ahead of its traffic.
 */
#include <arpa/inet.h>
#include <string.h>
#include <libmnl/libmnl.h>
#include "jazzctl.h"

static int bad(const char *what, const char *val)
{
	fprintf(stderr, "%s: conn: invalid %s '%s'\n", PROG, what, val);
	return EXIT_USAGE;
}

static int side(const char *s, struct jz_connreq *c, uint8_t *addr, uint16_t *port)
{
	struct sockaddr_storage ss;

	if (parse_endpoint(s, false, &ss))
		return -1;
	if (c->family && c->family != ss.ss_family)
		return -1;	/* from and to must be of one family */
	c->family = ss.ss_family;
	if (ss.ss_family == AF_INET) {
		memcpy(addr, &((struct sockaddr_in *)&ss)->sin_addr, 4);
		*port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	} else {
		memcpy(addr, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
		*port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	return 0;
}

/* Fills c; *lifetime stays untouched unless "lifetime" is given. */
int conn_spec_parse(int argc, char **argv, struct jz_connreq *c, bool *has_proto,
		    uint32_t *lifetime, bool *has_lifetime)
{
	bool from = false, to = false;
	const char *k, *v;
	uint32_t u;
	int i;

	memset(c, 0, sizeof(*c));
	*has_proto = false;
	for (i = 0; i < argc; i += 2) {
		k = argv[i];
		v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v) {
			fprintf(stderr, "%s: conn: '%s' needs a value\n", PROG, k);
			return EXIT_USAGE;
		}
		if (!strcmp(k, "cookie")) {
			if (parse_u64(v, &c->cookie))
				return bad(k, v);
			c->has_cookie = true;
		} else if (!strcmp(k, "proto")) {
			if (parse_proto(v, &c->proto))
				return bad(k, v);
			*has_proto = true;
		} else if (!strcmp(k, "from")) {
			if (side(v, c, c->src, &c->sport))
				return bad("from address", v);
			from = true;
		} else if (!strcmp(k, "to")) {
			if (side(v, c, c->dst, &c->dport))
				return bad("to address", v);
			to = true;
		} else if (!strcmp(k, "id")) {
			if (parse_u32(v, 65535, &u))
				return bad("echo id", v);
			c->sport = (uint16_t)u;
		} else if (!strcmp(k, "peer")) {
			if (parse_u32(v, UINT32_MAX, &c->peer_id) || !c->peer_id)
				return bad("peer id", v);
		} else if (!strcmp(k, "direction")) {
			if (parse_direction(v, &c->direction))
				return bad(k, v);
		} else if (!strcmp(k, "lifetime") && lifetime) {
			if (parse_duration(v, false, UINT32_MAX, lifetime))
				return bad(k, v);
			*has_lifetime = true;
		} else {
			fprintf(stderr, "%s: conn: unknown option '%s'\n", PROG, k);
			return EXIT_USAGE;
		}
	}
	if (!c->has_cookie && (!*has_proto || !from || !to)) {
		fprintf(stderr, "%s: conn: give 'cookie C' or 'proto P from A to A'\n", PROG);
		return EXIT_USAGE;
	}
	return 0;
}

void conn_put_spec(struct nlmsghdr *nlh, const struct jz_connreq *c, bool has_proto)
{
	size_t alen = c->family == AF_INET6 ? 16 : 4;

	if (c->has_cookie)
		mnl_attr_put_u64(nlh, JAZZ_A_CONN_COOKIE, c->cookie);
	if (c->peer_id)
		mnl_attr_put_u32(nlh, JAZZ_A_CONN_PEER_ID, c->peer_id);
	if (c->direction)
		mnl_attr_put_u8(nlh, JAZZ_A_CONN_DIRECTION, c->direction);
	if (!has_proto)
		return;
	mnl_attr_put_u8(nlh, JAZZ_A_CONN_PROTO, c->proto);
	mnl_attr_put_u16(nlh, JAZZ_A_CONN_FAMILY, (uint16_t)c->family);
	mnl_attr_put(nlh, JAZZ_A_CONN_SRC_ADDR, alen, c->src);
	mnl_attr_put_u16(nlh, JAZZ_A_CONN_SRC_PORT, htons(c->sport));
	mnl_attr_put(nlh, JAZZ_A_CONN_DST_ADDR, alen, c->dst);
	mnl_attr_put_u16(nlh, JAZZ_A_CONN_DST_PORT, htons(c->dport));
}

/* One conn-* request with a conn nest; ctx names the target in errors. */
int conn_request(struct nl *nl, const char *dev, uint8_t cmd, const struct jz_connreq *c,
		 bool has_proto, int verdict, const uint32_t *lifetime)
{
	char buf[NL_SMALL], ctx[96];
	struct nlmsghdr *nlh = nl_msg(nl, buf, cmd, 0);
	struct nlattr *nest;
	struct nl_err e;
	int rc;

	nl_put_dev(nlh, dev);
	/* A flush of the whole device carries no conn nest at all. */
	if (cmd != JAZZ_CMD_CONN_FLUSH || c->peer_id) {
		nest = mnl_attr_nest_start(nlh, JAZZ_A_CONN);
		conn_put_spec(nlh, c, has_proto);
		if (verdict)
			mnl_attr_put_u8(nlh, JAZZ_A_CONN_VERDICT, (uint8_t)verdict);
		if (lifetime)
			mnl_attr_put_u32(nlh, JAZZ_A_CONN_LIFETIME_S, *lifetime);
		mnl_attr_nest_end(nlh, nest);
	}
	rc = nl_run(nl, nlh, NULL, NULL, &e);
	if (rc) {
		if (c->has_cookie)
			snprintf(ctx, sizeof(ctx), "%s: cookie %llu", dev, (unsigned long long)c->cookie);
		else if (cmd == JAZZ_CMD_CONN_FLUSH && c->peer_id)
			snprintf(ctx, sizeof(ctx), "%s: peer %u", dev, c->peer_id);
		else
			snprintf(ctx, sizeof(ctx), "%s", dev);
		return nl_fail(ctx, rc, &e);
	}
	return 0;
}

int cmd_conn(int argc, char **argv)
{
	struct jz_connreq c = { 0 };
	bool has_proto = false, has_lt = false;
	uint32_t lifetime = 0, u;
	const char *dev, *op;
	struct nl nl;
	int rc, verdict = 0;
	uint8_t cmd;

	if (argc < 3) {
		fprintf(stderr, "Usage: %s conn DEV approve|deny|del|flush ...\n", PROG);
		return EXIT_USAGE;
	}
	dev = argv[1];
	op = argv[2];
	if (!strcmp(op, "approve") || !strcmp(op, "deny")) {
		cmd = JAZZ_CMD_CONN_VERDICT;
		verdict = op[0] == 'a' ? JAZZ_VERDICT_APPROVE : JAZZ_VERDICT_DENY;
		rc = conn_spec_parse(argc - 3, argv + 3, &c, &has_proto, &lifetime, &has_lt);
	} else if (!strcmp(op, "del")) {
		cmd = JAZZ_CMD_CONN_DEL;
		rc = conn_spec_parse(argc - 3, argv + 3, &c, &has_proto, NULL, NULL);
	} else if (!strcmp(op, "flush")) {
		cmd = JAZZ_CMD_CONN_FLUSH;
		rc = 0;
		if (argc == 5 && !strcmp(argv[3], "peer")) {
			if (parse_u32(argv[4], UINT32_MAX, &u) || !u)
				return bad("peer id", argv[4]);
			c.peer_id = u;
		} else if (argc != 3) {
			fprintf(stderr, "Usage: %s conn DEV flush [peer ID]\n", PROG);
			return EXIT_USAGE;
		}
	} else {
		fprintf(stderr, "%s: conn: unknown operation '%s' (approve, deny, del or flush)\n",
			PROG, op);
		return EXIT_USAGE;
	}
	if (rc)
		return rc;
	if (nl_open(&nl))
		return EXIT_FAIL;
	rc = conn_request(&nl, dev, cmd, &c, has_proto, verdict, has_lt ? &lifetime : NULL);
	nl_close(&nl);
	return rc;
}
