// SPDX-License-Identifier: GPL-2.0
/*
 * Paths between devices, as the server learns them (issue 20), and the
 * peer-path-changed event (docs/EVENTS.md). Two sources: the devices,
 * which report each change of their path to a peer ("path", parsed in
 * smsg.c: direct to which kind of address, or relayed, and why), and the
 * server's own relay (udprelay.c), which says when it starts or stops
 * carrying a pair. A report is taken only for a peer online (here or on
 * another server of the cluster) and linked to the reporter, at most
 * PATH_RATE a second per session after a burst of PATH_BURST; a refused
 * one is answered "path_refused" {peer, reason} (a flood: its first
 * refusal only) and logged.
 *
 * Owns the report budget and the event's payload. Must not change a
 * path (the devices choose theirs) nor decide who is linked (peers.c).
 */
#include "server_int.h"

#define PATH_RATE	4.0	/* reports a second ... */
#define PATH_BURST	32.0	/* ... after a burst of (a rebinding re-punches every peer) */

/* Now as RFC 3339 UTC with milliseconds. */
static void now_text(char *out, size_t len)
{
	struct timespec ts;
	struct tm tm;
	char s[24];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, len, "%s.%03dZ", s, (int)(ts.tv_nsec / 1000000) % 1000);
}

void path_event(const struct session *a, const struct session *b, const struct path_ev *e)
{
	char since[40];

	if (!jz_events_on())
		return;
	now_text(since, sizeof(since));
	jz_event("peer-path-changed",
		 json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:i}",
			   "user", a ? a->user : "", "realm", a ? a->realm : "",
			   "device", a ? a->device : "", "peer_user", b ? b->user : "",
			   "peer_realm", b ? b->realm : "", "peer_device", b ? b->device : "",
			   "path", e->path, "how", e->how, "why", e->why, "since", since,
			   "by", e->by, "relay_ip", e->relay_ip ? e->relay_ip : "",
			   "relay_port", e->relay_port, "peer_relay_port", e->peer_relay_port));
}

static void refuse(struct session *s, uint32_t peer, const char *why)
{
	jz_info("session %s@%s/%s: path report for device %u refused: %s", s->user, s->realm,
		s->device, peer, why);
	send_msg(s, json_pack("{s:s,s:I,s:s}", "type", "path_refused", "peer",
			      (json_int_t)peer, "reason", why));
}

/* The report budget: false when spent (the first refusal of a run is
 * answered, the rest only counted). */
static bool budget(struct session *s, uint32_t peer)
{
	if (tokens_take(&s->path_tok, &s->path_at, PATH_RATE, PATH_BURST)) {
		s->path_flooding = false;
		return true;
	}
	if (s->path_refused++ % 100 == 0)
		jz_warn("session %s@%s/%s: path reports more often than %.0f a second: "
			"ignored (%u so far)", s->user, s->realm, s->device, PATH_RATE,
			s->path_refused);
	if (!s->path_flooding)
		refuse(s, peer, "more than 4 path reports a second");
	s->path_flooding = true;
	return false;
}

/* "path": a device's path to a peer changed. */
void on_path_report(struct session *s, const struct jz_sm_path *r)
{
	struct session *p;
	struct path_ev e = { .path = r->relayed ? "relayed" : "direct",
			     .how = jz_sm_path_how_name[r->how], .why = r->reason,
			     .by = "device" };

	if (s->state != S_ONLINE || s->remote || !budget(s, r->peer))
		return;
	p = find_online_idx(s->srv, r->peer);
	if (!p || p == s || p->state != S_ONLINE || !peers_linked(s, p))
		return refuse(s, r->peer, "not a linked device online");
	if (r->relayed)
		jz_relays_pair_ports(s->srv, s->lease->idx, r->peer, &e.relay_ip, &e.relay_port,
				     &e.peer_relay_port);
	jz_info("path %s@%s/%s -> %s@%s/%s: %s (%s: %s)", s->user, s->realm, s->device, p->user,
		p->realm, p->device, e.path, e.how, r->reason);
	path_event(s, p, &e);
}
