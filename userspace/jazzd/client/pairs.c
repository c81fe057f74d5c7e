// SPDX-License-Identifier: GPL-2.0
/*
 * Device keys: this device agrees every pair key with the peer itself,
 * through the pair handshake (client/noise.c) whose three messages the
 * server relays unread ("pair"). With [client] pair_handshake = eager the
 * device with the lower id initiates as soon as both see each other; on
 * demand (the default) either device initiates when it first needs a key
 * (client_pair_need(), from demand.c), and keys of an idle pair are
 * dropped (client_pair_drop_keys()). The lower id rotates every [client]
 * rekey_interval; either device initiates when its kernel says a key nears
 * its packet limit (key-rotate). Crossed handshakes (both ends started)
 * end the same way on both: the lower id's goes on, the other's is
 * dropped. The agreed keys go into the kernel's slots as the server's did
 * (new key in the secondary slot, then key-swap on each end, so no packet
 * is lost). Must not trust the server with anything but delivery: every
 * message is authenticated by the two identity keys.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <jazz.h>

#include "client/client_int.h"
#include "log.h"

/* No answer to a message 1: a new one. Long, because an answer that comes
 * after it is discarded, and under load (TCG, a busy server) the relay
 * took 4.5 s; a message lost with the session is covered by pair_start. */
#define HS_RETRY_S 15.0
/* A version-2 message 1 to a peer of unknown version unanswered this long:
 * the next is version 1 (a jazzd from before version 2 drops type 4
 * unread). Only mixed pairs pay it, once; a late answer only costs the
 * pair version 1's salts until the peer starts a version-2 handshake. */
#define HS_V1_FALLBACK_S 6.0
#define CONFIRM_WAIT_S 15.0	/* responder: no confirm, give it up */
/* A pair_start finds a handshake this young: it was started for the same
 * link (the peer's listing arrives just before the pair_start). */
#define PAIR_START_FRESH_S 2.0
/* Rotation by packet count: at most one new key per pair this often (a
 * flood of notifications costs one handshake; jazz.ko keeps 2^32 packets
 * between its soft and hard limits), and the device with the higher id
 * starts this many handshakes for one before it leaves it to the time. */
#define ROTATE_MIN_S 1.0
#define ROTATE_TRIES 3

static const struct timeval second = { 1, 0 };

static bool initiates(struct jz_client *c, const struct kpeer_state *ks)
{
	return c->my_id < ks->p.id;
}

static struct pair *pair_of(struct kpeer_state *ks)
{
	if (!ks->pair)
		ks->pair = calloc(1, sizeof(*ks->pair));
	return ks->pair;
}

/* Ends what a pair agreed or was agreeing, but keeps the newest message 1
 * taken (a replay must stay refused after the keys go). */
static void pair_reset(struct pair *p)
{
	uint64_t last_ts = p->last_ts;
	uint8_t peer_version = p->peer_version;

	jz_hs_clear(&p->hs);
	OPENSSL_cleanse(p, sizeof(*p));
	p->last_ts = last_ts;
	p->peer_version = peer_version;
}

/* The version of the next message 1: the peer's if known, else 2 unless
 * the last version-2 one went unanswered. */
static uint8_t next_version(const struct pair *p)
{
	if (p->peer_version)
		return p->peer_version;
	return p->v2_unanswered ? JZ_HS_V1 : JZ_HS_V2;
}

void client_pair_forget(struct kpeer_state *ks)
{
	if (!ks->pair)
		return;
	jz_hs_clear(&ks->pair->hs);
	OPENSSL_cleanse(ks->pair, sizeof(*ks->pair));
	free(ks->pair);
	ks->pair = NULL;
}

static void relay(struct jz_client *c, uint32_t peer, const uint8_t *msg, size_t len)
{
	char *b = jz_b64_encode(msg, len);

	if (b)
		client_send(c, json_pack("{s:s,s:I,s:s}", "type", "pair", "peer",
					 (json_int_t)peer, "msg", b));
	free(b);
}

/* The agreed key into the kernel: the primary slot if the peer has none
 * yet, else the secondary (swapped in later). 0: done. */
static int install(struct jz_client *c, struct kpeer_state *ks,
		   const struct jz_pair_keys *k, bool initiator)
{
	struct jz_kkey key = { 0 };
	int rc;

	key.peer_id = ks->p.id;
	key.key_id = k->key_id;
	key.cipher = JAZZ_CIPHER_CHACHA20_POLY1305;
	memcpy(key.tx_key, initiator ? k->i2r_key : k->r2i_key, 32);
	memcpy(key.tx_salt, initiator ? k->i2r_salt : k->r2i_salt, 4);
	memcpy(key.rx_key, initiator ? k->r2i_key : k->i2r_key, 32);
	memcpy(key.rx_salt, initiator ? k->r2i_salt : k->i2r_salt, 4);
	key.slot = ks->has_key ? JAZZ_KEY_SLOT_SECONDARY : JAZZ_KEY_SLOT_PRIMARY;
	rc = c->k->ops->key_new(c->k, &key);
	OPENSSL_cleanse(&key, sizeof(key));
	if (rc) {
		jz_err("kernel: key-new for peer %s failed", ks->p.name);
		return -1;
	}
	if (ks->has_key) {
		ks->pending_key_id = k->key_id;
	} else {
		ks->has_key = true;
		ks->key_shared = false;	/* until the handshake's next message */
		ks->active_key_id = k->key_id;
		ks->pending_key_id = -1;
		ks->active_at = jz_now();	/* a new key is not idle */
		jz_info("key %u for peer %s agreed and in use", k->key_id, ks->p.name);
	}
	return 0;
}

static void swap(struct jz_client *c, struct kpeer_state *ks)
{
	if (ks->pending_key_id < 0)
		return;
	if (c->k->ops->key_swap(c->k, ks->p.id)) {
		jz_err("kernel: key-swap for peer %s failed", ks->p.name);
		return;
	}
	ks->active_key_id = ks->pending_key_id;
	ks->pending_key_id = -1;
	jz_info("key %d for peer %s now in use", ks->active_key_id, ks->p.name);
}

/* Strictly increasing across this process: a responder refuses a message
 * 1 not newer than the last it took, so a replay does nothing. */
static uint64_t next_ts(struct jz_client *c)
{
	struct timespec t;
	uint64_t ns;

	clock_gettime(CLOCK_REALTIME, &t);
	ns = (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
	if (ns <= c->last_ts)
		ns = c->last_ts + 1;
	c->last_ts = ns;
	return ns;
}

/* Sends a message 1 (a running handshake of this end is replaced):
 * true when sent. */
static bool start(struct jz_client *c, struct kpeer_state *ks, double now)
{
	struct pair *p = pair_of(ks);
	uint8_t msg[JZ_HS_INIT_LEN], id;

	if (!p)
		return false;
	if (p->hs_on)
		jz_hs_clear(&p->hs);
	p->hs_on = false;
	/* the next id, unless nothing is agreed yet or the last attempt got
	 * no answer (the peer may hold that id already): then a random one */
	if (ks->active_key_id >= 0 && !p->fails)
		id = (uint8_t)(ks->active_key_id + 1);
	else if (RAND_bytes(&id, 1) != 1)
		return false;
	if (ks->active_key_id >= 0 && id == (uint8_t)ks->active_key_id)
		id++;
	if (jz_hs_init_write(&p->hs, c->idkey, c->idpub, ks->pub, id, next_version(p),
			     next_ts(c), msg)) {
		jz_err("peer %s: cannot start a handshake (OpenSSL)", ks->p.name);
		return false;
	}
	p->hs_on = true;
	p->hs_at = now;
	relay(c, ks->p.id, msg, sizeof(msg));
	client_path_need(c, ks, "a handshake starts");
	jz_debug("peer %s: handshake (version %u) for key %u sent", ks->p.name,
		 p->hs.version, id);
	return true;
}

/* A rotation the kernel asked for, when nothing stands in its way: no
 * handshake of this end running, no agreed key waiting for its confirm
 * (a new key would overwrite it in the secondary slot while the peer may
 * already send with it), not too soon after the last key. */
static void rotate_step(struct jz_client *c, struct kpeer_state *ks, double now)
{
	struct pair *p = ks->pair;

	if (!p || !p->rotate_due || p->hs_on || p->await_on || c->state != C_ONLINE ||
	    now - p->keyed_at < ROTATE_MIN_S)
		return;
	if (start(c, ks, now))
		jz_info("peer %s: handshake for key %u started (rotation by packet count)",
			ks->p.name, p->hs.key_id);
}

/* A key-rotate not acted on: logged the first time and every 1000th
 * (per reason), so a flood cannot fill the log. */
static void rotate_ignored(unsigned int *n, uint32_t peer, const char *why)
{
	if ((*n)++ % 1000 == 0)
		jz_warn("key-rotate for peer %u: %s: ignored (%u so far)", peer, why, *n);
}

/* key-rotate from the kernel (kernel/kernel.h: checked there). Acted on
 * only for an installed peer, for the key it sends with, once per key. */
void client_pair_rotate(void *arg, const struct jz_krotate *r)
{
	struct jz_client *c = arg;
	struct kpeer_state *ks;
	struct pair *p;

	if (c->server_keys) {
		rotate_ignored(&c->rotate_unknown, r->peer_id, "the server rotates keys here");
		return;
	}
	ks = client_kp_find(c, r->peer_id);
	if (!ks || !ks->present || !ks->has_pub || !ks->has_key) {
		rotate_ignored(&c->rotate_unknown, r->peer_id,
			       "not an installed peer with a key");
		return;
	}
	if (r->slot != JAZZ_KEY_SLOT_PRIMARY || r->key_id != ks->active_key_id) {
		rotate_ignored(&c->rotate_stale, r->peer_id,
			       "not for the key it sends with (rotated already?)");
		return;
	}
	p = pair_of(ks);
	if (!p || p->rotate_due)
		return;		/* asked already: one rotation per key */
	p->rotate_due = true;
	p->rotate_at = jz_now();
	p->fails = 0;
	jz_info("peer %s: key %u sent %llu packets, near its limit: a new key is due",
		ks->p.name, r->key_id, (unsigned long long)r->tx_counter);
	rotate_step(c, ks, p->rotate_at);
}

/* This device needs a key for the peer now (on demand: a connection was
 * approved, or packets went without one): a handshake unless one is
 * running or the peer already holds the key this end sends with. Either
 * end may start it; crossed ones settle on the lower id's. */
void client_pair_need(struct jz_client *c, struct kpeer_state *ks, const char *why)
{
	struct pair *p = ks->pair;

	if (c->server_keys || c->state != C_ONLINE || !ks->present || !ks->has_pub ||
	    (ks->has_key && ks->key_shared))
		return;
	if (p && (p->hs_on || p->await_on))
		return;		/* one running: its answer or retry comes */
	if (start(c, ks, jz_now()))
		jz_info("peer %s: handshake for key %u started (on demand: %s)", ks->p.name,
			ks->pair->hs.key_id, why);
}

/* The peer lost its keys (its kernel peer was made anew) while this end
 * kept them: a handshake even though this end has a key. */
void client_pair_need_anew(struct jz_client *c, struct kpeer_state *ks, const char *why)
{
	if (c->server_keys || c->state != C_ONLINE || !ks->present || !ks->has_pub)
		return;
	if (ks->pair)	/* its jazzd may be another version now */
		ks->pair->peer_version = 0;
	if (start(c, ks, jz_now()))
		jz_info("peer %s: handshake for key %u started (on demand: %s)", ks->p.name,
			ks->pair->hs.key_id, why);
}

/* The pair's keys out of the kernel and its handshake state forgotten
 * (idle, or agreed with an identity key no longer listed): the next need
 * hand-shakes again. */
void client_pair_drop_keys(struct jz_client *c, struct kpeer_state *ks, const char *why)
{
	if (ks->present && ks->has_key) {
		c->k->ops->key_del(c->k, ks->p.id, JAZZ_KEY_SLOT_PRIMARY);
		c->k->ops->key_del(c->k, ks->p.id, JAZZ_KEY_SLOT_SECONDARY);
		jz_info("peer %s: keys dropped (%s); the next need hand-shakes again",
			ks->p.name, why);
	}
	ks->has_key = ks->key_shared = false;
	ks->active_key_id = ks->pending_key_id = -1;
	if (ks->pair)
		pair_reset(ks->pair);
}

/* A peer (re)listed: its identity key kept; a changed key ends what was
 * agreed with the old one, and (eager) the initiator starts a handshake. */
void client_pair_listed(struct jz_client *c, struct kpeer_state *ks,
			const struct jz_cm_peer *e)
{
	if (c->server_keys)
		return;
	if (ks->has_pub != e->has_pub || memcmp(ks->pub, e->pub, 32)) {
		if (ks->has_pub)
			jz_warn("peer %s: the server lists a new identity key for it",
				ks->p.name);
		if (!cfg(c)->pair_eager && ks->has_key)
			client_pair_drop_keys(c, ks, "agreed with its previous identity key");
		client_pair_forget(ks);
		memcpy(ks->pub, e->pub, 32);
		ks->has_pub = e->has_pub;
		if (ks->has_pub && cfg(c)->pair_eager && initiates(c, ks))
			start(c, ks, jz_now());
		else if (!ks->has_pub)
			jz_warn("peer %s: listed without an identity key: no handshake",
				ks->p.name);
	}
}

static void on_init(struct jz_client *c, struct kpeer_state *ks, const struct jz_hs_msg *m)
{
	struct pair *p = pair_of(ks);
	struct jz_pair_keys k;
	uint8_t out[JZ_HS_RESP_LEN];
	uint64_t ts;

	if (!p)
		return;
	/* crossed with ours: the lower id's handshake goes on at both ends */
	if (p->hs_on && initiates(c, ks)) {
		jz_info("peer %s: crossed handshakes: this device's (the lower id) goes on, "
			"the peer's is dropped", ks->p.name);
		return;
	}
	if (jz_hs_respond(c->idkey, c->idpub, ks->pub, m, &ts, out, &k)) {
		jz_warn("peer %s: handshake refused: it does not authenticate (forged, "
			"tampered with, or made for another key)", ks->p.name);
		return;
	}
	if (ts <= p->last_ts) {
		jz_warn("peer %s: handshake refused: replayed (not newer than the last)",
			ks->p.name);
		goto out;
	}
	if (ks->has_key && (m->key_id == ks->active_key_id)) {
		jz_warn("peer %s: handshake refused: key id %u is the one in use",
			ks->p.name, m->key_id);
		goto out;
	}
	p->last_ts = ts;
	p->peer_version = k.version;
	if (p->hs_on) {	/* only now: a forged message 1 must not end ours */
		jz_info("peer %s: crossed handshakes: the peer's (the lower id) goes on, "
			"this device's is dropped", ks->p.name);
		jz_hs_clear(&p->hs);
		p->hs_on = false;
	}
	if (p->await_on)
		OPENSSL_cleanse(&p->await, sizeof(p->await));
	p->await_on = false;
	if (install(c, ks, &k, false))
		goto out;
	/* the confirm says the initiator holds the key: awaited also for a
	 * first key (primary slot), whose held packets wait for it. Only
	 * what checks the confirm is kept, not the traffic keys. */
	p->await = k;
	OPENSSL_cleanse(p->await.i2r_key, sizeof(p->await.i2r_key));
	OPENSSL_cleanse(p->await.r2i_key, sizeof(p->await.r2i_key));
	OPENSSL_cleanse(p->await.i2r_salt, sizeof(p->await.i2r_salt));
	OPENSSL_cleanse(p->await.r2i_salt, sizeof(p->await.r2i_salt));
	p->await_on = true;
	p->await_at = jz_now();
	relay(c, ks->p.id, out, sizeof(out));
	client_path_need(c, ks, "the peer's handshake came");
out:
	OPENSSL_cleanse(&k, sizeof(k));
}

static void on_resp(struct jz_client *c, struct kpeer_state *ks, const struct jz_hs_msg *m)
{
	struct pair *p = ks->pair;
	struct jz_pair_keys k;
	uint8_t out[JZ_HS_CONFIRM_LEN];

	if (!p || !p->hs_on || m->key_id != p->hs.key_id) {
		jz_warn("peer %s: handshake answer for no handshake in progress: ignored",
			ks->p.name);
		return;
	}
	/* a forged answer leaves the real one free to finish */
	if (jz_hs_finish(&p->hs, c->idkey, ks->pub, m, &k)) {
		jz_warn("peer %s: handshake answer refused: it does not authenticate",
			ks->p.name);
		return;
	}
	jz_hs_clear(&p->hs);
	p->hs_on = false;
	p->peer_version = k.version;
	if (!install(c, ks, &k, true)) {
		/* the responder holds the key already: send with it now */
		swap(c, ks);
		if (!jz_hs_confirm_write(&k, out))
			relay(c, ks->p.id, out, sizeof(out));
		p->keyed_at = jz_now();
		p->fails = 0;
		p->rotate_due = false;
		ks->key_shared = true;
		client_demand_key_ready(c, ks);
	}
	OPENSSL_cleanse(&k, sizeof(k));
}

static void on_confirm(struct jz_client *c, struct kpeer_state *ks, const struct jz_hs_msg *m)
{
	struct pair *p = ks->pair;

	if (!p || !p->await_on || m->key_id != p->await.key_id) {
		jz_debug("peer %s: confirm for no key awaiting one: ignored", ks->p.name);
		return;
	}
	if (jz_hs_confirm_check(&p->await, m)) {
		jz_warn("peer %s: handshake confirm refused: it does not authenticate",
			ks->p.name);
		return;
	}
	OPENSSL_cleanse(&p->await, sizeof(p->await));
	p->await_on = false;
	if (ks->pending_key_id == m->key_id)
		swap(c, ks);
	if (ks->active_key_id == m->key_id) {
		p->keyed_at = jz_now();
		p->rotate_due = false;
		p->fails = 0;
		ks->key_shared = true;
		client_demand_key_ready(c, ks);
	}
}

void client_on_pair(struct jz_client *c, json_t *m)
{
	struct jz_cm_pair pm;
	struct jz_hs_msg hm;
	struct kpeer_state *ks;
	char err[160];

	if (c->server_keys) {
		jz_warn("a relayed handshake while the server hands out keys: ignored");
		return;
	}
	if (jz_cm_pair(m, false, &pm, err, sizeof(err))) {
		jz_warn("%s: ignored", err);
		return;
	}
	ks = client_kp_find(c, pm.peer);
	if (!ks || !ks->present || !ks->has_pub) {
		jz_warn("handshake from peer %u, not an installed peer with a key: ignored",
			pm.peer);
		return;
	}
	if (jz_hs_parse(pm.msg, pm.len, &hm, err, sizeof(err))) {
		jz_warn("peer %s: %s: ignored", ks->p.name, err);
		return;
	}
	jz_debug("peer %s: handshake message %d in", ks->p.name, (int)hm.type);
	if (jz_hs_init_version(&hm))
		on_init(c, ks, &hm);
	else if (hm.type == JZ_HS_RESP)
		on_resp(c, ks, &hm);
	else
		on_confirm(c, ks, &hm);
	OPENSSL_cleanse(&pm, sizeof(pm));
}

void client_on_pair_refused(struct jz_client *c, json_t *m)
{
	struct jz_cm_pair pm;
	char err[160];

	struct kpeer_state *ks;

	if (jz_cm_pair(m, true, &pm, err, sizeof(err))) {
		jz_warn("%s: ignored", err);
		return;
	}
	jz_warn("the server did not relay a handshake to peer %u: %s", pm.peer, pm.reason);
	/* the pair may be linked a moment later (lists and links settle):
	 * try again at the next tick, not after the full wait (and not as a
	 * version fallback: the peer never saw it) */
	ks = client_kp_find(c, pm.peer);
	if (ks && ks->pair && ks->pair->hs_on)	/* the next tick: the same version */
		ks->pair->hs_at = jz_now() - HS_RETRY_S;
}

/* "pair_start": the server linked the pair anew (after either end
 * reconnected, the other may have lost its key): the initiator agrees a
 * fresh key. It only ever makes the devices hand-shake sooner. */
void client_on_pair_start(struct jz_client *c, json_t *m)
{
	struct jz_cm_pair pm;
	struct kpeer_state *ks;
	char err[160];

	if (c->server_keys)
		return;
	if (jz_cm_pair(m, true, &pm, err, sizeof(err))) {
		jz_warn("%s: ignored", err);
		return;
	}
	ks = client_kp_find(c, pm.peer);
	/* on demand, a pair without keys here stays without until needed;
	 * one with keys was in use and the peer's new kernel peer has none:
	 * this end starts, whatever its id (the e2e's roaming step: the
	 * higher id kept its keys, the lower id's new peer had none, and
	 * neither started) */
	if (ks && !cfg(c)->pair_eager && ks->present && ks->has_pub) {
		if (ks->has_key && !(ks->pair && ks->pair->hs_on))
			client_pair_need_anew(c, ks, "the pair was linked anew");
		return;
	}
	/* a handshake in progress may have gone with the previous session:
	 * a new one replaces it. One started just now (the listing that
	 * came with this link started it) is kept: replacing it would have
	 * the peer install a key this end then ignores. */
	if (!ks || !ks->present || !ks->has_pub || !initiates(c, ks))
		return;
	if (ks->pair && ks->pair->hs_on && jz_now() - ks->pair->hs_at < PAIR_START_FRESH_S)
		return;
	start(c, ks, jz_now());
}

/* Once a second: handshakes due (first key, retry, rotation by time and
 * by packet count). */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct jz_client *c = arg;
	double now = jz_now(), every = cfg(c)->pair_rekey_s;

	for (size_t i = 0; c->state == C_ONLINE && !c->server_keys && i < c->n_peers; i++) {
		struct kpeer_state *ks = &c->peers[i];
		struct pair *p = ks->pair;

		if (!ks->present || !ks->has_pub || ks->carried)
			continue;
		if (p && p->await_on && now - p->await_at >= CONFIRM_WAIT_S) {
			jz_warn("peer %s: no confirm for key %u: %s", ks->p.name,
				p->await.key_id, ks->pending_key_id == p->await.key_id ?
				"left unused" : "the peer may not hold it");
			OPENSSL_cleanse(&p->await, sizeof(p->await));
			p->await_on = false;
		}
		if (p && p->hs_on && now - p->hs_at < HS_RETRY_S) {
			if (p->hs.version == JZ_HS_V2 && !p->peer_version &&
			    now - p->hs_at >= HS_V1_FALLBACK_S) {
				jz_warn("peer %s: no answer to a version-2 handshake: trying "
					"version 1 (the peer may run an older jazzd)", ks->p.name);
				p->v2_unanswered = true;
				p->fails++;
				start(c, ks, now);
			}
			continue;
		}
		if (p && p->hs_on) {
			p->v2_unanswered = false;	/* alternate while unknown */
			p->fails++;
			/* the higher id leaves rotation to the lower; on demand,
			 * a first key is asked for again by the next need */
			if ((!initiates(c, ks) || (!ks->has_key && !cfg(c)->pair_eager)) &&
			    p->fails >= ROTATE_TRIES) {
				jz_warn("peer %s: no answer to %u handshakes for a new key: "
					"given up (%s)", ks->p.name, p->fails,
					ks->has_key ? "the peer rotates by time" :
					"the next need tries again");
				jz_hs_clear(&p->hs);
				p->hs_on = p->rotate_due = false;
				p->fails = 0;
				continue;
			}
			jz_warn("peer %s: no answer to the handshake, again", ks->p.name);
			start(c, ks, now);
			continue;
		}
		if (p && p->await_on)
			continue;	/* a key waits for its confirm: none over it */
		if (p && p->rotate_due) {
			rotate_step(c, ks, now);
			continue;
		}
		if (!initiates(c, ks))
			continue;
		if (!ks->has_key && !cfg(c)->pair_eager)
			continue;	/* on demand: no key until one is needed */
		if (ks->has_key && p && now - p->keyed_at < every)
			continue;
		start(c, ks, now);
	}
	if (c->state == C_ONLINE && !c->server_keys && !cfg(c)->pair_eager)
		client_demand_tick(c, now);
	evtimer_add(c->pair_ev, &second);
}

int client_pairs_init(struct jz_client *c, char *err, size_t errlen)
{
	c->server_keys = cfg(c)->server_keys;
	if (c->server_keys)
		return 0;
	c->idkey = jz_devkey_load(cfg(c)->identity_key, c->idpub, err, errlen);
	if (!c->idkey)
		return -1;
	c->pair_ev = evtimer_new(c->d->base, on_tick, c);
	if (!c->pair_ev) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	evtimer_add(c->pair_ev, &second);
	return 0;
}

void client_pairs_free(struct jz_client *c)
{
	client_demand_free(c);
	for (size_t i = 0; i < c->n_peers; i++)
		client_pair_forget(&c->peers[i]);
	if (c->pair_ev)
		event_free(c->pair_ev);
	EVP_PKEY_free(c->idkey);
}
