// SPDX-License-Identifier: GPL-2.0
/*
 * Parsing of command-line and config-file values. Pure functions: no
 * printing, no netlink; they return 0 (or a count) on success and -1 on
 * error so callers can quote the bad input in their own message.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include "jazzctl.h"

int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

int parse_u32(const char *s, uint32_t max, uint32_t *out)
{
	uint64_t v;

	if (parse_u64(s, &v) || v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "on", "yes", "true", "1" };
	static const char *const no[] = { "off", "no", "false", "0" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

/* "250", "250ms", "3s", "2m", "1h"; a bare number is in the option's unit. */
int parse_duration(const char *s, bool unit_ms, uint32_t max, uint32_t *out)
{
	char num[32];
	const char *suf;
	uint64_t v, mul_ms;
	size_t n;

	for (n = 0; s[n] && isdigit((unsigned char)s[n]); n++)
		;
	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, s, n);
	num[n] = 0;
	suf = s + n;
	if (parse_u64(num, &v) || v > UINT32_MAX)
		return -1;
	if (!*suf)
		mul_ms = unit_ms ? 1 : 1000;
	else if (!strcmp(suf, "ms"))
		mul_ms = 1;
	else if (!strcmp(suf, "s"))
		mul_ms = 1000;
	else if (!strcmp(suf, "m"))
		mul_ms = 60000;
	else if (!strcmp(suf, "h"))
		mul_ms = 3600000;
	else
		return -1;
	v *= mul_ms;
	if (!unit_ms) {
		if (v % 1000)
			return -1;	/* "1500ms" for a seconds option */
		v /= 1000;
	}
	if (v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int parse_port(const char *s, uint16_t *port)
{
	uint32_t v;

	if (parse_u32(s, 65535, &v) || v == 0)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

static int addr_to_ss(const char *host, struct sockaddr_storage *ss, bool v6only)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *res;

	memset(ss, 0, sizeof(*ss));
	if (!v6only && inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		return 0;
	}
	if (v6only || !*host)
		return -1;
	/* A host name, as wg allows; the first address wins. */
	if (getaddrinfo(host, NULL, &hints, &res))
		return -1;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

int parse_endpoint(const char *s, bool need_port, struct sockaddr_storage *ss)
{
	char host[256];
	const char *port = NULL, *colon;
	uint16_t p = 0;
	size_t n;
	bool v6 = false;

	if (!s || strlen(s) >= sizeof(host))
		return -1;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close)
			return -1;
		n = (size_t)(close - s - 1);
		memcpy(host, s + 1, n);
		host[n] = 0;
		if (close[1] == ':')
			port = close + 2;
		else if (close[1])
			return -1;
		v6 = true;
	} else {
		colon = strrchr(s, ':');
		if (colon && strchr(s, ':') != colon) {
			/* Bare IPv6 address: only allowed without a port. */
			colon = NULL;
		}
		n = colon ? (size_t)(colon - s) : strlen(s);
		memcpy(host, s, n);
		host[n] = 0;
		if (colon)
			port = colon + 1;
	}
	if (port && parse_port(port, &p))
		return -1;
	if (!port && need_port)
		return -1;
	if (addr_to_ss(host, ss, v6))
		return -1;
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(p);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(p);
	return 0;
}

int parse_prefix(const char *s, struct jz_prefix *p)
{
	char buf[INET6_ADDRSTRLEN + 8];
	char *slash;
	uint32_t cidr;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = 0;
	memset(p, 0, sizeof(*p));
	if (inet_pton(AF_INET, buf, p->addr) == 1)
		p->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, p->addr) == 1)
		p->family = AF_INET6;
	else
		return -1;
	cidr = p->family == AF_INET ? 32 : 128;
	if (slash && parse_u32(slash, cidr, &cidr))
		return -1;
	if (slash && !isdigit((unsigned char)*slash))
		return -1;
	p->cidr = (uint8_t)cidr;
	return 0;
}

int parse_prefix_list(const char *s, struct jz_prefix **out)
{
	char *copy = strdup(s), *tok, *save = NULL;
	struct jz_prefix *v = NULL, *nv;
	int n = 0;

	if (!copy)
		return -1;
	for (tok = strtok_r(copy, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		nv = realloc(v, sizeof(*v) * (n + 1));
		if (!nv || parse_prefix(tok, &nv[n])) {
			free(nv ? nv : v);
			free(copy);
			return -1;
		}
		v = nv;
		n++;
	}
	free(copy);
	*out = v;
	return n;
}

bool prefix_contains(const struct jz_prefix *p, int family, const uint8_t *addr)
{
	unsigned int bytes = p->cidr / 8, bits = p->cidr % 8;

	if (p->family != family)
		return false;
	if (memcmp(p->addr, addr, bytes))
		return false;
	if (bits) {
		uint8_t mask = (uint8_t)(0xff << (8 - bits));

		if ((p->addr[bytes] & mask) != (addr[bytes] & mask))
			return false;
	}
	return true;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int parse_hex(const char *s, uint8_t *buf, size_t len)
{
	size_t i;

	if (strlen(s) != len * 2)
		return -1;
	for (i = 0; i < len; i++) {
		int hi = hexval((unsigned char)s[2 * i]), lo = hexval((unsigned char)s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		buf[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* "KEYHEX:SALTHEX": 64 and 8 hex digits. */
int parse_keydir(const char *s, uint8_t key[JAZZ_KEY_LEN], uint8_t salt[JAZZ_SALT_LEN])
{
	char buf[JAZZ_KEY_LEN * 2 + 1];
	const char *colon = strchr(s, ':');

	if (!colon || (size_t)(colon - s) != JAZZ_KEY_LEN * 2)
		return -1;
	memcpy(buf, s, JAZZ_KEY_LEN * 2);
	buf[JAZZ_KEY_LEN * 2] = 0;
	if (parse_hex(buf, key, JAZZ_KEY_LEN) || parse_hex(colon + 1, salt, JAZZ_SALT_LEN))
		return -1;
	return 0;
}

static int lookup(const char *const *names, size_t n, const char *s, uint32_t *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (names[i] && !strcmp(names[i], s)) {
			*out = (uint32_t)i;
			return 0;
		}
	}
	return -1;
}

static const char *const ciphers[] = {
	[JAZZ_CIPHER_CHACHA20_POLY1305] = "chacha20-poly1305",
	[JAZZ_CIPHER_AES_256_GCM] = "aes-256-gcm",
};
static const char *const slots[] = {
	[JAZZ_KEY_SLOT_PRIMARY] = "primary",
	[JAZZ_KEY_SLOT_SECONDARY] = "secondary",
};
static const char *const directions[] = {
	[JAZZ_DIRECTION_EGRESS] = "egress",
	[JAZZ_DIRECTION_INGRESS] = "ingress",
};
static const char *const states[] = {
	[JAZZ_CONN_STATE_PENDING] = "pending",
	[JAZZ_CONN_STATE_APPROVED] = "approved",
	[JAZZ_CONN_STATE_DENIED] = "denied",
};
static const char *const ends[] = {
	[JAZZ_CONN_END_IDLE] = "idle",
	[JAZZ_CONN_END_CLOSED] = "closed",
	[JAZZ_CONN_END_LIFETIME] = "lifetime",
	[JAZZ_CONN_END_TIMEOUT] = "timeout",
	[JAZZ_CONN_END_NO_LISTENER] = "no-listener",
	[JAZZ_CONN_END_DELETED] = "deleted",
	[JAZZ_CONN_END_PEER_REMOVED] = "peer-removed",
};
static const char *const reasons[] = {
	[JAZZ_PEER_DEL_REASON_USERSPACE] = "userspace",
	[JAZZ_PEER_DEL_REASON_DEVICE_REMOVED] = "device-removed",
};
static const char *const verdicts[] = {
	[JAZZ_VERDICT_APPROVE] = "approve",
	[JAZZ_VERDICT_DENY] = "deny",
};

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define NAME(tab, v) ((v) < N(tab) && (tab)[v] ? (tab)[v] : "unknown")

int parse_cipher(const char *s, uint32_t *out)
{
	return lookup(ciphers, N(ciphers), s, out);
}

int parse_slot(const char *s, uint32_t *out)
{
	return lookup(slots, N(slots), s, out);
}

int parse_direction(const char *s, uint8_t *out)
{
	uint32_t v;

	if (lookup(directions, N(directions), s, &v))
		return -1;
	*out = (uint8_t)v;
	return 0;
}

int parse_proto(const char *s, uint8_t *out)
{
	static const struct { const char *n; uint8_t v; } tab[] = {
		{ "icmp", 1 }, { "tcp", 6 }, { "udp", 17 }, { "icmpv6", 58 },
		{ "ipv6-icmp", 58 }, { "gre", 47 }, { "sctp", 132 },
	};
	uint32_t v;
	size_t i;

	for (i = 0; i < N(tab); i++) {
		if (!strcasecmp(s, tab[i].n)) {
			*out = tab[i].v;
			return 0;
		}
	}
	if (parse_u32(s, 255, &v))
		return -1;
	*out = (uint8_t)v;
	return 0;
}

const char *cipher_name(uint32_t c) { return NAME(ciphers, c); }
const char *slot_name(uint32_t s) { return NAME(slots, s); }
const char *direction_name(uint8_t d) { return NAME(directions, d); }
const char *conn_state_name(uint8_t s) { return NAME(states, s); }
const char *conn_end_name(uint8_t e) { return NAME(ends, e); }
const char *del_reason_name(uint32_t r) { return NAME(reasons, r); }
const char *verdict_name(uint8_t v) { return NAME(verdicts, v); }

const char *proto_name(uint8_t p, char *buf, size_t len)
{
	switch (p) {
	case 1: return "icmp";
	case 6: return "tcp";
	case 17: return "udp";
	case 58: return "icmpv6";
	}
	snprintf(buf, len, "%u", p);
	return buf;
}

char *fmt_addr(int family, const void *addr, char *buf, size_t len)
{
	if (!inet_ntop(family, addr, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

char *fmt_endpoint(const struct sockaddr_storage *ss, bool with_port, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		fmt_addr(AF_INET, &sin->sin_addr, a, sizeof(a));
		if (with_port)
			snprintf(buf, len, "%s:%u", a, ntohs(sin->sin_port));
		else
			snprintf(buf, len, "%s", a);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		fmt_addr(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		if (with_port)
			snprintf(buf, len, "[%s]:%u", a, ntohs(sin6->sin6_port));
		else
			snprintf(buf, len, "%s", a);
	} else {
		snprintf(buf, len, "(none)");
	}
	return buf;
}

char *fmt_prefix(const struct jz_prefix *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	snprintf(buf, len, "%s/%u", fmt_addr(p->family, p->addr, a, sizeof(a)), p->cidr);
	return buf;
}

/* ---- device options ---- */

/*
 * JAZZ_A_CONN_MAX is the dev set's conn-max attribute (the conn set's max
 * is JAZZ_A_CONN_ATTR_MAX); an older jazz.h had a macro of that name that
 * hid it, so make sure it is the attribute before hold-max.
 */
_Static_assert(JAZZ_A_CONN_MAX + 1 == JAZZ_A_HOLD_MAX, "conn-max precedes hold-max");

const struct devopt devopts[] = {
	{ "listen-port", "ListenPort", "listen_port", JAZZ_A_LISTEN_PORT, 16, DO_NUM, 0, 65535 },
	{ "fwmark", "FwMark", "fwmark", JAZZ_A_FWMARK, 32, DO_HEX, 0, UINT32_MAX },
	{ "conncheck", "ConnCheck", "conncheck", JAZZ_A_CONNCHECK, 8, DO_BOOL, 0, 1 },
	{ "fail-open", "FailOpen", "fail_open", JAZZ_A_FAIL_OPEN, 8, DO_BOOL, 0, 1 },
	{ "approval-timeout", "ApprovalTimeout", "approval_timeout_ms",
	  JAZZ_A_APPROVAL_TIMEOUT_MS, 32, DO_MS, 10, 600000 },
	{ "deny-backoff", "DenyBackoff", "deny_backoff_ms",
	  JAZZ_A_DENY_BACKOFF_MS, 32, DO_MS, 0, 3600000 },
	{ "tcp-idle", "TcpIdle", "tcp_idle_s", JAZZ_A_TCP_IDLE_S, 32, DO_SEC, 1, UINT32_MAX },
	{ "udp-idle", "UdpIdle", "udp_idle_s", JAZZ_A_UDP_IDLE_S, 32, DO_SEC, 1, UINT32_MAX },
	{ "other-idle", "OtherIdle", "other_idle_s", JAZZ_A_OTHER_IDLE_S, 32, DO_SEC, 1, UINT32_MAX },
	{ "conn-max", "ConnMax", "conn_max", JAZZ_A_CONN_MAX, 32, DO_NUM, 1, UINT32_MAX },
	{ "hold-max", "HoldMax", "hold_max", JAZZ_A_HOLD_MAX, 32, DO_NUM, 1, UINT32_MAX },
};
const size_t n_devopts = N(devopts);

const struct devopt *devopt_by_arg(const char *s)
{
	size_t i;

	for (i = 0; i < n_devopts; i++)
		if (!strcmp(devopts[i].arg, s))
			return &devopts[i];
	return NULL;
}

const struct devopt *devopt_by_conf(const char *s)
{
	size_t i;

	for (i = 0; i < n_devopts; i++)
		if (!strcasecmp(devopts[i].conf, s))
			return &devopts[i];
	return NULL;
}

int devopt_parse(const struct devopt *o, const char *s, uint32_t *out)
{
	bool b;

	switch (o->kind) {
	case DO_BOOL:
		if (parse_bool(s, &b))
			return -1;
		*out = b;
		return 0;
	case DO_MS:
	case DO_SEC:
		if (parse_duration(s, o->kind == DO_MS, o->max, out))
			return -1;
		break;
	default:
		if (parse_u32(s, o->max, out))
			return -1;
	}
	return *out < o->min ? -1 : 0;
}

/* ---- jz_devcfg helpers ---- */

struct jz_peercfg *devcfg_peer(struct jz_devcfg *c, uint32_t id)
{
	struct jz_peercfg *np;
	int i;

	for (i = 0; i < c->n_peers; i++)
		if (c->peers[i].id == id)
			return &c->peers[i];
	np = realloc(c->peers, sizeof(*np) * (c->n_peers + 1));
	if (!np)
		return NULL;
	c->peers = np;
	np = &c->peers[c->n_peers++];
	memset(np, 0, sizeof(*np));
	np->id = id;
	return np;
}

void devcfg_free(struct jz_devcfg *c)
{
	int i;

	for (i = 0; i < c->n_peers; i++)
		free(c->peers[i].ips);
	free(c->peers);
	c->peers = NULL;
	c->n_peers = 0;
}
