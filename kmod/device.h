/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _JAZZ_DEVICE_H
#define _JAZZ_DEVICE_H

#include <linux/netdevice.h>
#include <linux/mutex.h>
#include <linux/hashtable.h>
#include <linux/ratelimit.h>
#include <net/gro_cells.h>
#include "allowedips.h"
#include "stats.h"
#include "queueing.h"

#define JAZZ_PEER_HASH_BITS	10

/* Per-device limits (module parameters max_peers, max_allowedips). */
extern unsigned int jazz_max_peers;
extern unsigned int jazz_max_allowedips;

/*
 * struct jazz_device - private data of a jazz net_device.
 *
 * Lifetime: lives inside the net_device (netdev_priv). Netlink handlers
 * pin the net_device with dev_hold (jazz_nl_dev) and then take @lock;
 * dellink sets @dead under @lock before it removes peers and sockets, so
 * a handler that got the device before dellink but the mutex after it
 * sees @dead and answers ENODEV instead of adding peers or sockets to a
 * device that is already torn down. The memory goes with the net_device
 * (priv_destructor) after unregister waited for RCU readers and the
 * crypt workers (ndo_uninit); the module cannot unload while a device
 * exists (rtnl_link_unregister deletes them all first).
 *
 * Locking:
 * - @lock (the config mutex) serialises every change: peers, keys,
 *   allowed-ips, sockets and settings. Netlink handlers take it; rtnl is
 *   not needed except where the netdev core already holds it.
 * - The data path reads @peer_hash, @aip, @sock4/@sock6 and the settings
 *   under rcu_read_lock() only.
 * - @creating_net is where the sockets live; it is set at creation and
 *   cleared (under rtnl and @lock) when that namespace goes away.
 */
struct jazz_device {
	struct net_device *dev;
	struct net *creating_net;
	struct mutex lock;
	struct list_head dev_list;	/* jazz_dev_list, under rtnl */
	bool dead;			/* set by dellink, under @lock */
	bool registered;		/* counted in jazz_devices_live */
	/*
	 * Bumped under @lock by every change to the peer list, a peer's
	 * allowed-ips or the settings: dumps put it in cb->seq, so a dump
	 * that spans a change is marked NLM_F_DUMP_INTR.
	 */
	u32 gen;

	/*
	 * The UDP sockets, in @creating_net: owned by the device, replaced
	 * under @lock (new ones bound before the old ones go), read by the
	 * data path under RCU; an old socket is released after
	 * synchronize_net(). Closed by ndo_stop, dellink, and the creating
	 * namespace's pre_exit (which also clears @creating_net, so nothing
	 * reopens them there).
	 */
	struct sock __rcu *sock4;
	struct sock __rcu *sock6;
	u16 listen_port;		/* configured (0 = any) or bound */
	u32 fwmark;

	DECLARE_HASHTABLE(peer_hash, JAZZ_PEER_HASH_BITS);
	struct list_head peer_list;	/* under @lock, creation order */
	unsigned int num_peers;		/* at most jazz_max_peers */
	struct jazz_aip aip;		/* aip.count <= jazz_max_allowedips */

	struct jazz_stats __percpu *stats;
	struct gro_cells gro;
	struct jazz_crypt_queue encrypt_q;	/* queueing.h */
	struct jazz_crypt_queue decrypt_q;

	/* Settings for the direct-connection checks (issue 3, conn.c). */
	u8 conncheck;
	u8 fail_open;
	u32 approval_timeout_ms;
	u32 deny_backoff_ms;
	u32 tcp_idle_s;
	u32 udp_idle_s;
	u32 other_idle_s;
	u32 conn_max;
	u32 hold_max;
	void *conn;			/* conn.c's per-device state */
	/*
	 * STUN datagrams to userspace per second (stun.c): set up with the
	 * device, lives and dies with it; taken from softirq.
	 */
	struct ratelimit_state stun_rl;
};

extern struct rtnl_link_ops jazz_link_ops;
extern atomic_t jazz_devices_live;

int jazz_device_init(void);
void jazz_device_exit(void);

/* Is @dev a jazz device? */
static inline bool jazz_is_dev(const struct net_device *dev)
{
	return dev->rtnl_link_ops == &jazz_link_ops;
}

#endif /* _JAZZ_DEVICE_H */
