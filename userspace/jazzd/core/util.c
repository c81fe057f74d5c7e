// SPDX-License-Identifier: GPL-2.0
/*
 * Small helpers: host:port parsing, base64, hex, addresses, time.
 *
 * Must not keep state.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <event2/bufferevent_ssl.h>
#include <event2/util.h>

#include "jazzd.h"

/* "1.2.3.4:5", "[::1]:5", "host:5" */
int jz_parse_hostport(const char *s, char *host, size_t hostlen, uint16_t *port)
{
	const char *colon;
	size_t hl;
	long p;
	char *end;

	if (*s == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			return -1;
		hl = rb - s - 1;
		s++;
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -1;
		hl = colon - s;
	}
	if (hl == 0 || hl >= hostlen)
		return -1;
	memcpy(host, s, hl);
	host[hl] = 0;
	p = strtol(colon + 1, &end, 10);
	if (*end || p < 0 || p > 65535)
		return -1;
	*port = (uint16_t)p;
	return 0;
}

char *jz_b64_encode(const unsigned char *buf, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, buf, (int)len);
	return out;
}

unsigned char *jz_b64_decode(const char *s, size_t *len)
{
	size_t sl = strlen(s);
	unsigned char *out;
	int n;

	if (sl % 4)
		return NULL;
	out = malloc(sl / 4 * 3 + 1);
	n = EVP_DecodeBlock(out, (const unsigned char *)s, (int)sl);
	if (n < 0) {
		free(out);
		return NULL;
	}
	if (sl >= 1 && s[sl - 1] == '=')
		n--;
	if (sl >= 2 && s[sl - 2] == '=')
		n--;
	*len = (size_t)n;
	return out;
}

void jz_hex(const unsigned char *buf, size_t len, char *out)
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hx[buf[i] >> 4];
		out[2 * i + 1] = hx[buf[i] & 15];
	}
	out[2 * len] = 0;
}

void jz_sockaddr_str(const void *sa, char *ip, size_t iplen, uint16_t *port)
{
	const struct sockaddr *s = sa;

	if (s->sa_family == AF_INET) {
		const struct sockaddr_in *in = sa;

		inet_ntop(AF_INET, &in->sin_addr, ip, iplen);
		*port = ntohs(in->sin_port);
	} else if (s->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = sa;

		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
			inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], ip, iplen);
		else
			inet_ntop(AF_INET6, &in6->sin6_addr, ip, iplen);
		*port = ntohs(in6->sin6_port);
	} else {
		snprintf(ip, iplen, "?");
		*port = 0;
	}
}

double jz_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void jz_bev_error(struct bufferevent *bev, char *err, size_t errlen)
{
	unsigned long e = bufferevent_get_openssl_error(bev);

	if (e)
		ERR_error_string_n(e, err, errlen);
	else
		snprintf(err, errlen, "%s", strerror(EVUTIL_SOCKET_ERROR()));
}

/* Length of the valid UTF-8 sequence at p (no overlongs, no surrogates),
 * 0 if invalid. */
static size_t utf8_len(const unsigned char *p)
{
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		return (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (p[0] >= 0xe0 && p[0] <= 0xef) {
		if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 ||
		    (p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f))
			return 0;
		return 3;
	}
	if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 ||
		    (p[3] & 0xc0) != 0x80 || (p[0] == 0xf0 && p[1] < 0x90) ||
		    (p[0] == 0xf4 && p[1] > 0x8f))
			return 0;
		return 4;
	}
	return 0;
}

void *jz_xrealloc(void *p, size_t nmemb, size_t size)
{
	void *np = nmemb && size > SIZE_MAX / nmemb ? NULL : realloc(p, nmemb * size);

	if (!np && nmemb && size) {
		/* stderr, not the log: util.c stays free of log.c (tlsbench) */
		fprintf(stderr, "jazzd: out of memory (%zu x %zu bytes); aborting\n",
			nmemb, size);
		abort();
	}
	return np;
}

bool jz_name_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t n = utf8_len(p);

		if (!n || *p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] < 0xa0))
			return false;
		p += n;
	}
	return true;
}

void jz_escape(const char *in, char *out, size_t outlen)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t o = 0;

	if (!outlen)
		return;
	while (*p) {
		size_t n = utf8_len(p);
		bool esc = !n || *p < 0x20 || *p == 0x7f || *p == '\\' ||
			   (p[0] == 0xc2 && p[1] < 0xa0);

		if (esc) {
			if (o + 4 >= outlen)
				break;
			snprintf(out + o, 5, "\\x%02x", *p);
			o += 4;
			p++;
			continue;
		}
		if (o + n >= outlen)
			break;
		memcpy(out + o, p, n);
		o += n;
		p += n;
	}
	out[o] = 0;
}

int jz_pubkey_parse(const char *b64, unsigned char pub[32])
{
	static const unsigned char zero[32];
	size_t n = 0;
	unsigned char *k;
	int rc = -1;

	if (strlen(b64) != 44)
		return -1;
	k = jz_b64_decode(b64, &n);
	if (k && n == 32 && CRYPTO_memcmp(k, zero, 32)) {
		memcpy(pub, k, 32);
		rc = 0;
	}
	free(k);
	return rc;
}
