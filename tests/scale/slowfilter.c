// SPDX-License-Identifier: GPL-2.0
/*
 * slowfilter: a C plugin whose peer_filter is slow, for tests/host/scale-*.sh
 * and scripts/bench-scale.sh. It keeps every peer (a full mesh) but takes
 * $JZT_FILTER_MS milliseconds per call; when the file $JZT_STALL exists,
 * the first call with at least $JZT_STALL_MIN peers removes it and takes
 * $JZT_STALL_MS instead (one call longer than the server's callback
 * timeout, about enough peers that hiding them shows). While the file
 * $JZT_SLOW exists, each call takes $JZT_SLOW_MS instead of $JZT_FILTER_MS
 * (a filter that turns slow). Every call is counted in the log at debug
 * level. Concurrent: calls share no mutable state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <jazz/events.h>

const int jazz_events_abi = JAZZ_EVENTS_ABI_VERSION;
const int jazz_events_concurrent = 1;

static const struct jazz_host_api *host;

int jazz_events_init(const struct jazz_host_api *api)
{
	host = api;
	host->log(JAZZ_LOG_INFO, "slowfilter loaded: %s ms per peer_filter call",
		  getenv("JZT_FILTER_MS") ?: "0");
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (ms > 0 && nanosleep(&ts, &ts))
		;
}

int peer_filter(const struct jazz_peer_review *review, unsigned char *keep_users,
		unsigned char *keep_peers)
{
	const char *stall = getenv("JZT_STALL");

	if (stall && review->n_peers >= (size_t)atol(getenv("JZT_STALL_MIN") ?: "0") &&
	    !unlink(stall)) {
		host->log(JAZZ_LOG_INFO, "slowfilter: stalling the review of %s (%zu peers)",
			  review->username, review->n_peers);
		sleep_ms(atol(getenv("JZT_STALL_MS") ?: "3000"));
		return JAZZ_CB_OK;
	}
	if (getenv("JZT_SLOW") && !access(getenv("JZT_SLOW"), F_OK))
		sleep_ms(atol(getenv("JZT_SLOW_MS") ?: "0"));
	else
		sleep_ms(atol(getenv("JZT_FILTER_MS") ?: "0"));
	return JAZZ_CB_OK;
}
