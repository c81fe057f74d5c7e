/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The jazz UDP wire format (docs/PROTOCOL.md, "Data plane").
 */
#ifndef _JAZZ_MESSAGES_H
#define _JAZZ_MESSAGES_H

#include <linux/types.h>
#include <linux/build_bug.h>

#define JAZZ_MSG_DATA		1
#define JAZZ_HDR_LEN		16
#define JAZZ_TAG_LEN		16
#define JAZZ_NONCE_LEN		12
#define JAZZ_OVERHEAD		(JAZZ_HDR_LEN + JAZZ_TAG_LEN)
/* Outer IPv6 + UDP + jazz header + tag: 1500 - 80 = 1420. */
#define JAZZ_DEFAULT_MTU	1420
#define JAZZ_MAX_OUTER_OVERHEAD	(40 + 8 + JAZZ_OVERHEAD)

/* All fields big-endian. */
struct jazz_hdr {
	u8 type;
	u8 ver_flags;		/* high nibble version, low nibble flags */
	u8 key_id;
	u8 reserved;		/* sent as 0, ignored on receive */
	__be32 receiver;	/* receiver's local id of the sender */
	__be64 counter;
} __packed;

static_assert(sizeof(struct jazz_hdr) == JAZZ_HDR_LEN);

struct jazz_hdr_info {
	u8 type;
	u8 version;
	u8 flags;
	u8 key_id;
	u32 receiver;
	u64 counter;
};

int jazz_hdr_parse(const void *buf, unsigned int len, struct jazz_hdr_info *hi);
void jazz_hdr_build(struct jazz_hdr *h, u8 key_id, u32 receiver, u64 counter);

#endif /* _JAZZ_MESSAGES_H */
