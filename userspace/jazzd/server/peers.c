// SPDX-License-Identifier: GPL-2.0
/*
 * Peer lists: the debounced peer_filter computation, who sees whom, what
 * changed for each viewer (its marks), and which pairs get links (keys:
 * links.c). The bytes of lists and deltas, and when they are written, are
 * listout.c's. Must not read login or approval messages.
 */
#include <time.h>

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
 * see each other are told so (pair_start, or a server-made key with
 * [server] pair_keys = server); pairs that no longer do lose their link.
 *
 * What a viewer sees is kept sparse (struct session, sees()): a
 * generation watermark and the ids its filter hid. A viewer that sees
 * everyone costs the server O(1) memory, and a join costs O(viewers).
 */

int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static bool hidden_has(const struct session *s, uint32_t idx)
{
	return s->nhidden && bsearch(&idx, s->hidden, s->nhidden, sizeof(uint32_t), cmp_u32);
}

/* Whether viewer s sees p: p was reviewed by s (as a newcomer, or in a
 * full review) and not hidden. */
static bool sees(const struct session *s, const struct session *p)
{
	return p != s && p->jgen && p->jgen <= s->seen_gen && !hidden_has(s, p->lease->idx);
}

static bool vis_has(struct jz_server *srv, const struct session *s, uint32_t idx)
{
	struct session *p = find_online_idx(srv, idx);

	return p && p->state == S_ONLINE && sees(s, p);
}

bool peers_sees(const struct session *s, const struct session *p)
{
	return sees(s, p);
}

bool peers_vis_has(struct jz_server *srv, const struct session *s, uint32_t idx)
{
	return vis_has(srv, s, idx);
}

/* Both see each other: they get endpoints, may hand-shake and connect. */
bool peers_linked(const struct session *a, const struct session *b)
{
	return sees(a, b) && sees(b, a);
}

static void hidden_add(struct session *s, uint32_t idx)
{
	size_t lo = 0, hi = s->nhidden;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (s->hidden[mid] < idx)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < s->nhidden && s->hidden[lo] == idx)
		return;
	u32_push(&s->hidden, &s->nhidden, &s->caphidden, idx);
	memmove(s->hidden + lo + 1, s->hidden + lo, (s->nhidden - 1 - lo) * sizeof(uint32_t));
	s->hidden[lo] = idx;
}

static void hidden_del(struct session *s, uint32_t idx)
{
	uint32_t *at = s->nhidden ? bsearch(&idx, s->hidden, s->nhidden, sizeof(uint32_t),
					    cmp_u32) : NULL;

	if (at)
		memmove(at, at + 1, (s->hidden + --s->nhidden - at) * sizeof(uint32_t));
}

void u32_push(uint32_t **v, size_t *n, size_t *cap, uint32_t x)
{
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 16;
		*v = jz_xrealloc(*v, *cap, sizeof(**v));
	}
	(*v)[(*n)++] = x;
}

/* A mark in the viewer's bitmap (one bit per device index). */
static void pbits_set(struct session *s, uint32_t idx)
{
	size_t w = idx / 64;

	if (w >= s->npbits) {
		size_t n = s->srv->by_idx_cap / 64 + 1 > w + 1 ? s->srv->by_idx_cap / 64 + 1 : w + 1;

		s->pbits = jz_xrealloc(s->pbits, n, sizeof(uint64_t));
		memset(s->pbits + s->npbits, 0, (n - s->npbits) * sizeof(uint64_t));
		s->npbits = n;
	}
	if (!(s->pbits[w] >> (idx % 64) & 1)) {
		s->pbits[w] |= 1ULL << (idx % 64);
		s->npchg++;
	}
}

/*
 * The viewer's entry for this id changed: (re)send it or its removal.
 * Marks wait while the viewer's list in parts goes out or its socket is
 * behind (listout.c), for as long as it does not read: past a few
 * hundred they are a bitmap of the device indices (N/8 bytes, not 4 per
 * join), so a viewer holds O(devices) bits whatever it was sent.
 */
static void mark_changed(struct session *s, uint32_t idx)
{
	if (!s->listed)
		return;	/* its first list (or peers_unchanged) covers it */
	if (s->pbits) {
		pbits_set(s, idx);
		return;
	}
	u32_push(&s->pchg, &s->npchg, &s->cappchg, idx);
	if (s->npchg > 256 && s->npchg > s->srv->by_idx_cap / 32) {
		uint32_t *v = s->pchg;
		size_t n = s->npchg;

		s->pchg = NULL;
		s->npchg = s->cappchg = 0;
		s->npbits = 0;
		s->pbits = jz_xrealloc(NULL, 1, sizeof(uint64_t));
		s->pbits[0] = 0;
		s->npbits = 1;
		for (size_t i = 0; i < n; i++)
			pbits_set(s, v[i]);
		free(v);
	}
}

/* The marks as a sorted array of ids (pchg[0..npchg)), for a delta. */
void pchg_flatten(struct session *s)
{
	size_t n = 0;

	if (!s->pbits)
		return;
	s->pchg = jz_xrealloc(s->pchg, s->npchg + 1, sizeof(uint32_t));
	s->cappchg = s->npchg + 1;
	for (size_t w = 0; w < s->npbits; w++)
		for (uint64_t b = s->pbits[w]; b; b &= b - 1)
			s->pchg[n++] = (uint32_t)(w * 64 + __builtin_ctzll(b));
	s->npchg = n;
	free(s->pbits);
	s->pbits = NULL;
	s->npbits = 0;
}

/* A newcomer's marks name everyone: give the room back once used. */
void pchg_reset(struct session *s)
{
	s->npchg = 0;
	free(s->pbits);
	s->pbits = NULL;
	s->npbits = 0;
	if (s->cappchg > 256) {
		free(s->pchg);
		s->pchg = NULL;
		s->cappchg = 0;
	}
}

/* A device's owner as "user@realm" (users hidden by peer_filter). */
void ukey(const struct session *p, char *buf, size_t len)
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

/* The review strings (struct session rv): made once per entry making. */
static void make_review_strings(struct session *p)
{
	const char *f[5] = { p->device, p->user, p->realm, p->lease->vip4, p->lease->vip6 };
	size_t n = 0;

	for (int i = 0; i < 5; i++)
		n += strlen(f[i]) + 1;
	free(p->rv);
	p->rv = jz_xrealloc(NULL, n, 1);
	p->rv_len = n;
	n = 0;
	for (int i = 0; i < 5; i++) {
		p->rv_off[i] = n;
		n = (size_t)(stpcpy(p->rv + n, f[i]) - p->rv) + 1;
	}
}

bool u32_ascending(const uint32_t *v, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (v[i - 1] > v[i])
			return false;
	return true;
}

int make_entries(struct session *p)
{
	size_t hlen, olen, elen;
	char *head = dump_compact(json_pack("{s:i,s:s}", "id", p->lease->idx, "device",
					    p->device), &hlen);
	char *owner = dump_compact(json_pack("{s:s,s:s,s:s,s:s}", "user", p->user, "realm",
					     p->realm, "vip4", p->lease->vip4,
					     "vip6", p->lease->vip6), &olen);
	char *ep = dump_compact(ep_json(p->ep_ip, p->ep_port), &elen);
	char *pk = p->has_pub ? jz_b64_encode(p->pub, 32) : NULL;
	char *cd = cands_json(p);
	int rc = -1;

	make_review_strings(p);
	p->srv->ksnap_stale = true;	/* its entry hashes change (known.c) */
	p->ent_user = dump_compact(json_pack("{s:s,s:s}", "user", p->user, "realm",
					     p->realm), &p->ent_user_len);
	if (!head || !owner || !ep || !p->ent_user || !cd || hlen < 2 || olen < 2 ||
	    (p->has_pub && !pk))
		goto out;
	/* head and owner are {...}: an entry is head without its '}', owner
	 * without its braces, and more keys; the identity key (base64, no
	 * escaping needed) goes to all who see it */
	if (asprintf(&p->ent_linked, "%.*s,%.*s%s%s%s,\"linked\":true,\"endpoint\":%s%s}",
		     (int)hlen - 1, head, (int)olen - 2, owner + 1,
		     pk ? ",\"pubkey\":\"" : "", pk ? pk : "", pk ? "\"" : "", ep, cd) < 0 ||
	    asprintf(&p->ent_unlinked, "%.*s,%.*s%s%s%s,\"linked\":false}", (int)hlen - 1,
		     head, (int)olen - 2, owner + 1, pk ? ",\"pubkey\":\"" : "", pk ? pk : "",
		     pk ? "\"" : "") < 0)
		goto out;
	p->ent_linked_len = strlen(p->ent_linked);
	p->ent_unlinked_len = strlen(p->ent_unlinked);
	p->ent_head = hlen - 1;
	p->ent_owner = olen - 1;	/* its ',' and its keys */
	rc = known_entry_hashes(p);
out:
	free(head);
	free(owner);
	free(ep);
	free(pk);
	free(cd);
	return rc;
}

/*
 * Devices whose candidates changed (cands.c, issue 20): their entries made
 * again and marked for every viewer that sees them, so this computation's
 * deltas carry them. O(online) when one changed, nothing otherwise.
 */
void peers_cands_changed(struct jz_server *srv)
{
	if (!srv->cands_dirty)
		return;		/* no walk of every session per computation */
	srv->cands_dirty = false;
	for (struct session *p = srv->sessions; p; p = p->next) {
		char *l = p->ent_linked, *u = p->ent_unlinked, *n = p->ent_user;

		if (!p->cands_dirty || p->state != S_ONLINE)
			continue;
		p->cands_dirty = false;
		p->ent_linked = p->ent_unlinked = p->ent_user = NULL;
		if (make_entries(p)) {	/* what it made is left (out of memory) */
			p->ent_linked = l;
			p->ent_unlinked = u;
			p->ent_user = n;
			jz_err("peers: out of memory: %s's new candidates not announced",
			       p->device);
			continue;
		}
		free(l);
		free(u);
		free(n);
		for (struct session *s = srv->sessions; s; s = s->next)
			if (s->state == S_ONLINE && s->listed && sees(s, p) && sees(p, s))
				mark_changed(s, p->lease->idx);
	}
}

void filter_res_free(struct filter_res *r)
{
	if (!r)
		return;
	review_arr_put(r->arr);
	free(r->asked);
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

static bool has_id(const uint32_t *v, size_t n, uint32_t id)
{
	return n && bsearch(&id, v, n, sizeof(uint32_t), cmp_u32);
}

/* s came to see p, or stopped: the marks go out once every answer is in. */
static void note(struct session *s, uint32_t idx, bool now)
{
	if (now) {
		u32_push(&s->gain, &s->ngain, &s->capgain, idx);
		s->nvis++;
	} else {
		u32_push(&s->lose, &s->nlose, &s->caplose, idx);
		s->nvis--;
	}
}

/*
 * A full review that kept everyone: the viewer sees every device reviewed
 * so far, hides none. By index (by_idx's slot is the lease index): no
 * answer array to merge, no lease to read per peer.
 */
static void apply_all_kept_full(struct jz_server *srv, struct session *s, uint64_t gen)
{
	for (size_t i = 0; i < srv->by_idx_cap; i++) {
		struct session *p = srv->by_idx[i];

		if (p && p != s && p->state == S_ONLINE && p->jgen && p->jgen <= gen && !sees(s, p))
			note(s, (uint32_t)i, true);
	}
	s->nhidden = 0;
}

/*
 * A newcomer's first review kept everyone: it sees every device reviewed
 * as a newcomer so far (srv->n_reviewed, itself aside) and hides none.
 * Only the other newcomers go in its gains: each device online before
 * gained it in this computation and marks the pair from its side
 * (left_to_other()). O(newcomers), where a walk of every device was
 * 10^8 session reads for a restart of 10,000.
 */
static void apply_first_all_kept(struct jz_server *srv, struct session *s)
{
	const struct review_set *f = srv->fresh_set;

	s->nvis = srv->n_reviewed - 1;
	for (size_t i = 0; f && i < f->n; i++) {
		struct session *p = find_online_idx(srv, f->ids[i]);

		if (p && p != s && p->sid == f->sids[i])
			u32_push(&s->gain, &s->ngain, &s->capgain, f->ids[i]);
	}
	s->nhidden = 0;
}

/* An incremental review that kept every newcomer asked about. */
static void apply_all_kept_inc(struct jz_server *srv, struct session *s, uint64_t gen,
			       const struct review_arr *a)
{
	const uint32_t *ids;
	const uint64_t *sids;
	size_t n = review_arr_ids(a, &ids, &sids);

	for (size_t i = 0; i < n; i++) {
		struct session *p = find_online_idx(srv, ids[i]);

		if (!p || p == s || p->sid != sids[i] || p->state != S_ONLINE || p->jgen != gen)
			continue;	/* gone meanwhile */
		hidden_del(s, ids[i]);
		note(s, ids[i], true);
	}
}

/*
 * A viewer's answer, applied: a full review makes what it sees exactly
 * what it kept (the rest is its hidden set: empty when it keeps all); an
 * incremental one adds the newcomers it kept and hides the others. A
 * hidden user loses all its devices in this list. O(newcomers) for an
 * incremental answer that hides no user, O(online) for the others.
 */
static void apply_review(struct jz_server *srv, struct session *s)
{
	struct filter_res *r = s->res;
	uint64_t gen = srv->gen;

	if (r->all_kept && r->full && !s->seen_gen && s->jgen == gen && !s->listed) {
		apply_first_all_kept(srv, s);
	} else if (r->all_kept && r->full) {
		apply_all_kept_full(srv, s, gen);
	} else if (r->all_kept) {
		apply_all_kept_inc(srv, s, gen, r->arr);
	} else if (r->full) {
		uint32_t *nh = NULL;
		size_t nnh = 0, capnh = 0, k = 0;

		/* by_idx and keep both ascend: one walk, no search per peer */
		for (size_t i = 0; i < srv->by_idx_cap; i++) {
			struct session *p = srv->by_idx[i];
			bool was, now;

			if (!p || p == s || p->state != S_ONLINE || !p->jgen || p->jgen > gen)
				continue;
			was = sees(s, p);
			while (k < r->nkeep && r->keep[k] < p->lease->idx)
				k++;
			now = k < r->nkeep && r->keep[k] == p->lease->idx;
			if (!now)
				u32_push(&nh, &nnh, &capnh, p->lease->idx);
			if (was != now)
				note(s, p->lease->idx, now);
		}
		free(s->hidden);
		s->hidden = nh;
		s->nhidden = nnh;
		s->caphidden = capnh;
	} else {
		for (size_t i = 0; i < r->nasked; i++) {
			uint32_t id = r->asked[i];
			struct session *p = find_online_idx(srv, id);
			bool kept = has_id(r->keep, r->nkeep, id);

			if (!p || p->state != S_ONLINE || p->jgen != gen)
				continue;	/* gone meanwhile */
			if (kept) {
				hidden_del(s, id);
				note(s, id, true);
			} else {
				hidden_add(s, id);
			}
		}
		for (size_t i = 0; r->nhidden && i < srv->by_idx_cap; i++) {
			struct session *p = srv->by_idx[i];

			if (p && p->state == S_ONLINE && p->jgen && p->jgen < gen && sees(s, p) &&
			    hidden_user(r, p)) {
				hidden_add(s, p->lease->idx);
				note(s, p->lease->idx, false);
			}
		}
	}
	s->seen_gen = gen;
	filter_res_free(s->res);
	s->res = NULL;
	s->got_res = true;
}

/* Marks for the answers applied: each viewer's entries that changed, the
 * other ends' "linked", and the pairs linked or unlinked. */
/*
 * A newcomer not listed yet and a device online before this computation:
 * the latter reviewed the newcomer in it, so if it sees the newcomer it
 * gained it, and its own walk marks its entry and starts the pair. The
 * newcomer's walk of everyone it gained (all N, at every join) would do
 * that again and mark its own list, which it has not had yet.
 */
static bool left_to_other(const struct jz_server *srv, const struct session *s,
			  const struct session *p)
{
	return !s->listed && s->jgen == srv->gen && p->jgen != srv->gen;
}

static void mark_review(struct jz_server *srv, struct session *s)
{
	uint32_t me = s->lease->idx;

	for (size_t i = 0; i < s->ngain; i++) {
		struct session *p = find_online_idx(srv, s->gain[i]);

		if (!p || p->state != S_ONLINE || left_to_other(srv, s, p))
			continue;
		mark_changed(s, s->gain[i]);
		if (!sees(p, s))
			continue;
		mark_changed(p, me);
		/* newly linked; when both came to see each other, once */
		if (left_to_other(srv, p, s) || me < s->gain[i] ||
		    !has_id(p->gain, p->ngain, me))
			pair_new(srv, s, p);
	}
	for (size_t i = 0; i < s->nlose; i++) {
		struct session *p = find_online_idx(srv, s->lose[i]);

		mark_changed(s, s->lose[i]);
		if (p && p->state == S_ONLINE && sees(p, s))
			mark_changed(p, me);
		if (cfg(srv)->server_keys) {
			struct link *l = link_find(srv, me, s->lose[i], false);

			if (l)
				link_del(srv, l);
		}
	}
}

static void gains_reset(struct session *s)
{
	s->ngain = s->nlose = 0;
	if (s->capgain > 256) {
		free(s->gain);
		s->gain = NULL;
		s->capgain = 0;
	}
	if (s->caplose > 256) {
		free(s->lose);
		s->lose = NULL;
		s->caplose = 0;
	}
}

/*
 * A computation costs the loop O(viewers) (each viewer's delta, its
 * review's share), whatever the number of newcomers: one per login during
 * a ramp or after a restart made the loop spend its time on deltas (N per
 * login: logins slowed to 2/s at 6,000 devices) and not on the logins.
 * When changes came in while one ran (a burst), the next waits at least
 * twice its loop thread's CPU time (at most JZ_PACE_MAX_MS), so at most a
 * third of the loop goes to computations and the newcomers meanwhile
 * share one: fewer, larger deltas. A change on a quiet server waits
 * peer_debounce_ms as before (a single join is not delayed).
 */
#define JZ_PACE_MAX_MS 1000

static uint64_t loop_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void pace(struct jz_server *srv)
{
	uint64_t ms = 2 * srv->comp_ns / 1000000;

	srv->pace_ms = 0;
	if (srv->dirty && ms > (uint64_t)cfg(srv)->peer_debounce_ms) {
		srv->pace_ms = ms > JZ_PACE_MAX_MS ? JZ_PACE_MAX_MS : (unsigned int)ms;
		jz_debug("peers: the computation took %llu ms of the loop's CPU and more "
			 "changes wait: the next in %u ms", (unsigned long long)(srv->comp_ns / 1000000),
			 srv->pace_ms);
	}
	srv->comp_ns = 0;
}

/* Every call is back: what each viewer sees, then messages, then links. */
void peers_finish(struct jz_server *srv)
{
	uint64_t t0 = loop_cpu_ns();
	struct session *s;

	srv->corking = true;	/* each session's frames as one write, at the end */
	srv->ksnap_stale = true;	/* what viewers see changes (known.c) */
	if (srv->comp_fresh)
		srv->newcomers_at = jz_now();	/* held first lists: known.c */
	/* gains sorted here (mark_review), before any viewer's is searched */
	for (s = srv->sessions; s; s = s->next) {
		if (s->state != S_ONLINE)
			continue;
		if (s->res)
			apply_review(srv, s);
		if (s->ngain > 1 && !u32_ascending(s->gain, s->ngain))
			qsort(s->gain, s->ngain, sizeof(uint32_t), cmp_u32);
	}
	for (s = srv->sessions; s; s = s->next)
		if (s->state == S_ONLINE && (s->ngain || s->nlose))
			mark_review(srv, s);
	for (s = srv->sessions; s; s = s->next) {
		if (s->state != S_ONLINE)
			continue;
		gains_reset(s);
		if (s->remote) {	/* its own server sends its list */
			pchg_reset(s);
			s->got_res = false;
			continue;
		}
		if (!s->listed && (s->got_res || s->known_held)) {
			known_first_list(srv, s);	/* or "unchanged", or held */
		} else if (s->lstream || s->dpend) {
			/* its marks go out after its list's last part, or when
			 * its socket drained (peers_drained) */
		} else if (s->listed && s->npchg && s->takes_delta) {
			send_delta_or_hold(srv, s);
		} else if (s->listed && s->npchg) {
			pchg_reset(s);	/* a client without peers_delta */
			send_full_list(srv, s);
		}
		s->got_res = false;
	}
	session_uncork_all(srv);
	review_set_put(srv->fresh_set);
	srv->fresh_set = NULL;
	srv->comp_ns += loop_cpu_ns() - t0;
	pace(srv);
	srv->computing = false;
	if (srv->dirty)
		schedule_recompute(srv);
	srv->pace_ms = 0;	/* only for the computation scheduled just now */
}

/* A device goes offline: the next computation takes it out of lists. */
void peers_left(struct session *s)
{
	struct jz_server *srv = s->srv;

	if (srv->nleft == srv->capleft) {
		srv->capleft = srv->capleft ? 2 * srv->capleft : 16;
		srv->left = jz_xrealloc(srv->left, srv->capleft, sizeof(*srv->left));
	}
	srv->left[srv->nleft++] = (struct left_dev){ s->lease->idx, s->jgen };
	if (s->jgen)
		srv->n_reviewed--;
}

/*
 * Devices that went away: out of every list that had them (an entry to
 * delete), out of hidden sets (a device back later is reviewed anew).
 * O(viewers x leavers), nothing per viewer's peers.
 */
static void peers_drop_left(struct jz_server *srv)
{
	if (!srv->nleft)
		return;
	for (struct session *s = srv->sessions; s; s = s->next) {
		if (s->state != S_ONLINE)
			continue;
		for (size_t j = 0; j < srv->nleft; j++) {
			const struct left_dev *l = &srv->left[j];

			if (l->jgen && l->jgen <= s->seen_gen && !hidden_has(s, l->idx)) {
				mark_changed(s, l->idx);
				s->nvis--;
			}
			hidden_del(s, l->idx);
			if (cfg(srv)->server_keys) {
				struct link *k = link_find(srv, s->lease->idx, l->idx, false);

				if (k)
					link_del(srv, k);
			}
		}
	}
	srv->nleft = 0;
}

void on_recompute(evutil_socket_t fd, short what, void *arg)
{
	struct jz_server *srv = arg;
	struct session *s, **batch, **fbatch;
	struct review_set *all, *fresh;
	size_t nall = 0, nb = 0, nfb = 0, maxb, maxfb;
	bool full = srv->full;
	uint64_t t0 = loop_cpu_ns();

	if (srv->computing) {
		srv->dirty = true;
		return;
	}
	srv->dirty = false;
	srv->full = false;
	srv->computing = true;
	srv->ksnap_stale = true;	/* hidden sets change (known.c) */
	srv->gen++;
	peers_cands_changed(srv);
	peers_drop_left(srv);
	for (s = srv->sessions; s; s = s->next)
		nall += s->state == S_ONLINE;
	/* whom the calls ask about, by id: each call makes its review only
	 * when a worker takes it */
	all = review_set_new(nall);
	fresh = review_set_new(nall);
	/* in ascending id order: each answer's ids come out sorted (no sort
	 * of N ids per newcomer's full review, 2 x 10^4 of them at 10,000) */
	for (size_t i = 0; i < srv->by_idx_cap; i++) {
		s = srv->by_idx[i];
		if (!s || s->state != S_ONLINE)
			continue;
		review_set_add(all, s);
		if (s->fresh) {
			review_set_add(fresh, s);
			s->jgen = srv->gen;	/* reviewed by everyone in this one */
			srv->n_reviewed++;
		}
	}
	srv->comp_fresh = fresh->n > 0;
	maxb = peers_filter_batch(srv, false);
	maxfb = peers_filter_batch(srv, true);
	jz_debug("peers: %zu online, %zu new, %s review, full reviews in batches of %zu, "
		 "viewers in batches of %zu", all->n, fresh->n, full ? "full" : "incremental",
		 maxfb, maxb);
	srv->filters_pending = 1;	/* held until every call is submitted */
	batch = calloc(maxb, sizeof(*batch));
	fbatch = calloc(maxfb, sizeof(*fbatch));
	for (s = srv->sessions; s; s = s->next) {
		if (s->state != S_ONLINE)
			continue;
		if (full || s->fresh || s->review_again) {
			/* each of everyone: in batches too, all asking about
			 * the same set (its entries made once, pfilter.c) */
			fbatch[nfb++] = s;
			if (nfb == maxfb) {
				peers_filter_submit(srv, fbatch, nfb, all, true);
				nfb = 0;
			}
		} else if (fresh->n) {
			/* the viewers already online: about the newcomers, in batches */
			batch[nb++] = s;
			if (nb == maxb) {
				peers_filter_submit(srv, batch, nb, fresh, false);
				nb = 0;
			}
		}
		s->review_again = false;
	}
	if (nb)
		peers_filter_submit(srv, batch, nb, fresh, false);
	if (nfb)
		peers_filter_submit(srv, fbatch, nfb, all, true);
	free(batch);
	free(fbatch);
	for (s = srv->sessions; s; s = s->next)
		if (s->state == S_ONLINE)
			s->fresh = false;
	review_set_put(all);
	review_set_put(srv->fresh_set);
	srv->fresh_set = fresh;	/* peers_finish's, until it ends */
	srv->comp_ns += loop_cpu_ns() - t0;
	jz_limits_filter_backlog(srv);
	if (--srv->filters_pending == 0)
		peers_finish(srv);
}

void schedule_recompute(struct jz_server *srv)
{
	unsigned int ms = cfg(srv)->peer_debounce_ms > 0 ? (unsigned int)cfg(srv)->peer_debounce_ms : 0;
	struct timeval tv;

	if (srv->computing) {
		srv->dirty = true;
		return;
	}
	if (evtimer_pending(srv->recompute_ev, NULL))
		return;
	if (srv->pace_ms > ms)
		ms = srv->pace_ms;	/* see pace() */
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	/* from now: libevent counts from the time cached when this loop turn
	 * began, and a computation may end long after that */
	event_base_update_cache_time(srv->d->base);
	evtimer_add(srv->recompute_ev, &tv);
}

