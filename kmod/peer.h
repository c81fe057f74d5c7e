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
 * struct jazz_peer - a remote jazz device.
 *
 * Lifetime: @ref counts the users. The device's tables (peer_hash,
 * peer_list, allowed-ips) hold one reference together; it is dropped when
 * the peer is removed, and the memory is freed one RCU grace period after
 * the last reference goes. Packet paths look peers up under
 * rcu_read_lock() and use them without a reference inside it; the
 * keepalive timer holds its own reference while armed.
 *
 * Locking:
 * - @id, @jd are fixed; @remote_id, @name, @keepalive_s and @keys change
 *   under the device config mutex (readers: READ_ONCE / RCU).
 * - @ep_lock protects @ep and @dst_cache resets (taken from softirq, so
 *   writers use the _bh variants).
 * - @allowedips (the peer's trie nodes) under the device config mutex.
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
	bool dead;
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

static inline void jazz_peer_get(struct jazz_peer *peer)
{
	kref_get(&peer->ref);
}

#endif /* _JAZZ_PEER_H */
