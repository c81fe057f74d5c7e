/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A received netlink buffer checked before libmnl walks it: libmnl 1.0.4's
 * mnl_nlmsg_ok() takes an nlmsg_len of 2^31 or more for negative and
 * mnl_cb_run() then reads past the buffer (docs/TEAM-NOTES.md). For the
 * readers of jazz.ko's notifications in jazzctl and jazzd.
 */
#ifndef JAZZ_NLCHECK_H
#define JAZZ_NLCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/netlink.h>

/* Does every message of @buf (@n bytes) lie within it? */
static inline bool jz_nl_msgs_sane(const char *buf, size_t n)
{
	size_t off = 0;

	while (off + sizeof(struct nlmsghdr) <= n) {
		const struct nlmsghdr *h = (const void *)(buf + off);

		if (h->nlmsg_len < sizeof(*h) || h->nlmsg_len > n - off)
			return false;
		off += NLMSG_ALIGN(h->nlmsg_len);
	}
	return true;
}

#endif /* JAZZ_NLCHECK_H */
