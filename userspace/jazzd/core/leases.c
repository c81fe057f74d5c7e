// SPDX-License-Identifier: GPL-2.0
/*
 * Virtual address leases: one per user@realm/device, stable across
 * reconnects and restarts (kept in the [server] leases JSON file). The
 * lease index is also the device's peer id in every client's kernel.
 *
 * Must not know sessions or the network (server/ hands out leases).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jazzd.h"
#include "leases.h"
#include "log.h"

struct jz_leases {
	char *path;
	struct in_addr net4;
	int plen4;
	struct in6_addr net6;
	int plen6;
	uint32_t max_idx;
	struct jz_lease **v;
	size_t n, cap;
	bool dirty;
	/*
	 * Indexes (open addressing, power-of-two sizes, at most half full):
	 * by key, by address (vip4 and vip6 both), by index. No tombstones:
	 * jz_leases_expire() builds them again; next_free only moves up
	 * between expiries.
	 */
	struct jz_lease **by_key, **by_vip, **by_idx;
	size_t hcap;
	uint32_t next_free;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static uint64_t hash_u32(uint32_t x)
{
	uint64_t h = x * 0x9e3779b97f4a7c15ULL;

	return h ^ (h >> 29);
}

static void hput(struct jz_lease **t, size_t cap, uint64_t h, struct jz_lease *e)
{
	size_t i = h & (cap - 1);

	while (t[i])
		i = (i + 1) & (cap - 1);
	t[i] = e;
}

static void index_add(struct jz_leases *l, struct jz_lease *e)
{
	hput(l->by_key, l->hcap, hash_str(e->key), e);
	hput(l->by_vip, 2 * l->hcap, hash_str(e->vip4), e);
	hput(l->by_vip, 2 * l->hcap, hash_str(e->vip6), e);
	hput(l->by_idx, l->hcap, hash_u32(e->idx), e);
}

/* Room for one more lease: the tables stay at most half full. */
static void index_reserve(struct jz_leases *l)
{
	if ((l->n + 1) * 2 <= l->hcap)
		return;
	free(l->by_key);
	free(l->by_vip);
	free(l->by_idx);
	l->hcap = l->hcap ? 2 * l->hcap : 256;
	l->by_key = calloc(l->hcap, sizeof(*l->by_key));
	l->by_vip = calloc(2 * l->hcap, sizeof(*l->by_vip));
	l->by_idx = calloc(l->hcap, sizeof(*l->by_idx));
	for (size_t i = 0; i < l->n; i++)
		index_add(l, l->v[i]);
}

static struct jz_lease *find_idx(struct jz_leases *l, uint32_t idx)
{
	size_t i;

	if (!l->hcap)
		return NULL;
	for (i = hash_u32(idx) & (l->hcap - 1); l->by_idx[i]; i = (i + 1) & (l->hcap - 1))
		if (l->by_idx[i]->idx == idx)
			return l->by_idx[i];
	return NULL;
}

static int parse_cidr(const char *s, int af, void *addr, int *plen)
{
	char buf[64];
	char *slash;

	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (!slash)
		return -1;
	*slash = 0;
	*plen = atoi(slash + 1);
	if (inet_pton(af, buf, addr) != 1)
		return -1;
	if (af == AF_INET && (*plen < 8 || *plen > 30))
		return -1;
	if (af == AF_INET6 && (*plen < 64 || *plen > 120))
		return -1;
	return 0;
}

static void make_addrs(struct jz_leases *l, struct jz_lease *e)
{
	struct in_addr a = l->net4;
	struct in6_addr b = l->net6;
	uint32_t off = e->idx + 1;	/* .1 is left for the network itself */

	a.s_addr = htonl(ntohl(a.s_addr) + off);
	inet_ntop(AF_INET, &a, e->vip4, sizeof(e->vip4));
	for (int i = 15; i >= 12; i--) {
		unsigned v = b.s6_addr[i] + (off & 0xff);

		b.s6_addr[i] = v & 0xff;
		off = (off >> 8) + (v >> 8);
	}
	inet_ntop(AF_INET6, &b, e->vip6, sizeof(e->vip6));
}

static struct jz_lease *add(struct jz_leases *l, const char *key, uint32_t idx)
{
	struct jz_lease *e = calloc(1, sizeof(*e));

	snprintf(e->key, sizeof(e->key), "%s", key);
	e->idx = idx;
	make_addrs(l, e);
	index_reserve(l);
	index_add(l, e);
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->v = jz_xrealloc(l->v, l->cap, sizeof(*l->v));
	}
	l->v[l->n++] = e;
	return e;
}

/* A lease's identity key from the file: taken only if it is 32 bytes. */
static void load_pub(struct jz_lease *e, const char *b64)
{
	size_t n = 0;
	unsigned char *k = b64 ? jz_b64_decode(b64, &n) : NULL;

	if (k && n == 32) {
		memcpy(e->pub, k, 32);
		e->has_pub = true;
	} else if (b64) {
		jz_warn("leases: %s: unreadable pubkey, forgotten", e->key);
	}
	free(k);
}

static void load(struct jz_leases *l)
{
	json_error_t je;
	json_t *root = json_load_file(l->path, 0, &je);
	json_t *arr, *it;
	size_t i;

	if (!root) {
		if (access(l->path, F_OK) == 0)
			jz_warn("leases %s: %s; starting empty", l->path, je.text);
		return;
	}
	arr = json_object_get(root, "leases");
	json_array_foreach(arr, i, it) {
		const char *key = json_string_value(json_object_get(it, "key"));
		json_int_t idx = json_integer_value(json_object_get(it, "id"));
		struct jz_lease *e;

		if (!key || idx < 1 || (uint32_t)idx > l->max_idx || jz_leases_find(l, key))
			continue;
		e = add(l, key, (uint32_t)idx);
		e->last_seen = json_integer_value(json_object_get(it, "last_seen"));
		load_pub(e, json_string_value(json_object_get(it, "pubkey")));
	}
	json_decref(root);
	jz_info("leases: %zu loaded from %s", l->n, l->path);
}

int jz_leases_save(struct jz_leases *l)
{
	json_t *root = json_object(), *arr = json_array();
	char tmp[4096];

	for (size_t i = 0; i < l->n; i++) {
		json_t *o = json_object();

		json_object_set_new(o, "key", json_string(l->v[i]->key));
		json_object_set_new(o, "id", json_integer(l->v[i]->idx));
		json_object_set_new(o, "vip4", json_string(l->v[i]->vip4));
		json_object_set_new(o, "vip6", json_string(l->v[i]->vip6));
		json_object_set_new(o, "last_seen", json_integer(l->v[i]->last_seen));
		if (l->v[i]->has_pub) {
			char *b = jz_b64_encode(l->v[i]->pub, 32);

			json_object_set_new(o, "pubkey", json_string(b ? b : ""));
			free(b);
		}
		json_array_append_new(arr, o);
	}
	json_object_set_new(root, "version", json_integer(1));
	json_object_set_new(root, "leases", arr);
	snprintf(tmp, sizeof(tmp), "%s.tmp", l->path);
	if (json_dump_file(root, tmp, JSON_INDENT(1)) || rename(tmp, l->path)) {
		jz_err("leases: cannot write %s: %s", l->path, strerror(errno));
		json_decref(root);
		return -1;
	}
	json_decref(root);
	return 0;
}

struct jz_leases *jz_leases_new(const char *path, const char *pool4, const char *pool6,
				char *err, size_t errlen)
{
	struct jz_leases *l = calloc(1, sizeof(*l));

	if (parse_cidr(pool4, AF_INET, &l->net4, &l->plen4) ||
	    parse_cidr(pool6, AF_INET6, &l->net6, &l->plen6)) {
		snprintf(err, errlen, "bad pool4 %s or pool6 %s", pool4, pool6);
		free(l);
		return NULL;
	}
	l->path = path ? strdup(path) : NULL;
	l->max_idx = (1u << (32 - l->plen4)) - 3;
	if (l->plen6 < 96 && l->max_idx > 0xfffffff0u)
		l->max_idx = 0xfffffff0u;
	if (path)
		load(l);
	return l;
}

struct jz_lease *jz_leases_find(struct jz_leases *l, const char *key)
{
	size_t i;

	if (!l->hcap)
		return NULL;
	for (i = hash_str(key) & (l->hcap - 1); l->by_key[i]; i = (i + 1) & (l->hcap - 1))
		if (!strcmp(l->by_key[i]->key, key))
			return l->by_key[i];
	return NULL;
}

struct jz_lease *jz_leases_by_vip(struct jz_leases *l, const char *ip)
{
	size_t i, cap = 2 * l->hcap;

	if (!l->hcap)
		return NULL;
	for (i = hash_str(ip) & (cap - 1); l->by_vip[i]; i = (i + 1) & (cap - 1))
		if (!strcmp(l->by_vip[i]->vip4, ip) || !strcmp(l->by_vip[i]->vip6, ip))
			return l->by_vip[i];
	return NULL;
}

struct jz_lease *jz_leases_get(struct jz_leases *l, const char *key)
{
	struct jz_lease *e = jz_leases_find(l, key);

	if (!e) {
		/* the lowest free index (given back only by jz_leases_expire) */
		if (!l->next_free)
			l->next_free = 1;
		while (l->next_free <= l->max_idx && find_idx(l, l->next_free))
			l->next_free++;
		if (l->next_free > l->max_idx)
			return NULL;
		e = add(l, key, l->next_free);
	}
	e->last_seen = time(NULL);
	l->dirty = true;	/* written by jz_leases_flush (debounced) */
	return e;
}

int jz_leases_flush(struct jz_leases *l)
{
	if (!l->dirty || !l->path)
		return 0;
	l->dirty = false;
	return jz_leases_save(l);
}

uint32_t jz_leases_max_idx(struct jz_leases *l)
{
	return l->max_idx;
}

void jz_leases_addrs(struct jz_leases *l, uint32_t idx, char vip4[46], char vip6[46])
{
	struct jz_lease e = { .idx = idx };

	make_addrs(l, &e);
	memcpy(vip4, e.vip4, sizeof(e.vip4));
	memcpy(vip6, e.vip6, sizeof(e.vip6));
}

void jz_leases_prefix(struct jz_leases *l, int *plen4, int *plen6)
{
	*plen4 = l->plen4;
	*plen6 = l->plen6;
}

size_t jz_leases_count_prefix(struct jz_leases *l, const char *prefix)
{
	size_t n = 0, plen = strlen(prefix);

	for (size_t i = 0; i < l->n; i++)
		n += !strncmp(l->v[i]->key, prefix, plen);
	return n;
}

size_t jz_leases_expire(struct jz_leases *l, time_t before,
			bool (*in_use)(void *arg, uint32_t idx), void *arg)
{
	size_t kept = 0, gone;

	for (size_t i = 0; i < l->n; i++) {
		struct jz_lease *e = l->v[i];

		if (e->last_seen < before && !in_use(arg, e->idx))
			free(e);
		else
			l->v[kept++] = e;
	}
	gone = l->n - kept;
	if (!gone)
		return 0;
	l->n = kept;
	/* the indexes have no tombstones: build them again */
	memset(l->by_key, 0, l->hcap * sizeof(*l->by_key));
	memset(l->by_vip, 0, 2 * l->hcap * sizeof(*l->by_vip));
	memset(l->by_idx, 0, l->hcap * sizeof(*l->by_idx));
	for (size_t i = 0; i < l->n; i++)
		index_add(l, l->v[i]);
	l->next_free = 1;
	l->dirty = true;
	return gone;
}

void jz_leases_free(struct jz_leases *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	free(l->by_key);
	free(l->by_vip);
	free(l->by_idx);
	free(l->path);
	free(l);
}
