/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _JAZZ_PEER_H
#define _JAZZ_PEER_H

#include <linux/kref.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/spinlock.h>
#include <linux/timer.h>
#include <net/dst_cache.h>
#include <jazz.h>
#include "crypto.h"
#include "queueing.h"
#include "stats.h"

struct jazz_device;

/* The peer's UDP endpoint; family AF_UNSPEC when none is known. */
struct jazz_endpoint {
	union {
		struct sockaddr addr;
		struct sockaddr_in addr4;
		struct sockaddr_in6 addr6;
	};
};

/*
 * struct jazz_path - the path record (issue 20): how packets to the peer
 * travel, as the daemon that chose the path said (peer-set's path nest).
 * The kernel only stores it, stamps @since_ns and reports it in peer-get;
 * nothing in the data path reads it. Part of struct jazz_peer (same
 * lifetime), under the device config mutex.
 */
struct jazz_path {
	u32 kind;			/* JAZZ_PATH_KIND_*; 0: none recorded */
	u64 since_ns;			/* ktime_get_real_ns() when stored */
	char reason[JAZZ_PATH_REASON_MAX + 1];	/* printable ASCII */
};

/*
 * struct jazz_peer - a remote jazz device.
 *
 * Lifetime: @ref counts the users. The device's tables (peer_hash,
 * peer_list, allowed-ips) hold one reference together; jazz_peer_remove()
 * unlinks the peer (config mutex held), marks it @dead and drops that
 * reference. The memory is freed one RCU grace period after the last
 * reference goes (call_rcu), so a reader that found the peer under
 * rcu_read_lock() may still touch it, but may only take a reference with
 * jazz_peer_get_rcu() (kref_get_unless_zero): after removal the count may
 * already be zero. Packets queued to the crypt workers hold a reference
 * each (taken with jazz_peer_get_rcu on the packet paths, with
 * jazz_peer_get where a queued packet already pins the peer). The
 * keepalive timer holds none: removal shuts it down synchronously before
 * dropping the tables' reference. Device removal (dellink) removes every
 * peer under the config mutex; the crypt workers are flushed in
 * ndo_uninit, so no packet outlives the device. @jd is valid while the
 * peer is referenced, as the device waits for those packets.
 *
 * Locking:
 * - @id, @jd are fixed; @remote_id, @name, @keepalive_s and @keys change
 *   under the device config mutex (readers: READ_ONCE / RCU).
 * - @ep_lock protects @ep and @dst_cache: a sender holds it for reading
 *   from reading @ep to the packet's transmit (the cached route always
 *   belongs to @ep); a roam or endpoint change takes it for writing and
 *   resets the cache. Taken from softirq: process-context users take the
 *   _bh variants.
 * - @allowedips (the peer's trie nodes) under the device config mutex.
 * - @path (the path record) under the device config mutex: written by
 *   peer-new/peer-set, read by peer-get, never from the packet paths.
 * - @txq and @rxq: the ordered queues of packets in the crypt workers
 *   (queueing.h); each queued packet holds a reference on the peer.
 */
struct jazz_peer {
	struct jazz_device *jd;
	struct kref ref;
	struct rcu_head rcu;
	u32 id;
	u32 remote_id;
	char name[JAZZ_PEER_NAME_MAX + 1];
	struct hlist_node hnode;
	struct list_head list;
	struct list_head allowedips;

	rwlock_t ep_lock;
	struct jazz_endpoint ep;
	struct dst_cache dst_cache;

	struct jazz_key __rcu *keys[2];	/* [JAZZ_KEY_SLOT_PRIMARY] sends */

	u16 keepalive_s;
	struct timer_list keepalive_timer;
	unsigned long last_tx_jiffies;
	u64 last_rx_ns;			/* ktime_get_real_ns(); READ/WRITE_ONCE */

	struct jazz_pqueue txq;
	struct jazz_pqueue rxq;

	struct jazz_stats __percpu *stats;
	/*
	 * The peer's connection entries (conn.c), under the device's
	 * connection-table lock: removing the peer flushes just these,
	 * without walking the other peers' entries with BHs off.
	 */
	struct list_head conns;
	bool dead;
	struct jazz_path path;
};

extern atomic_t jazz_peers_live;

struct jazz_peer *jazz_peer_create(struct jazz_device *jd, u32 id);
/* Unlink from the device and drop the tables' reference. Config mutex held. */
void jazz_peer_remove(struct jazz_peer *peer, u32 reason);
void jazz_peer_remove_all(struct jazz_device *jd, u32 reason);
void jazz_peer_put(struct jazz_peer *peer);
/* rcu_read_lock() held. */
struct jazz_peer *jazz_peer_lookup(struct jazz_device *jd, u32 id);
/* Config mutex held. */
struct jazz_peer *jazz_peer_lookup_locked(struct jazz_device *jd, u32 id);
void jazz_peer_set_keepalive(struct jazz_peer *peer, u16 secs);
void jazz_peer_set_endpoint(struct jazz_peer *peer,
			    const struct jazz_endpoint *ep);
/* Install @key in @slot (NULL removes); the old key is wiped after RCU. */
void jazz_peer_key_set(struct jazz_peer *peer, int slot, struct jazz_key *key);
void jazz_peer_key_swap(struct jazz_peer *peer);

/* Only where the caller already holds a reference (a queued packet). */
static inline void jazz_peer_get(struct jazz_peer *peer)
{
	kref_get(&peer->ref);
}

/* A peer found under rcu_read_lock(): false if it is going away. */
static inline bool __must_check jazz_peer_get_rcu(struct jazz_peer *peer)
{
	return kref_get_unless_zero(&peer->ref);
}

#endif /* _JAZZ_PEER_H */
