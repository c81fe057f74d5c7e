/* SPDX-License-Identifier: GPL-2.0 */
/*
 * jazz: STUN (RFC 8489) datagrams on a device's UDP socket, handed to and
 * sent for userspace (stun.c; docs/PROTOCOL.md "STUN on the tunnel
 * socket").
 */
#ifndef _JAZZ_STUN_H
#define _JAZZ_STUN_H

#include <linux/skbuff.h>
#include <net/genetlink.h>
#include <jazz.h>
#include "compat.h"

#define JAZZ_STUN_HDR_LEN	20

struct jazz_device;
struct jazz_endpoint;

/* Per-device STUN datagrams per second to userspace (module parameter). */
extern unsigned int jazz_stun_rate;

/*
 * Is the datagram at @off (the UDP payload) STUN? Its first two bits are
 * zero and bytes 4-7 are the magic cookie. A jazz message never is: its
 * type byte is 1 and its bytes 4-7, the receiver id, are never the cookie
 * (peer-new refuses that id). Softirq; may pull the header.
 */
static inline bool jazz_stun_match(struct sk_buff *skb, unsigned int off)
{
	const u8 *p;

	if (skb->len < off + JAZZ_STUN_HDR_LEN ||
	    !pskb_may_pull(skb, off + JAZZ_STUN_HDR_LEN))
		return false;
	p = skb->data + off;
	return !(p[0] & 0xc0) &&
	       get_unaligned_be32(p + 4) == JAZZ_STUN_MAGIC_COOKIE;
}

/* Set up the device's STUN rate limit; from the device's setup. */
void jazz_stun_dev_init(struct jazz_device *jd);
/*
 * A datagram jazz_stun_match() took: multicast it on the stun group or
 * count why not. Consumes @skb. Softirq (the socket's encap_rcv).
 */
void jazz_stun_rx(struct jazz_device *jd, struct sk_buff *skb,
		  unsigned int off);
/* stun-send; device resolved and config mutex held by netlink.c. */
int jazz_stun_send(struct jazz_device *jd, struct genl_info *info);

/* receive.c: the outer source address and port of a received datagram. */
void jazz_outer_source(struct sk_buff *skb, struct jazz_endpoint *ep);

#endif /* _JAZZ_STUN_H */
