/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Inside kernel/: the netlink backend's reply and notification parsers
 * (kernel_nl.c, kernel_parse.c), for kernel_nl.c and the libFuzzer
 * harness (tests/fuzz/fuzz_kstats.c); nothing else calls them.
 */
#ifndef JAZZD_KERNEL_INT_H
#define JAZZD_KERNEL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel.h"

#pragma GCC visibility push(hidden)
/* BUF of LEN bytes: DEV_GET replies and PEER_GET dump parts as the kernel
 * sends them; fills st->dev and st->peers (st->peers/max_peers set by the
 * caller, counts zeroed here). Returns mnl_cb_run's result. */
int jz_knl_parse_stats(const void *buf, size_t len, struct jz_kstats *st);
/* mnl_cb_run callbacks of that reading (kernel_parse.c): a DEV_GET reply
 * into the struct jz_kcounters at data; a PEER_GET dump part into the
 * struct jz_knl_peers_q at data (its peers_total, n_peers and last_id
 * zeroed before the dump; intr set if the kernel marked a part
 * NLM_F_DUMP_INTR); any: either, both into q->st. */
struct nlmsghdr;
struct jz_knl_peers_q {
	struct jz_kstats *st;
	uint32_t last_id;
	bool intr;
};
int jz_knl_stats_dev_cb(const struct nlmsghdr *nlh, void *data);
int jz_knl_stats_peers_cb(const struct nlmsghdr *nlh, void *data);
int jz_knl_stats_any_cb(const struct nlmsghdr *nlh, void *data);
/* One key-rotate-ntf message (nlh->nlmsg_len checked by the caller to lie
 * in its buffer): 0 and *r filled; -2 another device's; -1 malformed. */
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
