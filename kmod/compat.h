/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Differences between the kernel APIs jazz builds against (6.1 .. 6.12).
 * kmod/Kbuild detects each one from the headers (JAZZ_HAVE_*); without a
 * definition the older API is used, so an in-tree build of the 6.1
 * sources (KUnit) needs none. Every such test of the module lives here.
 */
#ifndef _JAZZ_COMPAT_H
#define _JAZZ_COMPAT_H

#include <linux/netdevice.h>
#include <net/genetlink.h>

#ifdef JAZZ_HAVE_NET_GSO_H		/* 6.5: GSO helpers left netdevice.h */
#include <net/gso.h>
#endif
#ifdef JAZZ_HAVE_LINUX_UNALIGNED_H	/* 6.12: asm/ moved to linux/ */
#include <linux/unaligned.h>
#else
#include <asm/unaligned.h>
#endif

/* 6.12 replaced NETIF_F_LLTX with the dev->lltx bit. */
static inline void jazz_compat_set_lltx(struct net_device *dev)
{
#ifdef JAZZ_HAVE_DEV_LLTX
	dev->lltx = true;
#else
	dev->features |= NETIF_F_LLTX;
#endif
}

/*
 * Since 6.7 (and in Debian's 6.1, which has the backport) the core allocates
 * and frees dev->tstats itself when dev->pcpu_stat_type says so, and the ip
 * tunnel transmit helpers of later kernels WARN for a device that does not.
 * Older kernels: the driver allocates and frees them.
 */
static inline void jazz_compat_tstats_setup(struct net_device *dev)
{
#ifdef JAZZ_HAVE_PCPU_STAT_TYPE
	dev->pcpu_stat_type = NETDEV_PCPU_STAT_TSTATS;
#endif
}

static inline int jazz_compat_tstats_alloc(struct net_device *dev)
{
#ifndef JAZZ_HAVE_PCPU_STAT_TYPE
	dev->tstats = netdev_alloc_pcpu_stats(struct pcpu_sw_netstats);
	if (!dev->tstats)
		return -ENOMEM;
#endif
	return 0;
}

static inline void jazz_compat_tstats_free(struct net_device *dev)
{
#ifndef JAZZ_HAVE_PCPU_STAT_TYPE
	free_percpu(dev->tstats);
	dev->tstats = NULL;
#endif
}

/* 6.7 moved the dump request attributes into genl_dumpit_info.info. */
static inline struct nlattr **jazz_compat_dump_attrs(struct netlink_callback *cb)
{
#ifdef JAZZ_HAVE_DUMPIT_INFO_INFO
	return genl_dumpit_info(cb)->info.attrs;
#else
	return genl_dumpit_info(cb)->attrs;
#endif
}

/*
 * Multicast groups only for CAP_NET_ADMIN in the user namespace of the
 * netns: the group flag GENL_MCAST_CAP_NET_ADMIN (upstream 6.6; Debian's
 * 6.1 and 6.12 have it, genl_bind() checks ns_capable(net->user_ns)).
 * Without it the family's mcast_bind callback does the same check for
 * every group (6.1's signature; a kernel without the flag has it).
 */
#ifdef JAZZ_HAVE_GENL_MCAST_CAP
#define JAZZ_MCGRP_ADMIN	GENL_MCAST_CAP_NET_ADMIN
#define JAZZ_COMPAT_MCAST_BIND
#else
#define JAZZ_MCGRP_ADMIN	0
static inline int jazz_compat_mcast_bind(struct net *net, int group)
{
	return ns_capable(net->user_ns, CAP_NET_ADMIN) ? 0 : -EPERM;
}

#define JAZZ_COMPAT_MCAST_BIND	.mcast_bind = jazz_compat_mcast_bind,
#endif

/*
 * 6.3 made a crypto completion take the request's data pointer instead of
 * the request. JAZZ_COMPAT_CRYPTO_DONE(name, fn) defines the completion
 * @name that calls fn(void *data, int err) on every kernel.
 */
#ifdef JAZZ_HAVE_CRYPTO_COMPLETION_DATA
#define JAZZ_COMPAT_CRYPTO_DONE(name, fn)				\
static void name(void *data, int err)					\
{									\
	fn(data, err);							\
}
#else
#define JAZZ_COMPAT_CRYPTO_DONE(name, fn)				\
static void name(struct crypto_async_request *req, int err)		\
{									\
	fn(req->data, err);						\
}
#endif

/*
 * crypto_force_async's wrapper. Before 6.3 cryptd's AEAD instances fail the
 * crypto self-tests ("corrupted request struct", with a WARN), so none can
 * be allocated; pcrypt (padata) is the asynchronous wrapper there. No
 * header shows cryptd's fix; the completion API above changed in the same
 * release (6.3), so it stands for both.
 */
#ifdef JAZZ_HAVE_CRYPTO_COMPLETION_DATA
#define JAZZ_ASYNC_WRAPPER	"cryptd"
#else
#define JAZZ_ASYNC_WRAPPER	"pcrypt"
#endif

#endif /* _JAZZ_COMPAT_H */
