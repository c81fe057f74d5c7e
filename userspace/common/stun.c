// SPDX-License-Identifier: GPL-2.0
/*
 * STUN Binding messages (stun.h): the parser every received STUN datagram
 * goes through (fuzzed by tests/fuzz/fuzz_stun.c) and the two messages
 * jazz sends. Owns only the wire format: no sockets, no timers, no state.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include "stun.h"

#define ATTR_MAPPED_ADDRESS	0x0001
#define ATTR_ERROR_CODE		0x0009
#define ATTR_XOR_MAPPED_ADDRESS	0x0020
#define ATTR_JAZZ_CHECK		0xC0A7

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static int fail(char *err, size_t errlen, const char *why)
{
	if (errlen)
		snprintf(err, errlen, "%s", why);
	return -1;
}

/* (XOR-)MAPPED-ADDRESS value; the XOR key is the cookie and txid. */
static int parse_addr(const uint8_t *v, size_t len, bool xored,
		      const uint8_t *hdr, struct jz_stun_addr *a)
{
	size_t alen, i;

	if (len < 4 || v[0] != 0)
		return -1;
	if (v[1] == 0x01)
		alen = 4;
	else if (v[1] == 0x02)
		alen = 16;
	else
		return -1;
	if (len != 4 + alen)
		return -1;
	memset(a, 0, sizeof(*a));
	a->family = alen == 4 ? AF_INET : AF_INET6;
	a->port = get16(v + 2);
	memcpy(a->addr, v + 4, alen);
	if (xored) {
		a->port ^= JZ_STUN_COOKIE >> 16;
		/* bytes 4..19 of the header: cookie then transaction id */
		for (i = 0; i < alen; i++)
			a->addr[i] ^= hdr[4 + i];
	}
	return 0;
}

static int parse_attr(uint16_t type, const uint8_t *v, size_t len,
		      const uint8_t *hdr, struct jz_stun_msg *m,
		      bool *plain_seen, char *err, size_t errlen)
{
	switch (type) {
	case ATTR_XOR_MAPPED_ADDRESS:
		if (m->xor_mapped)
			return fail(err, errlen, "two XOR-MAPPED-ADDRESS attributes");
		if (parse_addr(v, len, true, hdr, &m->mapped))
			return fail(err, errlen, "malformed XOR-MAPPED-ADDRESS");
		m->xor_mapped = true;
		return 0;
	case ATTR_MAPPED_ADDRESS: {
		struct jz_stun_addr a;

		if (*plain_seen)
			return fail(err, errlen, "two MAPPED-ADDRESS attributes");
		if (parse_addr(v, len, false, hdr, &a))
			return fail(err, errlen, "malformed MAPPED-ADDRESS");
		*plain_seen = true;
		if (!m->xor_mapped)
			m->mapped = a;	/* XOR-MAPPED-ADDRESS wins */
		return 0;
	}
	case ATTR_ERROR_CODE:
		/* 2 reserved bytes, class (3 bits), number, reason phrase */
		if (len < 4 || (v[2] & 0x7) < 3 || (v[2] & 0x7) > 6 ||
		    v[3] > 99)
			return fail(err, errlen, "malformed ERROR-CODE");
		m->error_code = (v[2] & 0x7) * 100 + v[3];
		return 0;
	case ATTR_JAZZ_CHECK:
		if (m->has_check)
			return fail(err, errlen, "two JAZZ-CHECK attributes");
		if (len != 8)
			return fail(err, errlen, "malformed JAZZ-CHECK");
		m->has_check = true;
		m->check_from = get32(v);
		m->check_to = get32(v + 4);
		return 0;
	}
	if (type < 0x8000 && !m->unknown_required)
		m->unknown_required = type;
	return 0;
}

int jz_stun_parse(const uint8_t *buf, size_t len, struct jz_stun_msg *m,
		  char *err, size_t errlen)
{
	bool plain_seen = false;
	size_t off, alen;
	uint16_t type;

	memset(m, 0, sizeof(*m));
	if (len < JZ_STUN_HDR)
		return fail(err, errlen, "shorter than a STUN header");
	if (len > JZ_STUN_MAX)
		return fail(err, errlen, "longer than 1280 bytes");
	if (buf[0] & 0xc0)
		return fail(err, errlen, "first two bits not zero");
	if (get32(buf + 4) != JZ_STUN_COOKIE)
		return fail(err, errlen, "no magic cookie");
	if (get16(buf + 2) != len - JZ_STUN_HDR || (len & 3))
		return fail(err, errlen, "length field disagrees with the datagram");
	m->type = get16(buf);
	memcpy(m->txid, buf + 8, JZ_STUN_TXID);
	for (off = JZ_STUN_HDR; off < len; off += 4 + ((alen + 3) & ~(size_t)3)) {
		if (len - off < 4)
			return fail(err, errlen, "truncated attribute header");
		type = get16(buf + off);
		alen = get16(buf + off + 2);
		if (alen > len - off - 4)
			return fail(err, errlen, "attribute runs past the end");
		if (parse_attr(type, buf + off + 4, alen, buf, m, &plain_seen,
			       err, errlen))
			return -1;
	}
	return 0;
}

static void header(uint8_t *buf, uint16_t type, uint16_t len,
		   const uint8_t txid[JZ_STUN_TXID])
{
	put16(buf, type);
	put16(buf + 2, len);
	put32(buf + 4, JZ_STUN_COOKIE);
	memcpy(buf + 8, txid, JZ_STUN_TXID);
}

size_t jz_stun_request(uint8_t *buf, const uint8_t txid[JZ_STUN_TXID])
{
	header(buf, JZ_STUN_BINDING_REQUEST, 0, txid);
	return JZ_STUN_HDR;
}

size_t jz_stun_check(uint8_t *buf, const uint8_t txid[JZ_STUN_TXID],
		     uint32_t from, uint32_t to)
{
	header(buf, JZ_STUN_BINDING_REQUEST, 12, txid);
	put16(buf + 20, ATTR_JAZZ_CHECK);
	put16(buf + 22, 8);
	put32(buf + 24, from);
	put32(buf + 28, to);
	return 32;
}

size_t jz_stun_response(uint8_t *buf, const uint8_t txid[JZ_STUN_TXID],
			const struct jz_stun_addr *mapped)
{
	size_t alen, i;
	uint8_t *v;

	if (mapped->family == AF_INET)
		alen = 4;
	else if (mapped->family == AF_INET6)
		alen = 16;
	else
		return 0;
	header(buf, JZ_STUN_BINDING_SUCCESS, 4 + 4 + alen, txid);
	put16(buf + 20, ATTR_XOR_MAPPED_ADDRESS);
	put16(buf + 22, 4 + alen);
	v = buf + 24;
	v[0] = 0;
	v[1] = alen == 4 ? 0x01 : 0x02;
	put16(v + 2, mapped->port ^ (JZ_STUN_COOKIE >> 16));
	for (i = 0; i < alen; i++)
		v[4 + i] = mapped->addr[i] ^ buf[4 + i];
	return 24 + 4 + alen;
}

const char *jz_stun_addr_str(const struct jz_stun_addr *a, char *out,
			     size_t outlen)
{
	char ip[INET6_ADDRSTRLEN];

	if (a->family != AF_INET && a->family != AF_INET6) {
		snprintf(out, outlen, "none");
		return out;
	}
	inet_ntop(a->family, a->addr, ip, sizeof(ip));
	snprintf(out, outlen, a->family == AF_INET6 ? "[%s]:%u" : "%s:%u",
		 ip, a->port);
	return out;
}
