// SPDX-License-Identifier: GPL-2.0
/*
 * The fake kernel: every operation becomes one line in [kernel] log (with
 * full key material, since only tests use it), and approval requests are
 * injected by writing lines to the FIFO [kernel] inject:
 *
 *   request proto=tcp src=10.77.0.2:40000 dst=10.77.0.3:80 [cookie=N] [dir=ingress]
 *   expire proto=tcp src=... dst=... [cookie=N] [end=idle]
 *   traffic peer=ID [rx=PACKETS:BYTES] [tx=PACKETS:BYTES]
 *   drop [peer=ID] reason=replay [count=N]
 *   rotate peer=ID key=KEYID [slot=primary|secondary] [counter=N]
 *
 * "traffic" and "drop" are the simulated data path: they move the device's
 * and the installed peer's counters (and "rx" the peer's last receive time)
 * the way jazz.ko counts, for the stats operation. Traffic for a peer not
 * installed counts nowhere but is logged, like the kernel's drop-no-peer.
 * "rotate" is jazz.ko's key-rotate-ntf (a key near its packet limit),
 * handed to the client as the netlink backend hands the real one.
 *
 * Must not talk to a real kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jazz.h>

#include "kernel.h"
#include "log.h"

struct fpeer {
	uint32_t id;
	char name[64];
	uint64_t last_rx_ns;
	struct jz_kcounters c;
};

/* Enough for the tests; a peer beyond it is logged and not counted. */
#define FAKE_PEERS 4096

struct fake {
	struct jz_kernel k;
	struct jz_kcounters dev;
	struct fpeer *peers;
	size_t n_peers, cap_peers;
	FILE *log;
	int fifo;
	struct event *ev;
	char buf[4096];
	size_t len;
	int port;
	uint64_t next_cookie;
	unsigned int rotate_bad;	/* malformed rotate injections */
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

static struct fpeer *fpeer_find(struct fake *f, uint32_t id)
{
	size_t i;

	for (i = 0; i < f->n_peers; i++)
		if (f->peers[i].id == id)
			return &f->peers[i];
	return NULL;
}

static int f_peer_set(struct jz_kernel *k, const struct jz_kpeer *p, bool create)
{
	struct fake *f = F(k);
	struct fpeer *fp = fpeer_find(f, p->id);

	if (!fp && f->n_peers == f->cap_peers && f->cap_peers < FAKE_PEERS) {
		size_t cap = f->cap_peers ? f->cap_peers * 2 : 16;
		struct fpeer *np = realloc(f->peers, cap * sizeof(*np));

		if (np) {
			f->peers = np;
			f->cap_peers = cap;
		}
	}
	if (!fp && f->n_peers < f->cap_peers) {
		fp = &f->peers[f->n_peers++];
		memset(fp, 0, sizeof(*fp));
		fp->id = p->id;
	}
	if (fp)
		snprintf(fp->name, sizeof(fp->name), "%s", p->name);
	else
		rec(k, "peer-table-full id=%u", p->id);
	rec(k, "%s id=%u remote-id=%u name=%s allowed=%s/32,%s/128 endpoint=%s:%u",
	    create ? "peer-new" : "peer-set", p->id, p->remote_id, p->name,
	    p->vip4, p->vip6, p->endpoint_ip[0] ? p->endpoint_ip : "-",
	    p->endpoint_port);
	return 0;
}

static int f_path_set(struct jz_kernel *k, uint32_t peer_id, int kind, const char *reason)
{
	rec(k, "path id=%u kind=%s reason=%.*s", peer_id,
	    kind == JAZZ_PATH_KIND_RELAYED ? "relayed" : "direct", JAZZ_PATH_REASON_MAX, reason);
	return 0;
}

static int f_peer_del(struct jz_kernel *k, uint32_t id)
{
	struct fake *f = F(k);
	struct fpeer *fp = fpeer_find(f, id);

	/* counters go with the peer, as in jazz.ko; the device keeps its own */
	if (fp)
		*fp = f->peers[--f->n_peers];
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

static int f_key_del(struct jz_kernel *k, uint32_t peer_id, int slot)
{
	rec(k, "key-del peer=%u slot=%s", peer_id,
	    slot == JAZZ_KEY_SLOT_PRIMARY ? "primary" : "secondary");
	return 0;
}

static int f_conn_flush(struct jz_kernel *k, uint32_t peer_id)
{
	rec(k, "conn-flush peer=%u", peer_id);
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

static int f_stats(struct jz_kernel *k, struct jz_kstats *st)
{
	struct fake *f = F(k);
	size_t i;

	st->dev = f->dev;
	st->n_peers = 0;
	st->peers_total = f->n_peers;
	for (i = 0; i < f->n_peers && st->n_peers < st->max_peers; i++) {
		struct jz_kpeer_stats *ps = &st->peers[st->n_peers++];

		ps->id = f->peers[i].id;
		snprintf(ps->name, sizeof(ps->name), "%s", f->peers[i].name);
		ps->last_rx_ns = f->peers[i].last_rx_ns;
		ps->c = f->peers[i].c;
	}
	return 0;
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
	free(f->peers);
	free(f);
}

static const struct jz_kernel_ops fake_ops = {
	.set_addresses = f_addr,
	.peer_set = f_peer_set,
	.path_set = f_path_set,
	.peer_del = f_peer_del,
	.key_new = f_key_new,
	.key_swap = f_key_swap,
	.key_del = f_key_del,
	.conn_flush = f_conn_flush,
	.conn_verdict = f_verdict,
	.listen_port = f_port,
	.stats = f_stats,
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

/* a decimal number, without sign or junk */
static int parse_u64(const char *v, uint64_t *out)
{
	char *end;

	if (*v < '0' || *v > '9')
		return -1;
	*out = strtoull(v, &end, 10);
	return *end ? -1 : 0;
}

/* "PACKETS:BYTES", both decimal, without sign or junk */
static int parse_pb(const char *v, uint64_t *pk, uint64_t *by)
{
	char *end;

	if (*v < '0' || *v > '9')
		return -1;
	*pk = strtoull(v, &end, 10);
	if (*end != ':' || end[1] < '0' || end[1] > '9')
		return -1;
	*by = strtoull(end + 1, &end, 10);
	return *end ? -1 : 0;
}

static int drop_reason(const char *v)
{
	int i;

	for (i = 0; i < JZ_KDROP_N; i++)
		if (!strcmp(v, jz_kdrop_names[i]))
			return i;
	return -1;
}

/*
 * The next "name=value" word of an injection line: 1 with *name and *value
 * set, 0 at the end of the line, -1 for a word without '='.
 */
static int next_field(char **save, char **name, char **value)
{
	char *tok = strtok_r(NULL, " \t", save);

	if (!tok)
		return 0;
	*value = strchr(tok, '=');
	if (!*value)
		return -1;
	*(*value)++ = 0;
	*name = tok;
	return 1;
}

/* traffic/drop lines (after their first word): the simulated data path */
static void inject_datapath(struct fake *f, bool drop, char *save)
{
	uint64_t rxp = 0, rxb = 0, txp = 0, txb = 0, count = 1, peer = 0;
	int reason = -1, bad = 0, more;
	struct timespec now;
	struct fpeer *fp;
	char *tok, *v;

	while ((more = next_field(&save, &tok, &v)) > 0) {
		if (!strcmp(tok, "peer"))
			bad |= parse_u64(v, &peer) || peer > UINT32_MAX;
		else if (!strcmp(tok, "rx") && !drop)
			bad |= parse_pb(v, &rxp, &rxb);
		else if (!strcmp(tok, "tx") && !drop)
			bad |= parse_pb(v, &txp, &txb);
		else if (!strcmp(tok, "reason") && drop)
			bad |= (reason = drop_reason(v)) < 0;
		else if (!strcmp(tok, "count") && drop)
			bad |= parse_u64(v, &count);
		else
			bad = 1;
	}
	bad |= more < 0;
	if (bad || (drop && reason < 0) || (!drop && !peer)) {
		jz_warn("fake kernel: malformed %s injection", drop ? "drop" : "traffic");
		return;
	}
	fp = peer ? fpeer_find(f, (uint32_t)peer) : NULL;
	if (drop) {
		f->dev.drops[reason] += count;
		if (fp)
			fp->c.drops[reason] += count;
		rec(&f->k, "injected-drop peer=%llu reason=%s count=%llu%s", (unsigned long long)peer,
		    jz_kdrop_names[reason], (unsigned long long)count,
		    peer && !fp ? " (no such peer)" : "");
		return;
	}
	rec(&f->k, "injected-traffic peer=%llu rx=%llu:%llu tx=%llu:%llu%s", (unsigned long long)peer,
	    (unsigned long long)rxp, (unsigned long long)rxb, (unsigned long long)txp,
	    (unsigned long long)txb, fp ? "" : " (no such peer)");
	if (!fp) {
		f->dev.drops[JZ_KDROP_NO_PEER] += rxp;
		f->dev.drops[JZ_KDROP_TX_NO_PEER] += txp;
		return;
	}
	f->dev.rx_packets += rxp;
	f->dev.rx_bytes += rxb;
	f->dev.tx_packets += txp;
	f->dev.tx_bytes += txb;
	fp->c.rx_packets += rxp;
	fp->c.rx_bytes += rxb;
	fp->c.tx_packets += txp;
	fp->c.tx_bytes += txb;
	if (rxp) {
		clock_gettime(CLOCK_REALTIME, &now);
		fp->last_rx_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
	}
}

/* rotate line (after its first word): checked like the netlink backend
 * checks the kernel's message; a malformed one is logged and dropped */
static void inject_rotate(struct fake *f, char *save)
{
	struct jz_krotate r = { .slot = JAZZ_KEY_SLOT_PRIMARY };
	uint64_t peer = 0, key = 256, counter = 0;
	int bad = 0, more;
	char *tok, *v;

	while ((more = next_field(&save, &tok, &v)) > 0) {
		if (!strcmp(tok, "peer"))
			bad |= parse_u64(v, &peer) || !peer || peer > UINT32_MAX;
		else if (!strcmp(tok, "key"))
			bad |= parse_u64(v, &key) || key > 255;
		else if (!strcmp(tok, "counter"))
			bad |= parse_u64(v, &counter);
		else if (!strcmp(tok, "slot") && !strcmp(v, "secondary"))
			r.slot = JAZZ_KEY_SLOT_SECONDARY;
		else if (strcmp(tok, "slot") || strcmp(v, "primary"))
			bad = 1;
	}
	bad |= more < 0;
	if (bad || !peer || key > 255) {
		if (f->rotate_bad++ % 1000 == 0)
			jz_warn("fake kernel: malformed rotate injection (%u so far)",
				f->rotate_bad);
		return;
	}
	r.peer_id = (uint32_t)peer;
	r.key_id = (uint8_t)key;
	r.tx_counter = counter;
	rec(&f->k, "injected-rotate peer=%u key-id=%u slot=%s counter=%llu", r.peer_id,
	    r.key_id, r.slot == JAZZ_KEY_SLOT_PRIMARY ? "primary" : "secondary",
	    (unsigned long long)counter);
	if (f->k.on_rotate)
		f->k.on_rotate(f->k.arg, &r);
}

static void inject_line(struct fake *f, char *line)
{
	struct jz_kconn c = { .direction = JAZZ_DIRECTION_EGRESS, .proto = 6 };
	char *tok, *save;
	bool expire;

	tok = strtok_r(line, " \t", &save);
	if (!tok)
		return;
	if (!strcmp(tok, "traffic") || !strcmp(tok, "drop")) {
		inject_datapath(f, !strcmp(tok, "drop"), save);
		return;
	}
	if (!strcmp(tok, "rotate")) {
		inject_rotate(f, save);
		return;
	}
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
