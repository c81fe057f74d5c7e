// SPDX-License-Identifier: GPL-2.0
/*
 * The approval bridge: connection requests from one device's kernel to
 * another's, the peer_connection callback, the verdict cache and verdict
 * delivery. Must not change peer lists or keys.
 */
#include "metrics/metrics.h"
#include "server_int.h"

/* ------------------------------------------------------------------ */
/* approval bridge */

/*
 * The verdict cache: open addressing on the request key, at most half
 * full; expired entries are dropped when the table is rebuilt.
 */
static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static struct vcache *vcache_slot(struct vcache *t, size_t cap, const char *key)
{
	size_t i = str_hash(key) & (cap - 1);

	while (t[i].key[0] && strcmp(t[i].key, key))
		i = (i + 1) & (cap - 1);
	return &t[i];
}

static void vcache_rebuild(struct jz_server *srv, double now)
{
	struct vcache *old = srv->vc;
	size_t oldcap = srv->vc_cap, live = 0;

	for (size_t i = 0; i < oldcap; i++)
		live += old[i].key[0] && old[i].expires >= now;
	srv->vc_cap = oldcap ? oldcap : 64;
	while ((live + 1) * 4 > srv->vc_cap)
		srv->vc_cap *= 2;
	srv->vc = calloc(srv->vc_cap, sizeof(*srv->vc));
	srv->vc_n = 0;
	for (size_t i = 0; i < oldcap; i++) {
		if (old[i].key[0] && old[i].expires >= now) {
			*vcache_slot(srv->vc, srv->vc_cap, old[i].key) = old[i];
			srv->vc_n++;
		}
	}
	free(old);
}

static struct vcache *vcache_store(struct jz_server *srv, const char *key, bool approve,
				   uint32_t lifetime)
{
	double now = jz_now();
	struct vcache *v;

	if (!srv->vc_cap || (srv->vc_n + 1) * 2 > srv->vc_cap)
		vcache_rebuild(srv, now);
	v = vcache_slot(srv->vc, srv->vc_cap, key);
	if (!v->key[0]) {
		snprintf(v->key, sizeof(v->key), "%s", key);
		srv->vc_n++;
	}
	v->approve = approve;
	v->lifetime = lifetime;
	v->expires = now + (lifetime ? lifetime : (uint32_t)cfg(srv)->verdict_cache_s);
	return v;
}

/* Kept here, and in the cluster state for the other servers (cluster/). */
static void vcache_put(struct jz_server *srv, const char *key, bool approve,
		       uint32_t lifetime)
{
	vcache_store(srv, key, approve, lifetime);
	jz_state_verdict_put(srv->state, key, approve, lifetime,
			     lifetime ? (int)lifetime : cfg(srv)->verdict_cache_s);
}

static struct vcache *vcache_get(struct jz_server *srv, const char *key)
{
	struct vcache *v;

	bool approve;
	uint32_t lifetime;

	if (srv->vc_cap) {
		v = vcache_slot(srv->vc, srv->vc_cap, key);
		if (v->key[0] && v->expires >= jz_now())
			return v;
	}
	/* another server's decision for this pair, if the cluster has one */
	if (jz_state_verdict_get(srv->state, key, &approve, &lifetime))
		return vcache_store(srv, key, approve, lifetime);
	return NULL;
}

struct conn_ctx {
	struct jz_server *srv;
	uint64_t origin_sid, dest_sid;
	char key[256];
	struct jz_sm_conn_req req;
	uint64_t asker_sid;	/* the session that sent the request */
	uint64_t t0_ns;		/* when the request came (metrics) */
};

/* A client may not have more than this many approvals being decided
 * (policy calls plus verdicts waiting for the far end's ack). */
#define MAX_CONN_INFLIGHT 256

static void inflight_done(struct jz_server *srv, uint64_t sid)
{
	struct session *s = find_sid(srv, sid);

	if (s && s->conn_inflight)
		s->conn_inflight--;
}

static void pv_finish(struct pending_verdict *pv, bool acked)
{
	struct jz_server *srv = pv->srv;
	struct session *o = find_sid(srv, pv->origin_sid);
	struct pending_verdict **pp;
	char vid[24];

	if (pv->relayed && acked) {
		/* the origin is on another server: the ack goes back there */
		snprintf(vid, sizeof(vid), "%llu", (unsigned long long)pv->r_vid);
		jz_state_relay(srv->state, pv->r_dest, pv->r_origin, "ack", vid);
	} else if (!pv->relayed) {
		if (o)
			send_msg(o, json_incref(pv->to_origin));
		inflight_done(srv, pv->origin_sid);
	}
	for (pp = &srv->pv; *pp; pp = &(*pp)->next) {
		if (*pp == pv) {
			*pp = pv->next;
			break;
		}
	}
	json_decref(pv->to_origin);
	event_free(pv->timer);
	free(pv);
}

static void pv_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct pending_verdict *pv = arg;

	jz_warn("approval: destination did not confirm verdict %llu in time; "
		"answering the origin anyway", (unsigned long long)pv->vid);
	pv_finish(pv, false);
}

void on_verdict_ack(struct session *s, uint64_t vid)
{
	for (struct pending_verdict *pv = s->srv->pv; pv; pv = pv->next) {
		if (pv->vid == vid && pv->dest_sid == s->sid) {
			pv_finish(pv, true);
			return;
		}
	}
}

static bool own_addr(struct session *s, const char *ip)
{
	return !strcmp(ip, s->lease->vip4) || !strcmp(ip, s->lease->vip6);
}

/* A verdict message about r; @peer is the other end as the receiver knows it. */
static json_t *verdict_msg(const struct jz_sm_conn_req *r, bool approve, uint32_t lifetime,
			   bool ingress, json_int_t peer)
{
	/* lifetime is 0..2^32-1 (docs/CALLBACKS.md): more than an int */
	return json_pack("{s:s,s:s,s:s,s:i,s:s,s:i,s:s,s:I,s:s,s:I}", "type", "verdict",
			 "proto", r->pname, "src", r->src, "sport", r->sport,
			 "dst", r->dst, "dport", r->dport,
			 "verdict", approve ? "approve" : "deny",
			 "lifetime", (json_int_t)lifetime,
			 "dir", ingress ? "ingress" : "egress", "peer", peer);
}

/* The asker's own handles go back to the asker, and to nobody else. */
static void add_handles(json_t *v, const struct jz_sm_conn_req *r)
{
	if (r->has_cookie)
		json_object_set_new(v, "cookie", json_integer(r->cookie));
	if (r->has_rid)
		json_object_set_new(v, "rid", json_integer(r->rid));
}

/* An answer to the asker alone (no policy involved, nothing held). */
static void answer_asker(struct session *s, const struct jz_sm_conn_req *r, bool approve,
			 uint32_t lifetime, json_int_t peer)
{
	json_t *v = verdict_msg(r, approve, lifetime, r->ingress, peer);

	add_handles(v, r);
	send_msg(s, v);
}

/*
 * The asker was the origin (egress): the destination first, then, after
 * its ack, the origin with its cookie. The asker was the destination
 * (ingress): only the destination; the origin's kernel asks for its own
 * connections itself.
 */
static void deliver_verdict(struct jz_server *srv, struct session *o, struct session *d,
			    const struct jz_sm_conn_req *r, bool approve, uint32_t lifetime)
{
	struct pending_verdict *pv;
	struct timeval tv = { 2, 0 };
	json_t *to_d, *to_o;

	if (r->ingress) {
		answer_asker(d, r, approve, lifetime, o->lease->idx);
		return;
	}
	pv = calloc(1, sizeof(*pv));
	to_d = verdict_msg(r, approve, lifetime, true, o->lease->idx);
	to_o = verdict_msg(r, approve, lifetime, false, d->lease->idx);
	pv->srv = srv;
	pv->vid = ++srv->next_vid;
	pv->origin_sid = o->sid;
	pv->dest_sid = d->sid;
	json_object_set_new(to_d, "vid", json_integer(pv->vid));
	json_object_set_new(to_o, "vid", json_integer(pv->vid));
	add_handles(to_o, r);
	pv->to_origin = to_o;
	pv->timer = evtimer_new(srv->d->base, pv_timeout, pv);
	pv->next = srv->pv;
	srv->pv = pv;
	o->conn_inflight++;	/* until pv_finish */
	evtimer_add(pv->timer, &tv);
	if (d->remote) {
		/* on another server of the cluster: its ack comes back as "ack" */
		char *txt = json_dumps(to_d, JSON_COMPACT);

		if (!txt || !jz_state_relay(srv->state, o->lease->idx, d->lease->idx, "verdict",
					    txt))
			jz_warn("approval: verdict %llu for device %s (another server) not "
				"relayed", (unsigned long long)pv->vid, d->device);
		free(txt);
		json_decref(to_d);
		return;
	}
	send_msg(d, to_d);
}

/*
 * A verdict for our device @d decided by the server of the origin @o (a
 * remote session), as that server sent it to the destination: parsed here
 * into a request and checked (the addresses are the two devices', the
 * peer is the origin) before @d gets it with a vid of this server's.
 */
void approval_relayed_verdict(struct jz_server *srv, struct session *o, struct session *d,
			      const char *msg)
{
	json_t *m = json_loads(msg, JSON_REJECT_DUPLICATES, NULL);
	const char *type, *proto, *src, *dst, *verdict, *dir;
	json_int_t sport, dport, lifetime, peer, vid;
	struct jz_sm_conn_req r = { 0 };
	struct pending_verdict *pv;
	struct timeval tv = { 2, 0 };
	json_t *to_d;
	bool approve;

	if (!m || json_unpack(m, "{s:s,s:s,s:s,s:I,s:s,s:I,s:s,s:I,s:s,s:I,s:I}", "type", &type,
			      "proto", &proto, "src", &src, "sport", &sport, "dst", &dst,
			      "dport", &dport, "verdict", &verdict, "lifetime", &lifetime,
			      "dir", &dir, "peer", &peer, "vid", &vid) ||
	    strcmp(type, "verdict") || strcmp(dir, "ingress") || peer != o->lease->idx ||
	    (strcmp(verdict, "approve") && strcmp(verdict, "deny")) || sport < 0 ||
	    sport > 65535 || dport < 0 || dport > 65535 || lifetime < 0 ||
	    lifetime > UINT32_MAX || vid < 1 || strlen(proto) >= sizeof(r.pname) ||
	    !own_addr(o, src) || !own_addr(d, dst)) {
		jz_warn("approval: a verdict relayed for device %s from another server is "
			"malformed; dropped", d->device);
		json_decref(m);
		return;
	}
	snprintf(r.pname, sizeof(r.pname), "%s", proto);
	snprintf(r.src, sizeof(r.src), "%s", src);
	snprintf(r.dst, sizeof(r.dst), "%s", dst);
	r.sport = (uint16_t)sport;
	r.dport = (uint16_t)dport;
	approve = !strcmp(verdict, "approve");
	to_d = verdict_msg(&r, approve, (uint32_t)lifetime, true, o->lease->idx);
	json_decref(m);	/* its strings with it */
	pv = calloc(1, sizeof(*pv));
	pv->srv = srv;
	pv->vid = ++srv->next_vid;
	pv->origin_sid = o->sid;
	pv->dest_sid = d->sid;
	pv->relayed = true;
	pv->r_origin = o->lease->idx;
	pv->r_dest = d->lease->idx;
	pv->r_vid = (uint64_t)vid;
	pv->timer = evtimer_new(srv->d->base, pv_timeout, pv);
	pv->next = srv->pv;
	srv->pv = pv;
	evtimer_add(pv->timer, &tv);
	json_object_set_new(to_d, "vid", json_integer(pv->vid));
	jz_info("approval: %s -> %s %s: %s (decided by the origin's server)", o->device,
		d->device, r.pname, approve ? "approved" : "denied");
	send_msg(d, to_d);
}

/* The destination @d (another server's) confirmed our verdict @vid for @o. */
void approval_relayed_ack(struct jz_server *srv, struct session *o, struct session *d,
			  const char *vid)
{
	uint64_t v = strtoull(vid, NULL, 10);

	for (struct pending_verdict *pv = srv->pv; pv; pv = pv->next) {
		if (pv->vid == v && !pv->relayed && pv->origin_sid == o->sid &&
		    pv->dest_sid == d->sid) {
			pv_finish(pv, true);
			return;
		}
	}
}

static json_t *conn_event(struct session *o, struct session *d, const struct jz_sm_conn_req *r)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:i,s:s,s:s,s:i,s:s}",
			 "origin_user", o->user, "origin_realm", o->realm,
			 "origin_device", o->device,
			 "origin_ip", r->src, "origin_port", r->sport,
			 "destination_device", d->device,
			 "destination_ip", r->dst, "destination_port", r->dport,
			 "protocol", r->pname);
}

static void conn_done(void *arg, struct jz_cb_call *c)
{
	struct conn_ctx *cc = arg;
	struct jz_server *srv = cc->srv;
	struct session *o = find_sid(srv, cc->origin_sid);
	struct session *d = find_sid(srv, cc->dest_sid);
	bool approve = c->u.conn.reply.approve && !c->failed;
	uint32_t lifetime = c->u.conn.reply.lifetime_s;

	inflight_done(srv, cc->asker_sid);
	vcache_put(srv, cc->key, approve, lifetime);
	if (o && d && o->state == S_ONLINE && d->state == S_ONLINE) {
		if (jz_events_on()) {
			json_t *ev = conn_event(o, d, &cc->req);

			json_object_set_new(ev, "lifetime", json_integer(lifetime));
			jz_event(approve ? "connection-approved" : "connection-denied", ev);
		}
		jz_info("approval: %s -> %s %s: %s%s", o->device, d->device,
			cc->req.pname, approve ? "approved" : "denied",
			c->failed ? " (fail-closed)" : "");
		deliver_verdict(srv, o, d, &cc->req, approve, lifetime);
		jz_metrics_approval(cc->t0_ns, approve);
	}
	free(cc);
}

void on_conn_request(struct session *s, const struct jz_sm_conn_req *rq)
{
	struct jz_server *srv = s->srv;
	struct session *o, *d, *other_s;
	uint32_t other;
	struct jz_sm_conn_req r = *rq;
	struct conn_ctx *cc;
	struct jz_cb_call *c;
	struct vcache *v;

	/* the asker's own end is the authenticated session, never a claim */
	if (!own_addr(s, r.ingress ? r.dst : r.src)) {
		jz_warn("approval from %s: address %s/%s is not its own; ignored",
			s->device, r.src, r.dst);
		return;
	}
	other_s = jz_state_vip_idx(srv->state, r.ingress ? r.src : r.dst, &other) ?
		  find_online_idx(srv, other) : NULL;	/* here or on another server */
	o = r.ingress ? other_s : s;
	d = r.ingress ? s : other_s;
	if (s->conn_inflight >= MAX_CONN_INFLIGHT) {
		jz_warn("approval from %s: %u requests already pending; denied",
			s->device, s->conn_inflight);
		answer_asker(s, &r, false, 0, other_s ? other_s->lease->idx : r.peer);
		return;
	}
	if (!o || !d || o == d || !peers_linked(o, d)) {
		jz_info("approval from %s: %s -> %s: no such reachable device; denied",
			s->device, r.src, r.dst);
		/* to the asker only: the other device may not even see it */
		answer_asker(s, &r, false, 0, r.peer);
		return;
	}
	cc = calloc(1, sizeof(*cc));
	cc->t0_ns = jz_metrics_now_ns();
	cc->asker_sid = s->sid;
	cc->srv = srv;
	cc->origin_sid = o->sid;
	cc->dest_sid = d->sid;
	cc->req = r;
	snprintf(cc->key, sizeof(cc->key), "%u>%u %s %s:%u>%s:%u", o->lease->idx,
		 d->lease->idx, r.pname, r.src, r.sport, r.dst, r.dport);
	v = vcache_get(srv, cc->key);
	if (v) {
		jz_debug("approval %s: cached %s", cc->key, v->approve ? "approve" : "deny");
		deliver_verdict(srv, o, d, &r, v->approve, v->lifetime);
		jz_metrics_approval(cc->t0_ns, v->approve);
		free(cc);
		return;
	}
	s->conn_inflight++;
	c = jz_cb_call_new(JZ_CB_PEER_CONNECTION);
	c->u.conn.info.origin_username = jz_cb_strdup(c, o->user);
	c->u.conn.info.origin_realm = jz_cb_strdup(c, o->realm);
	c->u.conn.info.origin_device = jz_cb_strdup(c, o->device);
	snprintf(c->u.conn.info.origin.ip, JAZZ_ADDR_MAX, "%s", r.src);
	c->u.conn.info.origin.port = r.sport;
	c->u.conn.info.destination_device = jz_cb_strdup(c, d->device);
	snprintf(c->u.conn.info.destination.ip, JAZZ_ADDR_MAX, "%s", r.dst);
	c->u.conn.info.destination.port = r.dport;
	c->u.conn.info.protocol = jz_cb_strdup(c, cc->req.pname);
	c->u.conn.info.relayed = jz_relays_pair_active(srv, o->lease->idx, d->lease->idx);
	jz_cb_submit(srv->d->cb, c, conn_done, cc);
}

void on_conn_expired(struct session *s, const struct jz_sm_conn_expired *e)
{
	if (!jz_events_on())
		return;
	jz_event("connection-expired",
		 json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:s,s:i,s:s}", "user", s->user,
			   "realm", s->realm, "device", s->device, "protocol", e->pname,
			   "origin_ip", e->src, "origin_port", e->sport,
			   "destination_ip", e->dst, "destination_port", e->dport,
			   "reason", e->reason));
}
