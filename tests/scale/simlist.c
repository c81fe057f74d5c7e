// SPDX-License-Identifier: GPL-2.0
/*
 * simlist: the peer lists jzsim's devices hold, as digests for the login's
 * "peers_known" (docs/PROTOCOL-control.md; core/listdigest.c computes them
 * as the jazzd client and the server do). A simulated device keeps only a
 * bitmap of the ids in its list and one of those linked; the entries' hashes
 * are kept once per id and link state for the whole process, from the last
 * entry seen for that id, parsed only when its bytes change. A device's
 * digest thus assumes it holds the newest entry of each id it lists, which
 * holds once lists are complete and settled (a restart); when it does not,
 * the server finds the digest wrong and sends the full list.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "core/proto.h"
#include "simlist.h"

struct cached {
	char *bytes;
	size_t len;
	bool have;
	uint8_t hash[JZ_LIST_DIGEST_LEN];
};

static struct cached (*cache)[2];	/* [id][linked] */
static size_t ncache;

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* An entry's hash from its JSON, as the jazzd client holds it. */
static int hash_entry(json_t *e, uint8_t out[JZ_LIST_DIGEST_LEN])
{
	json_t *ep = json_object_get(e, "endpoint"), *cs = json_object_get(e, "cands"), *x;
	struct jz_list_cand cands[8];
	uint8_t pub[48];
	const char *pk = json_string_value(json_object_get(e, "pubkey"));
	struct jz_list_entry le = {
		.id = (uint32_t)json_integer_value(json_object_get(e, "id")),
		.device = str(e, "device"),
		.linked = json_is_true(json_object_get(e, "linked")),
		.vip4 = str(e, "vip4"),
		.vip6 = str(e, "vip6"),
		.ep_ip = ep ? str(ep, "ip") : "",
		.ep_port = ep ? (uint16_t)json_integer_value(json_object_get(ep, "port")) : 0,
		.cands = cands,
	};
	size_t i;

	if (pk && strlen(pk) == 44 &&
	    EVP_DecodeBlock(pub, (const unsigned char *)pk, 44) == 33)
		le.pub = pub;
	json_array_foreach(cs, i, x) {
		struct jz_list_cand *c = &cands[le.ncands];

		if (le.ncands == 8)
			break;
		memset(c, 0, sizeof(*c));
		if (inet_pton(AF_INET, str(x, "ip"), c->addr) == 1)
			c->family = AF_INET;
		else if (inet_pton(AF_INET6, str(x, "ip"), c->addr) == 1)
			c->family = AF_INET6;
		else
			continue;
		c->port = (uint16_t)json_integer_value(json_object_get(x, "port"));
		c->srflx = !strcmp(str(x, "kind"), "srflx");
		le.ncands++;
	}
	return jz_list_entry_hash(&le, out);
}

bool simlist_entry(uint32_t id, const char *b, size_t len)
{
	bool linked = memmem(b, len, "\"linked\":true", 13) != NULL;
	struct cached *c;
	json_t *e;

	if (id >= ncache) {
		size_t n = ncache ? ncache : 1024;

		while (id >= n)
			n *= 2;
		cache = realloc(cache, n * sizeof(*cache));
		memset(cache + ncache, 0, (n - ncache) * sizeof(*cache));
		ncache = n;
	}
	c = &cache[id][linked];
	if (c->have && c->len == len && !memcmp(c->bytes, b, len))
		return linked;
	e = json_loadb(b, len, 0, NULL);
	free(c->bytes);
	c->bytes = malloc(len);
	memcpy(c->bytes, b, len);
	c->len = len;
	c->have = e && !hash_entry(e, c->hash);
	json_decref(e);
	return linked;
}

bool simlist_digest(const uint8_t *seen, const uint8_t *linked, size_t cap,
		    uint8_t out[JZ_LIST_DIGEST_LEN], uint32_t *count)
{
	struct jz_list_digest d;

	if (jz_list_digest_start(&d))
		return false;
	for (size_t id = 0; id < cap * 8; id++) {
		bool l;

		if (!(seen[id / 8] >> (id % 8) & 1))
			continue;
		l = linked[id / 8] >> (id % 8) & 1;
		if (id >= ncache || !cache[id][l].have) {
			jz_list_digest_end(&d, out);
			return false;
		}
		jz_list_digest_add(&d, cache[id][l].hash);
	}
	*count = d.n;
	return !jz_list_digest_end(&d, out);
}
