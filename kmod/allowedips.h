/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Longest-prefix-match trie of allowed virtual prefixes, IPv4 and IPv6.
 *
 * Locking: lookups run under rcu_read_lock(); every change (insert, remove,
 * walk of a peer's list) holds the owning device's config mutex, passed as
 * @lock so lockdep can check it. Nodes are freed after an RCU grace period.
 */
#ifndef _JAZZ_ALLOWEDIPS_H
#define _JAZZ_ALLOWEDIPS_H

#include <linux/types.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>

struct jazz_peer;

struct jazz_aip_node {
	struct jazz_aip_node __rcu *child[2];
	struct jazz_peer __rcu *peer;	/* NULL for a pure branch node */
	struct list_head peer_list;	/* in peer->allowedips, if peer */
	struct rcu_head rcu;
	u8 key[16];			/* prefix, big-endian, masked */
	u8 cidr;
	u8 bits;			/* 32 or 128 */
};

struct jazz_aip {
	struct jazz_aip_node __rcu *root4;
	struct jazz_aip_node __rcu *root6;
	unsigned int count;		/* nodes with a peer; under the lock */
	const unsigned int *max;	/* limit on @count (NULL: none) */
};

void jazz_aip_init(struct jazz_aip *t);
/* @addr is 4 or 16 bytes in network order; @bits is 32 or 128. */
int jazz_aip_insert(struct jazz_aip *t, const u8 *addr, u8 bits, u8 cidr,
		    struct jazz_peer *peer, struct list_head *peer_nodes,
		    struct mutex *lock);
void jazz_aip_remove_peer(struct jazz_aip *t, struct list_head *peer_nodes,
			  struct mutex *lock);
void jazz_aip_free(struct jazz_aip *t, struct mutex *lock);
/* Caller holds rcu_read_lock(). */
struct jazz_peer *jazz_aip_lookup(struct jazz_aip *t, const u8 *addr, u8 bits);

#endif /* _JAZZ_ALLOWEDIPS_H */
