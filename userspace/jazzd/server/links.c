// SPDX-License-Identifier: GPL-2.0
/*
 * Pairs: with device keys (the default) the pair_start of a newly linked
 * pair and the relay of the devices' opaque handshake messages between
 * linked devices (peers_linked()), with a relay budget per pair kept only
 * for pairs that hand-shook lately; with [server] pair_keys = server the
 * (a,b) table of links, the key distribution with its acks and the
 * periodic rotation. Must not decide who sees whom (peers.c does), read
 * a relayed message nor touch sessions' sockets directly.
 */
#include "server_int.h"

/* ------------------------------------------------------------------ */
/* links (pairs of devices that see each other) */

static uint64_t pair_hash(uint32_t a, uint32_t b)
{
	uint64_t x = (uint64_t)a << 32 | b;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static void links_grow(struct jz_server *srv)
{
	struct link *old = srv->links;
	size_t oldcap = srv->links_cap;

	/* grow only when live entries need it; else just drop tombstones */
	srv->links_cap = oldcap ? ((srv->links_n + 1) * 4 > oldcap ? oldcap * 2 : oldcap)
				: 1024;
	srv->links = calloc(srv->links_cap, sizeof(*srv->links));
	srv->links_n = 0;
	srv->links_dead = 0;
	for (size_t i = 0; i < oldcap; i++) {
		if (old[i].used) {
			struct link *l = link_find(srv, old[i].a, old[i].b, true);

			*l = old[i];
		}
	}
	free(old);
}

struct link *link_find(struct jz_server *srv, uint32_t a, uint32_t b, bool create)
{
	size_t i;

	if (a > b) {
		uint32_t t = a;

		a = b;
		b = t;
	}
	if (create && (srv->links_n + srv->links_dead + 1) * 2 > srv->links_cap)
		links_grow(srv);
	if (!srv->links_cap)
		return NULL;
	i = pair_hash(a, b) & (srv->links_cap - 1);
	for (;; i = (i + 1) & (srv->links_cap - 1)) {
		struct link *l = &srv->links[i];

		if (l->dead)
			continue;
		if (!l->used) {
			if (!create)
				return NULL;
			memset(l, 0, sizeof(*l));
			l->used = true;
			l->a = a;
			l->b = b;
			srv->links_n++;
			return l;
		}
		if (l->a == a && l->b == b)
			return l;
	}
}

void link_del(struct jz_server *srv, struct link *l)
{
	l->used = false;
	l->dead = true;
	srv->links_n--;
	srv->links_dead++;
}

/* A cipher name that needs no JSON escaping (it comes from the config). */
static bool plain_name(const char *s)
{
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("-_.", *s))
			return false;
	return true;
}

/*
 * The key message to one end, written without jansson (this is the
 * hottest message: one per pair and end on every link and rekey).
 */
static void send_key(struct jz_server *srv, struct session *s, uint32_t peer,
		     uint8_t key_id, const unsigned char *tx, const unsigned char *rx)
{
	unsigned char buf[512];
	char txk[48], txs[12], rxk[48], rxs[12];
	const char *cipher = cfg(srv)->cipher;
	int n;

	if (!s->bev || s->state == S_CLOSING)
		return;
	if (!plain_name(cipher) || strlen(cipher) > 64) {
		jz_err("cipher name '%s' cannot be sent", cipher);
		return;
	}
	EVP_EncodeBlock((unsigned char *)txk, tx, 32);
	EVP_EncodeBlock((unsigned char *)txs, tx + 32, 4);
	EVP_EncodeBlock((unsigned char *)rxk, rx, 32);
	EVP_EncodeBlock((unsigned char *)rxs, rx + 32, 4);
	n = snprintf((char *)buf + 4, sizeof(buf) - 4,
		     "{\"type\":\"key\",\"peer\":%u,\"key_id\":%u,\"cipher\":\"%s\","
		     "\"tx\":{\"key\":\"%s\",\"salt\":\"%s\"},"
		     "\"rx\":{\"key\":\"%s\",\"salt\":\"%s\"},\"v\":%d}",
		     peer, key_id, cipher, txk, txs, rxk, rxs, JZ_PROTO_VERSION);
	if (n > 0 && (size_t)n < sizeof(buf) - 4)
		session_send_raw(s, buf, (size_t)n);
	OPENSSL_cleanse(buf, sizeof(buf));
	OPENSSL_cleanse(txk, sizeof(txk));
	OPENSSL_cleanse(rxk, sizeof(rxk));
}

static void send_pair_start(struct session *s, uint32_t peer)
{
	char buf[96];
	int n;

	if (!s->bev || s->state == S_CLOSING)
		return;
	n = snprintf(buf + 4, sizeof(buf) - 4, "{\"type\":\"pair_start\",\"peer\":%u,\"v\":%d}",
		     peer, JZ_PROTO_VERSION);
	session_send_raw(s, (unsigned char *)buf, (size_t)n);
}

/*
 * a and b see each other now, and did not before. Device keys: the devices
 * agree them (on_pair); a new link may follow a reconnect that cost one
 * end its kernel peer and key, which the other cannot see: tell both the
 * pair is new. Server keys: a link and its first key.
 */
void pair_start_both(struct session *a, struct session *b)
{
	send_pair_start(a, b->lease->idx);
	send_pair_start(b, a->lease->idx);
}

/* Both ends logged in with the list they kept (known.c): neither lost its
 * key, no pair_start (unless one turns out not to have kept it). */
void pair_new(struct jz_server *srv, struct session *a, struct session *b)
{
	if (!cfg(srv)->server_keys) {
		if (!known_pair_start_skipped(a, b))
			pair_start_both(a, b);
		return;
	}
	if (!link_find(srv, a->lease->idx, b->lease->idx, false))
		link_send_key(srv, link_find(srv, a->lease->idx, b->lease->idx, true));
}

/*
 * A key both ends have not acked KEY_ACK_WAIT_S after it went out is sent
 * anew (a fresh key), up to KEY_RESENDS times, then left to the next
 * rekey. A client drops a key for a peer not listed yet ("key for unknown
 * peer"), and a new link's key can reach it before the list that names
 * the peer (lists go out in parts as the sockets drain): without this
 * such a pair had no key until the rekey interval, an hour by default.
 */
#define KEY_ACK_WAIT_S 2.0
#define KEY_RESENDS 5

static void on_key_ack_wait(evutil_socket_t fd, short what, void *arg);

static void key_ack_wait_arm(struct jz_server *srv)
{
	static const struct timeval wait = { (time_t)KEY_ACK_WAIT_S, 0 };

	if (!srv->keyack_ev)
		srv->keyack_ev = evtimer_new(srv->d->base, on_key_ack_wait, srv);
	if (srv->keyack_ev && !evtimer_pending(srv->keyack_ev, NULL))
		evtimer_add(srv->keyack_ev, &wait);
}

static void on_key_ack_wait(evutil_socket_t fd, short what, void *arg)
{
	struct jz_server *srv = arg;
	double now = jz_now();
	bool waiting = false;

	for (size_t i = 0; i < srv->links_cap; i++) {
		struct link *l = &srv->links[i];

		if (!l->used || (l->ack_a && l->ack_b) || l->resends >= KEY_RESENDS)
			continue;
		if (now - l->step_at < KEY_ACK_WAIT_S) {
			waiting = true;
			continue;
		}
		l->resends++;
		jz_info("pair %u-%u: key %u not acked by both ends after %.0f s: a new one "
			"(%u of %u)", l->a, l->b, l->key_id, KEY_ACK_WAIT_S, l->resends,
			KEY_RESENDS);
		link_send_key(srv, l);
	}
	if (waiting)
		key_ack_wait_arm(srv);
}

void links_free(struct jz_server *srv)
{
	if (srv->keyack_ev)
		event_free(srv->keyack_ev);
	srv->keyack_ev = NULL;
}

/* A fresh key for the pair, to both ends; the swap follows both acks. */
void link_send_key(struct jz_server *srv, struct link *l)
{
	unsigned char k[72];	/* a->b key+salt, b->a key+salt */
	struct session *sa = find_online_idx(srv, l->a);
	struct session *sb = find_online_idx(srv, l->b);

	if (!sa || !sb || !cfg(srv)->server_keys)
		return;
	if (srv->rpos == 0 || srv->rpos - 1 + sizeof(k) > sizeof(srv->rpool)) {
		if (RAND_bytes(srv->rpool, sizeof(srv->rpool)) != 1) {
			jz_err("no random bytes for a key");
			srv->rpos = 0;
			return;
		}
		srv->rpos = 1;	/* 0 means empty */
	}
	memcpy(k, srv->rpool + srv->rpos - 1, sizeof(k));
	OPENSSL_cleanse(srv->rpool + srv->rpos - 1, sizeof(k));
	srv->rpos += sizeof(k);
	/* ChaCha20-Poly1305: zero salts, as handshake version 2 makes them (a
	 * fresh key whose counter never repeats needs none, and jazz.ko then
	 * runs it on lib/crypto); an older jazz.ko reads them as before */
	if (!strcmp(cfg(srv)->cipher, "chacha20-poly1305")) {
		memset(k + 32, 0, 4);
		memset(k + 68, 0, 4);
	}
	l->key_id++;
	l->ack_a = l->ack_b = false;
	l->swap_a = l->swap_b = false;
	l->step_at = jz_now();
	send_key(srv, sa, l->b, l->key_id, k, k + 36);
	send_key(srv, sb, l->a, l->key_id, k + 36, k);
	OPENSSL_cleanse(k, sizeof(k));
	key_ack_wait_arm(srv);
}

void on_key_ack(struct session *s, const struct jz_sm_key_ack *k)
{
	struct jz_server *srv = s->srv;
	uint32_t peer = k->peer;
	int key_id = k->key_id;
	struct link *l = link_find(srv, s->lease->idx, peer, false);
	struct session *o;

	if (!l || key_id != l->key_id)
		return;
	if (s->lease->idx == l->a)
		l->ack_a = true;
	else
		l->ack_b = true;
	if (!l->ack_a || !l->ack_b)
		return;
	/* both ends hold the new key in a receive slot: now switch senders */
	l->step_at = jz_now();
	l->resends = 0;
	o = find_online_idx(srv, peer);
	send_msg(s, json_pack("{s:s,s:i,s:i}", "type", "key_swap", "peer", peer,
			      "key_id", key_id));
	if (o)
		send_msg(o, json_pack("{s:s,s:i,s:i}", "type", "key_swap", "peer",
				      s->lease->idx, "key_id", key_id));
	EVENT("key-rotated", json_pack("{s:s,s:s,s:i}", "device_a",
					  s->device, "device_b", o ? o->device : "",
					  "key_id", key_id));
}

/* "key_swap_ack": that end now sends with key_id. */
void on_key_swap_ack(struct session *s, const struct jz_sm_key_ack *k)
{
	uint32_t peer = k->peer;
	int key_id = k->key_id;
	struct link *l = link_find(s->srv, s->lease->idx, peer, false);

	if (!l || key_id != l->key_id || !l->ack_a || !l->ack_b)
		return;
	if (s->lease->idx == l->a)
		l->swap_a = true;
	else
		l->swap_b = true;
	if (l->swap_a && l->swap_b)
		l->step_at = jz_now();
}

/*
 * The next key replaces the previous one in the receive slot it still
 * occupies, so a pair rotates again only once both ends send with the
 * current key and packets sealed with the previous one have had
 * REKEY_SETTLE_S to arrive. An end that never answers (a lost message, a
 * jazzd without key_swap_ack) holds its pair back for REKEY_STUCK_S.
 */
#define REKEY_SETTLE_S 1.0
#define REKEY_STUCK_S 30.0

static bool link_may_rekey(const struct link *l, double now)
{
	if (now - l->step_at >= REKEY_STUCK_S)
		return true;
	return l->swap_a && l->swap_b && now - l->step_at >= REKEY_SETTLE_S;
}

void on_rekey(evutil_socket_t fd, short what, void *arg)
{
	struct jz_server *srv = arg;
	double now = jz_now();
	size_t held = 0;

	if (!cfg(srv)->server_keys)
		return;

	for (size_t i = 0; i < srv->links_cap; i++) {
		struct link *l = &srv->links[i];

		if (!l->used)
			continue;
		if (link_may_rekey(l, now))
			link_send_key(srv, l);
		else
			held++;
	}
	if (held)
		jz_info("rekey: %zu pair(s) still finishing the previous rotation, next time",
			held);
}


/* ------------------------------------------------------------------ */
/* device keys: the handshake relay */

/*
 * Budgets of "pair" messages (a token bucket each): a pair needs three
 * messages per handshake and hand-shakes every few minutes at most, so
 * these only stop floods. Per pair, so one flooding device cannot spend
 * another pair's; per session, so it cannot spend all its pairs' at once.
 */
#define RELAY_PAIR_RATE 2.0
#define RELAY_PAIR_BURST 12.0
#define RELAY_SESSION_RATE 50.0
#define RELAY_SESSION_BURST 300.0

static bool take(double *tok, double *at, double rate, double burst, double now)
{
	if (*at == 0)
		*tok = burst;
	else
		*tok += (now - *at) * rate;
	if (*tok > burst)
		*tok = burst;
	*at = now;
	if (*tok < 1)
		return false;
	*tok -= 1;
	return true;
}

static void pair_refused(struct session *s, long long peer, const char *reason)
{
	/* a flood is refused in silence; the first refusals say why */
	if (strcmp(reason, "rate-limited"))
		jz_warn("device %s: handshake for peer %lld not relayed: %s", s->device,
			(long long)peer, reason);
	else
		jz_debug("device %s: handshake for peer %lld not relayed: %s", s->device,
			 (long long)peer, reason);
	send_msg(s, json_pack("{s:s,s:I,s:s}", "type", "pair_refused", "peer", (json_int_t)peer,
			      "reason", reason));
}

/* The per-session budget every "pair", well-formed or not, spends first. */
static bool pair_session_ok(struct session *s, long long peer)
{
	if (cfg(s->srv)->server_keys) {
		pair_refused(s, peer, "pair-keys-server");
		return false;
	}
	if (!take(&s->relay_tok, &s->relay_at, RELAY_SESSION_RATE, RELAY_SESSION_BURST,
		  jz_now())) {
		pair_refused(s, peer, "rate-limited");
		return false;
	}
	return true;
}

/* A "pair" smsg.c could not parse (@why says how): refused as malformed. */
void on_pair_malformed(struct session *s, long long peer, const char *why)
{
	if (!pair_session_ok(s, peer))
		return;
	jz_debug("device %s: pair: %s", s->device, why);
	pair_refused(s, peer, "malformed");
}

/*
 * The pair's relay budget. The table holds only pairs whose bucket is not
 * full again (RELAY_PAIR_BURST / RELAY_PAIR_RATE = 6 s after their last
 * message): when it fills up, those are dropped (a dropped entry is a full
 * bucket, so nothing is forgotten). Its size follows the handshakes of
 * the last seconds, bounded by the sessions' own budgets, never N^2.
 */
static uint64_t pair_hash(uint32_t a, uint32_t b);

static struct relay *relay_slot(struct relay *t, size_t cap, uint32_t a, uint32_t b)
{
	size_t i = pair_hash(a, b) & (cap - 1);

	while (t[i].b && (t[i].a != a || t[i].b != b))
		i = (i + 1) & (cap - 1);
	return &t[i];
}

static void relay_rebuild(struct jz_server *srv, double now)
{
	struct relay *old = srv->relay;
	size_t oldcap = srv->relay_cap, live = 0;

	for (size_t i = 0; i < oldcap; i++)
		live += old[i].b && old[i].tok + (now - old[i].at) * RELAY_PAIR_RATE <
				    RELAY_PAIR_BURST;
	srv->relay_cap = 64;
	while (srv->relay_cap < (live + 1) * 4)
		srv->relay_cap *= 2;
	srv->relay = calloc(srv->relay_cap, sizeof(*srv->relay));
	srv->relay_n = 0;
	for (size_t i = 0; i < oldcap; i++) {
		if (!old[i].b || old[i].tok + (now - old[i].at) * RELAY_PAIR_RATE >=
				 RELAY_PAIR_BURST)
			continue;
		*relay_slot(srv->relay, srv->relay_cap, old[i].a, old[i].b) = old[i];
		srv->relay_n++;
	}
	free(old);
}

static bool relay_take(struct jz_server *srv, uint32_t a, uint32_t b, double now)
{
	struct relay *r;

	if (a > b) {
		uint32_t t = a;

		a = b;
		b = t;
	}
	if ((srv->relay_n + 1) * 2 > srv->relay_cap)
		relay_rebuild(srv, now);
	r = relay_slot(srv->relay, srv->relay_cap, a, b);
	if (!r->b) {
		*r = (struct relay){ .a = a, .b = b };
		srv->relay_n++;
	}
	return take(&r->tok, &r->at, RELAY_PAIR_RATE, RELAY_PAIR_BURST, now);
}

/* "pair" {peer, msg}: to that device as {peer: the sender, msg}, unread. */
void on_pair(struct session *s, const struct jz_sm_pair *p)
{
	struct jz_server *srv = s->srv;
	struct session *o;

	if (!pair_session_ok(s, p->peer))
		return;
	/* only between devices that see each other (peers.c) */
	o = find_online_idx(srv, (uint32_t)p->peer);
	if (!o || o->state != S_ONLINE || !peers_linked(s, o)) {
		pair_refused(s, p->peer, "not-linked");
		return;
	}
	if (!relay_take(srv, s->lease->idx, o->lease->idx, jz_now())) {
		pair_refused(s, p->peer, "rate-limited");
		return;
	}
	if (o->remote) {	/* on another server of the cluster: through Redis */
		if (!jz_state_relay(srv->state, s->lease->idx, (uint32_t)p->peer, "pair", p->msg))
			pair_refused(s, p->peer, "not-linked");
		return;
	}
	send_msg(o, json_pack("{s:s,s:I,s:s}", "type", "pair", "peer",
			      (json_int_t)s->lease->idx, "msg", p->msg));
	/* when it passed: a slow handshake shows which leg was slow */
	jz_debug("handshake message relayed from device %u to %u",
		 (unsigned int)s->lease->idx, (unsigned int)p->peer);
}
