#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# controlplane-peers.sh with a plugin that answers through peer_filter_many
# (jazz/events.h 4b: many viewers against one set of peers in one call):
# the same rules, the same lists, the same per-viewer reviews as the seed's
# peer_filter sees them; and calls of many viewers (the viewers online
# asked about a newcomer, the reload's full reviews). TAP output.
JZT_FILTER_ABI=many exec bash "$(dirname "$0")/controlplane-peers.sh" "$@"
