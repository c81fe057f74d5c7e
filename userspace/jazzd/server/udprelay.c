// SPDX-License-Identifier: GPL-2.0
/*
 * The relay (issue 20): for two linked devices with no direct path, a
 * pair of UDP ports on [server] relay_listen that copy their tunnel
 * datagrams, still encrypted, from one to the other. Device A sends to its
 * port (the kernel's endpoint for B), the relay sends on from B's port, so
 * B's kernel sees A's messages come from B's port and moves its endpoint
 * for A there by itself (an authenticated message from a new address):
 * the devices' kernels and the wire format are unchanged, and the relay
 * never holds a key. Why here and not in the server's jazz.ko: that
 * needs a jazz device on the server and a new message type naming the
 * destination in kmod/send.c and receive.c; a pair of ports needs
 * neither (docs/ARCHITECTURE.md "Relay").
 *
 * Which source a port takes: a device "latches" its port with a STUN
 * check (JAZZ-CHECK {from: itself, to: the other}) from an address whose
 * IP is its control connection's or one of its public candidates', its
 * transaction id the port's token (96 random bits the device got in the
 * "relay" offer over TLS: a device behind the same public IP, which can
 * send from that IP and knows the ids, cannot move the latch); the
 * relay answers it and from then forwards only datagrams from that exact
 * address and port (a re-latch moves it, for a NAT rebinding). Nothing
 * is forwarded before both ends latched. A pair's relay ends when it
 * forwarded nothing for [server] relay_idle seconds or either device left.
 *
 * Across servers (issue 21's cluster): the relay of the asking device's
 * server serves the pair; the other device, online on another server,
 * is told its port through that server (cluster/ relay stream, kind
 * "relay", delivered by server/remote.c) and latches from the address
 * its record names (its server-seen endpoint or a public candidate).
 *
 * Owns the relays and their sockets. Must not read a datagram beyond the
 * STUN header of a latch (common/stun.c parses it), nor decide who may
 * reach whom (peers_linked() does).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "stun.h"
#include "server_int.h"

#define RELAY_BATCH	64
#define RELAY_GC_S	5
#define RELAY_ACTIVE_S	30	/* forwarded this lately: the pair is relayed */

struct relay_end {
	struct udprelay *r;
	int i;			/* r->e[i] */
	int fd;
	uint16_t port;
	struct event *ev;
	uint32_t idx;		/* the device that sends to this port */
	struct sockaddr_storage addr;	/* its latched source */
	socklen_t alen;
	bool latched;
	uint8_t token[JZ_STUN_TXID];	/* a latch's transaction id (offer) */
	uint64_t in, out;	/* datagrams taken here, sent from here */
};

struct udprelay {
	struct udprelay *next;
	struct jz_relays *rs;
	struct relay_end e[2];
	double used_at;
	uint64_t dropped;
};

struct jz_relays {
	struct jz_server *srv;
	struct sockaddr_storage bind;
	socklen_t blen;
	char ip[INET6_ADDRSTRLEN];
	struct udprelay *list;
	size_t n;
	int next_port;
	struct event *gc_ev;
};

static bool same_ss(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

	return x->sin6_port == y->sin6_port && !memcmp(&x->sin6_addr, &y->sin6_addr, 16);
}

/* The IP of @ss as text (v4-mapped IPv6 as IPv4). */
static void ss_ip(const struct sockaddr_storage *ss, char *out, size_t len)
{
	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, out, len);
		return;
	}
	const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;

	if (IN6_IS_ADDR_V4MAPPED(a))
		inet_ntop(AF_INET, a->s6_addr + 12, out, len);
	else
		inet_ntop(AF_INET6, a, out, len);
}

/* May @idx latch from @from: its control connection's IP (for a device
 * of another server: the endpoint its record names) or a public
 * candidate's. */
static bool source_ok(struct jz_server *srv, uint32_t idx, const struct sockaddr_storage *from)
{
	struct session *s = find_online_idx(srv, idx);
	char ip[INET6_ADDRSTRLEN];

	if (!s || s->state != S_ONLINE)
		return false;
	ss_ip(from, ip, sizeof(ip));
	if (!strcmp(ip, s->remote ? s->ep_ip : s->ip))
		return true;
	for (size_t i = 0; s->cands && i < s->cands->n; i++)
		if (s->cands->c[i].srflx && !strcmp(s->cands->c[i].ip, ip))
			return true;
	return false;
}

static void latch(struct udprelay *r, int i, const uint8_t *buf, size_t len,
		  const struct sockaddr_storage *from, socklen_t flen)
{
	struct relay_end *e = &r->e[i];
	struct jz_stun_msg m;
	struct jz_stun_addr src = { 0 };
	uint8_t out[64];
	char err[96];
	size_t n;

	if (jz_stun_parse(buf, len, &m, err, sizeof(err)) || m.type != JZ_STUN_BINDING_REQUEST ||
	    !m.has_check || m.check_from != e->idx || m.check_to != r->e[!i].idx ||
	    CRYPTO_memcmp(m.txid, e->token, JZ_STUN_TXID) ||
	    !source_ok(r->rs->srv, e->idx, from)) {
		r->dropped++;
		return;
	}
	if (!e->latched || !same_ss(&e->addr, from)) {
		char ip[INET6_ADDRSTRLEN];

		ss_ip(from, ip, sizeof(ip));
		jz_info("relay %u<->%u: device %u latched port %u from %s:%u", r->e[0].idx,
			r->e[1].idx, e->idx, e->port, ip,
			ntohs(((const struct sockaddr_in *)from)->sin_port));
	}
	e->addr = *from;
	e->alen = flen;
	e->latched = true;
	r->used_at = jz_now();
	if (from->ss_family == AF_INET) {
		src.family = AF_INET;
		memcpy(src.addr, &((const struct sockaddr_in *)from)->sin_addr, 4);
		src.port = ntohs(((const struct sockaddr_in *)from)->sin_port);
	} else {
		src.family = AF_INET6;
		memcpy(src.addr, &((const struct sockaddr_in6 *)from)->sin6_addr, 16);
		src.port = ntohs(((const struct sockaddr_in6 *)from)->sin6_port);
	}
	n = jz_stun_response(out, m.txid, &src);
	if (n)
		sendto(e->fd, out, n, MSG_DONTWAIT, (const struct sockaddr *)from, flen);
}

static bool is_stun(const uint8_t *b, size_t len)
{
	return len >= JZ_STUN_HDR && !(b[0] & 0xc0) && b[4] == 0x21 && b[5] == 0x12 &&
	       b[6] == 0xa4 && b[7] == 0x42;
}

/* One datagram on end @e: a latch, or forwarded from the other end's
 * port to the other device's latched address. */
static void take(struct relay_end *e, const uint8_t *buf, size_t len,
		 const struct sockaddr_storage *from, socklen_t flen)
{
	struct udprelay *r = e->r;
	struct relay_end *o = &r->e[!e->i];

	if (is_stun(buf, len)) {
		latch(r, e->i, buf, len, from, flen);
		return;
	}
	if (!e->latched || !o->latched || !same_ss(&e->addr, from)) {
		r->dropped++;
		return;
	}
	e->in++;
	if (sendto(o->fd, buf, len, MSG_DONTWAIT, (const struct sockaddr *)&o->addr,
		   o->alen) == (ssize_t)len)
		o->out++;
	else
		r->dropped++;
	r->used_at = jz_now();
}

static void on_datagram(evutil_socket_t fd, short what, void *arg)
{
	struct relay_end *e = arg;
	static uint8_t buf[65536];
	struct sockaddr_storage from;
	socklen_t flen;
	ssize_t n;

	for (int k = 0; k < RELAY_BATCH; k++) {
		flen = sizeof(from);
		n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &flen);
		if (n < 0)
			break;
		take(e, buf, (size_t)n, &from, flen);
	}
}

/* peer-path-changed (docs/EVENTS.md) for the relay's start and end. */
static void relay_event(struct jz_relays *rs, struct udprelay *r, const char *path,
			const char *why)
{
	struct path_ev e = { .path = path, .how = path[0] == 'r' ? "relay" : "", .why = why,
			     .by = "relay", .relay_ip = rs->ip, .relay_port = r->e[0].port,
			     .peer_relay_port = r->e[1].port };

	path_event(find_online_idx(rs->srv, r->e[0].idx), find_online_idx(rs->srv, r->e[1].idx),
		   &e);
}

static void relay_free(struct udprelay *r, const char *why)
{
	jz_info("relay %u<->%u ends (%s): %llu datagrams %u->%u, %llu %u->%u, %llu dropped",
		r->e[0].idx, r->e[1].idx, why, (unsigned long long)r->e[1].out, r->e[0].idx,
		r->e[1].idx, (unsigned long long)r->e[0].out, r->e[1].idx, r->e[0].idx,
		(unsigned long long)r->dropped);
	for (int i = 0; i < 2; i++) {
		if (r->e[i].ev)
			event_free(r->e[i].ev);
		if (r->e[i].fd >= 0)
			close(r->e[i].fd);
	}
	free(r);
}

/* A UDP socket on relay_listen, on the next free port of the range. */
static int open_port(struct jz_relays *rs, uint16_t *port)
{
	struct jz_config *c = &rs->srv->d->cfg;
	int span = c->relay_port_hi - c->relay_port_lo + 1;

	for (int tries = 0; tries < span; tries++) {
		struct sockaddr_storage a = rs->bind;
		int p = rs->next_port, fd;

		rs->next_port = p == c->relay_port_hi ? c->relay_port_lo : p + 1;
		if (a.ss_family == AF_INET)
			((struct sockaddr_in *)&a)->sin_port = htons((uint16_t)p);
		else
			((struct sockaddr_in6 *)&a)->sin6_port = htons((uint16_t)p);
		fd = socket(a.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		if (!bind(fd, (struct sockaddr *)&a, rs->blen)) {
			*port = (uint16_t)p;
			return fd;
		}
		close(fd);
	}
	return -1;
}

static struct udprelay *relay_find(struct jz_relays *rs, uint32_t a, uint32_t b)
{
	for (struct udprelay *r = rs->list; r; r = r->next)
		if ((r->e[0].idx == a && r->e[1].idx == b) || (r->e[0].idx == b && r->e[1].idx == a))
			return r;
	return NULL;
}

static struct udprelay *relay_new(struct jz_relays *rs, uint32_t a, uint32_t b)
{
	struct udprelay *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->rs = rs;
	r->used_at = jz_now();
	for (int i = 0; i < 2; i++) {
		struct relay_end *e = &r->e[i];

		e->r = r;
		e->i = i;
		e->idx = i ? b : a;
		e->fd = -1;
		if (RAND_bytes(e->token, JZ_STUN_TXID) != 1) {
			free(r);
			return NULL;
		}
	}
	for (int i = 0; i < 2; i++) {
		struct relay_end *e = &r->e[i];

		e->fd = open_port(rs, &e->port);
		e->ev = e->fd >= 0 ? event_new(rs->srv->d->base, e->fd, EV_READ | EV_PERSIST,
					       on_datagram, e) : NULL;
		if (!e->ev || event_add(e->ev, NULL)) {
			relay_free(r, "no port free");
			return NULL;
		}
	}
	r->next = rs->list;
	rs->list = r;
	rs->n++;
	jz_info("relay %u<->%u: ports %u (for %u) and %u (for %u) on %s", a, b, r->e[0].port, a,
		r->e[1].port, b, rs->ip);
	relay_event(rs, r, "relayed", "no direct path: a device asked for the relay");
	return r;
}

/* Tells end @i's device its port: directly, or through its server
 * (false: the cluster did not take it). */
static bool relay_offer(struct jz_relays *rs, struct udprelay *r, int i)
{
	struct session *s = find_online_idx(rs->srv, r->e[i].idx);
	char msg[160], token[2 * JZ_STUN_TXID + 1];

	if (!s || s->state != S_ONLINE)
		return false;
	jz_hex(r->e[i].token, JZ_STUN_TXID, token);
	if (!s->remote) {
		send_msg(s, json_pack("{s:s,s:I,s:s,s:i,s:s}", "type", "relay", "peer",
				      (json_int_t)r->e[!i].idx, "ip", rs->ip, "port",
				      r->e[i].port, "token", token));
		return true;
	}
	snprintf(msg, sizeof(msg), "{\"ip\":\"%s\",\"port\":%u,\"token\":\"%s\"}", rs->ip,
		 r->e[i].port, token);
	return jz_state_relay(rs->srv->state, r->e[!i].idx, r->e[i].idx, "relay", msg);
}

static void refuse(struct session *s, uint32_t peer, const char *why)
{
	jz_info("relay for %s to device %u refused: %s", s->device, peer, why);
	send_msg(s, json_pack("{s:s,s:I,s:s}", "type", "relay_refused", "peer",
			      (json_int_t)peer, "reason", why));
}

/* "relay_request" {peer}: a relay for the pair, both ends told its ports. */
void on_relay_request(struct session *s, uint32_t peer)
{
	struct jz_server *srv = s->srv;
	struct jz_relays *rs = srv->relays;
	struct session *p = find_online_idx(srv, peer);
	struct udprelay *r;
	bool fresh;

	if (s->state != S_ONLINE || s->remote)
		return;
	if (!rs)
		return refuse(s, peer, "this server has no relay ([server] relay_listen)");
	if (!p || p->state != S_ONLINE || !peers_linked(s, p))
		return refuse(s, peer, "not a linked device online");
	if (s->direct_only || p->direct_only)
		return refuse(s, peer, s->direct_only ? "this device is direct-only" :
			      "the peer is direct-only");
	r = relay_find(rs, s->lease->idx, peer);
	fresh = !r;
	if (!r && rs->n >= (size_t)srv->d->cfg.relay_max)
		return refuse(s, peer, "the relay is full ([server] relay_max)");
	if (!r)
		r = relay_new(rs, s->lease->idx, peer);
	if (!r)
		return refuse(s, peer, "no relay port free ([server] relay_ports)");
	if (!relay_offer(rs, r, r->e[0].idx == peer ? 0 : 1)) {
		if (fresh) {	/* unused: its ports back now, not after relay_idle */
			rs->list = r->next;	/* relay_new put it first */
			rs->n--;
			relay_event(rs, r, "not-relayed", "the peer could not be told");
			relay_free(r, "the peer could not be told");
		}
		return refuse(s, peer, "the device is on another server, which the cluster "
			      "cannot reach now");
	}
	relay_offer(rs, r, r->e[0].idx == peer ? 1 : 0);
}

bool jz_relays_pair_active(struct jz_server *srv, uint32_t a, uint32_t b)
{
	struct udprelay *r = srv->relays ? relay_find(srv->relays, a, b) : NULL;

	return r && jz_now() - r->used_at < RELAY_ACTIVE_S;
}

bool jz_relays_pair_ports(struct jz_server *srv, uint32_t a, uint32_t b, const char **ip,
			  int *port_a, int *port_b)
{
	struct udprelay *r = srv->relays ? relay_find(srv->relays, a, b) : NULL;
	int i;

	if (!r)
		return false;
	i = r->e[0].idx == a ? 0 : 1;
	*ip = srv->relays->ip;
	*port_a = r->e[i].port;
	*port_b = r->e[!i].port;
	return true;
}

/* Every RELAY_GC_S: relays unused for relay_idle, or of a device gone. */
static void on_gc(evutil_socket_t fd, short what, void *arg)
{
	struct jz_relays *rs = arg;
	double now = jz_now();

	for (struct udprelay **pr = &rs->list; *pr;) {
		struct udprelay *r = *pr;
		struct session *a = find_online_idx(rs->srv, r->e[0].idx);
		struct session *b = find_online_idx(rs->srv, r->e[1].idx);
		const char *why = NULL;

		if (!a || a->state != S_ONLINE || !b || b->state != S_ONLINE)
			why = "a device left";
		else if (now - r->used_at > rs->srv->d->cfg.relay_idle_s)
			why = "unused";
		if (!why) {
			pr = &r->next;
			continue;
		}
		*pr = r->next;
		rs->n--;
		relay_event(rs, r, "not-relayed", why);
		relay_free(r, why);
	}
}

int jz_relays_start(struct jz_server *srv, char *err, size_t errlen)
{
	struct jz_config *c = &srv->d->cfg;
	struct timeval gc = { RELAY_GC_S, 0 };
	struct jz_relays *rs;
	int len = sizeof(struct sockaddr_storage);

	if (!c->relay_listen || !*c->relay_listen)
		return 0;
	rs = calloc(1, sizeof(*rs));
	if (!rs) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rs->srv = srv;
	rs->next_port = c->relay_port_lo;
	snprintf(rs->ip, sizeof(rs->ip), "%s", c->relay_listen);
	if (evutil_parse_sockaddr_port(c->relay_listen, (struct sockaddr *)&rs->bind, &len)) {
		snprintf(err, errlen, "[server] relay_listen: %s is not an address", c->relay_listen);
		free(rs);
		return -1;
	}
	rs->blen = (socklen_t)len;
	rs->gc_ev = event_new(srv->d->base, -1, EV_PERSIST, on_gc, rs);
	if (!rs->gc_ev || event_add(rs->gc_ev, &gc)) {
		snprintf(err, errlen, "out of memory");
		free(rs);
		return -1;
	}
	srv->relays = rs;
	jz_info("relay on %s, ports %d-%d, at most %d pairs", rs->ip, c->relay_port_lo,
		c->relay_port_hi, c->relay_max);
	return 0;
}

void jz_relays_free(struct jz_server *srv)
{
	struct jz_relays *rs = srv->relays;

	if (!rs)
		return;
	while (rs->list) {
		struct udprelay *r = rs->list;

		rs->list = r->next;
		relay_free(r, "the server stops");
	}
	event_free(rs->gc_ev);
	free(rs);
	srv->relays = NULL;
}
