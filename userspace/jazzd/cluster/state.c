// SPDX-License-Identifier: GPL-2.0
/*
 * The state interface (state.h): picks the backend from [cluster] and
 * holds the local one, which is the single server as it always was: the
 * leases JSON file of core/leases.c, the identity key in the lease, no
 * sharing. The Redis backend is redis_state.c's.
 *
 * Must not know sessions, nor hold Redis code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "cluster_int.h"
#include "log.h"

struct jz_state {
	struct jz_leases *leases;	/* local backend */
	struct jz_rstate *r;		/* redis backend */
};

struct jz_state *jz_state_new(struct jz_daemon *d, const struct jz_state_cbs *cbs,
			      char *err, size_t errlen)
{
	struct jz_state *st = calloc(1, sizeof(*st));

	if (!st) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (d->cfg.cluster.redis)
		st->r = jz_rstate_new(d, cbs, err, errlen);
	else
		st->leases = jz_leases_new(d->cfg.leases, d->cfg.pool4, d->cfg.pool6,
					   err, errlen);
	if (!st->r && !st->leases) {
		free(st);
		return NULL;
	}
	return st;
}

void jz_state_free(struct jz_state *st)
{
	if (!st)
		return;
	if (st->leases) {
		jz_leases_flush(st->leases);
		jz_leases_free(st->leases);
	}
	jz_rstate_free(st->r);
	free(st);
}

const char *jz_state_backend(struct jz_state *st)
{
	return st->r ? "redis" : "local";
}

void jz_state_prefix(struct jz_state *st, int *plen4, int *plen6)
{
	jz_leases_prefix(st->r ? st->r->pool : st->leases, plen4, plen6);
}

enum jz_state_rc jz_state_lease(struct jz_state *st, const char *user, const char *realm,
				const char *device, int max_devices, struct jz_lease **out)
{
	char key[600], pre[520];

	if (st->r)
		return jz_rstate_lease(st->r, user, realm, device, max_devices, out);
	snprintf(key, sizeof(key), "%s@%s/%s", user, realm, device);
	if (max_devices > 0 && !jz_leases_find(st->leases, key)) {
		snprintf(pre, sizeof(pre), "%s@%s/", user, realm);
		if (jz_leases_count_prefix(st->leases, pre) >= (size_t)max_devices)
			return JZ_STATE_TOO_MANY;
	}
	*out = jz_leases_get(st->leases, key);
	return *out ? JZ_STATE_OK : JZ_STATE_POOL_FULL;
}

enum jz_state_rc jz_state_online(struct jz_state *st, struct jz_lease *l,
				 const struct jz_state_dev *dev, struct jz_state_prev *prev)
{
	if (st->r)
		return jz_rstate_online(st->r, l, dev, prev);
	memset(prev, 0, sizeof(*prev));
	prev->has_pub = l->has_pub;
	memcpy(prev->pub, l->pub, 32);
	if (dev->pub) {
		memcpy(l->pub, dev->pub, 32);
		l->has_pub = true;
	}
	return JZ_STATE_OK;
}

void jz_state_cands(struct jz_state *st, struct jz_lease *l, uint64_t sid, const char *cands)
{
	if (st->r)
		jz_rstate_cands(st->r, l, sid, cands);
}

void jz_state_offline(struct jz_state *st, struct jz_lease *l, uint64_t sid)
{
	if (st->r)
		jz_rstate_offline(st->r, l, sid);
}

void jz_state_addrs(struct jz_state *st, uint32_t idx, char vip4[46], char vip6[46])
{
	jz_leases_addrs(st->r ? st->r->pool : st->leases, idx, vip4, vip6);
}

bool jz_state_vip_idx(struct jz_state *st, const char *ip, uint32_t *idx)
{
	struct jz_lease *l;

	if (st->r)
		return jz_rstate_vip_idx(st->r, ip, idx);
	l = jz_leases_by_vip(st->leases, ip);
	if (l)
		*idx = l->idx;
	return l != NULL;
}

bool jz_state_relay(struct jz_state *st, uint32_t from, uint32_t to, const char *kind,
		    const char *msg)
{
	return st->r && jz_rstate_relay(st->r, from, to, kind, msg);
}

void jz_state_verdict_put(struct jz_state *st, const char *key, bool approve,
			  uint32_t lifetime, int ttl)
{
	if (st->r)
		jz_rstate_verdict_put(st->r, key, approve, lifetime, ttl);
}

bool jz_state_verdict_get(struct jz_state *st, const char *key, bool *approve,
			  uint32_t *lifetime)
{
	return st->r && jz_rstate_verdict_get(st->r, key, approve, lifetime);
}

void jz_state_flush(struct jz_state *st)
{
	if (st->leases)
		jz_leases_flush(st->leases);
}

size_t jz_state_expire(struct jz_state *st, time_t before,
		       bool (*in_use)(void *arg, uint32_t idx), void *arg)
{
	return st->leases ? jz_leases_expire(st->leases, before, in_use, arg) : 0;
}

void jz_state_seen(struct jz_state *st, struct jz_lease *l, time_t now)
{
	l->last_seen = now;
}
