// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel's notifications, parsed at the edge: conn-request-ntf and
 * conn-expire-ntf into a struct jz_kconn, key-rotate-ntf into a struct
 * jz_krotate, stun-rx-ntf into a struct jz_kstun, peer-roam-ntf into a
 * struct jz_kroam, and the counters of DEV_GET replies and PEER_GET dumps
 * into a struct jz_kstats, every attribute's type and length checked, so that what
 * kernel_nl.c hands on is already typed and valid (addresses as text of
 * one family, directions and ends as known enum values).
 *
 * Must not act on a message (kernel_nl.c decides what to do with it) nor
 * keep state. Fuzzed by tests/fuzz/fuzz_kstats.c.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <string.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>

#include <jazz.h>

#include "kernel_int.h"

/* The device's ifindex, checked: 0 when it is ifindex; -2 another device's;
 * -1 of the wrong type. */
static int check_ifindex(const struct nlattr *a, uint32_t ifindex, bool *seen)
{
	if (mnl_attr_validate(a, MNL_TYPE_U32))
		return -1;
	if (mnl_attr_get_u32(a) != ifindex)
		return -2;
	*seen = true;
	return 0;
}

/* A notification's one nest of @type, once the message's ifindex is this
 * device's: 0 and *nest; -2 another device's; -1 malformed: no ifindex, no
 * nest or two of them (jazz.ko sends exactly one; merging or picking one of
 * two would let the parser act on half of a message). */
static int ntf_nest(const struct nlmsghdr *nlh, uint32_t ifindex, uint16_t type,
		    const struct nlattr **nest)
{
	const struct nlattr *a;
	bool have_if = false;
	int rc;

	*nest = NULL;
	if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(struct genlmsghdr))
		return -1;
	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(a) == JAZZ_A_IFINDEX) {
			rc = check_ifindex(a, ifindex, &have_if);
			if (rc)
				return rc;
		} else if (mnl_attr_get_type(a) == type) {
			if (*nest || mnl_attr_validate(a, MNL_TYPE_NESTED))
				return -1;
			*nest = a;
		}
	}
	return have_if && *nest ? 0 : -1;
}

int jz_knl_parse_rotate(const struct nlmsghdr *nlh, uint32_t ifindex, struct jz_krotate *r)
{
	const struct nlattr *a, *k;
	bool have_key = false, have_slot = false;
	uint32_t slot = 0;
	int rc;

	memset(r, 0, sizeof(*r));
	rc = ntf_nest(nlh, ifindex, JAZZ_A_KEY, &a);
	if (rc)
		return rc;
	mnl_attr_for_each_nested(k, a) {
		switch (mnl_attr_get_type(k)) {
		case JAZZ_A_KEYCONF_PEER_ID:
			if (mnl_attr_validate(k, MNL_TYPE_U32))
				return -1;
			r->peer_id = mnl_attr_get_u32(k);
			break;
		case JAZZ_A_KEYCONF_SLOT:
			if (mnl_attr_validate(k, MNL_TYPE_U32))
				return -1;
			slot = mnl_attr_get_u32(k);
			have_slot = true;
			break;
		case JAZZ_A_KEYCONF_KEY_ID:
			if (mnl_attr_validate(k, MNL_TYPE_U8))
				return -1;
			r->key_id = mnl_attr_get_u8(k);
			have_key = true;
			break;
		case JAZZ_A_KEYCONF_TX_COUNTER:
			if (mnl_attr_validate(k, MNL_TYPE_U64))
				return -1;
			r->tx_counter = mnl_attr_get_u64(k);
			break;
		}
	}
	if (!have_key || !have_slot || !r->peer_id ||
	    (slot != JAZZ_KEY_SLOT_PRIMARY && slot != JAZZ_KEY_SLOT_SECONDARY))
		return -1;
	r->slot = (int)slot;
	return 0;
}

/* An address attribute of 4 or 16 bytes as text; its length is its family,
 * returned (AF_INET, AF_INET6), or 0 for any other length. */
static int conn_addr(const struct nlattr *a, char out[JZ_IP_MAX])
{
	uint16_t len = mnl_attr_get_payload_len(a);
	int af = len == 4 ? AF_INET : len == 16 ? AF_INET6 : 0;

	if (!af || !inet_ntop(af, mnl_attr_get_payload(a), out, JZ_IP_MAX))
		return 0;
	return af;
}

static int conn_u8(const struct nlattr *a, int *out)
{
	if (mnl_attr_validate(a, MNL_TYPE_U8))
		return -1;
	*out = mnl_attr_get_u8(a);
	return 0;
}

static int conn_port(const struct nlattr *a, uint16_t *out)
{
	if (mnl_attr_validate(a, MNL_TYPE_U16))
		return -1;
	*out = ntohs(mnl_attr_get_u16(a));
	return 0;
}

/* One JAZZ_A_CONN nest into *c: 0, or -1 on a wrong type or length. */
static int conn_nest(const struct nlattr *nest, struct jz_kconn *c, int *src_af, int *dst_af)
{
	const struct nlattr *a;
	int rc = 0;

	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case JAZZ_A_CONN_COOKIE:
			rc = mnl_attr_validate(a, MNL_TYPE_U64);
			if (!rc)
				c->cookie = mnl_attr_get_u64(a);
			break;
		case JAZZ_A_CONN_PEER_ID:
			rc = mnl_attr_validate(a, MNL_TYPE_U32);
			if (!rc)
				c->peer_id = mnl_attr_get_u32(a);
			break;
		case JAZZ_A_CONN_DIRECTION: rc = conn_u8(a, &c->direction); break;
		case JAZZ_A_CONN_PROTO: rc = conn_u8(a, &c->proto); break;
		case JAZZ_A_CONN_END: rc = conn_u8(a, &c->end); break;
		case JAZZ_A_CONN_SRC_ADDR: *src_af = conn_addr(a, c->src); break;
		case JAZZ_A_CONN_DST_ADDR: *dst_af = conn_addr(a, c->dst); break;
		case JAZZ_A_CONN_SRC_PORT: rc = conn_port(a, &c->sport); break;
		case JAZZ_A_CONN_DST_PORT: rc = conn_port(a, &c->dport); break;
		}
		if (rc)
			return -1;
	}
	return 0;
}

int jz_knl_parse_conn(const struct nlmsghdr *nlh, uint32_t ifindex, struct jz_kconn *c)
{
	const struct genlmsghdr *g = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	int src_af = 0, dst_af = 0, rc;

	memset(c, 0, sizeof(*c));
	rc = ntf_nest(nlh, ifindex, JAZZ_A_CONN, &a);
	if (rc)
		return rc;
	if (conn_nest(a, c, &src_af, &dst_af))
		return -1;
	if (!c->peer_id || !src_af || src_af != dst_af)
		return -1;
	if (c->direction != JAZZ_DIRECTION_EGRESS && c->direction != JAZZ_DIRECTION_INGRESS)
		return -1;
	/* an end only on expiry; one this daemon does not know yet (a newer
	 * kernel's) still ends the connection */
	if ((g->cmd == JAZZ_CMD_CONN_EXPIRE_NTF) != (c->end != 0))
		return -1;
	return 0;
}

/* An address attribute (4 or 16 bytes) into @from (port set by the caller). */
static int addr_from(const struct nlattr *a, struct sockaddr_storage *from)
{
	size_t len = mnl_attr_get_payload_len(a);

	memset(from, 0, sizeof(*from));
	if (len == 4) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)from;

		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, mnl_attr_get_payload(a), 4);
		return 0;
	}
	if (len == 16) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)from;

		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, mnl_attr_get_payload(a), 16);
		return 0;
	}
	return -1;
}

int jz_knl_parse_stun(const struct nlmsghdr *nlh, uint32_t ifindex, struct jz_kstun *s)
{
	const struct nlattr *a, *n;
	bool have_addr = false, have_port = false, have_data = false;
	uint16_t port = 0;
	uint32_t scope = 0;
	int rc;

	memset(s, 0, sizeof(*s));
	rc = ntf_nest(nlh, ifindex, JAZZ_A_STUN, &a);
	if (rc)
		return rc;
	mnl_attr_for_each_nested(n, a) {
		switch (mnl_attr_get_type(n)) {
		case JAZZ_A_STUN_ADDR:
			if (addr_from(n, &s->from))
				return -1;
			have_addr = true;
			break;
		case JAZZ_A_STUN_PORT:
			if (mnl_attr_validate(n, MNL_TYPE_U16))
				return -1;
			port = mnl_attr_get_u16(n);	/* network order */
			have_port = true;
			break;
		case JAZZ_A_STUN_SCOPE_ID:
			if (mnl_attr_validate(n, MNL_TYPE_U32))
				return -1;
			scope = mnl_attr_get_u32(n);
			break;
		case JAZZ_A_STUN_LOCAL_PORT:
			if (mnl_attr_validate(n, MNL_TYPE_U16))
				return -1;
			s->local_port = mnl_attr_get_u16(n);
			break;
		case JAZZ_A_STUN_DATA:
			s->len = mnl_attr_get_payload_len(n);
			if (!s->len || s->len > sizeof(s->data))
				return -1;
			memcpy(s->data, mnl_attr_get_payload(n), s->len);
			have_data = true;
			break;
		}
	}
	if (!have_addr || !have_port || !have_data)
		return -1;
	if (s->from.ss_family == AF_INET) {
		((struct sockaddr_in *)&s->from)->sin_port = port;
	} else {
		((struct sockaddr_in6 *)&s->from)->sin6_port = port;
		((struct sockaddr_in6 *)&s->from)->sin6_scope_id = scope;
	}
	return 0;
}

int jz_knl_parse_roam(const struct nlmsghdr *nlh, uint32_t ifindex, struct jz_kroam *r)
{
	const struct nlattr *a, *n;
	bool have_ep = false;
	uint16_t port = 0;
	int rc;

	memset(r, 0, sizeof(*r));
	rc = ntf_nest(nlh, ifindex, JAZZ_A_PEER, &a);
	if (rc)
		return rc;
	mnl_attr_for_each_nested(n, a) {
		switch (mnl_attr_get_type(n)) {
		case JAZZ_A_PEER_ID:
			if (mnl_attr_validate(n, MNL_TYPE_U32))
				return -1;
			r->peer_id = mnl_attr_get_u32(n);
			break;
		case JAZZ_A_PEER_ENDPOINT_IP4:
		case JAZZ_A_PEER_ENDPOINT_IP6:
			if (have_ep || mnl_attr_get_payload_len(n) !=
			    (mnl_attr_get_type(n) == JAZZ_A_PEER_ENDPOINT_IP4 ? 4u : 16u) ||
			    addr_from(n, &r->ep))
				return -1;
			have_ep = true;
			break;
		case JAZZ_A_PEER_ENDPOINT_PORT:
			if (mnl_attr_validate(n, MNL_TYPE_U16))
				return -1;
			port = mnl_attr_get_u16(n);	/* network order */
			break;
		}
	}
	if (!have_ep || !port || !r->peer_id)
		return -1;
	if (r->ep.ss_family == AF_INET)
		((struct sockaddr_in *)&r->ep)->sin_port = port;
	else
		((struct sockaddr_in6 *)&r->ep)->sin6_port = port;
	return 0;
}

/* ---- counters: DEV_GET replies and PEER_GET dump parts into jz_kcounters ---- */

_Static_assert(JAZZ_A_STATS_DROP_TX_ERROR - JAZZ_A_STATS_DROP_MALFORMED == JZ_KDROP_TX_ERROR,
	       "enum jz_kdrop follows the stats attribute set");

static uint64_t *counter_slot(struct jz_kcounters *c, unsigned int t)
{
	switch (t) {
	case JAZZ_A_STATS_RX_PACKETS: return &c->rx_packets;
	case JAZZ_A_STATS_RX_BYTES: return &c->rx_bytes;
	case JAZZ_A_STATS_TX_PACKETS: return &c->tx_packets;
	case JAZZ_A_STATS_TX_BYTES: return &c->tx_bytes;
	case JAZZ_A_STATS_HELD: return &c->held;
	case JAZZ_A_STATS_RX_GRO_BATCHES: return &c->rx_gro_batches;
	case JAZZ_A_STATS_RX_GRO_DATAGRAMS: return &c->rx_gro_datagrams;
	case JAZZ_A_STATS_DROP_QUEUE_FULL: return &c->drops[JZ_KDROP_QUEUE_FULL];
	case JAZZ_A_STATS_TX_DROP_NO_PEER: return &c->drops[JZ_KDROP_TX_NO_PEER];
	case JAZZ_A_STATS_TX_DROP_NO_KEY: return &c->drops[JZ_KDROP_TX_NO_KEY];
	case JAZZ_A_STATS_TX_DROP_MALFORMED: return &c->drops[JZ_KDROP_TX_MALFORMED];
	case JAZZ_A_STATS_TX_DROP_QUEUE_FULL: return &c->drops[JZ_KDROP_TX_QUEUE_FULL];
	}
	if (t >= JAZZ_A_STATS_DROP_MALFORMED && t <= JAZZ_A_STATS_DROP_TX_ERROR)
		return &c->drops[t - JAZZ_A_STATS_DROP_MALFORMED];
	return NULL;	/* a counter newer than this daemon: ignored */
}

static void parse_counters(const struct nlattr *nest, struct jz_kcounters *c)
{
	const struct nlattr *a;
	uint64_t *slot;

	mnl_attr_for_each_nested(a, nest) {
		slot = counter_slot(c, mnl_attr_get_type(a));
		if (slot && !mnl_attr_validate(a, MNL_TYPE_U64))
			*slot = mnl_attr_get_u64(a);
	}
}

int jz_knl_stats_dev_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr))
		if (mnl_attr_get_type(a) == JAZZ_A_STATS &&
		    !mnl_attr_validate(a, MNL_TYPE_NESTED))
			parse_counters(a, data);
	return MNL_CB_OK;
}

static void peer_stats_one(struct jz_knl_peers_q *q, const struct nlattr *nest)
{
	struct jz_kpeer_stats ps = { 0 };
	const struct nlattr *a;

	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case JAZZ_A_PEER_ID:
			if (!mnl_attr_validate(a, MNL_TYPE_U32))
				ps.id = mnl_attr_get_u32(a);
			break;
		case JAZZ_A_PEER_NAME:
			if (!mnl_attr_validate(a, MNL_TYPE_NUL_STRING))
				snprintf(ps.name, sizeof(ps.name), "%s", mnl_attr_get_str(a));
			break;
		case JAZZ_A_PEER_LAST_RX_NS:
			if (!mnl_attr_validate(a, MNL_TYPE_U64))
				ps.last_rx_ns = mnl_attr_get_u64(a);
			break;
		case JAZZ_A_PEER_STATS:
			if (!mnl_attr_validate(a, MNL_TYPE_NESTED))
				parse_counters(a, &ps.c);
			break;
		}
	}
	/* the next parts of a peer split over messages repeat only its id */
	if (!ps.id || ps.id == q->last_id)
		return;
	q->last_id = ps.id;
	q->st->peers_total++;
	if (q->st->n_peers < q->st->max_peers)
		q->st->peers[q->st->n_peers++] = ps;
}

int jz_knl_stats_peers_cb(const struct nlmsghdr *nlh, void *data)
{
	struct jz_knl_peers_q *q = data;
	const struct nlattr *a;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		q->intr = true;
	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr))
		if (mnl_attr_get_type(a) == JAZZ_A_PEER && !mnl_attr_validate(a, MNL_TYPE_NESTED))
			peer_stats_one(q, a);
	return MNL_CB_OK;
}

int jz_knl_stats_any_cb(const struct nlmsghdr *nlh, void *data)
{
	struct jz_knl_peers_q *q = data;

	jz_knl_stats_dev_cb(nlh, &q->st->dev);
	return jz_knl_stats_peers_cb(nlh, data);
}
