// SPDX-License-Identifier: GPL-2.0
/*
 * The jazz server: TLS control connections, the login sequence
 * (accept_conn, Kerberos, validate_user rounds), leases, peer lists, pair
 * keys with rotation, and the approval bridge. One event loop; callbacks
 * run on the dispatcher's workers (callbacks.c).
 *
 * Session life: ACCEPTING (accept_conn pending) -> TLS (handshake) ->
 * LOGIN (waiting for the login message / callbacks) -> ONLINE -> gone.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdatomic.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <jazz.h>

#include "policy/callbacks.h"
#include "core/jazzd.h"
#include "auth/krb.h"
#include "core/leases.h"
#include "log.h"
#include "core/proto.h"

enum sstate { S_ACCEPTING, S_TLS, S_LOGIN, S_ONLINE, S_CLOSING };

struct session {
	struct jz_server *srv;
	struct session *next, *prev;
	uint64_t sid;
	enum sstate state;
	evutil_socket_t fd;
	struct bufferevent *bev;
	char ip[46];
	uint16_t port;
	struct event *deadline;
	struct jz_cb_call *pending;
	unsigned char binding[JZ_BINDING_LEN];

	/* login */
	char method[16];
	char user[JZ_KRB_NAME_MAX], realm[JZ_KRB_NAME_MAX];
	char device[64];
	unsigned char *token;
	size_t token_len;
	json_t *other_data;	/* array of {code, value} */
	unsigned int round;

	/* online */
	struct jz_lease *lease;
	char ep_ip[46];
	uint16_t ep_port;
	uint32_t *vis;		/* peer ids this viewer may see, sorted */
	size_t nvis;
	bool fresh;		/* online, not yet in a peer computation */
	bool listed;		/* has had its complete list */
	bool takes_delta;	/* login listed feature "peers_delta" */
	struct filter_res *res;	/* its peer_filter answer, until all are in */
	bool got_res;
	uint32_t *pchg;		/* ids whose entry changed: sent as a delta */
	size_t npchg, cappchg;
	/* this device as others' list entry, serialised once when it goes online */
	char *ent_linked, *ent_unlinked, *ent_user;
	size_t ent_linked_len, ent_unlinked_len, ent_user_len;
	unsigned int conn_inflight;	/* peer_connection calls for this session */
};

struct link {
	uint32_t a, b;		/* a < b */
	uint8_t key_id;
	bool ack_a, ack_b;	/* key_id is in a receive slot at that end */
	bool swap_a, swap_b;	/* ... and that end sends with it */
	double step_at;		/* when the rotation's last step happened */
	bool used;
	bool dead;		/* deleted: probing goes on past it */
};

struct vcache {
	char key[256];
	bool approve;
	uint32_t lifetime;
	double expires;
};

struct pending_verdict {
	struct pending_verdict *next;
	uint64_t vid;
	uint64_t origin_sid, dest_sid;
	json_t *to_origin;
	struct event *timer;
	struct jz_server *srv;
};

struct jz_server {
	struct jz_daemon *d;
	struct evconnlistener *lis;
	SSL_CTX *ssl;
	struct jz_krb_server *krb;
	struct jz_callbacks *work;	/* Kerberos checks, off the loop */
	atomic_int krb_busy;		/* Kerberos jobs running on workers */
	struct event *krb_reload_ev;	/* reload waits for krb_busy == 0 */
	struct jz_leases *leases;
	struct event *lease_ev;		/* debounced lease file writes */
	struct session *sessions;
	size_t n_sessions;
	uint64_t next_sid, next_vid;
	int plen4, plen6;

	/* peer computation */
	struct event *recompute_ev;
	bool computing, dirty;
	bool full;			/* next: every viewer reviews everyone */
	size_t filters_pending;
	uint64_t gen;
	uint32_t *left;			/* ids gone offline since the last one */
	size_t nleft, capleft;

	/* links: open addressing on (a,b) */
	struct link *links;
	size_t links_cap, links_n;
	struct event *rekey_ev;

	struct session **by_idx;	/* online sessions by lease index */
	size_t by_idx_cap;
	size_t links_dead;		/* tombstones in links[] */

	struct vcache *vc;
	size_t vc_n, vc_cap;

	/* random bytes for pair keys, fetched 64 keys at a time (one DRBG call) */
	unsigned char rpool[64 * 72];
	size_t rpos;
	struct pending_verdict *pv;
};

static void session_close(struct session *s, const char *why);

/* An event, its payload built only when it goes somewhere. */
#define EVENT(name, payload) \
	do { \
		if (jz_events_on()) \
			jz_event(name, payload); \
	} while (0)
static void schedule_recompute(struct jz_server *srv);
static void do_validate(struct session *s);

static struct jz_config *cfg(struct jz_server *srv)
{
	return &srv->d->cfg;
}

static struct session *find_sid(struct jz_server *srv, uint64_t sid)
{
	for (struct session *s = srv->sessions; s; s = s->next)
		if (s->sid == sid)
			return s;
	return NULL;
}

static struct session *find_online_idx(struct jz_server *srv, uint32_t idx)
{
	return idx < srv->by_idx_cap ? srv->by_idx[idx] : NULL;
}

static void set_online_idx(struct jz_server *srv, uint32_t idx, struct session *s)
{
	if (idx >= srv->by_idx_cap) {
		size_t cap = srv->by_idx_cap ? srv->by_idx_cap : 256;

		while (cap <= idx)
			cap *= 2;
		srv->by_idx = realloc(srv->by_idx, cap * sizeof(*srv->by_idx));
		memset(srv->by_idx + srv->by_idx_cap, 0,
		       (cap - srv->by_idx_cap) * sizeof(*srv->by_idx));
		srv->by_idx_cap = cap;
	}
	srv->by_idx[idx] = s;
}

static void send_msg(struct session *s, json_t *m)
{
	if (s->bev && s->state != S_CLOSING)
		jz_frame_send(s->bev, m);
	else
		json_decref(m);
}

static json_t *ep_json(const char *ip, uint16_t port)
{
	return json_pack("{s:s,s:i}", "ip", ip, "port", port);
}

/* ------------------------------------------------------------------ */
/* links (pairs of devices that see each other) */

static uint64_t link_hash(uint32_t a, uint32_t b)
{
	uint64_t x = (uint64_t)a << 32 | b;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static struct link *link_find(struct jz_server *srv, uint32_t a, uint32_t b, bool create);

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

static struct link *link_find(struct jz_server *srv, uint32_t a, uint32_t b, bool create)
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
	i = link_hash(a, b) & (srv->links_cap - 1);
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

static void link_del(struct jz_server *srv, struct link *l)
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
		jz_frame_send_raw(s->bev, buf, (size_t)n);
	OPENSSL_cleanse(buf, sizeof(buf));
	OPENSSL_cleanse(txk, sizeof(txk));
	OPENSSL_cleanse(rxk, sizeof(rxk));
}

/* A fresh key for the pair, to both ends; the swap follows both acks. */
static void link_send_key(struct jz_server *srv, struct link *l)
{
	unsigned char k[72];	/* a->b key+salt, b->a key+salt */
	struct session *sa = find_online_idx(srv, l->a);
	struct session *sb = find_online_idx(srv, l->b);

	if (!sa || !sb)
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
	l->key_id++;
	l->ack_a = l->ack_b = false;
	l->swap_a = l->swap_b = false;
	l->step_at = jz_now();
	send_key(srv, sa, l->b, l->key_id, k, k + 36);
	send_key(srv, sb, l->a, l->key_id, k + 36, k);
	OPENSSL_cleanse(k, sizeof(k));
}

static void on_key_ack(struct session *s, json_t *m)
{
	struct jz_server *srv = s->srv;
	uint32_t peer = (uint32_t)jz_msg_int(m, "peer", 0);
	int key_id = (int)jz_msg_int(m, "key_id", -1);
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
static void on_key_swap_ack(struct session *s, json_t *m)
{
	uint32_t peer = (uint32_t)jz_msg_int(m, "peer", 0);
	int key_id = (int)jz_msg_int(m, "key_id", -1);
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

static void on_rekey(evutil_socket_t fd, short what, void *arg)
{
	struct jz_server *srv = arg;
	double now = jz_now();
	size_t held = 0;

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
/*
 * Peer lists, kept current incrementally. A computation runs at most
 * every peer_debounce_ms and handles what changed since the last one:
 *
 * - devices that left are dropped from every list (no callback needed:
 *   a list only shrinks by what peer_filter hides);
 * - a device that came online is its own viewer for the first time:
 *   peer_filter gets every other online device (a full review), and the
 *   device gets its complete list ("peers");
 * - every other viewer's peer_filter is asked about the newcomers only
 *   (users = their owners); kept ones are added, and a user it hides
 *   loses all their devices in that list, as in a full review;
 * - a reload (SIGHUP) asks every viewer about everyone again.
 *
 * Viewers already listed get only what changed ("peers_delta": entries
 * added or whose linked/endpoint changed, ids removed). Pairs that now
 * see each other get a fresh key; pairs that no longer do lose theirs.
 */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* s->vis is sorted: a binary search */
static bool vis_has(struct session *s, uint32_t idx)
{
	return s->nvis && bsearch(&idx, s->vis, s->nvis, sizeof(uint32_t), cmp_u32);
}

static void u32_push(uint32_t **v, size_t *n, size_t *cap, uint32_t x)
{
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 16;
		*v = realloc(*v, *cap * sizeof(**v));
	}
	(*v)[(*n)++] = x;
}

/* The viewer's entry for this id changed: (re)send it or its removal. */
static void mark_changed(struct session *s, uint32_t idx)
{
	u32_push(&s->pchg, &s->npchg, &s->cappchg, idx);
}

static void ukey(const struct session *p, char *buf, size_t len)
{
	snprintf(buf, len, "%s@%s", p->user, p->realm);
}

/*
 * Peer entries are serialised once per device (make_entries) and lists
 * are put together from them: a device's entry is the same in every list
 * but for "linked" (and the endpoint shown only when linked).
 */
static char *dump_compact(json_t *o, size_t *len)
{
	char *str = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

	json_decref(o);
	*len = str ? strlen(str) : 0;
	return str;
}

static int make_entries(struct session *p)
{
	size_t blen, elen;
	char *base = dump_compact(json_pack("{s:i,s:s,s:s,s:s,s:s,s:s}", "id",
					    p->lease->idx, "device", p->device,
					    "user", p->user, "realm", p->realm,
					    "vip4", p->lease->vip4, "vip6", p->lease->vip6),
				  &blen);
	char *ep = dump_compact(ep_json(p->ep_ip, p->ep_port), &elen);
	int rc = -1;

	p->ent_user = dump_compact(json_pack("{s:s,s:s}", "user", p->user, "realm",
					     p->realm), &p->ent_user_len);
	if (!base || !ep || !p->ent_user || blen < 2)
		goto out;
	/* base is {...}: the entries are base without its '}' and more keys */
	if (asprintf(&p->ent_linked, "%.*s,\"linked\":true,\"endpoint\":%s}",
		     (int)blen - 1, base, ep) < 0 ||
	    asprintf(&p->ent_unlinked, "%.*s,\"linked\":false}", (int)blen - 1, base) < 0)
		goto out;
	p->ent_linked_len = strlen(p->ent_linked);
	p->ent_unlinked_len = strlen(p->ent_unlinked);
	rc = 0;
out:
	free(base);
	free(ep);
	return rc;
}

/* A growing message buffer; its first 4 bytes are left for the frame length. */
struct mbuf {
	unsigned char *p;
	size_t n, cap;
};

static void mb_add(struct mbuf *b, const void *data, size_t len)
{
	if (b->n + len > b->cap) {
		b->cap = b->cap ? b->cap : 4096;
		while (b->n + len > b->cap)
			b->cap *= 2;
		b->p = realloc(b->p, b->cap);
	}
	memcpy(b->p + b->n, data, len);
	b->n += len;
}

static void mb_str(struct mbuf *b, const char *str)
{
	mb_add(b, str, strlen(str));
}

static void mb_entry(struct mbuf *b, struct session *p, bool linked, bool comma)
{
	if (comma)
		mb_add(b, ",", 1);
	if (linked)
		mb_add(b, p->ent_linked, p->ent_linked_len);
	else
		mb_add(b, p->ent_unlinked, p->ent_unlinked_len);
}

static void mb_send(struct session *s, struct mbuf *b)
{
	char tail[32];

	snprintf(tail, sizeof(tail), ",\"v\":%d}", JZ_PROTO_VERSION);
	mb_str(b, tail);
	if (s->bev && s->state != S_CLOSING)
		jz_frame_send_raw(s->bev, b->p, b->n - 4);
	free(b->p);
}

static void list_event(struct jz_server *srv, struct session *s)
{
	json_t *ev;

	if (!jz_events_on())
		return;
	ev = json_array();
	for (size_t i = 0; i < s->nvis; i++) {
		struct session *p = find_online_idx(srv, s->vis[i]);

		if (p)
			json_array_append_new(ev, json_string(p->device));
	}
	jz_event("peer-list-changed", json_pack("{s:s,s:s,s:s,s:o}", "user", s->user,
						"realm", s->realm, "device", s->device,
						"peers", ev));
}

/* The complete list: the first one a viewer gets. */
static void send_full_list(struct jz_server *srv, struct session *s)
{
	struct mbuf b = { 0 };
	json_t *seen = json_object();
	bool first = true;

	mb_add(&b, "\0\0\0\0", 4);
	mb_str(&b, "{\"type\":\"peers\",\"peers\":[");
	for (size_t i = 0; i < s->nvis; i++) {
		struct session *p = find_online_idx(srv, s->vis[i]);

		if (!p)
			continue;
		mb_entry(&b, p, vis_has(p, s->lease->idx), !first);
		first = false;
	}
	mb_str(&b, "],\"users\":[");
	first = true;
	for (size_t i = 0; i < s->nvis; i++) {
		struct session *p = find_online_idx(srv, s->vis[i]);
		char uk[600];

		if (!p)
			continue;
		ukey(p, uk, sizeof(uk));
		if (json_object_get(seen, uk))
			continue;
		json_object_set_new(seen, uk, json_true());
		if (!first)
			mb_add(&b, ",", 1);
		mb_add(&b, p->ent_user, p->ent_user_len);
		first = false;
	}
	json_decref(seen);
	mb_str(&b, "]");
	mb_send(s, &b);
	list_event(srv, s);
}

/* What changed in a listed viewer's list. */
static void send_delta(struct jz_server *srv, struct session *s)
{
	struct mbuf b = { 0 };
	bool first = true;
	size_t i;

	qsort(s->pchg, s->npchg, sizeof(uint32_t), cmp_u32);
	mb_add(&b, "\0\0\0\0", 4);
	mb_str(&b, "{\"type\":\"peers_delta\",\"set\":[");
	for (i = 0; i < s->npchg; i++) {
		uint32_t id = s->pchg[i];
		struct session *p;

		if (i && id == s->pchg[i - 1])
			continue;
		p = vis_has(s, id) ? find_online_idx(srv, id) : NULL;
		if (p) {
			mb_entry(&b, p, vis_has(p, s->lease->idx), !first);
			first = false;
		}
	}
	mb_str(&b, "],\"del\":[");
	first = true;
	for (i = 0; i < s->npchg; i++) {
		uint32_t id = s->pchg[i];
		char num[16];

		if ((i && id == s->pchg[i - 1]) || (vis_has(s, id) && find_online_idx(srv, id)))
			continue;
		snprintf(num, sizeof(num), "%s%u", first ? "" : ",", id);
		mb_str(&b, num);
		first = false;
	}
	mb_str(&b, "]");
	s->npchg = 0;
	mb_send(s, &b);
	list_event(srv, s);
}

/* A pair may get a key: both must see each other and have no key yet. */
static void link_maybe(struct jz_server *srv, uint32_t a, uint32_t b)
{
	struct session *sa = find_online_idx(srv, a), *sb = find_online_idx(srv, b);

	if (!sa || !sb || !vis_has(sa, b) || !vis_has(sb, a))
		return;
	if (link_find(srv, a, b, false))
		return;
	link_send_key(srv, link_find(srv, a, b, true));
}

static void link_drop(struct jz_server *srv, uint32_t a, uint32_t b)
{
	struct link *l = link_find(srv, a, b, false);

	if (l)
		link_del(srv, l);
}

/* What one peer_filter call decided, kept until every call is back. */
struct filter_res {
	bool full;
	uint32_t *keep;		/* ids kept, sorted */
	size_t nkeep;
	char (*hidden)[600];	/* users hidden ("user@realm") */
	size_t nhidden;
};

static void filter_res_free(struct filter_res *r)
{
	if (!r)
		return;
	free(r->keep);
	free(r->hidden);
	free(r);
}

static bool hidden_user(struct filter_res *r, struct session *p)
{
	char uk[600];

	ukey(p, uk, sizeof(uk));
	for (size_t i = 0; i < r->nhidden; i++)
		if (!strcmp(r->hidden[i], uk))
			return true;
	return false;
}

/* The viewer's new list from its result; records what changed. */
static void apply_result(struct jz_server *srv, struct session *s, uint32_t **newlinks,
			 size_t *nnew, size_t *capnew)
{
	struct filter_res *r = s->res;
	uint32_t *old = s->vis, *nv;
	size_t nold = s->nvis, nb = 0, n = 0, i, j;
	uint32_t *base = calloc(nold + 1, sizeof(uint32_t));
	uint32_t me = s->lease->idx;

	/* what stays of the old list */
	for (i = 0; i < nold && !r->full; i++) {
		struct session *p = find_online_idx(srv, old[i]);

		if (p && (!r->nhidden || !hidden_user(r, p)))
			base[nb++] = old[i];
	}
	/* union with what the filter kept (both sorted) */
	nv = calloc(nb + r->nkeep + 1, sizeof(uint32_t));
	for (i = 0, j = 0; i < nb || j < r->nkeep;) {
		if (j == r->nkeep || (i < nb && base[i] < r->keep[j]))
			nv[n++] = base[i++];
		else if (i == nb || r->keep[j] < base[i])
			nv[n++] = r->keep[j++];
		else {
			nv[n++] = base[i++];
			j++;
		}
	}
	free(base);
	s->vis = nv;
	s->nvis = n;
	/* the differences: old vs new (both sorted) */
	for (i = 0, j = 0; i < nold || j < n;) {
		uint32_t id;
		bool added;
		struct session *p;

		if (j == n || (i < nold && old[i] < nv[j])) {
			id = old[i++];
			added = false;
		} else if (i == nold || nv[j] < old[i]) {
			id = nv[j++];
			added = true;
		} else {
			i++;
			j++;
			continue;
		}
		mark_changed(s, id);
		p = find_online_idx(srv, id);
		/* the other side's entry for this viewer changes "linked" */
		if (p && vis_has(p, me))
			mark_changed(p, me);
		if (added)
			u32_push(newlinks, nnew, capnew, id), u32_push(newlinks, nnew, capnew, me);
		else
			link_drop(srv, me, id);
	}
	free(old);
	filter_res_free(s->res);
	s->res = NULL;
	s->got_res = true;
}

/* Every call is back: new lists, messages, then keys. */
static void peers_finish(struct jz_server *srv)
{
	struct session *s;
	uint32_t *nl = NULL;
	size_t nnl = 0, capnl = 0;

	for (s = srv->sessions; s; s = s->next)
		if (s->state == S_ONLINE && s->res)
			apply_result(srv, s, &nl, &nnl, &capnl);
	for (s = srv->sessions; s; s = s->next) {
		if (s->state != S_ONLINE)
			continue;
		if (!s->listed && s->got_res) {
			s->listed = true;
			s->npchg = 0;
			send_full_list(srv, s);
		} else if (s->listed && s->npchg && s->takes_delta) {
			send_delta(srv, s);
		} else if (s->listed && s->npchg) {
			s->npchg = 0;	/* a client without peers_delta */
			send_full_list(srv, s);
		}
		s->got_res = false;
	}
	for (size_t i = 0; i + 1 < nnl; i += 2)
		link_maybe(srv, nl[i], nl[i + 1]);
	free(nl);
	srv->computing = false;
	if (srv->dirty)
		schedule_recompute(srv);
}

struct filter_ctx {
	struct jz_server *srv;
	uint64_t sid;
	bool full;
	uint32_t *ids;		/* peer ids in the order given */
	uint64_t *sids;		/* ... and the sessions they were */
	size_t n;
	char (*ukeys)[600];	/* users in order, "user@realm" */
	size_t nu;
};

static void filter_ctx_free(struct filter_ctx *fc)
{
	free(fc->ids);
	free(fc->sids);
	free(fc->ukeys);
	free(fc);
}

static void filter_done(void *arg, struct jz_cb_call *c)
{
	struct filter_ctx *fc = arg;
	struct jz_server *srv = fc->srv;
	struct session *s = find_sid(srv, fc->sid);

	if (s && s->state == S_ONLINE) {
		struct filter_res *r = calloc(1, sizeof(*r));

		r->full = fc->full;
		r->keep = calloc(fc->n + 1, sizeof(uint32_t));
		r->hidden = calloc(fc->nu + 1, sizeof(*r->hidden));
		for (size_t j = 0; j < fc->nu; j++)
			if (!c->u.filter.keep_users[j])
				memcpy(r->hidden[r->nhidden++], fc->ukeys[j], sizeof(*r->hidden));
		for (size_t i = 0; i < fc->n; i++) {
			const struct jazz_peer_entry *pe = &c->u.filter.peers[i];
			struct session *p = find_online_idx(srv, fc->ids[i]);

			/* kept, its user not hidden, and still the same session */
			if (!c->u.filter.keep_peers[i] || !p || p->sid != fc->sids[i])
				continue;
			if (r->nhidden) {
				char uk[600];
				bool hid = false;

				snprintf(uk, sizeof(uk), "%s@%s", pe->username, pe->realm);
				for (size_t j = 0; j < r->nhidden && !hid; j++)
					hid = !strcmp(r->hidden[j], uk);
				if (hid)
					continue;
			}
			r->keep[r->nkeep++] = fc->ids[i];
		}
		qsort(r->keep, r->nkeep, sizeof(uint32_t), cmp_u32);
		filter_res_free(s->res);
		s->res = r;
		if (c->failed)
			jz_warn("peer_filter for %s@%s failed: hiding every peer%s",
				s->user, s->realm, fc->full ? "" : " it was asked about");
	}
	filter_ctx_free(fc);
	if (--srv->filters_pending == 0)
		peers_finish(srv);
}

static const char *arena_put(char **ap, const char *str)
{
	char *d = *ap;

	*ap = stpcpy(d, str) + 1;
	return d;
}

/* One peer_filter call: viewer s about the sessions in ps[0..n). */
static void filter_submit(struct jz_server *srv, struct session *s, struct session **ps,
			  size_t n, bool full)
{
	struct jz_cb_call *c = jz_cb_call_new(JZ_CB_PEER_FILTER);
	struct filter_ctx *fc = calloc(1, sizeof(*fc));
	struct jazz_peer_entry *pe = jz_cb_alloc(c, (n + 1) * sizeof(*pe));
	struct jazz_user_entry *ue = jz_cb_alloc(c, (n + 1) * sizeof(*ue));
	json_t *useen = json_object();
	size_t k = 0, nu = 0, total = 0;
	char *ap;

	/* the entries' strings in one block: one allocation, not five per peer */
	for (size_t i = 0; i < n; i++)
		total += strlen(ps[i]->device) + strlen(ps[i]->user) + strlen(ps[i]->realm) +
			 strlen(ps[i]->lease->vip4) + strlen(ps[i]->lease->vip6) + 5;
	ap = jz_cb_alloc(c, total + 1);
	fc->srv = srv;
	fc->sid = s->sid;
	fc->full = full;
	fc->ids = calloc(n + 1, sizeof(uint32_t));
	fc->sids = calloc(n + 1, sizeof(uint64_t));
	/*
	 * n rows of 600 bytes, of which only the first nu (distinct users,
	 * often one) are written: malloc, not calloc, so the untouched rows
	 * are never zeroed or faulted in (with 200 devices online this was
	 * a fresh 120 KB mmap, zeroed page by page, for every new device).
	 */
	fc->ukeys = malloc((n + 1) * sizeof(*fc->ukeys));
	for (size_t i = 0; i < n; i++) {
		struct session *p = ps[i];
		char uk[600];

		if (p == s)
			continue;
		pe[k].device = arena_put(&ap, p->device);
		pe[k].username = arena_put(&ap, p->user);
		pe[k].realm = arena_put(&ap, p->realm);
		pe[k].vip4 = arena_put(&ap, p->lease->vip4);
		pe[k].vip6 = arena_put(&ap, p->lease->vip6);
		fc->ids[k] = p->lease->idx;
		fc->sids[k] = p->sid;
		ukey(p, uk, sizeof(uk));
		if (!json_object_get(useen, uk)) {
			json_object_set_new(useen, uk, json_true());
			memcpy(fc->ukeys[nu], uk, sizeof(uk));
			ue[nu].username = pe[k].username;
			ue[nu].realm = pe[k].realm;
			nu++;
		}
		k++;
	}
	json_decref(useen);
	fc->n = k;
	fc->nu = nu;
	c->u.filter.review.username = jz_cb_strdup(c, s->user);
	c->u.filter.review.realm = jz_cb_strdup(c, s->realm);
	snprintf(c->u.filter.review.source.ip, JAZZ_ADDR_MAX, "%s", s->ip);
	c->u.filter.review.source.port = s->port;
	c->u.filter.review.users = ue;
	c->u.filter.review.n_users = nu;
	c->u.filter.review.peers = pe;
	c->u.filter.review.n_peers = k;
	c->u.filter.users = ue;
	c->u.filter.peers = pe;
	c->u.filter.keep_users = jz_cb_alloc(c, nu + 1);
	c->u.filter.keep_peers = jz_cb_alloc(c, k + 1);
	srv->filters_pending++;
	jz_cb_submit(srv->d->cb, c, filter_done, fc);
}

/* Devices that went away: out of every list, their keys dropped. */
static void peers_drop_left(struct jz_server *srv)
{
	uint32_t *left = srv->left;
	size_t nleft = srv->nleft;

	if (!nleft)
		return;
	qsort(left, nleft, sizeof(uint32_t), cmp_u32);
	for (struct session *s = srv->sessions; s; s = s->next) {
		size_t n = 0;

		if (s->state != S_ONLINE || !s->nvis)
			continue;
		for (size_t i = 0; i < s->nvis; i++) {
			uint32_t id = s->vis[i];

			if (bsearch(&id, left, nleft, sizeof(uint32_t), cmp_u32)) {
				mark_changed(s, id);
				link_drop(srv, s->lease->idx, id);
			} else {
				s->vis[n++] = id;
			}
		}
		s->nvis = n;
	}
	srv->nleft = 0;
}

static void on_recompute(evutil_socket_t fd, short what, void *arg)
{
	struct jz_server *srv = arg;
	struct session *s, **all, **fresh;
	size_t nall = 0, nfresh = 0;
	bool full = srv->full;

	if (srv->computing) {
		srv->dirty = true;
		return;
	}
	srv->dirty = false;
	srv->full = false;
	srv->computing = true;
	srv->gen++;
	peers_drop_left(srv);
	for (s = srv->sessions; s; s = s->next)
		nall += s->state == S_ONLINE;
	all = calloc(nall + 1, sizeof(*all));
	fresh = calloc(nall + 1, sizeof(*fresh));
	nall = 0;
	for (s = srv->sessions; s; s = s->next) {
		if (s->state != S_ONLINE)
			continue;
		all[nall++] = s;
		if (s->fresh)
			fresh[nfresh++] = s;
	}
	jz_debug("peers: %zu online, %zu new, %s review", nall, nfresh,
		 full ? "full" : "incremental");
	srv->filters_pending = 1;	/* held until every call is submitted */
	for (size_t i = 0; i < nall; i++) {
		s = all[i];
		if (full || s->fresh)
			filter_submit(srv, s, all, nall, true);
		else if (nfresh)
			filter_submit(srv, s, fresh, nfresh, false);
	}
	for (size_t i = 0; i < nfresh; i++)
		fresh[i]->fresh = false;
	free(all);
	free(fresh);
	if (--srv->filters_pending == 0)
		peers_finish(srv);
}

static void schedule_recompute(struct jz_server *srv)
{
	struct timeval tv = { 0, cfg(srv)->peer_debounce_ms * 1000 };

	if (srv->computing) {
		srv->dirty = true;
		return;
	}
	if (!evtimer_pending(srv->recompute_ev, NULL))
		evtimer_add(srv->recompute_ev, &tv);
}

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

static void on_verdict_ack(struct session *s, json_t *m)
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
	}
	json_decref(cc->req);
	free(cc);
}

static void on_conn_request(struct session *s, json_t *m)
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

static void on_conn_expired(struct session *s, json_t *m)
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

/* ------------------------------------------------------------------ */
/* login */

static void login_failed(struct session *s, const char *reason, const char *message)
{

	jz_info("login from %s:%u (%s@%s, %s) failed: %s%s%s", s->ip, s->port,
		s->user[0] ? s->user : "?", s->realm[0] ? s->realm : "?",
		s->method[0] ? s->method : "?", reason, message ? ": " : "",
		message ? message : "");
	EVENT("user-login-failed", json_pack("{s:s,s:s,s:s,s:s,s:s,s:i}", "user", s->user,
					     "realm", s->realm, "method", s->method,
					     "reason", reason, "source_ip", s->ip,
					     "source_port", s->port));
	send_msg(s, json_pack("{s:s,s:s,s:s}", "type", "reject", "reason", reason,
			      "message", message ? message : ""));
	session_close(s, NULL);
}

static void go_online(struct session *s)
{
	struct jz_server *srv = s->srv;
	char key[600];
	struct session *old;

	snprintf(key, sizeof(key), "%s@%s/%s", s->user, s->realm, s->device);
	s->lease = jz_leases_get(srv->leases, key);
	if (!s->lease) {
		login_failed(s, "pool-full", "no free virtual address");
		return;
	}
	if (!s->ep_ip[0])
		snprintf(s->ep_ip, sizeof(s->ep_ip), "%s", s->ip);
	if (make_entries(s)) {
		login_failed(s, "internal", "names that cannot be sent (not UTF-8?)");
		return;
	}
	/* the same device again: the new session replaces the old one */
	while ((old = find_online_idx(srv, s->lease->idx))) {
		jz_info("device %s: replaced by a new session", key);
		send_msg(old, json_pack("{s:s,s:s}", "type", "bye", "reason", "replaced"));
		session_close(old, "replaced");
	}
	s->state = S_ONLINE;
	s->fresh = true;
	set_online_idx(srv, s->lease->idx, s);
	if (!evtimer_pending(srv->lease_ev, NULL)) {
		struct timeval ltv = { 1, 0 };

		evtimer_add(srv->lease_ev, &ltv);
	}
	if (s->deadline)
		evtimer_del(s->deadline);
	bufferevent_set_timeouts(s->bev, &(struct timeval){ cfg(srv)->dead_s, 0 }, NULL);
	send_msg(s, json_pack("{s:s,s:s,s:s,s:s,s:i,s:s,s:i,s:s,s:i,s:i,s:s,s:o}",
			      "type", "welcome", "user", s->user, "realm", s->realm,
			      "device", s->device, "id", s->lease->idx,
			      "vip4", s->lease->vip4, "prefix4", srv->plen4,
			      "vip6", s->lease->vip6, "prefix6", srv->plen6,
			      "keepalive", cfg(srv)->keepalive_s, "cipher", cfg(srv)->cipher,
			      "endpoint", ep_json(s->ep_ip, s->ep_port)));
	jz_info("login: %s@%s device %s from %s:%u (%s) -> %s %s", s->user, s->realm,
		s->device, s->ip, s->port, s->method, s->lease->vip4, s->lease->vip6);
	EVENT("user-logged-in", json_pack("{s:s,s:s,s:s,s:s,s:s,s:i}", "user", s->user,
					     "realm", s->realm, "device", s->device,
					     "method", s->method, "source_ip", s->ip,
					     "source_port", s->port));
	EVENT("device-connected", json_pack("{s:s,s:s,s:s,s:i,s:s,s:s,s:s,s:i}",
					       "user", s->user, "realm", s->realm,
					       "device", s->device, "id", s->lease->idx,
					       "vip4", s->lease->vip4, "vip6", s->lease->vip6,
					       "endpoint_ip", s->ep_ip,
					       "endpoint_port", s->ep_port));
	schedule_recompute(srv);
}

static void validate_done(void *arg, struct jz_cb_call *c)
{
	struct session *s = arg;
	struct jazz_validate_reply *r = &c->u.validate.reply;

	s->pending = NULL;
	if (r->status == JAZZ_VALIDATE_USER_STATUS_ACCEPTED) {
		go_online(s);
	} else if (r->status == JAZZ_VALIDATE_USER_STATUS_MORE_DATA) {
		json_t *prompts = json_array();

		if (s->round + 1 >= (unsigned)cfg(s->srv)->max_rounds) {
			login_failed(s, "too-many-rounds", "too many validation rounds");
			return;
		}
		for (size_t i = 0; i < r->n_prompts; i++)
			json_array_append_new(prompts, json_pack("{s:s,s:s,s:b}",
				"code", r->prompts[i].code, "text", r->prompts[i].text,
				"secret", r->prompts[i].secret));
		send_msg(s, json_pack("{s:s,s:i,s:o,s:s}", "type", "challenge",
				      "round", s->round, "prompts", prompts,
				      "message", r->message));
	} else {
		login_failed(s, c->failed ? "validation-failed" : "rejected",
			     r->message[0] ? r->message : NULL);
	}
}

static void do_validate(struct session *s)
{
	struct jz_cb_call *c = jz_cb_call_new(JZ_CB_VALIDATE_USER);
	size_t n = json_array_size(s->other_data);
	struct jazz_data_item *items = jz_cb_alloc(c, (n + 1) * sizeof(*items));

	for (size_t i = 0; i < n; i++) {
		json_t *it = json_array_get(s->other_data, i);

		items[i].code = jz_cb_strdup(c, jz_msg_str(it, "code"));
		items[i].value = jz_cb_strdup(c, jz_msg_str(it, "value"));
	}
	c->u.validate.req.username = jz_cb_strdup(c, s->user);
	c->u.validate.req.realm = jz_cb_strdup(c, s->realm);
	c->u.validate.req.device = jz_cb_strdup(c, s->device);
	snprintf(c->u.validate.req.source.ip, JAZZ_ADDR_MAX, "%s", s->ip);
	c->u.validate.req.source.port = s->port;
	c->u.validate.req.method = jz_cb_strdup(c, s->method);
	c->u.validate.req.other_data = items;
	c->u.validate.req.n_other_data = n;
	c->u.validate.req.round = s->round;
	c->u.validate.items = items;
	s->pending = c;
	jz_cb_submit(s->srv->d->cb, c, validate_done, s);
}

/* Merge {code,value} items into other_data (a later answer replaces). */
static int merge_data(struct session *s, json_t *items)
{
	size_t i;
	json_t *it;

	if (!items)
		return 0;
	if (!json_is_array(items) || json_array_size(items) > 32)
		return -1;
	json_array_foreach(items, i, it) {
		const char *code = jz_msg_str(it, "code"), *val = jz_msg_str(it, "value");
		bool found = false;

		if (!code || !val)
			return -1;
		for (size_t j = 0; j < json_array_size(s->other_data) && !found; j++) {
			json_t *o = json_array_get(s->other_data, j);

			if (!strcmp(jz_msg_str(o, "code"), code)) {
				json_object_set_new(o, "value", json_string(val));
				found = true;
			}
		}
		if (!found)
			json_array_append_new(s->other_data,
					      json_pack("{s:s,s:s}", "code", code, "value", val));
	}
	return 0;
}

static void authenticated(struct session *s, struct jz_krb_buf *proof,
			  const struct jz_krb_identity *id)
{
	char *b64 = jz_b64_encode(proof->data, proof->len);

	snprintf(s->user, sizeof(s->user), "%s", id->user);
	snprintf(s->realm, sizeof(s->realm), "%s", id->realm);
	send_msg(s, json_pack("{s:s,s:s,s:s,s:s}", "type", "auth", "user", s->user,
			      "realm", s->realm, "proof", b64));
	free(b64);
	jz_krb_buf_free(proof);
	s->round = 0;
	do_validate(s);
}

/* A Kerberos check on a worker thread (krb.c's server is thread-safe). */
struct krb_job {
	struct jz_krb_server *krb;
	atomic_int *busy;
	bool password;
	unsigned char *token;
	size_t token_len;
	unsigned char binding[JZ_BINDING_LEN];
	bool bind;
	struct jazz_user_key_reply secret;
	int rc;
	struct jz_krb_identity id;
	struct jz_krb_buf proof;
	char err[256];
};

static void krb_job_run(void *arg)
{
	struct krb_job *j = arg;

	if (j->password) {
		struct jz_krb_secret sec = { 0 };

		if (j->secret.kind == JAZZ_USER_KEY_PASSWORD)
			sec.password = j->secret.password;
		else {
			sec.key = j->secret.key;
			sec.key_len = j->secret.key_len;
		}
		j->rc = jz_krb_pw_verify(j->krb, j->token, j->token_len, &sec,
					 j->bind ? j->binding : NULL,
					 j->bind ? sizeof(j->binding) : 0,
					 &j->id, &j->proof, j->err, sizeof(j->err));
		OPENSSL_cleanse(&j->secret, sizeof(j->secret));
	} else {
		j->rc = jz_krb_ap_verify(j->krb, j->token, j->token_len,
					 j->bind ? j->binding : NULL,
					 j->bind ? sizeof(j->binding) : 0,
					 &j->id, &j->proof, j->err, sizeof(j->err));
	}
	atomic_fetch_sub(j->busy, 1);
}

static void krb_job_done(void *arg, struct jz_cb_call *c)
{
	struct session *s = arg;
	struct krb_job *j = c->u.work.arg;

	s->pending = NULL;
	if (j->rc)
		login_failed(s, jz_krb_status_name(j->rc), j->err);
	else
		authenticated(s, &j->proof, &j->id);
}

static void krb_submit(struct session *s, bool password,
		       const struct jazz_user_key_reply *secret)
{
	struct jz_cb_call *c = jz_cb_call_new(JZ_CB_WORK);
	struct krb_job *j = jz_cb_alloc(c, sizeof(*j));

	j->krb = s->srv->krb;
	j->busy = &s->srv->krb_busy;
	atomic_fetch_add(j->busy, 1);
	j->password = password;
	j->token = jz_cb_alloc(c, s->token_len);
	memcpy(j->token, s->token, s->token_len);
	j->token_len = s->token_len;
	memcpy(j->binding, s->binding, sizeof(j->binding));
	j->bind = cfg(s->srv)->channel_binding;
	if (secret)
		j->secret = *secret;
	c->u.work.fn = krb_job_run;
	c->u.work.arg = j;
	s->pending = c;
	jz_cb_submit(s->srv->work, c, krb_job_done, s);
}

static void user_key_done(void *arg, struct jz_cb_call *c)
{
	struct session *s = arg;
	struct jazz_user_key_reply *r = &c->u.user_key.reply;

	s->pending = NULL;
	if (r->kind != JAZZ_USER_KEY_PASSWORD && r->kind != JAZZ_USER_KEY_RAW) {
		login_failed(s, c->defaulted ? "password-login-disabled" : "unknown-user",
			     NULL);
		return;
	}
	krb_submit(s, true, r);
	OPENSSL_cleanse(r, sizeof(*r));
}

/* Whether the login's "features" array names @name. */
static bool has_feature(json_t *login, const char *name)
{
	json_t *f;
	size_t i;

	json_array_foreach(json_object_get(login, "features"), i, f)
		if (json_is_string(f) && !strcmp(json_string_value(f), name))
			return true;
	return false;
}

static void on_login(struct session *s, json_t *m)
{
	const char *method = jz_msg_str(m, "method"), *dev = jz_msg_str(m, "device");
	const char *tok = jz_msg_str(m, "token");
	const char *ep = jz_msg_str(m, "endpoint_ip");
	char err[256];
	int rc;

	if (s->user[0] || s->pending || s->token) {
		login_failed(s, "protocol", "second login message");
		return;
	}
	if (!method || !dev || !tok || !*dev || strlen(dev) > 63 ||
	    strpbrk(dev, "/@ \t\n") ||
	    (strcmp(method, "kerberos") && strcmp(method, "password"))) {
		login_failed(s, "protocol", "bad login message");
		return;
	}
	snprintf(s->method, sizeof(s->method), "%s", method);
	snprintf(s->device, sizeof(s->device), "%s", dev);
	s->ep_port = (uint16_t)jz_msg_int(m, "listen_port", 0);
	s->takes_delta = has_feature(m, "peers_delta");
	if (ep && strlen(ep) < sizeof(s->ep_ip))
		snprintf(s->ep_ip, sizeof(s->ep_ip), "%s", ep);
	s->token = jz_b64_decode(tok, &s->token_len);
	if (!s->token || merge_data(s, json_object_get(m, "other_data"))) {
		login_failed(s, "protocol", "bad token or other_data");
		return;
	}
	if (!strcmp(method, "kerberos")) {
		krb_submit(s, false, NULL);
	} else {
		struct jz_krb_pw_hello h;
		struct jz_cb_call *c;

		rc = jz_krb_pw_peek(s->token, s->token_len, &h, err, sizeof(err));
		if (rc) {
			login_failed(s, jz_krb_status_name(rc), err);
			return;
		}
		snprintf(s->user, sizeof(s->user), "%s", h.user);
		snprintf(s->realm, sizeof(s->realm), "%s", h.realm);
		c = jz_cb_call_new(JZ_CB_USER_KEY);
		c->u.user_key.req.username = jz_cb_strdup(c, h.user);
		c->u.user_key.req.realm = jz_cb_strdup(c, h.realm);
		snprintf(c->u.user_key.req.source.ip, JAZZ_ADDR_MAX, "%s", s->ip);
		c->u.user_key.req.source.port = s->port;
		c->u.user_key.req.enctype = jz_cb_strdup(c, h.enctype_name);
		s->pending = c;
		jz_cb_submit(s->srv->d->cb, c, user_key_done, s);
	}
}

static void on_answer(struct session *s, json_t *m)
{
	if (s->pending || !s->user[0] || !s->token) {
		login_failed(s, "protocol", "unexpected answer");
		return;
	}
	if (merge_data(s, json_object_get(m, "other_data"))) {
		login_failed(s, "protocol", "bad other_data");
		return;
	}
	s->round++;
	do_validate(s);
}

/* ------------------------------------------------------------------ */
/* session plumbing */

static void on_message(struct session *s, json_t *m)
{
	const char *t = jz_msg_type(m);

	if (!strcmp(t, "ping")) {
		send_msg(s, json_pack("{s:s}", "type", "pong"));
		return;
	}
	if (!strcmp(t, "pong"))
		return;
	if (s->state == S_LOGIN) {
		if (!strcmp(t, "login"))
			on_login(s, m);
		else if (!strcmp(t, "answer"))
			on_answer(s, m);
		else
			login_failed(s, "protocol", "unexpected message before login");
		return;
	}
	if (!strcmp(t, "key_ack"))
		on_key_ack(s, m);
	else if (!strcmp(t, "key_swap_ack"))
		on_key_swap_ack(s, m);
	else if (!strcmp(t, "conn_request"))
		on_conn_request(s, m);
	else if (!strcmp(t, "verdict_ack"))
		on_verdict_ack(s, m);
	else if (!strcmp(t, "conn_expired"))
		on_conn_expired(s, m);
	else if (!strcmp(t, "bye"))
		session_close(s, "client said bye");
	else
		jz_debug("session %s: ignoring message %s", s->device, t);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	char err[256];
	json_t *m;
	int r;

	while (s->state != S_CLOSING &&
	       (r = jz_frame_read(bev, cfg(s->srv)->max_frame, &m, err, sizeof(err))) != 0) {
		if (r < 0) {
			jz_warn("session %s:%u: %s; closing", s->ip, s->port, err);
			if (s->state == S_LOGIN)
				login_failed(s, "protocol", err);
			else {
				send_msg(s, json_pack("{s:s,s:s}", "type", "error",
						      "message", err));
				session_close(s, NULL);
			}
			return;
		}
		on_message(s, m);
		json_decref(m);
	}
}

static void session_free(struct session *s)
{
	struct jz_server *srv = s->srv;

	if (s->prev)
		s->prev->next = s->next;
	else
		srv->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	srv->n_sessions--;
	jz_cb_cancel(s->pending);
	if (s->deadline)
		event_free(s->deadline);
	if (s->bev)
		bufferevent_free(s->bev);
	else if (s->fd >= 0)
		evutil_closesocket(s->fd);
	free(s->token);
	json_decref(s->other_data);
	filter_res_free(s->res);
	free(s->pchg);
	free(s->ent_linked);
	free(s->ent_unlinked);
	free(s->ent_user);
	free(s->vis);
	free(s);
}

static void drain_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);

	evbuffer_drain(in, evbuffer_get_length(in));
}

static void drain_event(struct bufferevent *bev, short what, void *arg)
{
	session_free(arg);
}

/*
 * Everything sent: wait (up to the linger timer) for the peer to close,
 * discarding what it still sends, so that closing with unread input does
 * not reset the connection and destroy our last message in flight.
 */
static void on_flushed(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	if (evbuffer_get_length(bufferevent_get_output(bev)))
		return;
	bufferevent_setcb(bev, drain_read, NULL, drain_event, s);
	bufferevent_enable(bev, EV_READ);
}

static void on_linger(evutil_socket_t fd, short what, void *arg)
{
	session_free(arg);
}

/* Leaves the session; sends what is queued first. */
static void session_close(struct session *s, const char *why)
{
	bool was_online = s->state == S_ONLINE;
	struct timeval tv = { 2, 0 };

	if (s->state == S_CLOSING)
		return;
	if (why)
		jz_info("session %s:%u (%s): closed: %s", s->ip, s->port,
			s->device[0] ? s->device : "-", why);
	s->state = S_CLOSING;
	jz_cb_cancel(s->pending);
	s->pending = NULL;
	if (was_online) {
		set_online_idx(s->srv, s->lease->idx, NULL);
		u32_push(&s->srv->left, &s->srv->nleft, &s->srv->capleft, s->lease->idx);

		EVENT("device-disconnected",
			 json_pack("{s:s,s:s,s:s,s:i,s:s}", "user", s->user, "realm",
				   s->realm, "device", s->device, "id", s->lease->idx,
				   "reason", why ? why : "closed"));
		schedule_recompute(s->srv);
	}
	/*
	 * Never freed here: callers may be inside this session's read loop.
	 * What is queued is sent first, then the peer gets up to 2 s to close.
	 */
	if (s->deadline)
		event_free(s->deadline);
	s->deadline = evtimer_new(s->srv->d->base, on_linger, s);
	if (s->bev && evbuffer_get_length(bufferevent_get_output(s->bev))) {
		bufferevent_setcb(s->bev, NULL, on_flushed, drain_event, s);
		bufferevent_disable(s->bev, EV_READ);
		evtimer_add(s->deadline, &tv);
		return;
	}
	tv.tv_sec = 0;
	evtimer_add(s->deadline, &tv);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;
	char err[256];

	if (what & BEV_EVENT_CONNECTED) {
		SSL *ssl = bufferevent_openssl_get_ssl(bev);

		if (jz_tls_binding(ssl, s->binding)) {
			session_close(s, "no TLS exporter");
			return;
		}
		s->state = S_LOGIN;
		jz_debug("session %s:%u: TLS up", s->ip, s->port);
		bufferevent_set_timeouts(bev, &(struct timeval){ cfg(s->srv)->login_timeout_s, 0 },
					 NULL);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		session_close(s, s->state == S_TLS ? "TLS handshake timeout"
			      : s->state == S_LOGIN ? "login timeout" : "keepalive timeout");
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		jz_bev_error(bev, err, sizeof(err));
		session_close(s, err);
		return;
	}
	if (what & BEV_EVENT_EOF)
		session_close(s, "connection closed");
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	if (s->state == S_TLS || s->state == S_LOGIN)
		session_close(s, s->state == S_TLS ? "TLS handshake timeout"
					      : "login took too long");
}

static void accept_done(void *arg, struct jz_cb_call *c)
{
	struct session *s = arg;
	struct jz_server *srv = s->srv;
	SSL *ssl;

	s->pending = NULL;
	if (!c->u.accept.accept) {
		jz_info("connection from %s:%u refused by accept_conn%s", s->ip, s->port,
			c->failed ? " (fail-closed)" : "");
		session_close(s, NULL);
		return;
	}
	ssl = SSL_new(srv->ssl);
	s->bev = bufferevent_openssl_socket_new(srv->d->base, s->fd, ssl,
						BUFFEREVENT_SSL_ACCEPTING,
						BEV_OPT_CLOSE_ON_FREE);
	s->fd = -1;
	s->state = S_TLS;
	bufferevent_setcb(s->bev, on_read, NULL, on_event, s);
	bufferevent_set_timeouts(s->bev,
				 &(struct timeval){ cfg(srv)->handshake_timeout_s, 0 }, NULL);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

static void on_accept(struct evconnlistener *lis, evutil_socket_t fd,
		      struct sockaddr *sa, int salen, void *arg)
{
	struct jz_server *srv = arg;
	struct session *s;
	struct jz_cb_call *c;
	struct timeval tv = { 0, 0 };

	if (srv->n_sessions >= (size_t)cfg(srv)->max_sessions) {
		evutil_closesocket(fd);
		jz_warn("too many sessions; connection refused");
		return;
	}
	s = calloc(1, sizeof(*s));
	s->srv = srv;
	s->fd = fd;
	s->sid = ++srv->next_sid;
	s->state = S_ACCEPTING;
	s->other_data = json_array();
	jz_sockaddr_str(sa, s->ip, sizeof(s->ip), &s->port);
	s->next = srv->sessions;
	if (s->next)
		s->next->prev = s;
	srv->sessions = s;
	srv->n_sessions++;
	tv.tv_sec = cfg(srv)->handshake_timeout_s + cfg(srv)->login_timeout_s;
	s->deadline = evtimer_new(srv->d->base, on_deadline, s);
	evtimer_add(s->deadline, &tv);

	c = jz_cb_call_new(JZ_CB_ACCEPT_CONN);
	snprintf(c->u.accept.info.source.ip, JAZZ_ADDR_MAX, "%s", s->ip);
	c->u.accept.info.source.port = s->port;
	s->pending = c;
	jz_cb_submit(srv->d->cb, c, accept_done, s);
}

static int krb_start(struct jz_server *srv, char *err, size_t errlen)
{
	struct jz_krb_server_cfg kc = {
		.keytab = cfg(srv)->keytab,
		.service = cfg(srv)->service,
		.max_skew = cfg(srv)->max_skew_s,
		.rcache = cfg(srv)->rcache,
		.time_offset = cfg(srv)->time_offset,
	};
	struct jz_krb_server *k;

	if (jz_krb_server_new(&kc, &k, err, errlen))
		return -1;
	if (srv->krb) {
		/* keep the password replay memory and key cache */
		jz_krb_server_adopt(k, srv->krb);
		jz_krb_server_free(srv->krb);
	}
	srv->krb = k;
	return 0;
}

static void on_lease_flush(evutil_socket_t fd, short what, void *arg)
{
	struct jz_server *srv = arg;

	jz_leases_flush(srv->leases);
}

/* SIGHUP: swap the Kerberos server only while no worker uses it. */
static void krb_reload(evutil_socket_t fd, short what, void *arg)
{
	struct jz_server *srv = arg;
	struct timeval tv = { 0, 20000 };
	char err[256];

	if (atomic_load(&srv->krb_busy)) {
		evtimer_add(srv->krb_reload_ev, &tv);
		return;
	}
	if (krb_start(srv, err, sizeof(err)))
		jz_err("reload: keeping the old Kerberos settings: %s", err);
}

struct jz_server *jz_server_new(struct jz_daemon *d, char *err, size_t errlen)
{
	struct jz_server *srv = calloc(1, sizeof(*srv));
	struct sockaddr_storage ss;
	int sslen = sizeof(ss);
	struct timeval tv;

	srv->d = d;
	srv->ssl = jz_tls_server_ctx(d->cfg.cert, d->cfg.key, err, errlen);
	if (!srv->ssl)
		goto fail;
	if (krb_start(srv, err, errlen))
		goto fail;
	srv->work = jz_workpool_new(d->base, 2);
	srv->krb_reload_ev = evtimer_new(d->base, krb_reload, srv);
	srv->lease_ev = evtimer_new(d->base, on_lease_flush, srv);
	srv->leases = jz_leases_new(d->cfg.leases, d->cfg.pool4, d->cfg.pool6, err, errlen);
	if (!srv->leases)
		goto fail;
	jz_leases_prefix(srv->leases, &srv->plen4, &srv->plen6);
	if (evutil_parse_sockaddr_port(d->cfg.listen, (struct sockaddr *)&ss, &sslen)) {
		snprintf(err, errlen, "[server] listen: cannot parse %s", d->cfg.listen);
		goto fail;
	}
	srv->lis = evconnlistener_new_bind(d->base, on_accept, srv,
					   LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
					   LEV_OPT_CLOSE_ON_EXEC, 1024,
					   (struct sockaddr *)&ss, sslen);
	if (!srv->lis) {
		snprintf(err, errlen, "listen on %s: %s", d->cfg.listen, strerror(errno));
		goto fail;
	}
	srv->recompute_ev = evtimer_new(d->base, on_recompute, srv);
	srv->rekey_ev = event_new(d->base, -1, EV_PERSIST, on_rekey, srv);
	tv.tv_sec = d->cfg.rekey_s > 0 ? d->cfg.rekey_s : 3600;
	tv.tv_usec = 0;
	evtimer_add(srv->rekey_ev, &tv);
	jz_info("server listening on %s (TLS 1.3)", d->cfg.listen);
	return srv;
fail:
	jz_server_free(srv);
	return NULL;
}

int jz_server_reload(struct jz_server *srv)
{
	char err[256];
	SSL_CTX *ctx = jz_tls_server_ctx(cfg(srv)->cert, cfg(srv)->key, err, sizeof(err));
	struct timeval tv = { cfg(srv)->rekey_s > 0 ? cfg(srv)->rekey_s : 3600, 0 };

	if (ctx) {
		SSL_CTX_free(srv->ssl);
		srv->ssl = ctx;
	} else {
		jz_err("reload: keeping the old certificate: %s", err);
	}
	krb_reload(-1, 0, srv);
	evtimer_del(srv->rekey_ev);
	evtimer_add(srv->rekey_ev, &tv);
	srv->full = true;	/* the new plugin may filter differently */
	schedule_recompute(srv);
	return 0;
}

void jz_server_free(struct jz_server *srv)
{
	if (!srv)
		return;
	while (srv->sessions) {
		srv->sessions->state = S_CLOSING;
		session_free(srv->sessions);
	}
	free(srv->by_idx);
	while (srv->pv) {
		struct pending_verdict *pv = srv->pv;

		srv->pv = pv->next;
		json_decref(pv->to_origin);
		event_free(pv->timer);
		free(pv);
	}
	if (srv->lis)
		evconnlistener_free(srv->lis);
	if (srv->recompute_ev)
		event_free(srv->recompute_ev);
	if (srv->rekey_ev)
		event_free(srv->rekey_ev);
	if (srv->ssl)
		SSL_CTX_free(srv->ssl);
	if (srv->krb)
		jz_krb_server_free(srv->krb);
	jz_callbacks_free(srv->work);
	if (srv->lease_ev) {
		jz_leases_flush(srv->leases);
		event_free(srv->lease_ev);
	}
	if (srv->krb_reload_ev)
		event_free(srv->krb_reload_ev);
	jz_leases_free(srv->leases);
	free(srv->links);
	free(srv->left);
	free(srv->vc);
	OPENSSL_cleanse(srv->rpool, sizeof(srv->rpool));
	free(srv);
}
