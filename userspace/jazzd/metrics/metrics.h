// SPDX-License-Identifier: GPL-2.0
/*
 * metrics/: jazzd's Prometheus metrics (docs/METRICS.md) and the opt-in
 * HTTP listener that serves them ([metrics] listen; off by default).
 *
 * Owns the counters, gauges and histograms and their text rendering
 * (metrics.c; the client's kernel counters in kernel.c) and the
 * libmicrohttpd listener (http.c); must not read any
 * other folder's state: the event loop and the callback workers push
 * values through the jz_metrics_* calls below, which are lock-free
 * (atomics) except the first use of a new failure reason.
 */
#ifndef JZ_METRICS_H
#define JZ_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/kernel.h"

/* Start serving GET /metrics on LISTEN ("ip:port", "[ip6]:port"); NULL or
 * "" = off. Returns -1 with a message in ERR. */
int jz_metrics_start(const char *listen, char *err, size_t errlen);
void jz_metrics_stop(void);

uint64_t jz_metrics_now_ns(void);	/* CLOCK_MONOTONIC */

/* server */
void jz_metrics_session(int delta);	/* TLS connections open */
void jz_metrics_online(int delta);	/* devices logged in */
void jz_metrics_login_ok(uint64_t started_ns);
void jz_metrics_login_failed(const char *reason);
/* A connection approval decided: from the request's arrival to the verdict
 * going out (callback or verdict cache). */
void jz_metrics_approval(uint64_t started_ns, bool approve);

/* policy callbacks: one call's run time on a worker (by callback name, at
 * most 16 names); totals sampled from the loop (jz_callbacks_stats). */
void jz_metrics_callback_duration(const char *callback, uint64_t ns);
void jz_metrics_set_callbacks(uint64_t calls, uint64_t timeouts, uint64_t errors);

/* The event bus, sampled from the loop once a second (jz_bus_get_stats). */
struct jz_metrics_bus {
	bool configured, pub_connected, sub_connected;
	uint64_t buffered, published, dropped, reconnects;
	uint64_t handler_runs, handler_failures, handler_dropped;
};
void jz_metrics_set_bus(const struct jz_metrics_bus *b);

/* client: the kernel device's counters, read by the client once a second
 * (at most JZ_METRICS_MAX_PEERS peers are kept), or a failed reading. */
#define JZ_METRICS_MAX_PEERS 256
void jz_metrics_set_kernel(const struct jz_kstats *st);
void jz_metrics_kernel_error(void);

/* Rendering, for the listener and tests: a malloc'd text page. */
char *jz_metrics_render(size_t *len);

#endif
