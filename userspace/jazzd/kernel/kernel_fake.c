// SPDX-License-Identifier: GPL-2.0
/*
 * The fake kernel: every operation becomes one line in [kernel] log (with
 * full key material, since only tests use it), and approval requests are
 * injected by writing lines to the FIFO [kernel] inject:
 *
 *   request proto=tcp src=10.77.0.2:40000 dst=10.77.0.3:80 [cookie=N] [dir=ingress]
 *   expire proto=tcp src=... dst=... [cookie=N] [end=idle]
 *
 * Must not talk to a real kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jazz.h>

#include "kernel.h"
#include "log.h"

struct fake {
	struct jz_kernel k;
	FILE *log;
	int fifo;
	struct event *ev;
	char buf[4096];
	size_t len;
	int port;
	uint64_t next_cookie;
};

#define F(k) ((struct fake *)(k))

static void rec(struct jz_kernel *k, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void rec(struct jz_kernel *k, const char *fmt, ...)
{
	va_list ap;

	if (!F(k)->log)
		return;
	va_start(ap, fmt);
	vfprintf(F(k)->log, fmt, ap);
	va_end(ap);
	fputc('\n', F(k)->log);
	fflush(F(k)->log);
}

static int f_addr(struct jz_kernel *k, const char *v4, int p4, const char *v6, int p6)
{
	rec(k, "addr %s/%d %s/%d", v4, p4, v6, p6);
	return 0;
}

static int f_peer_set(struct jz_kernel *k, const struct jz_kpeer *p, bool create)
{
	rec(k, "%s id=%u remote-id=%u name=%s allowed=%s/32,%s/128 endpoint=%s:%u",
	    create ? "peer-new" : "peer-set", p->id, p->remote_id, p->name,
	    p->vip4, p->vip6, p->endpoint_ip[0] ? p->endpoint_ip : "-",
	    p->endpoint_port);
	return 0;
}

static int f_peer_del(struct jz_kernel *k, uint32_t id)
{
	rec(k, "peer-del id=%u", id);
	return 0;
}

static int f_key_new(struct jz_kernel *k, const struct jz_kkey *key)
{
	char tx[65], rx[65], ts[9], rs[9];

	jz_hex(key->tx_key, 32, tx);
	jz_hex(key->rx_key, 32, rx);
	jz_hex(key->tx_salt, 4, ts);
	jz_hex(key->rx_salt, 4, rs);
	rec(k, "key-new peer=%u slot=%s key-id=%u cipher=%s tx=%s:%s rx=%s:%s",
	    key->peer_id, key->slot == JAZZ_KEY_SLOT_PRIMARY ? "primary" : "secondary",
	    key->key_id,
	    key->cipher == JAZZ_CIPHER_AES_256_GCM ? "aes-256-gcm" : "chacha20-poly1305",
	    tx, ts, rx, rs);
	return 0;
}

static int f_key_swap(struct jz_kernel *k, uint32_t peer_id)
{
	rec(k, "key-swap peer=%u", peer_id);
	return 0;
}

static int f_verdict(struct jz_kernel *k, const struct jz_kconn *c, bool approve,
		     uint32_t lifetime)
{
	char pn[16];

	rec(k, "verdict %s peer=%u cookie=%llu proto=%s %s:%u->%s:%u lifetime=%u",
	    approve ? "approve" : "deny", c->peer_id, (unsigned long long)c->cookie,
	    jz_proto_name(c->proto, pn, sizeof(pn)), c->src, c->sport, c->dst,
	    c->dport, lifetime);
	return 0;
}

static int f_port(struct jz_kernel *k)
{
	return F(k)->port;
}

static void f_free(struct jz_kernel *k)
{
	struct fake *f = F(k);

	if (f->ev)
		event_free(f->ev);
	if (f->fifo >= 0)
		close(f->fifo);
	if (f->log)
		fclose(f->log);
	free(f);
}

static const struct jz_kernel_ops fake_ops = {
	.set_addresses = f_addr,
	.peer_set = f_peer_set,
	.peer_del = f_peer_del,
	.key_new = f_key_new,
	.key_swap = f_key_swap,
	.conn_verdict = f_verdict,
	.listen_port = f_port,
	.free = f_free,
};

static int parse_ipport(const char *s, char *ip, uint16_t *port)
{
	uint16_t p;
	char host[JZ_IP_MAX];

	if (jz_parse_hostport(s, host, sizeof(host), &p))
		return -1;
	snprintf(ip, JZ_IP_MAX, "%s", host);
	*port = p;
	return 0;
}

static void inject_line(struct fake *f, char *line)
{
	struct jz_kconn c = { .direction = JAZZ_DIRECTION_EGRESS, .proto = 6 };
	char *tok, *save;
	bool expire;

	tok = strtok_r(line, " \t", &save);
	if (!tok)
		return;
	if (!strcmp(tok, "request"))
		expire = false;
	else if (!strcmp(tok, "expire"))
		expire = true;
	else {
		jz_warn("fake kernel: unknown injection '%s'", tok);
		return;
	}
	c.end = JAZZ_CONN_END_IDLE;
	while ((tok = strtok_r(NULL, " \t", &save))) {
		char *v = strchr(tok, '=');

		if (!v)
			continue;
		*v++ = 0;
		if (!strcmp(tok, "proto"))
			c.proto = jz_proto_number(v);
		else if (!strcmp(tok, "src"))
			parse_ipport(v, c.src, &c.sport);
		else if (!strcmp(tok, "dst"))
			parse_ipport(v, c.dst, &c.dport);
		else if (!strcmp(tok, "cookie"))
			c.cookie = strtoull(v, NULL, 10);
		else if (!strcmp(tok, "peer"))
			c.peer_id = strtoul(v, NULL, 10);
		else if (!strcmp(tok, "dir"))
			c.direction = !strcmp(v, "ingress") ? JAZZ_DIRECTION_INGRESS
							   : JAZZ_DIRECTION_EGRESS;
		else if (!strcmp(tok, "end"))
			c.end = !strcmp(v, "lifetime") ? JAZZ_CONN_END_LIFETIME
						       : JAZZ_CONN_END_IDLE;
	}
	if (!c.cookie)
		c.cookie = ++f->next_cookie;
	rec(&f->k, "%s cookie=%llu", expire ? "injected-expire" : "injected-request",
	    (unsigned long long)c.cookie);
	if (f->k.on_conn)
		f->k.on_conn(f->k.arg, &c, expire);
}

static void on_fifo(evutil_socket_t fd, short what, void *arg)
{
	struct fake *f = arg;
	ssize_t n;
	char *nl;

	n = read(fd, f->buf + f->len, sizeof(f->buf) - 1 - f->len);
	if (n <= 0)
		return;
	f->len += n;
	f->buf[f->len] = 0;
	while ((nl = strchr(f->buf, '\n'))) {
		*nl = 0;
		inject_line(f, f->buf);
		memmove(f->buf, nl + 1, f->len - (nl + 1 - f->buf) + 1);
		f->len -= nl + 1 - f->buf;
	}
	if (f->len == sizeof(f->buf) - 1)
		f->len = 0;	/* a line too long: dropped */
}

struct jz_kernel *jz_kernel_fake_new(struct event_base *base, const struct jz_config *c,
				     char *err, size_t errlen)
{
	struct fake *f = calloc(1, sizeof(*f));

	f->k.ops = &fake_ops;
	f->k.base = base;
	f->fifo = -1;
	f->port = c->listen_port ? c->listen_port : 51820;
	f->next_cookie = 1000;
	if (c->klog) {
		f->log = fopen(c->klog, "a");
		if (!f->log) {
			snprintf(err, errlen, "fake kernel log %s: %s", c->klog, strerror(errno));
			free(f);
			return NULL;
		}
	}
	if (c->kinject) {
		if (mkfifo(c->kinject, 0600) && errno != EEXIST) {
			snprintf(err, errlen, "mkfifo %s: %s", c->kinject, strerror(errno));
			f_free(&f->k);
			return NULL;
		}
		/* O_RDWR: the FIFO never reports EOF when writers come and go */
		f->fifo = open(c->kinject, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (f->fifo < 0) {
			snprintf(err, errlen, "open %s: %s", c->kinject, strerror(errno));
			f_free(&f->k);
			return NULL;
		}
		f->ev = event_new(base, f->fifo, EV_READ | EV_PERSIST, on_fifo, f);
		event_add(f->ev, NULL);
	}
	rec(&f->k, "open ifname=%s port=%d", c->ifname, f->port);
	return &f->k;
}
