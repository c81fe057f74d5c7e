// SPDX-License-Identifier: GPL-2.0
/*
 * Devices online on another server of the cluster (issue 21, cluster/'s
 * remote callbacks): each is a session without a connection (remote =
 * true) that the peer computation lists to this server's devices like a
 * local one (its visibility is computed here too, with the same policy,
 * so "linked" means the same on every server). Nothing is ever sent to
 * it: its own server sends its lists. "pair" messages for it go through
 * cluster/ to its server (links.c), and those relayed to ours arrive here,
 * as do relay offers of another server's relay (issue 20).
 *
 * Must not reach Redis (cluster/ does) nor touch local sessions.
 */
#include "stun.h"
#include "server_int.h"

/* @r's candidates, checked as a device's own message is (a record in
 * Redis is no more trusted than a device): false and logged if bad. */
static bool remote_cands(uint32_t idx, const struct jz_state_remote *r, struct jz_sm_cands *c)
{
	char err[160];

	memset(c, 0, sizeof(*c));
	if (!r->cands)
		return true;
	if (!cands_parse(r->cands, c, err, sizeof(err)))
		return true;
	jz_warn("cluster: the candidates of device %u (server %s) in Redis are malformed "
		"(%s): listed without them", idx, r->server, err);
	memset(c, 0, sizeof(*c));
	return false;
}

static bool same_cands(const struct session *s, const struct jz_sm_cands *c)
{
	if (!s->cands)
		return !c->n && !c->direct_only;
	return s->direct_only == c->direct_only && s->cands->n == c->n &&
	       !memcmp(s->cands->c, c->c, c->n * sizeof(c->c[0]));
}

static void set_cands(struct session *s, const struct jz_sm_cands *c)
{
	if (!s->cands)
		s->cands = jz_xrealloc(NULL, 1, sizeof(*s->cands));
	*s->cands = *c;
	s->direct_only = c->direct_only;
}

/* Is @s what @r describes (nothing to redo)? */
static bool same(const struct session *s, const struct jz_state_remote *r)
{
	return !strcmp(s->user, r->user) && !strcmp(s->realm, r->realm) &&
	       !strcmp(s->device, r->device) && !strcmp(s->ep_ip, r->ep_ip) &&
	       s->ep_port == r->ep_port && s->has_pub == !!r->pub &&
	       (!r->pub || !memcmp(s->pub, r->pub, 32));
}

static struct session *remote_new(struct jz_server *srv, uint32_t idx,
				  const struct jz_state_remote *r, const struct jz_sm_cands *c)
{
	struct session *s = calloc(1, sizeof(*s));

	if (!s || !(s->lease = calloc(1, sizeof(*s->lease)))) {
		free(s);
		return NULL;
	}
	s->srv = srv;
	s->remote = true;
	s->fd = -1;
	s->sid = ++srv->next_sid;
	snprintf(s->user, sizeof(s->user), "%s", r->user);
	snprintf(s->realm, sizeof(s->realm), "%s", r->realm);
	snprintf(s->device, sizeof(s->device), "%s", r->device);
	snprintf(s->ip, sizeof(s->ip), "%s", r->server);	/* for logs */
	snprintf(s->ep_ip, sizeof(s->ep_ip), "%s", r->ep_ip);
	s->ep_port = r->ep_port;
	if (r->pub) {
		memcpy(s->pub, r->pub, 32);
		s->has_pub = true;
	}
	if (c->n || c->direct_only) {
		set_cands(s, c);
		jz_debug("device %u (server %s): %zu candidate(s) from its record", idx,
			 r->server, c->n);
	}
	s->lease->idx = idx;
	snprintf(s->lease->key, sizeof(s->lease->key), "%s@%s/%s", r->user, r->realm,
		 r->device);
	jz_state_addrs(srv->state, idx, s->lease->vip4, s->lease->vip6);
	if (make_entries(s)) {
		free(s->ent_linked);
		free(s->ent_unlinked);
		free(s->ent_user);
		free(s->cands);
		free(s->lease);
		free(s);
		return NULL;
	}
	s->next = srv->sessions;
	if (s->next)
		s->next->prev = s;
	srv->sessions = s;
	s->state = S_ONLINE;
	s->fresh = true;
	set_online_idx(srv, idx, s);
	return s;
}

void remote_device(void *arg, uint32_t idx, const struct jz_state_remote *r)
{
	struct jz_server *srv = arg;
	struct session *s = find_online_idx(srv, idx);
	struct jz_sm_cands c;

	if (s && !s->remote)
		return;		/* ours: cluster/ reports a move with the lost callback */
	if (r)
		remote_cands(idx, r, &c);
	if (s && r && same(s, r)) {
		if (same_cands(s, &c))
			return;
		/* only its candidates changed: its entries are made again and
		 * re-sent by the next computation, as for a local device */
		set_cands(s, &c);
		s->cands_dirty = true;
		srv->cands_dirty = true;
		jz_debug("device %u (server %s): %zu candidate(s) from its record", idx,
			 r->server, c.n);
		schedule_recompute(srv);
		return;
	}
	if (s)
		session_close(s, NULL);	/* gone, or changed: listed anew */
	if (!r)
		return;
	if (!remote_new(srv, idx, r, &c)) {
		jz_err("cluster: device %u of server %s cannot be listed (out of memory)",
		       idx, r->server);
		return;
	}
	jz_debug("device %s@%s/%s (id %u) is on server %s", r->user, r->realm, r->device,
		 idx, r->server);
	schedule_recompute(srv);
}

/* Another server relays the pair of its device @f and our @o (issue 20,
 * server/udprelay.c): @msg {ip, port, token} is @o's port there and its
 * latch token, checked here (an address, a port 1-65535, 24 hex digits;
 * no token from a server that sends none) before @o is told. */
static void relay_from_server(struct session *o, struct session *f, const char *msg)
{
	json_t *m = json_loads(msg, JSON_REJECT_DUPLICATES, NULL);
	char ip[JZ_SM_IP], token[2 * JZ_STUN_TXID + 2];
	unsigned char a[16];
	long long port;
	json_t *out;

	if (!json_is_object(m) || jz_msg_get_str(m, "ip", ip, sizeof(ip), true) ||
	    (inet_pton(AF_INET, ip, a) != 1 && inet_pton(AF_INET6, ip, a) != 1) ||
	    jz_msg_get_int(m, "port", 1, 65535, 0, &port) || !port ||
	    jz_msg_get_str(m, "token", token, sizeof(token), false) ||
	    (token[0] && (strlen(token) != 2 * JZ_STUN_TXID ||
			  strspn(token, "0123456789abcdef") != 2 * JZ_STUN_TXID))) {
		jz_warn("cluster: a relay offer from server %s for device %s is malformed; "
			"not delivered", f->ip, o->device);
		json_decref(m);
		return;
	}
	json_decref(m);
	jz_info("relay for %s and %s (server %s): port %s:%lld, through that server",
		o->device, f->device, f->ip, ip, port);
	out = json_pack("{s:s,s:I,s:s,s:I}", "type", "relay", "peer", (json_int_t)f->lease->idx,
			"ip", ip, "port", (json_int_t)port);
	if (out && token[0])
		json_object_set_new(out, "token", json_string(token));
	send_msg(o, out);
}

/* Another server's device @from sends our @to a handshake (pair), a
 * verdict, or the ack of ours: delivered only if the two may reach each
 * other here too (the same policy decides on every server). */
void remote_relay(void *arg, uint32_t from, uint32_t to, const char *kind, const char *msg)
{
	struct jz_server *srv = arg;
	struct session *o = find_online_idx(srv, to), *f = find_online_idx(srv, from);

	if (!o || o->remote || o->state != S_ONLINE || !f || !f->remote ||
	    !peers_linked(f, o)) {
		jz_debug("cluster: %s from device %u for %u not delivered: not linked here",
			 !strcmp(kind, "pair") ? "handshake" : kind, from, to);
		return;
	}
	if (!strcmp(kind, "relay")) {
		relay_from_server(o, f, msg);
	} else if (!strcmp(kind, "verdict")) {
		approval_relayed_verdict(srv, f, o, msg);
	} else if (!strcmp(kind, "ack")) {
		approval_relayed_ack(srv, o, f, msg);
	} else {
		send_msg(o, json_pack("{s:s,s:I,s:s}", "type", "pair", "peer",
				      (json_int_t)from, "msg", msg));
		jz_debug("handshake message relayed from device %u (another server) to %u",
			 from, to);
	}
}
