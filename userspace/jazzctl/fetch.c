// SPDX-License-Identifier: GPL-2.0
/*
 * Reading kernel state: dev-get, peer-get (dumps joined back together, a
 * peer split across messages merged), and the attribute parsers shared with
 * monitor and conns. Attributes of an unexpected type are skipped rather
 * than trusted.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include "jazzctl.h"

static bool ok(const struct nlattr *a, enum mnl_attr_data_type t)
{
	return mnl_attr_validate(a, t) == 0;
}

static void stats_parse(const struct nlattr *nest, struct jz_stats *s)
{
	struct nlattr *a;
	uint16_t t;

	mnl_attr_for_each_nested(a, nest) {
		t = mnl_attr_get_type(a);
		if (t < N_STATS && t > JAZZ_A_STATS_PAD && ok(a, MNL_TYPE_U64)) {
			s->v[t] = mnl_attr_get_u64(a);
			s->present[t] = true;
		}
	}
}

static int prefix_parse(const struct nlattr *nest, struct jz_prefix *p)
{
	struct nlattr *a;
	size_t len;

	memset(p, 0, sizeof(*p));
	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case JAZZ_A_ALLOWED_IP_FAMILY:
			if (ok(a, MNL_TYPE_U16))
				p->family = mnl_attr_get_u16(a);
			break;
		case JAZZ_A_ALLOWED_IP_ADDR:
			len = mnl_attr_get_payload_len(a);
			if (len <= 16)
				memcpy(p->addr, mnl_attr_get_payload(a), len);
			break;
		case JAZZ_A_ALLOWED_IP_CIDR:
			if (ok(a, MNL_TYPE_U8))
				p->cidr = mnl_attr_get_u8(a);
			break;
		}
	}
	return p->family == AF_INET || p->family == AF_INET6 ? 0 : -1;
}

/*
 * The driver name as text safe for a terminal: printable ASCII is kept,
 * anything else becomes '?', and it is cut to the buffer.
 */
static void copy_driver(char *dst, const struct nlattr *a)
{
	const char *s = mnl_attr_get_str(a);
	size_t i;

	for (i = 0; s[i] && i < JZ_DRIVER_MAX - 1; i++)
		dst[i] = s[i] > ' ' && s[i] < 0x7f ? s[i] : '?';
	dst[i] = '\0';
}

int keyinfo_parse(const struct nlattr *nest, struct jz_keyinfo *k, uint32_t *peer_id)
{
	struct nlattr *a;

	memset(k, 0, sizeof(*k));
	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case JAZZ_A_KEYCONF_PEER_ID:
			if (peer_id && ok(a, MNL_TYPE_U32))
				*peer_id = mnl_attr_get_u32(a);
			break;
		case JAZZ_A_KEYCONF_SLOT:
			if (ok(a, MNL_TYPE_U32))
				k->slot = mnl_attr_get_u32(a);
			break;
		case JAZZ_A_KEYCONF_KEY_ID:
			if (ok(a, MNL_TYPE_U8))
				k->key_id = mnl_attr_get_u8(a);
			break;
		case JAZZ_A_KEYCONF_CIPHER:
			if (ok(a, MNL_TYPE_U32))
				k->cipher = mnl_attr_get_u32(a);
			break;
		case JAZZ_A_KEYCONF_TX_COUNTER:
			if (ok(a, MNL_TYPE_U64)) {
				k->tx_counter = mnl_attr_get_u64(a);
				k->has_tx_counter = true;
			}
			break;
		case JAZZ_A_KEYCONF_DRIVER:
			if (ok(a, MNL_TYPE_NUL_STRING))
				copy_driver(k->driver, a);
			break;
		}
	}
	return 0;
}

static void add_prefix(struct jz_peer *p, const struct jz_prefix *x)
{
	struct jz_prefix *n = realloc(p->ips, sizeof(*n) * (p->n_ips + 1));

	if (!n)
		return;
	p->ips = n;
	p->ips[p->n_ips++] = *x;
}

/* The path record: a known kind only; the reason kept printable
 * whatever the kernel (or whoever wrote it) holds. */
static void path_parse(const struct nlattr *nest, struct jz_peer *p)
{
	struct nlattr *a;
	char *c;

	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case JAZZ_A_PATH_KIND:
			if (ok(a, MNL_TYPE_U32) && mnl_attr_get_u32(a) >= JAZZ_PATH_KIND_DIRECT &&
			    mnl_attr_get_u32(a) <= JAZZ_PATH_KIND_RELAYED)
				p->path_kind = mnl_attr_get_u32(a);
			break;
		case JAZZ_A_PATH_SINCE_NS:
			if (ok(a, MNL_TYPE_U64))
				p->path_since_ns = mnl_attr_get_u64(a);
			break;
		case JAZZ_A_PATH_REASON:
			if (!ok(a, MNL_TYPE_NUL_STRING))
				break;
			snprintf(p->path_reason, sizeof(p->path_reason), "%s", mnl_attr_get_str(a));
			for (c = p->path_reason; *c; c++)
				if (*c < 0x20 || *c > 0x7e)
					*c = '?';
			break;
		}
	}
}

/* Parse a peer nest into p, adding to what p already holds (split peers). */
static int peer_merge(const struct nlattr *nest, struct jz_peer *p)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&p->endpoint;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&p->endpoint;
	struct jz_prefix x;
	struct nlattr *a;
	uint16_t port = 0;
	bool has_port = false;

	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case JAZZ_A_PEER_ID:
			if (ok(a, MNL_TYPE_U32))
				p->id = mnl_attr_get_u32(a);
			break;
		case JAZZ_A_PEER_REMOTE_ID:
			if (ok(a, MNL_TYPE_U32))
				p->remote_id = mnl_attr_get_u32(a);
			break;
		case JAZZ_A_PEER_NAME:
			if (ok(a, MNL_TYPE_NUL_STRING))
				snprintf(p->name, sizeof(p->name), "%s", mnl_attr_get_str(a));
			break;
		case JAZZ_A_PEER_ENDPOINT_IP4:
			if (ok(a, MNL_TYPE_U32)) {
				sin->sin_family = AF_INET;
				sin->sin_addr.s_addr = mnl_attr_get_u32(a);
			}
			break;
		case JAZZ_A_PEER_ENDPOINT_IP6:
			if (mnl_attr_get_payload_len(a) == 16) {
				sin6->sin6_family = AF_INET6;
				memcpy(&sin6->sin6_addr, mnl_attr_get_payload(a), 16);
			}
			break;
		case JAZZ_A_PEER_ENDPOINT_PORT:
			if (ok(a, MNL_TYPE_U16)) {
				port = mnl_attr_get_u16(a);	/* network order */
				has_port = true;
			}
			break;
		case JAZZ_A_PEER_KEEPALIVE_S:
			if (ok(a, MNL_TYPE_U16))
				p->keepalive = mnl_attr_get_u16(a);
			break;
		case JAZZ_A_PEER_ALLOWED_IP:
			if (!prefix_parse(a, &x))
				add_prefix(p, &x);
			break;
		case JAZZ_A_PEER_LAST_RX_NS:
			if (ok(a, MNL_TYPE_U64))
				p->last_rx_ns = mnl_attr_get_u64(a);
			break;
		case JAZZ_A_PEER_STATS:
			stats_parse(a, &p->stats);
			p->has_stats = true;
			break;
		case JAZZ_A_PEER_KEY:
			if (p->n_keys < 4)
				keyinfo_parse(a, &p->keys[p->n_keys++], NULL);
			break;
		case JAZZ_A_PEER_DEL_REASON:
			if (ok(a, MNL_TYPE_U32))
				p->del_reason = mnl_attr_get_u32(a);
			break;
		case JAZZ_A_PEER_PATH:
			if (ok(a, MNL_TYPE_NESTED))
				path_parse(a, p);
			break;
		}
	}
	if (has_port) {
		if (p->endpoint.ss_family == AF_INET)
			sin->sin_port = port;
		else if (p->endpoint.ss_family == AF_INET6)
			sin6->sin6_port = port;
	}
	return 0;
}

int peer_parse(const struct nlattr *nest, struct jz_peer *p)
{
	memset(p, 0, sizeof(*p));
	return peer_merge(nest, p);
}

void peer_free(struct jz_peer *p)
{
	free(p->ips);
	p->ips = NULL;
}

void dev_free(struct jz_dev *d)
{
	int i;

	for (i = 0; i < d->n_peers; i++)
		peer_free(&d->peers[i]);
	free(d->peers);
	d->peers = NULL;
	d->n_peers = 0;
}

int grow_for_one(void **v, size_t *cap, size_t n, size_t size)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 256;
	p = realloc(*v, ncap * size);
	if (!p)
		return -1;
	*v = p;
	*cap = ncap;
	return 0;
}

int conn_parse(const struct nlattr *nest, struct jz_connreq *c, struct jz_conninfo_ext *x)
{
	struct nlattr *a;
	size_t len;

	memset(c, 0, sizeof(*c));
	memset(x, 0, sizeof(*x));
	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case JAZZ_A_CONN_COOKIE:
			if (ok(a, MNL_TYPE_U64)) {
				c->cookie = mnl_attr_get_u64(a);
				c->has_cookie = true;
			}
			break;
		case JAZZ_A_CONN_PEER_ID:
			if (ok(a, MNL_TYPE_U32))
				c->peer_id = mnl_attr_get_u32(a);
			break;
		case JAZZ_A_CONN_PEER_NAME:
			if (ok(a, MNL_TYPE_NUL_STRING))
				snprintf(c->peer_name, sizeof(c->peer_name), "%s", mnl_attr_get_str(a));
			break;
		case JAZZ_A_CONN_DIRECTION:
			if (ok(a, MNL_TYPE_U8))
				c->direction = mnl_attr_get_u8(a);
			break;
		case JAZZ_A_CONN_PROTO:
			if (ok(a, MNL_TYPE_U8))
				c->proto = mnl_attr_get_u8(a);
			break;
		case JAZZ_A_CONN_FAMILY:
			if (ok(a, MNL_TYPE_U16))
				c->family = mnl_attr_get_u16(a);
			break;
		case JAZZ_A_CONN_SRC_ADDR:
			len = mnl_attr_get_payload_len(a);
			if (len <= 16)
				memcpy(c->src, mnl_attr_get_payload(a), len);
			break;
		case JAZZ_A_CONN_DST_ADDR:
			len = mnl_attr_get_payload_len(a);
			if (len <= 16)
				memcpy(c->dst, mnl_attr_get_payload(a), len);
			break;
		case JAZZ_A_CONN_SRC_PORT:
			if (ok(a, MNL_TYPE_U16))
				c->sport = ntohs(mnl_attr_get_u16(a));
			break;
		case JAZZ_A_CONN_DST_PORT:
			if (ok(a, MNL_TYPE_U16))
				c->dport = ntohs(mnl_attr_get_u16(a));
			break;
		case JAZZ_A_CONN_STATE:
			if (ok(a, MNL_TYPE_U8)) {
				x->state = mnl_attr_get_u8(a);
				x->has_state = true;
			}
			break;
		case JAZZ_A_CONN_END:
			if (ok(a, MNL_TYPE_U8)) {
				x->end = mnl_attr_get_u8(a);
				x->has_end = true;
			}
			break;
		case JAZZ_A_CONN_AGE_MS:
			if (ok(a, MNL_TYPE_U64))
				x->age_ms = mnl_attr_get_u64(a);
			break;
		case JAZZ_A_CONN_IDLE_MS:
			if (ok(a, MNL_TYPE_U64))
				x->idle_ms = mnl_attr_get_u64(a);
			break;
		case JAZZ_A_CONN_PACKETS:
			if (ok(a, MNL_TYPE_U64)) {
				x->packets = mnl_attr_get_u64(a);
				x->has_counters = true;
			}
			break;
		case JAZZ_A_CONN_BYTES:
			if (ok(a, MNL_TYPE_U64))
				x->bytes = mnl_attr_get_u64(a);
			break;
		case JAZZ_A_CONN_HELD:
			if (ok(a, MNL_TYPE_U32))
				x->held = mnl_attr_get_u32(a);
			break;
		case JAZZ_A_CONN_WAIT_NS:
			if (ok(a, MNL_TYPE_U64))
				x->wait_ns = mnl_attr_get_u64(a);
			break;
		case JAZZ_A_CONN_VERDICT_NS:
			if (ok(a, MNL_TYPE_U64))
				x->verdict_ns = mnl_attr_get_u64(a);
			break;
		}
	}
	return 0;
}

int probe_parse(const struct nlattr *nest, struct jz_probe *p)
{
	struct nlattr *a;

	memset(p, 0, sizeof(*p));
	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case JAZZ_A_PROBE_COOKIE:
			if (ok(a, MNL_TYPE_U64)) {
				p->cookie = mnl_attr_get_u64(a);
				p->has_cookie = true;
			}
			break;
		case JAZZ_A_PROBE_RTT_NS:
			if (ok(a, MNL_TYPE_U64))
				p->rtt_ns = mnl_attr_get_u64(a);
			break;
		case JAZZ_A_PROBE_LISTENER_PORTID:
			if (ok(a, MNL_TYPE_U32))
				p->listener = mnl_attr_get_u32(a);
			break;
		}
	}
	return p->has_cookie ? 0 : -1;
}

/* ---- dev-get ---- */

static void dev_parse(const struct nlmsghdr *nlh, struct jz_dev *d)
{
	struct nlattr *a;
	uint16_t t;
	size_t i;

	memset(d, 0, sizeof(*d));
	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		t = mnl_attr_get_type(a);
		switch (t) {
		case JAZZ_A_IFINDEX:
			if (ok(a, MNL_TYPE_U32))
				d->ifindex = mnl_attr_get_u32(a);
			continue;
		case JAZZ_A_IFNAME:
			if (ok(a, MNL_TYPE_NUL_STRING))
				snprintf(d->ifname, sizeof(d->ifname), "%s", mnl_attr_get_str(a));
			continue;
		case JAZZ_A_WIRE_VERSION:
			if (ok(a, MNL_TYPE_U32))
				d->wire_version = mnl_attr_get_u32(a);
			continue;
		case JAZZ_A_FEATURES:
			if (ok(a, MNL_TYPE_U64))
				d->features = mnl_attr_get_u64(a);
			continue;
		case JAZZ_A_CONN_COUNT:
			if (ok(a, MNL_TYPE_U32))
				d->conn_count = mnl_attr_get_u32(a);
			continue;
		case JAZZ_A_STATS:
			stats_parse(a, &d->stats);
			d->has_stats = true;
			continue;
		}
		for (i = 0; i < n_devopts; i++) {
			const struct devopt *o = &devopts[i];

			if (o->attr != t)
				continue;
			if (o->bits == 8 && ok(a, MNL_TYPE_U8))
				d->opt[i] = mnl_attr_get_u8(a);
			else if (o->bits == 16 && ok(a, MNL_TYPE_U16))
				d->opt[i] = mnl_attr_get_u16(a);
			else if (o->bits == 32 && ok(a, MNL_TYPE_U32))
				d->opt[i] = mnl_attr_get_u32(a);
			else
				break;
			d->has_opt[i] = true;
		}
	}
}

static int dev_cb(const struct nlmsghdr *nlh, void *data)
{
	dev_parse(nlh, data);
	return MNL_CB_OK;
}

int fetch_dev(struct nl *nl, const char *name, struct jz_dev *d, struct nl_err *e)
{
	char buf[NL_SMALL];
	struct nlmsghdr *nlh = nl_msg(nl, buf, JAZZ_CMD_DEV_GET, 0);

	memset(d, 0, sizeof(*d));
	nl_put_dev(nlh, name);
	return nl_run(nl, nlh, dev_cb, d, e);
}

struct devlist {
	struct jz_dev *v;
	int n;
};

static int devs_cb(const struct nlmsghdr *nlh, void *data)
{
	struct devlist *l = data;
	struct jz_dev *nv = realloc(l->v, sizeof(*nv) * (l->n + 1));

	if (!nv)
		return MNL_CB_ERROR;
	l->v = nv;
	dev_parse(nlh, &l->v[l->n++]);
	return MNL_CB_OK;
}

static int cmp_dev(const void *a, const void *b)
{
	return strcmp(((const struct jz_dev *)a)->ifname, ((const struct jz_dev *)b)->ifname);
}

int fetch_devs(struct nl *nl, struct jz_dev **out, int *n, struct nl_err *e)
{
	char buf[NL_SMALL];
	struct nlmsghdr *nlh = nl_msg(nl, buf, JAZZ_CMD_DEV_GET, NLM_F_DUMP);
	struct devlist l = { 0 };
	int rc = nl_run(nl, nlh, devs_cb, &l, e);

	if (rc) {
		free(l.v);
		return rc;
	}
	if (l.n)
		qsort(l.v, (size_t)l.n, sizeof(*l.v), cmp_dev);
	*out = l.v;
	*n = l.n;
	return 0;
}

/* ---- peer-get ---- */

static int peers_cb(const struct nlmsghdr *nlh, void *data)
{
	struct jz_dev *d = data;
	struct jz_peer tmp, *nv, *last;
	struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(a) != JAZZ_A_PEER)
			continue;
		peer_parse(a, &tmp);
		last = d->n_peers ? &d->peers[d->n_peers - 1] : NULL;
		if (last && tmp.id && last->id == tmp.id) {
			/* The dump split this peer: the rest of its prefixes/keys. */
			peer_free(&tmp);
			peer_merge(a, last);
			continue;
		}
		nv = realloc(d->peers, sizeof(*nv) * (d->n_peers + 1));
		if (!nv) {
			peer_free(&tmp);
			return MNL_CB_ERROR;
		}
		d->peers = nv;
		d->peers[d->n_peers++] = tmp;
	}
	return MNL_CB_OK;
}

/*
 * peer_merge on an already filled peer re-adds the prefixes of the
 * continuation only; scalar attributes are simply overwritten with the same
 * values, so merging is idempotent for them.
 */

static int cmp_peer(const void *a, const void *b)
{
	uint32_t x = ((const struct jz_peer *)a)->id, y = ((const struct jz_peer *)b)->id;

	return x < y ? -1 : x > y;
}

/* A dump that spanned a configuration change (NLM_F_DUMP_INTR) is retried. */
#define FETCH_TRIES 8

int fetch_peers(struct nl *nl, struct jz_dev *d, struct nl_err *e)
{
	char buf[NL_SMALL];
	struct nlmsghdr *nlh;
	int rc, i, tries = 0;

	do {
		for (i = 0; i < d->n_peers; i++)
			peer_free(&d->peers[i]);
		d->n_peers = 0;
		nlh = nl_msg(nl, buf, JAZZ_CMD_PEER_GET, NLM_F_DUMP);
		if (d->ifindex)
			mnl_attr_put_u32(nlh, JAZZ_A_IFINDEX, d->ifindex);
		else
			nl_put_dev(nlh, d->ifname);
		rc = nl_run(nl, nlh, peers_cb, d, e);
	} while (rc == -EINTR && ++tries < FETCH_TRIES);
	if (!rc && d->n_peers)
		qsort(d->peers, (size_t)d->n_peers, sizeof(*d->peers), cmp_peer);
	return rc;
}

struct one_peer {
	struct jz_peer *p;
	bool found;
};

static int peer_cb(const struct nlmsghdr *nlh, void *data)
{
	struct one_peer *o = data;
	struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(a) != JAZZ_A_PEER)
			continue;
		if (!o->found)
			peer_parse(a, o->p);
		else
			peer_merge(a, o->p);
		o->found = true;
	}
	return MNL_CB_OK;
}

int fetch_peer(struct nl *nl, const char *dev, uint32_t id, struct jz_peer *p, struct nl_err *e)
{
	char buf[NL_SMALL];
	struct nlmsghdr *nlh = nl_msg(nl, buf, JAZZ_CMD_PEER_GET, 0);
	struct one_peer o = { .p = p };
	struct nlattr *nest;
	int rc;

	memset(p, 0, sizeof(*p));
	nl_put_dev(nlh, dev);
	nest = mnl_attr_nest_start(nlh, JAZZ_A_PEER);
	mnl_attr_put_u32(nlh, JAZZ_A_PEER_ID, id);
	mnl_attr_nest_end(nlh, nest);
	rc = nl_run(nl, nlh, peer_cb, &o, e);
	if (!rc && !o.found)
		rc = -ENOENT;
	return rc;
}
