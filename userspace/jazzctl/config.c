// SPDX-License-Identifier: GPL-2.0
/*
 * The setconf/addconf file: INI-like, as wg's. A [Device] section with the
 * device options of devopts[] (ListenPort, FwMark, ...) and [Peer] sections
 * with Id, RemoteId, Name, Endpoint, AllowedIPs (may repeat) and
 * PersistentKeepalive. Keys are case-insensitive; '#' starts a comment.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "jazzctl.h"

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

static int fail(char *err, size_t len, const char *fname, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(err, len, "%s:%d: ", fname, line);
	if (n < 0 || (size_t)n >= len)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err + n, len - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static int add_ips(struct jz_peercfg *p, const char *val)
{
	struct jz_prefix *v, *nv;
	int n = parse_prefix_list(val, &v);

	if (n < 0)
		return -1;
	nv = realloc(p->ips, sizeof(*nv) * (p->n_ips + n + 1));
	if (!nv) {
		free(v);
		return -1;
	}
	if (n)
		memcpy(nv + p->n_ips, v, sizeof(*v) * n);
	free(v);
	p->ips = nv;
	p->n_ips += n;
	p->has_ips = true;
	return 0;
}

static int peer_key(struct jz_peercfg *p, const char *k, const char *v)
{
	uint32_t u;

	if (!strcasecmp(k, "RemoteId")) {
		if (parse_u32(v, UINT32_MAX, &u) || !u)
			return -1;
		p->remote_id = u;
		p->has_remote_id = true;
	} else if (!strcasecmp(k, "Name")) {
		if (!*v || strlen(v) > JAZZ_PEER_NAME_MAX)
			return -1;
		strcpy(p->name, v);
		p->has_name = true;
	} else if (!strcasecmp(k, "Endpoint")) {
		if (parse_endpoint(v, true, &p->endpoint))
			return -1;
		p->has_endpoint = true;
	} else if (!strcasecmp(k, "AllowedIPs")) {
		return add_ips(p, v);
	} else if (!strcasecmp(k, "PersistentKeepalive")) {
		if (!strcasecmp(v, "off"))
			u = 0;
		else if (parse_duration(v, false, 65535, &u))
			return -1;
		p->keepalive = (uint16_t)u;
		p->has_keepalive = true;
	} else {
		return -2;
	}
	return 0;
}

enum section { S_NONE, S_DEV, S_PEER };

/* A [Peer] section is collected here and added when it ends: Id may come last. */
struct pending {
	bool open, has_id;
	int line;
	struct jz_peercfg p;
};

static int commit(struct jz_devcfg *c, struct pending *pp, const char *fname, char *err, size_t len)
{
	struct jz_peercfg *dst;
	int i;

	if (!pp->open)
		return 0;
	pp->open = false;
	if (!pp->has_id)
		return fail(err, len, fname, pp->line, "[Peer] without Id");
	for (i = 0; i < c->n_peers; i++)
		if (c->peers[i].id == pp->p.id)
			return fail(err, len, fname, pp->line, "peer %u appears twice", pp->p.id);
	dst = devcfg_peer(c, pp->p.id);
	if (!dst)
		return fail(err, len, fname, pp->line, "out of memory");
	*dst = pp->p;
	memset(&pp->p, 0, sizeof(pp->p));
	return 0;
}

int config_parse(FILE *f, const char *fname, struct jz_devcfg *c, char *err, size_t errlen)
{
	char buf[4096], *line, *eq, *k, *v;
	enum section sec = S_NONE;
	struct pending pp = { 0 };
	const struct devopt *o;
	int lineno = 0, rc;
	uint32_t u;

	memset(c, 0, sizeof(*c));
	while (fgets(buf, sizeof(buf), f)) {
		lineno++;
		if (!strchr(buf, '\n') && !feof(f)) {
			fail(err, errlen, fname, lineno, "line too long");
			goto bad;
		}
		if ((line = strchr(buf, '#')))
			*line = 0;
		line = trim(buf);
		if (!*line)
			continue;
		if (*line == '[') {
			if (commit(c, &pp, fname, err, errlen))
				goto bad;
			if (!strcasecmp(line, "[Device]") || !strcasecmp(line, "[Interface]")) {
				sec = S_DEV;
			} else if (!strcasecmp(line, "[Peer]")) {
				sec = S_PEER;
				pp.open = true;
				pp.has_id = false;
				pp.line = lineno;
			} else {
				fail(err, errlen, fname, lineno, "unknown section '%s'", line);
				goto bad;
			}
			continue;
		}
		eq = strchr(line, '=');
		if (!eq) {
			fail(err, errlen, fname, lineno, "expected 'Key = Value', got '%s'", line);
			goto bad;
		}
		*eq = 0;
		k = trim(line);
		v = trim(eq + 1);
		if (sec == S_DEV) {
			o = devopt_by_conf(k);
			if (!o) {
				fail(err, errlen, fname, lineno, "unknown key '%s' in [Device]", k);
				goto bad;
			}
			if (devopt_parse(o, v, &u)) {
				fail(err, errlen, fname, lineno, "invalid %s '%s'", o->conf, v);
				goto bad;
			}
			c->set_mask |= 1ULL << (o - devopts);
			c->val[o - devopts] = u;
		} else if (sec == S_PEER) {
			if (!strcasecmp(k, "Id")) {
				if (parse_u32(v, UINT32_MAX, &u) || !u) {
					fail(err, errlen, fname, lineno, "invalid Id '%s'", v);
					goto bad;
				}
				pp.p.id = u;
				pp.has_id = true;
				continue;
			}
			rc = peer_key(&pp.p, k, v);
			if (rc == -2) {
				fail(err, errlen, fname, lineno, "unknown key '%s' in [Peer]", k);
				goto bad;
			}
			if (rc) {
				fail(err, errlen, fname, lineno, "invalid %s '%s'", k, v);
				goto bad;
			}
		} else {
			fail(err, errlen, fname, lineno, "'%s' outside a section", k);
			goto bad;
		}
	}
	if (commit(c, &pp, fname, err, errlen))
		goto bad;
	return 0;
bad:
	free(pp.p.ips);
	devcfg_free(c);
	return -1;
}
