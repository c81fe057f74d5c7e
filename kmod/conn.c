// SPDX-License-Identifier: GPL-2.0
/*
 * jazz: direct-connection checks, the table and the packet hooks.
 * Locking and lifetime rules are in conn.h (struct jazz_conn_table).
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/random.h>
#include <linux/jhash.h>
#include <linux/ktime.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/icmp.h>
#include <linux/icmpv6.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/icmp.h>
#include <linux/netlink.h>
#include <jazz.h>
#include "device.h"
#include "peer.h"
#include "send.h"
#include "conn.h"

/* Held packets per connection; the oldest goes first when it is full. */
unsigned int jazz_conn_hold_per_conn = 64;
module_param_named(conn_hold_per_conn, jazz_conn_hold_per_conn, uint, 0644);
MODULE_PARM_DESC(conn_hold_per_conn, "Packets held per pending connection");

/* Held packets of all jazz devices together. */
static unsigned int jazz_conn_hold_global = 16384;
module_param_named(conn_hold_global, jazz_conn_hold_global, uint, 0644);
MODULE_PARM_DESC(conn_hold_global, "Packets held by all devices together");

atomic_t jazz_conn_held_total = ATOMIC_INIT(0);
atomic_t jazz_conns_live = ATOMIC_INIT(0);
static atomic_t jazz_conn_tables_live = ATOMIC_INIT(0);

/* "conn_objects": live tables, entries and held packets, for leak checks. */
static int jazz_conn_objects_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "tables %d conns %d held %d\n",
			  atomic_read(&jazz_conn_tables_live),
			  atomic_read(&jazz_conns_live),
			  atomic_read(&jazz_conn_held_total));
}

static const struct kernel_param_ops jazz_conn_objects_ops = {
	.get = jazz_conn_objects_get,
};
module_param_cb(conn_objects, &jazz_conn_objects_ops, NULL, 0444);
MODULE_PARM_DESC(conn_objects, "Live connection objects (read only)");

/* Idle time after which a TCP connection closed by FIN/RST goes away. */
#define JAZZ_CONN_CLOSE_GRACE	(5 * HZ)
/* Least time between two requests for the same pending connection. */
#define JAZZ_CONN_REQUEST_REPEAT	HZ
#define JAZZ_CONN_GC_FAST	(HZ / 20)
#define JAZZ_CONN_GC_SLOW	HZ
/* Requests the GC repeats in one run (every 50 ms while any is pending). */
#define JAZZ_CONN_REPEAT_BATCH	32
/* Connections the GC resolves in one run (the rest in the next, soon). */
#define JAZZ_CONN_GC_BATCH	64

static void jazz_conn_count_stat(struct jazz_device *jd, struct jazz_peer *peer,
				 enum jazz_stat s, s64 n)
{
	jazz_stats_add(jd->stats, s, (u64)n);
	if (peer)
		jazz_stats_add(peer->stats, s, (u64)n);
}

/* ---- keys and parsing ---- */

void jazz_conn_key_make(struct jazz_conn_key *key, u8 family, u8 proto,
			const struct in6_addr *src, __be16 sport,
			const struct in6_addr *dst, __be16 dport)
{
	int cmp = memcmp(src, dst, sizeof(*src));

	memset(key, 0, sizeof(*key));
	key->family = family;
	key->proto = proto;
	if (cmp < 0 || (cmp == 0 && ntohs(sport) <= ntohs(dport))) {
		key->a = *src;
		key->port_a = sport;
		key->b = *dst;
		key->port_b = dport;
	} else {
		key->a = *dst;
		key->port_a = dport;
		key->b = *src;
		key->port_b = sport;
	}
}

static_assert(sizeof(struct jazz_conn_key) % sizeof(u32) == 0);

u32 jazz_conn_hash(const struct jazz_conn_table *t,
		   const struct jazz_conn_key *key)
{
	return jhash2((const u32 *)key, sizeof(*key) / sizeof(u32), t->seed);
}

bool jazz_conn_key_eq(const struct jazz_conn_key *x,
			     const struct jazz_conn_key *y)
{
	return !memcmp(x, y, sizeof(*x));
}

static bool jazz_proto_has_ports(u8 proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP ||
	       proto == IPPROTO_UDPLITE || proto == IPPROTO_SCTP ||
	       proto == IPPROTO_DCCP;
}

static int jazz_conn_parse_ip(struct sk_buff *skb, unsigned int off,
			      struct jazz_conn_tuple *tu, bool inner);

/*
 * Transport part at @thoff. @frag: not the first fragment (no transport
 * header). @inner: parsing the packet quoted in an ICMP error, which may
 * be truncated after 8 bytes of transport header.
 */
static int jazz_conn_parse_l4(struct sk_buff *skb, unsigned int thoff,
			      u8 family, u8 proto, bool frag,
			      struct jazz_conn_tuple *tu, bool inner)
{
	u8 buf[8], *h;

	tu->sport = 0;
	tu->dport = 0;
	if (frag)
		return 0;
	if (jazz_proto_has_ports(proto)) {
		h = skb_header_pointer(skb, thoff, 4, buf);
		if (!h)
			return -EINVAL;
		memcpy(&tu->sport, h, 2);
		memcpy(&tu->dport, h + 2, 2);
		if (proto == IPPROTO_TCP && !inner) {
			struct tcphdr _th, *th;

			th = skb_header_pointer(skb, thoff, sizeof(_th), &_th);
			if (!th)
				return -EINVAL;
			tu->tcp_flags = (th->fin ? 1 : 0) | (th->rst ? 2 : 0);
		}
		return 0;
	}
	if ((family == AF_INET && proto == IPPROTO_ICMP) ||
	    (family == AF_INET6 && proto == IPPROTO_ICMPV6)) {
		h = skb_header_pointer(skb, thoff, 8, buf);
		if (!h)
			return inner ? 0 : -EINVAL;
		if ((family == AF_INET && (h[0] == ICMP_ECHO ||
					   h[0] == ICMP_ECHOREPLY)) ||
		    (family == AF_INET6 && (h[0] == ICMPV6_ECHO_REQUEST ||
					    h[0] == ICMPV6_ECHO_REPLY))) {
			memcpy(&tu->sport, h + 4, 2);
			tu->dport = tu->sport;
			return 0;
		}
		if (inner)
			return 0;
		if ((family == AF_INET && (h[0] == ICMP_DEST_UNREACH ||
					   h[0] == ICMP_TIME_EXCEEDED ||
					   h[0] == ICMP_PARAMETERPROB)) ||
		    (family == AF_INET6 && h[0] < 128)) {
			/* An error: it belongs to the quoted connection. */
			tu->related = true;
			return jazz_conn_parse_ip(skb, thoff + 8, tu, true);
		}
	}
	return 0;
}

/* The IP packet at @off; fills @tu (key included). */
static int jazz_conn_parse_ip(struct sk_buff *skb, unsigned int off,
			      struct jazz_conn_tuple *tu, bool inner)
{
	u8 family, proto, ver;
	unsigned int thoff;
	bool frag = false;
	u8 *v, vb;

	v = skb_header_pointer(skb, off, 1, &vb);
	if (!v)
		return -EINVAL;
	ver = *v >> 4;
	memset(&tu->src, 0, sizeof(tu->src));
	memset(&tu->dst, 0, sizeof(tu->dst));
	if (ver == 4) {
		struct iphdr _iph, *iph;

		iph = skb_header_pointer(skb, off, sizeof(_iph), &_iph);
		if (!iph || iph->ihl < 5)
			return -EINVAL;
		family = AF_INET;
		proto = iph->protocol;
		memcpy(&tu->src, &iph->saddr, 4);
		memcpy(&tu->dst, &iph->daddr, 4);
		thoff = off + iph->ihl * 4;
		frag = ntohs(iph->frag_off) & IP_OFFSET;
	} else if (ver == 6) {
		struct ipv6hdr _ip6h, *ip6h;
		__be16 frag_off = 0;
		u8 nexthdr;
		int t;

		ip6h = skb_header_pointer(skb, off, sizeof(_ip6h), &_ip6h);
		if (!ip6h)
			return -EINVAL;
		family = AF_INET6;
		tu->src = ip6h->saddr;
		tu->dst = ip6h->daddr;
		nexthdr = ip6h->nexthdr;
		t = ipv6_skip_exthdr(skb, off + sizeof(*ip6h), &nexthdr,
				     &frag_off);
		if (t < 0) {
			/* Extension headers cut short (quoted packet). */
			if (!inner)
				return -EINVAL;
			frag = true;
			t = 0;
		}
		proto = nexthdr;
		thoff = t;
		if (frag_off & htons(~0x7))
			frag = true;
	} else {
		return -EINVAL;
	}
	if (jazz_conn_parse_l4(skb, thoff, family, proto, frag, tu, inner))
		return -EINVAL;
	jazz_conn_key_make(&tu->key, family, proto, &tu->src, tu->sport,
			   &tu->dst, tu->dport);
	return 0;
}

static int jazz_conn_parse(struct sk_buff *skb, struct jazz_conn_tuple *tu)
{
	tu->tcp_flags = 0;
	tu->related = false;
	return jazz_conn_parse_ip(skb, skb_network_offset(skb), tu, false);
}

/* ---- table ---- */

struct jazz_conn *jazz_conn_lookup(struct jazz_conn_table *t,
				   const struct jazz_conn_key *key)
{
	struct hlist_head *head;
	struct jazz_conn *c;

	head = &t->hash[jazz_conn_hash(t, key) &
			((1 << JAZZ_CONN_HASH_BITS) - 1)];
	hlist_for_each_entry_rcu(c, head, hnode, lockdep_is_held(&t->lock))
		if (jazz_conn_key_eq(&c->key, key))
			return c;
	return NULL;
}

/* Under t->lock (or the config mutex, which excludes removals too). */
struct jazz_conn *jazz_conn_by_cookie(struct jazz_conn_table *t, u64 cookie)
{
	struct hlist_head *head;
	struct jazz_conn *c;

	head = &t->cookies[hash_64(cookie, JAZZ_CONN_COOKIE_BITS)];
	hlist_for_each_entry(c, head, cnode)
		if (c->cookie == cookie)
			return c;
	return NULL;
}

unsigned long jazz_conn_idle_timeout(struct jazz_device *jd, u8 proto)
{
	u32 s;

	if (proto == IPPROTO_TCP)
		s = READ_ONCE(jd->tcp_idle_s);
	else if (proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE)
		s = READ_ONCE(jd->udp_idle_s);
	else
		s = READ_ONCE(jd->other_idle_s);
	return (unsigned long)s * HZ;
}

/* New entry with t->lock held. */
struct jazz_conn *jazz_conn_new(struct jazz_conn_table *t,
				const struct jazz_conn_tuple *tu,
				struct jazz_peer *peer, u8 direction, u8 state)
{
	unsigned long now = jiffies;
	struct jazz_conn *c;
	u32 h;

	lockdep_assert_held(&t->lock);
	/*
	 * A peer found under RCU may be being removed: jazz_peer_remove()
	 * marks it dead before jazz_conn_peer_removed() takes this lock to
	 * drop its entries, so an entry made after that would outlive it.
	 */
	if (unlikely(READ_ONCE(peer->dead)))
		return NULL;
	c = kzalloc(sizeof(*c), GFP_ATOMIC);
	if (!c)
		return NULL;
	c->key = tu->key;
	c->origin = tu->src;
	c->oport = tu->sport;
	c->resp = tu->dst;
	c->rport = tu->dport;
	/*
	 * Unguessable and unique in the table: a verdict names a held
	 * connection by cookie, so a sequential one could be aimed at
	 * another connection's (issue 15). 53 bits: daemons carry cookies
	 * in JSON control messages, where larger integers lose precision
	 * or sign.
	 */
	do {
		c->cookie = get_random_u64() & JAZZ_COOKIE_MASK;
	} while (!c->cookie || jazz_conn_by_cookie(t, c->cookie));
	c->peer = peer;
	c->peer_id = peer->id;
	c->direction = direction;
	c->state = state;
	c->created = now;
	c->last_used = now;
	c->last_request = now;
	if (state == JAZZ_CONN_STATE_PENDING)
		c->held_ns = ktime_get_ns();
	atomic64_set(&c->packets, 0);
	atomic64_set(&c->bytes, 0);
	__skb_queue_head_init(&c->held);
	INIT_LIST_HEAD(&c->pnode);
	INIT_LIST_HEAD(&c->holdnode);
	list_add_tail(&c->peernode, &peer->conns);
	h = jazz_conn_hash(t, &c->key) & ((1 << JAZZ_CONN_HASH_BITS) - 1);
	hlist_add_head_rcu(&c->hnode, &t->hash[h]);
	hlist_add_head(&c->cnode,
		       &t->cookies[hash_64(c->cookie, JAZZ_CONN_COOKIE_BITS)]);
	list_add_tail(&c->node, &t->all);
	t->gen++;
	if (state == JAZZ_CONN_STATE_PENDING)
		list_add_tail(&c->pnode, &t->pending);
	t->count++;
	atomic_inc(&jazz_conns_live);
	return c;
}

/* Take @n held packets off the books (they were moved off c->held). */
static void jazz_conn_unhold(struct jazz_conn_table *t, struct jazz_conn *c,
			     unsigned int n)
{
	if (skb_queue_empty(&c->held))
		list_del_init(&c->holdnode);
	if (!n)
		return;
	t->held -= n;
	atomic_sub(n, &jazz_conn_held_total);
	jazz_conn_count_stat(t->jd, c->peer, JAZZ_STAT_HELD, -(s64)n);
}

/*
 * Unlink @c with t->lock held; its held packets move to @drop. The caller
 * frees the entry with kfree_rcu() once done with it.
 */
void jazz_conn_unlink(struct jazz_conn_table *t, struct jazz_conn *c,
		      struct sk_buff_head *drop)
{
	unsigned int n = skb_queue_len(&c->held);

	lockdep_assert_held(&t->lock);
	hlist_del_rcu(&c->hnode);
	hlist_del(&c->cnode);
	list_del(&c->node);
	t->gen++;
	list_del_init(&c->pnode);
	list_del(&c->peernode);
	skb_queue_splice_tail_init(&c->held, drop);
	jazz_conn_unhold(t, c, n);
	c->unlinked = true;
	t->count--;
	atomic_dec(&jazz_conns_live);
}

/* The decision wait of @c ends now (once); t->lock held. */
static void jazz_conn_waited(struct jazz_conn *c)
{
	if (c->held_ns && !c->wait_ns)
		WRITE_ONCE(c->wait_ns, max_t(u64, ktime_get_ns() - c->held_ns, 1));
}

static void jazz_conn_free(struct jazz_conn *c)
{
	kfree_rcu(c, rcu);
}

/* ICMP administratively prohibited to the local sender of @skb. */
static void jazz_conn_icmp(struct sk_buff *skb)
{
	if (skb->protocol == htons(ETH_P_IP))
		icmp_ndo_send(skb, ICMP_DEST_UNREACH, ICMP_PKT_FILTERED, 0);
	else if (skb->protocol == htons(ETH_P_IPV6))
		icmpv6_ndo_send(skb, ICMPV6_DEST_UNREACH, ICMPV6_ADM_PROHIBITED,
				0);
}

/*
 * The direction of a held packet (or one on its way to a drop queue): one
 * queue holds both directions of a pending connection, in arrival order.
 * The hook owns skb->cb from jazz_conn_hold() until release or drop (the
 * stack's IPCB is not valid in ndo_start_xmit anyway; icmp_ndo_send() and
 * the send/receive paths do not read it); the last byte keeps clear of
 * the front, where the data path may keep its own state after release.
 */
static u8 *jazz_conn_skb_dir(struct sk_buff *skb)
{
	return &skb->cb[sizeof(skb->cb) - 1];
}

/*
 * Drop packets taken off a connection (any context but hard irq). Egress
 * packets were sent by this host: their sender gets an ICMP error when
 * @icmp. Counted on the device and on @peer (which may be NULL).
 */
static void jazz_conn_drop_queue(struct jazz_device *jd, struct jazz_peer *peer,
				 struct sk_buff_head *q, enum jazz_stat stat,
				 bool icmp)
{
	unsigned int n = 0, tx = 0;
	struct sk_buff *skb;

	if (skb_queue_empty(q))
		return;
	rcu_read_lock();
	local_bh_disable();
	while ((skb = __skb_dequeue(q))) {
		if (*jazz_conn_skb_dir(skb) == JAZZ_DIRECTION_EGRESS) {
			if (icmp)
				jazz_conn_icmp(skb);
			tx++;
		}
		kfree_skb(skb);
		n++;
	}
	local_bh_enable();
	rcu_read_unlock();
	jazz_conn_count_stat(jd, peer, stat, n);
	if (tx)
		DEV_STATS_ADD(jd->dev, tx_dropped, tx);
	if (n - tx)
		DEV_STATS_ADD(jd->dev, rx_dropped, n - tx);
}

/*
 * Remove @c (process context; the config mutex or RCU keeps @c's peer
 * alive): held packets are dropped and counted as drop-conncheck, and
 * conn-expire-ntf says why.
 */
void jazz_conn_remove(struct jazz_conn_table *t, struct jazz_conn *c, u8 end)
{
	struct sk_buff_head drop;

	__skb_queue_head_init(&drop);
	spin_lock_bh(&t->lock);
	if (c->unlinked) {
		spin_unlock_bh(&t->lock);
		return;
	}
	jazz_conn_unlink(t, c, &drop);
	spin_unlock_bh(&t->lock);
	jazz_conn_drop_queue(t->jd, c->peer, &drop, JAZZ_STAT_DROP_CONNCHECK,
			     false);
	if (!c->notified)
		jazz_conn_notify(t, c, JAZZ_CMD_CONN_EXPIRE_NTF, end);
	jazz_conn_free(c);
}

/* ---- releasing and deciding ---- */

/*
 * Send or deliver the held packets of @c in order (each in its own
 * direction: the opener's packets and early replies share the queue),
 * then mark it approved.
 * New packets of the connection keep queueing behind while it is
 * RELEASING, so none overtakes a held one. Caller holds rcu_read_lock().
 */
static void jazz_conn_release(struct jazz_conn_table *t, struct jazz_conn *c)
{
	struct sk_buff_head q;
	struct sk_buff *skb;
	unsigned int n, rounds = 0;

	/*
	 * BHs stay off from the first batch until the entry is approved: the
	 * released packets reach their receivers (and replies come back) in
	 * softirq only after that, so the next packet of the connection finds
	 * it approved instead of queueing behind a release that a preempted
	 * caller has not finished yet. Other CPUs may still queue meanwhile;
	 * each round sends what they queued, in order.
	 */
	__skb_queue_head_init(&q);
	local_bh_disable();
	spin_lock(&t->lock);
	for (;;) {
		if (c->unlinked || c->state != JAZZ_CONN_STATE_RELEASING)
			break;
		n = skb_queue_len(&c->held);
		if (!n) {
			WRITE_ONCE(c->last_used, jiffies);
			WRITE_ONCE(c->state, JAZZ_CONN_STATE_APPROVED);
			jazz_conn_waited(c);
			break;
		}
		skb_queue_splice_tail_init(&c->held, &q);
		jazz_conn_unhold(t, c, n);
		spin_unlock(&t->lock);

		while ((skb = __skb_dequeue(&q))) {
			atomic64_inc(&c->packets);
			atomic64_add(skb->len, &c->bytes);
			if (*jazz_conn_skb_dir(skb) == JAZZ_DIRECTION_EGRESS) {
				skb_dst_drop(skb);
				jazz_send_to_peer(c->peer, skb);
			} else {
				jazz_deliver(t->jd, c->peer, skb);
			}
		}
		/* Senders that never stop: let softirqs run now and then. */
		if (!(++rounds % 8)) {
			local_bh_enable();
			local_bh_disable();
		}
		spin_lock(&t->lock);
	}
	spin_unlock(&t->lock);
	local_bh_enable();
}

/*
 * Apply a verdict to @c (process context, config mutex held or called by
 * the GC under RCU). Approve releases the held packets; deny drops them
 * with an ICMP error to a local sender. @lifetime_s 0: until idle (approve)
 * or the deny back-off (deny).
 */
int jazz_conn_decide(struct jazz_conn_table *t, struct jazz_conn *c,
		     u8 verdict, u32 lifetime_s)
{
	struct jazz_device *jd = t->jd;
	unsigned long now = jiffies;
	struct sk_buff_head drop;
	bool release = false;
	unsigned int n;

	__skb_queue_head_init(&drop);
	rcu_read_lock();
	spin_lock_bh(&t->lock);
	if (c->unlinked) {
		spin_unlock_bh(&t->lock);
		rcu_read_unlock();
		return -ENOENT;
	}
	if (c->held_ns && !c->verdict_ns && !c->wait_ns)
		WRITE_ONCE(c->verdict_ns, max_t(u64, ktime_get_ns() - c->held_ns, 1));
	list_del_init(&c->pnode);
	c->lifetime_s = lifetime_s;
	if (verdict == JAZZ_VERDICT_APPROVE) {
		c->has_deadline = lifetime_s != 0;
		c->deadline = now + (unsigned long)lifetime_s * HZ;
		WRITE_ONCE(c->last_used, now);
		if (c->state == JAZZ_CONN_STATE_PENDING ||
		    !skb_queue_empty(&c->held)) {
			WRITE_ONCE(c->state, JAZZ_CONN_STATE_RELEASING);
			release = true;
		} else if (c->state != JAZZ_CONN_STATE_RELEASING) {
			WRITE_ONCE(c->state, JAZZ_CONN_STATE_APPROVED);
		}
	} else {
		c->has_deadline = true;
		c->deadline = now + (lifetime_s ? (unsigned long)lifetime_s * HZ :
				     msecs_to_jiffies(READ_ONCE(jd->deny_backoff_ms)));
		WRITE_ONCE(c->state, JAZZ_CONN_STATE_DENIED);
		n = skb_queue_len(&c->held);
		skb_queue_splice_tail_init(&c->held, &drop);
		jazz_conn_unhold(t, c, n);
		jazz_conn_waited(c);
	}
	spin_unlock_bh(&t->lock);
	if (release)
		jazz_conn_release(t, c);
	jazz_conn_drop_queue(jd, c->peer, &drop, JAZZ_STAT_DROP_CONNCHECK, true);
	rcu_read_unlock();
	return 0;
}

/* ---- packet path ---- */

static void jazz_conn_account(struct jazz_conn *c,
			      const struct jazz_conn_tuple *tu,
			      struct sk_buff *skb)
{
	unsigned long now = jiffies;
	u8 bit;

	if (READ_ONCE(c->last_used) != now)
		WRITE_ONCE(c->last_used, now);
	atomic64_add(skb_is_gso(skb) ? skb_shinfo(skb)->gso_segs : 1,
		     &c->packets);
	atomic64_add(skb->len, &c->bytes);
	if (unlikely(tu->tcp_flags)) {
		if (tu->tcp_flags & 2)
			bit = 3;
		else if (tu->sport == c->oport &&
			 ipv6_addr_equal(&tu->src, &c->origin))
			bit = 1;
		else
			bit = 2;
		if ((READ_ONCE(c->fin) | bit) != READ_ONCE(c->fin))
			WRITE_ONCE(c->fin, READ_ONCE(c->fin) | bit);
	}
}

/*
 * Drop the oldest held packet of @c, or with @c NULL the device's oldest
 * (the head of the connection that has held packets the longest).
 */
static bool jazz_conn_drop_oldest(struct jazz_conn_table *t,
				  struct jazz_conn *c, struct sk_buff_head *drop)
{
	if (!c) {
		if (list_empty(&t->holders))
			return false;
		c = list_first_entry(&t->holders, struct jazz_conn, holdnode);
	}
	if (skb_queue_empty(&c->held))
		return false;
	__skb_queue_tail(drop, __skb_dequeue(&c->held));
	jazz_conn_unhold(t, c, 1);
	return true;
}

/*
 * Hold @skb on pending or releasing @c; t->lock held. Packets that do not
 * fit (the oldest first) go to @drop.
 */
static void jazz_conn_hold(struct jazz_conn_table *t, struct jazz_conn *c,
			   struct sk_buff *skb, u8 dir,
			   struct sk_buff_head *drop)
{
	struct jazz_device *jd = t->jd;
	unsigned int per = max(READ_ONCE(jazz_conn_hold_per_conn), 1U);

	*jazz_conn_skb_dir(skb) = dir;
	if (dir == JAZZ_DIRECTION_EGRESS && !skb_dst_force(skb)) {
		__skb_queue_tail(drop, skb);
		return;
	}
	while (skb_queue_len(&c->held) >= per)
		jazz_conn_drop_oldest(t, c, drop);
	while ((t->held >= READ_ONCE(jd->hold_max) ||
		atomic_read(&jazz_conn_held_total) >=
		READ_ONCE(jazz_conn_hold_global)) &&
	       jazz_conn_drop_oldest(t, NULL, drop))
		;
	if (t->held >= READ_ONCE(jd->hold_max) ||
	    atomic_read(&jazz_conn_held_total) >=
	    READ_ONCE(jazz_conn_hold_global)) {
		__skb_queue_tail(drop, skb);
		return;
	}
	__skb_queue_tail(&c->held, skb);
	if (list_empty(&c->holdnode))
		list_add_tail(&c->holdnode, &t->holders);
	t->held++;
	atomic_inc(&jazz_conn_held_total);
	jazz_conn_count_stat(jd, c->peer, JAZZ_STAT_HELD, 1);
}

static void jazz_conn_kick_gc(struct jazz_conn_table *t, unsigned long delay)
{
	lockdep_assert_held(&t->lock);
	if (!t->dead)
		mod_delayed_work(system_wq, &t->gc, delay);
}

static void jazz_conn_overflow(struct jazz_conn_table *t,
			       struct jazz_peer *peer,
			       struct sk_buff_head *drop)
{
	jazz_conn_drop_queue(t->jd, peer, drop, JAZZ_STAT_DROP_HOLD_OVERFLOW,
			     false);
}

static int jazz_conn_check(struct jazz_device *jd, struct jazz_peer *peer,
			   struct sk_buff *skb, u8 dir)
{
	struct jazz_conn_table *t = READ_ONCE(jd->conn);
	struct jazz_conn_tuple tu;
	struct sk_buff_head drop;
	bool listening, request;
	struct jazz_conn *c;
	u8 state;

	if (!READ_ONCE(jd->conncheck))
		return JAZZ_CONN_PASS;
	if (unlikely(!t) || unlikely(jazz_conn_parse(skb, &tu)))
		return JAZZ_CONN_DROP;
	c = jazz_conn_lookup(t, &tu.key);
	if (unlikely(tu.related)) {
		/*
		 * An ICMP error about an approved connection passes, also
		 * while its held packets are being released (an error about
		 * one of them can come back before the last one went out).
		 */
		if (!c || c->peer != peer)
			return JAZZ_CONN_DROP;
		state = READ_ONCE(c->state);
		return state == JAZZ_CONN_STATE_APPROVED ||
		       state == JAZZ_CONN_STATE_RELEASING ?
		       JAZZ_CONN_PASS : JAZZ_CONN_DROP;
	}
	if (likely(c)) {
		if (unlikely(c->peer != peer))
			return JAZZ_CONN_DROP;
		state = READ_ONCE(c->state);
		if (likely(state == JAZZ_CONN_STATE_APPROVED)) {
			jazz_conn_account(c, &tu, skb);
			return JAZZ_CONN_PASS;
		}
		if (state == JAZZ_CONN_STATE_DENIED)
			goto denied;
	}

	__skb_queue_head_init(&drop);
	request = false;
	listening = jazz_approvals_listening(dev_net(jd->dev));
	spin_lock(&t->lock);
	if (unlikely(t->dead)) {
		spin_unlock(&t->lock);
		return JAZZ_CONN_DROP;
	}
	c = jazz_conn_lookup(t, &tu.key);
	if (c) {
		state = c->state;
		if (c->peer != peer || state == JAZZ_CONN_STATE_DENIED) {
			spin_unlock(&t->lock);
			goto denied;
		}
		if (state == JAZZ_CONN_STATE_APPROVED) {
			spin_unlock(&t->lock);
			jazz_conn_account(c, &tu, skb);
			return JAZZ_CONN_PASS;
		}
		/*
		 * Pending or releasing: queue behind the held packets, in
		 * either direction. A reply may come before this end's
		 * verdict (the peer opened the same connection at about the
		 * same time, or its side was approved ahead of traffic); it
		 * waits in the same bounded queue and shares the verdict.
		 */
		jazz_conn_hold(t, c, skb, dir, &drop);
		if (state == JAZZ_CONN_STATE_PENDING && listening &&
		    time_after_eq(jiffies, c->last_request +
				  JAZZ_CONN_REQUEST_REPEAT)) {
			c->last_request = jiffies;
			request = true;
		}
		spin_unlock(&t->lock);
		goto held;
	}
	if (t->count >= READ_ONCE(jd->conn_max)) {
		spin_unlock(&t->lock);
		jazz_conn_count_stat(jd, peer, JAZZ_STAT_DROP_CONN_FULL, 1);
		if (dir == JAZZ_DIRECTION_EGRESS) {
			jazz_conn_icmp(skb);
			DEV_STATS_INC(jd->dev, tx_dropped);
		} else {
			DEV_STATS_INC(jd->dev, rx_dropped);
		}
		kfree_skb(skb);
		return JAZZ_CONN_HOLD;
	}
	if (!listening) {
		unsigned long backoff =
			msecs_to_jiffies(READ_ONCE(jd->deny_backoff_ms));

		/* Nobody to ask: the timeout's outcome at once. */
		state = READ_ONCE(jd->fail_open) ? JAZZ_CONN_STATE_APPROVED :
						   JAZZ_CONN_STATE_DENIED;
		c = jazz_conn_new(t, &tu, peer, dir, state);
		if (c) {
			c->end = JAZZ_CONN_END_NO_LISTENER;
			if (state == JAZZ_CONN_STATE_DENIED) {
				c->notified = true;
				c->has_deadline = true;
				c->deadline = jiffies + backoff;
			}
			jazz_conn_kick_gc(t, JAZZ_CONN_GC_SLOW);
		}
		spin_unlock(&t->lock);
		if (c && state == JAZZ_CONN_STATE_APPROVED) {
			jazz_conn_account(c, &tu, skb);
			return JAZZ_CONN_PASS;
		}
		goto denied;
	}
	c = jazz_conn_new(t, &tu, peer, dir, JAZZ_CONN_STATE_PENDING);
	if (unlikely(!c)) {
		spin_unlock(&t->lock);
		return JAZZ_CONN_DROP;
	}
	c->has_deadline = true;
	c->deadline = jiffies +
		      msecs_to_jiffies(READ_ONCE(jd->approval_timeout_ms));
	jazz_conn_hold(t, c, skb, dir, &drop);
	jazz_conn_kick_gc(t, JAZZ_CONN_GC_FAST);
	request = true;
	spin_unlock(&t->lock);
held:
	/*
	 * @c stays valid under the caller's rcu_read_lock(). A request that
	 * reached no listener of this namespace (genl_has_listeners() is not
	 * per namespace) means nobody can answer: the GC, kicked now, gives
	 * the pending connections the no-listener outcome.
	 */
	if (request &&
	    jazz_conn_notify(t, c, JAZZ_CMD_CONN_REQUEST_NTF, 0) == -ESRCH) {
		spin_lock(&t->lock);
		t->unheard = true;
		jazz_conn_kick_gc(t, 0);
		spin_unlock(&t->lock);
	}
	jazz_conn_overflow(t, peer, &drop);
	return JAZZ_CONN_HOLD;

denied:
	if (dir == JAZZ_DIRECTION_EGRESS)
		jazz_conn_icmp(skb);
	return JAZZ_CONN_DROP;
}

int jazz_conn_egress(struct jazz_device *jd, struct jazz_peer *peer,
		     struct sk_buff *skb)
{
	return jazz_conn_check(jd, peer, skb, JAZZ_DIRECTION_EGRESS);
}

int jazz_conn_ingress(struct jazz_device *jd, struct jazz_peer *peer,
		      struct sk_buff *skb)
{
	return jazz_conn_check(jd, peer, skb, JAZZ_DIRECTION_INGRESS);
}

/* ---- time ---- */

struct jazz_conn_gc_ctx {
	struct jazz_conn *release[JAZZ_CONN_GC_BATCH];
	int n_release;
	struct sk_buff_head msgs;	/* notifications, sent after unlock */
	struct sk_buff_head reqs;	/* repeated requests, likewise */
	struct sk_buff_head drop_timeout;
	struct sk_buff_head drop_other;
	struct jazz_conn *freed[JAZZ_CONN_GC_BATCH];
	int n_freed;
	bool more;
};

static void jazz_conn_gc_queue_msg(struct jazz_conn_table *t,
				   struct jazz_conn_gc_ctx *g,
				   struct jazz_conn *c, u8 end)
{
	struct sk_buff *msg;

	c->notified = true;
	msg = jazz_conn_msg(t, c, JAZZ_CMD_CONN_EXPIRE_NTF, end);
	if (msg)
		__skb_queue_tail(&g->msgs, msg);
}

/* A pending entry got no verdict (or has nobody to ask); t->lock held. */
static void jazz_conn_gc_timeout(struct jazz_conn_table *t,
				 struct jazz_conn_gc_ctx *g,
				 struct jazz_conn *c, u8 end, unsigned long now)
{
	struct jazz_device *jd = t->jd;
	unsigned int n;

	list_del_init(&c->pnode);
	c->end = end;
	if (READ_ONCE(jd->fail_open)) {
		WRITE_ONCE(c->state, JAZZ_CONN_STATE_RELEASING);
		c->has_deadline = false;
		g->release[g->n_release++] = c;
		return;
	}
	WRITE_ONCE(c->state, JAZZ_CONN_STATE_DENIED);
	c->has_deadline = true;
	c->deadline = now + msecs_to_jiffies(READ_ONCE(jd->deny_backoff_ms));
	n = skb_queue_len(&c->held);
	skb_queue_splice_tail_init(&c->held, &g->drop_timeout);
	jazz_conn_unhold(t, c, n);
	jazz_conn_waited(c);
	jazz_conn_gc_queue_msg(t, g, c, end);
}

/* Should approved/denied @c go away now? Returns the end reason or 0. */
static u8 jazz_conn_gc_end(struct jazz_conn_table *t, struct jazz_conn *c,
			   unsigned long now)
{
	unsigned long used = READ_ONCE(c->last_used);

	if (c->state == JAZZ_CONN_STATE_DENIED)
		return c->has_deadline && time_after_eq(now, c->deadline) ?
		       (c->end ? c->end : JAZZ_CONN_END_LIFETIME) : 0;
	if (c->state != JAZZ_CONN_STATE_APPROVED)
		return 0;
	if (c->has_deadline && time_after_eq(now, c->deadline))
		return JAZZ_CONN_END_LIFETIME;
	if (READ_ONCE(c->fin) == 3 &&
	    time_after_eq(now, used + JAZZ_CONN_CLOSE_GRACE))
		return JAZZ_CONN_END_CLOSED;
	if (time_after_eq(now, used + jazz_conn_idle_timeout(t->jd,
							     c->key.proto)))
		return JAZZ_CONN_END_IDLE;
	return 0;
}

static void jazz_conn_gc_scan(struct jazz_conn_table *t,
			      struct jazz_conn_gc_ctx *g, unsigned long now,
			      bool full)
{
	bool listening = jazz_approvals_listening(dev_net(t->jd->dev)) &&
			 !t->unheard;
	struct jazz_conn *c, *tmp;
	int repeats = 0;
	u8 end;

	list_for_each_entry_safe(c, tmp, &t->pending, pnode) {
		if (g->n_release >= JAZZ_CONN_GC_BATCH) {
			g->more = true;
			break;
		}
		if (c->state != JAZZ_CONN_STATE_PENDING) {
			list_del_init(&c->pnode);
			continue;
		}
		if (!listening) {
			jazz_conn_gc_timeout(t, g, c,
					     JAZZ_CONN_END_NO_LISTENER, now);
		} else if (time_after_eq(now, c->deadline)) {
			jazz_conn_gc_timeout(t, g, c, JAZZ_CONN_END_TIMEOUT,
					     now);
		} else if ((t->probe && !repeats) ||
			   (time_after_eq(now, c->last_request +
					  JAZZ_CONN_REQUEST_REPEAT) &&
			    repeats < JAZZ_CONN_REPEAT_BATCH)) {
			/* The request may have been lost (listener buffer
			 * full, daemon restarted): ask again, rate-limited.
			 */
			struct sk_buff *msg;

			c->last_request = now;
			repeats++;
			msg = jazz_conn_msg(t, c, JAZZ_CMD_CONN_REQUEST_NTF, 0);
			if (msg)
				__skb_queue_tail(&g->reqs, msg);
		}
	}
	if (!full)
		return;
	t->last_full_scan = now;
	list_for_each_entry_safe(c, tmp, &t->all, node) {
		if (g->n_freed >= JAZZ_CONN_GC_BATCH) {
			g->more = true;
			break;
		}
		end = jazz_conn_gc_end(t, c, now);
		if (!end)
			continue;
		jazz_conn_unlink(t, c, &g->drop_other);
		if (!c->notified)
			jazz_conn_gc_queue_msg(t, g, c, end);
		g->freed[g->n_freed++] = c;
	}
}

void jazz_conn_gc_run(struct jazz_conn_table *t, unsigned long now)
{
	struct jazz_device *jd = t->jd;
	struct jazz_conn_gc_ctx *g;
	bool full, unheard = false;
	struct sk_buff *msg;
	int i;

	g = kzalloc(sizeof(*g), GFP_KERNEL);
	if (!g) {
		spin_lock_bh(&t->lock);
		jazz_conn_kick_gc(t, JAZZ_CONN_GC_SLOW);
		spin_unlock_bh(&t->lock);
		return;
	}
	__skb_queue_head_init(&g->msgs);
	__skb_queue_head_init(&g->reqs);
	__skb_queue_head_init(&g->drop_timeout);
	__skb_queue_head_init(&g->drop_other);

	rcu_read_lock();
	spin_lock_bh(&t->lock);
	full = time_after_eq(now, t->last_full_scan + JAZZ_CONN_GC_SLOW);
	jazz_conn_gc_scan(t, g, now, full);
	t->unheard = false;
	t->probe = false;
	spin_unlock_bh(&t->lock);

	while ((msg = __skb_dequeue(&g->msgs)))
		jazz_approvals_multicast(dev_net(jd->dev), msg);
	while ((msg = __skb_dequeue(&g->reqs)))
		if (jazz_approvals_multicast(dev_net(jd->dev), msg) == -ESRCH)
			unheard = true;
	for (i = 0; i < g->n_release; i++)
		jazz_conn_release(t, g->release[i]);
	/* Held packets whose peer may be gone: count on the device only. */
	jazz_conn_drop_queue(jd, NULL, &g->drop_timeout, JAZZ_STAT_DROP_TIMEOUT,
			     true);
	jazz_conn_drop_queue(jd, NULL, &g->drop_other,
			     JAZZ_STAT_DROP_CONNCHECK, false);
	for (i = 0; i < g->n_freed; i++)
		jazz_conn_free(g->freed[i]);
	rcu_read_unlock();

	spin_lock_bh(&t->lock);
	if (unheard) {
		/* A repeated request reached nobody: resolve all, now. */
		t->unheard = true;
		jazz_conn_kick_gc(t, 0);
	} else if (g->more || !list_empty(&t->pending)) {
		jazz_conn_kick_gc(t, JAZZ_CONN_GC_FAST);
	} else if (t->count) {
		jazz_conn_kick_gc(t, JAZZ_CONN_GC_SLOW);
	}
	spin_unlock_bh(&t->lock);
	kfree(g);
}

static void jazz_conn_gc_work(struct work_struct *work)
{
	struct jazz_conn_table *t = container_of(to_delayed_work(work),
						 struct jazz_conn_table, gc);

	jazz_conn_gc_run(t, jiffies);
}

/* ---- listeners going away ---- */

/*
 * genl_has_listeners() says whether anyone in any namespace listens. When
 * a generic netlink socket of a namespace closes, each of its tables with
 * pending entries repeats its oldest request at once; if that reaches no
 * listener there, every pending entry gets the no-listener outcome. The
 * notifier is registered while any table exists; tables come and go under
 * rtnl (ndo_init, dellink), which orders the (un)registration.
 */
static LIST_HEAD(jazz_conn_tables);
static DEFINE_SPINLOCK(jazz_conn_tables_lock);

static int jazz_conn_netlink_event(struct notifier_block *nb,
				   unsigned long event, void *ptr)
{
	struct netlink_notify *n = ptr;
	struct jazz_conn_table *t;

	if (event != NETLINK_URELEASE || n->protocol != NETLINK_GENERIC)
		return NOTIFY_DONE;
	spin_lock_bh(&jazz_conn_tables_lock);
	list_for_each_entry(t, &jazz_conn_tables, tables) {
		if (!net_eq(dev_net(t->jd->dev), n->net))
			continue;
		spin_lock(&t->lock);
		if (!list_empty(&t->pending)) {
			t->probe = true;
			/* After netlink_release() unhooked the socket. */
			jazz_conn_kick_gc(t, JAZZ_CONN_GC_FAST / 2);
		}
		spin_unlock(&t->lock);
	}
	spin_unlock_bh(&jazz_conn_tables_lock);
	return NOTIFY_DONE;
}

static struct notifier_block jazz_conn_netlink_nb = {
	.notifier_call = jazz_conn_netlink_event,
};

static void jazz_conn_tables_add(struct jazz_conn_table *t)
{
	bool first;

	spin_lock_bh(&jazz_conn_tables_lock);
	first = list_empty(&jazz_conn_tables);
	list_add(&t->tables, &jazz_conn_tables);
	spin_unlock_bh(&jazz_conn_tables_lock);
	if (first)
		netlink_register_notifier(&jazz_conn_netlink_nb);
}

static void jazz_conn_tables_del(struct jazz_conn_table *t)
{
	bool last;

	spin_lock_bh(&jazz_conn_tables_lock);
	list_del(&t->tables);
	last = list_empty(&jazz_conn_tables);
	spin_unlock_bh(&jazz_conn_tables_lock);
	if (last)
		netlink_unregister_notifier(&jazz_conn_netlink_nb);
}

/* ---- device and peer lifetime ---- */

struct jazz_conn_table *jazz_conn_table_alloc(struct jazz_device *jd)
{
	struct jazz_conn_table *t;

	t = kzalloc(sizeof(*t), GFP_KERNEL);
	if (!t)
		return NULL;
	t->hash = kvcalloc(1 << JAZZ_CONN_HASH_BITS, sizeof(*t->hash),
			   GFP_KERNEL);
	t->cookies = kvcalloc(1 << JAZZ_CONN_COOKIE_BITS, sizeof(*t->cookies),
			      GFP_KERNEL);
	if (!t->hash || !t->cookies) {
		kvfree(t->hash);
		kvfree(t->cookies);
		kfree(t);
		return NULL;
	}
	spin_lock_init(&t->lock);
	t->jd = jd;
	INIT_LIST_HEAD(&t->all);
	INIT_LIST_HEAD(&t->pending);
	INIT_LIST_HEAD(&t->holders);
	t->gen = 1;
	t->seed = get_random_u32();
	t->last_full_scan = jiffies;
	INIT_DELAYED_WORK(&t->gc, jazz_conn_gc_work);
	jazz_conn_tables_add(t);
	atomic_inc(&jazz_conn_tables_live);
	return t;
}

static void jazz_conn_table_free_rcu(struct rcu_head *rcu)
{
	struct jazz_conn_table *t = container_of(rcu, struct jazz_conn_table,
						 rcu);

	kvfree(t->hash);
	kvfree(t->cookies);
	kfree(t);
	atomic_dec(&jazz_conn_tables_live);
}

/* Remove every entry (or @peer's); no ICMP: the path is going away. */
void jazz_conn_flush(struct jazz_conn_table *t, struct jazz_peer *peer,
		     u8 end)
{
	struct jazz_conn *batch[JAZZ_CONN_GC_BATCH], *c;
	struct list_head *head;
	struct sk_buff_head drop;
	int i, n;

	/*
	 * In batches, with BHs on and a chance to reschedule between them:
	 * the peer's own list, or the whole table; each batch takes the
	 * first entries of the list, as the previous ones are gone.
	 */
	do {
		n = 0;
		__skb_queue_head_init(&drop);
		spin_lock_bh(&t->lock);
		head = peer ? &peer->conns : &t->all;
		while (n < JAZZ_CONN_GC_BATCH && !list_empty(head)) {
			c = peer ? list_first_entry(head, struct jazz_conn, peernode) :
				   list_first_entry(head, struct jazz_conn, node);
			jazz_conn_unlink(t, c, &drop);
			batch[n++] = c;
		}
		spin_unlock_bh(&t->lock);
		jazz_conn_drop_queue(t->jd, peer, &drop,
				     JAZZ_STAT_DROP_CONNCHECK, false);
		rcu_read_lock();
		for (i = 0; i < n; i++) {
			if (!batch[i]->notified)
				jazz_conn_notify(t, batch[i],
						 JAZZ_CMD_CONN_EXPIRE_NTF, end);
			jazz_conn_free(batch[i]);
		}
		rcu_read_unlock();
		cond_resched();
	} while (n);
}

void jazz_conn_table_free(struct jazz_conn_table *t)
{
	jazz_conn_tables_del(t);
	spin_lock_bh(&t->lock);
	t->dead = true;
	spin_unlock_bh(&t->lock);
	cancel_delayed_work_sync(&t->gc);
	jazz_conn_flush(t, NULL, JAZZ_CONN_END_PEER_REMOVED);
	call_rcu(&t->rcu, jazz_conn_table_free_rcu);
}

int jazz_conn_dev_init(struct jazz_device *jd)
{
	struct jazz_conn_table *t = jazz_conn_table_alloc(jd);

	if (!t)
		return -ENOMEM;
	WRITE_ONCE(jd->conn, t);
	return 0;
}

void jazz_conn_dev_uninit(struct jazz_device *jd)
{
	struct jazz_conn_table *t = jd->conn;

	if (!t)
		return;
	WRITE_ONCE(jd->conn, NULL);
	jazz_conn_table_free(t);
}

void jazz_conn_peer_removed(struct jazz_device *jd, struct jazz_peer *peer)
{
	struct jazz_conn_table *t = jd->conn;

	if (t)
		jazz_conn_flush(t, peer, JAZZ_CONN_END_PEER_REMOVED);
}

u32 jazz_conn_count(struct jazz_device *jd)
{
	struct jazz_conn_table *t = jd->conn;

	return t ? READ_ONCE(t->count) : 0;
}
