// SPDX-License-Identifier: GPL-2.0
/*
 * "peers_known": a device that logs in with the list it kept from an
 * earlier session (its digest and count, docs/PROTOCOL-control.md) is not
 * sent that list again when it would be the same: "peers_unchanged"
 * instead of N entries. After a server restart every device comes back
 * while the others do, so what each may see grows from nothing to its old
 * list: its first list waits (held) while it grows, on a server that
 * started lately, and is decided once what it sees has the count it
 * presented: the same digest, "peers_unchanged"; else the full list. A
 * 10,000-device restart then sends no list at all, nor a delta to a held
 * device, nor the pair_start of a pair both ends of which kept their
 * state. The digest is of what this viewer may see now (peer_filter's
 * answers as applied), computed here from the entries: a client's digest
 * can only spare it bytes, never show it a peer or hide one from it.
 */
#include "server_int.h"

/* A server started this recently may hold first lists (a restart) ... */
#define KNOWN_WINDOW_S 600
/* ... while devices come online (a computation with newcomers under way,
 * or one ended or what the viewer sees grew within this long) ... */
#define KNOWN_IDLE_S 5
/* ... and for at most this long after its first list came due (a
 * 10,000-device restart took 5 min of peer_filter reviews on this machine:
 * 120 s gave 9,933 of them up for full lists, docs/BENCHMARKS.md) */
#define KNOWN_MAX_S 600
/* digests compared at most this many times while held */
#define KNOWN_CHECKS 3

/* The entries' hashes as each viewer gets them: with and without link,
 * full and compact (core/listdigest.c); made with the entries. */
int known_entry_hashes(struct session *p)
{
	struct jz_list_cand cands[JZ_SM_CANDS];
	size_t nc = 0;

	for (size_t i = 0; p->cands && i < p->cands->n && i < JZ_SM_CANDS; i++) {
		struct jz_list_cand *c = &cands[nc];

		memset(c, 0, sizeof(*c));
		if (inet_pton(AF_INET, p->cands->c[i].ip, c->addr) == 1)
			c->family = AF_INET;
		else if (inet_pton(AF_INET6, p->cands->c[i].ip, c->addr) == 1)
			c->family = AF_INET6;
		else
			continue;	/* not sent either (checked when it came) */
		c->port = p->cands->c[i].port;
		c->srflx = p->cands->c[i].srflx;
		nc++;
	}
	for (int linked = 0; linked < 2; linked++) {
		for (int compact = 0; compact < 2; compact++) {
			struct jz_list_entry e = {
				.id = p->lease->idx,
				.device = p->device,
				.linked = linked,
				.vip4 = compact ? "" : p->lease->vip4,
				.vip6 = compact ? "" : p->lease->vip6,
				.pub = p->has_pub ? p->pub : NULL,
				.ep_ip = linked ? p->ep_ip : "",
				.ep_port = linked ? p->ep_port : 0,
				.ncands = linked ? nc : 0,
				.cands = cands,
			};

			if (jz_list_entry_hash(&e, p->ent_hash[linked][compact]))
				return -1;
		}
	}
	return 0;
}

/*
 * A restart's common case, made cheap: every device online sees every
 * other and is seen by it (nothing hidden, every review applied). A
 * viewer's list is then every entry but its own, linked, so its digest
 * hashes one array of the devices' linked entry hashes with itself left
 * out, and the part before it comes from a checkpoint (every
 * KNOWN_STRIDE entries) hashed once for all. Made once per round of
 * decisions (srv->ksnap_stale: set when a device comes or goes, an entry
 * is made, or reviews change what viewers see); a viewer outside the
 * common case is walked as before. At 10,000 devices the walk of every
 * session per viewer was 10^8 session reads and half the restart's SHA.
 */
#define KNOWN_STRIDE 64

struct known_snap {
	bool mesh;			/* the common case holds */
	size_t n, cap;
	uint32_t *ids;			/* online devices, ascending */
	uint8_t (*h[2])[JZ_LIST_DIGEST_LEN];	/* their linked hashes [compact] */
	struct jz_list_digest cp[2];	/* scratch for the checkpoints' making */
	void **cpctx[2];		/* checkpoint k: entries [0, k x STRIDE) */
	size_t ncp;
	uint64_t min_seen, max_jgen;
};

static void snap_clear(struct known_snap *k)
{
	for (int c = 0; c < 2; c++) {
		for (size_t i = 0; i < k->ncp; i++) {
			struct jz_list_digest d = { .ctx = k->cpctx[c][i] };

			jz_list_digest_free(&d);
		}
		free(k->cpctx[c]);
		k->cpctx[c] = NULL;
	}
	k->ncp = 0;
	k->n = 0;
	k->mesh = false;
}

static struct known_snap *snap_get(struct jz_server *srv)
{
	struct known_snap *k = srv->ksnap;

	if (k && !srv->ksnap_stale)
		return k;
	if (!k)
		k = srv->ksnap = calloc(1, sizeof(*k));
	snap_clear(k);
	srv->ksnap_stale = false;
	k->min_seen = UINT64_MAX;
	k->max_jgen = 0;
	k->mesh = true;
	for (size_t i = 0; i < srv->by_idx_cap && k->mesh; i++) {
		struct session *p = srv->by_idx[i];

		if (!p)
			continue;
		if (p->state != S_ONLINE || !p->jgen || p->nhidden) {
			k->mesh = false;
			break;
		}
		if (k->n == k->cap) {
			k->cap = k->cap ? 2 * k->cap : 1024;
			k->ids = jz_xrealloc(k->ids, k->cap, sizeof(*k->ids));
			k->h[0] = jz_xrealloc(k->h[0], k->cap, sizeof(*k->h[0]));
			k->h[1] = jz_xrealloc(k->h[1], k->cap, sizeof(*k->h[1]));
		}
		k->ids[k->n] = (uint32_t)i;
		memcpy(k->h[0][k->n], p->ent_hash[1][0], JZ_LIST_DIGEST_LEN);
		memcpy(k->h[1][k->n], p->ent_hash[1][1], JZ_LIST_DIGEST_LEN);
		k->n++;
		k->min_seen = p->seen_gen < k->min_seen ? p->seen_gen : k->min_seen;
		k->max_jgen = p->jgen > k->max_jgen ? p->jgen : k->max_jgen;
	}
	if (!k->mesh || !k->n)
		return k;
	k->ncp = (k->n + KNOWN_STRIDE - 1) / KNOWN_STRIDE;
	for (int c = 0; c < 2; c++) {
		struct jz_list_digest *d = &k->cp[c];

		k->cpctx[c] = calloc(k->ncp, sizeof(void *));
		if (jz_list_digest_start(d)) {
			k->mesh = false;
			continue;
		}
		for (size_t j = 0; j < k->ncp; j++) {
			struct jz_list_digest cp;
			size_t m = k->n - j * KNOWN_STRIDE;

			if (jz_list_digest_copy(&cp, d))
				k->mesh = false;
			k->cpctx[c][j] = cp.ctx;
			jz_list_digest_add_many(d, k->h[c] + j * KNOWN_STRIDE,
						m < KNOWN_STRIDE ? m : KNOWN_STRIDE);
		}
		jz_list_digest_free(d);
	}
	jz_debug("peers_known: %zu devices all see each other: digests from one array", k->n);
	return k;
}

/* Viewer s's digest from the snapshot, if it is the common case (false:
 * walk its view). */
static bool snap_digest(struct jz_server *srv, struct session *s, uint8_t out[JZ_LIST_DIGEST_LEN])
{
	struct known_snap *k = snap_get(srv);
	struct jz_list_digest base, d;
	const uint32_t *at;
	size_t j, c0;
	int c = s->takes_compact;

	if (!k->mesh || !k->n || s->nhidden || !s->jgen || s->jgen > k->min_seen ||
	    k->max_jgen > s->seen_gen)
		return false;
	at = bsearch(&s->lease->idx, k->ids, k->n, sizeof(uint32_t), cmp_u32);
	if (!at)
		return false;
	j = (size_t)(at - k->ids);
	c0 = j / KNOWN_STRIDE * KNOWN_STRIDE;
	base.ctx = k->cpctx[c][j / KNOWN_STRIDE];
	base.n = (uint32_t)c0;
	base.nbuf = 0;
	if (jz_list_digest_copy(&d, &base))
		return false;
	jz_list_digest_add_many(&d, k->h[c] + c0, j - c0);
	jz_list_digest_add_many(&d, k->h[c] + j + 1, k->n - j - 1);
	return !jz_list_digest_end(&d, out);
}

/* The digest of the list viewer s would be sent now (listout.c
 * list_part's entries, in its order). */
static int view_digest(struct jz_server *srv, struct session *s, uint8_t out[JZ_LIST_DIGEST_LEN])
{
	struct jz_list_digest d;

	if (snap_digest(srv, s, out))
		return 0;
	if (jz_list_digest_start(&d))
		return -1;
	for (size_t i = 0; i < srv->by_idx_cap; i++) {
		struct session *p = srv->by_idx[i];

		if (!p || p->state != S_ONLINE || !peers_sees(s, p))
			continue;
		jz_list_digest_add(&d, p->ent_hash[peers_sees(p, s)][s->takes_compact]);
	}
	return jz_list_digest_end(&d, out);
}

/* Pairs whose pair_start was left out because both ends said they kept
 * their state: this end did not keep it after all (its list differed),
 * so both get it now, as on any new link (links.c pair_new). */
static void pair_starts_owed(struct jz_server *srv, struct session *s)
{
	for (size_t i = 0; !cfg(srv)->server_keys && i < srv->by_idx_cap; i++) {
		struct session *p = srv->by_idx[i];

		if (p && p != s && p->state == S_ONLINE && p->has_known && !p->known_failed &&
		    peers_linked(s, p))
			pair_start_both(s, p);
	}
}

static void list_full(struct jz_server *srv, struct session *s, const char *why)
{
	jz_debug("peer list for %s@%s device %s: %s: the full list", s->user, s->realm,
		 s->device, why);
	s->known_held = false;
	s->known_failed = true;
	s->listed = true;
	pchg_reset(s);
	send_full_list(srv, s);
	pair_starts_owed(srv, s);
}

static void list_unchanged(struct jz_server *srv, struct session *s)
{
	jz_debug("peer list for %s@%s device %s: %zu entries, as it holds them: unchanged",
		 s->user, s->realm, s->device, s->nvis);
	s->known_held = false;
	s->listed = true;
	pchg_reset(s);	/* what changed while it waited is in the list it holds */
	send_msg(s, json_pack("{s:s,s:I}", "type", "peers_unchanged", "count",
			      (json_int_t)s->nvis));
	list_event(srv, s);
}

static void on_known_timer(evutil_socket_t fd, short what, void *arg)
{
	known_look_again(arg);
}

static void arm(struct jz_server *srv)
{
	struct timeval tv = { 1, 0 };

	if (!srv->known_ev)
		srv->known_ev = evtimer_new(srv->d->base, on_known_timer, srv);
	if (srv->known_ev && !evtimer_pending(srv->known_ev, NULL))
		evtimer_add(srv->known_ev, &tv);
}

/* Devices still coming online, and this viewer not held too long? */
static bool filling(const struct jz_server *srv, const struct session *s, double now)
{
	return now - srv->started < KNOWN_WINDOW_S &&
	       (srv->computing || now - s->known_grew < KNOWN_IDLE_S ||
		now - srv->newcomers_at < KNOWN_IDLE_S) &&
	       now - s->known_grew_from < KNOWN_MAX_S;
}

/*
 * A held (or new) first list: unchanged, the full list, or wait on. The
 * digests are compared when the count is reached, again at most once a
 * second and KNOWN_CHECKS times in all while devices come online (an
 * entry may still change as its device settles in: its candidates come
 * after its login), each an O(N) walk.
 */
static void decide(struct jz_server *srv, struct session *s)
{
	double now = jz_now();
	uint8_t mine[JZ_LIST_DIGEST_LEN];

	if (s->nvis > s->known_nvis)
		s->known_grew = now;
	s->known_nvis = s->nvis;
	if (s->nvis == s->known_count && now - s->known_checked >= 1.0) {
		s->known_checked = now;
		s->known_checks++;
		if (view_digest(srv, s, mine)) {
			list_full(srv, s, "no digest (out of memory)");
			return;
		}
		if (!CRYPTO_memcmp(mine, s->known_digest, sizeof(mine))) {
			list_unchanged(srv, s);
			return;
		}
		if (s->known_checks >= KNOWN_CHECKS || !filling(srv, s, now)) {
			list_full(srv, s, "not the list it holds");
			return;
		}
	}
	if (s->nvis <= s->known_count && filling(srv, s, now)) {
		s->known_held = true;	/* more may be on their way back */
		arm(srv);
		return;
	}
	list_full(srv, s, s->nvis > s->known_count ? "sees more than it holds" :
		  s->nvis < s->known_count ? "sees fewer than it holds" : "not the list it holds");
}

/* Its first list is due (peers.c peers_finish): its review is in. */
void known_first_list(struct jz_server *srv, struct session *s)
{
	if (!s->has_known || s->known_failed) {
		s->listed = true;
		pchg_reset(s);
		send_full_list(srv, s);
		return;
	}
	if (!s->known_held)
		s->known_grew = s->known_grew_from = jz_now();
	decide(srv, s);
}

/* Once a second while any first list is held: those that waited long
 * enough, or whose view stopped growing, are decided. */
void known_look_again(struct jz_server *srv)
{
	bool held = false;

	srv->corking = true;
	for (struct session *s = srv->sessions; s; s = s->next) {
		if (s->state != S_ONLINE || !s->known_held || s->listed || s->remote)
			continue;
		decide(srv, s);
		held |= s->known_held;
	}
	session_uncork_all(srv);
	if (held)
		arm(srv);
}

/* pair_new: leave out the pair_start when both ends kept their state (a
 * digest presented, not found wrong): neither lost its key. */
bool known_pair_start_skipped(const struct session *a, const struct session *b)
{
	return a->has_known && !a->known_failed && b->has_known && !b->known_failed;
}

void known_free(struct jz_server *srv)
{
	if (srv->ksnap) {
		snap_clear(srv->ksnap);
		free(srv->ksnap->ids);
		free(srv->ksnap->h[0]);
		free(srv->ksnap->h[1]);
		free(srv->ksnap);
		srv->ksnap = NULL;
	}
	if (srv->known_ev)
		event_free(srv->known_ev);
	srv->known_ev = NULL;
}
