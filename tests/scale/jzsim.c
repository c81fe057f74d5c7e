// SPDX-License-Identifier: GPL-2.0
/*
 * jzsim: many jazz devices in one process, for the scale tests and
 * scripts/bench-scale.sh. Each simulated device is one TLS 1.3 connection
 * (libevent, bufferevent_openssl, non-blocking) that logs in for real
 * (a Kerberos AP-REQ from one ccache, or the password login) as device
 * PREFIX-i, takes "peers" (also in parts), "peers_delta", "key" and
 * "key_swap" like jazzd, and keeps its list of peer ids. A process per
 * device does not fit this machine past a few thousand devices.
 *
 *   jzsim [options] N
 *
 * Phases, each line printed when it is reached (times from its start):
 *   online N T          every device logged in
 *   complete N T        every device's list holds every other device of
 *                       this process (and -x others): checked id by id
 *   join DEV LIST ALL [CPU BASE SYS]  (-j K, K times) one more device:
 *                       seconds until its complete list, and until every
 *                       other device had it; with -k PID, the server's
 *                       CPU (ms) from the join until then, its CPU in the
 *                       same time before the join (the idle baseline:
 *                       keepalives), and the system part of the former
 *   rss KIB N           (-k) the server's resident memory with N devices
 *   recovered N T       (-R) after the first lost connection, all devices
 *                       were back online with complete lists
 *   lists unchanged U full F  (-R) of the logins that presented the list
 *                       held ("peers_known", tests/scale/simlist.c), how
 *                       many were answered "peers_unchanged" and how many
 *                       got a full list
 * Exit 0 when every phase was reached before -T seconds, 1 otherwise
 * ("fail ..." says which devices were short).
 *
 * options: -s host:port -C cafile -S service -c ccache -m kerberos|password
 *          -u user -p password -r realm -d prefix (default "sim")
 *          -P logins in flight (default 64) -x extra peers expected
 *          -j joins -R (wait for a server restart) -H secs (hold after)
 *          -T limit seconds (default 120) -v (print each lost connection)
 *          -k server pid (CPU and memory from /proc)
 *          -K       logins without "peers_known", as a client from before it
 *          -z SECS  hostile: each device stops reading when it is welcomed,
 *                   for SECS seconds (a 4 KiB receive buffer: the server's
 *                   output backs up), then reads again (at once on SIGUSR1)
 *          -Z BYTES slow: each device reads at most BYTES a second (and has
 *                   a 4 KiB receive buffer)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "auth/krb.h"
#include "simlist.h"

#define MAX_FRAME (64u << 20)	/* the simulator takes any list the server sends */

enum dstate { D_IDLE, D_WAIT, D_TLS, D_LOGIN, D_ONLINE };

struct dev {
	int i;
	enum dstate state;
	struct bufferevent *bev;
	uint32_t id;
	uint8_t *seen;		/* bitmap of peer ids in its list */
	uint8_t *linkbits;	/* ... and of those linked */
	size_t seen_cap;	/* bytes (of each) */
	bool have_view;		/* seen is a whole list (and deltas since) */
	bool known_due;		/* its login presented it ("peers_known") */
	uint32_t known_count;
	bool has_pub;		/* its identity key, the same at every login */
	unsigned char pub[32];
	size_t nseen;
	bool listing;		/* a list in parts is coming */
	bool listed;		/* has had a complete list */
	unsigned int part_next;
	double t_complete;	/* when its list was last complete (for joins) */
	bool saw_joiner;
	double t_saw_joiner;
};

static const char *server = "127.0.0.1:7443", *cafile, *service, *ccache, *realm;
static const char *method = "kerberos", *user, *password, *prefix = "sim";
static int inflight_max = 64, extra, joins, restart_mode, hold_s, verbose;
static double limit_s = 120;
static struct event_base *base;
static SSL_CTX *ctx;
static struct jz_krb_client *krb;
static struct dev *devs;
static int ndev, nbase;		/* devices made, devices of the first phase */
static int inflight, online;
static struct sockaddr_storage sa;
static socklen_t salen;
static double t0, t_phase;
static int phase;		/* 0 ramp, 1 joins, 2 restart wait, 3 done */
static int join_no, joiner = -1;
static bool lost;
static int rc = 1;
static int stall_s, slow_bps;	/* -z, -Z */
static struct ev_token_bucket_cfg *slow_cfg;
static int keepalive_s = 15;	/* the server's, from the welcome */
static int server_pid;
static bool no_known;		/* -K: logins without "peers_known" (old clients) */
static int n_unchanged, n_lists;	/* first lists answered each way */
static double cpu_base0, cpu_base1, cpu_join0, sys_join0;

/* The server's CPU time in ms (utime + stime, and stime alone in *sys),
 * from /proc/PID/stat. */
static double server_cpu_split(double *sys)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	*sys = 0;
	if (!server_pid)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", server_pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			 &ut, &st) != 2)
		return 0;
	*sys = st * 1000.0 / sysconf(_SC_CLK_TCK);
	return (ut + st) * 1000.0 / sysconf(_SC_CLK_TCK);
}

static double server_cpu_ms(void)
{
	double sys;

	return server_cpu_split(&sys);
}

static long server_rss_kib(void)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", server_pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static double now(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return tv.tv_sec + tv.tv_usec / 1e6;
}

static void start_login(struct dev *d);

static int scan_from;	/* no device below this index waits */

static void pump(void)
{
	for (; scan_from < ndev && inflight < inflight_max; scan_from++)
		if (devs[scan_from].state == D_WAIT)
			start_login(&devs[scan_from]);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct dev *d = arg;

	if (d->state == D_IDLE) {
		d->state = D_WAIT;
		if (d->i < scan_from)
			scan_from = d->i;
		pump();
	}
}

static void dev_down(struct dev *d, const char *why)
{
	struct timeval tv = { 0, 500000 + random() % 1500000 };

	if (verbose)
		fprintf(stderr, "jzsim: %s-%d: %s\n", prefix, d->i, why);
	if (d->state == D_TLS || d->state == D_LOGIN)
		inflight--;
	if (d->state == D_ONLINE)
		online--;
	if (d->bev)
		bufferevent_free(d->bev);
	d->bev = NULL;
	d->state = D_IDLE;
	d->listing = d->listed = false;
	lost = true;
	event_base_once(base, -1, EV_TIMEOUT, on_retry, d, &tv);
	pump();
}

static void send_json(struct dev *d, json_t *m)
{
	char *s;
	size_t len;
	unsigned char hdr[4];

	json_object_set_new(m, "v", json_integer(1));
	s = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	len = strlen(s);
	hdr[0] = len >> 24;
	hdr[1] = len >> 16;
	hdr[2] = len >> 8;
	hdr[3] = len;
	bufferevent_write(d->bev, hdr, 4);
	bufferevent_write(d->bev, s, len);
	free(s);
}

static bool seen_has(struct dev *d, uint32_t id)
{
	return id / 8 < d->seen_cap && (d->seen[id / 8] >> (id % 8) & 1);
}

static void seen_set(struct dev *d, uint32_t id, bool on, bool linked)
{
	if (id / 8 >= d->seen_cap) {
		size_t cap = d->seen_cap ? d->seen_cap : 256;

		if (!on)
			return;
		while (id / 8 >= cap)
			cap *= 2;
		d->seen = realloc(d->seen, cap);
		d->linkbits = realloc(d->linkbits, cap);
		memset(d->seen + d->seen_cap, 0, cap - d->seen_cap);
		memset(d->linkbits + d->seen_cap, 0, cap - d->seen_cap);
		d->seen_cap = cap;
	}
	if (on && linked)
		d->linkbits[id / 8] |= 1 << (id % 8);
	else
		d->linkbits[id / 8] &= ~(1 << (id % 8));
	if (seen_has(d, id) == on)
		return;
	d->seen[id / 8] ^= 1 << (id % 8);
	d->nseen += on ? 1 : -1;
	if (on && joiner >= 0 && d->i != joiner && id == devs[joiner].id && !d->saw_joiner) {
		d->saw_joiner = true;
		d->t_saw_joiner = now();
	}
}

static void take_entries(struct dev *d, json_t *arr)
{
	json_t *e;
	size_t i;

	json_array_foreach(arr, i, e) {
		json_int_t id = json_integer_value(json_object_get(e, "id"));
		char *b = json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER);

		if (id > 0 && id < (1 << 24) && b)
			seen_set(d, (uint32_t)id, true, simlist_entry((uint32_t)id, b, strlen(b)));
		free(b);
	}
}

static void check_progress(void);

/* A complete list begins: what the device held is gone. */
static void list_begins(struct dev *d)
{
	if (d->seen) {
		memset(d->seen, 0, d->seen_cap);
		memset(d->linkbits, 0, d->seen_cap);
	}
	d->nseen = 0;
	d->have_view = false;
	if (d->known_due)
		n_lists++;
	d->known_due = false;
}

static void list_complete(struct dev *d)
{
	d->listed = true;
	d->have_view = true;
	d->t_complete = now();
}

/* "peers_unchanged": the list presented at login is current. */
static void on_unchanged(struct dev *d, json_t *m)
{
	json_int_t n = json_integer_value(json_object_get(m, "count"));

	if (!d->known_due || d->listing || n != d->known_count || (size_t)n != d->nseen) {
		dev_down(d, "peers_unchanged for a list not presented");
		return;
	}
	d->known_due = false;
	n_unchanged++;
	list_complete(d);
}

/* The whole list's entries: from each "{\"id\":" to the next (or @end). */
static void take_spans(struct dev *d, const char *p, const char *end)
{
	const char *x = memmem(p, end - p, "{\"id\":", 6);

	while (x) {
		const char *next = memmem(x + 6, end - x - 6, "{\"id\":", 6);
		const char *stop = next ? next - 1 : end;	/* before its ',' */
		long id = strtol(x + 6, NULL, 10);

		if (id > 0 && id < (1 << 24))
			seen_set(d, (uint32_t)id, true, simlist_entry((uint32_t)id, x, stop - x));
		x = next;
	}
}

static void on_peers(struct dev *d, json_t *m)
{
	json_t *part = json_object_get(m, "part");
	json_int_t no = part ? json_integer_value(part) : 0;

	if (no == 0) {
		list_begins(d);
	} else if (!d->listing || no != d->part_next) {
		dev_down(d, "peer list part out of order");
		return;
	}
	d->part_next = (unsigned int)no + 1;
	take_entries(d, json_object_get(m, "peers"));
	d->listing = json_is_true(json_object_get(m, "more"));
	if (!d->listing)
		list_complete(d);
}

static void on_delta(struct dev *d, json_t *m)
{
	json_t *e;
	size_t i;

	if (d->listing) {
		dev_down(d, "delta inside a list in parts");
		return;
	}
	json_array_foreach(json_object_get(m, "del"), i, e)
		seen_set(d, (uint32_t)json_integer_value(e), false, false);
	take_entries(d, json_object_get(m, "set"));
}

static void on_unstall(evutil_socket_t fd, short what, void *arg)
{
	struct dev *d = arg;

	if (d->bev && d->state == D_ONLINE)
		bufferevent_enable(d->bev, EV_READ);
}

static void on_usr1(evutil_socket_t fd, short what, void *arg)
{
	for (int i = 0; i < ndev; i++)
		on_unstall(-1, 0, &devs[i]);
}

static void on_message(struct dev *d, json_t *m)
{
	const char *t = json_string_value(json_object_get(m, "type"));

	if (!t)
		return;
	if (!strcmp(t, "welcome")) {
		json_int_t ka = json_integer_value(json_object_get(m, "keepalive"));

		if (ka > 0 && ka < keepalive_s)
			keepalive_s = (int)ka;
		d->id = (uint32_t)json_integer_value(json_object_get(m, "id"));
		d->state = D_ONLINE;
		inflight--;
		online++;
		if (stall_s) {
			struct timeval tv = { stall_s, 0 };

			bufferevent_disable(d->bev, EV_READ);
			event_base_once(base, -1, EV_TIMEOUT, on_unstall, d, &tv);
		}
		pump();
	} else if (!strcmp(t, "reject") || !strcmp(t, "bye") || !strcmp(t, "error")) {
		dev_down(d, t);
	} else if (!strcmp(t, "challenge")) {
		send_json(d, json_pack("{s:s,s:[]}", "type", "answer", "other_data"));
	} else if (!strcmp(t, "ping")) {
		send_json(d, json_pack("{s:s}", "type", "pong"));
	} else if (!strcmp(t, "peers")) {
		on_peers(d, m);
	} else if (!strcmp(t, "peers_delta")) {
		on_delta(d, m);
	} else if (!strcmp(t, "peers_unchanged")) {
		on_unchanged(d, m);
	} else if (!strcmp(t, "key_swap")) {
		send_json(d, json_pack("{s:s,s:O,s:O}", "type", "key_swap_ack", "peer",
				       json_object_get(m, "peer") ?: json_null(), "key_id",
				       json_object_get(m, "key_id") ?: json_null()));
	}
}

/*
 * A "peers" message (a list or a part) read without jansson: at 10,000
 * devices every list is 3 MB and every device gets one at each login, so
 * parsing them whole was most of the simulator's CPU. The server writes
 * each entry as {"id":N,... (server/peers.c make_entries) and "part" and
 * "more" after the entries and users; anything else goes to jansson.
 * 0: the frame is not one; 1: taken; -1: a part out of order (the caller
 * drops the device once the frame is drained).
 */
static int fast_peers(struct dev *d, const char *b, size_t len)
{
	static const char head[] = "{\"type\":\"peers\",\"peers\":[";
	const char *p = b + sizeof(head) - 1, *end = b + len, *tail, *x;
	long part = 0;
	bool more = false;

	if (len < sizeof(head) || memcmp(b, head, sizeof(head) - 1))
		return 0;
	tail = memmem(b, len, "],\"users\":[", 11);
	if (!tail)
		return 0;
	x = memmem(tail, end - tail, "\"part\":", 7);
	if (x) {
		part = strtol(x + 7, NULL, 10);
		more = memmem(x, end - x, "\"more\":true", 11) != NULL;
	}
	if (part == 0)
		list_begins(d);
	else if (!d->listing || part != d->part_next)
		return -1;
	d->part_next = (unsigned int)part + 1;
	take_spans(d, p, tail);
	d->listing = more;
	if (!more)
		list_complete(d);
	return 1;
}

/*
 * The same for "peers_delta" ({"type":"peers_delta","set":[entries],
 * "del":[ids],...}, server/listout.c send_delta) and "pair_start" (nothing
 * to do here): a join sends one of each to every device, and jansson
 * parsing them was 40 % of the simulator's samples in a 1,000-device
 * restart. 0: not one; 1: taken; -1: a delta inside a list in parts.
 */
static int fast_delta(struct dev *d, const char *b, size_t len)
{
	static const char head[] = "{\"type\":\"peers_delta\",\"set\":[";
	static const char pstart[] = "{\"type\":\"pair_start\",";
	const char *p = b + sizeof(head) - 1, *end = b + len, *mid, *x;

	if (len >= sizeof(pstart) - 1 && !memcmp(b, pstart, sizeof(pstart) - 1))
		return 1;
	if (len < sizeof(head) || memcmp(b, head, sizeof(head) - 1))
		return 0;
	mid = memmem(b, len, "],\"del\":[", 9);
	if (!mid)
		return 0;
	if (d->listing)
		return -1;
	for (x = mid + 9; x < end && *x != ']';) {
		char *e;
		long id = strtol(x, &e, 10);

		if (e == x)
			break;
		if (id > 0 && id < (1 << 24))
			seen_set(d, (uint32_t)id, false, false);
		x = e < end && *e == ',' ? e + 1 : e;
	}
	take_spans(d, p, mid);
	return 1;
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct dev *d = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (d->bev == bev && evbuffer_get_length(in) >= 4) {
		unsigned char hdr[4];
		uint32_t len;
		json_t *m;

		evbuffer_copyout(in, hdr, 4);
		len = (uint32_t)hdr[0] << 24 | hdr[1] << 16 | hdr[2] << 8 | hdr[3];
		if (len == 0 || len > MAX_FRAME) {
			dev_down(d, "bad frame length");
			return;
		}
		if (evbuffer_get_length(in) < 4 + (size_t)len)
			break;
		evbuffer_drain(in, 4);
		{
			const char *body = (const char *)evbuffer_pullup(in, len);
			const char *why = "peer list part out of order";
			int f = fast_peers(d, body, len);

			if (!f) {
				f = fast_delta(d, body, len);
				why = "delta inside a list in parts";
			}
			if (f) {
				evbuffer_drain(in, len);
				if (f < 0) {
					dev_down(d, why);
					return;
				}
				continue;
			}
			m = json_loadb(body, len, 0, NULL);
		}
		evbuffer_drain(in, len);
		if (!m) {
			dev_down(d, "bad JSON");
			return;
		}
		on_message(d, m);
		json_decref(m);
	}
}

static int make_token(struct dev *d, const unsigned char *cb, struct jz_krb_buf *tok)
{
	char err[256];
	int r;

	if (!strcmp(method, "password")) {
		struct jz_krb_pw_cfg pc = { .user = user, .realm = realm, .password = password };
		struct jz_krb_pw_client *pw;

		r = jz_krb_pw_client_new(&pc, cb, 32, &pw, tok, err, sizeof(err));
		if (!r)
			jz_krb_pw_client_free(pw);
	} else {
		r = jz_krb_client_ap_req(krb, cb, 32, tok, err, sizeof(err));
	}
	if (r)
		fprintf(stderr, "jzsim: token: %s\n", err);
	return r;
}

static char *b64(const unsigned char *buf, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, buf, (int)len);
	return out;
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	static const char label[] = "EXPORTER-jazz-login";
	struct dev *d = arg;

	if (what & BEV_EVENT_CONNECTED) {
		SSL *ssl = bufferevent_openssl_get_ssl(bev);
		unsigned char cb[32];
		struct jz_krb_buf tok = { 0 };
		char name[96], *t;

		if (SSL_export_keying_material(ssl, cb, 32, label, sizeof(label) - 1,
					       NULL, 0, 0) != 1 || make_token(d, cb, &tok)) {
			dev_down(d, "no token");
			return;
		}
		snprintf(name, sizeof(name), "%s-%d", prefix, d->i);
		t = b64(tok.data, tok.len);
		jz_krb_buf_free(&tok);
		d->state = D_LOGIN;
		{
			/* a device identity key, as the server needs by default:
			 * a real X25519 public key (its private half unused) */
			EVP_PKEY *k = d->has_pub ? NULL : EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
			size_t pl = sizeof(d->pub);
			json_t *m = json_pack("{s:s,s:s,s:s,s:s,s:i,s:[],s:[ssss]}", "type",
					      "login", "method", method, "device", name,
					      "token", t, "listen_port", 51820, "other_data",
					      "features", "peers_delta", "key_swap_ack",
					      "peers_more", "peers_compact");

			if (k && EVP_PKEY_get_raw_public_key(k, d->pub, &pl) == 1 && pl == 32)
				d->has_pub = true;
			EVP_PKEY_free(k);
			if (d->has_pub) {
				char *p64 = b64(d->pub, 32);

				json_object_set_new(m, "pubkey", json_string(p64));
				free(p64);
			}
			d->known_due = false;
			if (!no_known && d->have_view && !d->listing) {
				unsigned char dg[32];
				uint32_t n;

				if (simlist_digest(d->seen, d->linkbits, d->seen_cap, dg, &n)) {
					char *d64 = b64(dg, 32);

					json_object_set_new(m, "peers_known",
							    json_pack("{s:s,s:I}", "digest", d64,
								      "count", (json_int_t)n));
					free(d64);
					d->known_due = true;
					d->known_count = n;
				}
			}
			send_json(d, m);
		}
		free(t);
		return;
	}
	dev_down(d, what & BEV_EVENT_EOF ? "closed" : "connection error");
}

static void start_login(struct dev *d)
{
	SSL *ssl = SSL_new(ctx);

	evutil_socket_t fd = -1;

	SSL_set_tlsext_host_name(ssl, "server.jazz.test");
	if (stall_s || slow_bps) {
		/* a small receive window, set before connect(): the server's
		 * bytes wait in its own buffers, not in this kernel's */
		int rb = 4096;

		fd = socket(sa.ss_family, SOCK_STREAM, 0);
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rb, sizeof(rb));
		evutil_make_socket_nonblocking(fd);
	}
	d->bev = bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_CONNECTING,
						BEV_OPT_CLOSE_ON_FREE);
	if (slow_cfg)
		bufferevent_set_rate_limit(d->bev, slow_cfg);
	bufferevent_setcb(d->bev, on_read, NULL, on_event, d);
	bufferevent_enable(d->bev, EV_READ | EV_WRITE);
	d->state = D_TLS;
	inflight++;
	if (bufferevent_socket_connect(d->bev, (struct sockaddr *)&sa, (int)salen))
		dev_down(d, "connect");
}

static void add_dev(void)
{
	struct dev *d = &devs[ndev];

	memset(d, 0, sizeof(*d));
	d->i = ndev++;
	d->state = D_WAIT;
	if (d->i < scan_from)
		scan_from = d->i;
}

/* Every online device of ours, and -x others, in every list? */
static bool all_complete(int n, bool report)
{
	int short_by = 0;

	if (online != n)
		return false;
	for (int i = 0; i < n; i++) {
		struct dev *d = &devs[i];
		size_t want = n - 1 + extra;

		if (!d->listed || d->listing || d->nseen != want) {
			if (report && short_by++ < 5)
				printf("fail %s-%d: %zu of %zu peers%s\n", prefix, i, d->nseen,
				       want, d->listed ? "" : ", no complete list");
			if (!report)
				return false;
		}
	}
	if (short_by)
		return false;
	/* the counts agree: now id by id */
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++)
			if (i != j && !seen_has(&devs[i], devs[j].id)) {
				if (report)
					printf("fail %s-%d lacks %s-%d\n", prefix, i, prefix, j);
				return false;
			}
	return true;
}

static void join_now(evutil_socket_t fd, short what, void *arg)
{
	cpu_base1 = server_cpu_ms();
	for (int i = 0; i < ndev; i++)
		devs[i].saw_joiner = false;
	joiner = ndev;
	add_dev();
	t_phase = now();
	cpu_join0 = server_cpu_split(&sys_join0);
	pump();
}

/* The next join, after a second that measures the server's idle CPU. */
static void next_join(void)
{
	struct timeval tv = { 1, 0 };

	if (join_no == joins) {
		phase = restart_mode ? 2 : 3;
		lost = false;
		if (phase == 3)
			rc = 0;
		return;
	}
	cpu_base0 = server_cpu_ms();
	event_base_once(base, -1, EV_TIMEOUT, join_now, NULL, &tv);
}

static void check_progress(void)
{
	static double t_lost;

	if (phase == 0 && all_complete(nbase, false)) {
		printf("complete %d %.3f\n", nbase, now() - t_phase);
		if (server_pid)
			printf("rss %ld %d\n", server_rss_kib(), nbase);
		fflush(stdout);
		phase = 1;
		next_join();
	} else if (phase == 1 && joiner >= 0 && devs[joiner].state == D_ONLINE &&
		   all_complete(ndev, false)) {
		double all = 0;

		for (int i = 0; i < ndev; i++)
			if (i != joiner && devs[i].t_saw_joiner - t_phase > all)
				all = devs[i].t_saw_joiner - t_phase;
		double sys, cpu = server_cpu_split(&sys) - cpu_join0, span = now() - t_phase;

		printf("join %s-%d %.3f %.3f", prefix, joiner,
		       devs[joiner].t_complete - t_phase, all);
		if (server_pid)	/* the baseline scaled to the join's span; system */
			printf(" %.0f %.0f %.0f", cpu, (cpu_base1 - cpu_base0) * span,
			       sys - sys_join0);
		printf("\n");
		fflush(stdout);
		join_no++;
		joiner = -1;
		next_join();
	} else if (phase == 2 && lost) {
		if (!t_lost) {
			t_lost = now();
			printf("lost %.3f\n", t_lost - t0);
			fflush(stdout);
		}
		if (all_complete(ndev, false)) {
			printf("recovered %d %.3f\n", ndev, now() - t_lost);
			printf("lists unchanged %d full %d\n", n_unchanged, n_lists);
			fflush(stdout);
			phase = 3;
			rc = 0;
		}
	}
	if (phase == 3 && !hold_s)
		event_base_loopbreak(base);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	static int last_online = -1;

	if (phase == 0 && online != last_online && online == nbase) {
		printf("online %d %.3f\n", online, now() - t_phase);
		fflush(stdout);
	}
	last_online = online;
	check_progress();
	if (now() - t0 > limit_s) {
		printf("timeout after %.0f s: phase %d, %d online\n", limit_s, phase, online);
		all_complete(ndev, true);
		event_base_loopbreak(base);
	}
}

/* Like jazzd: a ping every keepalive, spread over the devices (1/K each second). */
static void on_ping_tick(evutil_socket_t fd, short what, void *arg)
{
	static unsigned long tick;

	tick++;
	for (int i = 0; i < ndev; i++)
		if (devs[i].state == D_ONLINE && (unsigned long)i % keepalive_s == tick % keepalive_s)
			send_json(&devs[i], json_pack("{s:s}", "type", "ping"));
}

static void on_hold_end(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(base);
}

static void on_hold(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { hold_s, 0 };

	if (phase == 3) {
		event_base_once(base, -1, EV_TIMEOUT, on_hold_end, NULL, &tv);
		return;
	}
	tv = (struct timeval){ 0, 100000 };
	event_base_once(base, -1, EV_TIMEOUT, on_hold, NULL, &tv);
}

int main(int argc, char **argv)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	struct timeval tick = { 0, 20000 };
	struct event *tick_ev;
	char host[128], err[256];
	const char *colon;
	int o;

	while ((o = getopt(argc, argv, "s:C:S:c:m:u:p:r:d:P:x:j:RH:T:vk:z:Z:K")) != -1) {
		switch (o) {
		case 's': server = optarg; break;
		case 'C': cafile = optarg; break;
		case 'S': service = optarg; break;
		case 'c': ccache = optarg; break;
		case 'm': method = optarg; break;
		case 'u': user = optarg; break;
		case 'p': password = optarg; break;
		case 'r': realm = optarg; break;
		case 'd': prefix = optarg; break;
		case 'P': inflight_max = atoi(optarg); break;
		case 'x': extra = atoi(optarg); break;
		case 'j': joins = atoi(optarg); break;
		case 'R': restart_mode = 1; break;
		case 'H': hold_s = atoi(optarg); break;
		case 'T': limit_s = atof(optarg); break;
		case 'v': verbose = 1; break;
		case 'K': no_known = true; break;
		case 'k': server_pid = atoi(optarg); break;
		case 'z': stall_s = atoi(optarg); break;
		case 'Z': slow_bps = atoi(optarg); break;
		default: return 2;
		}
	}
	if (optind >= argc || (nbase = atoi(argv[optind])) < 1) {
		fprintf(stderr, "usage: jzsim [options] N\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	colon = strrchr(server, ':');
	snprintf(host, sizeof(host), "%.*s", (int)(colon - server), server);
	if (getaddrinfo(host, colon + 1, &hints, &ai))
		return 2;
	memcpy(&sa, ai->ai_addr, ai->ai_addrlen);
	salen = ai->ai_addrlen;
	freeaddrinfo(ai);
	ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (cafile) {
		SSL_CTX_load_verify_locations(ctx, cafile, NULL);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	if (strcmp(method, "password")) {
		struct jz_krb_client_cfg kc = { .ccache = ccache, .service = service };

		if (jz_krb_client_new(&kc, &krb, err, sizeof(err))) {
			fprintf(stderr, "jzsim: %s\n", err);
			return 2;
		}
	}
	devs = calloc(nbase + joins + 1, sizeof(*devs));
	for (int i = 0; i < nbase; i++)
		add_dev();
	base = event_base_new();
	if (stall_s)
		event_add(evsignal_new(base, SIGUSR1, on_usr1, NULL), NULL);
	if (slow_bps > 0) {
		struct timeval tick = { 0, 100000 };

		slow_cfg = ev_token_bucket_cfg_new(slow_bps / 10 ?: 1, slow_bps / 10 ?: 1,
						   EV_RATE_LIMIT_MAX, EV_RATE_LIMIT_MAX, &tick);
	}
	t0 = t_phase = now();
	tick_ev = event_new(base, -1, EV_PERSIST, on_tick, NULL);
	event_add(tick_ev, &tick);
	event_add(event_new(base, -1, EV_PERSIST, on_ping_tick, NULL), &(struct timeval){ 1, 0 });
	if (hold_s)
		on_hold(-1, 0, NULL);
	pump();
	event_base_dispatch(base);
	if (rc)
		all_complete(ndev, true);
	return rc;
}
