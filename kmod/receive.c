// SPDX-License-Identifier: GPL-2.0
/*
 * jazz: receive path, run from the UDP socket's encap_rcv in softirq.
 */
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/udp.h>
#include <net/inet_ecn.h>
#include "device.h"
#include "peer.h"
#include "send.h"
#include "netlink.h"
#include "conn.h"

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

/* Outer source of @skb as an endpoint. */
static void jazz_outer_source(struct sk_buff *skb, struct jazz_endpoint *ep)
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
		if (ipv6_addr_type(&ep->addr6.sin6_addr) &
		    IPV6_ADDR_LINKLOCAL)
			ep->addr6.sin6_scope_id = inet6_iif(skb);
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

int jazz_udp_recv(struct sock *sk, struct sk_buff *skb)
{
	struct jazz_device *jd = rcu_dereference_sk_user_data(sk);
	struct jazz_peer *peer = NULL, *owner;
	struct jazz_endpoint src;
	struct jazz_hdr_info hi;
	struct jazz_key *key;
	unsigned int off;
	u8 saddr[16];
	bool ok;
	int bits;

	if (unlikely(!jd))
		goto drop_silent;
	off = skb_transport_offset(skb) + sizeof(struct udphdr);
	if (unlikely(!pskb_may_pull(skb, off + JAZZ_HDR_LEN) ||
		     jazz_hdr_parse(skb->data + off, JAZZ_HDR_LEN, &hi) ||
		     skb->len < off + JAZZ_OVERHEAD)) {
		jazz_rx_count(jd, NULL, JAZZ_STAT_DROP_MALFORMED, 1);
		goto drop;
	}
	jazz_outer_source(skb, &src);
	__skb_pull(skb, off);

	rcu_read_lock();
	peer = jazz_peer_lookup(jd, hi.receiver);
	if (unlikely(!peer)) {
		jazz_rx_count(jd, NULL, JAZZ_STAT_DROP_NO_PEER, 1);
		goto drop_unlock;
	}
	key = jazz_rx_key(peer, hi.key_id);
	if (unlikely(!key)) {
		jazz_rx_count(jd, peer, JAZZ_STAT_DROP_NO_KEY, 1);
		goto drop_unlock;
	}
	if (unlikely(hi.counter >= JAZZ_REPLAY_REJECT)) {
		jazz_rx_count(jd, peer, JAZZ_STAT_DROP_REPLAY, 1);
		goto drop_unlock;
	}
	if (unlikely(jazz_key_decrypt(key, skb, hi.counter))) {
		jazz_rx_count(jd, peer, JAZZ_STAT_DROP_AUTH, 1);
		goto drop_unlock;
	}
	spin_lock(&key->replay_lock);
	ok = jazz_replay_check(&key->replay, hi.counter);
	spin_unlock(&key->replay_lock);
	if (unlikely(!ok)) {
		jazz_rx_count(jd, peer, JAZZ_STAT_DROP_REPLAY, 1);
		goto drop_unlock;
	}

	/* Authenticated: the peer is alive here. */
	WRITE_ONCE(peer->last_rx_ns, ktime_get_real_ns());
	jazz_roam(peer, &src);

	if (!skb->len) {	/* keepalive */
		jazz_rx_count(jd, peer, JAZZ_STAT_RX_PACKETS, 1);
		rcu_read_unlock();
		consume_skb(skb);
		return 0;
	}

	bits = jazz_inner_check(skb, saddr);
	if (unlikely(bits < 0)) {
		jazz_rx_count(jd, peer, JAZZ_STAT_DROP_MALFORMED, 1);
		goto drop_unlock;
	}
	owner = jazz_aip_lookup(&jd->aip, saddr, bits);
	if (unlikely(owner != peer)) {
		jazz_rx_count(jd, peer, JAZZ_STAT_DROP_SOURCE, 1);
		goto drop_unlock;
	}

	skb_scrub_packet(skb, !net_eq(dev_net(jd->dev), sock_net(sk)));
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
		rcu_read_unlock();
		return 0;
	default:
		jazz_rx_count(jd, peer, JAZZ_STAT_DROP_CONNCHECK, 1);
		goto drop_unlock;
	}
	jazz_deliver(jd, peer, skb);
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
