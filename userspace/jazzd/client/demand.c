// SPDX-License-Identifier: GPL-2.0
/*
 * On-demand pair keys ([client] pair_handshake = on-demand, the default
 * with device keys): a linked pair hand-shakes when it first needs a key,
 * not when it is listed. The needs:
 *   - a connection approved whose held packets would leave without a key:
 *     its verdict waits here until the handshake gives the pair a key the
 *     peer holds too, so the first packet waits for approval and
 *     handshake together (released at once, the kernel would drop it for
 *     want of a key: tx drop no_key);
 *   - the kernel's counters: packets from the peer dropped for want of a
 *     key (it still sends with a key this end dropped), and packets to it
 *     dropped so (a device without connection checks, whose packets ask
 *     no approval), but not the lone drops of jazz.ko's keepalive.
 * The same counters tell an idle pair (no data either way for [client]
 * pair_idle seconds; keepalives are not data): its keys are dropped
 * (pairs.c) and its connections ended in the kernel, so that the next
 * packet asks for approval again and waits for the new handshake.
 *
 * Must not run handshakes (pairs.c does) nor talk to the server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jazz.h>

#include "client/client_int.h"
#include "log.h"

/* At most this many approvals wait for keys: more are installed at once
 * (their packets then go the kernel's way, dropped for want of a key), so
 * a flood of connections costs bounded memory; one handshake per pair. */
#define MAX_DEFERRED 256
/* A verdict waits this long for its key, then is installed anyway: the
 * kernel has given up its held packets by then (approval-timeout-ms,
 * 3 s by default) and the next packet asks again. */
#define DEFER_MAX_S 10.0
/* When the kernel asked about the last connections: the first-packet
 * wait in the log (approval, then handshake) needs the start. */
#define ASKED_RING 64
/* jazz.ko's per-packet overhead on the wire (header + AEAD tag,
 * kmod/messages.h JAZZ_OVERHEAD, docs/PROTOCOL.md): a peer's tx-bytes
 * count it, so tx-bytes - 32 * tx-packets is the data sent; a keepalive
 * (no payload) adds none. Its rx counterpart counts inner bytes only. */
#define WIRE_OVERHEAD 32
/* The kernel sends a keyless peer's keepalive every 25 s (client/peers.c)
 * and counts each as a tx no-key drop: two drops closer than this are
 * not keepalives alone. */
#define KEEPALIVE_GAP_S 20.0
/* The counters are read this often, and not while approvals wait for a
 * handshake: a reading is synchronous on the daemon's loop (a dev-get and
 * a peer dump; 1.2 s under QEMU TCG at load 12, where a reading every
 * second held a responder's message 1 for 2 s). Idle drops and no-key
 * recovery are not urgent to the second. */
#define COUNTERS_EVERY_S 5.0

struct deferred_verdict {
	struct jz_kconn kc;
	bool approve;
	uint32_t lifetime;
	double verdict_at;	/* when the server's verdict came */
};

struct conn_asked {
	uint64_t cookie;
	double at;
};

static unsigned int n_overflow;

void client_demand_asked(struct jz_client *c, const struct jz_kconn *kc)
{
	static unsigned int asked_next;

	if (!c->asked)
		c->asked = calloc(ASKED_RING, sizeof(*c->asked));
	if (!c->asked || !kc->cookie)
		return;
	c->asked[asked_next++ % ASKED_RING] = (struct conn_asked){ kc->cookie, jz_now() };
}

/* When the kernel asked about this connection; 0: not known. */
static double asked_at(struct jz_client *c, uint64_t cookie)
{
	for (size_t i = 0; c->asked && cookie && i < ASKED_RING; i++)
		if (c->asked[i].cookie == cookie)
			return c->asked[i].at;
	return 0;
}

static void install(struct jz_client *c, const struct deferred_verdict *d, double now,
		    const char *name)
{
	double asked = asked_at(c, d->kc.cookie);

	if (c->k->ops->conn_verdict(c->k, &d->kc, d->approve, d->lifetime))
		jz_err("kernel: conn-verdict failed");
	if (asked > 0)
		jz_info("peer %s: first packet held %.0f ms: approval %.0f ms + handshake "
			"%.0f ms", name, (now - asked) * 1000, (d->verdict_at - asked) * 1000,
			(now - d->verdict_at) * 1000);
}

/* An approval for a peer without a usable key: true when it waits here
 * (the caller then installs nothing); false: install it now. */
bool client_demand_verdict(struct jz_client *c, const struct jz_kconn *kc, bool approve,
			   uint32_t lifetime)
{
	struct kpeer_state *ks;
	double now = jz_now(), asked;

	if (c->server_keys || cfg(c)->pair_eager || !approve || !kc->cookie)
		return false;
	ks = client_kp_find(c, kc->peer_id);
	asked = asked_at(c, kc->cookie);
	if (ks && ks->has_key && ks->key_shared && asked > 0)
		jz_debug("peer %s: verdict after %.0f ms (key in place)", ks->p.name,
			 (now - asked) * 1000);
	if (!ks || !ks->present || !ks->has_pub || (ks->has_key && ks->key_shared))
		return false;
	client_pair_need(c, ks, "a connection approved");
	if (!ks->pair || (!ks->pair->hs_on && !ks->pair->await_on))
		return false;	/* no handshake could start: nothing to wait for */
	if (c->n_deferred == MAX_DEFERRED) {
		if (n_overflow++ % 100 == 0)
			jz_warn("%u approvals waiting for keys: installed without waiting "
				"(%u so far)", MAX_DEFERRED, n_overflow);
		return false;
	}
	if (!c->deferred)
		c->deferred = calloc(MAX_DEFERRED, sizeof(*c->deferred));
	if (!c->deferred)
		return false;
	c->deferred[c->n_deferred++] = (struct deferred_verdict){
		.kc = *kc, .approve = approve, .lifetime = lifetime, .verdict_at = now,
	};
	jz_debug("peer %s: approval waits for the pair's key", ks->p.name);
	return true;
}

/* Installs the waiting verdicts of one peer (id), or of every peer whose
 * wait is over (id 0): the key is there, the wait ran out, or the peer
 * went. */
static void release(struct jz_client *c, uint32_t id, double now)
{
	for (size_t i = 0; i < c->n_deferred;) {
		struct deferred_verdict *d = &c->deferred[i];
		struct kpeer_state *ks = client_kp_find(c, d->kc.peer_id);
		bool due = id ? d->kc.peer_id == id : (!ks || !ks->present ||
						      now - d->verdict_at >= DEFER_MAX_S);

		if (!due) {
			i++;
			continue;
		}
		if (!id)
			jz_warn("peer %u: no key within %.0f s of the approval: verdict "
				"installed without one", d->kc.peer_id, DEFER_MAX_S);
		install(c, d, now, ks ? ks->p.name : "?");
		*d = c->deferred[--c->n_deferred];
	}
}

void client_demand_key_ready(struct jz_client *c, struct kpeer_state *ks)
{
	release(c, ks->p.id, jz_now());
}

static bool waits(struct jz_client *c, uint32_t id)
{
	for (size_t i = 0; i < c->n_deferred; i++)
		if (c->deferred[i].kc.peer_id == id)
			return true;
	return false;
}

/* One reading of the kernel's counters: traffic (idle or not) and
 * packets that went without a key (a need). */
static void read_counters(struct jz_client *c, double now)
{
	size_t max = cfg(c)->max_peers > 0 ? (size_t)cfg(c)->max_peers : 1024;
	struct jz_kstats st = { .max_peers = max };

	if (!c->k->ops->stats)
		return;
	if (!c->demand_stats)
		c->demand_stats = calloc(max, sizeof(*c->demand_stats));
	if (!c->demand_stats)
		return;
	st.peers = c->demand_stats;
	if (c->k->ops->stats(c->k, &st))
		return;
	/* the reading is synchronous, on the daemon's loop: say when it
	 * held the loop (and every message waiting on it) long */
	if (jz_now() - now > 0.5)
		jz_warn("kernel counters: a reading took %.0f ms", (jz_now() - now) * 1000);
	for (size_t i = 0; i < st.n_peers; i++) {
		const struct jz_kpeer_stats *ps = &st.peers[i];
		struct kpeer_state *ks = client_kp_find(c, ps->id);
		uint64_t overhead = WIRE_OVERHEAD * ps->c.tx_packets;
		uint64_t data = ps->c.rx_bytes +
				(ps->c.tx_bytes > overhead ? ps->c.tx_bytes - overhead : 0);
		uint64_t rx_nokey = ps->c.drops[JZ_KDROP_NO_KEY];
		uint64_t tx_nokey = ps->c.drops[JZ_KDROP_TX_NO_KEY];

		if (!ks || !ks->present)
			continue;
		if (ks->seen_stats && data != ks->seen_data)
			ks->active_at = now;
		/* a first reading counts from 0: a keyless peer's counters
		 * start with its kernel peer, made anew without a key */
		if (rx_nokey > (ks->seen_stats ? ks->seen_rx_nokey : 0) &&
		    (ks->seen_stats || !ks->has_key))
			client_pair_need(c, ks, "the peer sends with a key this end has not");
		if (ks->seen_stats && tx_nokey > ks->seen_tx_nokey) {
			if (tx_nokey - ks->seen_tx_nokey >= 2 ||
			    now - ks->tx_nokey_at < KEEPALIVE_GAP_S)
				client_pair_need(c, ks, "packets to it went without a key");
			ks->tx_nokey_at = now;
		}
		if (!ks->seen_stats && ks->active_at == 0)
			ks->active_at = now;
		ks->seen_data = data;
		ks->seen_rx_nokey = rx_nokey;
		ks->seen_tx_nokey = tx_nokey;
		ks->seen_stats = true;
	}
}

/* Once a second (pairs.c's tick, on demand and online only). */
void client_demand_tick(struct jz_client *c, double now)
{
	int idle = cfg(c)->pair_idle_s;
	char why[64];

	release(c, 0, now);
	if (c->n_deferred || now - c->counters_at < COUNTERS_EVERY_S)
		return;
	c->counters_at = now;
	read_counters(c, now);
	if (idle <= 0)
		return;
	snprintf(why, sizeof(why), "no traffic for %d s", idle);
	for (size_t i = 0; i < c->n_peers; i++) {
		struct kpeer_state *ks = &c->peers[i];
		struct pair *p = ks->pair;

		if (!ks->present || !ks->has_key || !ks->seen_stats ||
		    now - ks->active_at < idle || (p && (p->hs_on || p->await_on)) ||
		    waits(c, ks->p.id))
			continue;
		client_pair_drop_keys(c, ks, why);
		/* its next packet asks again, and waits for a new key */
		if (c->k->ops->conn_flush)
			c->k->ops->conn_flush(c->k, ks->p.id);
	}
}

void client_demand_free(struct jz_client *c)
{
	free(c->deferred);
	free(c->asked);
	free(c->demand_stats);
	c->deferred = NULL;
	c->asked = NULL;
	c->demand_stats = NULL;
	c->n_deferred = 0;
}
