// SPDX-License-Identifier: GPL-2.0
/*
 * jazz: peers.
 */
#include <linux/slab.h>
#include <linux/jiffies.h>
#include "device.h"
#include "peer.h"
#include "send.h"
#include "netlink.h"
#include "conn.h"

atomic_t jazz_peers_live = ATOMIC_INIT(0);

static void jazz_keepalive_fire(struct timer_list *t)
{
	struct jazz_peer *peer = from_timer(peer, t, keepalive_timer);
	u16 secs = READ_ONCE(peer->keepalive_s);

	if (READ_ONCE(peer->dead) || !secs)
		return;
	if (time_after_eq(jiffies, READ_ONCE(peer->last_tx_jiffies) +
			  secs * HZ - HZ / 4)) {
		rcu_read_lock();
		jazz_send_keepalive(peer);
		rcu_read_unlock();
	}
	mod_timer(&peer->keepalive_timer, jiffies + secs * HZ);
}

struct jazz_peer *jazz_peer_create(struct jazz_device *jd, u32 id)
{
	struct jazz_peer *peer;

	lockdep_assert_held(&jd->lock);
	peer = kzalloc(sizeof(*peer), GFP_KERNEL);
	if (!peer)
		return NULL;
	peer->stats = netdev_alloc_pcpu_stats(struct jazz_stats);
	if (!peer->stats)
		goto fail;
	if (dst_cache_init(&peer->dst_cache, GFP_KERNEL))
		goto fail;
	peer->jd = jd;
	peer->id = id;
	kref_init(&peer->ref);
	rwlock_init(&peer->ep_lock);
	INIT_LIST_HEAD(&peer->allowedips);
	INIT_LIST_HEAD(&peer->conns);
	timer_setup(&peer->keepalive_timer, jazz_keepalive_fire, 0);
	jazz_pqueue_init(&peer->txq, peer, jazz_pick_cpu(id), jazz_tx_done);
	jazz_pqueue_init(&peer->rxq, peer, jazz_pick_cpu(id + 1), jazz_rx_done);
	peer->last_tx_jiffies = jiffies;
	hash_add_rcu(jd->peer_hash, &peer->hnode, id);
	list_add_tail(&peer->list, &jd->peer_list);
	jd->num_peers++;
	jd->gen++;
	atomic_inc(&jazz_peers_live);
	pr_debug("jazz: %s: peer %u created\n", jd->dev->name, id);
	return peer;

fail:
	free_percpu(peer->stats);
	kfree(peer);
	return NULL;
}

static void jazz_peer_free_rcu(struct rcu_head *rcu)
{
	struct jazz_peer *peer = container_of(rcu, struct jazz_peer, rcu);

	dst_cache_destroy(&peer->dst_cache);
	free_percpu(peer->stats);
	kfree(peer);
	atomic_dec(&jazz_peers_live);
}

static void jazz_peer_release(struct kref *ref)
{
	struct jazz_peer *peer = container_of(ref, struct jazz_peer, ref);

	pr_debug("jazz: peer %u destroyed\n", peer->id);
	call_rcu(&peer->rcu, jazz_peer_free_rcu);
}

void jazz_peer_put(struct jazz_peer *peer)
{
	if (peer)
		kref_put(&peer->ref, jazz_peer_release);
}

struct jazz_peer *jazz_peer_lookup(struct jazz_device *jd, u32 id)
{
	struct jazz_peer *peer;

	hash_for_each_possible_rcu(jd->peer_hash, peer, hnode, id)
		if (peer->id == id)
			return peer;
	return NULL;
}

struct jazz_peer *jazz_peer_lookup_locked(struct jazz_device *jd, u32 id)
{
	struct jazz_peer *peer;

	lockdep_assert_held(&jd->lock);
	rcu_read_lock();
	peer = jazz_peer_lookup(jd, id);
	rcu_read_unlock();
	return peer;
}

void jazz_peer_key_set(struct jazz_peer *peer, int slot, struct jazz_key *key)
{
	struct jazz_key *old;

	old = rcu_replace_pointer(peer->keys[slot], key,
				  lockdep_is_held(&peer->jd->lock));
	jazz_key_put(old);
}

void jazz_peer_key_swap(struct jazz_peer *peer)
{
	struct jazz_key *a, *b;

	a = rcu_dereference_protected(peer->keys[0],
				      lockdep_is_held(&peer->jd->lock));
	b = rcu_dereference_protected(peer->keys[1],
				      lockdep_is_held(&peer->jd->lock));
	rcu_assign_pointer(peer->keys[0], b);
	rcu_assign_pointer(peer->keys[1], a);
}

void jazz_peer_set_keepalive(struct jazz_peer *peer, u16 secs)
{
	WRITE_ONCE(peer->keepalive_s, secs);
	if (secs)
		mod_timer(&peer->keepalive_timer, jiffies + secs * HZ);
	else
		del_timer(&peer->keepalive_timer);
}

void jazz_peer_set_endpoint(struct jazz_peer *peer,
			    const struct jazz_endpoint *ep)
{
	write_lock_bh(&peer->ep_lock);
	peer->ep = *ep;
	dst_cache_reset(&peer->dst_cache);
	write_unlock_bh(&peer->ep_lock);
}

void jazz_peer_remove(struct jazz_peer *peer, u32 reason)
{
	struct jazz_device *jd = peer->jd;
	int i;

	lockdep_assert_held(&jd->lock);
	WRITE_ONCE(peer->dead, true);
	jd->gen++;
	jazz_aip_remove_peer(&jd->aip, &peer->allowedips, &jd->lock);
	hash_del_rcu(&peer->hnode);
	list_del(&peer->list);
	jd->num_peers--;
	timer_shutdown_sync(&peer->keepalive_timer);
	jazz_conn_peer_removed(jd, peer);
	jazz_notify_peer_del(peer, reason);
	for (i = 0; i < 2; i++)
		jazz_peer_key_set(peer, i, NULL);
	jazz_peer_put(peer);
}

void jazz_peer_remove_all(struct jazz_device *jd, u32 reason)
{
	struct jazz_peer *peer, *tmp;

	list_for_each_entry_safe(peer, tmp, &jd->peer_list, list)
		jazz_peer_remove(peer, reason);
}
