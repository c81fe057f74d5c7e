// SPDX-License-Identifier: GPL-2.0
/*
 * jazz: STUN datagrams on the device's UDP socket (issue 20). A device
 * learns its public mapping, and later checks paths through NATs, with
 * STUN (RFC 8489) sent and received on its own tunnel socket, so the NAT
 * mapping found is the one its tunnel traffic uses. The kernel only
 * carries the datagrams: a received one is multicast on the "stun" group
 * (stun-rx-ntf), and stun-send sends one. It parses nothing beyond the
 * 20-byte header: userspace does the STUN.
 *
 * Bounds (a flood must neither exhaust memory nor starve the data path):
 * - at most stun_rate datagrams per second and device (module parameter,
 *   default 200; read when the device is created) become notifications;
 *   the others are counted (drop-stun-rate) and freed at once, before any
 *   allocation;
 * - nothing is queued in the kernel: a notification goes to the
 *   listeners' socket buffers (netlink_broadcast drops it for a listener
 *   whose buffer is full), so a listener that does not read pins at most
 *   its own receive buffer;
 * - datagrams above stun-max-len (1280) bytes are not STUN we hand on.
 * This file must not look into the STUN attributes or keep any state but
 * the rate limit.
 */
#include <linux/module.h>
#include <linux/ratelimit.h>
#include <net/ip.h>
#include <net/route.h>
#include <net/udp_tunnel.h>
#include <net/ipv6_stubs.h>
#include <net/ip6_route.h>
#include <jazz.h>
#include "device.h"
#include "peer.h"
#include "netlink.h"
#include "stun.h"

unsigned int jazz_stun_rate = 200;
module_param_named(stun_rate, jazz_stun_rate, uint, 0644);
MODULE_PARM_DESC(stun_rate,
		 "STUN datagrams per second and device handed to userspace (at device creation)");

/* Room for the link, IP and UDP headers in front of a sent message. */
#define JAZZ_STUN_HEADROOM	(MAX_HEADER + sizeof(struct ipv6hdr) + \
				 sizeof(struct udphdr))
/* ifindex, and the stun nest: address, port, scope, local port, data. */
#define JAZZ_STUN_MSG_SIZE(len)	(nla_total_size(4) + nla_total_size(0) + \
				 nla_total_size(16) + 2 * nla_total_size(2) + \
				 nla_total_size(4) + nla_total_size(len))

void jazz_stun_dev_init(struct jazz_device *jd)
{
	ratelimit_state_init(&jd->stun_rl, HZ, READ_ONCE(jazz_stun_rate));
	/* Count, never print: drop-stun-rate says how many were refused. */
	ratelimit_set_flags(&jd->stun_rl, RATELIMIT_MSG_ON_RELEASE);
}

/* An RFC 8489 header whose length field matches @len bytes. */
static bool jazz_stun_wellformed(const u8 *p, unsigned int len)
{
	unsigned int mlen;

	if (len < JAZZ_STUN_HDR_LEN || len > JAZZ_STUN_MAX_LEN)
		return false;
	mlen = get_unaligned_be16(p + 2);
	return !(p[0] & 0xc0) && !(mlen & 3) &&
	       mlen + JAZZ_STUN_HDR_LEN == len &&
	       get_unaligned_be32(p + 4) == JAZZ_STUN_MAGIC_COOKIE;
}

static int jazz_stun_fill(struct sk_buff *msg, struct jazz_device *jd,
			  struct sk_buff *skb, unsigned int off,
			  unsigned int len)
{
	struct jazz_endpoint src;
	struct nlattr *nest, *data;

	jazz_outer_source(skb, &src);
	if (nla_put_u32(msg, JAZZ_A_IFINDEX, jd->dev->ifindex))
		return -EMSGSIZE;
	nest = nla_nest_start(msg, JAZZ_A_STUN);
	if (!nest)
		return -EMSGSIZE;
	if (src.addr.sa_family == AF_INET) {
		if (nla_put_in_addr(msg, JAZZ_A_STUN_ADDR,
				    src.addr4.sin_addr.s_addr) ||
		    nla_put_be16(msg, JAZZ_A_STUN_PORT, src.addr4.sin_port))
			return -EMSGSIZE;
	} else if (nla_put_in6_addr(msg, JAZZ_A_STUN_ADDR,
				    &src.addr6.sin6_addr) ||
		   nla_put_be16(msg, JAZZ_A_STUN_PORT, src.addr6.sin6_port) ||
		   (src.addr6.sin6_scope_id &&
		    nla_put_u32(msg, JAZZ_A_STUN_SCOPE_ID,
				src.addr6.sin6_scope_id))) {
		return -EMSGSIZE;
	}
	if (nla_put_u16(msg, JAZZ_A_STUN_LOCAL_PORT,
			ntohs(udp_hdr(skb)->dest)))
		return -EMSGSIZE;
	data = nla_reserve(msg, JAZZ_A_STUN_DATA, len);
	if (!data || skb_copy_bits(skb, off, nla_data(data), len))
		return -EMSGSIZE;
	nla_nest_end(msg, nest);
	return 0;
}

void jazz_stun_rx(struct jazz_device *jd, struct sk_buff *skb,
		  unsigned int off)
{
	unsigned int len = skb->len - off;
	struct net *net = dev_net(jd->dev);
	enum jazz_stat st;
	struct sk_buff *msg;
	void *hdr;

	st = JAZZ_STAT_DROP_STUN_MALFORMED;
	if (!jazz_stun_wellformed(skb->data + off, len))
		goto out;
	st = JAZZ_STAT_DROP_STUN_NO_LISTENER;
	if (!jazz_stun_listening(net))
		goto out;
	st = JAZZ_STAT_DROP_STUN_RATE;
	if (!__ratelimit(&jd->stun_rl))
		goto out;
	st = JAZZ_STAT_DROP_STUN_NO_LISTENER;
	msg = genlmsg_new(JAZZ_STUN_MSG_SIZE(len), GFP_ATOMIC);
	if (!msg)
		goto out;
	hdr = genlmsg_put(msg, 0, 0, &jazz_genl_family, 0,
			  JAZZ_CMD_STUN_RX_NTF);
	if (!hdr || jazz_stun_fill(msg, jd, skb, off, len)) {
		nlmsg_free(msg);
		goto out;
	}
	genlmsg_end(msg, hdr);
	if (!jazz_stun_multicast(net, msg))
		st = JAZZ_STAT_RX_STUN;
out:
	jazz_stats_add(jd->stats, st, 1);
	if (st == JAZZ_STAT_RX_STUN)
		consume_skb(skb);
	else
		kfree_skb(skb);
}

/* ---- stun-send ---- */

static int jazz_stun_xmit4(struct jazz_device *jd, struct sk_buff *skb,
			   const struct nlattr *addr, __be16 port,
			   struct netlink_ext_ack *extack)
{
	struct sock *sk = rcu_dereference_bh(jd->sock4);
	struct flowi4 fl = {};
	struct rtable *rt;

	if (!sk) {
		NL_SET_ERR_MSG(extack, "the device has no IPv4 socket (down?)");
		return -ENETDOWN;
	}
	fl.daddr = nla_get_in_addr(addr);
	if (ipv4_is_zeronet(fl.daddr) || ipv4_is_lbcast(fl.daddr) ||
	    ipv4_is_multicast(fl.daddr)) {
		NL_SET_ERR_MSG_ATTR(extack, addr,
				    "addr must be an IPv4 unicast address");
		return -EINVAL;
	}
	fl.fl4_dport = port;
	fl.fl4_sport = inet_sk(sk)->inet_sport;
	fl.flowi4_mark = READ_ONCE(jd->fwmark);
	fl.flowi4_proto = IPPROTO_UDP;
	rt = ip_route_output_flow(sock_net(sk), &fl, sk);
	if (IS_ERR(rt)) {
		NL_SET_ERR_MSG_ATTR(extack, addr, "no route to addr");
		return PTR_ERR(rt);
	}
	if (rt->rt_flags & (RTCF_BROADCAST | RTCF_MULTICAST)) {
		ip_rt_put(rt);
		NL_SET_ERR_MSG_ATTR(extack, addr,
				    "addr is a broadcast or multicast address");
		return -EINVAL;
	}
	if (rt->dst.dev == jd->dev) {
		ip_rt_put(rt);
		NL_SET_ERR_MSG_ATTR(extack, addr,
				    "the route to addr goes through the device itself");
		return -ELOOP;
	}
	skb->dev = jd->dev;
	skb->mark = fl.flowi4_mark;
	udp_tunnel_xmit_skb(rt, sk, skb, fl.saddr, fl.daddr, 0,
			    ip4_dst_hoplimit(&rt->dst), 0, fl.fl4_sport,
			    fl.fl4_dport, false, false);
	return 0;
}

#if IS_ENABLED(CONFIG_IPV6)
static int jazz_stun_xmit6(struct jazz_device *jd, struct sk_buff *skb,
			   const struct nlattr *addr, __be16 port, u32 scope,
			   struct netlink_ext_ack *extack)
{
	struct sock *sk = rcu_dereference_bh(jd->sock6);
	struct dst_entry *dst;
	struct flowi6 fl = {};
	int type;

	if (!sk) {
		NL_SET_ERR_MSG(extack, "the device has no IPv6 socket (down?)");
		return -ENETDOWN;
	}
	fl.daddr = nla_get_in6_addr(addr);
	type = ipv6_addr_type(&fl.daddr);
	if (type & (IPV6_ADDR_MULTICAST | IPV6_ADDR_MAPPED) ||
	    type == IPV6_ADDR_ANY) {
		NL_SET_ERR_MSG_ATTR(extack, addr,
				    "addr must be an IPv6 unicast address");
		return -EINVAL;
	}
	if ((type & IPV6_ADDR_LINKLOCAL) && !scope) {
		NL_SET_ERR_MSG_ATTR(extack, addr,
				    "a link-local addr needs scope-id");
		return -EINVAL;
	}
	fl.fl6_dport = port;
	fl.fl6_sport = inet_sk(sk)->inet_sport;
	fl.flowi6_mark = READ_ONCE(jd->fwmark);
	fl.flowi6_oif = scope;
	fl.flowi6_proto = IPPROTO_UDP;
	dst = ipv6_stub->ipv6_dst_lookup_flow(sock_net(sk), sk, &fl, NULL);
	if (IS_ERR(dst)) {
		NL_SET_ERR_MSG_ATTR(extack, addr, "no route to addr");
		return PTR_ERR(dst);
	}
	if (dst->dev == jd->dev) {
		dst_release(dst);
		NL_SET_ERR_MSG_ATTR(extack, addr,
				    "the route to addr goes through the device itself");
		return -ELOOP;
	}
	skb->mark = fl.flowi6_mark;
	udp_tunnel6_xmit_skb(dst, sk, skb, jd->dev, &fl.saddr, &fl.daddr, 0,
			     ip6_dst_hoplimit(dst), 0, fl.fl6_sport,
			     fl.fl6_dport, false);
	return 0;
}
#endif

/*
 * Lifetime: the caller holds the device (dev_hold) and its config mutex,
 * and the device is not dead, so its sockets can be neither replaced nor
 * released (both happen under the mutex) until this returns; the skb is
 * the IP stack's once handed to udp_tunnel*_xmit_skb().
 */
int jazz_stun_send(struct jazz_device *jd, struct genl_info *info)
{
	struct nlattr *tb[JAZZ_A_STUN_MAX + 1], *a;
	struct netlink_ext_ack *extack = info->extack;
	struct sk_buff *skb;
	unsigned int len;
	__be16 port;
	u32 scope;
	int err;

	if (GENL_REQ_ATTR_CHECK(info, JAZZ_A_STUN))
		return -EINVAL;
	/* Validated against the stun policy when the request was parsed. */
	err = nla_parse_nested_deprecated(tb, JAZZ_A_STUN_MAX,
					  info->attrs[JAZZ_A_STUN], NULL, extack);
	if (err)
		return err;
	a = info->attrs[JAZZ_A_STUN];
	if (NL_REQ_ATTR_CHECK(extack, a, tb, JAZZ_A_STUN_ADDR) ||
	    NL_REQ_ATTR_CHECK(extack, a, tb, JAZZ_A_STUN_PORT) ||
	    NL_REQ_ATTR_CHECK(extack, a, tb, JAZZ_A_STUN_DATA)) {
		NL_SET_ERR_MSG(extack, "stun needs addr, port and data");
		return -EINVAL;
	}
	if (nla_len(tb[JAZZ_A_STUN_ADDR]) != 4 &&
	    nla_len(tb[JAZZ_A_STUN_ADDR]) != 16) {
		NL_SET_ERR_MSG_ATTR(extack, tb[JAZZ_A_STUN_ADDR],
				    "addr must be 4 (IPv4) or 16 (IPv6) bytes");
		return -EINVAL;
	}
	len = nla_len(tb[JAZZ_A_STUN_DATA]);
	if (!jazz_stun_wellformed(nla_data(tb[JAZZ_A_STUN_DATA]), len)) {
		NL_SET_ERR_MSG_ATTR(extack, tb[JAZZ_A_STUN_DATA],
				    "data is not a STUN message (RFC 8489 header)");
		return -EINVAL;
	}
	if (!jd->creating_net) {
		NL_SET_ERR_MSG(extack, "the device's sockets are gone with their namespace");
		return -ENETDOWN;
	}
	if (!ns_capable(jd->creating_net->user_ns, CAP_NET_ADMIN)) {
		NL_SET_ERR_MSG(extack,
			       "stun-send needs CAP_NET_ADMIN where the sockets live");
		return -EPERM;
	}
	port = nla_get_be16(tb[JAZZ_A_STUN_PORT]);
	scope = tb[JAZZ_A_STUN_SCOPE_ID] ?
		nla_get_u32(tb[JAZZ_A_STUN_SCOPE_ID]) : 0;

	skb = alloc_skb(JAZZ_STUN_HEADROOM + len, GFP_KERNEL);
	if (!skb)
		return -ENOMEM;
	skb_reserve(skb, JAZZ_STUN_HEADROOM);
	skb_put_data(skb, nla_data(tb[JAZZ_A_STUN_DATA]), len);

	rcu_read_lock_bh();
	if (nla_len(tb[JAZZ_A_STUN_ADDR]) == 4) {
		err = jazz_stun_xmit4(jd, skb, tb[JAZZ_A_STUN_ADDR], port,
				      extack);
	} else {
#if IS_ENABLED(CONFIG_IPV6)
		err = jazz_stun_xmit6(jd, skb, tb[JAZZ_A_STUN_ADDR], port,
				      scope, extack);
#else
		NL_SET_ERR_MSG(extack, "IPv6 is not available");
		err = -EAFNOSUPPORT;
#endif
	}
	if (!err)
		jazz_stats_add(jd->stats, JAZZ_STAT_TX_STUN, 1);
	rcu_read_unlock_bh();
	if (err)
		kfree_skb(skb);
	return err;
}
