/* SPDX-License-Identifier: GPL-2.0 */
/*
 * STUN (RFC 8489) Binding messages without authentication, the only STUN
 * jazz speaks: jazzd's server answers binding requests, and a device asks
 * one from its jazz device's own UDP socket (the kernel's stun-send and
 * stun-rx-ntf) to learn the public mapping of that socket. Why not a
 * library: docs/ARCHITECTURE.md "STUN codec". Every received message is
 * parsed here into a struct jz_stun_msg, and nothing else reads its bytes.
 */
#ifndef JAZZ_STUN_H
#define JAZZ_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JZ_STUN_HDR		20
#define JZ_STUN_COOKIE		0x2112A442u
#define JZ_STUN_TXID		12
/* The kernel's stun-max-len: nothing longer goes through a jazz device. */
#define JZ_STUN_MAX		1280

/* Message types (method Binding, RFC 8489 section 5). */
#define JZ_STUN_BINDING_REQUEST	0x0001
#define JZ_STUN_BINDING_SUCCESS	0x0101
#define JZ_STUN_BINDING_ERROR	0x0111
#define JZ_STUN_BINDING_INDICATION 0x0011

struct jz_stun_addr {
	int family;		/* AF_INET or AF_INET6; 0: none */
	uint8_t addr[16];	/* 4 or 16 bytes used */
	uint16_t port;		/* host order */
};

struct jz_stun_msg {
	uint16_t type;
	uint8_t txid[JZ_STUN_TXID];
	/* XOR-MAPPED-ADDRESS, or else MAPPED-ADDRESS (old servers) */
	struct jz_stun_addr mapped;
	bool xor_mapped;
	int error_code;		/* ERROR-CODE: 300..699, 0 when absent */
	/* A comprehension-required attribute (below 0x8000) this codec does
	 * not know: the first one's type, 0 when none. */
	uint16_t unknown_required;
	/* JAZZ-CHECK (0xC0A7, comprehension-optional: other STUN agents skip
	 * it): a jazz device's connectivity check (hole punching, issue 20)
	 * from device @check_from for device @check_to, ids the server gave */
	bool has_check;
	uint32_t check_from, check_to;
};

/*
 * Parse a datagram. 0 and *m filled, or -1 with a reason in err: shorter
 * than 20 or longer than JZ_STUN_MAX bytes, first two bits set, no magic
 * cookie, a length field that disagrees with @len or is not a multiple of
 * 4, an attribute running past the end, a second address of one kind, or
 * a malformed address (unknown family, wrong length).
 */
int jz_stun_parse(const uint8_t *buf, size_t len, struct jz_stun_msg *m,
		  char *err, size_t errlen);
/* A binding request with @txid into @buf (at least 20 bytes): its length. */
size_t jz_stun_request(uint8_t *buf, const uint8_t txid[JZ_STUN_TXID]);
/*
 * A binding success response to @txid carrying @mapped as
 * XOR-MAPPED-ADDRESS, into @buf (at least 44 bytes): its length, or 0 for
 * an address family other than AF_INET/AF_INET6.
 */
size_t jz_stun_response(uint8_t *buf, const uint8_t txid[JZ_STUN_TXID],
			const struct jz_stun_addr *mapped);
/* A binding request carrying JAZZ-CHECK {from, to} into @buf (at least 32
 * bytes): its length (32). */
size_t jz_stun_check(uint8_t *buf, const uint8_t txid[JZ_STUN_TXID],
		     uint32_t from, uint32_t to);
/* "192.0.2.1:3478" / "[2001:db8::1]:3478" into @out (at least 64 bytes). */
const char *jz_stun_addr_str(const struct jz_stun_addr *a, char *out,
			     size_t outlen);

#endif /* JAZZ_STUN_H */
