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

static void vcache_put(struct jz_server *srv, const char *key, bool approve,
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
}

static struct vcache *vcache_get(struct jz_server *srv, const char *key)
{
	struct vcache *v;

	if (!srv->vc_cap)
		return NULL;
	v = vcache_slot(srv->vc, srv->vc_cap, key);
	return v->key[0] && v->expires >= jz_now() ? v : NULL;
}

struct conn_ctx {
	struct jz_server *srv;
	uint64_t origin_sid, dest_sid;
	char key[256];
	json_t *req;		/* the request as received (with rid, cookie) */
	bool from_ingress;	/* reported by the destination */
	uint64_t asker_sid;	/* the session that sent the request */
	uint64_t t0_ns;		/* when the request came (metrics) */
};

/* A client may not have more than this many approvals being decided. */
#define MAX_CONN_INFLIGHT 256

static void pv_finish(struct pending_verdict *pv)
{
	struct jz_server *srv = pv->srv;
	struct session *o = find_sid(srv, pv->origin_sid);
	struct pending_verdict **pp;

	if (o)
		send_msg(o, json_incref(pv->to_origin));
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
	pv_finish(pv);
}

void on_verdict_ack(struct session *s, json_t *m)
{
	uint64_t vid = (uint64_t)jz_msg_int(m, "vid", 0);

	for (struct pending_verdict *pv = s->srv->pv; pv; pv = pv->next) {
		if (pv->vid == vid && pv->dest_sid == s->sid) {
			pv_finish(pv);
			return;
		}
	}
}

/* Destination first, then (after its ack) the origin. */
static void deliver_verdict(struct jz_server *srv, struct session *o, struct session *d,
			    json_t *req, bool approve, uint32_t lifetime)
{
	struct pending_verdict *pv = calloc(1, sizeof(*pv));
	struct timeval tv = { 2, 0 };
	const char *v = approve ? "approve" : "deny";
	json_t *common = json_pack("{s:O,s:O,s:O,s:O,s:O,s:s,s:i}",
				   "proto", json_object_get(req, "proto"),
				   "src", json_object_get(req, "src"),
				   "sport", json_object_get(req, "sport"),
				   "dst", json_object_get(req, "dst"),
				   "dport", json_object_get(req, "dport"),
				   "verdict", v, "lifetime", lifetime);
	json_t *to_d = json_deep_copy(common), *to_o = json_deep_copy(common);

	pv->srv = srv;
	pv->vid = ++srv->next_vid;
	pv->origin_sid = o->sid;
	pv->dest_sid = d->sid;
	json_object_set_new(to_d, "type", json_string("verdict"));
	json_object_set_new(to_d, "vid", json_integer(pv->vid));
	json_object_set_new(to_d, "peer", json_integer(o->lease->idx));
	json_object_set_new(to_d, "dir", json_string("ingress"));
	json_object_set_new(to_o, "type", json_string("verdict"));
	json_object_set_new(to_o, "vid", json_integer(pv->vid));
	json_object_set_new(to_o, "peer", json_integer(d->lease->idx));
	json_object_set_new(to_o, "dir", json_string("egress"));
	if (json_object_get(req, "cookie"))
		json_object_set(to_o, "cookie", json_object_get(req, "cookie"));
	if (json_object_get(req, "rid"))
		json_object_set(to_o, "rid", json_object_get(req, "rid"));
	json_decref(common);
	pv->to_origin = to_o;
	pv->timer = evtimer_new(srv->d->base, pv_timeout, pv);
	pv->next = srv->pv;
	srv->pv = pv;
	evtimer_add(pv->timer, &tv);
	send_msg(d, to_d);
}

static json_t *conn_event(struct session *o, struct session *d, json_t *req)
{
	return json_pack("{s:s,s:s,s:s,s:O,s:O,s:s,s:O,s:O,s:O}",
			 "origin_user", o->user, "origin_realm", o->realm,
			 "origin_device", o->device,
			 "origin_ip", json_object_get(req, "src"),
			 "origin_port", json_object_get(req, "sport"),
			 "destination_device", d->device,
			 "destination_ip", json_object_get(req, "dst"),
			 "destination_port", json_object_get(req, "dport"),
			 "protocol", json_object_get(req, "proto"));
}

static void conn_done(void *arg, struct jz_cb_call *c)
{
	struct conn_ctx *cc = arg;
	struct jz_server *srv = cc->srv;
	struct session *o = find_sid(srv, cc->origin_sid);
	struct session *d = find_sid(srv, cc->dest_sid);
	bool approve = c->u.conn.reply.approve && !c->failed;
	uint32_t lifetime = c->u.conn.reply.lifetime_s;
	struct session *asker = find_sid(srv, cc->asker_sid);

	if (asker && asker->conn_inflight)
		asker->conn_inflight--;

	vcache_put(srv, cc->key, approve, lifetime);
	if (o && d && o->state == S_ONLINE && d->state == S_ONLINE) {
		if (jz_events_on()) {
			json_t *ev = conn_event(o, d, cc->req);

			json_object_set_new(ev, "lifetime", json_integer(lifetime));
			jz_event(approve ? "connection-approved" : "connection-denied", ev);
		}
		jz_info("approval: %s -> %s %s: %s%s", o->device, d->device,
			json_string_value(json_object_get(cc->req, "proto")),
			approve ? "approved" : "denied", c->failed ? " (fail-closed)" : "");
		deliver_verdict(srv, o, d, cc->req, approve, lifetime);
		jz_metrics_approval(cc->t0_ns, approve);
	}
	json_decref(cc->req);
	free(cc);
}

void on_conn_request(struct session *s, json_t *m)
{
	struct jz_server *srv = s->srv;
	const char *proto = jz_msg_str(m, "proto"), *src = jz_msg_str(m, "src");
	const char *dst = jz_msg_str(m, "dst"), *dir = jz_msg_str(m, "dir");
	int sport = (int)jz_msg_int(m, "sport", -1), dport = (int)jz_msg_int(m, "dport", -1);
	struct session *o, *d;
	struct jz_lease *other;
	struct conn_ctx *cc;
	struct jz_cb_call *c;
	struct vcache *v;
	json_t *req;

	if (!proto || !src || !dst || sport < 0 || sport > 65535 || dport < 0 ||
	    dport > 65535) {
		jz_warn("approval from %s: malformed request", s->device);
		return;
	}
	if (dir && !strcmp(dir, "ingress")) {
		/* reported by the destination: origin is who the kernel
		 * authenticated the packet from, by its allowed address */
		d = s;
		if (strcmp(dst, s->lease->vip4) && strcmp(dst, s->lease->vip6))
			goto spoofed;
		other = jz_leases_by_vip(srv->leases, src);
		o = other ? find_online_idx(srv, other->idx) : NULL;
	} else {
		/* the origin is the authenticated session, never a claim */
		o = s;
		if (strcmp(src, s->lease->vip4) && strcmp(src, s->lease->vip6))
			goto spoofed;
		other = jz_leases_by_vip(srv->leases, dst);
		d = other ? find_online_idx(srv, other->idx) : NULL;
	}
	req = json_deep_copy(m);
	if (!o || !d || o == d || !link_find(srv, o->lease->idx, d->lease->idx, false)) {
		jz_info("approval from %s: %s -> %s: no such reachable device; denied",
			s->device, src, dst);
		if (o && d && o != d) {
			deliver_verdict(srv, o, d, req, false, 0);
		} else {
			json_t *r = json_pack("{s:s,s:O,s:O,s:O,s:O,s:O,s:s,s:i,s:s}",
					      "type", "verdict", "proto",
					      json_object_get(m, "proto"), "src",
					      json_object_get(m, "src"), "sport",
					      json_object_get(m, "sport"), "dst",
					      json_object_get(m, "dst"), "dport",
					      json_object_get(m, "dport"), "verdict", "deny",
					      "lifetime", 0, "dir", dir ? dir : "egress");

			if (json_object_get(m, "cookie"))
				json_object_set(r, "cookie", json_object_get(m, "cookie"));
			json_object_set_new(r, "peer", json_integer(jz_msg_int(m, "peer", 0)));
			send_msg(s, r);
		}
		json_decref(req);
		return;
	}
	if (s->conn_inflight >= MAX_CONN_INFLIGHT) {
		jz_warn("approval from %s: %u requests already pending; denied",
			s->device, s->conn_inflight);
		deliver_verdict(srv, o, d, req, false, 0);
		json_decref(req);
		return;
	}
	cc = calloc(1, sizeof(*cc));
	cc->t0_ns = jz_metrics_now_ns();
	cc->asker_sid = s->sid;
	s->conn_inflight++;
	cc->srv = srv;
	cc->origin_sid = o->sid;
	cc->dest_sid = d->sid;
	cc->req = req;
	snprintf(cc->key, sizeof(cc->key), "%u>%u %s %s:%d>%s:%d", o->lease->idx,
		 d->lease->idx, proto, src, sport, dst, dport);
	v = vcache_get(srv, cc->key);
	if (v) {
		jz_debug("approval %s: cached %s", cc->key, v->approve ? "approve" : "deny");
		deliver_verdict(srv, o, d, req, v->approve, v->lifetime);
		jz_metrics_approval(cc->t0_ns, v->approve);
		json_decref(req);
		free(cc);
		return;
	}
	c = jz_cb_call_new(JZ_CB_PEER_CONNECTION);
	c->u.conn.info.origin_username = jz_cb_strdup(c, o->user);
	c->u.conn.info.origin_realm = jz_cb_strdup(c, o->realm);
	c->u.conn.info.origin_device = jz_cb_strdup(c, o->device);
	snprintf(c->u.conn.info.origin.ip, JAZZ_ADDR_MAX, "%s", src);
	c->u.conn.info.origin.port = sport;
	c->u.conn.info.destination_device = jz_cb_strdup(c, d->device);
	snprintf(c->u.conn.info.destination.ip, JAZZ_ADDR_MAX, "%s", dst);
	c->u.conn.info.destination.port = dport;
	c->u.conn.info.protocol = jz_cb_strdup(c, proto);
	jz_cb_submit(srv->d->cb, c, conn_done, cc);
	return;
spoofed:
	jz_warn("approval from %s: address %s/%s is not its own; ignored", s->device,
		src, dst);
}

void on_conn_expired(struct session *s, json_t *m)
{
	json_t *ev;

	if (!jz_events_on())
		return;
	ev = json_pack("{s:s,s:s,s:s,s:O,s:O,s:O,s:O,s:O,s:O}", "user", s->user,
			       "realm", s->realm, "device", s->device,
			       "protocol", json_object_get(m, "proto"),
			       "origin_ip", json_object_get(m, "src"),
			       "origin_port", json_object_get(m, "sport"),
			       "destination_ip", json_object_get(m, "dst"),
			       "destination_port", json_object_get(m, "dport"),
			       "reason", json_object_get(m, "end"));

	jz_event("connection-expired", ev);
}

