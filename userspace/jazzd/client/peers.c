// SPDX-License-Identifier: GPL-2.0
/*
 * What a server may install in this device's kernel: its peer lists (only
 * peers whose allowed-ips lie in [client] pool4/pool6, at most max_peers
 * entries), keys for installed peers, and connection verdicts. Each
 * refusal is logged with the reason.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include <jazz.h>

#include "client/client_int.h"
#include "log.h"

/* ------------------------------------------------------------------ */
/* kernel state */

struct kpeer_state *client_kp_find(struct jz_client *c, uint32_t id)
{
	for (size_t i = 0; i < c->n_peers; i++)
		if (c->peers[i].p.id == id)
			return &c->peers[i];
	return NULL;
}

/* Removes the peers not in the latest list (keep_carried: but not those
 * carried over from an earlier session). */
static void drop_unseen(struct jz_client *c, bool keep_carried)
{
	for (size_t i = 0; i < c->n_peers;) {
		struct kpeer_state *ks = &c->peers[i];

		if (ks->seen || (keep_carried && ks->carried)) {
			i++;
			continue;
		}
		if (ks->present)
			c->k->ops->peer_del(c->k, ks->p.id);
		client_pair_forget(ks);
		client_path_forget(ks);
		*ks = c->peers[--c->n_peers];
	}
}

void client_on_carry_over(evutil_socket_t fd, short what, void *arg)
{
	struct jz_client *c = arg;
	size_t n = c->n_peers;

	drop_unseen(c, false);
	if (n != c->n_peers)
		jz_info("peer list: %zu peer(s) from the previous session not back, removed",
			n - c->n_peers);
}

/* ------------------------------------------------------------------ */
/* what this client accepts from a server */

/* addr inside the CIDR pool (of family af)? *pool_plen gets its length. */
bool client_in_pool(int af, const char *addr, const char *pool, int *pool_plen)
{
	unsigned char a[16], n[16];
	char net[64];
	const char *slash = pool ? strchr(pool, '/') : NULL;
	int plen, bytes = af == AF_INET ? 4 : 16;
	char *end;

	if (!slash || (size_t)(slash - pool) >= sizeof(net))
		return false;
	snprintf(net, sizeof(net), "%.*s", (int)(slash - pool), pool);
	plen = (int)strtol(slash + 1, &end, 10);
	if (*end || plen < 0 || plen > bytes * 8 || inet_pton(af, net, n) != 1 ||
	    inet_pton(af, addr, a) != 1)
		return false;
	if (pool_plen)
		*pool_plen = plen;
	for (int i = 0; i < plen; i++) {
		int bit = 0x80 >> (i % 8);

		if ((a[i / 8] & bit) != (n[i / 8] & bit))
			return false;
	}
	return true;
}

/* A peer entry this device may install: "" or why not. */
static void peer_check(struct jz_client *c, const struct jz_cm_peer *p, char *why,
		       size_t len)
{
	unsigned char b[16];

	why[0] = 0;
	if (p->bad[0])
		snprintf(why, len, "%s", p->bad);
	else if (p->id == c->my_id)
		snprintf(why, len, "claims this device's own id");
	else if (!p->vip4[0] && !p->vip6[0])
		snprintf(why, len, "no allowed-ips");
	else if (p->vip4[0] && inet_pton(AF_INET, p->vip4, b) != 1)
		snprintf(why, len, "allowed-ips %s is not an IPv4 address", p->vip4);
	else if (p->vip6[0] && inet_pton(AF_INET6, p->vip6, b) != 1)
		snprintf(why, len, "allowed-ips %s is not an IPv6 address", p->vip6);
	else if (p->vip4[0] && !client_in_pool(AF_INET, p->vip4, cfg(c)->pool4, NULL))
		snprintf(why, len, "allowed-ips %s outside the accepted pool %s",
			 p->vip4, cfg(c)->pool4 ?: "(none)");
	else if (p->vip6[0] && !client_in_pool(AF_INET6, p->vip6, cfg(c)->pool6, NULL))
		snprintf(why, len, "allowed-ips %s outside the accepted pool %s",
			 p->vip6, cfg(c)->pool6 ?: "(none)");
}

/* Makes the kernel's peers match the view (every visible entry). */
static void apply_peers(struct jz_client *c)
{
	size_t i, refused = 0;

	for (i = 0; i < c->n_peers; i++)
		c->peers[i].seen = false;
	for (i = 0; i < c->n_view; i++) {
		const struct jz_cm_peer *e = &c->view[i];
		struct jz_kpeer p = { 0 };
		struct kpeer_state *ks;
		char why[192], name[JZ_CM_DEV * 4];
		bool create;

		if (!e->linked)
			continue;	/* visible but not reachable: not installed */
		jz_cm_escape(e->device, name, sizeof(name));
		peer_check(c, e, why, sizeof(why));
		if (why[0]) {
			char ew[sizeof(why) * 4];

			jz_cm_escape(why, ew, sizeof(ew));
			jz_warn("peer %u (%s): %s: not installed", e->id, name, ew);
			refused++;
			continue;
		}
		p.id = e->id;
		p.remote_id = c->my_id;
		snprintf(p.name, sizeof(p.name), "%.63s", name);
		snprintf(p.vip4, sizeof(p.vip4), "%s", e->vip4);
		snprintf(p.vip6, sizeof(p.vip6), "%s", e->vip6);
		snprintf(p.endpoint_ip, sizeof(p.endpoint_ip), "%s", e->ep_ip);
		p.endpoint_port = e->ep_port;
		p.keepalive_s = 25;
		ks = client_kp_find(c, p.id);
		if (!ks) {
			if (c->n_peers == c->cap_peers) {
				size_t cap = c->cap_peers ? 2 * c->cap_peers : 16;
				struct kpeer_state *np = realloc(c->peers, cap * sizeof(*np));

				if (!np) {
					jz_err("peer %u (%s): out of memory: not installed",
					       p.id, name);
					continue;
				}
				c->peers = np;
				c->cap_peers = cap;
			}
			ks = &c->peers[c->n_peers++];
			memset(ks, 0, sizeof(*ks));
			ks->pending_key_id = ks->active_key_id = -1;
		}
		ks->seen = true;
		ks->carried = false;
		client_path_listed(c, ks, e, &p);
		create = !ks->present;
		if (create || memcmp(&ks->p, &p, sizeof(p))) {
			if (c->k->ops->peer_set(c->k, &p, create))
				jz_err("kernel: cannot %s peer %s", create ? "add" : "update",
				       p.name);
			ks->p = p;
			ks->present = true;
		}
		client_pair_listed(c, ks, e);
	}
	drop_unseen(c, evtimer_pending(c->carry_ev, NULL));
	jz_info("peer list: %zu visible, %zu installed%s", c->n_view, c->n_peers,
		refused ? ", some refused (above)" : "");
}

static size_t max_peers(struct jz_client *c)
{
	return cfg(c)->max_peers > 0 ? (size_t)cfg(c)->max_peers : 1024;
}

static void too_many(struct jz_client *c, size_t n)
{
	jz_warn("peer list: %zu entries, more than max_peers = %zu: the rest are ignored",
		n, max_peers(c));
}

/* Sets entries (by id) into v[0..*n) of room cap: how many did not fit. */
static size_t view_set(struct jz_cm_peer *v, size_t *n, size_t cap,
		       const struct jz_cm_peer *set, size_t n_set)
{
	size_t i, j;

	for (i = 0; i < n_set; i++) {
		if (!set[i].id)
			continue;
		for (j = 0; j < *n && v[j].id != set[i].id; j++)
			;
		if (j == *n) {
			if (*n >= cap)
				return n_set - i;
			(*n)++;
		}
		v[j] = set[i];
	}
	return 0;
}

/* The list in parts (if any) is over: its entries are dropped. */
void client_parts_end(struct jz_client *c)
{
	free(c->pend);
	c->pend = NULL;
	c->n_pend = c->cap_pend = 0;
	c->pend_next = 0;
	c->in_parts = false;
}

/*
 * One part of a list in parts ("part" 0, 1, ... with "more" on all but
 * the last). The entries so far count toward max_peers: a server that
 * sends more is disconnected, as is one that skips or repeats a part.
 * 1: the list is complete and is now the view; 0: more to come; -1: the
 * connection was dropped.
 */
static int list_part(struct jz_client *c, const struct jz_cm_peers *pl)
{
	char why[160];

	if (pl->part == 0) {
		client_parts_end(c);
		c->pend = calloc(max_peers(c), sizeof(*c->pend));
		if (!c->pend) {
			client_drop(c, "peer list in parts: out of memory");
			return -1;
		}
		c->cap_pend = max_peers(c);
		c->in_parts = true;
	} else if (!c->in_parts || pl->part != c->pend_next) {
		if (c->in_parts)
			snprintf(why, sizeof(why), "bad peer list part: part %u, expected %u",
				 pl->part, c->pend_next);
		else
			snprintf(why, sizeof(why),
				 "bad peer list part: part %u without a list in progress",
				 pl->part);
		client_drop(c, why);
		return -1;
	}
	if (pl->total > pl->n_set ||
	    view_set(c->pend, &c->n_pend, c->cap_pend, pl->set, pl->n_set)) {
		snprintf(why, sizeof(why), "peer list in parts: part %u brings it over "
			 "max_peers = %zu entries", pl->part, c->cap_pend);
		client_drop(c, why);
		return -1;
	}
	c->pend_next = pl->part + 1;
	if (pl->more)
		return 0;
	free(c->view);
	c->view_cut = false;
	c->view = c->pend;
	c->n_view = c->n_pend;
	c->cap_view = c->cap_pend;
	c->pend = NULL;
	client_parts_end(c);
	return 1;
}

/*
 * peers_compact: an entry without addresses has its lease's, made from its
 * id as the server makes them (core/leases.c: the pool's network + id + 1;
 * the pools' prefixes came with the welcome). An id past the pool gets
 * none (refused as "no allowed-ips").
 */
static bool vip4_from_id(const struct jz_client *c, struct jz_cm_peer *p)
{
	struct in_addr a;
	uint64_t size, off = (uint64_t)p->id + 1;
	uint32_t mask;

	if (!c->vip4[0])
		return true;	/* no IPv4 here: none for the peer either */
	if (c->prefix4 < 1 || c->prefix4 > 30 || inet_pton(AF_INET, c->vip4, &a) != 1)
		return false;
	size = 1ULL << (32 - c->prefix4);
	if (off >= size - 1)
		return false;	/* past the pool (or its broadcast address) */
	mask = (uint32_t)(0xffffffffULL << (32 - c->prefix4));
	a.s_addr = htonl((ntohl(a.s_addr) & mask) + (uint32_t)off);
	return inet_ntop(AF_INET, &a, p->vip4, sizeof(p->vip4)) != NULL;
}

static bool vip6_from_id(const struct jz_client *c, struct jz_cm_peer *p)
{
	struct in6_addr b;
	uint64_t off = (uint64_t)p->id + 1;

	if (!c->vip6[0])
		return true;
	if (c->prefix6 < 64 || c->prefix6 > 120 || inet_pton(AF_INET6, c->vip6, &b) != 1)
		return false;
	if (c->prefix6 > 96 && off >= 1ULL << (128 - c->prefix6))
		return false;
	for (int i = c->prefix6 / 8; i < 16; i++)
		b.s6_addr[i] &= i == c->prefix6 / 8 ? (uint8_t)(0xff00 >> (c->prefix6 % 8)) : 0;
	for (int i = 15; i >= 12; i--) {
		unsigned int v = b.s6_addr[i] + (off & 0xff);

		b.s6_addr[i] = v & 0xff;
		off = (off >> 8) + (v >> 8);
	}
	return inet_ntop(AF_INET6, &b, p->vip6, sizeof(p->vip6)) != NULL;
}

/* Both or none: an id that fits one pool and not the other gets none. */
static void vips_from_ids(const struct jz_client *c, struct jz_cm_peer *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i].bad[0] || v[i].vip4[0] || v[i].vip6[0])
			continue;
		v[i].addrs_made = true;
		if (!vip4_from_id(c, &v[i]) || !vip6_from_id(c, &v[i]))
			v[i].vip4[0] = v[i].vip6[0] = 0;
	}
}

/* ------------------------------------------------------------------ */
/* a list this device already holds (docs/PROTOCOL-control.md) */

static int by_id(const void *a, const void *b)
{
	uint32_t x = (*(const struct jz_cm_peer *const *)a)->id;
	uint32_t y = (*(const struct jz_cm_peer *const *)b)->id;

	return x < y ? -1 : x > y;
}

/* An entry's hash from its fields as this device holds them: addresses
 * made from the id are not the entry's (the server sent none). */
static int entry_hash(const struct jz_cm_peer *e, uint8_t out[JZ_LIST_DIGEST_LEN])
{
	struct jz_list_cand cands[JZ_CM_CANDS];
	struct jz_list_entry le = {
		.id = e->id,
		.device = e->device,
		.linked = e->linked,
		.vip4 = e->addrs_made ? "" : e->vip4,
		.vip6 = e->addrs_made ? "" : e->vip6,
		.pub = e->has_pub ? e->pub : NULL,
		.ep_ip = e->ep_ip,
		.ep_port = e->ep_port,
		.ncands = e->ncands,
		.cands = cands,
	};

	for (size_t i = 0; i < e->ncands && i < JZ_CM_CANDS; i++) {
		memset(&cands[i], 0, sizeof(cands[i]));
		cands[i].family = e->cands[i].family;
		memcpy(cands[i].addr, e->cands[i].addr, e->cands[i].family == AF_INET6 ? 16 : 4);
		cands[i].port = e->cands[i].port;
		cands[i].srflx = e->cands[i].srflx;
	}
	return jz_list_entry_hash(&le, out);
}

/*
 * "peers_known" {digest, count} of the view kept from an earlier session:
 * a server that would send the same list answers "peers_unchanged". Only
 * a view made of whole lists and deltas (never one cut at max_peers: that
 * is not the server's list, and its digest would only cost a wait).
 */
json_t *client_known_view(struct jz_client *c)
{
	struct jz_list_digest d;
	const struct jz_cm_peer **order;
	uint8_t h[JZ_LIST_DIGEST_LEN];
	char *b64 = NULL;
	json_t *m = NULL;
	size_t i;

	c->known_due = false;
	if (!c->view || c->in_parts || c->view_cut)
		return NULL;
	order = calloc(c->n_view ? c->n_view : 1, sizeof(*order));
	if (!order || jz_list_digest_start(&d)) {
		free(order);
		return NULL;
	}
	for (i = 0; i < c->n_view; i++)
		order[i] = &c->view[i];
	qsort(order, c->n_view, sizeof(*order), by_id);
	for (i = 0; i < c->n_view; i++) {
		if (entry_hash(order[i], h))
			break;
		jz_list_digest_add(&d, h);
	}
	free(order);
	if (jz_list_digest_end(&d, h) || i < c->n_view)
		return NULL;
	b64 = jz_b64_encode(h, sizeof(h));
	if (b64)
		m = json_pack("{s:s,s:I}", "digest", b64, "count", (json_int_t)c->n_view);
	free(b64);
	if (m) {
		c->known_due = true;
		c->known_count = (uint32_t)c->n_view;
	}
	return m;
}

/* "peers_unchanged": the view presented at login is this session's list. */
void client_on_peers_unchanged(struct jz_client *c, json_t *m)
{
	uint32_t count;
	char err[160];

	if (jz_cm_peers_unchanged(m, &count, err, sizeof(err))) {
		client_drop(c, err);
		return;
	}
	if (!c->known_due || c->in_parts || count != c->known_count) {
		client_drop(c, "peers_unchanged for a list this device did not present");
		return;
	}
	c->known_due = false;
	/* the addresses it made are made again from this welcome's pools */
	for (size_t i = 0; i < c->n_view; i++)
		if (c->view[i].addrs_made)
			c->view[i].vip4[0] = c->view[i].vip6[0] = 0;
	vips_from_ids(c, c->view, c->n_view);
	jz_info("peer list: the %zu entries kept from the last session are current", c->n_view);
	apply_peers(c);
}

/* "peers": the complete list (maybe in parts); "peers_delta": entries set,
 * ids removed. */
void client_on_peers(struct jz_client *c, json_t *m, bool delta)
{
	struct jz_cm_peers pl;
	size_t i, j, over = 0;
	char err[256], why[300];

	if (jz_cm_peers(m, delta, max_peers(c), &pl, err, sizeof(err))) {
		if (pl.bad_part) {
			snprintf(why, sizeof(why), "bad peer list part: %s", err);
			client_drop(c, why);
			return;
		}
		jz_warn("%s: ignored", err);
		return;
	}
	vips_from_ids(c, pl.set, pl.n_set);
	if (delta && c->in_parts) {
		jz_cm_peers_free(&pl);
		client_drop(c, "peer list delta inside a list in parts");
		return;
	}
	if (!delta && c->known_due) {
		struct timeval grace = { CARRY_GRACE_S, 0 };

		c->known_due = false;	/* a list instead: the kept view differed */
		if (c->n_peers)
			evtimer_add(c->carry_ev, &grace);
	}
	if (!delta && (pl.part || pl.more)) {
		int r = list_part(c, &pl);

		jz_cm_peers_free(&pl);
		if (r > 0)
			apply_peers(c);
		return;
	}
	if (!delta) {
		c->view_cut = false;
		client_parts_end(c);	/* a whole list replaces one in parts */
		free(c->view);
		c->view = NULL;
		c->n_view = 0;
	}
	if (!c->view) {
		c->view = calloc(max_peers(c), sizeof(*c->view));
		c->cap_view = c->view ? max_peers(c) : 0;
	}
	if (!c->view) {
		jz_err("peer list: out of memory");
		jz_cm_peers_free(&pl);
		return;
	}
	if (pl.total > pl.n_set)
		over = pl.total;
	for (i = 0; i < pl.n_del; i++)
		for (j = 0; j < c->n_view; j++)
			if (c->view[j].id == pl.del[i]) {
				c->view[j] = c->view[--c->n_view];
				break;
			}
	/* max_peers may have shrunk on a reload since the view was made:
	 * the smaller bound holds */
	j = view_set(c->view, &c->n_view, c->cap_view < max_peers(c) ? c->cap_view :
		     max_peers(c), pl.set, pl.n_set);
	if (j && !over)
		over = c->n_view + j;
	if (over) {
		too_many(c, over);
		c->view_cut = true;	/* until a whole list fits */
	}
	jz_cm_peers_free(&pl);
	apply_peers(c);
}

void client_on_key(struct jz_client *c, json_t *m)
{
	struct jz_cm_key k;
	struct jz_kkey key = { 0 };
	struct kpeer_state *ks;
	char err[256];
	json_t *ack;

	if (!c->server_keys) {
		/* a server that may choose keys may read every tunnel */
		jz_warn("the server sent a pair key, but this device agrees its own "
			"([client] pair_keys = device): ignored");
		return;
	}
	if (jz_cm_key(m, &k, err, sizeof(err))) {
		jz_warn("%s: ignored", err);
		return;
	}
	ks = client_kp_find(c, k.peer);
	if (!ks || !ks->present) {
		jz_warn("key for unknown peer %u ignored", k.peer);
		OPENSSL_cleanse(&k, sizeof(k));
		return;
	}
	key.peer_id = k.peer;
	key.key_id = k.key_id;
	key.cipher = k.aes ? JAZZ_CIPHER_AES_256_GCM : JAZZ_CIPHER_CHACHA20_POLY1305;
	memcpy(key.tx_key, k.tx_key, 32);
	memcpy(key.tx_salt, k.tx_salt, 4);
	memcpy(key.rx_key, k.rx_key, 32);
	memcpy(key.rx_salt, k.rx_salt, 4);
	OPENSSL_cleanse(&k, sizeof(k));
	/* a peer with no key yet takes it in the primary slot; otherwise the
	 * new key waits in the secondary slot until both ends have it */
	key.slot = ks->has_key ? JAZZ_KEY_SLOT_SECONDARY : JAZZ_KEY_SLOT_PRIMARY;
	if (c->k->ops->key_new(c->k, &key)) {
		jz_err("kernel: key-new for peer %s failed", ks->p.name);
	} else if (key.slot == JAZZ_KEY_SLOT_PRIMARY) {
		ks->has_key = true;
		ks->active_key_id = key.key_id;
		ks->pending_key_id = -1;
	} else {
		ks->pending_key_id = key.key_id;
	}
	/* the ack names the key: peer and id, taken before the key is wiped */
	ack = json_pack("{s:s,s:I,s:i}", "type", "key_ack", "peer",
			(json_int_t)key.peer_id, "key_id", key.key_id);
	OPENSSL_cleanse(&key, sizeof(key));
	client_send(c, ack);
}

void client_on_key_swap(struct jz_client *c, json_t *m)
{
	struct jz_cm_key_swap sw;
	struct kpeer_state *ks;
	char err[128];

	if (!c->server_keys)
		return;		/* device keys: the devices swap on their own */
	if (jz_cm_key_swap(m, &sw, err, sizeof(err))) {
		jz_warn("%s: ignored", err);
		return;
	}
	ks = client_kp_find(c, sw.peer);
	if (!ks || !ks->present)
		return;
	if (ks->pending_key_id == sw.key_id) {
		if (c->k->ops->key_swap(c->k, sw.peer)) {
			jz_err("kernel: key-swap for peer %s failed", ks->p.name);
			return;
		}
		ks->pending_key_id = -1;
		ks->active_key_id = sw.key_id;
		jz_info("key %d for peer %s now in use", sw.key_id, ks->p.name);
	} else if (ks->active_key_id != sw.key_id) {
		return;		/* a stale swap: a newer key has come since */
	}
	/* tell the server this end sends with it: the next rotation may reuse
	 * the receive slot the previous key still holds */
	client_send(c, json_pack("{s:s,s:I,s:i}", "type", "key_swap_ack", "peer",
			      (json_int_t)sw.peer, "key_id", sw.key_id));
}

void client_on_verdict(struct jz_client *c, json_t *m)
{
	struct jz_kconn kc = { 0 };
	struct jz_cm_verdict v;
	char err[128], proto[64];

	if (jz_cm_verdict(m, &v, err, sizeof(err))) {
		jz_warn("%s: ignored", err);
		return;
	}
	kc.cookie = v.cookie;
	kc.peer_id = v.peer;
	kc.direction = v.ingress ? JAZZ_DIRECTION_INGRESS : JAZZ_DIRECTION_EGRESS;
	kc.proto = jz_proto_number(v.proto[0] ? v.proto : "0");
	snprintf(kc.src, sizeof(kc.src), "%s", v.src);
	snprintf(kc.dst, sizeof(kc.dst), "%s", v.dst);
	kc.sport = v.sport;
	kc.dport = v.dport;
	/* on demand, an approval for a pair without a key waits for one */
	if (!client_demand_verdict(c, &kc, v.approve, v.lifetime) &&
	    c->k->ops->conn_verdict(c->k, &kc, v.approve, v.lifetime))
		jz_err("kernel: conn-verdict failed");
	jz_cm_escape(v.proto[0] ? v.proto : "?", proto, sizeof(proto));
	jz_info("verdict %s for %s %s:%u -> %s:%u", v.approve ? "approve" : "deny",
		proto, kc.src, kc.sport, kc.dst, kc.dport);
	if (v.has_vid)
		client_send(c, json_pack("{s:s,s:I}", "type", "verdict_ack", "vid", v.vid));
}
