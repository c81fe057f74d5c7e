// SPDX-License-Identifier: GPL-2.0
/*
 * jazzctl set DEV [DEVOPT VALUE]... [peer ID [PEEROPT...]]...
 *
 * Device options go out in one dev-set; each peer becomes a peer-new when
 * the kernel does not know its id, a peer-set when it does, and a peer-del
 * with "remove". apply_config() is shared with setconf/addconf.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <libmnl/libmnl.h>
#include "jazzctl.h"

/* Allowed-ip nests per message: about 40 bytes each, well inside NL_BUF. */
#define IPS_PER_MSG 1000

static void put_devopts(struct nlmsghdr *nlh, const struct jz_devcfg *c)
{
	size_t i;

	for (i = 0; i < n_devopts; i++) {
		const struct devopt *o = &devopts[i];

		if (!(c->set_mask & (1ULL << i)))
			continue;
		if (o->bits == 8)
			mnl_attr_put_u8(nlh, o->attr, (uint8_t)c->val[i]);
		else if (o->bits == 16)
			mnl_attr_put_u16(nlh, o->attr, (uint16_t)c->val[i]);
		else
			mnl_attr_put_u32(nlh, o->attr, c->val[i]);
	}
}

static void put_prefix(struct nlmsghdr *nlh, const struct jz_prefix *p)
{
	struct nlattr *n = mnl_attr_nest_start(nlh, JAZZ_A_PEER_ALLOWED_IP);

	mnl_attr_put_u16(nlh, JAZZ_A_ALLOWED_IP_FAMILY, (uint16_t)p->family);
	mnl_attr_put(nlh, JAZZ_A_ALLOWED_IP_ADDR, p->family == AF_INET ? 4 : 16, p->addr);
	mnl_attr_put_u8(nlh, JAZZ_A_ALLOWED_IP_CIDR, p->cidr);
	mnl_attr_nest_end(nlh, n);
}

/* One peer-new/peer-set message with prefixes [from, to). */
static int send_peer(struct nl *nl, const char *dev, const struct jz_peercfg *p, bool exists,
		     bool first, int from, int to)
{
	static char buf[NL_BUF];
	const struct sockaddr_in *sin = (const void *)&p->endpoint;
	const struct sockaddr_in6 *sin6 = (const void *)&p->endpoint;
	struct nlmsghdr *nlh;
	struct nlattr *nest;
	struct nl_err e;
	uint32_t flags = 0;
	char ctx[64];
	int i, rc;

	nlh = nl_msg(nl, buf, exists ? JAZZ_CMD_PEER_SET : JAZZ_CMD_PEER_NEW, 0);
	nl_put_dev(nlh, dev);
	nest = mnl_attr_nest_start(nlh, JAZZ_A_PEER);
	mnl_attr_put_u32(nlh, JAZZ_A_PEER_ID, p->id);
	if (first) {
		if (p->has_remote_id)
			mnl_attr_put_u32(nlh, JAZZ_A_PEER_REMOTE_ID, p->remote_id);
		if (p->has_name)
			mnl_attr_put_strz(nlh, JAZZ_A_PEER_NAME, p->name);
		if (p->has_endpoint && p->endpoint.ss_family == AF_INET) {
			mnl_attr_put_u32(nlh, JAZZ_A_PEER_ENDPOINT_IP4, sin->sin_addr.s_addr);
			mnl_attr_put_u16(nlh, JAZZ_A_PEER_ENDPOINT_PORT, sin->sin_port);
		} else if (p->has_endpoint) {
			mnl_attr_put(nlh, JAZZ_A_PEER_ENDPOINT_IP6, 16, &sin6->sin6_addr);
			mnl_attr_put_u16(nlh, JAZZ_A_PEER_ENDPOINT_PORT, sin6->sin6_port);
		}
		if (p->has_keepalive)
			mnl_attr_put_u16(nlh, JAZZ_A_PEER_KEEPALIVE_S, p->keepalive);
		if (exists && p->replace_ips)
			flags |= JAZZ_PEER_FLAGS_REPLACE_ALLOWED_IPS;
		if (exists && p->clear_endpoint)
			flags |= JAZZ_PEER_FLAGS_CLEAR_ENDPOINT;
		if (flags)
			mnl_attr_put_u32(nlh, JAZZ_A_PEER_FLAGS, flags);
	}
	for (i = from; i < to; i++)
		put_prefix(nlh, &p->ips[i]);
	mnl_attr_nest_end(nlh, nest);
	rc = nl_run(nl, nlh, NULL, NULL, &e);
	if (rc) {
		snprintf(ctx, sizeof(ctx), "%s: peer %u", dev, p->id);
		return nl_fail(ctx, rc, &e);
	}
	return 0;
}

static int del_peer(struct nl *nl, const char *dev, uint32_t id)
{
	char buf[NL_SMALL], ctx[64];
	struct nlmsghdr *nlh = nl_msg(nl, buf, JAZZ_CMD_PEER_DEL, 0);
	struct nlattr *nest;
	struct nl_err e;
	int rc;

	nl_put_dev(nlh, dev);
	nest = mnl_attr_nest_start(nlh, JAZZ_A_PEER);
	mnl_attr_put_u32(nlh, JAZZ_A_PEER_ID, id);
	mnl_attr_nest_end(nlh, nest);
	rc = nl_run(nl, nlh, NULL, NULL, &e);
	if (rc) {
		snprintf(ctx, sizeof(ctx), "%s: peer %u", dev, id);
		return nl_fail(ctx, rc, &e);
	}
	return 0;
}

static int apply_peer(struct nl *nl, const char *dev, const struct jz_peercfg *p, bool exists)
{
	int from = 0, to, rc;

	if (p->remove)
		return del_peer(nl, dev, p->id);
	do {
		to = p->n_ips - from > IPS_PER_MSG ? from + IPS_PER_MSG : p->n_ips;
		rc = send_peer(nl, dev, p, exists, from == 0, from, to);
		if (rc)
			return rc;
		exists = true;	/* continuation messages add to the peer */
		from = to;
	} while (from < p->n_ips);
	return 0;
}

static bool has_peer(const struct jz_dev *d, uint32_t id)
{
	int i;

	for (i = 0; i < d->n_peers; i++)
		if (d->peers[i].id == id)
			return true;
	return false;
}

int apply_config(struct nl *nl, const char *dev, struct jz_devcfg *c, bool replace)
{
	char buf[NL_SMALL];
	struct nlmsghdr *nlh;
	struct jz_dev cur = { 0 };
	struct jz_peer tmp;
	struct nl_err e;
	bool exists;
	int i, rc;

	if (c->set_mask) {
		nlh = nl_msg(nl, buf, JAZZ_CMD_DEV_SET, 0);
		nl_put_dev(nlh, dev);
		put_devopts(nlh, c);
		rc = nl_run(nl, nlh, NULL, NULL, &e);
		if (rc)
			return nl_fail(dev, rc, &e);
	}
	if (replace) {
		snprintf(cur.ifname, sizeof(cur.ifname), "%s", dev);
		rc = fetch_peers(nl, &cur, &e);
		if (rc)
			return nl_fail(dev, rc, &e);
		for (i = 0; i < cur.n_peers; i++) {
			uint32_t id = cur.peers[i].id;
			int j;
			bool keep = false;

			for (j = 0; j < c->n_peers; j++)
				keep |= c->peers[j].id == id && !c->peers[j].remove;
			if (!keep && (rc = del_peer(nl, dev, id)))
				goto out;
		}
	}
	for (i = 0; i < c->n_peers; i++) {
		if (replace) {
			exists = has_peer(&cur, c->peers[i].id);
		} else if (c->peers[i].remove) {
			exists = true;
		} else {
			rc = fetch_peer(nl, dev, c->peers[i].id, &tmp, &e);
			peer_free(&tmp);
			if (rc && rc != -ENOENT) {
				char ctx[64];

				snprintf(ctx, sizeof(ctx), "%s: peer %u", dev, c->peers[i].id);
				rc = nl_fail(ctx, rc, &e);
				goto out;
			}
			exists = rc == 0;
		}
		if (replace && c->peers[i].remove && !exists)
			continue;
		rc = apply_peer(nl, dev, &c->peers[i], exists);
		if (rc)
			goto out;
	}
	rc = 0;
out:
	dev_free(&cur);
	return rc;
}

static int bad(const char *what, const char *val)
{
	fprintf(stderr, "%s: set: invalid %s '%s'\n", PROG, what, val);
	return EXIT_USAGE;
}

/* Parse one peer option at argv[*i]; returns 0, or EXIT_USAGE. */
static int peer_opt(struct jz_peercfg *p, int argc, char **argv, int *i)
{
	const char *k = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
	struct jz_prefix *ips;
	uint32_t u;
	int n;

	if (!strcmp(k, "remove")) {
		p->remove = true;
		return 0;
	}
	if (!strcmp(k, "replace-allowed-ips")) {
		p->replace_ips = true;
		return 0;
	}
	if (!v) {
		fprintf(stderr, "%s: set: '%s' needs a value\n", PROG, k);
		return EXIT_USAGE;
	}
	++*i;
	if (!strcmp(k, "remote-id")) {
		if (parse_u32(v, UINT32_MAX, &u) || !u)
			return bad(k, v);
		p->remote_id = u;
		p->has_remote_id = true;
	} else if (!strcmp(k, "name")) {
		if (!*v || strlen(v) > JAZZ_PEER_NAME_MAX)
			return bad(k, v);
		strcpy(p->name, v);
		p->has_name = true;
	} else if (!strcmp(k, "endpoint")) {
		if (!strcmp(v, "none")) {
			p->clear_endpoint = true;
			return 0;
		}
		if (parse_endpoint(v, true, &p->endpoint))
			return bad(k, v);
		p->has_endpoint = true;
	} else if (!strcmp(k, "allowed-ips")) {
		n = parse_prefix_list(v, &ips);
		if (n < 0)
			return bad(k, v);
		free(p->ips);
		p->ips = ips;
		p->n_ips = n;
		p->has_ips = true;
	} else if (!strcmp(k, "persistent-keepalive")) {
		if (!strcmp(v, "off"))
			u = 0;
		else if (parse_duration(v, false, 65535, &u))
			return bad(k, v);
		p->keepalive = (uint16_t)u;
		p->has_keepalive = true;
	} else {
		fprintf(stderr, "%s: set: unknown peer option '%s'\n", PROG, k);
		return EXIT_USAGE;
	}
	return 0;
}

int set_parse(int argc, char **argv, struct jz_devcfg *c)
{
	struct jz_peercfg *p = NULL;
	const struct devopt *o;
	uint32_t id, v;
	int i, rc;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "peer")) {
			if (i + 1 >= argc || parse_u32(argv[i + 1], UINT32_MAX, &id) || !id) {
				rc = bad("peer id", i + 1 < argc ? argv[i + 1] : "");
				goto fail;
			}
			p = devcfg_peer(c, id);
			i++;
		} else if (p) {
			rc = peer_opt(p, argc, argv, &i);
			if (rc)
				goto fail;
		} else if ((o = devopt_by_arg(argv[i]))) {
			if (i + 1 >= argc || devopt_parse(o, argv[i + 1], &v)) {
				rc = bad(o->arg, i + 1 < argc ? argv[i + 1] : "");
				goto fail;
			}
			c->set_mask |= 1ULL << (o - devopts);
			c->val[o - devopts] = v;
			i++;
		} else {
			fprintf(stderr, "%s: set: unknown option '%s'\n", PROG, argv[i]);
			rc = EXIT_USAGE;
			goto fail;
		}
	}
	return 0;
fail:
	devcfg_free(c);
	return rc;
}

int cmd_set(int argc, char **argv)
{
	struct jz_devcfg c;
	struct nl nl;
	int rc;

	if (argc < 2) {
		fprintf(stderr, "Usage: %s set DEV [OPTION VALUE]... [peer ID [PEER-OPTION]...]...\n", PROG);
		return EXIT_USAGE;
	}
	rc = set_parse(argc - 2, argv + 2, &c);
	if (rc)
		return rc;
	if (nl_open(&nl)) {
		devcfg_free(&c);
		return EXIT_FAIL;
	}
	rc = apply_config(&nl, argv[1], &c, false);
	devcfg_free(&c);
	nl_close(&nl);
	return rc;
}
