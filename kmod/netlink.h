/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _JAZZ_NETLINK_H
#define _JAZZ_NETLINK_H

#include <linux/types.h>
#include <net/genetlink.h>

struct jazz_peer;
struct jazz_key;

extern struct genl_family jazz_genl_family;

int jazz_genl_init(void);
void jazz_genl_exit(void);

/* Notifications on the "notify" group; safe from softirq. */
void jazz_notify_peer_roam(struct jazz_peer *peer);
void jazz_notify_key_rotate(struct jazz_peer *peer, struct jazz_key *key,
			    int slot);
void jazz_notify_peer_del(struct jazz_peer *peer, u32 reason);
/* The "stun" group (stun.c): anyone there? Multicast, consuming @msg. */
bool jazz_stun_listening(struct net *net);
int jazz_stun_multicast(struct net *net, struct sk_buff *msg);

#endif /* _JAZZ_NETLINK_H */
