// SPDX-License-Identifier: GPL-2.0
/*
 * jazz: receive path. The UDP socket's encap_rcv (softirq) queues each
 * packet to the decrypt workers (queueing.h); the peer's ordered queue
 * then runs the replay window and delivers in arrival order.
 */
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/udp.h>
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
 * UDP encap_rcv: check the header, find peer and key, and queue the packet
 * to the decrypt workers in the peer's ordered receive queue. Softirq.
 */
int jazz_udp_recv(struct sock *sk, struct sk_buff *skb)
{
	struct jazz_device *jd = rcu_dereference_sk_user_data(sk);
	struct jazz_peer *peer = NULL;
	struct jazz_hdr_info hi;
	struct jazz_key *key;
	struct jazz_cb *cb;
	unsigned int off;
	u8 ds;

	if (unlikely(!jd))
		goto drop_silent;
	off = skb_transport_offset(skb) + sizeof(struct udphdr);
	if (unlikely(jazz_stun_match(skb, off))) {
		jazz_stun_rx(jd, skb, off);
		return 0;
	}
	if (unlikely(!pskb_may_pull(skb, off + JAZZ_HDR_LEN) ||
		     jazz_hdr_parse(skb->data + off, JAZZ_HDR_LEN, &hi) ||
		     skb->len < off + JAZZ_OVERHEAD)) {
		jazz_rx_count(jd, NULL, JAZZ_STAT_DROP_MALFORMED, 1);
		goto drop;
	}
	ds = ip_tunnel_get_dsfield(ip_hdr(skb), skb);
	__skb_pull(skb, off);

	rcu_read_lock();
	peer = jazz_peer_lookup(jd, hi.receiver);
	if (unlikely(!peer)) {
		jazz_rx_count(jd, NULL, JAZZ_STAT_DROP_NO_PEER, 1);
		goto drop_unlock;
	}
	key = jazz_rx_key(peer, hi.key_id);
	if (unlikely(!key || !jazz_key_get_rcu(key))) {
		jazz_rx_count(jd, peer, JAZZ_STAT_DROP_NO_KEY, 1);
		goto drop_unlock;
	}
	if (unlikely(hi.counter >= JAZZ_REPLAY_REJECT)) {
		jazz_key_put(key);
		jazz_rx_count(jd, peer, JAZZ_STAT_DROP_REPLAY, 1);
		goto drop_unlock;
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
		goto drop_unlock;
	}
	spin_lock(&peer->rxq.list.lock);
	if (unlikely(jazz_pqueue_full(&peer->rxq))) {
		spin_unlock(&peer->rxq.list.lock);
		jazz_key_put(key);
		jazz_peer_put(peer);
		jazz_rx_count(jd, peer, JAZZ_STAT_DROP_QUEUE_FULL, 1);
		goto drop_unlock;
	}
	__skb_queue_tail(&peer->rxq.list, skb);
	spin_unlock(&peer->rxq.list.lock);
	if (unlikely(!jazz_crypt_enqueue(&jd->decrypt_q, &peer->rxq, skb)))
		jazz_rx_count(jd, peer, JAZZ_STAT_DROP_QUEUE_FULL, 1);
	rcu_read_unlock();
	return 0;

drop_unlock:
	rcu_read_unlock();
drop:
	DEV_STATS_INC(jd->dev, rx_dropped);
drop_silent:
	kfree_skb(skb);
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
