// SPDX-License-Identifier: GPL-2.0
/*
 * cbbench: callback calls per second through jazzd's own dispatcher
 * (userspace/jazzd/policy/callbacks.c: worker pool, pipe back to the libevent
 * loop, per-call timer), as the daemon makes them. One backend per run.
 *
 *   cbbench plugin|python PATH CALLS IN_FLIGHT THREADS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>

#include "core/jazzd.h"
#include "policy/callbacks.h"
#include "log.h"

static struct jz_callbacks *cb;
static struct event_base *base;
static long total, submitted, completed, approved, failed;

static void submit(void);

static void done(void *arg, struct jz_cb_call *c)
{
	completed++;
	if (c->failed)
		failed++;
	else if (c->u.conn.reply.approve)
		approved++;
	if (submitted < total)
		submit();
	else if (completed == total)
		event_base_loopbreak(base);
}

static void submit(void)
{
	struct jz_cb_call *c = jz_cb_call_new(JZ_CB_PEER_CONNECTION);
	struct jazz_connection_info *i = &c->u.conn.info;

	i->origin_username = jz_cb_strdup(c, "alice");
	i->origin_realm = jz_cb_strdup(c, "EXAMPLE.ORG");
	i->origin_device = jz_cb_strdup(c, "laptop");
	snprintf(i->origin.ip, sizeof(i->origin.ip), "10.99.0.2");
	i->origin.port = 40000;
	i->destination_device = jz_cb_strdup(c, "printer");
	snprintf(i->destination.ip, sizeof(i->destination.ip), "10.99.0.7");
	i->destination.port = 631;
	i->protocol = jz_cb_strdup(c, "tcp");
	submitted++;
	jz_cb_submit(cb, c, done, NULL);
}

int main(int argc, char **argv)
{
	struct jz_config cfg;
	struct timespec t0, t1;
	char err[512];
	long inflight;
	double dt;

	if (argc != 6) {
		fprintf(stderr, "usage: cbbench plugin|python PATH CALLS IN_FLIGHT THREADS\n");
		return 2;
	}
	jz_log_open("cbbench", JZ_LOG_STDERR, LOG_WARNING);
	memset(&cfg, 0, sizeof(cfg));
	if (!strcmp(argv[1], "plugin"))
		cfg.plugin = argv[2];
	else
		cfg.python = argv[2];
	cfg.order = "plugin,python";
	cfg.cb_timeout_ms = 10000;
	total = atol(argv[3]);
	inflight = atol(argv[4]);
	cfg.cb_threads = atoi(argv[5]);
	base = event_base_new();
	cb = jz_callbacks_new(base, &cfg, err, sizeof(err));
	if (!cb) {
		fprintf(stderr, "cbbench: %s\n", err);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long k = 0; k < inflight && submitted < total; k++)
		submit();
	event_base_dispatch(base);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	dt = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("cbbench backend=%s calls=%ld approved=%ld failed=%ld in_flight=%ld "
	       "threads=%d seconds=%.3f calls_per_s=%.0f\n", argv[1], completed, approved,
	       failed, inflight, cfg.cb_threads, dt, completed / dt);
	/* worker threads are left running: the process ends here */
	fflush(stdout);
	_exit(failed || approved != total);
}

/* metrics.c renders the kernel counters of a client too; this benchmark
 * has no kernel backend, so that part of the page is empty. */
void jz_metrics_render_kernel(FILE *f);
void jz_metrics_render_kernel(FILE *f)
{
	(void)f;
}
