// SPDX-License-Identifier: GPL-2.0
/*
 * jazz: allowed-IPs trie. A path-compressed binary trie: each node holds a
 * prefix; its children hold longer prefixes that share it and are chosen by
 * the first bit after it. Branch nodes without a peer exist only where two
 * prefixes diverge.
 */
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/errno.h>
#include <linux/lockdep.h>
#include "allowedips.h"

static inline unsigned int bit_at(const u8 *key, unsigned int i)
{
	return (key[i >> 3] >> (7 - (i & 7))) & 1;
}

/* Number of leading bits @a and @b share, at most @max. */
static unsigned int common_bits(const u8 *a, const u8 *b, unsigned int max)
{
	unsigned int i, n = 0;
	u8 x;

	for (i = 0; n < max; i++) {
		x = a[i] ^ b[i];
		if (x) {
			n += __builtin_clz((unsigned int)x) - 24;
			break;
		}
		n += 8;
	}
	return n < max ? n : max;
}

static void mask_key(u8 *dst, const u8 *addr, u8 bytes, u8 cidr)
{
	unsigned int i;

	memset(dst, 0, 16);
	memcpy(dst, addr, bytes);
	for (i = cidr; i < bytes * 8u; i++)
		dst[i >> 3] &= ~(1u << (7 - (i & 7)));
}

static bool jazz_aip_full(const struct jazz_aip *t)
{
	return t->max && t->count >= READ_ONCE(*t->max);
}

static struct jazz_aip_node __rcu **root_of(struct jazz_aip *t, u8 bits)
{
	return bits == 32 ? &t->root4 : &t->root6;
}

void jazz_aip_init(struct jazz_aip *t)
{
	RCU_INIT_POINTER(t->root4, NULL);
	RCU_INIT_POINTER(t->root6, NULL);
	t->count = 0;
	t->max = NULL;
}

static struct jazz_aip_node *new_node(const u8 *key, u8 bits, u8 cidr)
{
	struct jazz_aip_node *n = kzalloc(sizeof(*n), GFP_KERNEL);

	if (!n)
		return NULL;
	memcpy(n->key, key, 16);
	n->bits = bits;
	n->cidr = cidr;
	INIT_LIST_HEAD(&n->peer_list);
	return n;
}

static void set_peer(struct jazz_aip *t, struct jazz_aip_node *n,
		     struct jazz_peer *peer, struct list_head *peer_nodes)
{
	bool had = rcu_access_pointer(n->peer);

	if (!had && peer)
		t->count++;
	else if (had && !peer)
		t->count--;
	list_del_init(&n->peer_list);
	rcu_assign_pointer(n->peer, peer);
	if (peer)
		list_add_tail(&n->peer_list, peer_nodes);
}

int jazz_aip_insert(struct jazz_aip *t, const u8 *addr, u8 bits, u8 cidr,
		    struct jazz_peer *peer, struct list_head *peer_nodes,
		    struct mutex *lock)
{
	struct jazz_aip_node __rcu **slot = root_of(t, bits);
	struct jazz_aip_node *node, *n, *br;
	unsigned int c;
	bool full;
	u8 key[16];

	if ((bits != 32 && bits != 128) || cidr > bits)
		return -EINVAL;
	lockdep_assert_held(lock);
	mask_key(key, addr, bits / 8, cidr);
	/* Full: only a prefix that already has a peer can still change. */
	full = jazz_aip_full(t);

	for (;;) {
		node = rcu_dereference_protected(*slot, lockdep_is_held(lock));
		if (!node) {
			if (full)
				return -ENOSPC;
			n = new_node(key, bits, cidr);
			if (!n)
				return -ENOMEM;
			set_peer(t, n, peer, peer_nodes);
			rcu_assign_pointer(*slot, n);
			return 0;
		}
		c = common_bits(node->key, key, min(node->cidr, cidr));
		if (c == node->cidr && node->cidr == cidr) {
			if (!rcu_access_pointer(node->peer) && jazz_aip_full(t))
				return -ENOSPC;
			set_peer(t, node, peer, peer_nodes);
			return 0;
		}
		if (c == node->cidr) {
			slot = &node->child[bit_at(key, node->cidr)];
			continue;
		}
		if (full)
			return -ENOSPC;
		n = new_node(key, bits, cidr);
		if (!n)
			return -ENOMEM;
		set_peer(t, n, peer, peer_nodes);
		if (c == cidr) {
			/* The new prefix contains @node. */
			RCU_INIT_POINTER(n->child[bit_at(node->key, cidr)], node);
			rcu_assign_pointer(*slot, n);
			return 0;
		}
		/* They diverge at bit c: add a branch node. */
		br = new_node(key, bits, c);
		if (!br) {
			set_peer(t, n, NULL, NULL);
			kfree(n);
			return -ENOMEM;
		}
		mask_key(br->key, key, bits / 8, c);
		RCU_INIT_POINTER(br->child[bit_at(key, c)], n);
		RCU_INIT_POINTER(br->child[bit_at(node->key, c)], node);
		rcu_assign_pointer(*slot, br);
		return 0;
	}
}

static void remove_node(struct jazz_aip *t, struct jazz_aip_node *target,
			struct mutex *lock)
{
	struct jazz_aip_node __rcu **slot = root_of(t, target->bits);
	struct jazz_aip_node __rcu **pslot = NULL;
	struct jazz_aip_node *node, *parent = NULL, *c0, *c1, *other;

	for (;;) {
		node = rcu_dereference_protected(*slot, lockdep_is_held(lock));
		if (!node || node == target)
			break;
		if (node->cidr >= target->cidr)
			return;		/* not in the trie: cannot happen */
		pslot = slot;
		parent = node;
		slot = &node->child[bit_at(target->key, node->cidr)];
	}
	if (!node)
		return;

	set_peer(t, node, NULL, NULL);
	c0 = rcu_dereference_protected(node->child[0], lockdep_is_held(lock));
	c1 = rcu_dereference_protected(node->child[1], lockdep_is_held(lock));
	if (c0 && c1)
		return;			/* stays as a branch node */
	rcu_assign_pointer(*slot, c0 ? c0 : c1);
	kfree_rcu(node, rcu);
	if (c0 || c1 || !parent ||
	    rcu_access_pointer(parent->peer))
		return;
	/* A peerless branch node with one child left: splice it out. */
	c0 = rcu_dereference_protected(parent->child[0], lockdep_is_held(lock));
	c1 = rcu_dereference_protected(parent->child[1], lockdep_is_held(lock));
	other = c0 ? c0 : c1;
	rcu_assign_pointer(*pslot, other);
	kfree_rcu(parent, rcu);
}

void jazz_aip_remove_peer(struct jazz_aip *t, struct list_head *peer_nodes,
			  struct mutex *lock)
{
	struct jazz_aip_node *n, *tmp;

	lockdep_assert_held(lock);
	list_for_each_entry_safe(n, tmp, peer_nodes, peer_list)
		remove_node(t, n, lock);
}

static void free_subtree(struct jazz_aip_node *n, struct mutex *lock)
{
	if (!n)
		return;
	free_subtree(rcu_dereference_protected(n->child[0],
					       lockdep_is_held(lock)), lock);
	free_subtree(rcu_dereference_protected(n->child[1],
					       lockdep_is_held(lock)), lock);
	list_del(&n->peer_list);
	kfree_rcu(n, rcu);
}

void jazz_aip_free(struct jazz_aip *t, struct mutex *lock)
{
	struct jazz_aip_node *r4, *r6;

	r4 = rcu_dereference_protected(t->root4, lockdep_is_held(lock));
	r6 = rcu_dereference_protected(t->root6, lockdep_is_held(lock));
	RCU_INIT_POINTER(t->root4, NULL);
	RCU_INIT_POINTER(t->root6, NULL);
	t->count = 0;
	free_subtree(r4, lock);
	free_subtree(r6, lock);
}

struct jazz_peer *jazz_aip_lookup(struct jazz_aip *t, const u8 *addr, u8 bits)
{
	struct jazz_aip_node *node = rcu_dereference(*root_of(t, bits));
	struct jazz_peer *best = NULL, *p;

	while (node) {
		if (common_bits(node->key, addr, node->cidr) < node->cidr)
			break;
		p = rcu_dereference(node->peer);
		if (p)
			best = p;
		if (node->cidr >= bits)
			break;
		node = rcu_dereference(node->child[bit_at(addr, node->cidr)]);
	}
	return best;
}
