// SPDX-License-Identifier: GPL-2.0
/*
 * Glue to the Redis event bus (bus.c, another developer's file). The bus
 * functions are weak references so that jazzd builds and runs without
 * bus.c; with it linked in, events are published when [redis] or [events]
 * is configured.
 *
 * Must not build payloads (the callers do).
 */
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "core/jazzd.h"
#include "log.h"

#pragma weak jz_bus_config_init
#pragma weak jz_bus_config_free
#pragma weak jz_bus_config_set
#pragma weak jz_bus_new
#pragma weak jz_bus_publish
#pragma weak jz_bus_reload
#pragma weak jz_bus_free
#pragma weak jz_bus_drain

void jz_evt_config_init(struct jz_config *c)
{
	if (!jz_bus_config_init)
		return;
	c->bus_config = calloc(1, sizeof(struct jz_bus_config));
	jz_bus_config_init(c->bus_config);
}

int jz_evt_config_set(struct jz_config *c, const char *section, const char *name,
		      const char *value, char *err, size_t errlen)
{
	int r;

	if (!c->bus_config || !jz_bus_config_set)
		return 1;
	r = jz_bus_config_set(c->bus_config, section, name, value, err, errlen);
	if (r == 0)
		c->bus_configured = true;
	return r;
}

void jz_evt_config_free(struct jz_config *c)
{
	if (c->bus_config && jz_bus_config_free) {
		jz_bus_config_free(c->bus_config);
		free(c->bus_config);
	}
	c->bus_config = NULL;
}

int jz_evt_start(struct jz_daemon *d, char *err, size_t errlen)
{
	if (!d->cfg.bus_configured || !jz_bus_new)
		return 0;
	d->bus = jz_bus_new(d->base, d->cfg.bus_config, err, errlen);
	return d->bus ? 0 : -1;
}

int jz_evt_reload(struct jz_daemon *d, char *err, size_t errlen)
{
	if (!d->bus)
		return jz_evt_start(d, err, errlen);
	if (!d->cfg.bus_configured) {
		jz_bus_free(d->bus);
		d->bus = NULL;
		return 0;
	}
	return jz_bus_reload(d->bus, d->cfg.bus_config, err, errlen);
}

/* SIGUSR1: handlers already running finish, no new one starts; then done(d). */
void jz_evt_drain(struct jz_daemon *d, void (*done)(void *))
{
	if (d->bus && jz_bus_drain)
		jz_bus_drain(d->bus, done, d);
	else
		done(d);
}

void jz_evt_stop(struct jz_daemon *d)
{
	if (d->bus)
		jz_bus_free(d->bus);
	d->bus = NULL;
}

bool jz_events_on(void)
{
	return (jz_d && jz_d->bus) || jz_log_enabled(LOG_DEBUG);
}

void jz_event(const char *name, json_t *payload)
{
	char *s;

	if (!payload)
		payload = json_object();
	if (jz_log_enabled(LOG_DEBUG)) {
		s = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS);
		jz_debug("event %s %s", name, s ? s : "");
		free(s);
	}
	if (jz_d && jz_d->bus)
		jz_bus_publish(jz_d->bus, name, payload);
	else
		json_decref(payload);
}
