// SPDX-License-Identifier: GPL-2.0
/*
 * peer_filter calls for the peer computation (peers.c): one viewer's full
 * review, or a batch of viewers' incremental reviews asked about the same
 * newcomers in one call; the answers turned into struct filter_res; a
 * failed call retried (viewer by viewer when it ran) and reported
 * (peer-filter-failed). Must not change who sees whom (peers.c applies
 * the answers) nor send anything to a device.
 */
#include "server_int.h"

/*
 * One peer_filter call: a viewer, or a batch of viewers (incremental
 * reviews only) asked about the same peers. Until a worker is about to
 * take it (filter_prepare) it holds only its viewers and a reference to
 * the computation's shared set of peers: a burst's queue of calls is
 * O(calls), not O(calls x peers).
 */
struct filter_ctx {
	struct jz_server *srv;
	uint64_t *vsids;	/* the viewers' sessions */
	uint32_t *vids;		/* ... and their ids (found in O(1), not by sid) */
	size_t nv;
	bool full;
	unsigned int attempt;	/* 0: the first call; retries after a failure */
	struct review_set *set;	/* whom to ask about (shared, counted) */
	/* made by filter_prepare: */
	uint32_t *ids;		/* peer ids in the order given */
	uint64_t *sids;		/* ... and the sessions they were */
	size_t n;
	char (*ukeys)[600];	/* users in order, "user@realm" */
	size_t nu, capu;
};

struct review_set *review_set_new(size_t cap)
{
	struct review_set *rs = calloc(1, sizeof(*rs));

	rs->refs = 1;
	rs->ids = jz_xrealloc(NULL, cap + 1, sizeof(uint32_t));
	rs->sids = jz_xrealloc(NULL, cap + 1, sizeof(uint64_t));
	return rs;
}

void review_set_add(struct review_set *rs, const struct session *p)
{
	rs->ids[rs->n] = p->lease->idx;
	rs->sids[rs->n++] = p->sid;
}

void review_set_put(struct review_set *rs)
{
	if (!rs || --rs->refs > 0)
		return;
	free(rs->ids);
	free(rs->sids);
	free(rs);
}

/* Viewer j of the call, if still the same session online (by its id: a
 * search of every session by sid per viewer made a join O(N^2)). */
static struct session *viewer(struct jz_server *srv, const struct filter_ctx *fc, size_t j)
{
	struct session *s = find_online_idx(srv, fc->vids[j]);

	return s && s->sid == fc->vsids[j] ? s : NULL;
}

static void filter_ctx_free(struct filter_ctx *fc)
{
	review_set_put(fc->set);
	free(fc->vsids);
	free(fc->vids);
	free(fc->ids);
	free(fc->sids);
	free(fc->ukeys);
	free(fc);
}


static void filter_submit(struct filter_ctx *fc);

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

static void filter_failed_event(struct session *s, struct filter_ctx *fc, bool held_out,
				bool retry, int delay_ms)
{
	if (retry)
		jz_warn("peer_filter for %s@%s device %s failed (attempt %u, %zu peers%s%s): "
			"asking again in %d ms", s->user, s->realm, s->device, fc->attempt + 1,
			fc->n, fc->nv > 1 ? ", in a batch" : "",
			held_out ? ", no worker free" : "", delay_ms);
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

/* The same review again (less the devices gone meanwhile: the review is
 * made anew when a worker takes it); fc's pending count passes to it. */
static void filter_retry(evutil_socket_t fd, short what, void *arg)
{
	struct filter_ctx *fc = arg;
	struct jz_server *srv = fc->srv;
	bool any = false;

	for (size_t j = 0; j < fc->nv && !any; j++) {
		struct session *s = viewer(srv, fc, j);

		any = s && s->state == S_ONLINE;
	}
	if (any) {
		fc->attempt++;
		filter_submit(fc);	/* takes over fc and its pending count */
		return;
	}
	filter_ctx_free(fc);
	if (--srv->filters_pending == 0)
		peers_finish(srv);
}

static void on_review_again(evutil_socket_t fd, short what, void *arg)
{
	schedule_recompute(arg);
}

/* A new call for viewers [j, j + nv) of fc, about the same peers (its
 * review is made when a worker takes it). */
static struct filter_ctx *filter_ctx_of(const struct filter_ctx *fc, size_t j, size_t nv)
{
	struct filter_ctx *o = calloc(1, sizeof(*o));

	o->srv = fc->srv;
	o->full = fc->full;
	o->attempt = fc->attempt;
	o->set = fc->set;
	o->set->refs++;
	o->nv = nv;
	o->vsids = jz_xrealloc(NULL, nv, sizeof(uint64_t));
	o->vids = jz_xrealloc(NULL, nv, sizeof(uint32_t));
	memcpy(o->vsids, fc->vsids + j, nv * sizeof(uint64_t));
	memcpy(o->vids, fc->vids + j, nv * sizeof(uint32_t));
	return o;
}

static void retry_later(struct jz_server *srv, struct filter_ctx *o, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	srv->filters_pending++;	/* filter_retry takes it over */
	event_base_once(srv->d->base, -1, EV_TIMEOUT, filter_retry, o, &tv);
}

/* Viewer s's answer (keep arrays of its review) as its filter_res. */
static void filter_result(struct jz_server *srv, struct session *s, struct filter_ctx *fc,
			  struct jz_cb_call *c, const unsigned char *keep_users,
			  const unsigned char *keep_peers)
{
	struct filter_res *r = calloc(1, sizeof(*r));

	r->full = fc->full;
	r->asked = calloc(fc->n + 1, sizeof(uint32_t));
	r->keep = calloc(fc->n + 1, sizeof(uint32_t));
	r->hidden = jz_xrealloc(NULL, fc->nu + 1, sizeof(*r->hidden));
	for (size_t j = 0; j < fc->nu; j++)
		if (!keep_users[j])
			memcpy(r->hidden[r->nhidden++], fc->ukeys[j], sizeof(*r->hidden));
	for (size_t i = 0; i < fc->n; i++) {
		const struct jazz_peer_entry *pe = &c->u.filter.peers[i];
		struct session *p = find_online_idx(srv, fc->ids[i]);

		if (!p || p->sid != fc->sids[i])
			continue;	/* gone meanwhile */
		r->asked[r->nasked++] = fc->ids[i];
		/* kept, and its user not hidden */
		if (!keep_peers[i])
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
	/* the review set ascends by id (on_recompute): sorted already */
	if (!u32_ascending(r->asked, r->nasked))
		qsort(r->asked, r->nasked, sizeof(uint32_t), cmp_u32);
	if (!u32_ascending(r->keep, r->nkeep))
		qsort(r->keep, r->nkeep, sizeof(uint32_t), cmp_u32);
	filter_res_free(s->res);
	s->res = r;
}

/*
 * How many viewers one call may review: per batch one worker job, one
 * timeout, one wakeup of the loop instead of one each; but the batch's
 * reviews share the call's timeout_ms, so a batch is kept to a quarter of
 * it at the backend's measured speed (8 until it is known). A failed batch
 * is asked again viewer by viewer.
 */
size_t peers_filter_batch(struct jz_server *srv)
{
	double room = cfg(srv)->cb_timeout_ms / 4.0;
	double n;

	if (srv->filter_ms <= 0)
		return 8;
	n = room / srv->filter_ms;
	return n < 1 ? 1 : n > JZ_FILTER_BATCH ? JZ_FILTER_BATCH : (size_t)n;
}

static void filter_speed(struct jz_server *srv, const struct jz_cb_call *c, size_t nv)
{
	double ms = c->run_ns / 1e6 / (double)nv;

	if (c->failed && !c->held_out && !c->run_ns) {
		/* ran past timeout_ms: a review takes at least its share of it
		 * (else every batch of the first guess's size timed out until
		 * a retry alone taught the speed) */
		ms = cfg(srv)->cb_timeout_ms / (double)nv;
		if (ms > srv->filter_ms)
			srv->filter_ms = ms;
		return;
	}
	if (c->failed || !c->run_ns)
		return;
	srv->filter_ms = srv->filter_ms > 0 ? 0.8 * srv->filter_ms + 0.2 * ms : ms;
}

static void filter_done(void *arg, struct jz_cb_call *c)
{
	struct filter_ctx *fc = arg;
	struct jz_server *srv = fc->srv;
	bool retry = c->failed && fc->attempt < JZ_FILTER_RETRIES;
	int ms = JZ_FILTER_BACKOFF_MS << fc->attempt;

	if (!c->skipped && (fc->nv > 1 || !fc->full))
		filter_speed(srv, c, fc->nv);
	/* a call that never reached a worker is asked again whole: split, it
	 * would only make the queue it waited in longer */
	if (retry && c->held_out)
		retry_later(srv, filter_ctx_of(fc, 0, fc->nv), ms);
	for (size_t j = 0; j < fc->nv && !c->skipped; j++) {
		struct session *s = viewer(srv, fc, j);
		const struct jz_cb_filter_more *m = j ? &c->u.filter.more[j - 1] : NULL;

		if (!s || s->state != S_ONLINE)
			continue;
		if (c->failed) {
			struct timeval tv = { JZ_FILTER_AGAIN_S, 0 };

			filter_failed_event(s, fc, c->held_out, retry, ms);
			if (retry) {
				/* a call that ran too long: each viewer alone, so
				 * one slow review does not fail the others again */
				if (!c->held_out)
					retry_later(srv, filter_ctx_of(fc, j, 1), ms);
				continue;
			}
			s->review_again = true;
			event_base_once(srv->d->base, -1, EV_TIMEOUT, on_review_again, srv, &tv);
		}
		filter_result(srv, s, fc, c, m ? m->keep_users : c->u.filter.keep_users,
			      m ? m->keep_peers : c->u.filter.keep_peers);
	}
	filter_ctx_free(fc);
	jz_limits_filter_backlog(srv);
	if (--srv->filters_pending == 0)
		peers_finish(srv);
}

static void review_head(struct jz_cb_call *c, struct jazz_peer_review *rv, struct session *s)
{
	rv->username = jz_cb_strdup(c, s->user);
	rv->realm = jz_cb_strdup(c, s->realm);
	snprintf(rv->source.ip, JAZZ_ADDR_MAX, "%s", s->ip);
	rv->source.port = s->port;
}

/* A user's key in the call's list of users (appended when new). */
static bool ukeys_add(struct filter_ctx *fc, const char *uk)
{
	for (size_t j = fc->nu; j-- > 0;)
		if (!strcmp(fc->ukeys[j], uk))
			return false;
	if (fc->nu == fc->capu) {
		fc->capu = fc->capu ? 2 * fc->capu : 4;
		fc->ukeys = jz_xrealloc(fc->ukeys, fc->capu, sizeof(*fc->ukeys));
	}
	snprintf(fc->ukeys[fc->nu++], sizeof(*fc->ukeys), "%s", uk);
	return true;
}

/* Peer i of the call's set, if still the same session online and not the
 * (first) viewer itself. */
static struct session *set_peer(struct jz_server *srv, const struct review_set *rs, size_t i,
				const struct session *s)
{
	struct session *p = find_online_idx(srv, rs->ids[i]);

	return p && p->sid == rs->sids[i] && p != s ? p : NULL;
}

/*
 * The call's review, made when a worker is about to take it (the loop
 * thread): its viewers still online, the peers of its set still online,
 * their strings in one block (one allocation, not five per peer). The
 * users' list is deduplicated by a linear search: one user (or a few)
 * owns the peers in practice, and a review of many users costs the
 * plugin more than this search.
 */
static bool filter_prepare(void *arg, struct jz_cb_call *c)
{
	struct filter_ctx *fc = arg;
	struct jz_server *srv = fc->srv;
	const struct review_set *rs = fc->set;
	struct jazz_peer_entry *pe;
	struct jazz_user_entry *ue;
	struct session *s;
	size_t nv = 0, k = 0, total = 0;
	char *ap;

	for (size_t j = 0; j < fc->nv; j++) {
		s = viewer(srv, fc, j);
		if (!s || s->state != S_ONLINE)
			continue;	/* gone: out of the call */
		fc->vsids[nv] = fc->vsids[j];
		fc->vids[nv++] = fc->vids[j];
	}
	fc->nv = nv;
	if (!nv)
		return false;
	s = viewer(srv, fc, 0);
	for (size_t i = 0; i < rs->n; i++) {
		struct session *p = set_peer(srv, rs, i, s);

		if (p)
			total += p->rv_len;
	}
	pe = jz_cb_alloc(c, (rs->n + 1) * sizeof(*pe));
	ue = jz_cb_alloc(c, (rs->n + 1) * sizeof(*ue));
	ap = jz_cb_alloc(c, total + 1);
	fc->ids = jz_xrealloc(NULL, rs->n + 1, sizeof(uint32_t));
	fc->sids = jz_xrealloc(NULL, rs->n + 1, sizeof(uint64_t));
	for (size_t i = 0, last = SIZE_MAX; i < rs->n; i++) {
		struct session *p = set_peer(srv, rs, i, s);
		char uk[600];

		if (!p)
			continue;
		memcpy(ap, p->rv, p->rv_len);	/* device, user, realm, vip4, vip6 */
		pe[k].device = ap + p->rv_off[0];
		pe[k].username = ap + p->rv_off[1];
		pe[k].realm = ap + p->rv_off[2];
		pe[k].vip4 = ap + p->rv_off[3];
		pe[k].vip6 = ap + p->rv_off[4];
		ap += p->rv_len;
		fc->ids[k] = p->lease->idx;
		fc->sids[k] = p->sid;
		/* the owner of the previous peer again (one user's devices): no
		 * "user@realm" made and searched for each of N peers */
		if (last != SIZE_MAX && !strcmp(pe[last].username, p->user) &&
		    !strcmp(pe[last].realm, p->realm)) {
			k++;
			continue;
		}
		ukey(p, uk, sizeof(uk));
		if (ukeys_add(fc, uk)) {
			ue[fc->nu - 1].username = pe[k].username;
			ue[fc->nu - 1].realm = pe[k].realm;
		}
		last = k++;
	}
	fc->n = k;
	review_head(c, &c->u.filter.review, s);
	c->u.filter.review.users = ue;
	c->u.filter.review.n_users = fc->nu;
	c->u.filter.review.peers = pe;
	c->u.filter.review.n_peers = k;
	c->u.filter.users = ue;
	c->u.filter.peers = pe;
	c->u.filter.keep_users = jz_cb_alloc(c, fc->nu + 1);
	c->u.filter.keep_peers = jz_cb_alloc(c, k + 1);
	if (nv > 1) {
		c->u.filter.n_more = nv - 1;
		c->u.filter.more = jz_cb_alloc(c, (nv - 1) * sizeof(*c->u.filter.more));
		for (size_t j = 1; j < nv; j++) {
			struct jz_cb_filter_more *m = &c->u.filter.more[j - 1];

			m->review = c->u.filter.review;	/* the same users and peers */
			review_head(c, &m->review, viewer(srv, fc, j));
			m->keep_users = jz_cb_alloc(c, fc->nu + 1);
			m->keep_peers = jz_cb_alloc(c, k + 1);
		}
	}
	return true;
}

static void filter_submit(struct filter_ctx *fc)
{
	struct jz_cb_call *c = jz_cb_call_new(JZ_CB_PEER_FILTER);

	c->prepare = filter_prepare;
	jz_cb_submit(fc->srv->d->cb, c, filter_done, fc);
}

/* One peer_filter call: viewers vs[0..nv) (nv > 1: a batch of incremental
 * reviews, none of them among the peers) about the sessions of @set that
 * are still online when a worker takes it. */
void peers_filter_submit(struct jz_server *srv, struct session **vs, size_t nv,
			 struct review_set *set, bool full)
{
	struct filter_ctx *fc = calloc(1, sizeof(*fc));

	fc->srv = srv;
	fc->nv = nv;
	fc->full = full;
	fc->set = set;
	set->refs++;
	fc->vsids = jz_xrealloc(NULL, nv, sizeof(uint64_t));
	fc->vids = jz_xrealloc(NULL, nv, sizeof(uint32_t));
	for (size_t j = 0; j < nv; j++) {
		fc->vsids[j] = vs[j]->sid;
		fc->vids[j] = vs[j]->lease->idx;
	}
	srv->filters_pending++;
	filter_submit(fc);
}
