// SPDX-License-Identifier: GPL-2.0
/* The STUN parser (userspace/common/stun.c) every STUN datagram a jazz
 * device or the server's STUN port receives goes through. Beyond "no
 * crash": a message the parser accepts keeps its type and transaction id,
 * and a response built from its mapped address parses back to the same
 * address, and a JAZZ-CHECK (hole punching) its ids (the codec's encoder
 * and decoder agree). */
#include <sys/socket.h>

#include "stun.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t out[64];
	struct jz_stun_msg m, r;
	char err[96], s[64];
	size_t n;

	if (jz_stun_parse(data, size, &m, err, sizeof(err)))
		return 0;
	if (m.type != (data[0] << 8 | data[1]) || memcmp(m.txid, data + 8, JZ_STUN_TXID))
		abort();
	jz_stun_addr_str(&m.mapped, s, sizeof(s));
	if (m.has_check) {
		n = jz_stun_check(out, m.txid, m.check_from, m.check_to);
		if (jz_stun_parse(out, n, &r, err, sizeof(err)) || !r.has_check ||
		    r.type != JZ_STUN_BINDING_REQUEST || r.check_from != m.check_from ||
		    r.check_to != m.check_to || memcmp(r.txid, m.txid, JZ_STUN_TXID))
			abort();
	}
	if (!m.mapped.family)
		return 0;
	n = jz_stun_response(out, m.txid, &m.mapped);
	if (!n || jz_stun_parse(out, n, &r, err, sizeof(err)) || !r.xor_mapped ||
	    r.type != JZ_STUN_BINDING_SUCCESS || memcmp(&r.mapped, &m.mapped, sizeof(r.mapped)))
		abort();
	return 0;
}
