// SPDX-License-Identifier: GPL-2.0
/*
 * Rules for "jazzctl answer DEV rules FILE". One rule a line, first match
 * wins, no match denies:
 *
 *   approve|deny [lifetime S] [peer NAME] [peer-id N] [proto P]
 *                [direction egress|ingress] [from PREFIX] [to PREFIX]
 *                [sport N[-M]] [dport N[-M]]
 *
 * "from" is the side that opened the connection, as in the request.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "jazzctl.h"

static int range(const char *s, uint16_t *lo, uint16_t *hi)
{
	char buf[16], *dash;
	uint32_t a, b;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	dash = strchr(buf, '-');
	if (dash)
		*dash++ = 0;
	if (parse_u32(buf, 65535, &a))
		return -1;
	b = a;
	if (dash && parse_u32(dash, 65535, &b))
		return -1;
	if (b < a || b == 0)
		return -1;
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return 0;
}

static int fail(char *err, size_t len, const char *fname, int line, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, len, "%s:%d: ", fname, line);

	if (n > 0 && (size_t)n < len) {
		va_start(ap, fmt);
		vsnprintf(err + n, len - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int rule_parse(char *line, struct jz_rule *r, const char *fname, int no, char *err,
		      size_t len)
{
	char *tok[64], *save = NULL, *t;
	int n = 0, i;
	uint32_t u;

	memset(r, 0, sizeof(*r));
	r->proto = -1;
	for (t = strtok_r(line, " \t", &save); t && n < 64; t = strtok_r(NULL, " \t", &save))
		tok[n++] = t;
	if (n == 0)
		return fail(err, len, fname, no, "empty rule");
	if (!strcmp(tok[0], "approve"))
		r->verdict = JAZZ_VERDICT_APPROVE;
	else if (!strcmp(tok[0], "deny"))
		r->verdict = JAZZ_VERDICT_DENY;
	else
		return fail(err, len, fname, no, "expected approve or deny, got '%s'", tok[0]);
	for (i = 1; i < n; i += 2) {
		const char *k = tok[i], *v = i + 1 < n ? tok[i + 1] : NULL;
		uint8_t p;

		if (!v)
			return fail(err, len, fname, no, "'%s' needs a value", k);
		if (!strcmp(k, "lifetime")) {
			if (parse_duration(v, false, UINT32_MAX, &r->lifetime))
				goto bad;
			r->has_lifetime = true;
		} else if (!strcmp(k, "peer")) {
			if (strlen(v) > JAZZ_PEER_NAME_MAX)
				goto bad;
			strcpy(r->peer, v);
		} else if (!strcmp(k, "peer-id")) {
			if (parse_u32(v, UINT32_MAX, &u) || !u)
				goto bad;
			r->peer_id = u;
		} else if (!strcmp(k, "proto")) {
			if (parse_proto(v, &p))
				goto bad;
			r->proto = p;
		} else if (!strcmp(k, "direction")) {
			if (parse_direction(v, &r->direction))
				goto bad;
		} else if (!strcmp(k, "from")) {
			if (parse_prefix(v, &r->from))
				goto bad;
			r->has_from = true;
		} else if (!strcmp(k, "to")) {
			if (parse_prefix(v, &r->to))
				goto bad;
			r->has_to = true;
		} else if (!strcmp(k, "sport")) {
			if (range(v, &r->sport_lo, &r->sport_hi))
				goto bad;
		} else if (!strcmp(k, "dport")) {
			if (range(v, &r->dport_lo, &r->dport_hi))
				goto bad;
		} else {
			return fail(err, len, fname, no, "unknown match '%s'", k);
		}
		continue;
bad:
		return fail(err, len, fname, no, "invalid %s '%s'", k, v);
	}
	return 0;
}

int rules_parse(FILE *f, const char *fname, struct jz_rule **out, int *n, char *err, size_t errlen)
{
	struct jz_rule *v = NULL, *nv;
	char buf[1024], *s, *e;
	int no = 0, cnt = 0;

	while (fgets(buf, sizeof(buf), f)) {
		no++;
		if ((s = strchr(buf, '#')))
			*s = 0;
		for (s = buf; isspace((unsigned char)*s); s++)
			;
		for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]); )
			*--e = 0;
		if (!*s)
			continue;
		nv = realloc(v, sizeof(*v) * (cnt + 1));
		if (!nv) {
			fail(err, errlen, fname, no, "out of memory");
			goto bad;
		}
		v = nv;
		if (rule_parse(s, &v[cnt], fname, no, err, errlen))
			goto bad;
		cnt++;
	}
	*out = v;
	*n = cnt;
	return 0;
bad:
	free(v);
	return -1;
}

static bool in(uint16_t v, uint16_t lo, uint16_t hi)
{
	return !hi || (v >= lo && v <= hi);
}

const struct jz_rule *rules_match(const struct jz_rule *r, int n, const struct jz_connreq *c)
{
	int i;

	for (i = 0; i < n; i++, r++) {
		if (r->peer[0] && strcmp(r->peer, c->peer_name))
			continue;
		if (r->peer_id && r->peer_id != c->peer_id)
			continue;
		if (r->proto >= 0 && r->proto != c->proto)
			continue;
		if (r->direction && r->direction != c->direction)
			continue;
		if (r->has_from && !prefix_contains(&r->from, c->family, c->src))
			continue;
		if (r->has_to && !prefix_contains(&r->to, c->family, c->dst))
			continue;
		if (!in(c->sport, r->sport_lo, r->sport_hi) || !in(c->dport, r->dport_lo, r->dport_hi))
			continue;
		return r;
	}
	return NULL;
}
