// SPDX-License-Identifier: GPL-2.0
/*
 * jazzd client: the direct path to each peer through NATs (issue 20).
 *
 * Candidates. This device's own: the addresses of its other interfaces
 * with the tunnel's listen port (host) and the public mapping endpoint
 * discovery found (srflx, nat.c). They go to the server as "candidates"
 * after the welcome and whenever they change; each linked peer's come in
 * its list entry ("cands").
 *
 * Hole punching. When a pair needs a path (a handshake starts or is
 * answered: pairs.c calls client_path_need(), or the peer's own check
 * arrives), this device sends STUN binding requests carrying JAZZ-CHECK
 * {from, to} from the tunnel's socket (stun-send) to every candidate of
 * the peer, every 0.2 s for 2 s, then every 0.5 s, for PUNCH_S. Both ends
 * do so at about the same time, so each NAT has a mapping out before the
 * other's check arrives. Each check is answered (binding success with the
 * source seen) from the tunnel socket. A success response to one of our
 * checks, with its transaction id, from the candidate it was sent to,
 * proves that address works both ways: it becomes the peer's endpoint in
 * the kernel (a host candidate is preferred to a public one: two devices
 * behind one NAT stay on their LAN). A check from an address that is not
 * a listed candidate only gets a check back (it opens this NAT towards
 * it) and is never made the endpoint on STUN alone: jazz.ko moves the
 * endpoint itself to the source of the peer's first authenticated packet
 * (kmod/receive.c jazz_roam()), and keepalives (25 s) hold the mappings.
 * When this device's mapping changes (a NAT rebinding, a roam), it sends
 * its new candidates and punches again to every peer it has a key with;
 * a peer whose candidates change is punched again the same way.
 *
 * Visibility. At each path change (a punch answered, a relay taken, the
 * kernel following the peer's packets: peer-roam-ntf) the peer's path
 * record in jazz.ko is written: direct or relayed and why; the kernel
 * stamps the time, and `jazzctl show` prints it (one source of truth,
 * like the endpoint itself).
 *
 * Owns the per-peer path state (struct path, ks->path), its record in the
 * kernel, and the STUN
 * dispatch of the tunnel socket (nat.c takes its answers first). Must
 * not parse STUN bytes (common/stun.c does), run handshakes, nor take a
 * path from anything but a response to its own check or the kernel.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <openssl/rand.h>
#include <event2/event.h>

#include "stun.h"
#include "log.h"
#include "client_int.h"

#define PUNCH_S		10.0	/* a punch gives up after this long */
#define PUNCH_FAST_S	2.0	/* checks every 0.2 s, then every 0.5 s */
#define PUNCH_AGAIN_S	2.0	/* not more often per peer */
/* When both ends' punches fail, the end with the lower device id asks
 * for the relay; the other waits this long for the offer (it may come
 * through another server: up to two heartbeats) before asking itself,
 * so that a pair on two servers does not get a relay on each. */
#define RELAY_DEFER_S	3.0
#define PATH_CANDS	(JZ_CM_CANDS + 2)	/* listed, server-seen, one seen */

enum cand_kind { K_HOST, K_SRFLX, K_SERVER, K_PRFLX, K_RELAY };
static const char *const kind_name[] = { "host", "srflx", "server-seen", "peer-seen", "relay" };

struct path_cand {
	struct jz_stun_addr a;
	enum cand_kind kind;
	uint8_t txid[JZ_STUN_TXID];
};

struct path {
	struct path_cand cand[PATH_CANDS];
	size_t n;
	bool punching;
	double punch_at, next_at, last_punch;
	unsigned int sent;
	int chosen;		/* index of the candidate taken this punch; -1 */
	bool has_cur;		/* the endpoint this end chose (kernel) */
	struct jz_stun_addr cur;
	enum cand_kind cur_kind;
	double since;
	/* the server's relay for this pair (relayed: the kernel sends there) */
	bool relayed, relay_known, relay_latched;
	bool relay_answered;	/* this relay answered a latch once (logged) */
	struct jz_stun_addr relay;
	uint8_t relay_txid[JZ_STUN_TXID];
	double relay_asked_at, latch_at;
	double failed_at;	/* this end's last punch found nothing */
	double ask_at;		/* a deferred relay request is due; 0: none */
	unsigned int latch_sent;
	double retry_at;
};

struct client_path {
	struct event *tick_ev;
	struct event *slow_ev;	/* once a second: relay latches, direct retries */
	unsigned int active;	/* peers punching */
	unsigned long ignored, answered;
	struct jz_stun_addr sent[JZ_CM_CANDS];	/* candidates last sent */
	size_t n_sent;
	bool sent_once;
};

static bool addr_eq(const struct jz_stun_addr *a, const struct jz_stun_addr *b)
{
	return a->family == b->family && a->port == b->port &&
	       !memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16);
}

static void addr_from_ss(const struct sockaddr_storage *ss, struct jz_stun_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;

		a->family = AF_INET;
		a->port = ntohs(in->sin_port);
		memcpy(a->addr, &in->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in = (const void *)ss;

		a->family = AF_INET6;
		a->port = ntohs(in->sin6_port);
		memcpy(a->addr, &in->sin6_addr, 16);
	}
}

static void addr_to_ss(const struct jz_stun_addr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *in = (void *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(a->port);
		memcpy(&in->sin_addr, a->addr, 4);
	} else {
		struct sockaddr_in6 *in = (void *)ss;

		in->sin6_family = AF_INET6;
		in->sin6_port = htons(a->port);
		memcpy(&in->sin6_addr, a->addr, 16);
	}
}

static bool addr_parse(const char *ip, uint16_t port, struct jz_stun_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->port = port;
	if (inet_pton(AF_INET, ip, a->addr) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, ip, a->addr) == 1)
		a->family = AF_INET6;
	return a->family && port;
}

static struct path *path_of(struct kpeer_state *ks)
{
	if (!ks->path) {
		ks->path = calloc(1, sizeof(*ks->path));
		if (ks->path)
			ks->path->chosen = -1;
	}
	return ks->path;
}

void client_path_forget(struct kpeer_state *ks)
{
	free(ks->path);
	ks->path = NULL;
}

static int cand_find(const struct path *pa, const struct jz_stun_addr *a)
{
	for (size_t i = 0; i < pa->n; i++)
		if (addr_eq(&pa->cand[i].a, a))
			return (int)i;
	return -1;
}

static void cand_add(struct path *pa, const struct jz_stun_addr *a, enum cand_kind kind)
{
	if (!a->family || cand_find(pa, a) >= 0 || pa->n == PATH_CANDS)
		return;
	pa->cand[pa->n].a = *a;
	pa->cand[pa->n].kind = kind;
	RAND_bytes(pa->cand[pa->n].txid, JZ_STUN_TXID);
	pa->n++;
}

/* The peer's path record in jazz.ko (jazzctl show: direct or relayed,
 * since when, why), written at each path change; the kernel stamps it.
 * The server is told too ("path"), for its peer-path-changed event. */
static void record(struct jz_client *c, struct kpeer_state *ks, enum cand_kind kind,
		   const char *reason)
{
	bool relayed = kind == K_RELAY;

	if (c->k->ops->path_set)
		c->k->ops->path_set(c->k, ks->p.id, relayed ? JAZZ_PATH_KIND_RELAYED :
				    JAZZ_PATH_KIND_DIRECT, reason);
	if (c->state == C_ONLINE)
		client_send(c, json_pack("{s:s,s:I,s:s,s:s,s:s}", "type", "path", "peer",
					 (json_int_t)ks->p.id, "kind",
					 relayed ? "relayed" : "direct", "how", kind_name[kind],
					 "reason", reason));
}

/* The path state now says the kernel sends to @a, as a @kind candidate. */
static void path_now(struct path *pa, const struct jz_stun_addr *a, enum cand_kind kind)
{
	if (!pa->has_cur || !addr_eq(&pa->cur, a))
		pa->since = jz_now();
	pa->has_cur = true;
	pa->cur = *a;
	pa->cur_kind = kind;
	pa->relayed = kind == K_RELAY;
	pa->ask_at = 0;		/* a path came: no deferred relay request */
}

/* The peer's endpoint in the kernel, and the state that says so. */
static void set_endpoint(struct jz_client *c, struct kpeer_state *ks,
			 const struct jz_stun_addr *a, enum cand_kind kind, const char *how)
{
	struct path *pa = ks->path;
	struct jz_kpeer p = ks->p;
	bool changed = !pa->has_cur || !addr_eq(&pa->cur, a) ||
		       pa->relayed != (kind == K_RELAY);
	bool was_relayed = pa->relayed;
	char s[64], why[JAZZ_PATH_REASON_MAX + 1];

	jz_stun_addr_str(a, s, sizeof(s));
	inet_ntop(a->family, a->addr, p.endpoint_ip, sizeof(p.endpoint_ip));
	p.endpoint_port = a->port;
	if (!pa->has_cur || !addr_eq(&pa->cur, a) || strcmp(p.endpoint_ip, ks->p.endpoint_ip) ||
	    p.endpoint_port != ks->p.endpoint_port) {
		if (c->k->ops->peer_set(c->k, &p, false))
			jz_err("kernel: cannot set %s's endpoint to %s", ks->p.name, s);
		else
			ks->p = p;
	}
	path_now(pa, a, kind);
	if (kind == K_RELAY) {
		jz_info("path to %s: relayed via %s (%s)", ks->p.name, s, how);
		if (changed)
			record(c, ks, K_RELAY, how);
		return;
	}
	jz_info("path to %s: direct to %s (%s candidate, %s)%s", ks->p.name, s, kind_name[kind],
		how, was_relayed ? "; no longer relayed" : "");
	snprintf(why, sizeof(why), "%s, %s candidate", how, kind_name[kind]);
	if (changed)
		record(c, ks, kind, why);
}

/* peer-roam-ntf: jazz.ko moved the endpoint to the source of the peer's
 * authenticated packet (an endpoint-dependent NAT's port, the peer's
 * relay port, a roam): the path is what the kernel now sends to. */
static void on_roam(void *arg, const struct jz_kroam *r)
{
	struct jz_client *c = arg;
	struct kpeer_state *ks = client_kp_find(c, r->peer_id);
	struct path *pa = ks && ks->present ? ks->path : NULL;
	struct jz_stun_addr a;
	char s[64], why[JAZZ_PATH_REASON_MAX + 1];
	bool relay;

	if (!pa)
		return;
	addr_from_ss(&r->ep, &a);
	if (pa->has_cur && addr_eq(&pa->cur, &a))
		return;
	relay = pa->relay_known && addr_eq(&pa->relay, &a);
	jz_stun_addr_str(&a, s, sizeof(s));
	jz_info("path to %s: %s (jazz.ko followed the peer's packets from %s)", ks->p.name,
		relay ? "relayed" : "direct", s);
	inet_ntop(a.family, a.addr, ks->p.endpoint_ip, sizeof(ks->p.endpoint_ip));
	ks->p.endpoint_port = a.port;
	path_now(pa, &a, relay ? K_RELAY : K_PRFLX);
	if (relay)
		snprintf(why, sizeof(why), "the peer's packets came through the relay");
	else
		snprintf(why, sizeof(why), "the peer's packets came from %s", s);
	record(c, ks, relay ? K_RELAY : K_PRFLX, why);
}

static void tick_arm(struct jz_client *c)
{
	struct timeval tv = { 0, 100000 };

	if (c->path && !evtimer_pending(c->path->tick_ev, NULL))
		evtimer_add(c->path->tick_ev, &tv);
}

static void punch_start(struct jz_client *c, struct kpeer_state *ks, const char *why)
{
	struct path *pa = path_of(ks);
	double now = jz_now();

	if (!pa || !c->path || !pa->n || c->state != C_ONLINE || !ks->present)
		return;
	if (pa->punching || now - pa->last_punch < PUNCH_AGAIN_S)
		return;
	pa->punching = true;
	pa->punch_at = pa->next_at = pa->last_punch = now;
	pa->sent = 0;
	pa->chosen = -1;
	for (size_t i = 0; i < pa->n; i++)
		RAND_bytes(pa->cand[i].txid, JZ_STUN_TXID);
	c->path->active++;
	jz_info("path to %s: punching to %zu candidate(s) (%s)", ks->p.name, pa->n, why);
	tick_arm(c);
}

static void relay_ask(struct jz_client *c, struct kpeer_state *ks)
{
	ks->path->ask_at = 0;
	ks->path->relay_asked_at = jz_now();
	client_send(c, json_pack("{s:s,s:I}", "type", "relay_request", "peer",
				 (json_int_t)ks->p.id));
}

/* This pair needs a relay: the end with the lower id asks now, the other
 * in RELAY_DEFER_S unless an offer (or a path) came by then. */
static void relay_need(struct jz_client *c, struct kpeer_state *ks)
{
	if (c->my_id > ks->p.id)
		ks->path->ask_at = jz_now() + RELAY_DEFER_S;
	else
		relay_ask(c, ks);
}

static void punch_end(struct jz_client *c, struct kpeer_state *ks)
{
	struct path *pa = ks->path;
	bool defer;

	if (!pa || !pa->punching)
		return;
	pa->punching = false;
	c->path->active--;
	if (pa->chosen >= 0 || pa->relayed)
		return;
	if (pa->has_cur && pa->cur_kind == K_PRFLX) {
		/* this end's checks found nothing, but its kernel follows the
		 * peer's authenticated packets (on_roam): direct; the peer's
		 * own punch or relay request decides (a relay it asks for is
		 * offered to this end too) */
		jz_info("path to %s: no direct path found by this end's checks; the kernel "
			"follows the peer's packets: not relayed", ks->p.name);
		return;
	}
	defer = c->my_id > ks->p.id;
	jz_info("path to %s: no direct path found in %.0f s (%zu candidate(s), %u "
		"checks); %s", ks->p.name, PUNCH_S, pa->n, pa->sent,
		cfg(c)->direct_only ? "direct_only: not relayed (the peer's first "
		"authenticated packet may still move the endpoint)" : defer ?
		"the peer (lower id) asks for the relay first; asking in 3 s if no "
		"relay comes" : "asking the server to relay");
	pa->failed_at = jz_now();
	if (cfg(c)->direct_only || jz_now() - pa->relay_asked_at < PUNCH_S)
		return;
	relay_need(c, ks);
}

void client_path_need(struct jz_client *c, struct kpeer_state *ks, const char *why)
{
	punch_start(c, ks, why);
}

static void send_checks(struct jz_client *c, struct kpeer_state *ks)
{
	struct path *pa = ks->path;
	uint8_t msg[32];
	size_t len;

	for (size_t i = 0; i < pa->n; i++) {
		struct sockaddr_storage to;

		addr_to_ss(&pa->cand[i].a, &to);
		len = jz_stun_check(msg, pa->cand[i].txid, c->my_id, ks->p.id);
		c->k->ops->stun_send(c->k, &to, msg, len);
		pa->sent++;
	}
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct jz_client *c = arg;
	double now = jz_now();

	for (size_t i = 0; c->path->active && i < c->n_peers; i++) {
		struct kpeer_state *ks = &c->peers[i];
		struct path *pa = ks->path;

		if (!pa || !pa->punching)
			continue;
		if (c->state != C_ONLINE || !ks->present || now - pa->punch_at >= PUNCH_S ||
		    (pa->chosen >= 0 && pa->cand[pa->chosen].kind == K_HOST) ||
		    (pa->chosen >= 0 && now - pa->punch_at >= PUNCH_FAST_S)) {
			punch_end(c, ks);
			continue;
		}
		if (now < pa->next_at)
			continue;
		send_checks(c, ks);
		pa->next_at = now + (now - pa->punch_at < PUNCH_FAST_S ? 0.2 : 0.5);
	}
	if (c->path->active)
		tick_arm(c);
}

/* A peer (re)listed: its candidates, and the endpoint to install (the
 * one a punch chose while it is still listed, else its public mapping,
 * else the address the server saw). A changed list punches again if the
 * pair has a key (it is in use). */
void client_path_listed(struct jz_client *c, struct kpeer_state *ks,
			const struct jz_cm_peer *e, struct jz_kpeer *p)
{
	struct path *pa = path_of(ks);
	struct path_cand old[PATH_CANDS];
	struct jz_stun_addr a, first = { 0 };
	size_t nold;
	bool changed;

	if (!pa)
		return;
	nold = pa->n;
	memcpy(old, pa->cand, sizeof(old));
	pa->n = 0;
	for (size_t i = 0; i < e->ncands; i++) {
		const struct jz_cm_cand *x = &e->cands[i];

		memset(&a, 0, sizeof(a));
		a.family = x->family;
		a.port = x->port;
		memcpy(a.addr, x->addr, sizeof(a.addr));
		cand_add(pa, &a, x->srflx ? K_SRFLX : K_HOST);
		if (x->srflx && !first.family)
			first = a;
	}
	if (e->ep_ip[0] && addr_parse(e->ep_ip, e->ep_port, &a)) {
		cand_add(pa, &a, K_SERVER);
		if (!first.family)
			first = a;
	}
	changed = nold != pa->n;
	for (size_t i = 0; !changed && i < pa->n; i++)
		changed = !addr_eq(&old[i].a, &pa->cand[i].a);
	for (size_t i = 0; i < pa->n; i++) {	/* keep txids of checks in flight */
		for (size_t j = 0; j < nold; j++)
			if (addr_eq(&old[j].a, &pa->cand[i].a))
				memcpy(pa->cand[i].txid, old[j].txid, JZ_STUN_TXID);
	}
	if (pa->punching && changed)
		pa->chosen = -1;
	if (pa->has_cur) {
		inet_ntop(pa->cur.family, pa->cur.addr, p->endpoint_ip, sizeof(p->endpoint_ip));
		p->endpoint_port = pa->cur.port;
	} else if (first.family) {
		inet_ntop(first.family, first.addr, p->endpoint_ip, sizeof(p->endpoint_ip));
		p->endpoint_port = first.port;
	}
	if (changed && nold && ks->has_key) {
		pa->last_punch = 0;
		punch_start(c, ks, "its candidates changed");
	}
}

/* A response to one of our checks. */
static void on_success(struct jz_client *c, const struct jz_kstun *s,
		       const struct jz_stun_msg *m)
{
	struct jz_stun_addr from;
	char how[64];

	addr_from_ss(&s->from, &from);
	for (size_t i = 0; i < c->n_peers; i++) {
		struct kpeer_state *ks = &c->peers[i];
		struct path *pa = ks->path;
		int k;

		if (pa && pa->relay_known && addr_eq(&pa->relay, &from) &&
		    !memcmp(pa->relay_txid, m->txid, JZ_STUN_TXID)) {
			if (!pa->relay_answered)
				jz_info("path to %s: the relay took this device's port", ks->p.name);
			pa->relay_latched = pa->relay_answered = true;
			return;
		}
		if (!pa || !pa->punching)
			continue;
		k = cand_find(pa, &from);
		if (k < 0 || memcmp(pa->cand[k].txid, m->txid, JZ_STUN_TXID) ||
		    pa->cand[k].kind == K_PRFLX)
			continue;
		if (pa->chosen >= 0 && (pa->chosen == k || pa->cand[pa->chosen].kind == K_HOST ||
					pa->cand[k].kind != K_HOST))
			return;
		pa->chosen = k;
		snprintf(how, sizeof(how), "punched in %.0f ms", (jz_now() - pa->punch_at) * 1000);
		set_endpoint(c, ks, &pa->cand[k].a, pa->cand[k].kind, how);
		return;
	}
	if (c->path->ignored++ % 100 == 0)
		jz_debug("path: a STUN response that answers no check of ours ignored (%lu)",
			 c->path->ignored);
}

/* A peer's check: answered; it needs a path, so punch too; its source,
 * if not listed, gets our checks (never made the endpoint on STUN alone). */
static void on_check(struct jz_client *c, const struct jz_kstun *s, const struct jz_stun_msg *m)
{
	struct kpeer_state *ks = m->check_to == c->my_id ? client_kp_find(c, m->check_from) : NULL;
	struct jz_stun_addr from;
	uint8_t out[64];
	size_t n;

	if (!ks || !ks->present || c->state != C_ONLINE) {
		if (c->path->ignored++ % 100 == 0)
			jz_debug("path: a check not for this device or from no peer of it "
				 "ignored (%lu)", c->path->ignored);
		return;
	}
	addr_from_ss(&s->from, &from);
	n = jz_stun_response(out, m->txid, &from);
	if (n)
		c->k->ops->stun_send(c->k, &s->from, out, n);
	c->path->answered++;
	if (ks->path && cand_find(ks->path, &from) < 0)
		cand_add(ks->path, &from, K_PRFLX);
	/* from the very address this end sends to on a direct path: the
	 * answer proves it to the peer; punching back would only start the
	 * peer's next punch again (a STUN ping-pong while one end's checks
	 * cannot pass its peer's endpoint-dependent NAT) */
	if (ks->path && ks->path->has_cur && !ks->path->relayed &&
	    addr_eq(&ks->path->cur, &from))
		return;
	punch_start(c, ks, "the peer's check came");
}

/* Every STUN datagram of the tunnel socket: discovery's answers (nat.c),
 * then checks and their responses. */
static void on_stun(void *arg, const struct jz_kstun *s)
{
	struct jz_client *c = arg;
	struct jz_stun_msg m;
	char err[96];

	if (jz_stun_parse(s->data, s->len, &m, err, sizeof(err))) {
		if (c->path->ignored++ % 100 == 0)
			jz_debug("path: malformed STUN ignored (%s; %lu so far)", err,
				 c->path->ignored);
		return;
	}
	if (client_nat_take(c, s, &m))
		return;
	if (m.type == JZ_STUN_BINDING_REQUEST && m.has_check)
		on_check(c, s, &m);
	else if (m.type == JZ_STUN_BINDING_SUCCESS)
		on_success(c, s, &m);
	else if (c->path->ignored++ % 100 == 0)
		jz_debug("path: a STUN message that is neither a check nor a response ignored "
			 "(%lu)", c->path->ignored);
}

/* This device's candidates: its public mapping first, then its own
 * addresses (up, not loopback nor link-local, not the jazz device). */
static size_t gather(struct jz_client *c, struct jz_stun_addr *out, bool *srflx)
{
	int port = c->k->ops->listen_port(c->k);
	struct ifaddrs *ifa, *i;
	size_t n = 0;

	if (client_nat_mapped(c, &out[0])) {
		srflx[0] = true;
		n = 1;
	}
	if (port <= 0 || getifaddrs(&ifa))
		return n;
	for (i = ifa; i && n < JZ_CM_CANDS; i = i->ifa_next) {
		struct jz_stun_addr a = { 0 };

		if (!i->ifa_addr || !(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK) ||
		    !strcmp(i->ifa_name, cfg(c)->ifname))
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			a.family = AF_INET;
			memcpy(a.addr, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, 4);
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			const struct in6_addr *x = &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;

			if (IN6_IS_ADDR_LINKLOCAL(x) || IN6_IS_ADDR_LOOPBACK(x))
				continue;
			a.family = AF_INET6;
			memcpy(a.addr, x, 16);
		} else {
			continue;
		}
		a.port = (uint16_t)port;
		if (n && addr_eq(&out[0], &a))
			continue;
		srflx[n] = false;
		out[n++] = a;
	}
	freeifaddrs(ifa);
	return n;
}

/* Sends this device's candidates if they changed (or always: force). */
static void send_cands(struct jz_client *c, bool force)
{
	struct jz_stun_addr a[JZ_CM_CANDS];
	bool srflx[JZ_CM_CANDS];
	size_t n = gather(c, a, srflx);
	json_t *arr;

	if (!force && c->path->sent_once && n == c->path->n_sent &&
	    !memcmp(a, c->path->sent, n * sizeof(*a)))
		return;
	arr = json_array();
	for (size_t i = 0; arr && i < n; i++) {
		char ip[INET6_ADDRSTRLEN];

		inet_ntop(a[i].family, a[i].addr, ip, sizeof(ip));
		json_array_append_new(arr, json_pack("{s:s,s:i,s:s}", "ip", ip, "port", a[i].port,
						     "kind", srflx[i] ? "srflx" : "host"));
	}
	if (!arr)
		return;
	memcpy(c->path->sent, a, n * sizeof(*a));
	c->path->n_sent = n;
	c->path->sent_once = true;
	jz_info("candidates: %zu sent to the server (%s)", n,
		n && srflx[0] ? "public mapping and local addresses" : "local addresses");
	client_send(c, json_pack("{s:s,s:o,s:b}", "type", "candidates", "cands", arr,
				 "direct_only", cfg(c)->direct_only));
}

void client_path_online(struct jz_client *c)
{
	if (!c->path)
		return;
	send_cands(c, true);
}

/* nat.c found a new public mapping: new candidates, and punching again
 * to the peers this device has keys with (their NATs know the old one). */
void client_path_mapping_changed(struct jz_client *c, bool first)
{
	if (!c->path || c->state != C_ONLINE)
		return;
	send_cands(c, false);
	if (first)
		return;
	for (size_t i = 0; i < c->n_peers; i++) {
		struct kpeer_state *ks = &c->peers[i];

		if (ks->present && ks->has_key && ks->path) {
			ks->path->last_punch = 0;
			punch_start(c, ks, "this device's public mapping changed");
		}
	}
}

static void send_latch(struct jz_client *c, struct kpeer_state *ks)
{
	struct path *pa = ks->path;
	struct sockaddr_storage to;
	uint8_t msg[32];

	addr_to_ss(&pa->relay, &to);
	c->k->ops->stun_send(c->k, &to, msg, jz_stun_check(msg, pa->relay_txid, c->my_id,
							   ks->p.id));
	pa->latch_at = jz_now();
	pa->latch_sent++;
}

/* "relay": the server relays this pair through ip:port. Taken unless
 * this device is direct-only or its own punch just found a direct path
 * (the peer's kernel then follows this end's direct messages). */
void client_path_relay(struct jz_client *c, json_t *m)
{
	struct jz_cm_relay r;
	struct kpeer_state *ks;
	struct jz_stun_addr a = { 0 };
	struct path *pa;
	char err[128];

	if (jz_cm_relay(m, false, &r, err, sizeof(err))) {
		jz_warn("%s: ignored", err);
		return;
	}
	ks = client_kp_find(c, r.peer);
	pa = ks && ks->present ? path_of(ks) : NULL;
	if (!pa || !c->path) {
		jz_warn("relay for unknown peer %u: ignored", r.peer);
		return;
	}
	if (cfg(c)->direct_only) {
		jz_info("path to %s: a relay offered, not taken (direct_only)", ks->p.name);
		return;
	}
	a.family = r.family;
	a.port = r.port;
	memcpy(a.addr, r.addr, sizeof(a.addr));
	pa->ask_at = 0;		/* offered: a deferred request is not needed */
	if (!pa->relay_known || !addr_eq(&pa->relay, &a) ||
	    (r.has_token && memcmp(pa->relay_txid, r.token, JZ_STUN_TXID))) {
		pa->relay = a;
		pa->relay_known = true;
		pa->relay_latched = pa->relay_answered = false;
		pa->latch_sent = 0;
		/* the relay takes a latch only with its token as the id */
		if (r.has_token)
			memcpy(pa->relay_txid, r.token, JZ_STUN_TXID);
		else
			RAND_bytes(pa->relay_txid, JZ_STUN_TXID);
	}
	if (pa->has_cur && !pa->relayed && pa->chosen >= 0) {
		jz_info("path to %s: a relay offered, but the direct path works: kept",
			ks->p.name);
		return;
	}
	send_latch(c, ks);
	pa->retry_at = jz_now() + cfg(c)->path_retry_s;
	if (!pa->relayed || !addr_eq(&pa->cur, &a)) {
		char how[64];

		if (pa->failed_at && jz_now() - pa->failed_at < PUNCH_S + RELAY_DEFER_S)
			snprintf(how, sizeof(how), "no direct path found in %.0f s", PUNCH_S);
		else
			snprintf(how, sizeof(how), "the peer found no direct path");
		set_endpoint(c, ks, &a, K_RELAY, how);
	}
}

/* "path_refused": the server did not take a path report (logged). */
void client_path_report_refused(struct jz_client *c, json_t *m)
{
	struct jz_cm_relay r;
	char err[128];

	if (jz_cm_relay(m, true, &r, err, sizeof(err))) {
		jz_warn("path_refused: %s: ignored", err);
		return;
	}
	jz_info("the server did not take this device's path report for peer %u: %s", r.peer,
		r.reason);
}

void client_path_relay_refused(struct jz_client *c, json_t *m)
{
	struct jz_cm_relay r;
	struct kpeer_state *ks;
	char err[128];

	if (jz_cm_relay(m, true, &r, err, sizeof(err))) {
		jz_warn("%s: ignored", err);
		return;
	}
	ks = client_kp_find(c, r.peer);
	jz_info("path to %s: the server will not relay: %s", ks ? ks->p.name : "?", r.reason);
}

/* Once a second: a deferred relay request (RELAY_DEFER_S) that no offer
 * answered, latches until the relay answers (10 at most), and for
 * relayed peers a direct path tried again every path_retry s (the latch
 * refreshed with it: a NAT rebinding moves this end's source; a relay
 * that answered no latch since the last retry is gone: a new one is
 * asked for). */
static void on_slow(evutil_socket_t fd, short what, void *arg)
{
	struct jz_client *c = arg;
	double now = jz_now();

	for (size_t i = 0; c->state == C_ONLINE && i < c->n_peers; i++) {
		struct kpeer_state *ks = &c->peers[i];
		struct path *pa = ks->path;

		if (pa && ks->present && pa->ask_at && now >= pa->ask_at) {
			jz_info("path to %s: no relay offered in %.0f s; asking the server",
				ks->p.name, RELAY_DEFER_S);
			relay_ask(c, ks);
		}
		if (!pa || !pa->relayed || !ks->present)
			continue;
		if (!pa->relay_latched && pa->latch_sent < 10 && now - pa->latch_at >= 0.5)
			send_latch(c, ks);
		if (now < pa->retry_at)
			continue;
		pa->retry_at = now + cfg(c)->path_retry_s;
		if (!pa->relay_latched && !cfg(c)->direct_only) {
			/* no latch answered since the last retry: the relay is
			 * gone (the server restarted, the relay ended): without
			 * a new one the kernel would send to a dead port */
			char s[64];

			jz_stun_addr_str(&pa->relay, s, sizeof(s));
			jz_info("path to %s: the relay at %s does not answer; %s", ks->p.name, s,
				c->my_id > ks->p.id ? "the peer (lower id) asks for a new one "
				"first" : "asking the server for a new one");
			relay_need(c, ks);
			pa->relay_answered = false;
		}
		pa->relay_latched = false;	/* the latch below must be answered */
		pa->latch_sent = 0;
		pa->last_punch = 0;
		send_latch(c, ks);
		punch_start(c, ks, "relayed: trying a direct path again");
	}
}

int client_path_start(struct jz_client *c, char *err, size_t errlen)
{
	struct timeval sec = { 1, 0 };
	struct client_path *cp;

	if (!c->k->ops->stun_send)
		return 0;	/* the fake backend: no tunnel socket */
	cp = calloc(1, sizeof(*cp));
	if (!cp || !(cp->tick_ev = evtimer_new(c->d->base, on_tick, c)) ||
	    !(cp->slow_ev = event_new(c->d->base, -1, EV_PERSIST, on_slow, c)) ||
	    event_add(cp->slow_ev, &sec)) {
		if (cp && cp->tick_ev)
			event_free(cp->tick_ev);
		if (cp && cp->slow_ev)
			event_free(cp->slow_ev);
		free(cp);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	c->path = cp;
	c->k->on_stun = on_stun;
	c->k->on_roam = on_roam;
	return 0;
}

void client_path_free(struct jz_client *c)
{
	if (!c->path)
		return;
	if (c->k) {
		c->k->on_stun = NULL;
		c->k->on_roam = NULL;
	}
	event_free(c->path->tick_ev);
	event_free(c->path->slow_ev);
	free(c->path);
	c->path = NULL;
}
