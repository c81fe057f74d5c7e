/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Hooks for the direct-connection checks (issue 3). This file holds the
 * trivial "pass everything" versions so the data path builds without them;
 * conn.c replaces them (drop the inline bodies, keep the signatures).
 *
 * Contract:
 * - jazz_conn_egress() runs in jazz_xmit() after the peer lookup, before
 *   segmentation and encryption, under rcu_read_lock() with BHs disabled.
 *   jazz_conn_ingress() runs in the receive path after decryption, inner
 *   header validation and the allowed-ips source check, in softirq under
 *   rcu_read_lock(), before the packet is handed to GRO.
 * - Return JAZZ_CONN_PASS to go on, JAZZ_CONN_HOLD when the hook took the
 *   skb (it must later release it with jazz_conn_release_egress() or
 *   free it), or JAZZ_CONN_DROP: the caller frees the skb and counts
 *   drop-conncheck.
 * - jazz_conn_dev_init() runs in ndo_init, jazz_conn_dev_uninit() in
 *   dellink after all peers are removed (sockets closed), and
 *   jazz_conn_peer_removed() when a peer is unlinked, before its RCU free;
 *   all with the device config mutex held except dev_init.
 * - The conn-* generic netlink ops call jazz_nl_conn_*(); they get the
 *   device already resolved and its config mutex held.
 */
#ifndef _JAZZ_CONN_H
#define _JAZZ_CONN_H

#include <linux/skbuff.h>
#include <linux/errno.h>
#include <net/genetlink.h>

struct jazz_device;
struct jazz_peer;

enum jazz_conn_result {
	JAZZ_CONN_PASS,
	JAZZ_CONN_HOLD,
	JAZZ_CONN_DROP,
};

static inline int jazz_conn_egress(struct jazz_device *jd,
				   struct jazz_peer *peer, struct sk_buff *skb)
{
	return JAZZ_CONN_PASS;
}

static inline int jazz_conn_ingress(struct jazz_device *jd,
				    struct jazz_peer *peer, struct sk_buff *skb)
{
	return JAZZ_CONN_PASS;
}

static inline int jazz_conn_dev_init(struct jazz_device *jd)
{
	return 0;
}

static inline void jazz_conn_dev_uninit(struct jazz_device *jd)
{
}

static inline void jazz_conn_peer_removed(struct jazz_device *jd,
					  struct jazz_peer *peer)
{
}

/* Number of entries for dev-get's conn-count. */
static inline u32 jazz_conn_count(struct jazz_device *jd)
{
	return 0;
}

static inline int jazz_nl_conn_get(struct jazz_device *jd, struct sk_buff *skb,
				   struct genl_info *info)
{
	NL_SET_ERR_MSG(info->extack, "connection checks are not built in");
	return -EOPNOTSUPP;
}

static inline int jazz_nl_conn_verdict(struct jazz_device *jd,
				       struct genl_info *info)
{
	NL_SET_ERR_MSG(info->extack, "connection checks are not built in");
	return -EOPNOTSUPP;
}

static inline int jazz_nl_conn_del(struct jazz_device *jd,
				   struct genl_info *info)
{
	NL_SET_ERR_MSG(info->extack, "connection checks are not built in");
	return -EOPNOTSUPP;
}

static inline int jazz_nl_conn_flush(struct jazz_device *jd,
				     struct genl_info *info)
{
	NL_SET_ERR_MSG(info->extack, "connection checks are not built in");
	return -EOPNOTSUPP;
}

#endif /* _JAZZ_CONN_H */
