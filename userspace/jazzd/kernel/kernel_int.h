/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Inside kernel/: the netlink backend's reply and notification parsers
 * (kernel_nl.c, kernel_parse.c), for kernel_nl.c and the libFuzzer
 * harness (tests/fuzz/fuzz_kstats.c); nothing else calls them.
 */
#ifndef JAZZD_KERNEL_INT_H
#define JAZZD_KERNEL_INT_H

#include <stddef.h>

#include "kernel.h"

#pragma GCC visibility push(hidden)
/* BUF of LEN bytes: DEV_GET replies and PEER_GET dump parts as the kernel
 * sends them; fills st->dev and st->peers (st->peers/max_peers set by the
 * caller, counts zeroed here). Returns mnl_cb_run's result. */
int jz_knl_parse_stats(const void *buf, size_t len, struct jz_kstats *st);
/* One key-rotate-ntf message (nlh->nlmsg_len checked by the caller to lie
 * in its buffer): 0 and *r filled; -2 another device's; -1 malformed. */
struct nlmsghdr;
int jz_knl_parse_rotate(const struct nlmsghdr *nlh, uint32_t ifindex, struct jz_krotate *r);
/* One conn-request-ntf or conn-expire-ntf (nlh checked as above): 0 and *c
 * filled (addresses of one family, a known direction, an end only on
 * expiry); -2 another device's; -1 malformed. */
int jz_knl_parse_conn(const struct nlmsghdr *nlh, uint32_t ifindex, struct jz_kconn *c);
/* One stun-rx-ntf (nlh checked as above): 0 and *s filled; -2 another
 * device's; -1 malformed. */
int jz_knl_parse_stun(const struct nlmsghdr *nlh, uint32_t ifindex, struct jz_kstun *s);
/* One peer-roam-ntf (nlh checked as above): 0 and *r filled (a peer id,
 * an endpoint with a port); -2 another device's; -1 malformed. */
int jz_knl_parse_roam(const struct nlmsghdr *nlh, uint32_t ifindex, struct jz_kroam *r);

/* kernel_stun.c: the netlink backend's STUN socket (its own, so that a
 * flood of STUN cannot overrun the approvals socket). */
struct knl_stun;
struct knl_stun *jz_knl_stun_new(struct jz_kernel *k, uint16_t family, uint32_t grp,
				 uint32_t ifindex, const char *ifname);
int jz_knl_stun_send(struct knl_stun *st, const struct sockaddr_storage *to,
		     const void *msg, size_t len);
void jz_knl_stun_free(struct knl_stun *st);
#pragma GCC visibility pop

#endif
