// SPDX-License-Identifier: GPL-2.0
/*
 * jazz: wire header encoding and parsing.
 */
#include <linux/errno.h>
#include <linux/string.h>
#include <asm/byteorder.h>
#include <jazz.h>
#include "compat.h"
#include "messages.h"

int jazz_hdr_parse(const void *buf, unsigned int len, struct jazz_hdr_info *hi)
{
	const u8 *b = buf;

	if (len < JAZZ_HDR_LEN)
		return -EINVAL;
	hi->type = b[0];
	hi->version = b[1] >> 4;
	hi->flags = b[1] & 0x0f;
	hi->key_id = b[2];
	hi->receiver = get_unaligned_be32(b + 4);
	hi->counter = get_unaligned_be64(b + 8);
	if (hi->type != JAZZ_MSG_DATA || hi->version != JAZZ_WIRE_VERSION)
		return -EPROTO;
	return 0;
}

void jazz_hdr_build(struct jazz_hdr *h, u8 key_id, u32 receiver, u64 counter)
{
	h->type = JAZZ_MSG_DATA;
	h->ver_flags = JAZZ_WIRE_VERSION << 4;
	h->key_id = key_id;
	h->reserved = 0;
	put_unaligned_be32(receiver, &h->receiver);
	put_unaligned_be64(counter, &h->counter);
}
