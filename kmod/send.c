// SPDX-License-Identifier: GPL-2.0
/*
 * jazz: transmit path. ndo_start_xmit looks the peer up by the inner
 * destination, runs the connection hook, segments GSO packets and queues
 * each segment to the crypt workers (queueing.h); a worker encrypts it in
 * place and the peer's ordered queue hands it to the UDP tunnel socket.
 */
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/icmp.h>
#include <linux/icmpv6.h>
#include <net/icmp.h>
#include <net/inet_ecn.h>
#include <net/ip_tunnels.h>
#include "compat.h"
#include "device.h"
#include "peer.h"
#include "socket.h"
#include "send.h"
#include "netlink.h"
#include "conn.h"

/* Nesting depth of jazz_xmit() on this cpu (tunnel in tunnel). */
static DEFINE_PER_CPU(u8, jazz_xmit_depth);
#define JAZZ_MAX_NESTING	4

static void jazz_count(struct jazz_device *jd, struct jazz_peer *peer,
		       enum jazz_stat s, u64 n)
{
	jazz_stats_add(jd->stats, s, n);
	if (peer)
		jazz_stats_add(peer->stats, s, n);
}

/*
 * Take the next counter of @key. Returns false when the key may not send
 * any more; sends key-rotate-ntf once when the soft limit is crossed.
 */
static bool jazz_next_counter(struct jazz_peer *peer, struct jazz_key *key,
			      u64 *counter)
{
	u64 hard = min_t(u64, READ_ONCE(jazz_tx_hard_limit),
			 JAZZ_REPLAY_REJECT);
	u64 c = atomic64_inc_return(&key->tx_counter) - 1;

	if (unlikely(c >= READ_ONCE(jazz_tx_soft_limit) || c >= hard) &&
	    !test_and_set_bit(0, &key->rotate_sent))
		jazz_notify_key_rotate(peer, key, JAZZ_KEY_SLOT_PRIMARY);
	if (unlikely(c >= hard)) {
		/* Keep the counter from ever wrapping around. */
		atomic64_set(&key->tx_counter, hard);
		return false;
	}
	*counter = c;
	return true;
}

/*
 * Bursts: the segments of one GSO packet are queued for encryption
 * together, JAZZ_TX_BURST at a time: one hold of the peer's queue lock for
 * their counters and places, one of the crypt ring's producer lock, and one
 * worker woken per cpu (queueing.c jazz_crypt_enqueue_burst()). The array
 * of a burst lives on the stack of jazz_send_to_peer()'s caller.
 */
#define JAZZ_TX_BURST	64

/*
 * Get @skb ready to queue: references on @key and @peer, cb filled. Returns
 * false when it was dropped (and counted) instead. rcu_read_lock held.
 */
static bool jazz_tx_prepare(struct jazz_peer *peer, struct jazz_key *key,
			    struct sk_buff *skb, u8 depth)
{
	struct jazz_device *jd = peer->jd;
	struct jazz_cb *cb = JAZZ_CB(skb);

	if (unlikely(!jazz_key_get_rcu(key))) {
		jazz_count(jd, peer, JAZZ_STAT_TX_DROP_NO_KEY, 1);
		goto drop;
	}
	if (unlikely(!jazz_peer_get_rcu(peer))) {
		jazz_key_put(key);
		jazz_count(jd, NULL, JAZZ_STAT_TX_DROP_NO_PEER, 1);
		goto drop;
	}
	cb->peer = peer;
	cb->key = key;
	cb->depth = depth;
	/* RFC 6040 / RFC 3168: the inner ECN bits go to the outer header. */
	cb->ds = ip_tunnel_ecn_encap(0, ip_hdr(skb), skb);
	atomic_set(&cb->state, JAZZ_PKT_NEW);
	return true;
drop:
	DEV_STATS_INC(jd->dev, tx_dropped);
	kfree_skb(skb);
	return false;
}

/*
 * Queue the @n prepared packets of @burst for encryption: each takes its
 * counter and its place in the peer's ordered queue under one hold of the
 * queue's lock, so packets leave in counter order; then they go on the
 * crypt ring together. Consumes them. rcu_read_lock held, BHs off.
 */
static void jazz_tx_queue(struct jazz_peer *peer, struct jazz_key *key,
			  struct sk_buff **burst, unsigned int n)
{
	unsigned int i, q = 0, full = 0, spent = 0, lost;
	struct jazz_device *jd = peer->jd;
	struct sk_buff_head dropped;
	struct sk_buff *skb;
	u64 counter;

	__skb_queue_head_init(&dropped);
	spin_lock(&peer->txq.list.lock);
	for (i = 0; i < n; i++) {
		skb = burst[i];
		if (unlikely(jazz_pqueue_full(&peer->txq))) {
			full++;
			__skb_queue_tail(&dropped, skb);
		} else if (unlikely(!jazz_next_counter(peer, key, &counter))) {
			spent++;
			__skb_queue_tail(&dropped, skb);
		} else {
			JAZZ_CB(skb)->counter = counter;
			__skb_queue_tail(&peer->txq.list, skb);
			burst[q++] = skb;
		}
	}
	spin_unlock(&peer->txq.list.lock);
	while ((skb = __skb_dequeue(&dropped))) {
		jazz_key_put(key);
		jazz_peer_put(peer);
		DEV_STATS_INC(jd->dev, tx_dropped);
		kfree_skb(skb);
	}
	if (unlikely(full))
		jazz_count(jd, peer, JAZZ_STAT_TX_DROP_QUEUE_FULL, full);
	if (unlikely(spent))
		jazz_count(jd, peer, JAZZ_STAT_DROP_KEY_EXHAUSTED, spent);
	if (!q)
		return;
	lost = jazz_crypt_enqueue_burst(&jd->encrypt_q, &peer->txq, burst, q);
	if (unlikely(lost))
		jazz_count(jd, peer, JAZZ_STAT_TX_DROP_QUEUE_FULL, lost);
}

/* Queue the packets of the list @segs (consumed) in bursts. RCU, BHs off. */
static void jazz_tx_enqueue(struct jazz_peer *peer, struct jazz_key *key,
			    struct sk_buff *segs, u8 depth)
{
	struct sk_buff *burst[JAZZ_TX_BURST], *skb, *next;
	unsigned int n = 0;

	skb_list_walk_safe(segs, skb, next) {
		skb_mark_not_on_list(skb);
		if (jazz_tx_prepare(peer, key, skb, depth))
			burst[n++] = skb;
		if (n == JAZZ_TX_BURST) {
			jazz_tx_queue(peer, key, burst, n);
			n = 0;
		}
	}
	if (n)
		jazz_tx_queue(peer, key, burst, n);
}

/* An encrypted packet (or @err) goes to its ordered queue. BHs off, RCU. */
void jazz_tx_crypted(struct sk_buff *skb, int err)
{
	struct jazz_peer *peer = JAZZ_CB(skb)->peer;
	int state = JAZZ_PKT_CRYPTED;

	if (unlikely(err)) {
		jazz_count(peer->jd, peer, JAZZ_STAT_DROP_TX_ERROR, 1);
		state = JAZZ_PKT_DEAD;
	}
	jazz_pqueue_finish(&peer->txq, skb, state);
}

/*
 * Crypt worker: encrypt one queued packet, or submit it to an asynchronous
 * AEAD whose completion calls jazz_tx_crypted(). BHs off, RCU held.
 */
void jazz_tx_crypt(struct sk_buff *skb)
{
	struct jazz_cb *cb = JAZZ_CB(skb);
	struct jazz_peer *peer = cb->peer;
	int err = -ESHUTDOWN;

	if (likely(!READ_ONCE(peer->dead)))
		err = jazz_key_encrypt(cb->key, skb, READ_ONCE(peer->remote_id),
				       cb->counter, &peer->jd->encrypt_q.async);
	if (err != -EINPROGRESS)
		jazz_tx_crypted(skb, err);
}

/*
 * Send @skb, one datagram or a UDP GSO super-packet of @n datagrams of
 * @bytes in all, and count them. The caller holds a peer reference (the
 * packet's) until this returns. BHs off, RCU held.
 */
static void jazz_tx_out(struct jazz_peer *peer, struct sk_buff *skb, u8 ds,
			u8 depth, unsigned int n, unsigned int bytes)
{
	struct jazz_device *jd = peer->jd;
	u8 *cur, saved;
	int err;

	/* A jazz device under this one sees the nesting depth of the xmit. */
	cur = this_cpu_ptr(&jazz_xmit_depth);
	saved = *cur;
	*cur = depth;
	err = jazz_socket_send(peer, skb, ds);
	*cur = saved;
	if (unlikely(err)) {
		jazz_count(jd, peer, err == -ELOOP ? JAZZ_STAT_DROP_LOOP :
			   err == -EDESTADDRREQ ? JAZZ_STAT_DROP_NO_ENDPOINT :
			   JAZZ_STAT_DROP_TX_ERROR, n);
		DEV_STATS_ADD(jd->dev, tx_errors, n);
		return;
	}
	WRITE_ONCE(peer->last_tx_jiffies, jiffies);
	jazz_count(jd, peer, JAZZ_STAT_TX_PACKETS, n);
	jazz_count(jd, peer, JAZZ_STAT_TX_BYTES, bytes);
	/*
	 * The device's own tx_packets/tx_bytes: udp_tunnel{,6}_xmit_skb
	 * counts them on skb->dev (iptunnel_xmit_stats), once per skb: the
	 * other datagrams of a super-packet are added here.
	 */
	if (n > 1)
		dev_sw_netstats_tx_add(jd->dev, n - 1, 0);
}

/* One packet leaves the tx queue: send or drop. BHs off, RCU held. */
static void jazz_tx_done_one(struct sk_buff *skb)
{
	struct jazz_cb *cb = JAZZ_CB(skb);
	struct jazz_peer *peer = cb->peer;

	jazz_key_put(cb->key);
	/* Dead packets were counted by reason where they died. */
	if (unlikely(atomic_read(&cb->state) != JAZZ_PKT_CRYPTED)) {
		DEV_STATS_INC(peer->jd->dev, tx_dropped);
		kfree_skb(skb);
	} else {
		jazz_tx_out(peer, skb, cb->ds, cb->depth, 1, skb->len);
	}
	jazz_peer_put(peer);
}

/*
 * Send batching (UDP GSO of the outer datagrams). The segments of one
 * inner GSO packet leave the tx queue together, all of one size but the
 * last; a run of them goes down the stack as one SKB_GSO_UDP_L4 skb: the
 * first datagram's skb is the head, the others hang on its frag_list, and
 * gso_size is the datagram size. One route lookup, one pass through IP,
 * netfilter, qdisc and the underlay device for the run; the device (or the
 * stack before it, validate_xmit_skb) cuts it back into datagrams, and a
 * receiving UDP socket gets them one by one (udp_rcv_segment), so the wire
 * and the receiver see exactly the datagrams they saw before. The run is
 * limited to what one UDP datagram's length field and one skb_segment()
 * can carry; every skb in it is linear and not cloned (the encryption
 * made it so: skb_cow_data), which skb_segment()'s frag_list path needs.
 * Module parameter tx_gso=0 sends every datagram on its own.
 */
#define JAZZ_GSO_MAX_SEGS	64
#define JAZZ_GSO_MAX_BYTES	(60 * 1024)

static bool jazz_tx_gso = true;
module_param_named(tx_gso, jazz_tx_gso, bool, 0644);
MODULE_PARM_DESC(tx_gso,
		 "Send runs of equal-sized datagrams as one UDP GSO packet");

static bool jazz_tx_joins(struct sk_buff_head *run, struct sk_buff *skb,
			  unsigned int bytes)
{
	struct sk_buff *first = skb_peek(run), *last = skb_peek_tail(run);

	if (!first)
		return true;
	return READ_ONCE(jazz_tx_gso) &&
	       skb_queue_len(run) < JAZZ_GSO_MAX_SEGS &&
	       bytes + skb->len <= JAZZ_GSO_MAX_BYTES &&
	       last->len == first->len && skb->len <= first->len &&
	       JAZZ_CB(skb)->ds == JAZZ_CB(first)->ds &&
	       JAZZ_CB(skb)->depth == JAZZ_CB(first)->depth &&
	       !skb_is_nonlinear(skb) && !skb_cloned(skb) &&
	       !skb_is_nonlinear(first) && !skb_cloned(first);
}

/*
 * Send @run (crypted packets of one peer, in counter order; consumed):
 * one alone as it is, more as one super-packet. The members' references
 * are dropped as they join; the head's peer reference keeps the peer until
 * the super-packet is sent. BHs off, RCU held.
 */
static void jazz_tx_flush(struct sk_buff_head *run)
{
	struct sk_buff *skb = __skb_dequeue(run), *seg, **tail;
	unsigned int n = 1, bytes;
	struct jazz_peer *peer;
	struct jazz_cb *cb;

	if (!skb)
		return;
	if (skb_queue_empty(run)) {
		jazz_tx_done_one(skb);
		return;
	}
	cb = JAZZ_CB(skb);
	peer = cb->peer;
	jazz_key_put(cb->key);
	bytes = skb->len;
	/* Its truesize grows: no socket may have been charged for it. */
	skb_orphan(skb);
	skb_shinfo(skb)->gso_size = skb->len;
	skb_shinfo(skb)->gso_type = SKB_GSO_UDP_L4;
	tail = &skb_shinfo(skb)->frag_list;
	while ((seg = __skb_dequeue(run))) {
		jazz_key_put(JAZZ_CB(seg)->key);
		jazz_peer_put(JAZZ_CB(seg)->peer);
		/* Only its bytes go out: no socket, route or conntrack. */
		skb_orphan(seg);
		skb_scrub_packet(seg, true);
		*tail = seg;
		tail = &seg->next;
		skb->len += seg->len;
		skb->data_len += seg->len;
		skb->truesize += seg->truesize;
		bytes += seg->len;
		n++;
	}
	skb_shinfo(skb)->gso_segs = n;
	jazz_tx_out(peer, skb, cb->ds, cb->depth, n, bytes);
	jazz_peer_put(peer);
}

void jazz_tx_done(struct sk_buff_head *ready)
{
	struct sk_buff_head run;
	unsigned int bytes = 0;
	struct sk_buff *skb;

	__skb_queue_head_init(&run);
	while ((skb = __skb_dequeue(ready))) {
		/* A dead packet is dropped where it is; the run goes on. */
		if (unlikely(atomic_read(&JAZZ_CB(skb)->state) !=
			     JAZZ_PKT_CRYPTED)) {
			jazz_tx_done_one(skb);
			continue;
		}
		if (!jazz_tx_joins(&run, skb, bytes)) {
			jazz_tx_flush(&run);
			bytes = 0;
		}
		__skb_queue_tail(&run, skb);
		bytes += skb->len;
	}
	jazz_tx_flush(&run);
}

static bool jazz_endpoint_known(struct jazz_peer *peer)
{
	bool known;

	read_lock_bh(&peer->ep_lock);
	known = peer->ep.addr.sa_family != AF_UNSPEC;
	read_unlock_bh(&peer->ep_lock);
	return known;
}

/* Encrypt and send @skb (maybe GSO) to @peer; consumes it. RCU held, BHs off. */
void jazz_send_to_peer(struct jazz_peer *peer, struct sk_buff *skb)
{
	struct jazz_device *jd = peer->jd;
	struct jazz_key *key;
	struct sk_buff *segs;
	u8 depth;

	key = rcu_dereference(peer->keys[JAZZ_KEY_SLOT_PRIMARY]);
	if (unlikely(!key)) {
		jazz_count(jd, peer, JAZZ_STAT_TX_DROP_NO_KEY, 1);
		goto drop;
	}
	if (unlikely(!jazz_endpoint_known(peer))) {
		jazz_count(jd, peer, JAZZ_STAT_DROP_NO_ENDPOINT, 1);
		goto drop;
	}
	depth = *this_cpu_ptr(&jazz_xmit_depth);
	if (!skb_is_gso(skb)) {
		skb_mark_not_on_list(skb);
		jazz_tx_enqueue(peer, key, skb, depth);
		return;
	}
	segs = skb_gso_segment(skb, 0);
	if (IS_ERR_OR_NULL(segs)) {
		jazz_count(jd, peer, JAZZ_STAT_DROP_TX_ERROR, 1);
		goto drop;
	}
	consume_skb(skb);
	jazz_tx_enqueue(peer, key, segs, depth);
	return;
drop:
	DEV_STATS_INC(jd->dev, tx_dropped);
	kfree_skb(skb);
}

void jazz_send_keepalive(struct jazz_peer *peer)
{
	struct sk_buff *skb;

	skb = alloc_skb(JAZZ_MAX_OUTER_OVERHEAD + LL_MAX_HEADER + JAZZ_TAG_LEN,
			GFP_ATOMIC);
	if (!skb)
		return;
	skb_reserve(skb, JAZZ_MAX_OUTER_OVERHEAD + LL_MAX_HEADER);
	skb->dev = peer->jd->dev;
	local_bh_disable();
	jazz_send_to_peer(peer, skb);
	local_bh_enable();
}

/* Inner destination address; false if the packet is not IPv4/IPv6. */
static bool jazz_inner_dst(struct sk_buff *skb, u8 *addr, u8 *bits)
{
	if (skb->protocol == htons(ETH_P_IP)) {
		if (!pskb_network_may_pull(skb, sizeof(struct iphdr)))
			return false;
		memcpy(addr, &ip_hdr(skb)->daddr, 4);
		*bits = 32;
		return true;
	}
	if (skb->protocol == htons(ETH_P_IPV6)) {
		if (!pskb_network_may_pull(skb, sizeof(struct ipv6hdr)))
			return false;
		memcpy(addr, &ipv6_hdr(skb)->daddr, 16);
		*bits = 128;
		return true;
	}
	return false;
}

/*
 * Path MTU, as IP tunnels do it: an inner packet too big for one outer
 * packet that may not be fragmented (IPv4 with DF, IPv6) is answered with
 * ICMP fragmentation-needed / packet-too-big carrying the MTU that fits,
 * and the inner route learns it; IPv4 without DF is sent and its outer
 * packet fragmented (send4: DF clear; send6: ignore_df). IPv6 inner
 * packets are never told less than 1280: then the outer one fragments.
 * Returns false when @skb was answered and must be dropped.
 */
static bool jazz_pmtu_ok(struct jazz_peer *peer, struct sk_buff *skb)
{
	unsigned int mtu = jazz_socket_inner_mtu(peer);

	if (!mtu)
		return true;
	if (skb_is_gso(skb) ? skb_gso_validate_network_len(skb, mtu) :
			      skb->len <= mtu)
		return true;
	if (skb->protocol == htons(ETH_P_IP)) {
		if (!(ip_hdr(skb)->frag_off & htons(IP_DF)) || mtu < 68)
			return true;
		skb_dst_update_pmtu_no_confirm(skb, mtu);
		icmp_ndo_send(skb, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED,
			      htonl(mtu));
		return false;
	}
	if (mtu < IPV6_MIN_MTU)
		return true;
	skb_dst_update_pmtu_no_confirm(skb, mtu);
	icmpv6_ndo_send(skb, ICMPV6_PKT_TOOBIG, 0, mtu);
	return false;
}

netdev_tx_t jazz_xmit(struct sk_buff *skb, struct net_device *dev)
{
	struct jazz_device *jd = netdev_priv(dev);
	struct jazz_peer *peer;
	u8 addr[16], bits;
	u8 *depth;

	depth = this_cpu_ptr(&jazz_xmit_depth);
	if (unlikely(*depth >= JAZZ_MAX_NESTING)) {
		jazz_count(jd, NULL, JAZZ_STAT_DROP_LOOP, 1);
		net_dbg_ratelimited("%s: tunnel nesting too deep, dropped\n",
				    dev->name);
		DEV_STATS_INC(dev, tx_dropped);
		kfree_skb(skb);
		return NETDEV_TX_OK;
	}
	(*depth)++;

	skb_reset_network_header(skb);
	if (unlikely(!jazz_inner_dst(skb, addr, &bits))) {
		jazz_count(jd, NULL, JAZZ_STAT_TX_DROP_MALFORMED, 1);
		goto drop;
	}

	rcu_read_lock();
	peer = jazz_aip_lookup(&jd->aip, addr, bits);
	if (unlikely(!peer)) {
		rcu_read_unlock();
		jazz_count(jd, NULL, JAZZ_STAT_TX_DROP_NO_PEER, 1);
		if (skb->protocol == htons(ETH_P_IP))
			icmp_ndo_send(skb, ICMP_DEST_UNREACH, ICMP_HOST_UNREACH,
				      0);
		else
			icmpv6_ndo_send(skb, ICMPV6_DEST_UNREACH,
					ICMPV6_ADDR_UNREACH, 0);
		goto drop;
	}
	switch (jazz_conn_egress(jd, peer, skb)) {
	case JAZZ_CONN_PASS:
		break;
	case JAZZ_CONN_HOLD:
		rcu_read_unlock();
		goto out;
	default:
		rcu_read_unlock();
		jazz_count(jd, peer, JAZZ_STAT_DROP_CONNCHECK, 1);
		goto drop;
	}
	if (unlikely(!jazz_pmtu_ok(peer, skb))) {
		rcu_read_unlock();
		jazz_count(jd, peer, JAZZ_STAT_DROP_TX_ERROR, 1);
		goto drop;
	}
	skb_dst_drop(skb);
	jazz_send_to_peer(peer, skb);
	rcu_read_unlock();
out:
	(*depth)--;
	return NETDEV_TX_OK;
drop:
	DEV_STATS_INC(dev, tx_dropped);
	kfree_skb(skb);
	(*depth)--;
	return NETDEV_TX_OK;
}
