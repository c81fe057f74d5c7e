// SPDX-License-Identifier: GPL-2.0
/*
 * Small helpers: host:port parsing, base64, hex, addresses, time.
 *
 * Must not keep state.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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
