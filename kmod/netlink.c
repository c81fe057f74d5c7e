// SPDX-License-Identifier: GPL-2.0
/*
 * jazz: generic netlink family "jazz" (netlink/jazz.yaml).
 *
 * Every op needs CAP_NET_ADMIN in the user namespace owning the network
 * namespace (GENL_UNS_ADMIN_PERM), so jazz works inside containers. Each
 * op has its own strict policy: attributes an op does not take are
 * rejected. Handlers run under genl_mutex and take the device config
 * mutex; they never take rtnl while holding it.
 */
#include <linux/if.h>
#include <linux/netdevice.h>
#include <linux/etherdevice.h>
#include <net/genetlink.h>
#include <net/net_namespace.h>
#include <jazz.h>
#include "compat.h"
#include "device.h"
#include "peer.h"
#include "socket.h"
#include "netlink.h"
#include "conn.h"
#include "messages.h"
#include "stun.h"

enum { JAZZ_NLGRP_NOTIFY, JAZZ_NLGRP_APPROVALS, JAZZ_NLGRP_STUN };

/* ---- policies (checks match netlink/jazz.yaml) ---- */

static const struct nla_policy jazz_keydir_policy[JAZZ_A_KEYDIR_MAX + 1] = {
	[JAZZ_A_KEYDIR_KEY] = NLA_POLICY_EXACT_LEN(JAZZ_KEY_LEN),
	[JAZZ_A_KEYDIR_SALT] = NLA_POLICY_EXACT_LEN(JAZZ_SALT_LEN),
};

static const struct nla_policy jazz_keyconf_policy[JAZZ_A_KEYCONF_MAX + 1] = {
	[JAZZ_A_KEYCONF_PEER_ID] = NLA_POLICY_MIN(NLA_U32, 1),
	[JAZZ_A_KEYCONF_SLOT] = NLA_POLICY_MAX(NLA_U32, 1),
	[JAZZ_A_KEYCONF_KEY_ID] = { .type = NLA_U8 },
	[JAZZ_A_KEYCONF_CIPHER] = NLA_POLICY_RANGE(NLA_U32, 1, 2),
	[JAZZ_A_KEYCONF_ENCRYPT] = NLA_POLICY_NESTED(jazz_keydir_policy),
	[JAZZ_A_KEYCONF_DECRYPT] = NLA_POLICY_NESTED(jazz_keydir_policy),
};

static const struct nla_policy jazz_aip_policy[JAZZ_A_ALLOWED_IP_MAX + 1] = {
	[JAZZ_A_ALLOWED_IP_FAMILY] = { .type = NLA_U16 },
	[JAZZ_A_ALLOWED_IP_ADDR] = NLA_POLICY_RANGE(NLA_BINARY, 4, 16),
	[JAZZ_A_ALLOWED_IP_CIDR] = NLA_POLICY_MAX(NLA_U8, 128),
};

/* since-ns is read only: not in the policy, so strict parsing refuses it. */
static const struct nla_policy jazz_path_policy[JAZZ_A_PATH_MAX + 1] = {
	[JAZZ_A_PATH_KIND] = NLA_POLICY_RANGE(NLA_U32, JAZZ_PATH_KIND_DIRECT,
					      JAZZ_PATH_KIND_RELAYED),
	[JAZZ_A_PATH_REASON] = { .type = NLA_NUL_STRING,
				 .len = JAZZ_PATH_REASON_MAX },
};

static const struct nla_policy jazz_peer_policy[JAZZ_A_PEER_MAX + 1] = {
	[JAZZ_A_PEER_ID] = NLA_POLICY_MIN(NLA_U32, 1),
	[JAZZ_A_PEER_REMOTE_ID] = NLA_POLICY_MIN(NLA_U32, 1),
	[JAZZ_A_PEER_NAME] = { .type = NLA_NUL_STRING,
			       .len = JAZZ_PEER_NAME_MAX },
	[JAZZ_A_PEER_FLAGS] = NLA_POLICY_MASK(NLA_U32,
				JAZZ_PEER_FLAGS_REPLACE_ALLOWED_IPS |
				JAZZ_PEER_FLAGS_CLEAR_ENDPOINT),
	[JAZZ_A_PEER_ENDPOINT_IP4] = { .type = NLA_BE32 },
	[JAZZ_A_PEER_ENDPOINT_IP6] = NLA_POLICY_EXACT_LEN(16),
	[JAZZ_A_PEER_ENDPOINT_PORT] = { .type = NLA_BE16 },
	[JAZZ_A_PEER_KEEPALIVE_S] = { .type = NLA_U16 },
	[JAZZ_A_PEER_ALLOWED_IP] = NLA_POLICY_NESTED(jazz_aip_policy),
	[JAZZ_A_PEER_PATH] = NLA_POLICY_NESTED(jazz_path_policy),
};

static const struct nla_policy jazz_conn_policy[JAZZ_A_CONN_ATTR_MAX + 1] = {
	[JAZZ_A_CONN_COOKIE] = { .type = NLA_U64 },
	[JAZZ_A_CONN_PEER_ID] = { .type = NLA_U32 },
	[JAZZ_A_CONN_DIRECTION] = NLA_POLICY_RANGE(NLA_U8, 1, 2),
	[JAZZ_A_CONN_PROTO] = { .type = NLA_U8 },
	[JAZZ_A_CONN_FAMILY] = { .type = NLA_U16 },
	[JAZZ_A_CONN_SRC_ADDR] = NLA_POLICY_RANGE(NLA_BINARY, 4, 16),
	[JAZZ_A_CONN_SRC_PORT] = { .type = NLA_BE16 },
	[JAZZ_A_CONN_DST_ADDR] = NLA_POLICY_RANGE(NLA_BINARY, 4, 16),
	[JAZZ_A_CONN_DST_PORT] = { .type = NLA_BE16 },
	[JAZZ_A_CONN_VERDICT] = NLA_POLICY_RANGE(NLA_U8, 1, 2),
	[JAZZ_A_CONN_LIFETIME_S] = { .type = NLA_U32 },
};

/* Read-only members (rtt-ns, listener-portid) are refused in requests. */
static const struct nla_policy jazz_probe_policy[JAZZ_A_PROBE_MAX + 1] = {
	[JAZZ_A_PROBE_COOKIE] = { .type = NLA_U64 },
};

#define JAZZ_DEV_SELECT \
	[JAZZ_A_IFINDEX] = { .type = NLA_U32 }, \
	[JAZZ_A_IFNAME] = { .type = NLA_NUL_STRING, .len = IFNAMSIZ - 1 }

static const struct nla_policy jazz_dev_get_policy[JAZZ_A_MAX + 1] = {
	JAZZ_DEV_SELECT,
};

static struct netlink_range_validation jazz_timeout_range = {
	.min = 10, .max = 600000,
};

static struct netlink_range_validation jazz_backoff_range = {
	.max = 3600000,
};

static const struct nla_policy jazz_dev_set_policy[JAZZ_A_MAX + 1] = {
	JAZZ_DEV_SELECT,
	[JAZZ_A_LISTEN_PORT] = { .type = NLA_U16 },
	[JAZZ_A_FWMARK] = { .type = NLA_U32 },
	[JAZZ_A_CONNCHECK] = NLA_POLICY_MAX(NLA_U8, 1),
	[JAZZ_A_FAIL_OPEN] = NLA_POLICY_MAX(NLA_U8, 1),
	[JAZZ_A_APPROVAL_TIMEOUT_MS] = NLA_POLICY_FULL_RANGE(NLA_U32,
							     &jazz_timeout_range),
	[JAZZ_A_DENY_BACKOFF_MS] = NLA_POLICY_FULL_RANGE(NLA_U32,
							 &jazz_backoff_range),
	[JAZZ_A_TCP_IDLE_S] = NLA_POLICY_MIN(NLA_U32, 1),
	[JAZZ_A_UDP_IDLE_S] = NLA_POLICY_MIN(NLA_U32, 1),
	[JAZZ_A_OTHER_IDLE_S] = NLA_POLICY_MIN(NLA_U32, 1),
	[JAZZ_A_CONN_MAX] = NLA_POLICY_MIN(NLA_U32, 1),
	[JAZZ_A_HOLD_MAX] = NLA_POLICY_MIN(NLA_U32, 1),
};

static const struct nla_policy jazz_peer_op_policy[JAZZ_A_MAX + 1] = {
	JAZZ_DEV_SELECT,
	[JAZZ_A_PEER] = NLA_POLICY_NESTED(jazz_peer_policy),
};

static const struct nla_policy jazz_key_op_policy[JAZZ_A_MAX + 1] = {
	JAZZ_DEV_SELECT,
	[JAZZ_A_KEY] = NLA_POLICY_NESTED(jazz_keyconf_policy),
};

static const struct nla_policy jazz_conn_op_policy[JAZZ_A_MAX + 1] = {
	JAZZ_DEV_SELECT,
	[JAZZ_A_CONN] = NLA_POLICY_NESTED(jazz_conn_policy),
};

static const struct nla_policy jazz_probe_op_policy[JAZZ_A_MAX + 1] = {
	JAZZ_DEV_SELECT,
};

static const struct nla_policy jazz_probe_reply_policy[JAZZ_A_MAX + 1] = {
	JAZZ_DEV_SELECT,
	[JAZZ_A_PROBE] = NLA_POLICY_NESTED(jazz_probe_policy),
};

/* local-port is read only: refused in requests. */
static const struct nla_policy jazz_stun_policy[JAZZ_A_STUN_MAX + 1] = {
	[JAZZ_A_STUN_ADDR] = NLA_POLICY_RANGE(NLA_BINARY, 4, 16),
	[JAZZ_A_STUN_PORT] = NLA_POLICY_MIN(NLA_BE16, 1),
	[JAZZ_A_STUN_SCOPE_ID] = { .type = NLA_U32 },
	[JAZZ_A_STUN_DATA] = NLA_POLICY_RANGE(NLA_BINARY, 20,
					      JAZZ_STUN_MAX_LEN),
};

static const struct nla_policy jazz_stun_op_policy[JAZZ_A_MAX + 1] = {
	JAZZ_DEV_SELECT,
	[JAZZ_A_STUN] = NLA_POLICY_NESTED(jazz_stun_policy),
};

/* ---- helpers ---- */

/* Resolve the device; returns it with a reference held. */
static struct jazz_device *jazz_nl_dev(struct net *net, struct nlattr **attrs,
				       struct netlink_ext_ack *extack)
{
	struct net_device *dev = NULL;
	struct nlattr *sel;

	if (attrs[JAZZ_A_IFINDEX]) {
		sel = attrs[JAZZ_A_IFINDEX];
		dev = dev_get_by_index(net, nla_get_u32(sel));
		if (dev && attrs[JAZZ_A_IFNAME] &&
		    nla_strcmp(attrs[JAZZ_A_IFNAME], dev->name)) {
			dev_put(dev);
			NL_SET_ERR_MSG_ATTR(extack, attrs[JAZZ_A_IFNAME],
					    "ifname does not match ifindex");
			return ERR_PTR(-EINVAL);
		}
	} else if (attrs[JAZZ_A_IFNAME]) {
		char name[IFNAMSIZ];

		sel = attrs[JAZZ_A_IFNAME];
		nla_strscpy(name, sel, sizeof(name));
		dev = dev_get_by_name(net, name);
	} else {
		NL_SET_ERR_MSG(extack, "ifindex or ifname is required");
		NL_SET_ERR_ATTR_MISS(extack, NULL, JAZZ_A_IFINDEX);
		return ERR_PTR(-EINVAL);
	}
	if (!dev) {
		NL_SET_ERR_MSG_ATTR(extack, sel, "no such device");
		return ERR_PTR(-ENODEV);
	}
	if (!jazz_is_dev(dev)) {
		dev_put(dev);
		NL_SET_ERR_MSG_ATTR(extack, sel, "not a jazz device");
		return ERR_PTR(-EOPNOTSUPP);
	}
	return netdev_priv(dev);
}

static void jazz_nl_dev_put(struct jazz_device *jd)
{
	dev_put(jd->dev);
}

/*
 * Take @jd's config mutex for a handler. Fails once dellink began: the
 * device may still be found by index or name until unregister, but
 * nothing may be added to it any more (device.h).
 */
static int jazz_nl_lock(struct jazz_device *jd, struct netlink_ext_ack *extack)
{
	mutex_lock(&jd->lock);
	if (likely(!jd->dead))
		return 0;
	mutex_unlock(&jd->lock);
	NL_SET_ERR_MSG(extack, "device is being removed");
	return -ENODEV;
}

static int jazz_put_stats(struct sk_buff *msg, int attr,
			  struct jazz_stats __percpu *st)
{
	u64 v[JAZZ_STAT_NUM];
	struct nlattr *nest;
	int i;

	jazz_stats_sum(st, v);
	nest = nla_nest_start(msg, attr);
	if (!nest)
		return -EMSGSIZE;
	for (i = 0; i < JAZZ_STAT_NUM; i++)
		if (nla_put_u64_64bit(msg, JAZZ_A_STATS_RX_PACKETS + i, v[i],
				      JAZZ_A_STATS_PAD))
			goto cancel;
	nla_nest_end(msg, nest);
	return 0;
cancel:
	nla_nest_cancel(msg, nest);
	return -EMSGSIZE;
}

void jazz_stats_sum(struct jazz_stats __percpu *st, u64 *out)
{
	unsigned int start;
	u64 tmp[JAZZ_STAT_NUM];
	int cpu, i;

	memset(out, 0, sizeof(u64) * JAZZ_STAT_NUM);
	for_each_possible_cpu(cpu) {
		const struct jazz_stats *s = per_cpu_ptr(st, cpu);

		do {
			start = u64_stats_fetch_begin(&s->syncp);
			for (i = 0; i < JAZZ_STAT_NUM; i++)
				tmp[i] = u64_stats_read(&s->v[i]);
		} while (u64_stats_fetch_retry(&s->syncp, start));
		for (i = 0; i < JAZZ_STAT_NUM; i++)
			out[i] += tmp[i];
	}
}

static int jazz_put_key(struct sk_buff *msg, u32 peer_id,
			struct jazz_key *key, int slot)
{
	struct nlattr *nest = nla_nest_start(msg, JAZZ_A_PEER_KEY);

	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u32(msg, JAZZ_A_KEYCONF_PEER_ID, peer_id) ||
	    nla_put_u32(msg, JAZZ_A_KEYCONF_SLOT, slot) ||
	    nla_put_u8(msg, JAZZ_A_KEYCONF_KEY_ID, key->key_id) ||
	    nla_put_u32(msg, JAZZ_A_KEYCONF_CIPHER, key->cipher) ||
	    nla_put_u64_64bit(msg, JAZZ_A_KEYCONF_TX_COUNTER,
			      atomic64_read(&key->tx_counter),
			      JAZZ_A_KEYCONF_PAD) ||
	    nla_put_string(msg, JAZZ_A_KEYCONF_DRIVER, jazz_key_driver(key))) {
		nla_nest_cancel(msg, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(msg, nest);
	return 0;
}

static int jazz_put_endpoint(struct sk_buff *msg, struct jazz_peer *peer)
{
	struct jazz_endpoint ep;

	read_lock_bh(&peer->ep_lock);
	ep = peer->ep;
	read_unlock_bh(&peer->ep_lock);
	if (ep.addr.sa_family == AF_INET)
		return nla_put_in_addr(msg, JAZZ_A_PEER_ENDPOINT_IP4,
				       ep.addr4.sin_addr.s_addr) ||
		       nla_put_be16(msg, JAZZ_A_PEER_ENDPOINT_PORT,
				    ep.addr4.sin_port);
	if (ep.addr.sa_family == AF_INET6)
		return nla_put_in6_addr(msg, JAZZ_A_PEER_ENDPOINT_IP6,
					&ep.addr6.sin6_addr) ||
		       nla_put_be16(msg, JAZZ_A_PEER_ENDPOINT_PORT,
				    ep.addr6.sin6_port);
	return 0;
}

/* The brief peer nest of notifications: id, remote id, name, endpoint. */
static int jazz_put_peer(struct sk_buff *msg, struct jazz_peer *peer,
			 u32 reason)
{
	struct nlattr *nest;

	nest = nla_nest_start(msg, JAZZ_A_PEER);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u32(msg, JAZZ_A_PEER_ID, peer->id) ||
	    nla_put_u32(msg, JAZZ_A_PEER_REMOTE_ID, READ_ONCE(peer->remote_id)) ||
	    nla_put_string(msg, JAZZ_A_PEER_NAME, peer->name) ||
	    jazz_put_endpoint(msg, peer) ||
	    (reason && nla_put_u32(msg, JAZZ_A_PEER_DEL_REASON, reason))) {
		nla_nest_cancel(msg, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(msg, nest);
	return 0;
}

static int jazz_put_aip(struct sk_buff *msg, struct jazz_aip_node *n)
{
	struct nlattr *an = nla_nest_start(msg, JAZZ_A_PEER_ALLOWED_IP);

	if (!an)
		return -EMSGSIZE;
	if (nla_put_u16(msg, JAZZ_A_ALLOWED_IP_FAMILY,
			n->bits == 32 ? AF_INET : AF_INET6) ||
	    nla_put(msg, JAZZ_A_ALLOWED_IP_ADDR, n->bits / 8, n->key) ||
	    nla_put_u8(msg, JAZZ_A_ALLOWED_IP_CIDR, n->cidr)) {
		nla_nest_cancel(msg, an);
		return -EMSGSIZE;
	}
	nla_nest_end(msg, an);
	return 0;
}

/* The path record, if the daemon wrote one. Config mutex held. */
static int jazz_put_path(struct sk_buff *msg, const struct jazz_path *path)
{
	struct nlattr *nest;

	if (!path->kind)
		return 0;
	nest = nla_nest_start(msg, JAZZ_A_PEER_PATH);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u32(msg, JAZZ_A_PATH_KIND, path->kind) ||
	    nla_put_u64_64bit(msg, JAZZ_A_PATH_SINCE_NS, path->since_ns,
			      JAZZ_A_PATH_PAD) ||
	    (path->reason[0] &&
	     nla_put_string(msg, JAZZ_A_PATH_REASON, path->reason))) {
		nla_nest_cancel(msg, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(msg, nest);
	return 0;
}

/* Everything of a peer but its allowed-ips. Config mutex held. */
static int jazz_put_peer_info(struct sk_buff *msg, struct jazz_peer *peer)
{
	struct jazz_key *key;
	int i;

	if (nla_put_u32(msg, JAZZ_A_PEER_REMOTE_ID, READ_ONCE(peer->remote_id)) ||
	    nla_put_string(msg, JAZZ_A_PEER_NAME, peer->name) ||
	    jazz_put_endpoint(msg, peer) ||
	    nla_put_u16(msg, JAZZ_A_PEER_KEEPALIVE_S, peer->keepalive_s) ||
	    nla_put_u64_64bit(msg, JAZZ_A_PEER_LAST_RX_NS,
			      READ_ONCE(peer->last_rx_ns), JAZZ_A_PEER_PAD) ||
	    jazz_put_stats(msg, JAZZ_A_PEER_STATS, peer->stats) ||
	    jazz_put_path(msg, &peer->path))
		return -EMSGSIZE;
	for (i = 0; i < 2; i++) {
		key = rcu_dereference_protected(peer->keys[i],
						lockdep_is_held(&peer->jd->lock));
		if (key && jazz_put_key(msg, peer->id, key, i))
			return -EMSGSIZE;
	}
	return 0;
}

/*
 * A peer of peer-get, split across messages like WireGuard's dump when
 * its allowed-ips do not fit one: *@pos is 0 before anything of the peer
 * was sent, then 1 + the number of allowed-ips sent. The first part has
 * every attribute; a continuation has the peer id and more allowed-ips
 * (clients merge consecutive nests with the same id). Returns 0 when the
 * rest of the peer fit, -EMSGSIZE when not (*@pos tells how far it got;
 * a nest without progress is not left in @msg). Config mutex held.
 */
static int jazz_put_peer_part(struct sk_buff *msg, struct jazz_peer *peer,
			      unsigned long *pos)
{
	unsigned long start = *pos, i = 1;
	struct jazz_aip_node *n;
	struct nlattr *nest;

	nest = nla_nest_start(msg, JAZZ_A_PEER);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u32(msg, JAZZ_A_PEER_ID, peer->id))
		goto cancel;
	if (!start) {
		if (jazz_put_peer_info(msg, peer))
			goto cancel;
		*pos = 1;
	}
	list_for_each_entry(n, &peer->allowedips, peer_list) {
		if (i++ < *pos)
			continue;
		if (jazz_put_aip(msg, n))
			goto partial;
		(*pos)++;
	}
	nla_nest_end(msg, nest);
	return 0;
partial:
	if (*pos != start) {
		nla_nest_end(msg, nest);
		return -EMSGSIZE;
	}
cancel:
	nla_nest_cancel(msg, nest);
	*pos = start;
	return -EMSGSIZE;
}

/* ---- dev-get / dev-set ---- */

/* One device; @cb (dumps) gets NLM_F_DUMP_INTR when the list changed. */
static int jazz_fill_dev(struct sk_buff *msg, struct jazz_device *jd,
			 u32 portid, u32 seq, int flags,
			 struct netlink_callback *cb)
{
	void *hdr;
	u64 features = JAZZ_FEATURES_CHACHA20_POLY1305 |
		       JAZZ_FEATURES_AES_256_GCM | JAZZ_FEATURES_ROAMING |
		       JAZZ_FEATURES_KEEPALIVE;

	if (IS_ENABLED(CONFIG_IPV6))
		features |= JAZZ_FEATURES_IPV6;
	hdr = genlmsg_put(msg, portid, seq, &jazz_genl_family, flags,
			  JAZZ_CMD_DEV_GET);
	if (!hdr)
		return -EMSGSIZE;
	if (cb)
		genl_dump_check_consistent(cb, hdr);
	mutex_lock(&jd->lock);
	if (nla_put_u32(msg, JAZZ_A_IFINDEX, jd->dev->ifindex) ||
	    nla_put_string(msg, JAZZ_A_IFNAME, jd->dev->name) ||
	    nla_put_u32(msg, JAZZ_A_WIRE_VERSION, JAZZ_WIRE_VERSION) ||
	    nla_put_u64_64bit(msg, JAZZ_A_FEATURES, features, JAZZ_A_PAD) ||
	    nla_put_u16(msg, JAZZ_A_LISTEN_PORT, jd->listen_port) ||
	    nla_put_u32(msg, JAZZ_A_FWMARK, jd->fwmark) ||
	    nla_put_u8(msg, JAZZ_A_CONNCHECK, jd->conncheck) ||
	    nla_put_u8(msg, JAZZ_A_FAIL_OPEN, jd->fail_open) ||
	    nla_put_u32(msg, JAZZ_A_APPROVAL_TIMEOUT_MS,
			jd->approval_timeout_ms) ||
	    nla_put_u32(msg, JAZZ_A_DENY_BACKOFF_MS, jd->deny_backoff_ms) ||
	    nla_put_u32(msg, JAZZ_A_TCP_IDLE_S, jd->tcp_idle_s) ||
	    nla_put_u32(msg, JAZZ_A_UDP_IDLE_S, jd->udp_idle_s) ||
	    nla_put_u32(msg, JAZZ_A_OTHER_IDLE_S, jd->other_idle_s) ||
	    nla_put_u32(msg, JAZZ_A_CONN_MAX, jd->conn_max) ||
	    nla_put_u32(msg, JAZZ_A_HOLD_MAX, jd->hold_max) ||
	    nla_put_u32(msg, JAZZ_A_CONN_COUNT, jazz_conn_count(jd)) ||
	    jazz_put_stats(msg, JAZZ_A_STATS, jd->stats)) {
		mutex_unlock(&jd->lock);
		genlmsg_cancel(msg, hdr);
		return -EMSGSIZE;
	}
	mutex_unlock(&jd->lock);
	genlmsg_end(msg, hdr);
	return 0;
}

static int jazz_nl_dev_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct jazz_device *jd;
	struct sk_buff *msg;
	int err;

	jd = jazz_nl_dev(genl_info_net(info), info->attrs, info->extack);
	if (IS_ERR(jd))
		return PTR_ERR(jd);
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	err = -ENOMEM;
	if (msg) {
		err = jazz_fill_dev(msg, jd, info->snd_portid, info->snd_seq, 0,
				    NULL);
		if (!err)
			err = genlmsg_reply(msg, info);
		else
			nlmsg_free(msg);
	}
	jazz_nl_dev_put(jd);
	return err;
}

static int jazz_nl_dev_get_dumpit(struct sk_buff *skb,
				  struct netlink_callback *cb)
{
	struct net *net = sock_net(skb->sk);
	struct net_device *dev;
	long idx = 0;

	rtnl_lock();
	/* Resumed by index: a device added or deleted between parts shows. */
	cb->seq = READ_ONCE(net->dev_base_seq) ?: 1;
	for_each_netdev(net, dev) {
		if (!jazz_is_dev(dev))
			continue;
		if (idx++ < cb->args[0])
			continue;
		if (jazz_fill_dev(skb, netdev_priv(dev),
				  NETLINK_CB(cb->skb).portid,
				  cb->nlh->nlmsg_seq, NLM_F_MULTI, cb)) {
			idx--;
			break;
		}
	}
	rtnl_unlock();
	cb->args[0] = idx;
	return skb->len;
}

static int jazz_nl_dev_set_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr **a = info->attrs;
	struct jazz_device *jd;
	struct jazz_peer *peer;
	int err = 0;

	jd = jazz_nl_dev(genl_info_net(info), a, info->extack);
	if (IS_ERR(jd))
		return PTR_ERR(jd);
	err = jazz_nl_lock(jd, info->extack);
	if (err)
		goto out_put;
	/*
	 * The sockets live in the creating namespace, which may not be the
	 * one this request came from (the device was moved): like WireGuard,
	 * binding a port or marking packets there needs CAP_NET_ADMIN in
	 * that namespace's user namespace.
	 */
	if ((a[JAZZ_A_LISTEN_PORT] || a[JAZZ_A_FWMARK]) &&
	    (!jd->creating_net ||
	     !ns_capable(jd->creating_net->user_ns, CAP_NET_ADMIN))) {
		NL_SET_ERR_MSG_ATTR(info->extack, a[JAZZ_A_LISTEN_PORT] ?
				    a[JAZZ_A_LISTEN_PORT] : a[JAZZ_A_FWMARK],
				    "listen-port and fwmark need CAP_NET_ADMIN where the sockets live");
		err = -EPERM;
		goto out;
	}
	jd->gen++;
	if (a[JAZZ_A_LISTEN_PORT]) {
		u16 port = nla_get_u16(a[JAZZ_A_LISTEN_PORT]);

		/* Make before break: a failed bind leaves the old sockets. */
		if (port != jd->listen_port || !port) {
			if (netif_running(jd->dev))
				err = jazz_socket_open(jd, port);
			else
				jd->listen_port = port;
			if (err) {
				NL_SET_ERR_MSG_ATTR(info->extack,
						    a[JAZZ_A_LISTEN_PORT],
						    "cannot bind the listen port");
				goto out;
			}
		}
	}
	if (a[JAZZ_A_FWMARK]) {
		WRITE_ONCE(jd->fwmark, nla_get_u32(a[JAZZ_A_FWMARK]));
		list_for_each_entry(peer, &jd->peer_list, list) {
			write_lock_bh(&peer->ep_lock);
			dst_cache_reset(&peer->dst_cache);
			write_unlock_bh(&peer->ep_lock);
		}
	}
#define JAZZ_SET(attr, field, get) \
	do { if (a[attr]) WRITE_ONCE(jd->field, get(a[attr])); } while (0)
	JAZZ_SET(JAZZ_A_CONNCHECK, conncheck, nla_get_u8);
	JAZZ_SET(JAZZ_A_FAIL_OPEN, fail_open, nla_get_u8);
	JAZZ_SET(JAZZ_A_APPROVAL_TIMEOUT_MS, approval_timeout_ms, nla_get_u32);
	JAZZ_SET(JAZZ_A_DENY_BACKOFF_MS, deny_backoff_ms, nla_get_u32);
	JAZZ_SET(JAZZ_A_TCP_IDLE_S, tcp_idle_s, nla_get_u32);
	JAZZ_SET(JAZZ_A_UDP_IDLE_S, udp_idle_s, nla_get_u32);
	JAZZ_SET(JAZZ_A_OTHER_IDLE_S, other_idle_s, nla_get_u32);
	JAZZ_SET(JAZZ_A_CONN_MAX, conn_max, nla_get_u32);
	JAZZ_SET(JAZZ_A_HOLD_MAX, hold_max, nla_get_u32);
#undef JAZZ_SET
out:
	mutex_unlock(&jd->lock);
out_put:
	jazz_nl_dev_put(jd);
	return err;
}

/* ---- peers ---- */

struct jazz_aip_req {
	u8 addr[16];
	u8 bits;
	u8 cidr;
};

/* Check one allowed-ip nest; fills @r. */
static int jazz_parse_aip(struct nlattr *nest, struct jazz_aip_req *r,
			  struct netlink_ext_ack *extack)
{
	struct nlattr *tb[JAZZ_A_ALLOWED_IP_MAX + 1];
	u16 family;
	int err;

	err = nla_parse_nested(tb, JAZZ_A_ALLOWED_IP_MAX, nest,
			       jazz_aip_policy, extack);
	if (err)
		return err;
	if (!tb[JAZZ_A_ALLOWED_IP_FAMILY] || !tb[JAZZ_A_ALLOWED_IP_ADDR] ||
	    !tb[JAZZ_A_ALLOWED_IP_CIDR]) {
		NL_SET_ERR_MSG_ATTR(extack, nest,
				    "allowed-ip needs family, addr and cidr");
		return -EINVAL;
	}
	family = nla_get_u16(tb[JAZZ_A_ALLOWED_IP_FAMILY]);
	if (family != AF_INET && family != AF_INET6) {
		NL_SET_ERR_MSG_ATTR(extack, tb[JAZZ_A_ALLOWED_IP_FAMILY],
				    "allowed-ip family must be AF_INET or AF_INET6");
		return -EAFNOSUPPORT;
	}
	r->bits = family == AF_INET ? 32 : 128;
	if (nla_len(tb[JAZZ_A_ALLOWED_IP_ADDR]) != r->bits / 8) {
		NL_SET_ERR_MSG_ATTR(extack, tb[JAZZ_A_ALLOWED_IP_ADDR],
				    "allowed-ip addr length does not match family");
		return -EINVAL;
	}
	r->cidr = nla_get_u8(tb[JAZZ_A_ALLOWED_IP_CIDR]);
	if (r->cidr > r->bits) {
		NL_SET_ERR_MSG_ATTR(extack, tb[JAZZ_A_ALLOWED_IP_CIDR],
				    "allowed-ip cidr longer than the address");
		return -EINVAL;
	}
	memset(r->addr, 0, sizeof(r->addr));
	nla_memcpy(r->addr, tb[JAZZ_A_ALLOWED_IP_ADDR], r->bits / 8);
	return 0;
}

/*
 * A path record to store (@path->kind 0: none given). The policy checked
 * the kind's range and the reason's length; a reason is for people to
 * read, so control bytes and non-ASCII are refused too.
 */
static int jazz_path_check(struct nlattr *nest, struct jazz_path *path,
			   struct netlink_ext_ack *extack)
{
	struct nlattr *tb[JAZZ_A_PATH_MAX + 1];
	const unsigned char *c;
	int err;

	memset(path, 0, sizeof(*path));
	if (!nest)
		return 0;
	err = nla_parse_nested(tb, JAZZ_A_PATH_MAX, nest, jazz_path_policy,
			       extack);
	if (err)
		return err;
	if (!tb[JAZZ_A_PATH_KIND]) {
		NL_SET_ERR_MSG(extack, "path kind is required in a path record");
		NL_SET_ERR_ATTR_MISS(extack, nest, JAZZ_A_PATH_KIND);
		return -EINVAL;
	}
	if (tb[JAZZ_A_PATH_REASON]) {
		nla_strscpy(path->reason, tb[JAZZ_A_PATH_REASON],
			    sizeof(path->reason));
		for (c = (const unsigned char *)path->reason; *c; c++) {
			if (*c < 0x20 || *c > 0x7e) {
				NL_SET_ERR_MSG_ATTR(extack, tb[JAZZ_A_PATH_REASON],
						    "path reason must be printable ASCII");
				return -EINVAL;
			}
		}
	}
	path->kind = nla_get_u32(tb[JAZZ_A_PATH_KIND]);
	return 0;
}

/* Validate everything of a peer nest before changing anything. */
static int jazz_peer_check(struct nlattr *nest, struct nlattr **tb,
			   struct jazz_endpoint *ep, bool *has_ep,
			   struct netlink_ext_ack *extack)
{
	struct jazz_aip_req r;
	struct nlattr *attr;
	int rem, err;

	err = nla_parse_nested(tb, JAZZ_A_PEER_MAX, nest, jazz_peer_policy,
			       extack);
	if (err)
		return err;
	if (!tb[JAZZ_A_PEER_ID]) {
		NL_SET_ERR_MSG(extack, "peer id is required");
		NL_SET_ERR_ATTR_MISS(extack, nest, JAZZ_A_PEER_ID);
		return -EINVAL;
	}
	memset(ep, 0, sizeof(*ep));
	*has_ep = false;
	if (tb[JAZZ_A_PEER_ENDPOINT_IP4] && tb[JAZZ_A_PEER_ENDPOINT_IP6]) {
		NL_SET_ERR_MSG_ATTR(extack, tb[JAZZ_A_PEER_ENDPOINT_IP6],
				    "give endpoint-ip4 or endpoint-ip6, not both");
		return -EINVAL;
	}
	if (tb[JAZZ_A_PEER_ENDPOINT_IP4] || tb[JAZZ_A_PEER_ENDPOINT_IP6]) {
		struct nlattr *port = tb[JAZZ_A_PEER_ENDPOINT_PORT];

		if (!port || !nla_get_be16(port)) {
			NL_SET_ERR_MSG_ATTR(extack, port ? port : nest,
					    "endpoint-port (not 0) is required with an endpoint address");
			return -EINVAL;
		}
		if (tb[JAZZ_A_PEER_ENDPOINT_IP4]) {
			ep->addr4.sin_family = AF_INET;
			ep->addr4.sin_addr.s_addr =
				nla_get_in_addr(tb[JAZZ_A_PEER_ENDPOINT_IP4]);
			ep->addr4.sin_port = nla_get_be16(port);
		} else {
			ep->addr6.sin6_family = AF_INET6;
			ep->addr6.sin6_addr =
				nla_get_in6_addr(tb[JAZZ_A_PEER_ENDPOINT_IP6]);
			ep->addr6.sin6_port = nla_get_be16(port);
		}
		*has_ep = true;
	} else if (tb[JAZZ_A_PEER_ENDPOINT_PORT]) {
		NL_SET_ERR_MSG_ATTR(extack, tb[JAZZ_A_PEER_ENDPOINT_PORT],
				    "endpoint-port without an endpoint address");
		return -EINVAL;
	}
	nla_for_each_nested(attr, nest, rem) {
		if (nla_type(attr) != JAZZ_A_PEER_ALLOWED_IP)
			continue;
		err = jazz_parse_aip(attr, &r, extack);
		if (err)
			return err;
	}
	return 0;
}

static int jazz_peer_apply(struct jazz_device *jd, struct jazz_peer *peer,
			   struct nlattr *nest, struct nlattr **tb,
			   const struct jazz_endpoint *ep, bool has_ep,
			   struct netlink_ext_ack *extack)
{
	u32 flags = tb[JAZZ_A_PEER_FLAGS] ?
		    nla_get_u32(tb[JAZZ_A_PEER_FLAGS]) : 0;
	struct jazz_endpoint none = {};
	struct jazz_aip_req r;
	struct nlattr *attr;
	int rem, err;

	if (tb[JAZZ_A_PEER_REMOTE_ID])
		WRITE_ONCE(peer->remote_id,
			   nla_get_u32(tb[JAZZ_A_PEER_REMOTE_ID]));
	if (tb[JAZZ_A_PEER_NAME])
		nla_strscpy(peer->name, tb[JAZZ_A_PEER_NAME],
			    sizeof(peer->name));
	if (flags & JAZZ_PEER_FLAGS_CLEAR_ENDPOINT)
		jazz_peer_set_endpoint(peer, &none);
	if (has_ep)
		jazz_peer_set_endpoint(peer, ep);
	if (flags & JAZZ_PEER_FLAGS_REPLACE_ALLOWED_IPS)
		jazz_aip_remove_peer(&jd->aip, &peer->allowedips, &jd->lock);
	nla_for_each_nested(attr, nest, rem) {
		if (nla_type(attr) != JAZZ_A_PEER_ALLOWED_IP)
			continue;
		err = jazz_parse_aip(attr, &r, extack);
		if (!err)
			err = jazz_aip_insert(&jd->aip, r.addr, r.bits, r.cidr,
					      peer, &peer->allowedips,
					      &jd->lock);
		if (err == -ENOSPC) {
			NL_SET_ERR_MSG_ATTR(extack, attr,
					    "device has max_allowedips allowed-ips (module parameter)");
			return err;
		}
		if (err) {
			NL_SET_ERR_MSG_ATTR(extack, attr,
					    "cannot add allowed-ip");
			return err;
		}
	}
	if (tb[JAZZ_A_PEER_KEEPALIVE_S])
		jazz_peer_set_keepalive(peer,
					nla_get_u16(tb[JAZZ_A_PEER_KEEPALIVE_S]));
	return 0;
}

static int jazz_nl_peer_change(struct sk_buff *skb, struct genl_info *info,
			       bool create)
{
	struct nlattr *tb[JAZZ_A_PEER_MAX + 1];
	struct nlattr *nest = info->attrs[JAZZ_A_PEER];
	struct jazz_endpoint ep;
	struct jazz_device *jd;
	struct jazz_peer *peer;
	struct jazz_path path;
	bool has_ep;
	u32 id;
	int err;

	if (GENL_REQ_ATTR_CHECK(info, JAZZ_A_PEER))
		return -EINVAL;
	err = jazz_peer_check(nest, tb, &ep, &has_ep, info->extack);
	if (!err)
		err = jazz_path_check(tb[JAZZ_A_PEER_PATH], &path,
				      info->extack);
	if (err)
		return err;
	jd = jazz_nl_dev(genl_info_net(info), info->attrs, info->extack);
	if (IS_ERR(jd))
		return PTR_ERR(jd);
	id = nla_get_u32(tb[JAZZ_A_PEER_ID]);
	err = jazz_nl_lock(jd, info->extack);
	if (err)
		goto out_put;
	jd->gen++;
	peer = jazz_peer_lookup_locked(jd, id);
	if (create && peer) {
		NL_SET_ERR_MSG_ATTR(info->extack, tb[JAZZ_A_PEER_ID],
				    "a peer with this id exists");
		err = -EEXIST;
		goto out;
	}
	if (!create && !peer) {
		NL_SET_ERR_MSG_ATTR(info->extack, tb[JAZZ_A_PEER_ID],
				    "no peer with this id");
		err = -ENOENT;
		goto out;
	}
	if (create && id == JAZZ_STUN_MAGIC_COOKIE) {
		NL_SET_ERR_MSG_ATTR(info->extack, tb[JAZZ_A_PEER_ID],
				    "this id is the STUN magic cookie (reserved)");
		err = -EINVAL;
		goto out;
	}
	if (create && jd->num_peers >= READ_ONCE(jazz_max_peers)) {
		NL_SET_ERR_MSG_ATTR(info->extack, tb[JAZZ_A_PEER_ID],
				    "device has max_peers peers (module parameter)");
		err = -ENOSPC;
		goto out;
	}
	if (create) {
		peer = jazz_peer_create(jd, id);
		if (!peer) {
			err = -ENOMEM;
			goto out;
		}
		/* Symmetric setups: by default the remote uses the same id. */
		peer->remote_id = id;
	}
	err = jazz_peer_apply(jd, peer, nest, tb, &ep, has_ep, info->extack);
	if (!err && path.kind) {
		path.since_ns = ktime_get_real_ns();
		peer->path = path;
	}
	if (err && create)
		jazz_peer_remove(peer, JAZZ_PEER_DEL_REASON_USERSPACE);
out:
	mutex_unlock(&jd->lock);
out_put:
	jazz_nl_dev_put(jd);
	return err;
}

static int jazz_nl_peer_new_doit(struct sk_buff *skb, struct genl_info *info)
{
	return jazz_nl_peer_change(skb, info, true);
}

static int jazz_nl_peer_set_doit(struct sk_buff *skb, struct genl_info *info)
{
	return jazz_nl_peer_change(skb, info, false);
}

/* Parse the peer nest of peer-del/peer-get and find the peer (mutex held). */
static struct jazz_peer *jazz_nl_peer_by_id(struct jazz_device *jd,
					    struct genl_info *info)
{
	struct nlattr *tb[JAZZ_A_PEER_MAX + 1];
	struct nlattr *nest = info->attrs[JAZZ_A_PEER];
	struct jazz_peer *peer;
	int err;

	if (GENL_REQ_ATTR_CHECK(info, JAZZ_A_PEER))
		return ERR_PTR(-EINVAL);
	err = nla_parse_nested(tb, JAZZ_A_PEER_MAX, nest, jazz_peer_policy,
			       info->extack);
	if (err)
		return ERR_PTR(err);
	if (!tb[JAZZ_A_PEER_ID]) {
		NL_SET_ERR_MSG(info->extack, "peer id is required");
		NL_SET_ERR_ATTR_MISS(info->extack, nest, JAZZ_A_PEER_ID);
		return ERR_PTR(-EINVAL);
	}
	peer = jazz_peer_lookup_locked(jd, nla_get_u32(tb[JAZZ_A_PEER_ID]));
	if (!peer) {
		NL_SET_ERR_MSG_ATTR(info->extack, tb[JAZZ_A_PEER_ID],
				    "no peer with this id");
		return ERR_PTR(-ENOENT);
	}
	return peer;
}

static int jazz_nl_peer_del_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct jazz_device *jd;
	struct jazz_peer *peer;
	int err = 0;

	jd = jazz_nl_dev(genl_info_net(info), info->attrs, info->extack);
	if (IS_ERR(jd))
		return PTR_ERR(jd);
	err = jazz_nl_lock(jd, info->extack);
	if (err)
		goto out_put;
	peer = jazz_nl_peer_by_id(jd, info);
	if (IS_ERR(peer))
		err = PTR_ERR(peer);
	else
		jazz_peer_remove(peer, JAZZ_PEER_DEL_REASON_USERSPACE);
	mutex_unlock(&jd->lock);
out_put:
	jazz_nl_dev_put(jd);
	return err;
}

/*
 * The peer-get dump: cb->args[0] counts the peers finished, cb->args[1]
 * is the position inside the next one (jazz_put_peer_part), cb->args[2]
 * is set when done. A peer id in the request limits it to that peer.
 * cb->seq is the device's change counter: a dump that spans a change is
 * marked NLM_F_DUMP_INTR (the indexes may have moved), like WireGuard's.
 */
static int jazz_peer_dump(struct sk_buff *skb, struct netlink_callback *cb,
			  struct nlattr **attrs)
{
	struct nlattr *tb[JAZZ_A_PEER_MAX + 1];
	struct jazz_peer *peer;
	struct jazz_device *jd;
	bool progress = false;
	unsigned long pos;
	long idx = 0;
	u32 only = 0;
	void *hdr;
	int err;

	if (cb->args[2])
		return 0;
	if (attrs[JAZZ_A_PEER]) {
		err = nla_parse_nested(tb, JAZZ_A_PEER_MAX, attrs[JAZZ_A_PEER],
				       jazz_peer_policy, cb->extack);
		if (err)
			return err;
		if (!tb[JAZZ_A_PEER_ID]) {
			NL_SET_ERR_MSG(cb->extack, "peer id is required");
			return -EINVAL;
		}
		only = nla_get_u32(tb[JAZZ_A_PEER_ID]);
	}
	jd = jazz_nl_dev(sock_net(skb->sk), attrs, cb->extack);
	if (IS_ERR(jd))
		return PTR_ERR(jd);
	err = jazz_nl_lock(jd, cb->extack);
	if (err)
		goto out_put;
	if (only && !jazz_peer_lookup_locked(jd, only) && !cb->prev_seq) {
		NL_SET_ERR_MSG(cb->extack, "no peer with this id");
		err = -ENOENT;
		goto out;
	}
	cb->seq = jd->gen;
	err = -EMSGSIZE;
	hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			  &jazz_genl_family, NLM_F_MULTI, JAZZ_CMD_PEER_GET);
	if (!hdr)
		goto out;
	genl_dump_check_consistent(cb, hdr);
	if (nla_put_u32(skb, JAZZ_A_IFINDEX, jd->dev->ifindex)) {
		genlmsg_cancel(skb, hdr);
		goto out;
	}
	cb->args[2] = 1;
	list_for_each_entry(peer, &jd->peer_list, list) {
		if (only && peer->id != only)
			continue;
		if (idx++ < cb->args[0])
			continue;
		pos = cb->args[1];
		err = jazz_put_peer_part(skb, peer, &pos);
		if (pos != cb->args[1] || !err)
			progress = true;
		if (err) {
			cb->args[1] = pos;
			cb->args[2] = 0;
			break;
		}
		cb->args[0]++;
		cb->args[1] = 0;
	}
	if (!progress && !cb->args[2]) {
		/* Cannot happen: one allowed-ip always fits a message. */
		genlmsg_cancel(skb, hdr);
		err = -EMSGSIZE;
		goto out;
	}
	genlmsg_end(skb, hdr);
	err = skb->len;
out:
	mutex_unlock(&jd->lock);
out_put:
	jazz_nl_dev_put(jd);
	return err;
}

static int jazz_nl_peer_get_dumpit(struct sk_buff *skb,
				   struct netlink_callback *cb)
{
	return jazz_peer_dump(skb, cb, jazz_compat_dump_attrs(cb));
}

/* A peer-get (do) answered as a dump: the request is in cb->nlh. */
static int jazz_nl_peer_get_do_dumpit(struct sk_buff *skb,
				      struct netlink_callback *cb)
{
	struct nlattr *attrs[JAZZ_A_MAX + 1];
	int err;

	err = nlmsg_parse(cb->nlh, GENL_HDRLEN, attrs, JAZZ_A_MAX,
			  jazz_peer_op_policy, cb->extack);
	if (err)
		return err;
	return jazz_peer_dump(skb, cb, attrs);
}

/*
 * peer-get (do): one message when the peer fits, else the same parts as
 * the dump, NLM_F_MULTI and ended by NLMSG_DONE (no ACK), sent with the
 * dump's flow control so a reader that stops cannot block the family.
 */
static int jazz_nl_peer_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct netlink_dump_control c = {
		.dump = jazz_nl_peer_get_do_dumpit,
	};
	struct jazz_device *jd;
	struct jazz_peer *peer;
	struct sk_buff *msg;
	unsigned long pos = 0;
	void *hdr;
	int err;

	jd = jazz_nl_dev(genl_info_net(info), info->attrs, info->extack);
	if (IS_ERR(jd))
		return PTR_ERR(jd);
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg) {
		jazz_nl_dev_put(jd);
		return -ENOMEM;
	}
	err = jazz_nl_lock(jd, info->extack);
	if (err)
		goto fail_put;
	peer = jazz_nl_peer_by_id(jd, info);
	if (IS_ERR(peer)) {
		err = PTR_ERR(peer);
		goto fail;
	}
	err = -EMSGSIZE;
	hdr = genlmsg_put_reply(msg, info, &jazz_genl_family, 0,
				JAZZ_CMD_PEER_GET);
	if (!hdr || nla_put_u32(msg, JAZZ_A_IFINDEX, jd->dev->ifindex))
		goto fail;
	if (jazz_put_peer_part(msg, peer, &pos)) {
		mutex_unlock(&jd->lock);
		jazz_nl_dev_put(jd);
		nlmsg_free(msg);
		/*
		 * A dump runs under the socket's cb_mutex and, for a family
		 * without parallel_ops, takes genl_mutex inside it; so start
		 * it without genl_mutex held, as genetlink does for a dump
		 * request. The family cannot go away meanwhile: genl_rcv()
		 * holds cb_lock for reading around this whole call.
		 */
		genl_unlock();
		err = netlink_dump_start(genl_info_net(info)->genl_sock, skb,
					 info->nlhdr, &c);
		genl_lock();
		return err;
	}
	mutex_unlock(&jd->lock);
	jazz_nl_dev_put(jd);
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
fail:
	mutex_unlock(&jd->lock);
fail_put:
	jazz_nl_dev_put(jd);
	nlmsg_free(msg);
	return err;
}

/* ---- keys ---- */

static int jazz_nl_key_parse(struct genl_info *info, struct nlattr **tb)
{
	struct nlattr *nest = info->attrs[JAZZ_A_KEY];
	int err;

	if (GENL_REQ_ATTR_CHECK(info, JAZZ_A_KEY))
		return -EINVAL;
	err = nla_parse_nested(tb, JAZZ_A_KEYCONF_MAX, nest,
			       jazz_keyconf_policy, info->extack);
	if (err)
		return err;
	if (!tb[JAZZ_A_KEYCONF_PEER_ID]) {
		NL_SET_ERR_MSG(info->extack, "key peer-id is required");
		NL_SET_ERR_ATTR_MISS(info->extack, nest,
				     JAZZ_A_KEYCONF_PEER_ID);
		return -EINVAL;
	}
	return 0;
}

static struct jazz_peer *jazz_nl_key_peer(struct jazz_device *jd,
					  struct nlattr **tb,
					  struct netlink_ext_ack *extack)
{
	struct jazz_peer *peer;

	peer = jazz_peer_lookup_locked(jd, nla_get_u32(tb[JAZZ_A_KEYCONF_PEER_ID]));
	if (!peer)
		NL_SET_ERR_MSG_ATTR(extack, tb[JAZZ_A_KEYCONF_PEER_ID],
				    "no peer with this id");
	return peer;
}

static int jazz_keydir(struct nlattr *nest, const u8 **key, const u8 **salt,
		       struct netlink_ext_ack *extack)
{
	struct nlattr *tb[JAZZ_A_KEYDIR_MAX + 1];
	int err;

	err = nla_parse_nested(tb, JAZZ_A_KEYDIR_MAX, nest, jazz_keydir_policy,
			       extack);
	if (err)
		return err;
	if (!tb[JAZZ_A_KEYDIR_KEY] || !tb[JAZZ_A_KEYDIR_SALT]) {
		NL_SET_ERR_MSG_ATTR(extack, nest, "key and salt are required");
		NL_SET_ERR_ATTR_MISS(extack, nest, tb[JAZZ_A_KEYDIR_KEY] ?
				     JAZZ_A_KEYDIR_SALT : JAZZ_A_KEYDIR_KEY);
		return -EINVAL;
	}
	*key = nla_data(tb[JAZZ_A_KEYDIR_KEY]);
	*salt = nla_data(tb[JAZZ_A_KEYDIR_SALT]);
	return 0;
}

static int jazz_nl_key_new_doit(struct sk_buff *skb, struct genl_info *info)
{
	static const int required[] = {
		JAZZ_A_KEYCONF_SLOT, JAZZ_A_KEYCONF_KEY_ID,
		JAZZ_A_KEYCONF_CIPHER, JAZZ_A_KEYCONF_ENCRYPT,
		JAZZ_A_KEYCONF_DECRYPT,
	};
	struct nlattr *tb[JAZZ_A_KEYCONF_MAX + 1];
	const u8 *txk, *txs, *rxk, *rxs;
	struct jazz_device *jd;
	struct jazz_peer *peer;
	struct jazz_key *key;
	int i, err;

	err = jazz_nl_key_parse(info, tb);
	if (err)
		return err;
	for (i = 0; i < ARRAY_SIZE(required); i++) {
		if (!tb[required[i]]) {
			NL_SET_ERR_MSG(info->extack,
				       "key-new needs slot, key-id, cipher, encrypt and decrypt");
			NL_SET_ERR_ATTR_MISS(info->extack, info->attrs[JAZZ_A_KEY],
					     required[i]);
			return -EINVAL;
		}
	}
	err = jazz_keydir(tb[JAZZ_A_KEYCONF_ENCRYPT], &txk, &txs, info->extack);
	if (!err)
		err = jazz_keydir(tb[JAZZ_A_KEYCONF_DECRYPT], &rxk, &rxs,
				  info->extack);
	if (err)
		return err;
	jd = jazz_nl_dev(genl_info_net(info), info->attrs, info->extack);
	if (IS_ERR(jd))
		return PTR_ERR(jd);
	err = jazz_nl_lock(jd, info->extack);
	if (err)
		goto out_put;
	jd->gen++;
	peer = jazz_nl_key_peer(jd, tb, info->extack);
	if (!peer) {
		err = -ENOENT;
		goto out;
	}
	key = jazz_key_create(nla_get_u32(tb[JAZZ_A_KEYCONF_CIPHER]),
			      nla_get_u8(tb[JAZZ_A_KEYCONF_KEY_ID]),
			      txk, txs, rxk, rxs, info->extack);
	if (IS_ERR(key)) {
		err = PTR_ERR(key);
		goto out;
	}
	jazz_peer_key_set(peer, nla_get_u32(tb[JAZZ_A_KEYCONF_SLOT]), key);
out:
	mutex_unlock(&jd->lock);
out_put:
	jazz_nl_dev_put(jd);
	return err;
}

static int jazz_nl_key_swap_del(struct genl_info *info, bool del)
{
	struct nlattr *tb[JAZZ_A_KEYCONF_MAX + 1];
	struct jazz_device *jd;
	struct jazz_peer *peer;
	int err;

	err = jazz_nl_key_parse(info, tb);
	if (err)
		return err;
	if (del && !tb[JAZZ_A_KEYCONF_SLOT]) {
		NL_SET_ERR_MSG(info->extack, "key slot is required");
		NL_SET_ERR_ATTR_MISS(info->extack, info->attrs[JAZZ_A_KEY],
				     JAZZ_A_KEYCONF_SLOT);
		return -EINVAL;
	}
	jd = jazz_nl_dev(genl_info_net(info), info->attrs, info->extack);
	if (IS_ERR(jd))
		return PTR_ERR(jd);
	err = jazz_nl_lock(jd, info->extack);
	if (err)
		goto out_put;
	jd->gen++;
	peer = jazz_nl_key_peer(jd, tb, info->extack);
	if (!peer)
		err = -ENOENT;
	else if (del)
		jazz_peer_key_set(peer, nla_get_u32(tb[JAZZ_A_KEYCONF_SLOT]),
				  NULL);
	else
		jazz_peer_key_swap(peer);
	mutex_unlock(&jd->lock);
out_put:
	jazz_nl_dev_put(jd);
	return err;
}

static int jazz_nl_key_swap_doit(struct sk_buff *skb, struct genl_info *info)
{
	return jazz_nl_key_swap_del(info, false);
}

static int jazz_nl_key_del_doit(struct sk_buff *skb, struct genl_info *info)
{
	return jazz_nl_key_swap_del(info, true);
}

/* ---- connection, probe and stun-send ops: resolved here, done in
 * conn_nl.c and stun.c ----
 */

static int jazz_nl_conn_op(struct genl_info *info, struct sk_buff *skb, u8 cmd)
{
	struct jazz_device *jd;
	int err;

	jd = jazz_nl_dev(genl_info_net(info), info->attrs, info->extack);
	if (IS_ERR(jd))
		return PTR_ERR(jd);
	err = jazz_nl_lock(jd, info->extack);
	if (err)
		goto out_put;
	switch (cmd) {
	case JAZZ_CMD_CONN_GET:
		err = jazz_nl_conn_get(jd, skb, info);
		break;
	case JAZZ_CMD_CONN_VERDICT:
		err = jazz_nl_conn_verdict(jd, info);
		break;
	case JAZZ_CMD_CONN_DEL:
		err = jazz_nl_conn_del(jd, info);
		break;
	case JAZZ_CMD_APPROVER_PROBE:
		err = jazz_nl_probe(jd, info);
		break;
	case JAZZ_CMD_APPROVER_PROBE_REPLY:
		err = jazz_nl_probe_reply(jd, info);
		break;
	case JAZZ_CMD_STUN_SEND:
		err = jazz_stun_send(jd, info);
		break;
	default:
		err = jazz_nl_conn_flush(jd, info);
		break;
	}
	mutex_unlock(&jd->lock);
out_put:
	jazz_nl_dev_put(jd);
	return err;
}

static int jazz_nl_conn_doit(struct sk_buff *skb, struct genl_info *info)
{
	return jazz_nl_conn_op(info, skb, info->genlhdr->cmd);
}

static int jazz_nl_conn_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct jazz_device *jd;
	int err;

	jd = jazz_nl_dev(sock_net(skb->sk), jazz_compat_dump_attrs(cb),
			 cb->extack);
	if (IS_ERR(jd))
		return PTR_ERR(jd);
	err = jazz_nl_lock(jd, cb->extack);
	if (err)
		goto out_put;
	err = jazz_nl_conn_dump(jd, skb, cb);
	mutex_unlock(&jd->lock);
out_put:
	jazz_nl_dev_put(jd);
	return err;
}

static bool jazz_nl_listening(struct net *net, int grp)
{
	return check_net(net) && genl_has_listeners(&jazz_genl_family, net, grp);
}

/* Consumes @msg; -ESRCH: no socket of @net got it (nobody there, or all
 * of them overrun). Any context.
 */
static int jazz_nl_multicast(struct net *net, struct sk_buff *msg, int grp)
{
	return genlmsg_multicast_netns(&jazz_genl_family, net, msg, 0, grp,
				       GFP_ATOMIC);
}

bool jazz_stun_listening(struct net *net)
{
	return jazz_nl_listening(net, JAZZ_NLGRP_STUN);
}

int jazz_stun_multicast(struct net *net, struct sk_buff *msg)
{
	return jazz_nl_multicast(net, msg, JAZZ_NLGRP_STUN);
}

bool jazz_approvals_listening(struct net *net)
{
	return jazz_nl_listening(net, JAZZ_NLGRP_APPROVALS);
}

int jazz_approvals_multicast(struct net *net, struct sk_buff *msg)
{
	return jazz_nl_multicast(net, msg, JAZZ_NLGRP_APPROVALS);
}

/* ---- notifications ---- */

static void jazz_notify(struct sk_buff *msg, struct jazz_device *jd)
{
	genlmsg_multicast_netns(&jazz_genl_family, dev_net(jd->dev), msg, 0,
				JAZZ_NLGRP_NOTIFY, GFP_ATOMIC);
}

static struct sk_buff *jazz_notify_new(struct jazz_device *jd, u8 cmd,
				       void **hdr)
{
	struct net *net = dev_net(jd->dev);
	struct sk_buff *msg;

	if (!check_net(net) ||
	    !genl_has_listeners(&jazz_genl_family, net, JAZZ_NLGRP_NOTIFY))
		return NULL;
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_ATOMIC);
	if (!msg)
		return NULL;
	*hdr = genlmsg_put(msg, 0, 0, &jazz_genl_family, 0, cmd);
	if (!*hdr || nla_put_u32(msg, JAZZ_A_IFINDEX, jd->dev->ifindex)) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

static void jazz_notify_peer(struct jazz_peer *peer, u8 cmd, u32 reason)
{
	struct sk_buff *msg;
	void *hdr;

	msg = jazz_notify_new(peer->jd, cmd, &hdr);
	if (!msg)
		return;
	if (jazz_put_peer(msg, peer, reason)) {
		nlmsg_free(msg);
		return;
	}
	genlmsg_end(msg, hdr);
	jazz_notify(msg, peer->jd);
}

void jazz_notify_peer_roam(struct jazz_peer *peer)
{
	jazz_notify_peer(peer, JAZZ_CMD_PEER_ROAM_NTF, 0);
}

void jazz_notify_peer_del(struct jazz_peer *peer, u32 reason)
{
	jazz_notify_peer(peer, JAZZ_CMD_PEER_DEL_NTF, reason);
}

void jazz_notify_key_rotate(struct jazz_peer *peer, struct jazz_key *key,
			    int slot)
{
	struct sk_buff *msg;
	struct nlattr *nest;
	void *hdr;

	msg = jazz_notify_new(peer->jd, JAZZ_CMD_KEY_ROTATE_NTF, &hdr);
	if (!msg)
		return;
	nest = nla_nest_start(msg, JAZZ_A_KEY);
	if (!nest ||
	    nla_put_u32(msg, JAZZ_A_KEYCONF_PEER_ID, peer->id) ||
	    nla_put_u32(msg, JAZZ_A_KEYCONF_SLOT, slot) ||
	    nla_put_u8(msg, JAZZ_A_KEYCONF_KEY_ID, key->key_id) ||
	    nla_put_u32(msg, JAZZ_A_KEYCONF_CIPHER, key->cipher) ||
	    nla_put_u64_64bit(msg, JAZZ_A_KEYCONF_TX_COUNTER,
			      atomic64_read(&key->tx_counter),
			      JAZZ_A_KEYCONF_PAD)) {
		nlmsg_free(msg);
		return;
	}
	nla_nest_end(msg, nest);
	genlmsg_end(msg, hdr);
	jazz_notify(msg, peer->jd);
}

/* ---- family ---- */

#define JAZZ_OP(_cmd, _doit, _dumpit, _policy)			\
	{							\
		.cmd = _cmd,					\
		.doit = _doit,					\
		.dumpit = _dumpit,				\
		.policy = _policy,				\
		.maxattr = JAZZ_A_MAX,				\
		.flags = GENL_UNS_ADMIN_PERM,			\
	}

static const struct genl_ops jazz_genl_ops[] = {
	JAZZ_OP(JAZZ_CMD_DEV_GET, jazz_nl_dev_get_doit, jazz_nl_dev_get_dumpit,
		jazz_dev_get_policy),
	JAZZ_OP(JAZZ_CMD_DEV_SET, jazz_nl_dev_set_doit, NULL,
		jazz_dev_set_policy),
	JAZZ_OP(JAZZ_CMD_PEER_NEW, jazz_nl_peer_new_doit, NULL,
		jazz_peer_op_policy),
	JAZZ_OP(JAZZ_CMD_PEER_SET, jazz_nl_peer_set_doit, NULL,
		jazz_peer_op_policy),
	JAZZ_OP(JAZZ_CMD_PEER_DEL, jazz_nl_peer_del_doit, NULL,
		jazz_peer_op_policy),
	JAZZ_OP(JAZZ_CMD_PEER_GET, jazz_nl_peer_get_doit,
		jazz_nl_peer_get_dumpit, jazz_peer_op_policy),
	JAZZ_OP(JAZZ_CMD_KEY_NEW, jazz_nl_key_new_doit, NULL,
		jazz_key_op_policy),
	JAZZ_OP(JAZZ_CMD_KEY_SWAP, jazz_nl_key_swap_doit, NULL,
		jazz_key_op_policy),
	JAZZ_OP(JAZZ_CMD_KEY_DEL, jazz_nl_key_del_doit, NULL,
		jazz_key_op_policy),
	JAZZ_OP(JAZZ_CMD_CONN_GET, jazz_nl_conn_doit, jazz_nl_conn_dumpit,
		jazz_conn_op_policy),
	JAZZ_OP(JAZZ_CMD_CONN_VERDICT, jazz_nl_conn_doit, NULL,
		jazz_conn_op_policy),
	JAZZ_OP(JAZZ_CMD_CONN_DEL, jazz_nl_conn_doit, NULL,
		jazz_conn_op_policy),
	JAZZ_OP(JAZZ_CMD_CONN_FLUSH, jazz_nl_conn_doit, NULL,
		jazz_conn_op_policy),
	JAZZ_OP(JAZZ_CMD_APPROVER_PROBE, jazz_nl_conn_doit, NULL,
		jazz_probe_op_policy),
	JAZZ_OP(JAZZ_CMD_APPROVER_PROBE_REPLY, jazz_nl_conn_doit, NULL,
		jazz_probe_reply_policy),
	JAZZ_OP(JAZZ_CMD_STUN_SEND, jazz_nl_conn_doit, NULL,
		jazz_stun_op_policy),
};

static const struct genl_multicast_group jazz_mcgrps[] = {
	/*
	 * Peer notifications carry endpoints, which peer-get shows only to
	 * admins: CAP_NET_ADMIN in the netns's user namespace to listen.
	 */
	[JAZZ_NLGRP_NOTIFY] = { .name = JAZZ_MCGRP_NOTIFY,
				.flags = JAZZ_MCGRP_ADMIN },
	/* Requests reveal who talks to whom: CAP_NET_ADMIN to listen. */
	[JAZZ_NLGRP_APPROVALS] = { .name = JAZZ_MCGRP_APPROVALS,
				   .flags = JAZZ_MCGRP_ADMIN },
	/* Datagrams to the device's port (stun.c): CAP_NET_ADMIN too. */
	[JAZZ_NLGRP_STUN] = { .name = JAZZ_MCGRP_STUN,
			      .flags = JAZZ_MCGRP_ADMIN },
};

struct genl_family jazz_genl_family __ro_after_init = {
	.name = JAZZ_GENL_NAME,
	.version = JAZZ_GENL_VERSION,
	.netnsok = true,
	.module = THIS_MODULE,
	.ops = jazz_genl_ops,
	.n_ops = ARRAY_SIZE(jazz_genl_ops),
	.resv_start_op = JAZZ_CMD_CONN_FLUSH + 1,
	.mcgrps = jazz_mcgrps,
	.n_mcgrps = ARRAY_SIZE(jazz_mcgrps),
	JAZZ_COMPAT_MCAST_BIND
};

int jazz_genl_init(void)
{
	return genl_register_family(&jazz_genl_family);
}

void jazz_genl_exit(void)
{
	genl_unregister_family(&jazz_genl_family);
}
