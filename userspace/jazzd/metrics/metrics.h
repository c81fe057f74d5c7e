// SPDX-License-Identifier: GPL-2.0
/*
 * metrics/: jazzd's Prometheus metrics (docs/METRICS.md) and the opt-in
 * HTTP listener that serves them ([metrics] listen; off by default).
 *
 * Owns the counters, gauges and histograms and their text rendering
 * (metrics.c) and the libmicrohttpd listener (http.c); must not read any
 * other folder's state: the event loop and the callback workers push
 * values through the jz_metrics_* calls below, which are lock-free
 * (atomics) except the first use of a new failure reason.
 */
#ifndef JZ_METRICS_H
#define JZ_METRICS_H

#include <stddef.h>
#include <stdint.h>

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

/* Rendering, for the listener and tests: a malloc'd text page. */
char *jz_metrics_render(size_t *len);

#endif
