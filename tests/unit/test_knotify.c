// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the kernel notification parsers (userspace/jazzd/kernel/
 * kernel_parse.c): a conn-request-ntf and conn-expire-ntf as jazz.ko sends
 * them parse into the expected jz_kconn; every way of getting an attribute
 * wrong (type, length, mixed address families, a missing peer, an end on a
 * request, an unknown direction, two nests) is refused, and another
 * device's message is told apart from a malformed one. Key-rotate-ntf and
 * peer-roam-ntf parse the same way: one nest, never two merged. A DEV_GET
 * reply's counters land in their slots.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>

#include <jazz.h>

#include "kernel/kernel_int.h"

#define IFINDEX 7

/* What to get wrong in the message built by conn_msg(). */
enum flaw {
	OK, OTHER_DEV, NO_IFINDEX, IFINDEX_U16, ADDR_5_BYTES, MIXED_FAMILIES,
	NO_PEER, DIRECTION_U32, DIRECTION_3, END_ON_REQUEST, NO_END_ON_EXPIRE,
	TWO_NESTS, CONN_NOT_NESTED, PORT_U8,
};

static union {
	struct nlmsghdr h;
	char buf[1024];
} m;

static void conn_nest(struct nlmsghdr *nlh, enum flaw f, bool expire)
{
	static const uint8_t a4[4] = { 10, 7, 0, 2 }, b4[4] = { 10, 7, 0, 3 };
	static const uint8_t a6[16] = { 0xfd, 0, [15] = 2 };
	struct nlattr *n = mnl_attr_nest_start(nlh, JAZZ_A_CONN);

	mnl_attr_put_u64(nlh, JAZZ_A_CONN_COOKIE, 42);
	if (f != NO_PEER)
		mnl_attr_put_u32(nlh, JAZZ_A_CONN_PEER_ID, 3);
	mnl_attr_put_strz(nlh, JAZZ_A_CONN_PEER_NAME, "bob-pc");
	if (f == DIRECTION_U32)
		mnl_attr_put_u32(nlh, JAZZ_A_CONN_DIRECTION, JAZZ_DIRECTION_INGRESS);
	else
		mnl_attr_put_u8(nlh, JAZZ_A_CONN_DIRECTION,
				f == DIRECTION_3 ? 3 : JAZZ_DIRECTION_INGRESS);
	mnl_attr_put_u8(nlh, JAZZ_A_CONN_PROTO, 6);
	mnl_attr_put(nlh, JAZZ_A_CONN_SRC_ADDR, f == ADDR_5_BYTES ? 5 : 4, a4);
	if (f == PORT_U8)
		mnl_attr_put_u8(nlh, JAZZ_A_CONN_SRC_PORT, 1);
	else
		mnl_attr_put_u16(nlh, JAZZ_A_CONN_SRC_PORT, htons(40000));
	if (f == MIXED_FAMILIES)
		mnl_attr_put(nlh, JAZZ_A_CONN_DST_ADDR, 16, a6);
	else
		mnl_attr_put(nlh, JAZZ_A_CONN_DST_ADDR, 4, b4);
	mnl_attr_put_u16(nlh, JAZZ_A_CONN_DST_PORT, htons(22));
	if ((expire && f != NO_END_ON_EXPIRE) || (!expire && f == END_ON_REQUEST))
		mnl_attr_put_u8(nlh, JAZZ_A_CONN_END, JAZZ_CONN_END_IDLE);
	mnl_attr_nest_end(nlh, n);
}

/* An empty notification of @cmd in m, from the jazz family (0x20). */
static struct nlmsghdr *ntf_msg(uint8_t cmd)
{
	struct nlmsghdr *nlh;
	struct genlmsghdr *g;

	memset(&m, 0, sizeof(m));
	nlh = mnl_nlmsg_put_header(m.buf);
	nlh->nlmsg_type = 0x20;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	return nlh;
}

static const struct nlmsghdr *conn_msg(enum flaw f, bool expire)
{
	struct nlmsghdr *nlh = ntf_msg(expire ? JAZZ_CMD_CONN_EXPIRE_NTF : JAZZ_CMD_CONN_REQUEST_NTF);

	if (f == IFINDEX_U16)
		mnl_attr_put_u16(nlh, JAZZ_A_IFINDEX, IFINDEX);
	else if (f != NO_IFINDEX)
		mnl_attr_put_u32(nlh, JAZZ_A_IFINDEX, f == OTHER_DEV ? IFINDEX + 1 : IFINDEX);
	if (f == CONN_NOT_NESTED) {
		mnl_attr_put_u32(nlh, JAZZ_A_CONN, 3);
		return nlh;
	}
	conn_nest(nlh, f, expire);
	if (f == TWO_NESTS)
		conn_nest(nlh, OK, expire);
	return nlh;
}

static void request_parses(void **state)
{
	struct jz_kconn c;

	assert_int_equal(jz_knl_parse_conn(conn_msg(OK, false), IFINDEX, &c), 0);
	assert_int_equal(c.cookie, 42);
	assert_int_equal(c.peer_id, 3);
	assert_int_equal(c.direction, JAZZ_DIRECTION_INGRESS);
	assert_int_equal(c.proto, 6);
	assert_string_equal(c.src, "10.7.0.2");
	assert_string_equal(c.dst, "10.7.0.3");
	assert_int_equal(c.sport, 40000);
	assert_int_equal(c.dport, 22);
	assert_int_equal(c.end, 0);
}

static void expire_parses(void **state)
{
	struct jz_kconn c;

	assert_int_equal(jz_knl_parse_conn(conn_msg(OK, true), IFINDEX, &c), 0);
	assert_int_equal(c.end, JAZZ_CONN_END_IDLE);
	assert_int_equal(c.peer_id, 3);
}

static void other_device_is_not_malformed(void **state)
{
	struct jz_kconn c;

	assert_int_equal(jz_knl_parse_conn(conn_msg(OTHER_DEV, false), IFINDEX, &c), -2);
}

static void each_flaw_is_refused(void **state)
{
	static const enum flaw flaws[] = {
		NO_IFINDEX, IFINDEX_U16, ADDR_5_BYTES, MIXED_FAMILIES, NO_PEER,
		DIRECTION_U32, DIRECTION_3, END_ON_REQUEST, TWO_NESTS,
		CONN_NOT_NESTED, PORT_U8,
	};
	struct jz_kconn c;
	size_t i;

	for (i = 0; i < sizeof(flaws) / sizeof(flaws[0]); i++) {
		print_message("# flaw %d\n", flaws[i]);
		assert_int_equal(jz_knl_parse_conn(conn_msg(flaws[i], false), IFINDEX, &c), -1);
	}
	assert_int_equal(jz_knl_parse_conn(conn_msg(NO_END_ON_EXPIRE, true), IFINDEX, &c), -1);
}

static void truncated_header_is_refused(void **state)
{
	struct nlmsghdr h = { .nlmsg_len = NLMSG_HDRLEN + 2 };
	struct jz_kconn c;
	struct jz_krotate r;

	assert_int_equal(jz_knl_parse_conn(&h, IFINDEX, &c), -1);
	assert_int_equal(jz_knl_parse_rotate(&h, IFINDEX, &r), -1);
}

/* A key-rotate-ntf with @nests KEY nests (peer 3, secondary slot). */
static const struct nlmsghdr *rotate_msg(int nests)
{
	struct nlmsghdr *nlh = ntf_msg(JAZZ_CMD_KEY_ROTATE_NTF);
	int i;

	mnl_attr_put_u32(nlh, JAZZ_A_IFINDEX, IFINDEX);
	for (i = 0; i < nests; i++) {
		struct nlattr *n = mnl_attr_nest_start(nlh, JAZZ_A_KEY);

		mnl_attr_put_u32(nlh, JAZZ_A_KEYCONF_PEER_ID, 3 + i);
		mnl_attr_put_u32(nlh, JAZZ_A_KEYCONF_SLOT, JAZZ_KEY_SLOT_SECONDARY);
		mnl_attr_put_u8(nlh, JAZZ_A_KEYCONF_KEY_ID, 9);
		mnl_attr_nest_end(nlh, n);
	}
	return nlh;
}

static void rotate_takes_one_nest(void **state)
{
	struct jz_krotate r;

	assert_int_equal(jz_knl_parse_rotate(rotate_msg(1), IFINDEX, &r), 0);
	assert_int_equal(r.peer_id, 3);
	assert_int_equal(r.slot, JAZZ_KEY_SLOT_SECONDARY);
	assert_int_equal(r.key_id, 9);
	/* two peers' keys in one message: neither is believed */
	assert_int_equal(jz_knl_parse_rotate(rotate_msg(2), IFINDEX, &r), -1);
	assert_int_equal(jz_knl_parse_rotate(rotate_msg(0), IFINDEX, &r), -1);
}

/* A peer-roam-ntf with @nests PEER nests (peer 5 at 192.0.2.1:51820). */
static const struct nlmsghdr *roam_msg(int nests)
{
	static const uint8_t ip[4] = { 192, 0, 2, 1 };
	struct nlmsghdr *nlh = ntf_msg(JAZZ_CMD_PEER_ROAM_NTF);
	int i;

	mnl_attr_put_u32(nlh, JAZZ_A_IFINDEX, IFINDEX);
	for (i = 0; i < nests; i++) {
		struct nlattr *n = mnl_attr_nest_start(nlh, JAZZ_A_PEER);

		mnl_attr_put_u32(nlh, JAZZ_A_PEER_ID, 5 + i);
		mnl_attr_put(nlh, JAZZ_A_PEER_ENDPOINT_IP4, 4, ip);
		mnl_attr_put_u16(nlh, JAZZ_A_PEER_ENDPOINT_PORT, htons(51820));
		mnl_attr_nest_end(nlh, n);
	}
	return nlh;
}

static void roam_takes_one_nest(void **state)
{
	struct jz_kroam r;
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)&r.ep;

	assert_int_equal(jz_knl_parse_roam(roam_msg(1), IFINDEX, &r), 0);
	assert_int_equal(r.peer_id, 5);
	assert_int_equal(s4->sin_family, AF_INET);
	assert_int_equal(ntohs(s4->sin_port), 51820);
	assert_int_equal(jz_knl_parse_roam(roam_msg(2), IFINDEX, &r), -1);
	assert_int_equal(jz_knl_parse_roam(roam_msg(0), IFINDEX, &r), -1);
}

/* A DEV_GET reply's counters: each known one in its slot (the receive
 * batching ones too), a counter of the wrong size or an unknown one
 * ignored, never written elsewhere. */
static void device_counters_parse(void **state)
{
	struct nlmsghdr *nlh = ntf_msg(JAZZ_CMD_DEV_GET);
	struct jz_kcounters c = { 0 };
	struct nlattr *n;

	mnl_attr_put_u32(nlh, JAZZ_A_IFINDEX, IFINDEX);
	n = mnl_attr_nest_start(nlh, JAZZ_A_STATS);
	mnl_attr_put_u64(nlh, JAZZ_A_STATS_RX_PACKETS, 640);
	mnl_attr_put_u64(nlh, JAZZ_A_STATS_RX_GRO_BATCHES, 12);
	mnl_attr_put_u64(nlh, JAZZ_A_STATS_RX_GRO_DATAGRAMS, 600);
	mnl_attr_put_u64(nlh, JAZZ_A_STATS_DROP_REPLAY, 3);
	mnl_attr_put_u32(nlh, JAZZ_A_STATS_TX_PACKETS, 9);	/* wrong size */
	mnl_attr_put_u64(nlh, 0x3fff, 77);			/* newer than us */
	mnl_attr_nest_end(nlh, n);
	assert_int_equal(jz_knl_stats_dev_cb(nlh, &c), MNL_CB_OK);
	assert_int_equal(c.rx_packets, 640);
	assert_int_equal(c.rx_gro_batches, 12);
	assert_int_equal(c.rx_gro_datagrams, 600);
	assert_int_equal(c.drops[JZ_KDROP_REPLAY], 3);
	assert_int_equal(c.tx_packets, 0);
	assert_int_equal(c.rx_bytes + c.tx_bytes + c.held, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(request_parses),
		cmocka_unit_test(expire_parses),
		cmocka_unit_test(other_device_is_not_malformed),
		cmocka_unit_test(each_flaw_is_refused),
		cmocka_unit_test(truncated_header_is_refused),
		cmocka_unit_test(rotate_takes_one_nest),
		cmocka_unit_test(roam_takes_one_nest),
		cmocka_unit_test(device_counters_parse),
	};

	return cmocka_run_group_tests_name("kernel notification parsers", tests, NULL, NULL);
}
