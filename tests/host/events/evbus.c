// SPDX-License-Identifier: GPL-2.0
/*
 * evbus: drives the jazzd event bus (events/: bus.c, bus_config.c, handlers.c, eventsgw.c) without
 * the rest of the daemon, for tests/host/events*.sh and scripts/bench-events.sh.
 *
 *   evbus [options] CONFIG
 *     -e NAME=JSON   publish one event (repeatable, in order)
 *     -N COUNT       publish NAME COUNT times with payload {"seq":i} (needs -E)
 *     -E NAME        event name for -N
 *     -i MS          interval between -N events (default 0: all at once)
 *     -R FILE        create FILE once subscribed (and publisher connected)
 *     -x MS          exit after MS of idleness: nothing buffered, queued or running
 *     -T SEC         exit after SEC seconds anyway
 *     -S FILE        write the counters as JSON to FILE at exit
 *     -0             publish at once, without waiting for Redis
 *     -v             debug log
 * CONFIG holds [redis] and [events] like jazzd.conf; SIGHUP reloads it;
 * SIGUSR1 is jazzd's graceful stop (jz_bus_drain), exit status 0 after it.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <ini.h>

#include "events/bus.h"
#include "log.h"

struct ev_pub { char *name; char *json; };

static struct {
	const char *conf;
	struct event_base *base;
	struct jz_bus *bus;
	struct ev_pub pubs[256];
	int npubs;
	const char *flood_name;
	long flood_n, flood_done;
	int interval_ms;
	const char *ready_file;
	bool ready;
	int idle_ms;
	double idle_since;
	double t_start, t_first_pub, t_pub_done, t_handled;
	unsigned long published_at_done;
	const char *stats_file;
	bool nowait, want_pub, want_sub;
	int rc;
} g;

struct cfg_ctx { struct jz_bus_config *c; char err[256]; int bad; };

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cfg_cb(void *u, const char *s, const char *n, const char *v)
{
	struct cfg_ctx *x = u;
	int rc = jz_bus_config_set(x->c, s, n, v, x->err, sizeof(x->err));

	if (rc < 0) {
		x->bad = 1;
		return 0;
	}
	return 1;
}

static int load(struct jz_bus_config *c)
{
	struct cfg_ctx x = { c, "", 0 };
	int rc;

	jz_bus_config_init(c);
	rc = ini_parse(g.conf, cfg_cb, &x);
	if (rc || x.bad) {
		jz_err("%s: %s (line %d)", g.conf, x.err, rc);
		jz_bus_config_free(c);
		return -1;
	}
	return 0;
}

static void publish_flood_one(void)
{
	json_t *p = json_pack("{sI}", "seq", (json_int_t)++g.flood_done);

	jz_bus_publish(g.bus, g.flood_name, p);
}

static void on_flood(evutil_socket_t fd, short w, void *arg)
{
	struct event *ev = *(struct event **)arg;
	struct timeval tv = { g.interval_ms / 1000, (g.interval_ms % 1000) * 1000 };

	if (g.flood_done < g.flood_n) {
		publish_flood_one();
		if (g.flood_done < g.flood_n)
			evtimer_add(ev, &tv);
		else
			g.t_pub_done = now();
	}
}

static void start_publishing(void)
{
	static struct event *flood;

	g.t_first_pub = now();
	for (int i = 0; i < g.npubs; i++) {
		json_error_t e;
		json_t *j = json_loads(g.pubs[i].json, JSON_DECODE_ANY, &e);

		if (!j)
			j = json_string(g.pubs[i].json);	/* a test of raw payloads */
		jz_bus_publish(g.bus, g.pubs[i].name, j);
	}
	if (g.flood_n && !g.interval_ms) {
		while (g.flood_done < g.flood_n)
			publish_flood_one();
		g.t_pub_done = now();
	} else if (g.flood_n) {
		flood = evtimer_new(g.base, on_flood, &flood);
		on_flood(-1, 0, &flood);
	} else {
		g.t_pub_done = now();
	}
}

static void write_stats(void)
{
	struct jz_bus_stats st;
	struct rusage ru;
	FILE *f;

	getrusage(RUSAGE_SELF, &ru);
	if (!g.stats_file)
		return;
	jz_bus_get_stats(g.bus, &st);
	f = fopen(g.stats_file, "w");
	if (!f)
		return;
	fprintf(f, "{\"published\":%lu,\"publish_dropped\":%lu,\"buffered\":%zu,"
		"\"received\":%lu,\"handlers_started\":%lu,\"handlers_done\":%lu,"
		"\"handlers_failed\":%lu,\"handler_dropped\":%lu,\"max_running_seen\":%u,"
		"\"tasks_pushed\":%lu,\"reconnects\":%lu,\"maxrss_kb\":%ld,\"publish_seconds\":%.6f,\"handle_seconds\":%.6f}\n",
		st.published, st.publish_dropped, st.buffered, st.received,
		st.handlers_started, st.handlers_done, st.handlers_failed,
		st.handler_dropped, st.max_running_seen, st.tasks_pushed, st.reconnects,
		ru.ru_maxrss,
		g.t_pub_done && g.published_at_done ? g.t_pub_done - g.t_first_pub : 0,
		g.t_handled ? g.t_handled - g.t_first_pub : 0);
	fclose(f);
}

static void on_tick(evutil_socket_t fd, short w, void *arg)
{
	struct jz_bus_stats st;
	double t = now();

	jz_bus_get_stats(g.bus, &st);
	if (!g.ready && (g.nowait || ((st.sub_connected || !g.want_sub) &&
				 (st.pub_connected || !g.want_pub)))) {
		g.ready = true;
		if (g.ready_file) {
			FILE *f = fopen(g.ready_file, "w");

			if (f)
				fclose(f);
		}
		start_publishing();
	}
	if (!g.ready)
		return;
	/* publish time: until Redis acknowledged the last one */
	if (g.flood_done == g.flood_n && !st.buffered && !g.published_at_done) {
		g.published_at_done = st.published;
		g.t_pub_done = t;
	}
	if (st.buffered || st.running || st.queued || g.flood_done < g.flood_n) {
		g.idle_since = 0;
		return;
	}
	if (st.handlers_done && !g.t_handled)
		g.t_handled = t;
	if (!g.idle_since) {
		g.idle_since = t;
		g.t_handled = st.handlers_done ? t : 0;
	}
	if (g.idle_ms && (t - g.idle_since) * 1000 >= g.idle_ms)
		event_base_loopexit(g.base, NULL);
}

static void on_drained(void *arg)
{
	jz_info("evbus: graceful stop done");
	event_base_loopexit(g.base, NULL);
}

static void on_signal(evutil_socket_t sig, short w, void *arg)
{
	struct jz_bus_config c;
	char err[256];

	if (sig == SIGUSR1) {
		jz_warn("Signal \"user defined signal 1\" caught: shutdown started.");
		jz_bus_drain(g.bus, on_drained, NULL);
		return;
	}
	if (sig == SIGHUP) {
		if (load(&c))
			return;
		if (jz_bus_reload(g.bus, &c, err, sizeof(err)))
			jz_err("reload: %s", err);
		jz_bus_config_free(&c);
		return;
	}
	event_base_loopexit(g.base, NULL);
}

static void on_deadline(evutil_socket_t fd, short w, void *arg)
{
	jz_err("evbus: time limit reached");
	g.rc = 2;
	event_base_loopexit(g.base, NULL);
}

int main(int argc, char **argv)
{
	struct jz_bus_config c;
	struct timeval tick = { 0, 5000 }, dl = { 0, 0 };
	struct event *ev_tick, *ev_dl = NULL, *sigs[4];
	int level = LOG_INFO, opt;
	char err[256];

	while ((opt = getopt(argc, argv, "e:N:E:i:R:x:T:S:v0")) != -1) {
		switch (opt) {
		case 'e': {
			char *eq = strchr(optarg, '=');

			if (!eq || g.npubs == 256)
				return 64;
			*eq = '\0';
			g.pubs[g.npubs].name = optarg;
			g.pubs[g.npubs++].json = eq + 1;
			break;
		}
		case 'N': g.flood_n = atol(optarg); break;
		case 'E': g.flood_name = optarg; break;
		case 'i': g.interval_ms = atoi(optarg); break;
		case 'R': g.ready_file = optarg; break;
		case 'x': g.idle_ms = atoi(optarg); break;
		case 'T': dl.tv_sec = atoi(optarg); break;
		case 'S': g.stats_file = optarg; break;
		case 'v': level = LOG_DEBUG; break;
		case '0': g.nowait = true; break;
		default: return 64;
		}
	}
	if (optind != argc - 1 || (g.flood_n && !g.flood_name)) {
		fprintf(stderr, "usage: evbus [-e NAME=JSON]... [-N COUNT -E NAME [-i MS]] [-R FILE] [-x MS] [-T SEC] [-S FILE] [-v] CONFIG\n");
		return 64;
	}
	g.conf = argv[optind];
	jz_log_open("evbus", JZ_LOG_STDERR, level);
	if (load(&c))
		return 1;
	g.want_pub = c.publish || (c.handle && c.agent_id);
	g.want_sub = c.handle;
	g.base = event_base_new();
	g.bus = jz_bus_new(g.base, &c, err, sizeof(err));
	jz_bus_config_free(&c);
	if (!g.bus) {
		jz_err("%s", err);
		return 1;
	}
	g.t_start = now();
	ev_tick = event_new(g.base, -1, EV_PERSIST, on_tick, NULL);
	event_add(ev_tick, &tick);
	if (dl.tv_sec) {
		ev_dl = evtimer_new(g.base, on_deadline, NULL);
		evtimer_add(ev_dl, &dl);
	}
	sigs[0] = evsignal_new(g.base, SIGHUP, on_signal, NULL);
	sigs[1] = evsignal_new(g.base, SIGTERM, on_signal, NULL);
	sigs[2] = evsignal_new(g.base, SIGINT, on_signal, NULL);
	sigs[3] = evsignal_new(g.base, SIGUSR1, on_signal, NULL);
	for (int i = 0; i < 4; i++)
		event_add(sigs[i], NULL);
	event_base_dispatch(g.base);
	write_stats();
	jz_bus_free(g.bus);
	for (int i = 0; i < 4; i++)
		event_free(sigs[i]);
	event_free(ev_tick);
	if (ev_dl)
		event_free(ev_dl);
	event_base_free(g.base);
	return g.rc;
}
