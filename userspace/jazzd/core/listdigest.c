// SPDX-License-Identifier: GPL-2.0
/*
 * The digest of a peer list (docs/PROTOCOL-control.md, "A list the device
 * already holds"): what a device presents at login ("peers_known") so a
 * server that would send it the same list answers "peers_unchanged"
 * instead of N entries. Both ends compute it from the entries' fields, not
 * their bytes: the server from its sessions, the client from its parsed
 * view. Shared by server/, client/ and the simulator (tests/scale/jzsim.c).
 */
#include <arpa/inet.h>
#include <string.h>
#include <openssl/evp.h>

#include "core/proto.h"

static void put_u8(EVP_MD_CTX *ctx, uint8_t v)
{
	EVP_DigestUpdate(ctx, &v, 1);
}

static void put_u16(EVP_MD_CTX *ctx, uint16_t v)
{
	uint8_t b[2] = { v >> 8, v & 0xff };

	EVP_DigestUpdate(ctx, b, 2);
}

static void put_u32(EVP_MD_CTX *ctx, uint32_t v)
{
	uint8_t b[4] = { v >> 24, v >> 16 & 0xff, v >> 8 & 0xff, v & 0xff };

	EVP_DigestUpdate(ctx, b, 4);
}

/* a string: its length (16 bits, big-endian) and its bytes */
static void put_str(EVP_MD_CTX *ctx, const char *s)
{
	size_t n = s ? strnlen(s, 65535) : 0;

	put_u16(ctx, (uint16_t)n);
	if (n)
		EVP_DigestUpdate(ctx, s, n);
}

int jz_list_entry_hash(const struct jz_list_entry *e, uint8_t out[JZ_LIST_DIGEST_LEN])
{
	static const char tag[] = "jazz list entry 1";
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool has_ep = e->ep_ip && e->ep_ip[0] && e->ep_port;
	unsigned int len = 0;
	int rc = -1;

	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		goto out;
	EVP_DigestUpdate(ctx, tag, sizeof(tag));	/* with its NUL */
	put_u32(ctx, e->id);
	put_str(ctx, e->device);
	put_u8(ctx, e->linked);
	put_str(ctx, e->vip4);
	put_str(ctx, e->vip6);
	put_u8(ctx, e->pub != NULL);
	if (e->pub)
		EVP_DigestUpdate(ctx, e->pub, 32);
	put_str(ctx, has_ep ? e->ep_ip : "");
	put_u16(ctx, has_ep ? e->ep_port : 0);
	put_u8(ctx, (uint8_t)e->ncands);
	for (size_t i = 0; i < e->ncands; i++) {
		const struct jz_list_cand *c = &e->cands[i];

		put_u8(ctx, c->family == AF_INET6 ? 6 : 4);
		EVP_DigestUpdate(ctx, c->addr, c->family == AF_INET6 ? 16 : 4);
		put_u16(ctx, c->port);
		put_u8(ctx, c->srflx);
	}
	rc = EVP_DigestFinal_ex(ctx, out, &len) == 1 && len == JZ_LIST_DIGEST_LEN ? 0 : -1;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

int jz_list_digest_start(struct jz_list_digest *d)
{
	static const char tag[] = "jazz list 1";

	d->n = 0;
	d->nbuf = 0;
	d->ctx = EVP_MD_CTX_new();
	if (!d->ctx || EVP_DigestInit_ex(d->ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(d->ctx);
		d->ctx = NULL;
		return -1;
	}
	EVP_DigestUpdate(d->ctx, tag, sizeof(tag));
	return 0;
}

static void flush(struct jz_list_digest *d)
{
	if (d->nbuf)
		EVP_DigestUpdate(d->ctx, d->buf, d->nbuf * sizeof(d->buf[0]));
	d->nbuf = 0;
}

void jz_list_digest_add(struct jz_list_digest *d, const uint8_t entry[JZ_LIST_DIGEST_LEN])
{
	memcpy(d->buf[d->nbuf++], entry, JZ_LIST_DIGEST_LEN);
	if (d->nbuf == JZ_LIST_DIGEST_BUF)
		flush(d);
	d->n++;
}

void jz_list_digest_add_many(struct jz_list_digest *d, const uint8_t (*h)[JZ_LIST_DIGEST_LEN],
			     size_t n)
{
	flush(d);
	if (n)
		EVP_DigestUpdate(d->ctx, h, n * JZ_LIST_DIGEST_LEN);
	d->n += n;
}

int jz_list_digest_copy(struct jz_list_digest *to, struct jz_list_digest *from)
{
	flush(from);
	to->n = from->n;
	to->nbuf = 0;
	to->ctx = EVP_MD_CTX_new();
	if (!to->ctx || EVP_MD_CTX_copy_ex(to->ctx, from->ctx) != 1) {
		EVP_MD_CTX_free(to->ctx);
		to->ctx = NULL;
		return -1;
	}
	return 0;
}

void jz_list_digest_free(struct jz_list_digest *d)
{
	EVP_MD_CTX_free(d->ctx);
	d->ctx = NULL;
}

int jz_list_digest_end(struct jz_list_digest *d, uint8_t out[JZ_LIST_DIGEST_LEN])
{
	unsigned int len = 0;
	int rc;

	flush(d);
	put_u32(d->ctx, d->n);
	rc = EVP_DigestFinal_ex(d->ctx, out, &len) == 1 && len == JZ_LIST_DIGEST_LEN ? 0 : -1;
	EVP_MD_CTX_free(d->ctx);
	d->ctx = NULL;
	return rc;
}
