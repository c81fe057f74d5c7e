// SPDX-License-Identifier: GPL-2.0
/*
 * jazz: UDP tunnel sockets. They live in the namespace the device was
 * created in, even after the device moves elsewhere (like WireGuard).
 */
#include <linux/net.h>
#include <linux/random.h>
#include <net/udp_tunnel.h>
#include <net/ipv6_stubs.h>
#include <net/ip6_route.h>
#include <net/route.h>
#include <net/inet_ecn.h>
#include "device.h"
#include "peer.h"
#include "socket.h"
#include "send.h"
#include "messages.h"

/*
 * A UDP tunnel socket: encap_rcv takes every datagram in softirq, and its
 * GRO hooks let a receiving device's GRO hand over batches of them
 * (receive.c, "Receive batching"). The hooks run under the GRO layer's
 * RCU read side while the socket can be found; jazz_socket_swap() waits a
 * grace period before releasing it.
 */
static int jazz_sock_create(struct jazz_device *jd, int family, u16 port,
			    struct socket **sockp)
{
	struct udp_port_cfg cfg = {
		.family = family,
		.local_udp_port = htons(port),
	};
	struct udp_tunnel_sock_cfg tcfg = {
		.sk_user_data = jd,
		.encap_type = 1,
		.encap_rcv = jazz_udp_recv,
		.gro_receive = jazz_gro_receive,
		.gro_complete = jazz_gro_complete,
	};
	struct socket *sock;
	int err;

	if (family == AF_INET6) {
		cfg.ipv6_v6only = 1;
		cfg.use_udp6_rx_checksums = true;
		cfg.use_udp6_tx_checksums = true;
	}
	err = udp_sock_create(jd->creating_net, &cfg, &sock);
	if (err)
		return err;
	sock->sk->sk_allocation = GFP_ATOMIC;
	sock->sk->sk_sndbuf = INT_MAX;
	setup_udp_tunnel_sock(jd->creating_net, sock, &tcfg);
	*sockp = sock;
	return 0;
}

static void jazz_sock_release(struct sock *sk)
{
	if (sk)
		udp_tunnel_sock_release(sk->sk_socket);
}

/* Put @s4/@s6 in place of the device's sockets and release the old ones. */
static void jazz_socket_swap(struct jazz_device *jd, struct sock *s4,
			     struct sock *s6)
{
	struct sock *o4, *o6;

	o4 = rcu_replace_pointer(jd->sock4, s4, lockdep_is_held(&jd->lock));
	o6 = rcu_replace_pointer(jd->sock6, s6, lockdep_is_held(&jd->lock));
	if (!o4 && !o6)
		return;
	synchronize_net();
	jazz_sock_release(o4);
	jazz_sock_release(o6);
}

void jazz_socket_close(struct jazz_device *jd)
{
	jazz_socket_swap(jd, NULL, NULL);
}

/*
 * Bind new sockets to @port (0: any), then replace the old ones: make
 * before break, so a port that cannot be bound leaves the tunnel as it
 * was. Config mutex held.
 */
int jazz_socket_open(struct jazz_device *jd, u16 port)
{
	struct socket *s4 = NULL, *s6 = NULL;
	int tries = port ? 1 : 100;
	int err;

	lockdep_assert_held(&jd->lock);
	if (!jd->creating_net)
		return -ENONET;
	while (tries--) {
		err = jazz_sock_create(jd, AF_INET, port, &s4);
		if (err)
			return err;
		port = ntohs(inet_sk(s4->sk)->inet_sport);
#if IS_ENABLED(CONFIG_IPV6)
		err = jazz_sock_create(jd, AF_INET6, port, &s6);
		if (err == -EADDRINUSE && tries) {
			udp_tunnel_sock_release(s4);
			s4 = NULL;
			port = 0;
			continue;
		}
		if (err == -EAFNOSUPPORT)
			err = 0;	/* IPv6 disabled: IPv4 only */
		if (err) {
			udp_tunnel_sock_release(s4);
			return err;
		}
#endif
		break;
	}
	jd->listen_port = port;
	jazz_socket_swap(jd, s4->sk, s6 ? s6->sk : NULL);
	return 0;
}

/* The route of @fl, from the peer's cache or looked up and cached. */
static struct rtable *jazz_route4(struct jazz_peer *peer, struct sock *sk,
				  struct flowi4 *fl)
{
	struct rtable *rt;

	rt = dst_cache_get_ip4(&peer->dst_cache, &fl->saddr);
	if (rt)
		return rt;
	rt = ip_route_output_flow(sock_net(sk), fl, sk);
	if (IS_ERR(rt))
		return rt;
	if (rt->dst.dev == peer->jd->dev) {
		ip_rt_put(rt);
		return ERR_PTR(-ELOOP);
	}
	dst_cache_set_ip4(&peer->dst_cache, &rt->dst, fl->saddr);
	return rt;
}

static void jazz_flow4(struct jazz_peer *peer, struct sock *sk,
		       struct flowi4 *fl, __be32 daddr, __be16 dport)
{
	memset(fl, 0, sizeof(*fl));
	fl->daddr = daddr;
	fl->fl4_dport = dport;
	fl->fl4_sport = inet_sk(sk)->inet_sport;
	fl->flowi4_mark = READ_ONCE(peer->jd->fwmark);
	fl->flowi4_proto = IPPROTO_UDP;
}

/*
 * A UDP GSO super-packet (send.c) gets its datagrams' checksums when it is
 * cut (__udp_gso_segment(), which wants CHECKSUM_PARTIAL from the UDP
 * header): udp_set_csum() and udp6_set_csum() leave the pseudo-header sum
 * of the whole in uh->check for a GSO skb and set nothing else.
 */
static void jazz_gso_csum(struct sk_buff *skb)
{
	if (!skb_is_gso(skb))
		return;
	skb->ip_summed = CHECKSUM_PARTIAL;
	skb->csum_start = skb_headroom(skb) - sizeof(struct udphdr);
	skb->csum_offset = offsetof(struct udphdr, check);
}

static int jazz_send4(struct jazz_peer *peer, struct sock *sk,
		      struct sk_buff *skb, __be32 daddr, __be16 dport, u8 ds)
{
	struct jazz_device *jd = peer->jd;
	struct flowi4 fl;
	struct rtable *rt;

	jazz_flow4(peer, sk, &fl, daddr, dport);
	rt = jazz_route4(peer, sk, &fl);
	if (IS_ERR(rt))
		return PTR_ERR(rt);
	/* Nothing of the inner packet (conntrack, dst, mark...) goes out. */
	skb_scrub_packet(skb, !net_eq(dev_net(jd->dev), sock_net(sk)));
	skb->mark = READ_ONCE(jd->fwmark);
	jazz_gso_csum(skb);
	udp_tunnel_xmit_skb(rt, sk, skb, fl.saddr, fl.daddr, ds,
			    ip4_dst_hoplimit(&rt->dst), 0, fl.fl4_sport,
			    fl.fl4_dport, false, false);
	return 0;
}

#if IS_ENABLED(CONFIG_IPV6)
static struct dst_entry *jazz_route6(struct jazz_peer *peer, struct sock *sk,
				     struct flowi6 *fl)
{
	struct dst_entry *dst;

	dst = dst_cache_get_ip6(&peer->dst_cache, &fl->saddr);
	if (dst)
		return dst;
	dst = ipv6_stub->ipv6_dst_lookup_flow(sock_net(sk), sk, fl, NULL);
	if (IS_ERR(dst))
		return dst;
	if (dst->dev == peer->jd->dev) {
		dst_release(dst);
		return ERR_PTR(-ELOOP);
	}
	dst_cache_set_ip6(&peer->dst_cache, dst, &fl->saddr);
	return dst;
}

static void jazz_flow6(struct jazz_peer *peer, struct sock *sk,
		       struct flowi6 *fl, const struct sockaddr_in6 *a)
{
	memset(fl, 0, sizeof(*fl));
	fl->daddr = a->sin6_addr;
	fl->fl6_dport = a->sin6_port;
	fl->fl6_sport = inet_sk(sk)->inet_sport;
	fl->flowi6_mark = READ_ONCE(peer->jd->fwmark);
	fl->flowi6_oif = a->sin6_scope_id;
	fl->flowi6_proto = IPPROTO_UDP;
}

static int jazz_send6(struct jazz_peer *peer, struct sock *sk,
		      struct sk_buff *skb, const struct sockaddr_in6 *a,
		      u8 ds)
{
	struct jazz_device *jd = peer->jd;
	struct dst_entry *dst;
	struct flowi6 fl;

	jazz_flow6(peer, sk, &fl, a);
	dst = jazz_route6(peer, sk, &fl);
	if (IS_ERR(dst))
		return PTR_ERR(dst);
	/*
	 * ip6tunnel_xmit() does not scrub (iptunnel_xmit() does): without
	 * this the outer packet kept the inner one's conntrack entry.
	 */
	skb_scrub_packet(skb, !net_eq(dev_net(jd->dev), sock_net(sk)));
	/*
	 * What reaches here may be fragmented: jazz_xmit() answered
	 * packet-too-big for the packets that may not (send.c).
	 */
	skb->ignore_df = 1;
	skb->mark = READ_ONCE(jd->fwmark);
	jazz_gso_csum(skb);
	udp_tunnel6_xmit_skb(dst, sk, skb, skb->dev, &fl.saddr, &fl.daddr, ds,
			     ip6_dst_hoplimit(dst), 0, fl.fl6_sport,
			     fl.fl6_dport, false);
	return 0;
}
#endif

/*
 * The largest inner packet that fits the path to the peer's endpoint in
 * one outer packet, or 0 when unknown (no endpoint, socket or route).
 * BHs off, rcu_read_lock held.
 */
unsigned int jazz_socket_inner_mtu(struct jazz_peer *peer)
{
	struct jazz_device *jd = peer->jd;
	struct jazz_endpoint ep;
	unsigned int mtu = 0;
	struct sock *sk;

	read_lock(&peer->ep_lock);
	ep = peer->ep;
	read_unlock(&peer->ep_lock);
	if (ep.addr.sa_family == AF_INET) {
		struct flowi4 fl;
		struct rtable *rt;

		sk = rcu_dereference(jd->sock4);
		if (!sk)
			return 0;
		jazz_flow4(peer, sk, &fl, ep.addr4.sin_addr.s_addr,
			   ep.addr4.sin_port);
		rt = jazz_route4(peer, sk, &fl);
		if (IS_ERR(rt))
			return 0;
		mtu = dst_mtu(&rt->dst);
		ip_rt_put(rt);
		mtu -= sizeof(struct iphdr);
#if IS_ENABLED(CONFIG_IPV6)
	} else if (ep.addr.sa_family == AF_INET6) {
		struct dst_entry *dst;
		struct flowi6 fl;

		sk = rcu_dereference(jd->sock6);
		if (!sk)
			return 0;
		jazz_flow6(peer, sk, &fl, &ep.addr6);
		dst = jazz_route6(peer, sk, &fl);
		if (IS_ERR(dst))
			return 0;
		mtu = dst_mtu(dst);
		dst_release(dst);
		mtu -= sizeof(struct ipv6hdr);
#endif
	} else {
		return 0;
	}
	if (mtu <= sizeof(struct udphdr) + JAZZ_OVERHEAD)
		return 0;
	return mtu - sizeof(struct udphdr) - JAZZ_OVERHEAD;
}

/*
 * The endpoint is read, its route looked up and cached, and the packet sent
 * under ep_lock: a roam in between would otherwise let this sender cache the
 * route of the old endpoint after the roam reset the cache, and every later
 * packet would take that route (of the other family, even) until the next
 * roam.
 */
int jazz_socket_send(struct jazz_peer *peer, struct sk_buff *skb, u8 ds)
{
	struct jazz_device *jd = peer->jd;
	struct sock *sk;
	int err;

	skb_mark_not_on_list(skb);
	skb->dev = jd->dev;
	read_lock_bh(&peer->ep_lock);
	if (peer->ep.addr.sa_family == AF_INET) {
		sk = rcu_dereference(jd->sock4);
		err = sk ? jazz_send4(peer, sk, skb,
				      peer->ep.addr4.sin_addr.s_addr,
				      peer->ep.addr4.sin_port, ds) :
			   -EAFNOSUPPORT;
#if IS_ENABLED(CONFIG_IPV6)
	} else if (peer->ep.addr.sa_family == AF_INET6) {
		sk = rcu_dereference(jd->sock6);
		err = sk ? jazz_send6(peer, sk, skb, &peer->ep.addr6, ds) :
			   -EAFNOSUPPORT;
#endif
	} else {
		err = -EDESTADDRREQ;
	}
	read_unlock_bh(&peer->ep_lock);
	if (err)
		kfree_skb(skb);
	return err;
}
