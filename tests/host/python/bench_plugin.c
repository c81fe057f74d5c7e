// SPDX-License-Identifier: GPL-2.0
/*
 * The C side of scripts/bench-callbacks.sh: the same peer_connection as
 * tests/host/python/bench.py (approve, log nothing), as a native plugin.
 * Used only when the daemon's sample plugin is not built.
 */
#include <string.h>
#include <jazz/events.h>

const int jazz_events_abi = JAZZ_EVENTS_ABI_VERSION;
const int jazz_events_concurrent = 1;

int peer_connection(const struct jazz_connection_info *info,
		    struct jazz_connection_reply *reply)
{
	reply->approve = strcmp(info->protocol, "tcp") != 0 || info->destination.port != 22;
	reply->lifetime_s = 0;
	return JAZZ_CB_OK;
}
