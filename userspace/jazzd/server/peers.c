// SPDX-License-Identifier: GPL-2.0
/*
 * Peer lists: the debounced peer_filter computation, full lists and deltas
 * sent to viewers, and which pairs get links (keys: links.c). Must not
 * read login or approval messages.
 */
#include "server_int.h"

/* ------------------------------------------------------------------ */
/*
 * Peer lists, kept current incrementally. A computation runs at most
 * every peer_debounce_ms and handles what changed since the last one:
 *
 * - devices that left are dropped from every list (no callback needed:
 *   a list only shrinks by what peer_filter hides);
 * - a device that came online is its own viewer for the first time:
 *   peer_filter gets every other online device (a full review), and the
 *   device gets its complete list ("peers");
 * - every other viewer's peer_filter is asked about the newcomers only
 *   (users = their owners); kept ones are added, and a user it hides
 *   loses all their devices in that list, as in a full review;
 * - a reload (SIGHUP) asks every viewer about everyone again.
 *
 * Viewers already listed get only what changed ("peers_delta": entries
 * added or whose linked/endpoint changed, ids removed). Pairs that now
 * see each other get a fresh key; pairs that no longer do lose theirs.
 */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* s->vis is sorted: a binary search */
static bool vis_has(struct session *s, uint32_t idx)
{
	return s->nvis && bsearch(&idx, s->vis, s->nvis, sizeof(uint32_t), cmp_u32);
}

void u32_push(uint32_t **v, size_t *n, size_t *cap, uint32_t x)
{
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 16;
		*v = jz_xrealloc(*v, *cap, sizeof(**v));
	}
	(*v)[(*n)++] = x;
}

/* The viewer's entry for this id changed: (re)send it or its removal. */
static void mark_changed(struct session *s, uint32_t idx)
{
	u32_push(&s->pchg, &s->npchg, &s->cappchg, idx);
}

static void ukey(const struct session *p, char *buf, size_t len)
{
	snprintf(buf, len, "%s@%s", p->user, p->realm);
}

/*
 * Peer entries are serialised once per device (make_entries) and lists
 * are put together from them: a device's entry is the same in every list
 * but for "linked" (and the endpoint shown only when linked).
 */
static char *dump_compact(json_t *o, size_t *len)
{
	char *str = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

	json_decref(o);
	*len = str ? strlen(str) : 0;
	return str;
}

int make_entries(struct session *p)
{
	size_t blen, elen;
	char *base = dump_compact(json_pack("{s:i,s:s,s:s,s:s,s:s,s:s}", "id",
					    p->lease->idx, "device", p->device,
					    "user", p->user, "realm", p->realm,
					    "vip4", p->lease->vip4, "vip6", p->lease->vip6),
				  &blen);
	char *ep = dump_compact(ep_json(p->ep_ip, p->ep_port), &elen);
	char *pk = p->has_pub ? jz_b64_encode(p->pub, 32) : NULL;
	int rc = -1;

	p->ent_user = dump_compact(json_pack("{s:s,s:s}", "user", p->user, "realm",
					     p->realm), &p->ent_user_len);
	if (!base || !ep || !p->ent_user || blen < 2 || (p->has_pub && !pk))
		goto out;
	/* base is {...}: the entries are base without its '}' and more keys;
	 * the identity key (base64, no escaping needed) goes to all who see it */
	if (asprintf(&p->ent_linked, "%.*s%s%s%s,\"linked\":true,\"endpoint\":%s}",
		     (int)blen - 1, base, pk ? ",\"pubkey\":\"" : "", pk ? pk : "",
		     pk ? "\"" : "", ep) < 0 ||
	    asprintf(&p->ent_unlinked, "%.*s%s%s%s,\"linked\":false}", (int)blen - 1, base,
		     pk ? ",\"pubkey\":\"" : "", pk ? pk : "", pk ? "\"" : "") < 0)
		goto out;
	p->ent_linked_len = strlen(p->ent_linked);
	p->ent_unlinked_len = strlen(p->ent_unlinked);
	rc = 0;
out:
	free(base);
	free(ep);
	free(pk);
	return rc;
}

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

static void mb_entry(struct mbuf *b, struct session *p, bool linked, bool comma)
{
	if (comma)
		mb_add(b, ",", 1);
	if (linked)
		mb_add(b, p->ent_linked, p->ent_linked_len);
	else
		mb_add(b, p->ent_unlinked, p->ent_unlinked_len);
}

static void mb_send(struct session *s, struct mbuf *b)
{
	char tail[32];

	snprintf(tail, sizeof(tail), ",\"v\":%d}", JZ_PROTO_VERSION);
	mb_str(b, tail);
	if (s->bev && s->state != S_CLOSING)
		jz_frame_send_raw(s->bev, b->p, b->n - 4);
	free(b->p);
}

/*
 * peer-list-changed names the peers of lists up to JZ_EVENT_PEERS_MAX
 * entries; a longer list gives only its "count": naming every peer of
 * every viewer at each join made a join cost O(N^2) in events alone.
 */
#define JZ_EVENT_PEERS_MAX 1000

static void list_event(struct jz_server *srv, struct session *s)
{
	json_t *ev;

	if (!jz_events_on())
		return;
	ev = json_pack("{s:s,s:s,s:s,s:I}", "user", s->user, "realm", s->realm,
		       "device", s->device, "count", (json_int_t)s->nvis);
	if (s->nvis <= JZ_EVENT_PEERS_MAX) {
		json_t *names = json_array();

		for (size_t i = 0; i < s->nvis; i++) {
			struct session *p = find_online_idx(srv, s->vis[i]);

			if (p)
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
 * the list when the last part is in (docs/PROTOCOL-control.md). Parts are
 * written back to back, so nothing comes between them.
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
	mb_add(&pt->b, "\0\0\0\0", 4);
	mb_str(&pt->b, "{\"type\":\"peers\",\"peers\":[");
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
	pt->no++;
}

/* Bytes the part would have with @p's entry and user added. */
static size_t part_len(struct part *pt, struct session *p, bool linked)
{
	return pt->b.n + pt->users.n + 1 +
	       (linked ? p->ent_linked_len : p->ent_unlinked_len) + 1 +
	       p->ent_user_len + 64;
}

static void send_full_list(struct jz_server *srv, struct session *s)
{
	struct part pt = { 0 };
	bool parted = s->takes_more;
	size_t bytes = 0;

	part_open(&pt);
	for (size_t i = 0; i < s->nvis; i++) {
		struct session *p = find_online_idx(srv, s->vis[i]);
		bool linked;
		char uk[600];

		if (!p)
			continue;
		linked = vis_has(p, s->lease->idx);
		if (parted && !pt.first && part_len(&pt, p, linked) > JZ_PEERS_PART_MAX) {
			bytes += pt.b.n + pt.users.n;
			part_close(s, &pt, true, true);
			part_open(&pt);
		}
		mb_entry(&pt.b, p, linked, !pt.first);
		pt.first = false;
		ukey(p, uk, sizeof(uk));
		if (json_object_get(pt.seen, uk))
			continue;
		json_object_set_new(pt.seen, uk, json_true());
		if (pt.users.n)
			mb_add(&pt.users, ",", 1);
		mb_add(&pt.users, p->ent_user, p->ent_user_len);
	}
	bytes += pt.b.n + pt.users.n;
	if (!parted && bytes > JZ_PEERS_PART_MAX)
		jz_warn("peer list for %s@%s device %s is one frame of %zu bytes: the client "
			"did not list \"peers_more\", and a client whose frame limit is "
			"smaller drops it", s->user, s->realm, s->device, bytes);
	part_close(s, &pt, false, parted && pt.no > 0);
	list_event(srv, s);
}

/* What changed in a listed viewer's list. */
static void send_delta(struct jz_server *srv, struct session *s)
{
	struct mbuf b = { 0 };
	bool first = true;
	size_t i;

	qsort(s->pchg, s->npchg, sizeof(uint32_t), cmp_u32);
	mb_add(&b, "\0\0\0\0", 4);
	mb_str(&b, "{\"type\":\"peers_delta\",\"set\":[");
	for (i = 0; i < s->npchg; i++) {
		uint32_t id = s->pchg[i];
		struct session *p;

		if (i && id == s->pchg[i - 1])
			continue;
		p = vis_has(s, id) ? find_online_idx(srv, id) : NULL;
		if (p) {
			mb_entry(&b, p, vis_has(p, s->lease->idx), !first);
			first = false;
		}
	}
	mb_str(&b, "],\"del\":[");
	first = true;
	for (i = 0; i < s->npchg; i++) {
		uint32_t id = s->pchg[i];
		char num[16];

		if ((i && id == s->pchg[i - 1]) || (vis_has(s, id) && find_online_idx(srv, id)))
			continue;
		snprintf(num, sizeof(num), "%s%u", first ? "" : ",", id);
		mb_str(&b, num);
		first = false;
	}
	mb_str(&b, "]");
	s->npchg = 0;
	mb_send(s, &b);
	list_event(srv, s);
}

/* A pair may get a key: both must see each other and have no key yet. */
static void link_maybe(struct jz_server *srv, uint32_t a, uint32_t b)
{
	struct session *sa = find_online_idx(srv, a), *sb = find_online_idx(srv, b);

	if (!sa || !sb || !vis_has(sa, b) || !vis_has(sb, a))
		return;
	if (link_find(srv, a, b, false))
		return;
	link_send_key(srv, link_find(srv, a, b, true));
}

static void link_drop(struct jz_server *srv, uint32_t a, uint32_t b)
{
	struct link *l = link_find(srv, a, b, false);

	if (l)
		link_del(srv, l);
}

/* What one peer_filter call decided, kept until every call is back. */
struct filter_res {
	bool full;
	uint32_t *keep;		/* ids kept, sorted */
	size_t nkeep;
	char (*hidden)[600];	/* users hidden ("user@realm") */
	size_t nhidden;
};

void filter_res_free(struct filter_res *r)
{
	if (!r)
		return;
	free(r->keep);
	free(r->hidden);
	free(r);
}

static bool hidden_user(struct filter_res *r, struct session *p)
{
	char uk[600];

	ukey(p, uk, sizeof(uk));
	for (size_t i = 0; i < r->nhidden; i++)
		if (!strcmp(r->hidden[i], uk))
			return true;
	return false;
}

/*
 * An incremental answer that hides no user only adds: the kept ids go into
 * the sorted list by a merge from the back, in place, so a viewer pays for
 * the newcomers (and the ids above them), not for its whole list: a join
 * seen by N viewers costs O(N), where copying and diffing every list cost
 * O(N^2).
 */
static void apply_additions(struct jz_server *srv, struct session *s, uint32_t **newlinks,
			    size_t *nnew, size_t *capnew)
{
	struct filter_res *r = s->res;
	uint32_t me = s->lease->idx;
	size_t nadd = 0, i, j, k;

	for (i = 0; i < r->nkeep; i++)
		if (!vis_has(s, r->keep[i]) && (!i || r->keep[i] != r->keep[i - 1]))
			r->keep[nadd++] = r->keep[i];
	if (nadd) {
		s->vis = jz_xrealloc(s->vis, s->nvis + nadd, sizeof(uint32_t));
		i = s->nvis;
		j = nadd;
		k = s->nvis + nadd;
		while (j > 0) {
			if (i > 0 && s->vis[i - 1] > r->keep[j - 1])
				s->vis[--k] = s->vis[--i];
			else
				s->vis[--k] = r->keep[--j];
		}
		s->nvis += nadd;
	}
	for (i = 0; i < nadd; i++) {
		uint32_t id = r->keep[i];
		struct session *p = find_online_idx(srv, id);

		mark_changed(s, id);
		if (p && vis_has(p, me))
			mark_changed(p, me);
		u32_push(newlinks, nnew, capnew, id);
		u32_push(newlinks, nnew, capnew, me);
	}
	filter_res_free(s->res);
	s->res = NULL;
	s->got_res = true;
}

/* The viewer's new list from its result; records what changed. */
static void apply_result(struct jz_server *srv, struct session *s, uint32_t **newlinks,
			 size_t *nnew, size_t *capnew)
{
	struct filter_res *r = s->res;
	uint32_t *old = s->vis, *nv;
	size_t nold = s->nvis, nb = 0, n = 0, i, j;
	uint32_t *base = calloc(nold + 1, sizeof(uint32_t));
	uint32_t me = s->lease->idx;

	/* what stays of the old list */
	for (i = 0; i < nold && !r->full; i++) {
		struct session *p = find_online_idx(srv, old[i]);

		if (p && (!r->nhidden || !hidden_user(r, p)))
			base[nb++] = old[i];
	}
	/* union with what the filter kept (both sorted) */
	nv = calloc(nb + r->nkeep + 1, sizeof(uint32_t));
	for (i = 0, j = 0; i < nb || j < r->nkeep;) {
		if (j == r->nkeep || (i < nb && base[i] < r->keep[j]))
			nv[n++] = base[i++];
		else if (i == nb || r->keep[j] < base[i])
			nv[n++] = r->keep[j++];
		else {
			nv[n++] = base[i++];
			j++;
		}
	}
	free(base);
	s->vis = nv;
	s->nvis = n;
	/* the differences: old vs new (both sorted) */
	for (i = 0, j = 0; i < nold || j < n;) {
		uint32_t id;
		bool added;
		struct session *p;

		if (j == n || (i < nold && old[i] < nv[j])) {
			id = old[i++];
			added = false;
		} else if (i == nold || nv[j] < old[i]) {
			id = nv[j++];
			added = true;
		} else {
			i++;
			j++;
			continue;
		}
		mark_changed(s, id);
		p = find_online_idx(srv, id);
		/* the other side's entry for this viewer changes "linked" */
		if (p && vis_has(p, me))
			mark_changed(p, me);
		if (added)
			u32_push(newlinks, nnew, capnew, id), u32_push(newlinks, nnew, capnew, me);
		else
			link_drop(srv, me, id);
	}
	free(old);
	filter_res_free(s->res);
	s->res = NULL;
	s->got_res = true;
}

/* Every call is back: new lists, messages, then keys. */
static void peers_finish(struct jz_server *srv)
{
	struct session *s;
	uint32_t *nl = NULL;
	size_t nnl = 0, capnl = 0;

	for (s = srv->sessions; s; s = s->next) {
		if (s->state != S_ONLINE || !s->res)
			continue;
		if (!s->res->full && !s->res->nhidden)
			apply_additions(srv, s, &nl, &nnl, &capnl);
		else
			apply_result(srv, s, &nl, &nnl, &capnl);
	}
	for (s = srv->sessions; s; s = s->next) {
		if (s->state != S_ONLINE)
			continue;
		if (s->remote) {	/* its own server sends its list */
			s->npchg = 0;
			s->got_res = false;
			continue;
		}
		if (!s->listed && s->got_res) {
			s->listed = true;
			s->npchg = 0;
			send_full_list(srv, s);
		} else if (s->listed && s->npchg && s->takes_delta) {
			send_delta(srv, s);
		} else if (s->listed && s->npchg) {
			s->npchg = 0;	/* a client without peers_delta */
			send_full_list(srv, s);
		}
		s->got_res = false;
	}
	for (size_t i = 0; i + 1 < nnl; i += 2)
		link_maybe(srv, nl[i], nl[i + 1]);
	free(nl);
	srv->computing = false;
	if (srv->dirty)
		schedule_recompute(srv);
}

struct filter_ctx {
	struct jz_server *srv;
	uint64_t sid;
	bool full;
	unsigned int attempt;	/* 0: the first call; retries after a failure */
	uint32_t *ids;		/* peer ids in the order given */
	uint64_t *sids;		/* ... and the sessions they were */
	size_t n;
	char (*ukeys)[600];	/* users in order, "user@realm" */
	size_t nu;
};

static void filter_ctx_free(struct filter_ctx *fc)
{
	free(fc->ids);
	free(fc->sids);
	free(fc->ukeys);
	free(fc);
}

static void filter_submit(struct jz_server *srv, struct session *s, struct session **ps,
			  size_t n, bool full, unsigned int attempt);

/*
 * A peer_filter call that failed (timed out, or an error) is asked again,
 * JZ_FILTER_RETRIES times at most, after JZ_FILTER_BACKOFF_MS, doubled each
 * time; the computation waits for it. Each failure is an event
 * (peer-filter-failed). When the last retry fails too, the fail-closed
 * answer stands for this computation, and the viewer is reviewed in full
 * again JZ_FILTER_AGAIN_S later: peers are never hidden for good because a
 * callback was slow.
 */
#define JZ_FILTER_RETRIES 3
#define JZ_FILTER_BACKOFF_MS 250
#define JZ_FILTER_AGAIN_S 5

static void filter_failed_event(struct session *s, struct filter_ctx *fc, bool retry,
				int delay_ms)
{
	if (retry)
		jz_warn("peer_filter for %s@%s device %s failed (attempt %u, %zu peers): "
			"asking again in %d ms", s->user, s->realm, s->device, fc->attempt + 1,
			fc->n, delay_ms);
	else
		jz_warn("peer_filter for %s@%s failed: hiding every peer%s (device %s, %u "
			"attempts; reviewed again in %d s)", s->user, s->realm,
			fc->full ? "" : " it was asked about", s->device, fc->attempt + 1,
			JZ_FILTER_AGAIN_S);
	jz_event("peer-filter-failed",
		 json_pack("{s:s,s:s,s:s,s:i,s:i,s:b,s:b,s:i}", "user", s->user, "realm",
			   s->realm, "device", s->device, "attempt", (int)fc->attempt + 1,
			   "peers", (int)fc->n, "full", fc->full, "retry", retry,
			   "retry_in_ms", retry ? delay_ms : JZ_FILTER_AGAIN_S * 1000));
}

static void filter_retry(evutil_socket_t fd, short what, void *arg)
{
	struct filter_ctx *fc = arg;
	struct jz_server *srv = fc->srv;
	struct session *s = find_sid(srv, fc->sid);

	if (s && s->state == S_ONLINE) {
		struct session **ps = calloc(fc->n + 1, sizeof(*ps));
		size_t n = 0;

		/* the same review, less the devices gone meanwhile */
		for (size_t i = 0; i < fc->n; i++) {
			struct session *p = find_online_idx(srv, fc->ids[i]);

			if (p && p->sid == fc->sids[i])
				ps[n++] = p;
		}
		filter_submit(srv, s, ps, n, fc->full, fc->attempt + 1);
		free(ps);
	}
	filter_ctx_free(fc);
	if (--srv->filters_pending == 0)
		peers_finish(srv);
}

static void on_review_again(evutil_socket_t fd, short what, void *arg)
{
	schedule_recompute(arg);
}

static void filter_done(void *arg, struct jz_cb_call *c)
{
	struct filter_ctx *fc = arg;
	struct jz_server *srv = fc->srv;
	struct session *s = find_sid(srv, fc->sid);

	if (s && s->state == S_ONLINE && c->failed) {
		bool retry = fc->attempt < JZ_FILTER_RETRIES;
		int ms = JZ_FILTER_BACKOFF_MS << fc->attempt;
		struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

		filter_failed_event(s, fc, retry, ms);
		if (retry) {
			/* filters_pending stays: filter_retry takes it over */
			event_base_once(srv->d->base, -1, EV_TIMEOUT, filter_retry, fc, &tv);
			return;
		}
		s->review_again = true;
		tv = (struct timeval){ JZ_FILTER_AGAIN_S, 0 };
		event_base_once(srv->d->base, -1, EV_TIMEOUT, on_review_again, srv, &tv);
	}
	if (s && s->state == S_ONLINE) {
		struct filter_res *r = calloc(1, sizeof(*r));

		r->full = fc->full;
		r->keep = calloc(fc->n + 1, sizeof(uint32_t));
		r->hidden = calloc(fc->nu + 1, sizeof(*r->hidden));
		for (size_t j = 0; j < fc->nu; j++)
			if (!c->u.filter.keep_users[j])
				memcpy(r->hidden[r->nhidden++], fc->ukeys[j], sizeof(*r->hidden));
		for (size_t i = 0; i < fc->n; i++) {
			const struct jazz_peer_entry *pe = &c->u.filter.peers[i];
			struct session *p = find_online_idx(srv, fc->ids[i]);

			/* kept, its user not hidden, and still the same session */
			if (!c->u.filter.keep_peers[i] || !p || p->sid != fc->sids[i])
				continue;
			if (r->nhidden) {
				char uk[600];
				bool hid = false;

				snprintf(uk, sizeof(uk), "%s@%s", pe->username, pe->realm);
				for (size_t j = 0; j < r->nhidden && !hid; j++)
					hid = !strcmp(r->hidden[j], uk);
				if (hid)
					continue;
			}
			r->keep[r->nkeep++] = fc->ids[i];
		}
		qsort(r->keep, r->nkeep, sizeof(uint32_t), cmp_u32);
		filter_res_free(s->res);
		s->res = r;
	}
	filter_ctx_free(fc);
	if (--srv->filters_pending == 0)
		peers_finish(srv);
}

static const char *arena_put(char **ap, const char *str)
{
	char *d = *ap;

	*ap = stpcpy(d, str) + 1;
	return d;
}

/* One peer_filter call: viewer s about the sessions in ps[0..n). */
static void filter_submit(struct jz_server *srv, struct session *s, struct session **ps,
			  size_t n, bool full, unsigned int attempt)
{
	struct jz_cb_call *c = jz_cb_call_new(JZ_CB_PEER_FILTER);
	struct filter_ctx *fc = calloc(1, sizeof(*fc));
	struct jazz_peer_entry *pe = jz_cb_alloc(c, (n + 1) * sizeof(*pe));
	struct jazz_user_entry *ue = jz_cb_alloc(c, (n + 1) * sizeof(*ue));
	json_t *useen = json_object();
	size_t k = 0, nu = 0, total = 0;
	char *ap;

	/* the entries' strings in one block: one allocation, not five per peer */
	for (size_t i = 0; i < n; i++)
		total += strlen(ps[i]->device) + strlen(ps[i]->user) + strlen(ps[i]->realm) +
			 strlen(ps[i]->lease->vip4) + strlen(ps[i]->lease->vip6) + 5;
	ap = jz_cb_alloc(c, total + 1);
	fc->srv = srv;
	fc->sid = s->sid;
	fc->full = full;
	fc->attempt = attempt;
	fc->ids = calloc(n + 1, sizeof(uint32_t));
	fc->sids = calloc(n + 1, sizeof(uint64_t));
	/*
	 * n rows of 600 bytes, of which only the first nu (distinct users,
	 * often one) are written: malloc, not calloc, so the untouched rows
	 * are never zeroed or faulted in (with 200 devices online this was
	 * a fresh 120 KB mmap, zeroed page by page, for every new device).
	 */
	fc->ukeys = malloc((n + 1) * sizeof(*fc->ukeys));
	for (size_t i = 0; i < n; i++) {
		struct session *p = ps[i];
		char uk[600];

		if (p == s)
			continue;
		pe[k].device = arena_put(&ap, p->device);
		pe[k].username = arena_put(&ap, p->user);
		pe[k].realm = arena_put(&ap, p->realm);
		pe[k].vip4 = arena_put(&ap, p->lease->vip4);
		pe[k].vip6 = arena_put(&ap, p->lease->vip6);
		fc->ids[k] = p->lease->idx;
		fc->sids[k] = p->sid;
		ukey(p, uk, sizeof(uk));
		if (!json_object_get(useen, uk)) {
			json_object_set_new(useen, uk, json_true());
			memcpy(fc->ukeys[nu], uk, sizeof(uk));
			ue[nu].username = pe[k].username;
			ue[nu].realm = pe[k].realm;
			nu++;
		}
		k++;
	}
	json_decref(useen);
	fc->n = k;
	fc->nu = nu;
	c->u.filter.review.username = jz_cb_strdup(c, s->user);
	c->u.filter.review.realm = jz_cb_strdup(c, s->realm);
	snprintf(c->u.filter.review.source.ip, JAZZ_ADDR_MAX, "%s", s->ip);
	c->u.filter.review.source.port = s->port;
	c->u.filter.review.users = ue;
	c->u.filter.review.n_users = nu;
	c->u.filter.review.peers = pe;
	c->u.filter.review.n_peers = k;
	c->u.filter.users = ue;
	c->u.filter.peers = pe;
	c->u.filter.keep_users = jz_cb_alloc(c, nu + 1);
	c->u.filter.keep_peers = jz_cb_alloc(c, k + 1);
	srv->filters_pending++;
	jz_cb_submit(srv->d->cb, c, filter_done, fc);
}

/*
 * Devices that went away: out of every list, their keys dropped. A viewer
 * with a long list and few leavers pays O(leavers x log list) and a
 * memmove, not a scan of its whole list (a leave seen by N viewers was
 * O(N^2)).
 */
static void peers_drop_left(struct jz_server *srv)
{
	uint32_t *left = srv->left;
	size_t nleft = srv->nleft;

	if (!nleft)
		return;
	qsort(left, nleft, sizeof(uint32_t), cmp_u32);
	for (struct session *s = srv->sessions; s; s = s->next) {
		size_t n = 0;

		if (s->state != S_ONLINE || !s->nvis)
			continue;
		if (nleft * 16 < s->nvis) {
			/* a few left: find each in the list, not the list in them */
			for (size_t j = 0; j < nleft; j++) {
				uint32_t *at = bsearch(&left[j], s->vis, s->nvis, sizeof(uint32_t),
						       cmp_u32);

				if (!at)
					continue;
				mark_changed(s, left[j]);
				link_drop(srv, s->lease->idx, left[j]);
				memmove(at, at + 1, (s->vis + --s->nvis - at) * sizeof(uint32_t));
			}
			continue;
		}
		for (size_t i = 0; i < s->nvis; i++) {
			uint32_t id = s->vis[i];

			if (bsearch(&id, left, nleft, sizeof(uint32_t), cmp_u32)) {
				mark_changed(s, id);
				link_drop(srv, s->lease->idx, id);
			} else {
				s->vis[n++] = id;
			}
		}
		s->nvis = n;
	}
	srv->nleft = 0;
}

void on_recompute(evutil_socket_t fd, short what, void *arg)
{
	struct jz_server *srv = arg;
	struct session *s, **all, **fresh;
	size_t nall = 0, nfresh = 0;
	bool full = srv->full;

	if (srv->computing) {
		srv->dirty = true;
		return;
	}
	srv->dirty = false;
	srv->full = false;
	srv->computing = true;
	srv->gen++;
	peers_drop_left(srv);
	for (s = srv->sessions; s; s = s->next)
		nall += s->state == S_ONLINE;
	all = calloc(nall + 1, sizeof(*all));
	fresh = calloc(nall + 1, sizeof(*fresh));
	nall = 0;
	for (s = srv->sessions; s; s = s->next) {
		if (s->state != S_ONLINE)
			continue;
		all[nall++] = s;
		if (s->fresh)
			fresh[nfresh++] = s;
	}
	jz_debug("peers: %zu online, %zu new, %s review", nall, nfresh,
		 full ? "full" : "incremental");
	srv->filters_pending = 1;	/* held until every call is submitted */
	for (size_t i = 0; i < nall; i++) {
		s = all[i];
		if (full || s->fresh || s->review_again)
			filter_submit(srv, s, all, nall, true, 0);
		else if (nfresh)
			filter_submit(srv, s, fresh, nfresh, false, 0);
		s->review_again = false;
	}
	for (size_t i = 0; i < nfresh; i++)
		fresh[i]->fresh = false;
	free(all);
	free(fresh);
	if (--srv->filters_pending == 0)
		peers_finish(srv);
}

void schedule_recompute(struct jz_server *srv)
{
	struct timeval tv = { 0, cfg(srv)->peer_debounce_ms * 1000 };

	if (srv->computing) {
		srv->dirty = true;
		return;
	}
	if (!evtimer_pending(srv->recompute_ev, NULL))
		evtimer_add(srv->recompute_ev, &tv);
}

