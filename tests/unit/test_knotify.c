// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the kernel notification parsers (userspace/jazzd/kernel/
 * kernel_parse.c): a conn-request-ntf and conn-expire-ntf as jazz.ko sends
 * them parse into the expected jz_kconn; every way of getting an attribute
 * wrong (type, length, mixed address families, a missing peer, an end on a
 * request, an unknown direction, two nests) is refused, and another
 * device's message is told apart from a malformed one.
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

static const struct nlmsghdr *conn_msg(enum flaw f, bool expire)
{
	struct nlmsghdr *nlh;
	struct genlmsghdr *g;

	memset(&m, 0, sizeof(m));
	nlh = mnl_nlmsg_put_header(m.buf);
	nlh->nlmsg_type = 0x20;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = expire ? JAZZ_CMD_CONN_EXPIRE_NTF : JAZZ_CMD_CONN_REQUEST_NTF;
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(request_parses),
		cmocka_unit_test(expire_parses),
		cmocka_unit_test(other_device_is_not_malformed),
		cmocka_unit_test(each_flaw_is_refused),
		cmocka_unit_test(truncated_header_is_refused),
	};

	return cmocka_run_group_tests_name("kernel notification parsers", tests, NULL, NULL);
}
