/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Differences between the kernel APIs jazz builds against (6.1 and 6.12).
 * Every LINUX_VERSION_CODE test of the module lives here.
 */
#ifndef _JAZZ_COMPAT_H
#define _JAZZ_COMPAT_H

#include <linux/version.h>
#include <linux/netdevice.h>
#include <net/genetlink.h>

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
#include <net/gso.h>
#endif
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
#include <linux/unaligned.h>
#else
#include <asm/unaligned.h>
#endif

/* 6.12 replaced NETIF_F_LLTX with the dev->lltx bit. */
static inline void jazz_compat_set_lltx(struct net_device *dev)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
	dev->lltx = true;
#else
	dev->features |= NETIF_F_LLTX;
#endif
}

/* 6.7 moved the dump request attributes into genl_dumpit_info.info. */
static inline struct nlattr **jazz_compat_dump_attrs(struct netlink_callback *cb)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
	return genl_dumpit_info(cb)->info.attrs;
#else
	return genl_dumpit_info(cb)->attrs;
#endif
}

#endif /* _JAZZ_COMPAT_H */
