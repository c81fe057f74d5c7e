/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Direct-connection checks (issue 3): a per-device table of connections
 * between local and peer virtual addresses. Unknown connections have their
 * first packets held while userspace is asked (conn-request-ntf on the
 * "approvals" group); traffic passes only once this end approved.
 *
 * Contract with the data path:
 * - jazz_conn_egress() runs in jazz_xmit() after the peer lookup, before
 *   segmentation and encryption, under rcu_read_lock() with BHs disabled.
 *   jazz_conn_ingress() runs in the receive path after decryption, inner
 *   header validation and the allowed-ips source check, in softirq under
 *   rcu_read_lock(), before the packet is handed to GRO.
 * - While a packet is held the hook owns the last byte of skb->cb (its
 *   direction); nothing else may keep state there across the hook.
 * - Return JAZZ_CONN_PASS to go on, JAZZ_CONN_HOLD when the hook took the
 *   skb (held, or freed and counted by the hook itself), or JAZZ_CONN_DROP:
 *   the caller frees the skb and counts drop-conncheck.
 * - jazz_conn_dev_init() runs in ndo_init, jazz_conn_dev_uninit() in
 *   dellink once the device is marked dead and its sockets are closed,
 *   before its peers are removed (the table's dead flag refuses new
 *   entries, so removing the peers finds none), and
 *   jazz_conn_peer_removed() when a peer is unlinked, before its RCU free;
 *   all with the device config mutex held except dev_init.
 * - The conn-* generic netlink ops call jazz_nl_conn_*(); they get the
 *   device already resolved and its config mutex held.
 */
#ifndef _JAZZ_CONN_H
#define _JAZZ_CONN_H

#include <linux/skbuff.h>
#include <linux/errno.h>
#include <linux/in6.h>
#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <net/genetlink.h>

/* Connection and probe cookies: random, non-zero, below 2^53 (exact in JSON). */
#define JAZZ_COOKIE_MASK GENMASK_ULL(52, 0)

struct jazz_device;
struct jazz_peer;

enum jazz_conn_result {
	JAZZ_CONN_PASS,
	JAZZ_CONN_HOLD,
	JAZZ_CONN_DROP,
};

/*
 * struct jazz_conn_key - normalized identity of a connection.
 *
 * The two ends (address, port) are ordered so that @a <= @b (memcmp of
 * address then port): a packet and its reply give the same key. For ICMP
 * and ICMPv6 echo both ports hold the echo identifier; for other protocols
 * both ports are 0. IPv4 addresses use the first 4 bytes, the rest is 0.
 * Padding is zeroed so the key can be hashed and compared as words.
 */
struct jazz_conn_key {
	struct in6_addr a, b;
	__be16 port_a, port_b;
	u8 family;		/* AF_INET or AF_INET6 */
	u8 proto;
	u16 pad;
};

/* A connection as seen in one packet (or given by userspace). */
struct jazz_conn_tuple {
	struct jazz_conn_key key;
	struct in6_addr src, dst;	/* as in the packet */
	__be16 sport, dport;
	u8 tcp_flags;
	bool related;		/* ICMP error about the connection in @key */
};

/*
 * struct jazz_conn - one entry of the table.
 *
 * @key, @cookie, @origin/@resp and @direction never change after insert;
 * @peer stays valid while the entry is in the table without a reference:
 * peer removal marks the peer dead and then drops its entries (its
 * @peernode list) under the table lock, and jazz_conn_new() refuses a
 * dead peer under that lock, so no entry outlives its peer. Entries are
 * freed with kfree_rcu() after they are unlinked; netlink handlers use an
 * entry under rcu_read_lock() and check @unlinked under the lock. @state and the times
 * are written under the table lock and read locklessly (READ_ONCE) on the
 * packet path; @held and the list links are only touched under the lock.
 */
struct jazz_conn {
	struct hlist_node hnode;	/* table->hash, RCU */
	struct hlist_node cnode;	/* table->cookies, under lock */
	struct list_head node;		/* table->all, under lock */
	struct list_head pnode;		/* table->pending, under lock */
	struct list_head holdnode;	/* table->holders, under lock */
	struct list_head peernode;	/* @peer->conns, under lock */
	struct rcu_head rcu;

	struct jazz_conn_key key;
	struct in6_addr origin, resp;	/* who opened it, and towards whom */
	__be16 oport, rport;
	u64 cookie;
	struct jazz_peer *peer;
	u32 peer_id;
	u8 direction;			/* JAZZ_DIRECTION_* */
	u8 state;			/* JAZZ_CONN_STATE_* or RELEASING */
	u8 fin;				/* bit 0: FIN from origin, 1: from resp */
	u8 end;				/* end reason once decided */
	bool notified;			/* conn-expire-ntf already sent */
	bool unlinked;			/* out of the table, under lock */
	bool has_deadline;

	unsigned long created;		/* jiffies */
	unsigned long last_used;	/* jiffies, WRITE_ONCE on the data path */
	unsigned long deadline;		/* pending timeout / lifetime / back-off */
	unsigned long last_request;
	u32 lifetime_s;
	/*
	 * Monotonic ns (ktime_get_ns) of the first held packet of a pending
	 * entry, 0 for one created decided; @wait_ns is set once, under the
	 * lock, when that wait ends (released, dropped by deny or timeout),
	 * @verdict_ns when a verdict for the held packets arrives.
	 */
	u64 held_ns;
	u64 wait_ns;
	u64 verdict_ns;			/* held_ns .. the verdict's arrival */

	atomic64_t packets, bytes;
	struct sk_buff_head held;	/* lock of the queue unused: table lock */
};

/*
 * struct jazz_conn_table - per-device state (jd->conn).
 *
 * Locking rule: @lock (a BH-safe spinlock) serialises every writer: insert,
 * removal, state changes, the hold queues, @all, @pending and @cookies.
 * The packet path looks entries up in @hash under rcu_read_lock() only and
 * takes @lock just to create an entry or hold a packet. Entries are
 * unlinked under @lock and freed with kfree_rcu(); the table itself is
 * freed one grace period after jazz_conn_dev_uninit() cleared jd->conn.
 * One delayed work (@gc) per device drives every timer: approval timeouts,
 * back-offs, lifetimes and idle expiry (no timer per entry).
 */
#define JAZZ_CONN_HASH_BITS	12
#define JAZZ_CONN_COOKIE_BITS	10

/*
 * struct jazz_probe - an approver probe in flight (approver-probe).
 *
 * @cookie 0 marks a free slot. @net is the requester's namespace, only
 * compared with the device's when the result goes out (never
 * dereferenced). Slots are read and written under the device config mutex
 * (jd->lock), which both probe handlers hold.
 */
#define JAZZ_PROBE_SLOTS	8

struct jazz_probe {
	u64 cookie;
	u64 sent_ns;		/* ktime_get_ns() before the notification */
	u32 portid;		/* requester's socket */
	struct net *net;
};

struct jazz_conn_table {
	spinlock_t lock;		/* writers; see above */
	struct jazz_device *jd;
	struct hlist_head *hash;	/* 1 << JAZZ_CONN_HASH_BITS */
	struct hlist_head *cookies;	/* 1 << JAZZ_CONN_COOKIE_BITS */
	struct list_head all;		/* creation order */
	struct list_head pending;	/* pending entries, creation order */
	struct list_head holders;	/* entries holding packets, FIFO */
	unsigned int count;
	unsigned int held;
	u32 gen;			/* t->lock; bumped on link/unlink */
	u32 seed;
	bool dead;
	bool unheard;			/* a request reached nobody in the netns */
	bool probe;			/* a genl socket closed: still heard? */
	struct delayed_work gc;
	unsigned long last_full_scan;
	struct jazz_probe probes[JAZZ_PROBE_SLOTS];	/* under jd->lock */
	struct list_head tables;	/* jazz_conn_tables */
	struct rcu_head rcu;
};

/* Internal state beside the UAPI conn-state values. */
#define JAZZ_CONN_STATE_RELEASING	0x80

/* Packet hooks. */
int jazz_conn_egress(struct jazz_device *jd, struct jazz_peer *peer,
		     struct sk_buff *skb);
int jazz_conn_ingress(struct jazz_device *jd, struct jazz_peer *peer,
		      struct sk_buff *skb);

int jazz_conn_dev_init(struct jazz_device *jd);
void jazz_conn_dev_uninit(struct jazz_device *jd);
void jazz_conn_peer_removed(struct jazz_device *jd, struct jazz_peer *peer);
/* Number of entries for dev-get's conn-count. */
u32 jazz_conn_count(struct jazz_device *jd);

/* Generic netlink (conn_nl.c); config mutex held. */
int jazz_nl_conn_get(struct jazz_device *jd, struct sk_buff *skb,
		     struct genl_info *info);
int jazz_nl_conn_dump(struct jazz_device *jd, struct sk_buff *skb,
		      struct netlink_callback *cb);
int jazz_nl_conn_verdict(struct jazz_device *jd, struct genl_info *info);
int jazz_nl_conn_del(struct jazz_device *jd, struct genl_info *info);
int jazz_nl_conn_flush(struct jazz_device *jd, struct genl_info *info);
int jazz_nl_probe(struct jazz_device *jd, struct genl_info *info);
int jazz_nl_probe_reply(struct jazz_device *jd, struct genl_info *info);

/* netlink.c: the approvals group. */
bool jazz_approvals_listening(struct net *net);
int jazz_approvals_multicast(struct net *net, struct sk_buff *msg);

/* conn.c internals shared with conn_nl.c and the KUnit tests. */
void jazz_conn_key_make(struct jazz_conn_key *key, u8 family, u8 proto,
			const struct in6_addr *src, __be16 sport,
			const struct in6_addr *dst, __be16 dport);
u32 jazz_conn_hash(const struct jazz_conn_table *t,
		   const struct jazz_conn_key *key);
struct jazz_conn *jazz_conn_lookup(struct jazz_conn_table *t,
				   const struct jazz_conn_key *key);
bool jazz_conn_key_eq(const struct jazz_conn_key *x,
		      const struct jazz_conn_key *y);
struct jazz_conn *jazz_conn_by_cookie(struct jazz_conn_table *t, u64 cookie);
struct jazz_conn_table *jazz_conn_table_alloc(struct jazz_device *jd);
void jazz_conn_table_free(struct jazz_conn_table *t);
struct jazz_conn *jazz_conn_new(struct jazz_conn_table *t,
				const struct jazz_conn_tuple *tu,
				struct jazz_peer *peer, u8 direction, u8 state);
void jazz_conn_unlink(struct jazz_conn_table *t, struct jazz_conn *c,
		      struct sk_buff_head *drop);
void jazz_conn_gc_run(struct jazz_conn_table *t, unsigned long now);
int jazz_conn_decide(struct jazz_conn_table *t, struct jazz_conn *c,
		     u8 verdict, u32 lifetime_s);
void jazz_conn_remove(struct jazz_conn_table *t, struct jazz_conn *c, u8 end);
/* Remove all entries, or @peer's; process context. */
void jazz_conn_flush(struct jazz_conn_table *t, struct jazz_peer *peer,
		     u8 end);
int jazz_conn_fill(struct sk_buff *msg, struct jazz_conn *c, u8 end);
struct sk_buff *jazz_conn_msg(struct jazz_conn_table *t, struct jazz_conn *c,
			      u8 cmd, u8 end);
int jazz_conn_notify(struct jazz_conn_table *t, struct jazz_conn *c, u8 cmd,
		     u8 end);
unsigned long jazz_conn_idle_timeout(struct jazz_device *jd, u8 proto);

extern unsigned int jazz_conn_hold_per_conn;
extern atomic_t jazz_conn_held_total;
extern atomic_t jazz_conns_live;

#endif /* _JAZZ_CONN_H */
