/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Anti-replay window in the style of RFC 6479: a ring of 64-bit words, the
 * newest word is cleared lazily as the top counter moves forward, so a jump
 * costs at most JAZZ_REPLAY_WORDS word writes.
 *
 * Locking: the caller serialises jazz_replay_check() on one window (the key's
 * replay_lock); jazz_replay_init() needs no concurrent users.
 */
#ifndef _JAZZ_REPLAY_H
#define _JAZZ_REPLAY_H

#include <linux/types.h>

#define JAZZ_REPLAY_WORDS	64
/* One word is the ring's slack: 63 * 64 = 4032 packets of reordering. */
#define JAZZ_REPLAY_WINDOW	((JAZZ_REPLAY_WORDS - 1) * 64)
/* Counters from here on are never accepted (the sender stops earlier). */
#define JAZZ_REPLAY_REJECT	(U64_MAX - JAZZ_REPLAY_WINDOW - 1)

struct jazz_replay {
	u64 top;	/* highest accepted counter + 1; 0 when none yet */
	u64 bitmap[JAZZ_REPLAY_WORDS];
};

void jazz_replay_init(struct jazz_replay *r);
/* Returns true and records @counter if it was never seen and is in window. */
bool jazz_replay_check(struct jazz_replay *r, u64 counter);

#endif /* _JAZZ_REPLAY_H */
