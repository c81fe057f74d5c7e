/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _JAZZ_SOCKET_H
#define _JAZZ_SOCKET_H

#include <linux/skbuff.h>

struct jazz_device;
struct jazz_peer;

/*
 * Open the UDP sockets (IPv4 and, if available, IPv6) on @port in the
 * device's creating namespace, replacing any open ones. Config mutex held.
 */
int jazz_socket_open(struct jazz_device *jd, u16 port);
void jazz_socket_close(struct jazz_device *jd);
/*
 * Encapsulated @skb (data at the jazz header) to the peer's endpoint, with
 * @ds as the outer DS field. Consumes @skb. BHs off, rcu_read_lock held.
 */
int jazz_socket_send(struct jazz_peer *peer, struct sk_buff *skb, u8 ds);
/* Largest inner packet for one outer packet to the peer; 0: unknown. */
unsigned int jazz_socket_inner_mtu(struct jazz_peer *peer);

#endif /* _JAZZ_SOCKET_H */
