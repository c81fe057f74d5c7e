// SPDX-License-Identifier: GPL-2.0
/*
 * peer_filter calls for the peer computation (peers.c): one viewer's full
 * review, or a batch of viewers' incremental reviews asked about the same
 * newcomers in one call; the answers turned into struct filter_res; a
 * failed call retried viewer by viewer and reported (peer-filter-failed).
 * Must not change who sees whom (peers.c applies the answers) nor send
 * anything to a device.
 */
#include "server_int.h"

/*
 * One peer_filter call: a viewer, or a batch of viewers (incremental
 * reviews only) asked about the same peers.
 */
struct filter_ctx {
	struct jz_server *srv;
	uint64_t *vsids;	/* the viewers' sessions */
	uint32_t *vids;		/* ... and their ids (found in O(1), not by sid) */
	size_t nv;
	bool full;
	unsigned int attempt;	/* 0: the first call; retries after a failure */
	uint32_t *ids;		/* peer ids in the order given */
	uint64_t *sids;		/* ... and the sessions they were */
	size_t n;
	char (*ukeys)[600];	/* users in order, "user@realm" */
	size_t nu;
};

/* Viewer j of the call, if still the same session online (by its id: a
 * search of every session by sid per viewer made a join O(N^2)). */
static struct session *viewer(struct jz_server *srv, const struct filter_ctx *fc, size_t j)
{
	struct session *s = find_online_idx(srv, fc->vids[j]);

	return s && s->sid == fc->vsids[j] ? s : NULL;
}

static void filter_ctx_free(struct filter_ctx *fc)
{
	free(fc->vsids);
	free(fc->vids);
	free(fc->ids);
	free(fc->sids);
	free(fc->ukeys);
	free(fc);
}


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
		jz_warn("peer_filter for %s@%s device %s failed (attempt %u, %zu peers%s): "
			"asking again in %d ms", s->user, s->realm, s->device, fc->attempt + 1,
			fc->n, fc->nv > 1 ? ", in a batch" : "", delay_ms);
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
	struct session *s = viewer(srv, fc, 0);

	if (s && s->state == S_ONLINE) {
		struct session **ps = calloc(fc->n + 1, sizeof(*ps));
		size_t n = 0;

		/* the same review, less the devices gone meanwhile */
		for (size_t i = 0; i < fc->n; i++) {
			struct session *p = find_online_idx(srv, fc->ids[i]);

			if (p && p->sid == fc->sids[i])
				ps[n++] = p;
		}
		peers_filter_submit(srv, &s, 1, ps, n, fc->full, fc->attempt + 1);
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

/* The retry of viewer j of a failed call, alone. */
static struct filter_ctx *filter_ctx_one(const struct filter_ctx *fc, size_t j)
{
	struct filter_ctx *o = calloc(1, sizeof(*o));

	*o = *fc;
	o->nv = 1;
	o->vsids = jz_xrealloc(NULL, 1, sizeof(uint64_t));
	o->vsids[0] = fc->vsids[j];
	o->vids = jz_xrealloc(NULL, 1, sizeof(uint32_t));
	o->vids[0] = fc->vids[j];
	o->ids = jz_xrealloc(NULL, fc->n + 1, sizeof(uint32_t));
	o->sids = jz_xrealloc(NULL, fc->n + 1, sizeof(uint64_t));
	memcpy(o->ids, fc->ids, fc->n * sizeof(uint32_t));
	memcpy(o->sids, fc->sids, fc->n * sizeof(uint64_t));
	o->ukeys = NULL;
	return o;
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
	r->hidden = calloc(fc->nu + 1, sizeof(*r->hidden));
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
	qsort(r->asked, r->nasked, sizeof(uint32_t), cmp_u32);
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

	if (c->failed || !c->run_ns)
		return;
	srv->filter_ms = srv->filter_ms > 0 ? 0.8 * srv->filter_ms + 0.2 * ms : ms;
}

static void filter_done(void *arg, struct jz_cb_call *c)
{
	struct filter_ctx *fc = arg;
	struct jz_server *srv = fc->srv;

	if (fc->nv > 1 || !fc->full)
		filter_speed(srv, c, fc->nv);

	for (size_t j = 0; j < fc->nv; j++) {
		struct session *s = viewer(srv, fc, j);
		const struct jz_cb_filter_more *m = j ? &c->u.filter.more[j - 1] : NULL;

		if (!s || s->state != S_ONLINE)
			continue;
		if (c->failed) {
			bool retry = fc->attempt < JZ_FILTER_RETRIES;
			int ms = JZ_FILTER_BACKOFF_MS << fc->attempt;
			struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

			filter_failed_event(s, fc, retry, ms);
			if (retry) {
				/* one more pending: filter_retry takes it over */
				srv->filters_pending++;
				event_base_once(srv->d->base, -1, EV_TIMEOUT, filter_retry,
						filter_ctx_one(fc, j), &tv);
				continue;
			}
			s->review_again = true;
			tv = (struct timeval){ JZ_FILTER_AGAIN_S, 0 };
			event_base_once(srv->d->base, -1, EV_TIMEOUT, on_review_again, srv, &tv);
		}
		filter_result(srv, s, fc, c, m ? m->keep_users : c->u.filter.keep_users,
			      m ? m->keep_peers : c->u.filter.keep_peers);
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

static void review_head(struct jz_cb_call *c, struct jazz_peer_review *rv, struct session *s)
{
	rv->username = jz_cb_strdup(c, s->user);
	rv->realm = jz_cb_strdup(c, s->realm);
	snprintf(rv->source.ip, JAZZ_ADDR_MAX, "%s", s->ip);
	rv->source.port = s->port;
}

/* One peer_filter call: viewers vs[0..nv) (nv > 1: a batch of incremental
 * reviews, none of them among the peers) about the sessions in ps[0..n). */
void peers_filter_submit(struct jz_server *srv, struct session **vs, size_t nv,
			 struct session **ps, size_t n, bool full, unsigned int attempt)
{
	struct jz_cb_call *c = jz_cb_call_new(JZ_CB_PEER_FILTER);
	struct filter_ctx *fc = calloc(1, sizeof(*fc));
	struct jazz_peer_entry *pe = jz_cb_alloc(c, (n + 1) * sizeof(*pe));
	struct jazz_user_entry *ue = jz_cb_alloc(c, (n + 1) * sizeof(*ue));
	struct session *s = vs[0];
	json_t *useen = json_object();
	size_t k = 0, nu = 0, total = 0;
	char *ap;

	/* the entries' strings in one block: one allocation, not five per peer */
	for (size_t i = 0; i < n; i++)
		total += strlen(ps[i]->device) + strlen(ps[i]->user) + strlen(ps[i]->realm) +
			 strlen(ps[i]->lease->vip4) + strlen(ps[i]->lease->vip6) + 5;
	ap = jz_cb_alloc(c, total + 1);
	fc->srv = srv;
	fc->nv = nv;
	fc->vsids = calloc(nv, sizeof(uint64_t));
	fc->vids = calloc(nv, sizeof(uint32_t));
	for (size_t j = 0; j < nv; j++) {
		fc->vsids[j] = vs[j]->sid;
		fc->vids[j] = vs[j]->lease->idx;
	}
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
	review_head(c, &c->u.filter.review, s);
	c->u.filter.review.users = ue;
	c->u.filter.review.n_users = nu;
	c->u.filter.review.peers = pe;
	c->u.filter.review.n_peers = k;
	c->u.filter.users = ue;
	c->u.filter.peers = pe;
	c->u.filter.keep_users = jz_cb_alloc(c, nu + 1);
	c->u.filter.keep_peers = jz_cb_alloc(c, k + 1);
	if (nv > 1) {
		c->u.filter.n_more = nv - 1;
		c->u.filter.more = jz_cb_alloc(c, (nv - 1) * sizeof(*c->u.filter.more));
		for (size_t j = 1; j < nv; j++) {
			struct jz_cb_filter_more *m = &c->u.filter.more[j - 1];

			m->review = c->u.filter.review;	/* the same users and peers */
			review_head(c, &m->review, vs[j]);
			m->keep_users = jz_cb_alloc(c, nu + 1);
			m->keep_peers = jz_cb_alloc(c, k + 1);
		}
	}
	srv->filters_pending++;
	jz_cb_submit(srv->d->cb, c, filter_done, fc);
}
