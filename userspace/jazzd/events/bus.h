/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The Redis event bus of jazzd, NethServer 8 style (docs/EVENTS.md).
 *
 * Publishing: jz_bus_publish() sends JSON on module/<module_id>/event/<name>
 * through a bounded, ordered buffer that survives Redis outages.
 * Handling: a second connection PSUBSCRIBEs to the event channels (config
 * "subscribe", by default every channel with "/event/" inside) and runs the
 * handler steps of <events dir>/<name>/ and the eventsgw.conf actions and
 * commands as child processes on the same event loop (handlers.c,
 * eventsgw.c). Everything runs on the caller's event_base: no threads.
 *
 * The daemon's inih callback hands sections "redis" and "events" to
 * jz_bus_config_set(); the config is complete here so it can be embedded.
 *
 * events/ interface: other folders include only this header of events/.
 */
#ifndef JAZZD_BUS_H
#define JAZZD_BUS_H

#include <stddef.h>
#include <stdbool.h>
#include <event2/event.h>
#include <jansson.h>

struct jz_bus_config {
	/* [redis] */
	char *host;		/* address = host:port | [v6]:port | unix:/path | /path */
	int port;		/* default 127.0.0.1:6379 */
	char *unix_path;	/* set for a unix socket; host is then NULL */
	char *username;		/* username = (ACL user; empty: legacy AUTH pass) */
	char *password;		/* password = / password_file = */
	int reconnect_min_ms;	/* reconnect_min = 100 (ms) */
	int reconnect_max_ms;	/* reconnect_max = 5000 (ms) */
	int connect_timeout_ms;	/* connect_timeout = 5000 (ms) to connect and get
				 * the AUTH/PING answer; 0 = the OS's */

	/* [events] */
	char *module_id;	/* module_id = jazz1 */
	bool publish;		/* publish = yes */
	bool handle;		/* handle = yes (subscribe and run handlers) */
	char *pattern;		/* subscribe = * /event/ * (without the blanks) */
	size_t buffer_max;	/* buffer = 10000 events waiting for Redis */
	size_t buffer_bytes;	/* buffer_bytes = 16777216 */
	char **events_dirs;	/* events_dir = (repeatable, ':'-separated; later wins) */
	size_t n_events_dirs;
	char **actions_dirs;	/* actions_dir = (repeatable, later wins) */
	size_t n_actions_dirs;
	char *eventsgw_conf;	/* eventsgw_conf = path (optional) */
	unsigned max_handlers;	/* max_handlers = 32 */
	size_t queue_max;	/* queue = 4096 events waiting for a handler slot */
	size_t queue_bytes;	/* queue_bytes = 67108864 */
	int step_timeout_ms;	/* step_timeout = 60 (seconds, decimals allowed) */
	char *state_dir;	/* state_dir = NS8 state dir: steps' working dir
				 * and ./environment (default: jazzd's cwd) */
	char *agent_id;		/* agent_id = module/<id>: [actions] become tasks
				 * on <agent_id>/tasks for that NS8 agent */
};

struct jz_bus;

void jz_bus_config_init(struct jz_bus_config *c);
void jz_bus_config_free(struct jz_bus_config *c);
/*
 * inih delegates sections "redis" and "events" here: returns 0 when taken,
 * -1 with err on a bad value, 1 when the section is not the bus's.
 */
int jz_bus_config_set(struct jz_bus_config *c, const char *section,
		      const char *name, const char *value, char *err, size_t errlen);

struct jz_bus *jz_bus_new(struct event_base *base, const struct jz_bus_config *c,
			  char *err, size_t errlen);
/* Never blocks; payload reference stolen (NULL publishes {}). */
void jz_bus_publish(struct jz_bus *bus, const char *event_name, json_t *payload);
/*
 * SIGHUP: new handler dirs, eventsgw.conf and limits, no event lost. On
 * error (e.g. a bad eventsgw.conf) the running configuration is kept.
 */
int jz_bus_reload(struct jz_bus *bus, const struct jz_bus_config *c,
		  char *err, size_t errlen);
void jz_bus_free(struct jz_bus *bus);
/*
 * Graceful stop (SIGUSR1): unsubscribe (no new handler starts), let the
 * running handlers end and the buffered events and tasks reach Redis while
 * it is connected, then call done(arg) once from the event loop.
 */
void jz_bus_drain(struct jz_bus *bus, void (*done)(void *), void *arg);

/* Counters, for tests, logs and the daemon's status output. */
struct jz_bus_stats {
	unsigned long published;	/* acknowledged by Redis */
	unsigned long tasks_pushed;	/* NS8 agent tasks acknowledged */
	unsigned long publish_dropped;	/* buffer overflow */
	size_t buffered;		/* waiting or in flight */
	unsigned long received;		/* messages from the subscription */
	unsigned long handlers_started;
	unsigned long handlers_done;
	unsigned long handlers_failed;
	unsigned long handler_dropped;	/* handler queue overflow */
	unsigned running;
	unsigned max_running_seen;
	size_t queued;
	unsigned long reconnects;
	bool pub_connected, sub_connected;
};
void jz_bus_get_stats(const struct jz_bus *bus, struct jz_bus_stats *st);

#endif
