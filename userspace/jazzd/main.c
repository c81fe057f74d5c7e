// SPDX-License-Identifier: GPL-2.0
/*
 * jazzd: the jazz control-plane daemon, server or client by its
 * configuration. See jazzd(8) and jazzd.conf(5).
 *
 * Owns option parsing, signals and the loop's start and stop, and telling
 * systemd (sd_notify: READY, RELOADING, STOPPING; a no-op without
 * NOTIFY_SOCKET); must not hold server, client or policy logic (their
 * folders do).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <event2/event.h>
#include <systemd/sd-daemon.h>
#include <openssl/ssl.h>

#include "policy/callbacks.h"
#include "core/jazzd.h"
#include "core/proto.h"
#include "metrics/metrics.h"
#include "events/bus.h"
#include "log.h"

struct jz_daemon *jz_d;

static void usage(void)
{
	fprintf(stderr,
		"usage: jazzd [-c FILE] [-f] [-s] [-d] [-t] [-m ROLE] [-a CODE=VALUE]...\n"
		"  -c FILE        configuration (default /etc/jazz/jazzd.conf)\n"
		"  -f             stay in the foreground, log to stderr\n"
		"  -s             log to syslog even in the foreground\n"
		"  -d             debug logging\n"
		"  -t             check the configuration and exit\n"
		"  -m ROLE        refuse a configuration of another role (server|client)\n"
		"  -A FILE        answers for validate_user prompts, CODE=VALUE lines\n"
		"                 (client; FILE - is standard input)\n"
		"  -a CODE=VALUE  one answer (deprecated: visible in ps; use -A)\n"
		"  -P FILE        read the login password from FILE (client)\n");
}

static int apply_log_level(struct jz_daemon *d, bool debug)
{
	int lvl = debug ? LOG_DEBUG : jz_log_level_from_name(d->cfg.log_level);

	if (lvl < 0) {
		jz_err("unknown log_level '%s'", d->cfg.log_level);
		return -1;
	}
	jz_log_set_level(lvl);
	return 0;
}

static bool debug_flag;
static bool stopping;	/* SIGUSR1: a reload could restart what is draining */

static int add_cli_answer(struct jz_daemon *d, const char *line)
{
	const char *eq = strchr(line, '=');

	if (!eq || eq == line || d->n_cli_answers >= JZ_MAX_ANSWERS)
		return -1;
	d->cli_answers[d->n_cli_answers].code = strndup(line, eq - line);
	d->cli_answers[d->n_cli_answers].value = strdup(eq + 1);
	d->n_cli_answers++;
	return 0;
}

/* -A FILE: CODE=VALUE lines (blank lines and # comments skipped); "-" is
 * standard input. Answers given this way stay out of the process list. */
static int read_answers(struct jz_daemon *d, const char *path)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	char buf[1024];
	int rc = 0;

	if (!f)
		return -1;
	while (fgets(buf, sizeof(buf), f)) {
		buf[strcspn(buf, "\r\n")] = 0;
		if (!buf[0] || buf[0] == '#')
			continue;
		if (add_cli_answer(d, buf)) {
			rc = -1;
			break;
		}
	}
	explicit_bzero(buf, sizeof(buf));
	if (f != stdin)
		fclose(f);
	return rc;
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct jz_daemon *d = arg;
	struct jz_config nc;
	char err[512];

	if (stopping) {
		jz_warn("SIGHUP ignored: graceful stop in progress");
		return;
	}
	jz_info("SIGHUP: reloading %s", d->config_path);
	sd_notify(0, "RELOADING=1\nSTATUS=reloading");
	if (jz_config_load(d->config_path, &nc, err, sizeof(err))) {
		jz_err("reload failed, keeping the running configuration: %s", err);
		jz_config_free(&nc);
		sd_notifyf(0, "READY=1\nSTATUS=reload failed, running the previous configuration: %s", err);
		return;
	}
	if (nc.mode != d->cfg.mode) {
		jz_err("reload: the mode (server/client) cannot change; restart jazzd");
		jz_config_free(&nc);
		sd_notify(0, "READY=1\nSTATUS=reload refused: the mode cannot change");
		return;
	}
	if (jz_callbacks_reload(d->cb, &nc, err, sizeof(err))) {
		jz_err("reload: callbacks failed to load, keeping the old ones: %s", err);
		/* keep the old callback settings in the new configuration */
		free(nc.plugin);
		nc.plugin = d->cfg.plugin ? strdup(d->cfg.plugin) : NULL;
		free(nc.python);
		nc.python = d->cfg.python ? strdup(d->cfg.python) : NULL;
	}
	jz_config_free(&d->cfg);
	d->cfg = nc;
	apply_log_level(d, debug_flag);
	if (jz_evt_reload(d, err, sizeof(err)))
		jz_err("reload: events: %s", err);
	if (d->server)
		jz_server_reload(d->server);
	if (d->client)
		jz_client_reload(d->client);
	jz_info("reload done");
	sd_notify(0, "READY=1\nSTATUS=serving (reloaded)");
}

/* Loop thread: the callbacks' and the event bus's counters (and a client's
 * kernel counters), copied into the metrics once a second (only with a
 * [metrics] listener). */
static void sample_metrics(evutil_socket_t fd, short what, void *arg)
{
	struct jz_daemon *d = arg;
	struct jz_metrics_bus mb = { 0 };
	struct jz_cb_stats cs;

	jz_callbacks_stats(d->cb, &cs);
	jz_metrics_set_callbacks(cs.calls, cs.timeouts, cs.errors);
	if (d->bus) {
		struct jz_bus_stats bs;

		jz_bus_get_stats(d->bus, &bs);
		mb = (struct jz_metrics_bus){
			.configured = true, .pub_connected = bs.pub_connected,
			.sub_connected = bs.sub_connected, .buffered = bs.buffered,
			.published = bs.published, .dropped = bs.publish_dropped,
			.reconnects = bs.reconnects, .handler_runs = bs.handlers_done,
			.handler_failures = bs.handlers_failed,
			.handler_dropped = bs.handler_dropped,
		};
	}
	jz_metrics_set_bus(&mb);
	if (d->client)
		jz_client_sample_metrics(d->client);
}

static void on_drained(void *arg)
{
	struct jz_daemon *d = arg;

	jz_info("graceful stop: handlers done, exiting");
	event_base_loopbreak(d->base);
}

/* NS8's graceful stop: running handlers end, none starts, then exit 0. */
static void on_usr1(evutil_socket_t sig, short what, void *arg)
{
	if (stopping)
		return;
	stopping = true;
	jz_warn("Signal \"user defined signal 1\" caught: shutdown started.");
	jz_evt_drain(arg, on_drained);
}

static void on_term(evutil_socket_t sig, short what, void *arg)
{
	struct jz_daemon *d = arg;

	jz_info("signal %d: exiting", (int)sig);
	sd_notify(0, "STOPPING=1\nSTATUS=stopping");
	event_base_loopbreak(d->base);
}

int main(int argc, char **argv)
{
	static struct jz_daemon dd;
	struct jz_daemon *d = &dd;
	bool foreground = false, use_syslog = false, check = false, argv_answers = false;
	const char *role = NULL;
	struct event *ev_hup, *ev_term, *ev_int, *ev_usr1, *ev_sample = NULL;
	char err[512];
	int opt;

	/* before anything makes OpenSSL allocate: its record buffers are
	 * kept for the next record (a join writes one to every viewer) */
	bool spare_buffers = jz_tls_spare_buffers();

	d->config_path = "/etc/jazz/jazzd.conf";
	while ((opt = getopt(argc, argv, "c:fsdtm:a:A:P:h")) != -1) {
		switch (opt) {
		case 'c':
			d->config_path = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 's':
			use_syslog = true;
			break;
		case 'd':
			debug_flag = true;
			break;
		case 't':
			check = true;
			break;
		case 'm':
			if (strcmp(optarg, "server") && strcmp(optarg, "client")) {
				fprintf(stderr, "jazzd: -m takes server or client, not '%s'\n", optarg);
				return 2;
			}
			role = optarg;
			break;
		case 'a':
			if (add_cli_answer(d, optarg)) {
				usage();
				return 2;
			}
			argv_answers = true;
			break;
		case 'A':
			if (read_answers(d, optarg)) {
				fprintf(stderr, "jazzd: %s: cannot read, or not CODE=VALUE lines "
					"(at most %d)\n", optarg, JZ_MAX_ANSWERS);
				return 2;
			}
			break;
		case 'P': {
			FILE *f = fopen(optarg, "r");
			char buf[512];

			if (!f || !fgets(buf, sizeof(buf), f)) {
				fprintf(stderr, "jazzd: cannot read %s\n", optarg);
				return 2;
			}
			fclose(f);
			buf[strcspn(buf, "\r\n")] = 0;
			d->cli_password = strdup(buf);
			break;
		}
		default:
			usage();
			return opt == 'h' ? 0 : 2;
		}
	}
	jz_log_open("jazzd", foreground && !use_syslog ? JZ_LOG_STDERR : JZ_LOG_SYSLOG,
		    LOG_INFO);
	if (jz_config_load(d->config_path, &d->cfg, err, sizeof(err))) {
		jz_err("%s", err);
		return 1;
	}
	if (apply_log_level(d, debug_flag))
		return 1;
	if (argv_answers)
		jz_warn("-a CODE=VALUE: answers on the command line are visible to every "
			"local user (ps, /proc/PID/cmdline); use -A FILE or -A - (stdin)");
	if (role && strcmp(role, d->cfg.mode == JZ_MODE_SERVER ? "server" : "client")) {
		jz_err("%s configures a %s, not a %s (-m %s)", d->config_path,
		       d->cfg.mode == JZ_MODE_SERVER ? "server" : "client", role, role);
		return 1;
	}
	if (check) {
		printf("%s: ok (%s)\n", d->config_path,
		       d->cfg.mode == JZ_MODE_SERVER ? "server" : "client");
		return 0;
	}
	if (!foreground && daemon(0, 0)) {
		jz_err("daemon: %s", strerror(errno));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	jz_d = d;
	d->base = event_base_new();
	d->cb = jz_callbacks_new(d->base, &d->cfg, err, sizeof(err));
	if (!d->cb) {
		jz_err("callbacks: %s", err);
		return 1;
	}
	if (jz_evt_start(d, err, sizeof(err))) {
		jz_err("events: %s", err);
		return 1;
	}
	if (d->cfg.mode == JZ_MODE_SERVER)
		d->server = jz_server_new(d, err, sizeof(err));
	else
		d->client = jz_client_new(d, err, sizeof(err));
	if (!d->server && !d->client) {
		jz_err("%s", err);
		return 1;
	}
	if (jz_metrics_start(d->cfg.metrics_listen, err, sizeof(err))) {
		jz_err("%s", err);
		return 1;
	}
	if (d->cfg.metrics_listen && *d->cfg.metrics_listen) {
		ev_sample = event_new(d->base, -1, EV_PERSIST, sample_metrics, d);
		event_add(ev_sample, &(struct timeval){ 1, 0 });
		sample_metrics(-1, 0, d);
	}
	ev_hup = evsignal_new(d->base, SIGHUP, on_hup, d);
	ev_term = evsignal_new(d->base, SIGTERM, on_term, d);
	ev_int = evsignal_new(d->base, SIGINT, on_term, d);
	ev_usr1 = evsignal_new(d->base, SIGUSR1, on_usr1, d);
	event_add(ev_hup, NULL);
	event_add(ev_term, NULL);
	event_add(ev_int, NULL);
	event_add(ev_usr1, NULL);
	jz_info("jazzd started as %s (pid %d)",
		d->cfg.mode == JZ_MODE_SERVER ? "server" : "client", (int)getpid());
	if (!spare_buffers)
		jz_debug("OpenSSL allocated before main: its record buffers are not kept");
	/* The server's listener is bound and the client's kernel device is
	 * open: dependants may start. */
	sd_notifyf(0, "READY=1\nMAINPID=%d\nSTATUS=%s", (int)getpid(),
		   d->cfg.mode == JZ_MODE_SERVER ? "serving" : "running (logging in)");
	event_base_dispatch(d->base);

	jz_metrics_stop();
	if (ev_sample)
		event_free(ev_sample);
	jz_client_free(d->client);
	jz_server_free(d->server);
	jz_evt_stop(d);
	jz_callbacks_free(d->cb);
	event_free(ev_hup);
	event_free(ev_term);
	event_free(ev_int);
	event_free(ev_usr1);
	jz_config_free(&d->cfg);
	jz_info("jazzd stopped");
	return d->exit_status;
}
