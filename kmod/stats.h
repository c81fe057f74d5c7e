/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-cpu counters of a device or a peer. The index order equals the order
 * of the "stats" attribute set (JAZZ_A_STATS_RX_PACKETS is index 0).
 * A drop reason counts one direction only (receive: DROP_*, send: TX_DROP_*
 * and the send-only DROP_NO_ENDPOINT ... DROP_TX_ERROR; DROP_CONNCHECK and
 * the hold drops count both), so received datagrams add up exactly:
 * rx_packets + rx_stun + the receive drops = datagrams the socket handed
 * to jazz, where a GRO batch (RX_GRO_BATCHES, its datagrams counted in
 * RX_GRO_DATAGRAMS) counts as the datagrams it carries.
 *
 * Locking: each cpu writes only its own copy with BHs disabled or from
 * softirq; readers sum all copies under u64_stats_fetch_begin/retry.
 */
#ifndef _JAZZ_STATS_H
#define _JAZZ_STATS_H

#include <linux/percpu.h>
#include <linux/u64_stats_sync.h>
#include <linux/skbuff.h>
#include <jazz.h>

enum jazz_stat {
	JAZZ_STAT_RX_PACKETS,
	JAZZ_STAT_RX_BYTES,
	JAZZ_STAT_TX_PACKETS,
	JAZZ_STAT_TX_BYTES,
	JAZZ_STAT_DROP_MALFORMED,
	JAZZ_STAT_DROP_NO_PEER,
	JAZZ_STAT_DROP_NO_KEY,
	JAZZ_STAT_DROP_AUTH,
	JAZZ_STAT_DROP_REPLAY,
	JAZZ_STAT_DROP_SOURCE,
	JAZZ_STAT_DROP_NO_ENDPOINT,
	JAZZ_STAT_DROP_KEY_EXHAUSTED,
	JAZZ_STAT_DROP_LOOP,
	JAZZ_STAT_DROP_CONNCHECK,
	JAZZ_STAT_DROP_HOLD_OVERFLOW,
	JAZZ_STAT_DROP_CONN_FULL,
	JAZZ_STAT_DROP_TIMEOUT,
	JAZZ_STAT_DROP_TX_ERROR,
	JAZZ_STAT_HELD,
	JAZZ_STAT_DROP_QUEUE_FULL,
	JAZZ_STAT_TX_DROP_NO_PEER,
	JAZZ_STAT_TX_DROP_NO_KEY,
	JAZZ_STAT_TX_DROP_MALFORMED,
	JAZZ_STAT_TX_DROP_QUEUE_FULL,
	JAZZ_STAT_RX_STUN,		/* stun.c: device counters only */
	JAZZ_STAT_DROP_STUN_MALFORMED,
	JAZZ_STAT_DROP_STUN_RATE,
	JAZZ_STAT_DROP_STUN_NO_LISTENER,
	JAZZ_STAT_TX_STUN,
	JAZZ_STAT_RX_GRO_BATCHES,	/* receive.c: device counters only */
	JAZZ_STAT_RX_GRO_DATAGRAMS,
	JAZZ_STAT_NUM
};

static_assert(JAZZ_A_STATS_RX_PACKETS + JAZZ_STAT_NUM - 1 == JAZZ_A_STATS_MAX);

struct jazz_stats {
	u64_stats_t v[JAZZ_STAT_NUM];
	struct u64_stats_sync syncp;
};

static inline void jazz_stats_add(struct jazz_stats __percpu *st,
				  enum jazz_stat i, u64 n)
{
	struct jazz_stats *s;
	unsigned long flags;

	if (!st)
		return;
	s = get_cpu_ptr(st);
	flags = u64_stats_update_begin_irqsave(&s->syncp);
	u64_stats_add(&s->v[i], n);
	u64_stats_update_end_irqrestore(&s->syncp, flags);
	put_cpu_ptr(st);
}

void jazz_stats_sum(struct jazz_stats __percpu *st, u64 *out);
int jazz_stats_put(struct sk_buff *msg, int attr, struct jazz_stats __percpu *st);

#endif /* _JAZZ_STATS_H */
