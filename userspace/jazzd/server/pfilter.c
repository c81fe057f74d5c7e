// SPDX-License-Identifier: GPL-2.0
/*
 * peer_filter calls for the peer computation (peers.c): viewers asked
 * about the same peers in one call (a computation's newcomers each
 * reviewing everyone online; the viewers already online reviewing the
 * newcomers), the peers' entries made once per computation and shared by
 * its calls; the answers turned into struct filter_res; a failed call
 * retried (viewer by viewer when it ran) and reported
 * (peer-filter-failed). Must not change who sees whom (peers.c applies
 * the answers) nor send anything to a device.
 */
#include "server_int.h"

/*
 * A review set's users and peers as a call gives them to the backend,
 * made when the set's first call goes to a worker: the peers online then
 * (ids ascending), their strings in one block, the users that own them.
 * Every call about the set shares it: at a restart of 10,000 devices each
 * newcomer's call copied the strings of all the others (10^8 entries).
 * Counted: the set holds a reference, each call one until it is freed (a
 * call past its timeout may still be read by its worker), each call's
 * context and each all-kept answer one until used.
 */
struct review_arr {
	int refs;
	size_t n, nu, capu;
	struct jazz_peer_entry *pe;
	uint32_t *ids;		/* ascending */
	uint64_t *sids;
	uint32_t *pu;		/* each peer's user, an index in ue */
	struct jazz_user_entry *ue;
	uint32_t *ucount;	/* each user's peers */
	char (*ukeys)[600];	/* each user as "user@realm" */
	char *str;
};

/*
 * One peer_filter call: viewers asked about the same peers (a full review
 * each, or an incremental one each). Until a worker is about to take it
 * (filter_prepare) it holds only its viewers and a reference to the
 * computation's set of peers: a burst's queue of calls is O(calls), not
 * O(calls x peers).
 */
struct filter_ctx {
	struct jz_server *srv;
	uint64_t *vsids;	/* the viewers' sessions */
	uint32_t *vids;		/* ... and their ids (found in O(1), not by sid) */
	size_t nv;
	bool full;
	unsigned int attempt;	/* 0: the first call; retries after a failure */
	struct review_set *set;	/* whom to ask about (shared, counted) */
	struct review_arr *arr;	/* ... as asked (filter_prepare) */
};

void review_arr_put(struct review_arr *a)
{
	if (!a || --a->refs > 0)
		return;
	free(a->pe);
	free(a->ids);
	free(a->sids);
	free(a->pu);
	free(a->ue);
	free(a->ucount);
	free(a->ukeys);
	free(a->str);
	free(a);
}

static void arr_put_cb(void *a)
{
	review_arr_put(a);
}

size_t review_arr_ids(const struct review_arr *a, const uint32_t **ids, const uint64_t **sids)
{
	*ids = a->ids;
	*sids = a->sids;
	return a->n;
}

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
	review_arr_put(rs->arr);
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
	review_arr_put(fc->arr);
	free(fc->vsids);
	free(fc->vids);
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

static size_t arr_self(const struct review_arr *a, const struct session *s);

static void filter_failed_event(struct session *s, struct filter_ctx *fc, bool held_out,
				bool retry, int delay_ms)
{
	/* the peers it was asked about: its own device is not one */
	size_t n = fc->arr ? fc->arr->n - (arr_self(fc->arr, s) != JAZZ_NO_PEER) : 0;

	if (retry)
		jz_warn("peer_filter for %s@%s device %s failed (attempt %u, %zu peers%s%s): "
			"asking again in %d ms", s->user, s->realm, s->device, fc->attempt + 1,
			n, fc->nv > 1 ? ", in a batch" : "",
			held_out ? ", no worker free" : "", delay_ms);
	else
		jz_warn("peer_filter for %s@%s failed: hiding every peer%s (device %s, %u "
			"attempts; reviewed again in %d s)", s->user, s->realm,
			fc->full ? "" : " it was asked about", s->device, fc->attempt + 1,
			JZ_FILTER_AGAIN_S);
	jz_event("peer-filter-failed",
		 json_pack("{s:s,s:s,s:s,s:i,s:i,s:b,s:b,s:i}", "user", s->user, "realm",
			   s->realm, "device", s->device, "attempt", (int)fc->attempt + 1,
			   "peers", (int)n, "full", fc->full, "retry", retry,
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

/* Whether @keep holds no 0 in [0, n) but at @self (an answer ignored). */
static bool all_ones(const unsigned char *keep, size_t n, size_t self)
{
	if (self >= n)
		return !memchr(keep, 0, n);
	return !memchr(keep, 0, self) && !memchr(keep + self + 1, 0, n - self - 1);
}

/*
 * Viewer s's answers (its keep arrays) as its filter_res. "All kept", the
 * usual answer, costs O(peers) bytes scanned and nothing made: peers.c
 * applies it from the shared ids. A failed call (keep arrays NULL) hides
 * everyone: its arrays are not read, since a worker past the timeout may
 * still write them.
 */
static void filter_result(struct jz_server *srv, struct session *s, struct filter_ctx *fc,
			  const struct jazz_viewer *w, size_t solo, const unsigned char *keep_users,
			  const unsigned char *keep_peers)
{
	struct review_arr *a = fc->arr;
	struct filter_res *r = calloc(1, sizeof(*r));
	bool *uhid = NULL;

	r->full = fc->full;
	for (size_t j = 0; j < a->nu; j++) {
		if ((keep_users && keep_users[j]) || j == solo)
			continue;	/* a user of only the viewer's device hides nothing */
		if (!uhid) {
			uhid = calloc(a->nu, sizeof(*uhid));
			r->hidden = jz_xrealloc(NULL, a->nu, sizeof(*r->hidden));
		}
		uhid[j] = true;
		memcpy(r->hidden[r->nhidden++], a->ukeys[j], sizeof(*r->hidden));
	}
	if (keep_peers && !r->nhidden && all_ones(keep_peers, a->n, w->self)) {
		r->all_kept = true;
		r->arr = a;
		a->refs++;
		goto out;
	}
	r->asked = calloc(a->n + 1, sizeof(uint32_t));
	r->keep = calloc(a->n + 1, sizeof(uint32_t));
	for (size_t i = 0; i < a->n; i++) {
		struct session *p = find_online_idx(srv, a->ids[i]);

		if (i == w->self || !p || p->sid != a->sids[i])
			continue;	/* itself, or gone meanwhile */
		r->asked[r->nasked++] = a->ids[i];
		/* kept, and its user not hidden */
		if (keep_peers && keep_peers[i] && !(uhid && uhid[a->pu[i]]))
			r->keep[r->nkeep++] = a->ids[i];
	}
	/* the ids ascend (on_recompute): asked and keep are sorted */
out:
	free(uhid);
	filter_res_free(s->res);
	s->res = r;
}

/*
 * How many viewers one call may review: per batch one worker job, one
 * timeout, one wakeup of the loop instead of one each, and for a backend
 * with peer_filter_many one call; but the batch's reviews share the
 * call's timeout_ms, so a batch is kept to a quarter of it at the
 * backend's measured speed for such reviews (full or incremental; until
 * it is known, 8 incremental reviews or a full one). A failed batch is
 * asked again viewer by viewer.
 */
size_t peers_filter_batch(struct jz_server *srv, bool full)
{
	double room = cfg(srv)->cb_timeout_ms / 4.0;
	double ms = full ? srv->filter_full_ms : srv->filter_ms;
	double n;

	if (ms <= 0)
		return full ? 1 : 8;
	n = room / ms;
	return n < 1 ? 1 : n > JZ_FILTER_BATCH ? JZ_FILTER_BATCH : (size_t)n;
}

static void filter_speed(struct jz_server *srv, const struct jz_cb_call *c, size_t nv, bool full)
{
	double *avg = full ? &srv->filter_full_ms : &srv->filter_ms;
	double ms = c->run_ns / 1e6 / (double)nv;

	if (c->failed && !c->held_out && !c->run_ns) {
		/* ran past timeout_ms: a review takes at least its share of it
		 * (else every batch of the first guess's size timed out until
		 * a retry alone taught the speed) */
		ms = cfg(srv)->cb_timeout_ms / (double)nv;
		if (ms > *avg)
			*avg = ms;
		return;
	}
	if (c->failed || !c->run_ns)
		return;
	*avg = *avg > 0 ? 0.8 * *avg + 0.2 * ms : ms;
}

static void filter_done(void *arg, struct jz_cb_call *c)
{
	struct filter_ctx *fc = arg;
	struct jz_server *srv = fc->srv;
	bool retry = c->failed && fc->attempt < JZ_FILTER_RETRIES;
	int ms = JZ_FILTER_BACKOFF_MS << fc->attempt;

	if (!c->skipped)
		filter_speed(srv, c, fc->nv, fc->full);
	/* a call that never reached a worker is asked again whole: split, it
	 * would only make the queue it waited in longer */
	if (retry && c->held_out)
		retry_later(srv, filter_ctx_of(fc, 0, fc->nv), ms);
	for (size_t j = 0; j < fc->nv && !c->skipped; j++) {
		struct session *s = viewer(srv, fc, j);

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
		filter_result(srv, s, fc, &c->u.filter.reviews.viewers[j],
			      c->u.filter.solo_user[j],
			      c->failed ? NULL : c->u.filter.keep_users[j],
			      c->failed ? NULL : c->u.filter.keep_peers[j]);
	}
	filter_ctx_free(fc);
	jz_limits_filter_backlog(srv);
	if (--srv->filters_pending == 0)
		peers_finish(srv);
}

/* A user's index in the arr's users (appended when new). A linear search:
 * one user (or a few) owns the peers in practice, and it runs once per
 * computation, not once per review. */
static uint32_t arr_user(struct review_arr *a, const struct session *p, const char *rv)
{
	char uk[600];

	ukey(p, uk, sizeof(uk));
	for (size_t j = a->nu; j-- > 0;)
		if (!strcmp(a->ukeys[j], uk))
			return (uint32_t)j;
	if (a->nu == a->capu) {
		a->capu = a->capu ? 2 * a->capu : 4;
		a->ukeys = jz_xrealloc(a->ukeys, a->capu, sizeof(*a->ukeys));
		a->ue = jz_xrealloc(a->ue, a->capu, sizeof(*a->ue));
		a->ucount = jz_xrealloc(a->ucount, a->capu, sizeof(*a->ucount));
	}
	snprintf(a->ukeys[a->nu], sizeof(*a->ukeys), "%s", uk);
	a->ue[a->nu].username = rv + p->rv_off[1];
	a->ue[a->nu].realm = rv + p->rv_off[2];
	a->ucount[a->nu] = 0;
	return (uint32_t)a->nu++;
}

/* Peer i of the set, if still the same session online. */
static struct session *set_peer(struct jz_server *srv, const struct review_set *rs, size_t i)
{
	struct session *p = find_online_idx(srv, rs->ids[i]);

	return p && p->sid == rs->sids[i] ? p : NULL;
}

/* The set's users and peers as asked (its devices still online). */
static struct review_arr *arr_make(struct jz_server *srv, const struct review_set *rs)
{
	struct review_arr *a = calloc(1, sizeof(*a));
	size_t total = 0, k = 0;
	char *sp;

	a->refs = 1;
	for (size_t i = 0; i < rs->n; i++) {
		struct session *p = set_peer(srv, rs, i);

		if (p)
			total += p->rv_len;
	}
	a->pe = jz_xrealloc(NULL, rs->n + 1, sizeof(*a->pe));
	a->ids = jz_xrealloc(NULL, rs->n + 1, sizeof(*a->ids));
	a->sids = jz_xrealloc(NULL, rs->n + 1, sizeof(*a->sids));
	a->pu = jz_xrealloc(NULL, rs->n + 1, sizeof(*a->pu));
	a->str = sp = jz_xrealloc(NULL, total + 1, 1);
	for (size_t i = 0; i < rs->n; i++) {
		struct session *p = set_peer(srv, rs, i);
		struct jazz_peer_entry *pe = &a->pe[k];

		if (!p)
			continue;
		memcpy(sp, p->rv, p->rv_len);	/* device, user, realm, vip4, vip6 */
		pe->device = sp + p->rv_off[0];
		pe->username = sp + p->rv_off[1];
		pe->realm = sp + p->rv_off[2];
		pe->vip4 = sp + p->rv_off[3];
		pe->vip6 = sp + p->rv_off[4];
		a->ids[k] = p->lease->idx;
		a->sids[k] = p->sid;
		/* the owner of the previous peer again (one user's devices) */
		if (k && !strcmp(pe[-1].username, pe->username) && !strcmp(pe[-1].realm, pe->realm))
			a->pu[k] = a->pu[k - 1];
		else
			a->pu[k] = arr_user(a, p, sp);
		a->ucount[a->pu[k]]++;
		sp += p->rv_len;
		k++;
	}
	a->n = k;
	return a;
}

/* The viewer's own device among the arr's peers (a full review's). */
static size_t arr_self(const struct review_arr *a, const struct session *s)
{
	const uint32_t *at = a->n ? bsearch(&s->lease->idx, a->ids, a->n, sizeof(uint32_t),
					    cmp_u32) : NULL;

	return at && a->sids[at - a->ids] == s->sid ? (size_t)(at - a->ids) : JAZZ_NO_PEER;
}

/*
 * The call's review, made when a worker is about to take it (the loop
 * thread): its viewers still online, each with its answer arrays; the
 * users and peers are the set's, made by the first call that needed them.
 */
static bool filter_prepare(void *arg, struct jz_cb_call *c)
{
	struct filter_ctx *fc = arg;
	struct jz_server *srv = fc->srv;
	struct jazz_viewer *vw;
	struct review_arr *a;
	unsigned char *ku, *kp;
	size_t nv = 0;

	for (size_t j = 0; j < fc->nv; j++) {
		struct session *s = viewer(srv, fc, j);

		if (!s || s->state != S_ONLINE)
			continue;	/* gone: out of the call */
		fc->vsids[nv] = fc->vsids[j];
		fc->vids[nv++] = fc->vids[j];
	}
	fc->nv = nv;
	if (!nv)
		return false;
	if (!fc->set->arr)
		fc->set->arr = arr_make(srv, fc->set);
	a = fc->set->arr;
	review_arr_put(fc->arr);	/* a retry's earlier call's */
	fc->arr = a;
	a->refs += 2;
	jz_cb_hold(c, arr_put_cb, a);
	vw = jz_cb_alloc(c, nv * sizeof(*vw));
	c->u.filter.keep_users = jz_cb_alloc(c, nv * sizeof(*c->u.filter.keep_users));
	c->u.filter.keep_peers = jz_cb_alloc(c, nv * sizeof(*c->u.filter.keep_peers));
	c->u.filter.solo_user = jz_cb_alloc(c, nv * sizeof(*c->u.filter.solo_user));
	ku = jz_cb_alloc(c, nv * (a->nu + 1));
	kp = jz_cb_alloc(c, nv * (a->n + 1));
	for (size_t j = 0; j < nv; j++) {
		struct session *s = viewer(srv, fc, j);
		size_t self = arr_self(a, s);

		vw[j].username = jz_cb_strdup(c, s->user);
		vw[j].realm = jz_cb_strdup(c, s->realm);
		snprintf(vw[j].source.ip, JAZZ_ADDR_MAX, "%s", s->ip);
		vw[j].source.port = s->port;
		vw[j].self = self;
		c->u.filter.solo_user[j] = self != JAZZ_NO_PEER && a->ucount[a->pu[self]] == 1 ?
					   a->pu[self] : JAZZ_NO_PEER;
		c->u.filter.keep_users[j] = ku + j * (a->nu + 1);
		c->u.filter.keep_peers[j] = kp + j * (a->n + 1);
	}
	c->u.filter.reviews = (struct jazz_peer_reviews){
		.viewers = vw, .n_viewers = nv,
		.users = a->ue, .n_users = a->nu,
		.peers = a->pe, .n_peers = a->n,
	};
	return true;
}

static void filter_submit(struct filter_ctx *fc)
{
	struct jz_cb_call *c = jz_cb_call_new(JZ_CB_PEER_FILTER);

	c->prepare = filter_prepare;
	jz_cb_submit(fc->srv->d->cb, c, filter_done, fc);
}

/* One peer_filter call: viewers vs[0..nv) (each a full review, or each an
 * incremental one) about the sessions of @set still online when the set's
 * first call goes to a worker. */
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
