// SPDX-License-Identifier: GPL-2.0
/*
 * The metrics themselves: atomic counters and gauges, fixed-bucket
 * histograms, and the Prometheus text format (version 0.0.4) they render
 * to. Written by the event loop (and callback workers), read by the HTTP
 * listener's thread: every value is a relaxed atomic; the table of failure
 * reasons is appended under a mutex and bounded (reasons come from jazzd's
 * own code, but a bound keeps a bug from growing the page without limit).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics.h"
#include "metrics_int.h"

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define ADD(x, v) __atomic_add_fetch(&(x), (v), __ATOMIC_RELAXED)

/* Upper bounds in seconds; the last bucket is +Inf. */
static const double login_bounds[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
					0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
#define NB (sizeof(login_bounds) / sizeof(login_bounds[0]))

struct histo {
	uint64_t bucket[NB + 1];	/* non-cumulative counts */
	uint64_t sum_ns;
	uint64_t count;
};

#define MAX_REASONS 32
struct reason {
	char name[40];
	uint64_t n;
};

static struct {
	int64_t sessions;
	int64_t online;
	uint64_t logins;
	struct histo login;
	struct histo approval[2];	/* deny, approve */
	pthread_mutex_t lock;	/* reasons[] appends and reads of names */
	struct reason reasons[MAX_REASONS];
	unsigned n_reasons;
	uint64_t reasons_dropped;
	struct {
		char name[24];
		struct histo h;
	} cbs[16];		/* appended under lock */
	unsigned n_cbs;
	uint64_t cb_calls, cb_timeouts, cb_errors;
	/* the event bus: one snapshot, swapped under lock */
	struct jz_metrics_bus bus;
} m = { .lock = PTHREAD_MUTEX_INITIALIZER };

uint64_t jz_metrics_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void jz_metrics_session(int delta)
{
	ADD(m.sessions, delta);
}

void jz_metrics_online(int delta)
{
	ADD(m.online, delta);
}

static void histo_observe(struct histo *h, uint64_t ns)
{
	size_t i = 0;

	while (i < NB && (double)ns > login_bounds[i] * 1e9)
		i++;
	ADD(h->bucket[i], 1);
	ADD(h->sum_ns, ns);
	ADD(h->count, 1);
}

void jz_metrics_login_ok(uint64_t started_ns)
{
	uint64_t now = jz_metrics_now_ns();

	ADD(m.logins, 1);
	if (started_ns && now >= started_ns)
		histo_observe(&m.login, now - started_ns);
}

void jz_metrics_approval(uint64_t started_ns, bool approve)
{
	uint64_t now = jz_metrics_now_ns();

	if (started_ns && now >= started_ns)
		histo_observe(&m.approval[approve], now - started_ns);
}

/* A label value is one of jazzd's reason words: keep [a-z0-9-] only. */
static int reason_ok(const char *r)
{
	size_t i;

	for (i = 0; r[i]; i++)
		if (!((r[i] >= 'a' && r[i] <= 'z') || (r[i] >= '0' && r[i] <= '9') || r[i] == '-'))
			return 0;
	return i > 0 && i < sizeof(m.reasons[0].name);
}

void jz_metrics_login_failed(const char *reason)
{
	unsigned i;

	if (!reason || !reason_ok(reason))
		reason = "other";
	pthread_mutex_lock(&m.lock);
	for (i = 0; i < m.n_reasons; i++)
		if (!strcmp(m.reasons[i].name, reason))
			break;
	if (i == m.n_reasons) {
		if (i == MAX_REASONS) {
			m.reasons_dropped++;
			pthread_mutex_unlock(&m.lock);
			return;
		}
		snprintf(m.reasons[i].name, sizeof(m.reasons[i].name), "%s", reason);
		m.n_reasons++;
	}
	ADD(m.reasons[i].n, 1);
	pthread_mutex_unlock(&m.lock);
}

void jz_metrics_callback_duration(const char *callback, uint64_t ns)
{
	unsigned i;

	pthread_mutex_lock(&m.lock);
	for (i = 0; i < m.n_cbs; i++)
		if (!strcmp(m.cbs[i].name, callback))
			break;
	if (i == m.n_cbs) {
		if (i == sizeof(m.cbs) / sizeof(m.cbs[0])) {
			pthread_mutex_unlock(&m.lock);
			return;
		}
		snprintf(m.cbs[i].name, sizeof(m.cbs[i].name), "%s", callback);
		m.n_cbs++;
	}
	pthread_mutex_unlock(&m.lock);
	histo_observe(&m.cbs[i].h, ns);
}

void jz_metrics_set_callbacks(uint64_t calls, uint64_t timeouts, uint64_t errors)
{
	__atomic_store_n(&m.cb_calls, calls, __ATOMIC_RELAXED);
	__atomic_store_n(&m.cb_timeouts, timeouts, __ATOMIC_RELAXED);
	__atomic_store_n(&m.cb_errors, errors, __ATOMIC_RELAXED);
}

void jz_metrics_set_bus(const struct jz_metrics_bus *b)
{
	pthread_mutex_lock(&m.lock);
	m.bus = *b;
	pthread_mutex_unlock(&m.lock);
}

/* One histogram's samples; LABEL is "" or 'name="value",'. */
static void render_histo_samples(FILE *f, const char *name, const char *label, struct histo *h)
{
	uint64_t cum = 0;
	size_t i;

	for (i = 0; i < NB; i++) {
		cum += LOAD(h->bucket[i]);
		fprintf(f, "%s_bucket{%sle=\"%g\"} %llu\n", name, label, login_bounds[i],
			(unsigned long long)cum);
	}
	cum += LOAD(h->bucket[NB]);
	fprintf(f, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, label, (unsigned long long)cum);
	/* label without its trailing comma for _sum/_count */
	if (*label)
		fprintf(f, "%s_sum{%.*s} %.9f\n%s_count{%.*s} %llu\n", name,
			(int)strlen(label) - 1, label, (double)LOAD(h->sum_ns) / 1e9, name,
			(int)strlen(label) - 1, label, (unsigned long long)cum);
	else
		/* count = the +Inf bucket, even while an observation is half done */
		fprintf(f, "%s_sum %.9f\n%s_count %llu\n", name, (double)LOAD(h->sum_ns) / 1e9,
			name, (unsigned long long)cum);
}

static void render_histo(FILE *f, const char *name, const char *help, struct histo *h)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	render_histo_samples(f, name, "", h);
}

static void render_one(FILE *f, const char *name, const char *type, const char *help,
		       unsigned long long v)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name, v);
}

static void render_callbacks_bus(FILE *f)
{
	struct jz_metrics_bus b;
	char label[64];
	unsigned i;

	fprintf(f, "# HELP jazz_callback_duration_seconds Run time of policy callbacks on the workers.\n"
		   "# TYPE jazz_callback_duration_seconds histogram\n");
	pthread_mutex_lock(&m.lock);
	for (i = 0; i < m.n_cbs; i++) {
		snprintf(label, sizeof(label), "callback=\"%s\",", m.cbs[i].name);
		render_histo_samples(f, "jazz_callback_duration_seconds", label, &m.cbs[i].h);
	}
	b = m.bus;
	pthread_mutex_unlock(&m.lock);
	render_one(f, "jazz_callback_calls_total", "counter", "Policy callback calls.",
		   LOAD(m.cb_calls));
	render_one(f, "jazz_callback_timeouts_total", "counter",
		   "Policy callbacks abandoned at timeout_ms (answered fail-closed).",
		   LOAD(m.cb_timeouts));
	render_one(f, "jazz_callback_errors_total", "counter",
		   "Policy callbacks that failed or answered invalidly (fail-closed).",
		   LOAD(m.cb_errors));
	if (!b.configured)
		return;
	fprintf(f, "# HELP jazz_redis_connected Redis connection up (1) or not (0).\n"
		   "# TYPE jazz_redis_connected gauge\n"
		   "jazz_redis_connected{connection=\"publish\"} %d\n"
		   "jazz_redis_connected{connection=\"subscribe\"} %d\n",
		b.pub_connected, b.sub_connected);
	render_one(f, "jazz_events_buffered", "gauge",
		   "Events waiting for Redis or in flight.", b.buffered);
	render_one(f, "jazz_events_published_total", "counter",
		   "Events acknowledged by Redis.", b.published);
	render_one(f, "jazz_events_dropped_total", "counter",
		   "Events dropped (buffer full or refused).", b.dropped);
	render_one(f, "jazz_redis_reconnects_total", "counter", "Redis reconnects.",
		   b.reconnects);
	render_one(f, "jazz_handler_runs_total", "counter", "Event handler runs finished.",
		   b.handler_runs);
	render_one(f, "jazz_handler_failures_total", "counter", "Event handler runs that failed.",
		   b.handler_failures);
	render_one(f, "jazz_handlers_dropped_total", "counter",
		   "Event handler runs dropped (queue full).", b.handler_dropped);
}

char *jz_metrics_render(size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	unsigned i;

	if (!f)
		return NULL;
	fprintf(f, "# HELP jazz_sessions TLS control connections open (any state).\n"
		   "# TYPE jazz_sessions gauge\njazz_sessions %lld\n",
		(long long)LOAD(m.sessions));
	fprintf(f, "# HELP jazz_devices_online Devices logged in.\n"
		   "# TYPE jazz_devices_online gauge\njazz_devices_online %lld\n",
		(long long)LOAD(m.online));
	fprintf(f, "# HELP jazz_logins_total Successful logins.\n"
		   "# TYPE jazz_logins_total counter\njazz_logins_total %llu\n",
		(unsigned long long)LOAD(m.logins));
	fprintf(f, "# HELP jazz_login_failures_total Failed logins by reason.\n"
		   "# TYPE jazz_login_failures_total counter\n");
	pthread_mutex_lock(&m.lock);
	for (i = 0; i < m.n_reasons; i++)
		fprintf(f, "jazz_login_failures_total{reason=\"%s\"} %llu\n", m.reasons[i].name,
			(unsigned long long)LOAD(m.reasons[i].n));
	pthread_mutex_unlock(&m.lock);
	render_histo(f, "jazz_login_duration_seconds",
		     "Time from the login message to the welcome.", &m.login);
	fprintf(f, "# HELP jazz_approval_duration_seconds Connection approvals: request to verdict.\n"
		   "# TYPE jazz_approval_duration_seconds histogram\n");
	render_histo_samples(f, "jazz_approval_duration_seconds", "verdict=\"approve\",",
			     &m.approval[1]);
	render_histo_samples(f, "jazz_approval_duration_seconds", "verdict=\"deny\",",
			     &m.approval[0]);
	render_callbacks_bus(f);
	jz_metrics_render_kernel(f);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}
