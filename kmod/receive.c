// SPDX-License-Identifier: GPL-2.0
/*
 * jazz: receive path. The UDP socket's encap_rcv (softirq) queues each
 * packet to the decrypt workers (queueing.h), the datagrams of a GRO batch
 * in bursts (see "Receive batching" below); the peer's ordered queue then
 * runs the replay window and delivers in arrival order.
 */
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/udp.h>
#include <net/gro.h>
#include <net/inet_ecn.h>
#include <net/ip_tunnels.h>
#include "device.h"
#include "peer.h"
#include "send.h"
#include "netlink.h"
#include "conn.h"
#include "stun.h"

static void jazz_rx_count(struct jazz_device *jd, struct jazz_peer *peer,
			  enum jazz_stat s, u64 n)
{
	jazz_stats_add(jd->stats, s, n);
	if (peer)
		jazz_stats_add(peer->stats, s, n);
}

static struct jazz_key *jazz_rx_key(struct jazz_peer *peer, u8 key_id)
{
	struct jazz_key *k;
	int i;

	for (i = 0; i < 2; i++) {
		k = rcu_dereference(peer->keys[i]);
		if (k && k->key_id == key_id)
			return k;
	}
	return NULL;
}

/* Outer source of @skb as an endpoint (also stun.c). */
void jazz_outer_source(struct sk_buff *skb, struct jazz_endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	if (ip_hdr(skb)->version == 4) {
		ep->addr4.sin_family = AF_INET;
		ep->addr4.sin_addr.s_addr = ip_hdr(skb)->saddr;
		ep->addr4.sin_port = udp_hdr(skb)->source;
	} else {
		ep->addr6.sin6_family = AF_INET6;
		ep->addr6.sin6_addr = ipv6_hdr(skb)->saddr;
		ep->addr6.sin6_port = udp_hdr(skb)->source;
		/* skb->cb is ours now: skb_iif, not inet6_iif(). */
		if (ipv6_addr_type(&ep->addr6.sin6_addr) &
		    IPV6_ADDR_LINKLOCAL)
			ep->addr6.sin6_scope_id = skb->skb_iif;
	}
}

static bool jazz_ep_equal(const struct jazz_endpoint *a,
			  const struct jazz_endpoint *b)
{
	if (a->addr.sa_family != b->addr.sa_family)
		return false;
	if (a->addr.sa_family == AF_INET)
		return a->addr4.sin_addr.s_addr == b->addr4.sin_addr.s_addr &&
		       a->addr4.sin_port == b->addr4.sin_port;
	return ipv6_addr_equal(&a->addr6.sin6_addr, &b->addr6.sin6_addr) &&
	       a->addr6.sin6_port == b->addr6.sin6_port &&
	       a->addr6.sin6_scope_id == b->addr6.sin6_scope_id;
}

/* Move the endpoint to the source of an authenticated packet. */
static void jazz_roam(struct jazz_peer *peer, const struct jazz_endpoint *src)
{
	bool changed = false;

	read_lock(&peer->ep_lock);
	if (jazz_ep_equal(&peer->ep, src)) {
		read_unlock(&peer->ep_lock);
		return;
	}
	read_unlock(&peer->ep_lock);
	write_lock(&peer->ep_lock);
	if (!jazz_ep_equal(&peer->ep, src)) {
		peer->ep = *src;
		dst_cache_reset(&peer->dst_cache);
		changed = true;
	}
	write_unlock(&peer->ep_lock);
	if (changed)
		jazz_notify_peer_roam(peer);
}

/* Validate the inner IP header; trims padding. Returns inner source bits. */
static int jazz_inner_check(struct sk_buff *skb, u8 *saddr)
{
	unsigned int len;

	if (skb->len < sizeof(struct iphdr) || !pskb_may_pull(skb, 1))
		return -EINVAL;
	skb_reset_network_header(skb);
	switch (skb->data[0] >> 4) {
	case 4:
		if (!pskb_may_pull(skb, sizeof(struct iphdr)))
			return -EINVAL;
		len = ntohs(ip_hdr(skb)->tot_len);
		if (ip_hdr(skb)->ihl < 5 || len < ip_hdrlen(skb) ||
		    len > skb->len || pskb_trim(skb, len))
			return -EINVAL;
		skb->protocol = htons(ETH_P_IP);
		memcpy(saddr, &ip_hdr(skb)->saddr, 4);
		return 32;
	case 6:
		if (!pskb_may_pull(skb, sizeof(struct ipv6hdr)))
			return -EINVAL;
		len = ntohs(ipv6_hdr(skb)->payload_len) +
		      sizeof(struct ipv6hdr);
		if (len > skb->len || pskb_trim(skb, len))
			return -EINVAL;
		skb->protocol = htons(ETH_P_IPV6);
		memcpy(saddr, &ipv6_hdr(skb)->saddr, 16);
		return 128;
	}
	return -EINVAL;
}

void jazz_deliver(struct jazz_device *jd, struct jazz_peer *peer,
		  struct sk_buff *skb)
{
	unsigned int len = skb->len;

	jazz_rx_count(jd, peer, JAZZ_STAT_RX_PACKETS, 1);
	jazz_rx_count(jd, peer, JAZZ_STAT_RX_BYTES, len);
	dev_sw_netstats_rx_add(jd->dev, len);
	if (unlikely(gro_cells_receive(&jd->gro, skb) != NET_RX_SUCCESS))
		DEV_STATS_INC(jd->dev, rx_dropped);
}

/*
 * Check @skb's header, find its peer and key, and fill its cb: returns the
 * peer (the packet holds a reference on it and on the key), or NULL when
 * the datagram was taken by STUN or dropped and counted. @skb's data is at
 * its UDP header. Softirq, rcu_read_lock held.
 */
static struct jazz_peer *jazz_rx_prepare(struct jazz_device *jd,
					 struct sock *sk, struct sk_buff *skb)
{
	struct jazz_peer *peer;
	struct jazz_hdr_info hi;
	struct jazz_key *key;
	struct jazz_cb *cb;
	unsigned int off;
	u8 ds;

	off = skb_transport_offset(skb) + sizeof(struct udphdr);
	if (unlikely(jazz_stun_match(skb, off))) {
		jazz_stun_rx(jd, skb, off);
		return NULL;
	}
	if (unlikely(!pskb_may_pull(skb, off + JAZZ_HDR_LEN) ||
		     jazz_hdr_parse(skb->data + off, JAZZ_HDR_LEN, &hi) ||
		     skb->len < off + JAZZ_OVERHEAD)) {
		jazz_rx_count(jd, NULL, JAZZ_STAT_DROP_MALFORMED, 1);
		goto drop;
	}
	ds = ip_tunnel_get_dsfield(ip_hdr(skb), skb);
	__skb_pull(skb, off);

	peer = jazz_peer_lookup(jd, hi.receiver);
	if (unlikely(!peer)) {
		jazz_rx_count(jd, NULL, JAZZ_STAT_DROP_NO_PEER, 1);
		goto drop;
	}
	key = jazz_rx_key(peer, hi.key_id);
	if (unlikely(!key || !jazz_key_get_rcu(key))) {
		jazz_rx_count(jd, peer, JAZZ_STAT_DROP_NO_KEY, 1);
		goto drop;
	}
	if (unlikely(hi.counter >= JAZZ_REPLAY_REJECT)) {
		jazz_key_put(key);
		jazz_rx_count(jd, peer, JAZZ_STAT_DROP_REPLAY, 1);
		goto drop;
	}
	cb = JAZZ_CB(skb);
	cb->peer = peer;
	cb->key = key;
	cb->counter = hi.counter;
	cb->ds = ds;
	cb->xnet = !net_eq(dev_net(jd->dev), sock_net(sk));
	atomic_set(&cb->state, JAZZ_PKT_NEW);

	if (unlikely(!jazz_peer_get_rcu(peer))) {
		jazz_key_put(key);
		jazz_rx_count(jd, NULL, JAZZ_STAT_DROP_NO_PEER, 1);
		goto drop;
	}
	return peer;

drop:
	DEV_STATS_INC(jd->dev, rx_dropped);
	kfree_skb(skb);
	return NULL;
}

/*
 * Queue the @n prepared packets of @peer in @burst (consumed), in this
 * order, to the decrypt workers: one hold of the peer's receive queue lock
 * for their places, one of the crypt ring's producer lock. Softirq, RCU.
 */
static void jazz_rx_queue(struct jazz_device *jd, struct jazz_peer *peer,
			  struct sk_buff **burst, unsigned int n)
{
	unsigned int i, q = 0, lost;
	struct sk_buff_head full;
	struct sk_buff *skb;

	__skb_queue_head_init(&full);
	spin_lock(&peer->rxq.list.lock);
	for (i = 0; i < n; i++) {
		if (unlikely(jazz_pqueue_full(&peer->rxq))) {
			__skb_queue_tail(&full, burst[i]);
		} else {
			__skb_queue_tail(&peer->rxq.list, burst[i]);
			burst[q++] = burst[i];
		}
	}
	spin_unlock(&peer->rxq.list.lock);
	if (unlikely(q < n))
		jazz_rx_count(jd, peer, JAZZ_STAT_DROP_QUEUE_FULL, n - q);
	/* The peer stays: the queued packets or RCU hold it. */
	while ((skb = __skb_dequeue(&full))) {
		jazz_key_put(JAZZ_CB(skb)->key);
		jazz_peer_put(peer);
		DEV_STATS_INC(jd->dev, rx_dropped);
		kfree_skb(skb);
	}
	if (!q)
		return;
	lost = jazz_crypt_enqueue_burst(&jd->decrypt_q, &peer->rxq, burst, q);
	if (unlikely(lost))
		jazz_rx_count(jd, peer, JAZZ_STAT_DROP_QUEUE_FULL, lost);
}

/*
 * Receive batching (GRO of the outer datagrams, issue 19).
 *
 * The UDP layer cuts every GSO packet into datagrams before an encap
 * socket sees it (udp_unexpected_gso(): a UDP GSO batch, say a sender's
 * UDP_SEGMENT burst or jazz.ko's own tx_gso super-packet crossing a veth,
 * reaches jazz_udp_recv() one datagram at a time, each cut off with a
 * clone and a copy of its bytes). Only a batch that the tunnel socket's own
 * GRO hooks built gets through whole. So the device's sockets have them
 * (socket.c): on a receiving device that runs GRO (NAPI: a NIC, a veth with
 * GRO on), jazz_gro_receive() chains the datagrams of one flow (addresses,
 * ports and DS field matched by the IP and UDP GRO layers) whose jazz
 * messages are of one size, but for a shorter last one, onto the first
 * datagram's frag_list as the skbs they came in: no copy, no allocation, at
 * most JAZZ_GRO_MAX_SEGS datagrams and 64 KiB. udp_gro_complete() marks the
 * batch SKB_GSO_UDP_TUNNEL(_CSUM), the mark the UDP layer lets through to
 * jazz_udp_recv(): one pass through IP, netfilter and the socket lookup
 * for the batch. There jazz_rx_split() gives each chained datagram the
 * first one's outer headers back (in the headroom its own were pulled
 * from), and each datagram is checked, counted and decrypted as if it had
 * come alone; those of one peer that follow each other are queued in one
 * burst (jazz_rx_queue()). Module parameter rx_gro=0 turns the hooks off:
 * every datagram then arrives alone, as before.
 *
 * A batch that GRO matched to the socket but that is routed elsewhere (a
 * DNAT after GRO) cannot be segmented again and is dropped, as with the
 * kernel's other UDP tunnels' GRO.
 */
#define JAZZ_GRO_MAX_SEGS	64

static bool jazz_rx_gro = true;
module_param_named(rx_gro, jazz_rx_gro, bool, 0644);
MODULE_PARM_DESC(rx_gro,
		 "Take GRO batches of received datagrams whole (UDP tunnel GRO)");

/* udp_tunnel gro_receive: skb's GRO offset is at its jazz message. */
struct sk_buff *jazz_gro_receive(struct sock *sk, struct list_head *head,
				 struct sk_buff *skb)
{
	unsigned int off = skb_gro_offset(skb), len = skb_gro_len(skb);
	const struct udphdr *uh;
	struct sk_buff *p;
	unsigned int plen;

	if (!READ_ONCE(jazz_rx_gro) || len < JAZZ_OVERHEAD)
		goto flush;
	list_for_each_entry(p, head, list) {
		if (!NAPI_GRO_CB(p)->same_flow)
			continue;
		/* p's first datagram: its headers are in p's linear part. */
		uh = (const struct udphdr *)(p->data + off - sizeof(*uh));
		plen = ntohs(uh->len) - sizeof(*uh);
		/* Larger than the batch's size, or no room: p is complete. */
		if (len > plen || p->len + skb->len >= 65536 ||
		    NAPI_GRO_CB(p)->count >= JAZZ_GRO_MAX_SEGS)
			return p;
		if (!pskb_may_pull(skb, off))
			goto flush;
		if (NAPI_GRO_CB(p)->last == p)
			skb_shinfo(p)->frag_list = skb;
		else
			NAPI_GRO_CB(p)->last->next = skb;
		skb_pull(skb, off);
		NAPI_GRO_CB(p)->last = skb;
		NAPI_GRO_CB(p)->count++;
		p->data_len += skb->len;
		p->truesize += skb->truesize;
		p->len += skb->len;
		skb->destructor = NULL;
		skb->sk = NULL;
		skb_shinfo(p)->flags |= skb_shinfo(skb)->flags &
					SKBFL_SHARED_FRAG;
		NAPI_GRO_CB(skb)->same_flow = 1;
		/* A shorter datagram is the batch's last. */
		return len < plen ? p : NULL;
	}
	return NULL;		/* held: the first of a batch */
flush:
	NAPI_GRO_CB(skb)->flush = 1;
	return NULL;
}

/*
 * udp_tunnel gro_complete for a batch of more than one datagram; @nhoff is
 * the offset of the first jazz message. Every datagram's UDP checksum was
 * checked on the way into GRO (udp_gro_receive() passes no other to us).
 */
int jazz_gro_complete(struct sock *sk, struct sk_buff *skb, int nhoff)
{
	unsigned int rest = 0;
	struct sk_buff *seg;

	skb_walk_frags(skb, seg)
		rest += seg->len;
	skb_shinfo(skb)->gso_size = skb->len - nhoff - rest;
	skb_shinfo(skb)->gso_segs = NAPI_GRO_CB(skb)->count;
	if (skb->ip_summed != CHECKSUM_PARTIAL &&
	    skb->ip_summed != CHECKSUM_UNNECESSARY) {
		skb->ip_summed = CHECKSUM_UNNECESSARY;
		skb->csum_level = 0;
	}
	return 0;
}

/*
 * Cut the batch @skb (data at its UDP header) into its datagrams: @skb
 * keeps the first, each chained skb gets @skb's outer IP and UDP headers in
 * front of its message, in the headroom its own headers were pulled from
 * (an allocation only should it be cloned). Returns them as a list, data
 * at the UDP header; one that cannot be given headers is dropped and
 * counted.
 */
static struct sk_buff *jazz_rx_split(struct jazz_device *jd,
				     struct sk_buff *skb)
{
	unsigned int nhlen = skb_network_header_len(skb);
	unsigned int hlen = nhlen + sizeof(struct udphdr);
	struct sk_buff *seg, *next, **tail = &skb->next;

	seg = skb_shinfo(skb)->frag_list;
	skb_shinfo(skb)->frag_list = NULL;
	for (next = seg; next; next = next->next) {
		skb->len -= next->len;
		skb->data_len -= next->len;
		skb->truesize -= next->truesize;
	}
	skb_gso_reset(skb);
	skb->encapsulation = 0;
	skb->next = NULL;
	for (; seg; seg = next) {
		next = seg->next;
		seg->next = NULL;
		if (unlikely(skb_shared(seg) || skb_cow_head(seg, hlen))) {
			jazz_rx_count(jd, NULL, JAZZ_STAT_DROP_MALFORMED, 1);
			DEV_STATS_INC(jd->dev, rx_dropped);
			kfree_skb(seg);
			continue;
		}
		__skb_push(seg, hlen);
		skb_copy_to_linear_data(seg, skb_network_header(skb), hlen);
		skb_reset_network_header(seg);
		skb_set_transport_header(seg, nhlen);
		__skb_pull(seg, nhlen);
		seg->dev = skb->dev;
		seg->skb_iif = skb->skb_iif;
		seg->protocol = skb->protocol;
		*tail = seg;
		tail = &seg->next;
	}
	return skb;
}

/* A batch (jazz_gro_receive()): its datagrams, peer by peer in bursts. */
static void jazz_rx_batch(struct jazz_device *jd, struct sock *sk,
			  struct sk_buff *skb)
{
	struct sk_buff *burst[JAZZ_GRO_MAX_SEGS], *seg, *next;
	struct jazz_peer *run = NULL, *peer;
	unsigned int n = 0;

	jazz_stats_add(jd->stats, JAZZ_STAT_RX_GRO_BATCHES, 1);
	rcu_read_lock();
	skb_list_walk_safe(jazz_rx_split(jd, skb), seg, next) {
		skb_mark_not_on_list(seg);
		peer = jazz_rx_prepare(jd, sk, seg);
		if (!peer)
			continue;
		if (n && (peer != run || n == ARRAY_SIZE(burst))) {
			jazz_rx_queue(jd, run, burst, n);
			n = 0;
		}
		run = peer;
		burst[n++] = seg;
	}
	if (n)
		jazz_rx_queue(jd, run, burst, n);
	rcu_read_unlock();
}

/*
 * UDP encap_rcv: check the header, find peer and key, and queue the packet
 * to the decrypt workers in the peer's ordered receive queue; a batch of
 * datagrams (GRO, above) is taken apart first. Softirq.
 */
int jazz_udp_recv(struct sock *sk, struct sk_buff *skb)
{
	struct jazz_device *jd = rcu_dereference_sk_user_data(sk);
	struct jazz_peer *peer;
	struct sk_buff *seg;
	unsigned int n = 0;

	if (unlikely(!jd)) {
		kfree_skb(skb);
		return 0;
	}
	if (skb_is_gso(skb) && skb_has_frag_list(skb)) {
		skb_walk_frags(skb, seg)
			n++;
		jazz_stats_add(jd->stats, JAZZ_STAT_RX_GRO_DATAGRAMS, n + 1);
		jazz_rx_batch(jd, sk, skb);
		return 0;
	}
	rcu_read_lock();
	peer = jazz_rx_prepare(jd, sk, skb);
	if (peer)
		jazz_rx_queue(jd, peer, &skb, 1);
	rcu_read_unlock();
	return 0;
}

/* A decrypted packet (or @err) goes to its ordered queue. BHs off, RCU. */
void jazz_rx_crypted(struct sk_buff *skb, int err)
{
	struct jazz_peer *peer = JAZZ_CB(skb)->peer;
	int state = JAZZ_PKT_DEAD;

	if (unlikely(err == -ESHUTDOWN))
		jazz_rx_count(peer->jd, peer, JAZZ_STAT_DROP_NO_PEER, 1);
	else if (unlikely(err))
		jazz_rx_count(peer->jd, peer, JAZZ_STAT_DROP_AUTH, 1);
	else
		state = JAZZ_PKT_CRYPTED;
	jazz_pqueue_finish(&peer->rxq, skb, state);
}

/*
 * Crypt worker: decrypt one queued packet, or submit it to an asynchronous
 * AEAD whose completion calls jazz_rx_crypted(). BHs off, RCU held.
 */
void jazz_rx_crypt(struct sk_buff *skb)
{
	struct jazz_cb *cb = JAZZ_CB(skb);
	struct jazz_peer *peer = cb->peer;
	int err = -ESHUTDOWN;

	if (likely(!READ_ONCE(peer->dead)))
		err = jazz_key_decrypt(cb->key, skb, cb->counter,
				       &peer->jd->decrypt_q.async);
	if (err != -EINPROGRESS)
		jazz_rx_crypted(skb, err);
}

/*
 * Leaves the peer's receive queue in arrival order: replay window, roaming,
 * inner checks, delivery. Drop reasons of dead packets were counted where
 * they died. BHs off, rcu_read_lock held.
 */
static void jazz_rx_done_one(struct sk_buff *skb)
{
	struct jazz_cb *cb = JAZZ_CB(skb);
	struct jazz_peer *peer = cb->peer, *owner;
	struct jazz_device *jd = peer->jd;
	struct jazz_key *key = cb->key;
	struct jazz_endpoint src;
	u8 saddr[16], ds = cb->ds;
	bool ok, xnet = cb->xnet;
	int bits;

	if (unlikely(atomic_read(&cb->state) != JAZZ_PKT_CRYPTED))
		goto drop;
	spin_lock(&key->replay_lock);
	ok = jazz_replay_check(&key->replay, cb->counter);
	spin_unlock(&key->replay_lock);
	if (unlikely(!ok)) {
		jazz_rx_count(jd, peer, JAZZ_STAT_DROP_REPLAY, 1);
		goto drop;
	}

	/* Authenticated: the peer is alive here. */
	WRITE_ONCE(peer->last_rx_ns, ktime_get_real_ns());
	jazz_outer_source(skb, &src);
	jazz_roam(peer, &src);

	if (!skb->len) {	/* keepalive */
		jazz_rx_count(jd, peer, JAZZ_STAT_RX_PACKETS, 1);
		consume_skb(skb);
		goto out;
	}

	bits = jazz_inner_check(skb, saddr);
	if (unlikely(bits < 0)) {
		jazz_rx_count(jd, peer, JAZZ_STAT_DROP_MALFORMED, 1);
		goto drop;
	}
	owner = jazz_aip_lookup(&jd->aip, saddr, bits);
	if (unlikely(owner != peer)) {
		jazz_rx_count(jd, peer, JAZZ_STAT_DROP_SOURCE, 1);
		goto drop;
	}
	/* RFC 6040: outer CE on a not-ECT inner packet means drop. */
	if (unlikely(INET_ECN_decapsulate(skb, ds,
					  ip_tunnel_get_dsfield(ip_hdr(skb),
								skb)) > 1)) {
		jazz_rx_count(jd, peer, JAZZ_STAT_DROP_MALFORMED, 1);
		goto drop;
	}

	skb_scrub_packet(skb, xnet);
	skb->dev = jd->dev;
	skb->pkt_type = PACKET_HOST;
	skb->ip_summed = CHECKSUM_UNNECESSARY;
	skb->csum_level = ~0;
	skb_reset_mac_header(skb);
	skb_reset_network_header(skb);
	skb_probe_transport_header(skb);

	switch (jazz_conn_ingress(jd, peer, skb)) {
	case JAZZ_CONN_PASS:
		break;
	case JAZZ_CONN_HOLD:
		goto out;
	default:
		jazz_rx_count(jd, peer, JAZZ_STAT_DROP_CONNCHECK, 1);
		goto drop;
	}
	jazz_deliver(jd, peer, skb);
	goto out;

drop:
	DEV_STATS_INC(jd->dev, rx_dropped);
	kfree_skb(skb);
out:
	jazz_key_put(key);
	jazz_peer_put(peer);
}

void jazz_rx_done(struct sk_buff_head *ready)
{
	struct sk_buff *skb;

	while ((skb = __skb_dequeue(ready)))
		jazz_rx_done_one(skb);
}
