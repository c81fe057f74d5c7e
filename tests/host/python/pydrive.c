// SPDX-License-Identifier: GPL-2.0
/*
 * pydrive: drives a callback backend (policy/python*.c, or plugin.c for
 * the benchmark) directly, the way policy/callbacks.c does: calls from worker
 * threads, interrupt() on a late call. Built by tests/host/python.sh.
 *
 *   pydrive COMMAND ARGS... [COMMAND ARGS...]...
 *
 *   load PATH | plugin PATH           load a backend (the current one)
 *   accept IP PORT
 *   user_key USER REALM IP PORT ENCTYPE
 *   validate USER REALM DEVICE IP PORT METHOD ROUND N CODE=VALUE*N
 *   filter USER REALM IP PORT NU USER@REALM*NU NP DEV/USER@REALM/VIP4/VIP6*NP
 *   conn OUSER OREALM ODEV OIP OPORT DDEV DIP DPORT PROTO
 *   bg COMMAND...     run the next command on a background thread
 *   interrupt MS      MS after bg started, call interrupt() on its thread
 *   join MS           wait at most MS for bg; print its result or "still running"
 *   sleep MS
 *   bench N THREADS   N peer_connection calls from THREADS threads
 *
 * Each call prints one line: "<cmd> rc=<rc> ..." with the reply fields.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "policy/backend.h"
#include "log.h"

static struct jz_backend *cur;
static pthread_mutex_t serial = PTHREAD_MUTEX_INITIALIZER;

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void endpoint(struct jazz_endpoint *e, const char *ip, const char *port)
{
	snprintf(e->ip, sizeof(e->ip), "%s", ip);
	e->port = (uint16_t)atoi(port);
}

static char *split(char *s, char c)
{
	char *p = strchr(s, c);

	if (!p)
		return s + strlen(s);
	*p = 0;
	return p + 1;
}

/* Runs one call command at argv; returns how many words it used. */
static int run_call(char **argv, char *out, size_t outlen)
{
	const char *cmd = argv[0];
	int rc = -99, used;

	if (!cur) {
		snprintf(out, outlen, "%s: no backend", cmd);
		return -1;
	}
	if (!cur->concurrent)
		pthread_mutex_lock(&serial);
	if (!strcmp(cmd, "accept")) {
		struct jazz_accept_info i = { 0 };
		int a = -1;

		endpoint(&i.source, argv[1], argv[2]);
		used = 3;
		if (cur->accept_conn)
			rc = cur->accept_conn(cur, &i, &a);
		snprintf(out, outlen, "accept rc=%d accept=%d", rc, a);
	} else if (!strcmp(cmd, "user_key")) {
		struct jazz_user_key_request r = { argv[1], argv[2], { "", 0 }, argv[5] };
		struct jazz_user_key_reply o;
		char hex[2 * JAZZ_RAW_KEY_MAX + 1] = "";

		memset(&o, 0x55, sizeof(o));
		endpoint(&r.source, argv[3], argv[4]);
		used = 6;
		if (cur->user_key)
			rc = cur->user_key(cur, &r, &o);
		if (rc == 0 && o.kind == JAZZ_USER_KEY_RAW)
			for (size_t k = 0; k < o.key_len && k < JAZZ_RAW_KEY_MAX; k++)
				sprintf(hex + 2 * k, "%02x", o.key[k]);
		snprintf(out, outlen, "user_key rc=%d kind=%s password=%s key=%s", rc,
			 rc ? "-" : o.kind == JAZZ_USER_KEY_PASSWORD ? "password" :
			 o.kind == JAZZ_USER_KEY_RAW ? "raw" :
			 o.kind == JAZZ_USER_KEY_UNKNOWN_USER ? "unknown" : "?",
			 rc == 0 && o.kind == JAZZ_USER_KEY_PASSWORD ? o.password : "", hex);
	} else if (!strcmp(cmd, "validate")) {
		struct jazz_validate_request r = { argv[1], argv[2], argv[3] };
		struct jazz_validate_reply o;
		struct jazz_data_item items[16];
		size_t n = (size_t)atoi(argv[8]);
		int len;

		endpoint(&r.source, argv[4], argv[5]);
		r.method = argv[6];
		r.round = (unsigned)atoi(argv[7]);
		for (size_t k = 0; k < n && k < 16; k++) {
			items[k].code = argv[9 + k];
			items[k].value = split(argv[9 + k], '=');
		}
		r.other_data = items;
		r.n_other_data = n;
		used = 9 + (int)n;
		memset(&o, 0, sizeof(o));
		if (cur->validate_user)
			rc = cur->validate_user(cur, &r, &o);
		len = snprintf(out, outlen, "validate rc=%d status=%d message=%s prompts=",
			       rc, (int)o.status, o.message);
		for (size_t k = 0; k < o.n_prompts && len < (int)outlen; k++)
			len += snprintf(out + len, outlen - len, "%s[%s|%s|%d]", k ? "," : "",
					o.prompts[k].code, o.prompts[k].text, o.prompts[k].secret);
	} else if (!strcmp(cmd, "filter")) {
		struct jazz_peer_review r = { argv[1], argv[2] };
		struct jazz_user_entry users[16];
		struct jazz_peer_entry peers[16];
		unsigned char ku[16], kp[16];
		int a = 6, len;

		endpoint(&r.source, argv[3], argv[4]);
		r.n_users = (size_t)atoi(argv[5]);
		for (size_t k = 0; k < r.n_users; k++, a++) {
			users[k].username = argv[a];
			users[k].realm = split(argv[a], '@');
		}
		r.n_peers = (size_t)atoi(argv[a++]);
		for (size_t k = 0; k < r.n_peers; k++, a++) {
			peers[k].device = argv[a];
			peers[k].username = split(argv[a], '/');
			peers[k].realm = split((char *)peers[k].username, '@');
			peers[k].vip4 = split((char *)peers[k].realm, '/');
			peers[k].vip6 = split((char *)peers[k].vip4, '/');
		}
		r.users = users;
		r.peers = peers;
		used = a;
		memset(ku, 9, sizeof(ku));
		memset(kp, 9, sizeof(kp));
		if (cur->peer_filter)
			rc = cur->peer_filter(cur, &r, ku, kp);
		len = snprintf(out, outlen, "filter rc=%d users=", rc);
		for (size_t k = 0; k < r.n_users; k++)
			len += snprintf(out + len, outlen - len, "%d", ku[k]);
		len += snprintf(out + len, outlen - len, " peers=");
		for (size_t k = 0; k < r.n_peers; k++)
			len += snprintf(out + len, outlen - len, "%d", kp[k]);
	} else if (!strcmp(cmd, "conn")) {
		struct jazz_connection_info i = { argv[1], argv[2], argv[3] };
		struct jazz_connection_reply o = { -1, 0 };

		endpoint(&i.origin, argv[4], argv[5]);
		i.destination_device = argv[6];
		endpoint(&i.destination, argv[7], argv[8]);
		i.protocol = argv[9];
		used = 10;
		if (cur->peer_connection)
			rc = cur->peer_connection(cur, &i, &o);
		snprintf(out, outlen, "conn rc=%d approve=%d lifetime=%u", rc, o.approve,
			 o.lifetime_s);
	} else {
		used = -1;
		snprintf(out, outlen, "unknown command %s", cmd);
	}
	if (!cur->concurrent)
		pthread_mutex_unlock(&serial);
	if (rc == -99 && used > 0)
		snprintf(out, outlen, "%s undefined", cmd);
	return used;
}

/* ---- background call --------------------------------------------------- */

static struct {
	pthread_t th;
	char **argv;
	char out[1024];
	double start, end;
	volatile int done;
	volatile unsigned long tid;
} bg;

static void *bg_main(void *arg)
{
	bg.tid = (unsigned long)pthread_self();
	run_call(bg.argv, bg.out, sizeof(bg.out));
	bg.end = now();
	__atomic_store_n(&bg.done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* ---- benchmark --------------------------------------------------------- */

static long bench_left;

static void *bench_main(void *arg)
{
	struct jazz_connection_info i = { "alice", "EXAMPLE.ORG", "laptop",
		{ "10.99.0.2", 40000 }, "printer", { "10.99.0.7", 631 }, "tcp" };
	struct jazz_connection_reply o;
	long *ok = arg;

	while (__atomic_sub_fetch(&bench_left, 1, __ATOMIC_RELAXED) >= 0) {
		int rc;

		if (!cur->concurrent)
			pthread_mutex_lock(&serial);
		rc = cur->peer_connection(cur, &i, &o);
		if (!cur->concurrent)
			pthread_mutex_unlock(&serial);
		if (rc == 0 && o.approve)
			(*ok)++;
	}
	return NULL;
}

static void bench(long n, int threads)
{
	pthread_t th[64];
	long ok[64] = { 0 }, total = 0;
	double t0, dt;

	if (!cur || !cur->peer_connection) {
		printf("bench: no peer_connection\n");
		return;
	}
	if (threads < 1 || threads > 64)
		threads = 1;
	bench_left = n;
	t0 = now();
	for (int k = 0; k < threads; k++)
		pthread_create(&th[k], NULL, bench_main, &ok[k]);
	for (int k = 0; k < threads; k++) {
		pthread_join(th[k], NULL);
		total += ok[k];
	}
	dt = now() - t0;
	printf("bench backend=%s calls=%ld approved=%ld threads=%d seconds=%.3f "
	       "calls_per_s=%.0f\n", cur->name, n, total, threads, dt, n / dt);
}

int main(int argc, char **argv)
{
	char err[1024], out[1024];
	int a = 1;

	jz_log_open("pydrive", JZ_LOG_STDERR,
		    getenv("PYDRIVE_QUIET") ? LOG_WARNING : LOG_DEBUG);
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (a < argc) {
		const char *cmd = argv[a];

		if (!strcmp(cmd, "load") || !strcmp(cmd, "plugin")) {
			struct jz_backend *b = !strcmp(cmd, "load") ?
				jz_python_load(argv[a + 1], err, sizeof(err)) :
				jz_plugin_load(argv[a + 1], err, sizeof(err));

			if (b) {
				/* the old one stays loaded, like calls in flight do */
				cur = b;
				printf("load ok %s\n", b->name);
			} else {
				printf("load failed: %s\n", err);
			}
			a += 2;
		} else if (!strcmp(cmd, "bg")) {
			bg.argv = &argv[a + 1];
			bg.start = now();
			bg.done = 0;
			pthread_create(&bg.th, NULL, bg_main, NULL);
			a++;
			/* skip the command bg runs (by its arity) */
			a += !strcmp(argv[a], "accept") ? 3 : !strcmp(argv[a], "conn") ? 10 :
			     !strcmp(argv[a], "user_key") ? 6 :
			     !strcmp(argv[a], "validate") ? 9 + atoi(argv[a + 8]) : 1;
		} else if (!strcmp(cmd, "interrupt")) {
			double until = bg.start + atoi(argv[a + 1]) / 1000.0;

			while (now() < until)
				usleep(1000);
			while (!bg.tid)
				usleep(1000);
			if (cur && cur->interrupt)
				cur->interrupt(cur, bg.tid);
			printf("interrupt sent\n");
			a += 2;
		} else if (!strcmp(cmd, "join")) {
			double until = now() + atoi(argv[a + 1]) / 1000.0;

			while (!__atomic_load_n(&bg.done, __ATOMIC_SEQ_CST) && now() < until)
				usleep(1000);
			if (bg.done) {
				pthread_join(bg.th, NULL);
				printf("%s elapsed_ms=%.0f\n", bg.out, (bg.end - bg.start) * 1000);
			} else {
				printf("bg still running after %.0f ms\n", (now() - bg.start) * 1000);
			}
			a += 2;
		} else if (!strcmp(cmd, "sleep")) {
			usleep(atoi(argv[a + 1]) * 1000);
			a += 2;
		} else if (!strcmp(cmd, "bench")) {
			bench(atol(argv[a + 1]), atoi(argv[a + 2]));
			a += 3;
		} else {
			double t0 = now();
			int used = run_call(&argv[a], out, sizeof(out));

			if (used <= 0) {
				printf("%s\n", out);
				return 2;
			}
			printf("%s elapsed_ms=%.0f\n", out, (now() - t0) * 1000);
			a += used;
		}
	}
	return 0;
}
