// SPDX-License-Identifier: GPL-2.0
/*
 * Peer lists as bytes: each device's entry put together into complete
 * lists (in parts, made as the viewer's socket drains) and deltas (held
 * while the viewer's socket is behind), written to the sessions. Who sees
 * whom and what changed (the marks) are peers.c's; this file must not
 * change them, nor call peer_filter.
 */
#include "server_int.h"

/* A growing message buffer; its first 4 bytes are left for the frame length. */
struct mbuf {
	unsigned char *p;
	size_t n, cap;
};

static void mb_add(struct mbuf *b, const void *data, size_t len)
{
	if (b->n + len > b->cap) {
		b->cap = b->cap ? b->cap : 4096;
		while (b->n + len > b->cap)
			b->cap *= 2;
		b->p = jz_xrealloc(b->p, b->cap, 1);
	}
	memcpy(b->p + b->n, data, len);
	b->n += len;
}

static void mb_str(struct mbuf *b, const char *str)
{
	mb_add(b, str, strlen(str));
}

/* p's entry as viewer s gets it: without owner and addresses to a
 * client that makes them from the id (peers_compact) */
static void mb_entry(struct mbuf *b, const struct session *s, struct session *p, bool linked,
		     bool comma)
{
	const char *e = linked ? p->ent_linked : p->ent_unlinked;
	size_t len = linked ? p->ent_linked_len : p->ent_unlinked_len;

	if (comma)
		mb_add(b, ",", 1);
	if (!s->takes_compact) {
		mb_add(b, e, len);
		return;
	}
	mb_add(b, e, p->ent_head);
	mb_add(b, e + p->ent_head + p->ent_owner, len - p->ent_head - p->ent_owner);
}

/*
 * The room of the last frame sent, kept for the next: a join writes one
 * delta to every viewer, and a malloc/free of a frame each was a cost
 * per viewer. One event loop: never two frames built at once.
 */
static struct mbuf scratch;

/* A frame under way: the kept room, its first 4 bytes for the length. */
static void mb_frame(struct mbuf *b, const char *head)
{
	*b = scratch;
	scratch = (struct mbuf){ 0 };
	b->n = 0;
	mb_add(b, "\0\0\0\0", 4);
	mb_str(b, head);
}

static void mb_send(struct session *s, struct mbuf *b)
{
	char tail[32];

	snprintf(tail, sizeof(tail), ",\"v\":%d}", JZ_PROTO_VERSION);
	mb_str(b, tail);
	if (s->bev && s->state != S_CLOSING) {
		session_send_raw(s, b->p, b->n - 4);
		session_out_over(s);
	}
	if (!scratch.p && b->cap <= 4 * JZ_PEERS_PART_MAX)
		scratch = *b;	/* a one-frame list of any size is not kept */
	else
		free(b->p);
}

/*
 * peer-list-changed names the peers of lists up to JZ_EVENT_PEERS_MAX
 * entries; a longer list gives only its "count": naming every peer of
 * every viewer at each join made a join cost O(N^2) in events alone.
 */
#define JZ_EVENT_PEERS_MAX 1000

void list_event(struct jz_server *srv, struct session *s)
{
	json_t *ev;

	if (!jz_events_on())
		return;
	ev = json_pack("{s:s,s:s,s:s,s:I}", "user", s->user, "realm", s->realm,
		       "device", s->device, "count", (json_int_t)s->nvis);
	if (s->nvis <= JZ_EVENT_PEERS_MAX) {
		json_t *names = json_array();

		for (size_t i = 0; i < srv->by_idx_cap; i++) {
			struct session *p = srv->by_idx[i];

			if (p && p->state == S_ONLINE && peers_sees(s, p))
				json_array_append_new(names, json_string(p->device));
		}
		json_object_set_new(ev, "peers", names);
	}
	jz_event("peer-list-changed", ev);
}

/*
 * The complete list: the first one a viewer gets. A list whose frame would
 * pass JZ_PEERS_PART_MAX goes out in parts, each a "peers" message with
 * "part" (0, 1, ...) and "more" (true on all but the last) that carries
 * the users of its own entries: a client that listed "peers_more" applies
 * the list when the last part is in (docs/PROTOCOL-control.md).
 *
 * Parts are made as the viewer's socket drains (peers_drained, from the
 * session's write callback), never more than JZ_LIST_OUT_LOW bytes ahead:
 * a newcomer's list costs the server O(1) memory whatever its length, and
 * a viewer that does not read stops getting parts instead of holding its
 * whole list in memory. Each part is made from the lists' state when it is
 * made (a cursor over the devices by index); what changes meanwhile is
 * marked as usual and goes out as a delta after the last part (no delta
 * comes between parts; other messages may).
 */
struct part {
	struct mbuf b;
	json_t *seen;		/* users of this part's entries */
	struct mbuf users;
	unsigned int no;
	bool first;
};

static void part_open(struct part *pt)
{
	memset(&pt->b, 0, sizeof(pt->b));
	memset(&pt->users, 0, sizeof(pt->users));
	pt->seen = json_object();
	pt->first = true;
	mb_frame(&pt->b, "{\"type\":\"peers\",\"peers\":[");
}

static void part_close(struct session *s, struct part *pt, bool more, bool parted)
{
	char tail[64];

	mb_str(&pt->b, "],\"users\":[");
	if (pt->users.n)
		mb_add(&pt->b, pt->users.p, pt->users.n);
	mb_str(&pt->b, "]");
	if (parted) {
		snprintf(tail, sizeof(tail), ",\"part\":%u,\"more\":%s", pt->no,
			 more ? "true" : "false");
		mb_str(&pt->b, tail);
	}
	free(pt->users.p);
	json_decref(pt->seen);
	mb_send(s, &pt->b);
}

/* Bytes the part would have with @p's entry and user added. */
static size_t part_len(struct part *pt, struct session *p, bool linked)
{
	return pt->b.n + pt->users.n + 1 +
	       (linked ? p->ent_linked_len : p->ent_unlinked_len) + 1 +
	       p->ent_user_len + 64;
}

static void send_delta(struct jz_server *srv, struct session *s);

/* The last part is out: what changed meanwhile follows. */
static void list_done(struct jz_server *srv, struct session *s)
{
	if (s->lpaused) {
		jz_debug("peer list for %s@%s device %s: %u parts, %zu bytes, done", s->user,
			 s->realm, s->device, s->lpart, s->lbytes);
		if (s->bev && !s->read_paused)
			bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
	}
	if (!s->npchg || s->state != S_ONLINE)
		return;
	if (s->takes_delta) {
		send_delta(srv, s);
	} else {
		pchg_reset(s);
		send_full_list(srv, s);
	}
}

/* The list's next part, from the cursor on: at most @max bytes (at least
 * one entry), the last when no device is left. */
static void list_part(struct jz_server *srv, struct session *s, size_t max)
{
	struct part pt;
	bool more = false;

	part_open(&pt);
	pt.no = s->lpart;
	for (; s->lcur < srv->by_idx_cap; s->lcur++) {
		struct session *p = srv->by_idx[s->lcur];
		bool linked;
		char uk[600];

		if (!p || p->state != S_ONLINE || !peers_sees(s, p))
			continue;
		linked = peers_sees(p, s);
		if (!pt.first && part_len(&pt, p, linked) > max) {
			more = true;	/* p opens the next part */
			break;
		}
		mb_entry(&pt.b, s, p, linked, !pt.first);
		pt.first = false;
		ukey(p, uk, sizeof(uk));
		if (json_object_get(pt.seen, uk))
			continue;
		json_object_set_new(pt.seen, uk, json_true());
		if (pt.users.n)
			mb_add(&pt.users, ",", 1);
		mb_add(&pt.users, p->ent_user, p->ent_user_len);
	}
	s->lbytes += pt.b.n + pt.users.n;
	part_close(s, &pt, more, more || s->lpart > 0);
	s->lpart++;
	if (!more) {
		s->lstream = false;
		list_done(srv, s);
	}
}

/*
 * The session's output drained (its write callback): the next parts of
 * its list, or the delta held while its socket was behind.
 */
void peers_drained(struct session *s)
{
	if (s->dpend && !s->lstream && s->state == S_ONLINE && s->bev &&
	    evbuffer_get_length(bufferevent_get_output(s->bev)) < JZ_DELTA_HOLD) {
		if (s->npchg)
			send_delta(s->srv, s);
		s->dpend = false;
	}
	while (s->lstream) {
		size_t out;

		if (s->state != S_ONLINE || !s->bev) {
			s->lstream = false;
			return;
		}
		out = evbuffer_get_length(bufferevent_get_output(s->bev));
		if (out > JZ_LIST_OUT_LOW) {
			if (!s->lpaused)
				jz_debug("peer list for %s@%s device %s: paused after part %u "
					 "(%zu bytes unsent): more as its socket drains",
					 s->user, s->realm, s->device, s->lpart - 1, out);
			s->lpaused = true;
			/* called back at JZ_LIST_OUT_LOW: the pipe stays full */
			if (!s->read_paused)
				bufferevent_setwatermark(s->bev, EV_WRITE, JZ_LIST_OUT_LOW, 0);
			return;
		}
		list_part(s->srv, s, JZ_PEERS_PART_MAX);
	}
}

void send_full_list(struct jz_server *srv, struct session *s)
{
	s->lstream = true;
	s->lpaused = false;
	s->lcur = 0;
	s->lpart = 0;
	s->lbytes = 0;
	list_event(srv, s);
	if (s->takes_more) {
		peers_drained(s);
		return;
	}
	list_part(srv, s, SIZE_MAX);	/* one frame, whatever its size */
	if (s->lbytes > JZ_PEERS_PART_MAX)
		jz_warn("peer list for %s@%s device %s is one frame of %zu bytes: the client "
			"did not list \"peers_more\", and a client whose frame limit is "
			"smaller drops it", s->user, s->realm, s->device, s->lbytes);
}

/* What changed in a listed viewer's list. */
static void send_delta(struct jz_server *srv, struct session *s)
{
	struct mbuf b = { 0 };
	bool first = true;
	size_t i;

	s->dpend = false;
	pchg_flatten(s);
	qsort(s->pchg, s->npchg, sizeof(uint32_t), cmp_u32);
	mb_frame(&b, "{\"type\":\"peers_delta\",\"set\":[");
	for (i = 0; i < s->npchg; i++) {
		uint32_t id = s->pchg[i];
		struct session *p;

		if (i && id == s->pchg[i - 1])
			continue;
		p = peers_vis_has(srv, s, id) ? find_online_idx(srv, id) : NULL;
		if (p) {
			mb_entry(&b, s, p, peers_sees(p, s), !first);
			first = false;
		}
	}
	mb_str(&b, "],\"del\":[");
	first = true;
	for (i = 0; i < s->npchg; i++) {
		uint32_t id = s->pchg[i];
		char num[16];

		if ((i && id == s->pchg[i - 1]) || peers_vis_has(srv, s, id))
			continue;
		snprintf(num, sizeof(num), "%s%u", first ? "" : ",", id);
		mb_str(&b, num);
		first = false;
	}
	mb_str(&b, "]");
	pchg_reset(s);
	mb_send(s, &b);
	list_event(srv, s);
}

/*
 * A viewer whose socket is behind (JZ_DELTA_HOLD bytes unsent: a burst in
 * flight, or it does not read) gets its delta when it drained, with every
 * change until then in one message: under a burst of joins a slow viewer
 * gets fewer, larger deltas, and one that does not read holds marks (at
 * most one per device), not a queue of deltas.
 */
void send_delta_or_hold(struct jz_server *srv, struct session *s)
{
	if (s->bev && evbuffer_get_length(bufferevent_get_output(s->bev)) >= JZ_DELTA_HOLD) {
		s->dpend = true;
		return;
	}
	send_delta(srv, s);
}
