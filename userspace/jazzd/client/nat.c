// SPDX-License-Identifier: GPL-2.0
/*
 * jazzd client: endpoint discovery (issue 20). With [client] stun_server,
 * asks that STUN server (jazzd's [server] stun_listen, or any other) every
 * [client] stun_interval seconds from the jazz device's own UDP socket (the
 * kernel's stun-send) and takes the answer from the kernel's stun-rx-ntf:
 * the public address and port that NATs give the tunnel's socket. Each
 * refresh also keeps the NAT's mapping open; a new mapping (a NAT
 * rebinding, a roam) is found at the next refresh and logged. A request is
 * sent again after 0.5, 1 and 2 s (RFC 8489's doubling), then given up
 * until the next refresh.
 *
 * Owns the discovery's timers and the mapping found. Must not parse STUN
 * bytes itself (common/stun.c does), nor take an answer that is not from
 * the server asked and with the transaction id of the request in flight.
 * The mapping found is this device's public candidate (path.c sends it
 * to the server, and punches again when it changes).
 */
#include <string.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <event2/event.h>
#include <event2/util.h>
#include "stun.h"
#include "log.h"
#include "client_int.h"

#define NAT_TRIES	4

struct client_nat {
	struct jz_client *c;
	struct sockaddr_storage server;
	struct event *tick_ev, *rto_ev;
	uint8_t txid[JZ_STUN_TXID];
	bool asking;
	int tries;
	struct jz_stun_addr mapped;	/* family 0: none found yet */
};

static bool same_sockaddr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		       !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr));
	}
	return false;
}

static void send_request(struct client_nat *n)
{
	struct jz_kernel *k = n->c->k;
	struct timeval rto = { 0, 500000 };
	uint8_t msg[JZ_STUN_HDR];
	int rc, i;

	rc = k->ops->stun_send(k, &n->server, msg, jz_stun_request(msg, n->txid));
	if (rc)
		jz_debug("endpoint discovery: stun-send to %s: %s", cfg(n->c)->stun_server,
			 strerror(-rc));
	n->tries++;
	for (i = 1; i < n->tries; i++) {
		rto.tv_sec = rto.tv_sec * 2 + (rto.tv_usec * 2) / 1000000;
		rto.tv_usec = (rto.tv_usec * 2) % 1000000;
	}
	evtimer_add(n->rto_ev, &rto);
}

static void on_rto(evutil_socket_t fd, short what, void *arg)
{
	struct client_nat *n = arg;

	if (!n->asking)
		return;
	if (n->tries < NAT_TRIES) {
		send_request(n);
		return;
	}
	n->asking = false;
	jz_info("endpoint discovery: no answer from %s to %d requests; asking again in %d s",
		cfg(n->c)->stun_server, NAT_TRIES, cfg(n->c)->stun_interval_s);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct client_nat *n = arg;
	struct timeval tv = { cfg(n->c)->stun_interval_s, 0 };

	evtimer_add(n->tick_ev, &tv);
	if (RAND_bytes(n->txid, sizeof(n->txid)) != 1)
		return;
	evtimer_del(n->rto_ev);
	n->asking = true;
	n->tries = 0;
	send_request(n);
}

/* An answer to our request in flight (path.c hands every STUN datagram
 * here first): true when taken. */
bool client_nat_take(struct jz_client *c, const struct jz_kstun *s, const struct jz_stun_msg *m)
{
	struct client_nat *n = c->nat;
	char was[64], now[64];
	bool first;

	if (!n || !n->asking || memcmp(m->txid, n->txid, sizeof(n->txid)) ||
	    !same_sockaddr(&s->from, &n->server) || m->type != JZ_STUN_BINDING_SUCCESS ||
	    !m->mapped.family)
		return false;	/* not an answer to us: other STUN on the tunnel's port */
	n->asking = false;
	evtimer_del(n->rto_ev);
	jz_stun_addr_str(&m->mapped, now, sizeof(now));
	first = !n->mapped.family;
	if (first)
		jz_info("endpoint discovery: %s is %s from outside (local port %u, STUN server %s)",
			cfg(c)->ifname, now, s->local_port, cfg(c)->stun_server);
	else if (memcmp(&n->mapped, &m->mapped, sizeof(m->mapped)))
		jz_info("endpoint discovery: %s moved from %s to %s (a NAT rebinding or a roam; "
			"local port %u)", cfg(c)->ifname,
			jz_stun_addr_str(&n->mapped, was, sizeof(was)), now, s->local_port);
	else
		return true;
	n->mapped = m->mapped;
	client_path_mapping_changed(c, first);
	return true;
}

/* The public mapping found (false: none yet, or discovery is off). */
bool client_nat_mapped(struct jz_client *c, struct jz_stun_addr *a)
{
	if (!c->nat || !c->nat->mapped.family)
		return false;
	*a = c->nat->mapped;
	return true;
}

int client_nat_start(struct jz_client *c, char *err, size_t errlen)
{
	struct jz_config *cf = cfg(c);
	struct timeval now = { 0, 0 };
	int len = sizeof(struct sockaddr_storage);
	struct client_nat *n;

	if (!cf->stun_server || !*cf->stun_server)
		return 0;
	if (cf->stun_interval_s < 1) {
		snprintf(err, errlen, "[client] stun_interval must be at least 1 s");
		return -1;
	}
	n = calloc(1, sizeof(*n));
	if (!n) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	n->c = c;
	if (evutil_parse_sockaddr_port(cf->stun_server, (struct sockaddr *)&n->server, &len)) {
		snprintf(err, errlen, "[client] stun_server: cannot parse %s (IP:PORT, [V6]:PORT)",
			 cf->stun_server);
		free(n);
		return -1;
	}
	if (!c->k->ops->stun_send || !c->path) {
		jz_warn("endpoint discovery: the %s kernel backend cannot send STUN; "
			"stun_server ignored", cf->kbackend ? cf->kbackend : "configured");
		free(n);
		return 0;
	}
	n->tick_ev = evtimer_new(c->d->base, on_tick, n);
	n->rto_ev = evtimer_new(c->d->base, on_rto, n);
	if (!n->tick_ev || !n->rto_ev) {
		snprintf(err, errlen, "out of memory");
		c->nat = n;
		client_nat_free(c);
		return -1;
	}
	c->nat = n;
	evtimer_add(n->tick_ev, &now);
	jz_info("endpoint discovery: asking %s every %d s from %s's socket", cf->stun_server,
		cf->stun_interval_s, cf->ifname);
	return 0;
}

void client_nat_free(struct jz_client *c)
{
	struct client_nat *n = c->nat;

	if (!n)
		return;
	if (n->tick_ev)
		event_free(n->tick_ev);
	if (n->rto_ev)
		event_free(n->rto_ev);
	free(n);
	c->nat = NULL;
}
