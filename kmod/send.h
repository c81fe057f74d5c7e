/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _JAZZ_SEND_H
#define _JAZZ_SEND_H

#include <linux/netdevice.h>

struct jazz_device;
struct jazz_peer;

netdev_tx_t jazz_xmit(struct sk_buff *skb, struct net_device *dev);
/*
 * Encrypt and send an inner packet to @peer, skipping the peer lookup and
 * the connection hook (conn.c uses it to release held packets). Consumes
 * @skb. Caller holds rcu_read_lock() with BHs disabled.
 */
void jazz_send_to_peer(struct jazz_peer *peer, struct sk_buff *skb);
void jazz_send_keepalive(struct jazz_peer *peer);

/* UDP encap_rcv of the tunnel sockets. */
int jazz_udp_recv(struct sock *sk, struct sk_buff *skb);
/* Their UDP tunnel GRO hooks: batches of datagrams (receive.c). */
struct sk_buff *jazz_gro_receive(struct sock *sk, struct list_head *head,
				 struct sk_buff *skb);
int jazz_gro_complete(struct sock *sk, struct sk_buff *skb, int nhoff);
/*
 * Hand a decrypted, checked inner packet to the stack (conn.c uses it to
 * release held ingress packets). Consumes @skb. Softirq or BHs off.
 */
void jazz_deliver(struct jazz_device *jd, struct jazz_peer *peer,
		  struct sk_buff *skb);

/* Crypt workers (queueing.h): encrypt/decrypt one queued packet. */
void jazz_tx_crypt(struct sk_buff *skb);
void jazz_rx_crypt(struct sk_buff *skb);
/* Their second halves, also the completions of asynchronous AEADs. */
void jazz_tx_crypted(struct sk_buff *skb, int err);
void jazz_rx_crypted(struct sk_buff *skb, int err);
/*
 * Ordered queue exits, given the ready packets at the head of a peer's
 * queue in order (consumed): send them (runs of equal-sized datagrams as
 * one UDP GSO super-packet), or check and deliver them one by one.
 */
void jazz_tx_done(struct sk_buff_head *ready);
void jazz_rx_done(struct sk_buff_head *ready);

#endif /* _JAZZ_SEND_H */
