// SPDX-License-Identifier: GPL-2.0
/*
 * jazz: anti-replay window (RFC 6479 style).
 */
#include <linux/string.h>
#include <linux/minmax.h>
#include "replay.h"

void jazz_replay_init(struct jazz_replay *r)
{
	memset(r, 0, sizeof(*r));
}

bool jazz_replay_check(struct jazz_replay *r, u64 counter)
{
	u64 index, cur, diff, i;

	if (counter >= JAZZ_REPLAY_REJECT)
		return false;
	/* Shift by one so that counter 0 is distinct from "nothing seen". */
	counter++;
	index = counter >> 6;
	if (counter > r->top) {
		cur = r->top >> 6;
		diff = min_t(u64, index - cur, JAZZ_REPLAY_WORDS);
		for (i = 1; i <= diff; i++)
			r->bitmap[(cur + i) % JAZZ_REPLAY_WORDS] = 0;
		r->top = counter;
	} else if (r->top - counter >= JAZZ_REPLAY_WINDOW) {
		return false;
	}
	index %= JAZZ_REPLAY_WORDS;
	if (r->bitmap[index] & (1ULL << (counter & 63)))
		return false;
	r->bitmap[index] |= 1ULL << (counter & 63);
	return true;
}
