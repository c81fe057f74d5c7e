// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of jazzctl's parsers and JSON output (cmocka, no kernel).
 * Built and run by tests/unit/jazzctl.mk; prints TAP.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include "jazzctl.h"

/* ---- endpoints ---- */

static void ep_ok(const char *s, bool need_port, int fam, const char *addr, int port)
{
	struct sockaddr_storage ss;
	char buf[64];

	assert_int_equal(parse_endpoint(s, need_port, &ss), 0);
	assert_int_equal(ss.ss_family, fam);
	fmt_endpoint(&ss, false, buf, sizeof(buf));
	assert_string_equal(buf, addr);
	if (fam == AF_INET)
		assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), port);
	else
		assert_int_equal(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), port);
}

static void test_endpoint_v4(void **state)
{
	struct sockaddr_storage ss;
	char buf[64];

	ep_ok("192.0.2.1:51820", true, AF_INET, "192.0.2.1", 51820);
	ep_ok("10.0.0.1", false, AF_INET, "10.0.0.1", 0);
	assert_int_equal(parse_endpoint("192.0.2.1", true, &ss), -1);
	assert_int_equal(parse_endpoint("192.0.2.1:0", true, &ss), -1);
	assert_int_equal(parse_endpoint("192.0.2.1:65536", true, &ss), -1);
	assert_int_equal(parse_endpoint("192.0.2.1:80x", true, &ss), -1);
	assert_int_equal(parse_endpoint("192.0.2.1:-5", true, &ss), -1);
	assert_int_equal(parse_endpoint("192.0.2.1:", true, &ss), -1);
	assert_int_equal(parse_endpoint(":80", true, &ss), -1);
	assert_int_equal(parse_endpoint("192.0.2.1:65535", true, &ss), 0);
	assert_string_equal(fmt_endpoint(&ss, true, buf, sizeof(buf)), "192.0.2.1:65535");
}

static void test_endpoint_v6(void **state)
{
	struct sockaddr_storage ss;
	char buf[64];

	ep_ok("[fd00::1]:443", true, AF_INET6, "fd00::1", 443);
	ep_ok("[::ffff:10.0.0.1]:1", true, AF_INET6, "::ffff:10.0.0.1", 1);
	ep_ok("fd00::1", false, AF_INET6, "fd00::1", 0);
	ep_ok("[fd00::1]", false, AF_INET6, "fd00::1", 0);
	/* Without brackets the last group is not a port. */
	assert_int_equal(parse_endpoint("fd00::1:443", true, &ss), -1);
	assert_int_equal(parse_endpoint("[fd00::1]", true, &ss), -1);
	assert_int_equal(parse_endpoint("[fd00::1", true, &ss), -1);
	assert_int_equal(parse_endpoint("[fd00::1]443", true, &ss), -1);
	assert_int_equal(parse_endpoint("[fd00::1]:x", true, &ss), -1);
	assert_int_equal(parse_endpoint("[10.0.0.1]:80", true, &ss), -1);
	assert_int_equal(parse_endpoint("[fd00::zz]:80", true, &ss), -1);
	assert_int_equal(parse_endpoint("[fd00::1]:8080", true, &ss), 0);
	assert_string_equal(fmt_endpoint(&ss, true, buf, sizeof(buf)), "[fd00::1]:8080");
}

/* ---- prefixes ---- */

static void pfx_ok(const char *s, const char *want)
{
	struct jz_prefix p;
	char buf[64];

	assert_int_equal(parse_prefix(s, &p), 0);
	assert_string_equal(fmt_prefix(&p, buf, sizeof(buf)), want);
}

static void test_prefix(void **state)
{
	struct jz_prefix p, *v;
	uint8_t a[16];

	pfx_ok("10.0.0.0/8", "10.0.0.0/8");
	pfx_ok("10.1.2.3", "10.1.2.3/32");
	pfx_ok("0.0.0.0/0", "0.0.0.0/0");
	pfx_ok("fd00::/64", "fd00::/64");
	pfx_ok("fd00::1", "fd00::1/128");
	pfx_ok("::/0", "::/0");
	assert_int_equal(parse_prefix("10.0.0.0/33", &p), -1);
	assert_int_equal(parse_prefix("fd00::/129", &p), -1);
	assert_int_equal(parse_prefix("10.0.0.0/", &p), -1);
	assert_int_equal(parse_prefix("10.0.0.0/-1", &p), -1);
	assert_int_equal(parse_prefix("10.0.0.0/+8", &p), -1);
	assert_int_equal(parse_prefix("10.0.0.0/8/8", &p), -1);
	assert_int_equal(parse_prefix("10.0.0/8", &p), -1);
	assert_int_equal(parse_prefix("bob", &p), -1);
	assert_int_equal(parse_prefix("", &p), -1);

	assert_int_equal(parse_prefix_list("10.0.0.0/8, fd00::/64,192.168.1.1", &v), 3);
	assert_int_equal(v[1].family, AF_INET6);
	assert_int_equal(v[2].cidr, 32);
	free(v);
	assert_int_equal(parse_prefix_list("", &v), 0);
	free(v);
	assert_int_equal(parse_prefix_list("10.0.0.0/8,nope", &v), -1);

	parse_prefix("10.0.0.0/9", &p);
	inet_pton(AF_INET, "10.127.255.255", a);
	assert_true(prefix_contains(&p, AF_INET, a));
	inet_pton(AF_INET, "10.128.0.0", a);
	assert_false(prefix_contains(&p, AF_INET, a));
	parse_prefix("::/0", &p);
	inet_pton(AF_INET6, "fd00::5", a);
	assert_true(prefix_contains(&p, AF_INET6, a));
	assert_false(prefix_contains(&p, AF_INET, a));
}

/* ---- keys ---- */

#define K64 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

static void test_key_hex(void **state)
{
	uint8_t key[JAZZ_KEY_LEN], salt[JAZZ_SALT_LEN];

	assert_int_equal(parse_keydir(K64 ":DEADbeef", key, salt), 0);
	assert_int_equal(key[0], 0);
	assert_int_equal(key[31], 0x1f);
	assert_int_equal(salt[0], 0xde);
	assert_int_equal(salt[3], 0xef);
	/* wrong lengths, bad digits, missing salt */
	assert_int_equal(parse_keydir(K64 "00:deadbeef", key, salt), -1);
	assert_int_equal(parse_keydir(K64 ":deadbee", key, salt), -1);
	assert_int_equal(parse_keydir(K64 ":deadbeef00", key, salt), -1);
	assert_int_equal(parse_keydir(K64, key, salt), -1);
	assert_int_equal(parse_keydir(K64 ":deadbeeg", key, salt), -1);
	assert_int_equal(parse_keydir("x" K64 ":deadbeef", key, salt), -1);
	assert_int_equal(parse_keydir(":deadbeef", key, salt), -1);
	assert_int_equal(parse_hex("0g", key, 1), -1);
	assert_int_equal(parse_hex("ff", key, 1), 0);
	assert_int_equal(key[0], 0xff);
}

/* ---- numbers, durations, names ---- */

static void test_numbers(void **state)
{
	uint32_t u;
	uint64_t q;
	bool b;

	assert_int_equal(parse_u32("0x10", UINT32_MAX, &u), 0);
	assert_int_equal(u, 16);
	assert_int_equal(parse_u32("4294967295", UINT32_MAX, &u), 0);
	assert_int_equal(parse_u32("4294967296", UINT32_MAX, &u), -1);
	assert_int_equal(parse_u32("-1", UINT32_MAX, &u), -1);
	assert_int_equal(parse_u32(" 1", UINT32_MAX, &u), -1);
	assert_int_equal(parse_u32("1 ", UINT32_MAX, &u), -1);
	assert_int_equal(parse_u32("", UINT32_MAX, &u), -1);
	assert_int_equal(parse_u32("65536", 65535, &u), -1);
	assert_int_equal(parse_u64("18446744073709551615", &q), 0);
	assert_true(q == UINT64_MAX);
	assert_int_equal(parse_u64("18446744073709551616", &q), -1);
	assert_int_equal(parse_bool("on", &b), 0);
	assert_true(b);
	assert_int_equal(parse_bool("OFF", &b), 0);
	assert_false(b);
	assert_int_equal(parse_bool("maybe", &b), -1);
}

static void test_durations(void **state)
{
	uint32_t v;

	assert_int_equal(parse_duration("250", true, UINT32_MAX, &v), 0);
	assert_int_equal(v, 250);
	assert_int_equal(parse_duration("3s", true, UINT32_MAX, &v), 0);
	assert_int_equal(v, 3000);
	assert_int_equal(parse_duration("2m", true, UINT32_MAX, &v), 0);
	assert_int_equal(v, 120000);
	assert_int_equal(parse_duration("250ms", true, UINT32_MAX, &v), 0);
	assert_int_equal(v, 250);
	assert_int_equal(parse_duration("25", false, UINT32_MAX, &v), 0);
	assert_int_equal(v, 25);
	assert_int_equal(parse_duration("2h", false, UINT32_MAX, &v), 0);
	assert_int_equal(v, 7200);
	assert_int_equal(parse_duration("3000ms", false, UINT32_MAX, &v), 0);
	assert_int_equal(v, 3);
	assert_int_equal(parse_duration("1500ms", false, UINT32_MAX, &v), -1);
	assert_int_equal(parse_duration("5x", true, UINT32_MAX, &v), -1);
	assert_int_equal(parse_duration("s", true, UINT32_MAX, &v), -1);
	assert_int_equal(parse_duration("", true, UINT32_MAX, &v), -1);
	assert_int_equal(parse_duration("-1", true, UINT32_MAX, &v), -1);
	assert_int_equal(parse_duration("11m", true, 600000, &v), -1);
	assert_int_equal(parse_duration("10m", true, 600000, &v), 0);
	assert_int_equal(parse_duration("5000000h", false, UINT32_MAX, &v), -1);
}

static void test_names(void **state)
{
	uint32_t u;
	uint8_t p;
	char b[8];

	assert_int_equal(parse_cipher("aes-256-gcm", &u), 0);
	assert_int_equal(u, JAZZ_CIPHER_AES_256_GCM);
	assert_int_equal(parse_cipher("chacha20-poly1305", &u), 0);
	assert_int_equal(u, JAZZ_CIPHER_CHACHA20_POLY1305);
	assert_int_equal(parse_cipher("aes-128-gcm", &u), -1);
	assert_int_equal(parse_slot("secondary", &u), 0);
	assert_int_equal(u, JAZZ_KEY_SLOT_SECONDARY);
	assert_int_equal(parse_slot("third", &u), -1);
	assert_int_equal(parse_proto("TCP", &p), 0);
	assert_int_equal(p, 6);
	assert_int_equal(parse_proto("icmpv6", &p), 0);
	assert_int_equal(p, 58);
	assert_int_equal(parse_proto("47", &p), 0);
	assert_int_equal(parse_proto("256", &p), -1);
	assert_string_equal(proto_name(17, b, sizeof(b)), "udp");
	assert_string_equal(proto_name(47, b, sizeof(b)), "47");
	assert_string_equal(cipher_name(99), "unknown");
	assert_string_equal(conn_end_name(JAZZ_CONN_END_NO_LISTENER), "no-listener");
}

static void test_devopts(void **state)
{
	const struct devopt *o = devopt_by_arg("approval-timeout");
	uint32_t v;

	assert_non_null(o);
	assert_int_equal(devopt_parse(o, "5", &v), -1);	/* below min 10 */
	assert_int_equal(devopt_parse(o, "2s", &v), 0);
	assert_int_equal(v, 2000);
	assert_int_equal(devopt_parse(o, "700000", &v), -1);
	o = devopt_by_arg("conncheck");
	assert_int_equal(devopt_parse(o, "off", &v), 0);
	assert_int_equal(v, 0);
	o = devopt_by_conf("listenport");
	assert_non_null(o);
	assert_int_equal(devopt_parse(o, "65536", &v), -1);
	assert_null(devopt_by_arg("colour"));
}

/* ---- command lines ---- */

static void test_set_args(void **state)
{
	char *ok[] = { "listen-port", "51820", "fail-open", "on", "peer", "7", "name", "bob",
		       "endpoint", "[fd00::2]:1000", "allowed-ips", "10.0.0.2/32,fd00:1::/64",
		       "persistent-keepalive", "25", "replace-allowed-ips", "peer", "8", "remove" };
	char *bad1[] = { "listen-port", "70000" };
	char *bad2[] = { "peer", "0" };
	char *bad3[] = { "peer", "7", "colour", "red" };
	char *bad4[] = { "peer", "7", "endpoint", "10.0.0.1" };
	char *bad5[] = { "peer", "7", "name" };
	struct jz_devcfg c;

	assert_int_equal(set_parse(18, ok, &c), 0);
	assert_true(c.set_mask & 1);
	assert_int_equal(c.val[0], 51820);
	assert_int_equal(c.n_peers, 2);
	assert_int_equal(c.peers[0].id, 7);
	assert_string_equal(c.peers[0].name, "bob");
	assert_int_equal(c.peers[0].endpoint.ss_family, AF_INET6);
	assert_int_equal(c.peers[0].n_ips, 2);
	assert_int_equal(c.peers[0].keepalive, 25);
	assert_true(c.peers[0].replace_ips);
	assert_true(c.peers[1].remove);
	devcfg_free(&c);
	assert_int_equal(set_parse(2, bad1, &c), EXIT_USAGE);
	assert_int_equal(set_parse(2, bad2, &c), EXIT_USAGE);
	assert_int_equal(set_parse(4, bad3, &c), EXIT_USAGE);
	assert_int_equal(set_parse(4, bad4, &c), EXIT_USAGE);
	assert_int_equal(set_parse(3, bad5, &c), EXIT_USAGE);
}

static void test_conn_args(void **state)
{
	char *a[] = { "proto", "tcp", "from", "10.0.0.1:40000", "to", "10.0.0.2:80", "lifetime", "1m" };
	char *b[] = { "cookie", "18446744073709551615" };
	char *c6[] = { "proto", "udp", "from", "[fd00::1]:5", "to", "[fd00::2]:53", "peer", "3" };
	char *mix[] = { "proto", "tcp", "from", "10.0.0.1:1", "to", "[fd00::2]:80" };
	char *half[] = { "proto", "tcp", "from", "10.0.0.1:1" };
	struct jz_connreq c;
	uint32_t lt = 0;
	bool hp, hl = false;

	assert_int_equal(conn_spec_parse(8, a, &c, &hp, &lt, &hl), 0);
	assert_true(hp && hl);
	assert_int_equal(lt, 60);
	assert_int_equal(c.proto, 6);
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.sport, 40000);
	assert_int_equal(c.dport, 80);
	assert_int_equal(conn_spec_parse(2, b, &c, &hp, NULL, NULL), 0);
	assert_true(c.has_cookie && c.cookie == UINT64_MAX);
	assert_int_equal(conn_spec_parse(8, c6, &c, &hp, NULL, NULL), 0);
	assert_int_equal(c.family, AF_INET6);
	assert_int_equal(c.peer_id, 3);
	assert_int_equal(conn_spec_parse(6, mix, &c, &hp, NULL, NULL), EXIT_USAGE);
	assert_int_equal(conn_spec_parse(4, half, &c, &hp, NULL, NULL), EXIT_USAGE);
	/* lifetime is not an option of conn del */
	assert_int_equal(conn_spec_parse(8, a, &c, &hp, NULL, NULL), EXIT_USAGE);
}

/* ---- config file ---- */

static int parse_str(const char *text, struct jz_devcfg *c, char *err, size_t len)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int rc = config_parse(f, "t.conf", c, err, len);

	fclose(f);
	return rc;
}

static void test_config_ok(void **state)
{
	const char *text =
		"# a device\n"
		"[Device]\n"
		"ListenPort = 51820\n"
		"fwmark=0x20   # inline comment\n"
		"ConnCheck = off\n"
		"ApprovalTimeout = 2s\n"
		"TcpIdle = 1h\n"
		"\n"
		"[Peer]\n"
		"Name = bob\n"
		"Id = 7\n"
		"RemoteId = 9\n"
		"Endpoint = [fd00::2]:51820\n"
		"AllowedIPs = 10.0.0.2/32, fd00:1::/64\n"
		"AllowedIPs = 10.9.0.0/16\n"
		"PersistentKeepalive = 25\n"
		"[Peer]\n"
		"Id = 8\n";
	struct jz_devcfg c;
	char err[256];
	const struct devopt *o;

	assert_int_equal(parse_str(text, &c, err, sizeof(err)), 0);
	o = devopt_by_conf("FwMark");
	assert_true(c.set_mask & (1ULL << (o - devopts)));
	assert_int_equal(c.val[o - devopts], 0x20);
	o = devopt_by_conf("ApprovalTimeout");
	assert_int_equal(c.val[o - devopts], 2000);
	o = devopt_by_conf("TcpIdle");
	assert_int_equal(c.val[o - devopts], 3600);
	assert_int_equal(c.n_peers, 2);
	assert_int_equal(c.peers[0].id, 7);
	assert_string_equal(c.peers[0].name, "bob");
	assert_int_equal(c.peers[0].remote_id, 9);
	assert_int_equal(c.peers[0].n_ips, 3);
	assert_int_equal(c.peers[0].keepalive, 25);
	assert_int_equal(c.peers[1].id, 8);
	assert_false(c.peers[1].has_ips);
	devcfg_free(&c);
}

static void config_err(const char *text, const char *want)
{
	struct jz_devcfg c;
	char err[256];

	assert_int_equal(parse_str(text, &c, err, sizeof(err)), -1);
	assert_string_equal(err, want);
}

static void test_config_errors(void **state)
{
	config_err("[Device]\nColour = red\n", "t.conf:2: unknown key 'Colour' in [Device]");
	config_err("[Device]\nListenPort = 99999\n", "t.conf:2: invalid ListenPort '99999'");
	config_err("ListenPort = 1\n", "t.conf:1: 'ListenPort' outside a section");
	config_err("[Peer]\nName = x\n", "t.conf:1: [Peer] without Id");
	config_err("[Peer]\nId = 1\n[Peer]\nId = 1\n", "t.conf:3: peer 1 appears twice");
	config_err("[Peer]\nId = 1\nEndpoint = 10.0.0.1\n", "t.conf:3: invalid Endpoint '10.0.0.1'");
	config_err("[Peer]\nId = 1\nAllowedIPs = 10.0.0.0/40\n",
		   "t.conf:3: invalid AllowedIPs '10.0.0.0/40'");
	config_err("[Peer]\nId = 0\n", "t.conf:2: invalid Id '0'");
	config_err("[Peers]\n", "t.conf:1: unknown section '[Peers]'");
	config_err("[Device]\njunk\n", "t.conf:2: expected 'Key = Value', got 'junk'");
	config_err("[Peer]\nId = 1\nName = "
		   "0123456789012345678901234567890123456789012345678901234567890123\n",
		   "t.conf:3: invalid Name "
		   "'0123456789012345678901234567890123456789012345678901234567890123'");
}

/* ---- JSON ---- */

static char *escaped(const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	json_escape(f, s);
	fclose(f);
	return buf;
}

static void esc_eq(const char *in, const char *want)
{
	char *got = escaped(in);

	assert_string_equal(got, want);
	free(got);
}

static void test_json_escape(void **state)
{
	esc_eq("bob", "\"bob\"");
	esc_eq("a\"b\\c", "\"a\\\"b\\\\c\"");
	esc_eq("l1\nl2\t\r", "\"l1\\nl2\\t\\r\"");
	esc_eq("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"");
	esc_eq("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xb7", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xb7\"");
	/* invalid UTF-8: stray continuation, truncated, overlong, surrogate */
	esc_eq("a\x80z", "\"a\\ufffdz\"");
	esc_eq("a\xc3", "\"a\\ufffd\"");
	esc_eq("\xc0\xaf", "\"\\ufffd\\ufffd\"");
	esc_eq("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");
	esc_eq("</script>", "\"</script>\"");
}

static void test_json_writer(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct jw w;

	jw_init(&w, f);
	jw_obj(&w, NULL);
	jw_str(&w, "name", "x\"y");
	jw_u64(&w, "n", UINT64_MAX);
	jw_arr(&w, "a");
	jw_u64(&w, NULL, 1);
	jw_obj(&w, NULL);
	jw_bool(&w, "t", true);
	jw_null(&w, "z");
	jw_obj_end(&w);
	jw_arr_end(&w);
	jw_arr(&w, "empty");
	jw_arr_end(&w);
	jw_obj_end(&w);
	fclose(f);
	assert_string_equal(buf, "{\"name\":\"x\\\"y\",\"n\":18446744073709551615,"
			    "\"a\":[1,{\"t\":true,\"z\":null}],\"empty\":[]}");
	free(buf);
}

/* ---- answer rules ---- */

static void test_rules(void **state)
{
	const char *text =
		"# first match wins\n"
		"deny peer mallory\n"
		"approve lifetime 60 proto tcp to 10.0.0.0/24 dport 80-443\n"
		"approve peer-id 3 direction ingress proto udp from fd00::/64 sport 53\n";
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	const struct jz_rule *m;
	struct jz_connreq c = { 0 };
	struct jz_rule *r;
	char err[256];
	int n;

	assert_int_equal(rules_parse(f, "r", &r, &n, err, sizeof(err)), 0);
	fclose(f);
	assert_int_equal(n, 3);
	c.family = AF_INET;
	c.proto = 6;
	inet_pton(AF_INET, "10.0.0.7", c.dst);
	c.dport = 443;
	strcpy(c.peer_name, "bob");
	m = rules_match(r, n, &c);
	assert_ptr_equal(m, &r[1]);
	assert_true(m->has_lifetime && m->lifetime == 60);
	strcpy(c.peer_name, "mallory");
	assert_ptr_equal(rules_match(r, n, &c), &r[0]);
	strcpy(c.peer_name, "bob");
	c.dport = 444;
	assert_null(rules_match(r, n, &c));
	memset(&c, 0, sizeof(c));
	c.family = AF_INET6;
	c.proto = 17;
	c.peer_id = 3;
	c.direction = JAZZ_DIRECTION_INGRESS;
	inet_pton(AF_INET6, "fd00::9", c.src);
	c.sport = 53;
	assert_ptr_equal(rules_match(r, n, &c), &r[2]);
	c.direction = JAZZ_DIRECTION_EGRESS;
	assert_null(rules_match(r, n, &c));
	free(r);

	f = fmemopen("approve\nallow all\n", 18, "r");
	assert_int_equal(rules_parse(f, "r", &r, &n, err, sizeof(err)), -1);
	fclose(f);
	assert_string_equal(err, "r:2: expected approve or deny, got 'allow'");
	f = fmemopen("deny dport 9-1\n", 15, "r");
	assert_int_equal(rules_parse(f, "r", &r, &n, err, sizeof(err)), -1);
	fclose(f);
	assert_string_equal(err, "r:1: invalid dport '9-1'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_endpoint_v4),
		cmocka_unit_test(test_endpoint_v6),
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_key_hex),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_devopts),
		cmocka_unit_test(test_set_args),
		cmocka_unit_test(test_conn_args),
		cmocka_unit_test(test_config_ok),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_json_escape),
		cmocka_unit_test(test_json_writer),
		cmocka_unit_test(test_rules),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("jazzctl", tests, NULL, NULL);
}
