// SPDX-License-Identifier: GPL-2.0
/*
 * The event bus's configuration: [redis] and [events] keys parsed into a
 * struct jz_bus_config, copied and compared for reloads. Pure: must not
 * connect, publish or touch the event loop (bus.c does).
 */
#include "bus_int.h"

/* ---- configuration ---------------------------------------------------- */

void jz_bus_config_init(struct jz_bus_config *c)
{
	memset(c, 0, sizeof(*c));
	c->host = strdup("127.0.0.1");
	c->port = 6379;
	c->reconnect_min_ms = 100;
	c->reconnect_max_ms = 5000;
	c->connect_timeout_ms = 5000;
	c->module_id = strdup("jazz1");
	c->publish = true;
	c->handle = true;
	c->pattern = strdup("*/event/*");
	c->buffer_max = 10000;
	c->buffer_bytes = 16u << 20;
	c->max_handlers = 32;
	c->queue_max = 4096;
	c->queue_bytes = 64u << 20;
	c->step_timeout_ms = 60000;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void jz_bus_config_free(struct jz_bus_config *c)
{
	free(c->host);
	free(c->unix_path);
	free(c->username);
	free(c->password);
	free(c->module_id);
	free(c->pattern);
	strv_free(c->events_dirs, c->n_events_dirs);
	strv_free(c->actions_dirs, c->n_actions_dirs);
	free(c->eventsgw_conf);
	free(c->state_dir);
	free(c->agent_id);
	memset(c, 0, sizeof(*c));
}

static int set_str(char **dst, const char *v)
{
	char *s = strdup(v);

	if (!s)
		return -1;
	free(*dst);
	*dst = s;
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcasecmp(v, "on") ||
	    !strcmp(v, "1"))
		*out = true;
	else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") ||
		 !strcasecmp(v, "off") || !strcmp(v, "0"))
		*out = false;
	else
		return -1;
	return 0;
}

static int parse_size(const char *v, size_t min, size_t *out)
{
	unsigned long long n;
	char *end;

	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || end == v || *end || n < min || *v == '-')
		return -1;
	*out = (size_t)n;
	return 0;
}

static int parse_ms(const char *v, bool seconds, int *out)
{
	double d;
	char *end;

	errno = 0;
	d = strtod(v, &end);
	if (errno || end == v || *end || d < 0)
		return -1;
	if (seconds)
		d *= 1000;
	if (d > INT_MAX)
		return -1;
	*out = (int)d;
	return 0;
}

/* Appends each ':'-separated element of v. */
static int strv_append(char ***v, size_t *n, const char *val)
{
	char *copy = strdup(val), *save = NULL, *tok;

	if (!copy)
		return -1;
	for (tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
		char **nv = realloc(*v, (*n + 1) * sizeof(*nv));

		if (!nv || !(nv[*n] = strdup(tok))) {
			if (nv)
				*v = nv;
			free(copy);
			return -1;
		}
		*v = nv;
		(*n)++;
	}
	free(copy);
	return 0;
}

static int read_secret(const char *path, char **dst, char *err, size_t errlen)
{
	char buf[512];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f) {
		snprintf(err, errlen, "password_file %s: %s", path, strerror(errno));
		return -1;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return set_str(dst, buf);
}

static int set_address(struct jz_bus_config *c, const char *v)
{
	const char *colon;
	char *end;
	long port;

	if (!strncmp(v, "unix:", 5) || v[0] == '/') {
		const char *p = v[0] == '/' ? v : v + 5;

		if (!*p || set_str(&c->unix_path, p))
			return -1;
		free(c->host);
		c->host = NULL;
		return 0;
	}
	if (v[0] == '[') {
		const char *close = strchr(v, ']');

		if (!close || close[1] != ':')
			return -1;
		colon = close + 1;
		free(c->host);
		c->host = strndup(v + 1, close - v - 1);
	} else {
		colon = strrchr(v, ':');
		if (!colon)
			return -1;
		free(c->host);
		c->host = strndup(v, colon - v);
	}
	if (!c->host || !*c->host)
		return -1;
	port = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || port < 1 || port > 65535)
		return -1;
	c->port = (int)port;
	free(c->unix_path);
	c->unix_path = NULL;
	return 0;
}

static int set_redis(struct jz_bus_config *c, const char *n, const char *v,
		     char *err, size_t errlen)
{
	if (!strcmp(n, "address"))
		return set_address(c, v);
	if (!strcmp(n, "username"))
		return set_str(&c->username, v);
	if (!strcmp(n, "password"))
		return set_str(&c->password, v);
	if (!strcmp(n, "password_file"))
		return read_secret(v, &c->password, err, errlen) ? -2 : 0;
	if (!strcmp(n, "reconnect_min"))
		return parse_ms(v, false, &c->reconnect_min_ms);
	if (!strcmp(n, "reconnect_max"))
		return parse_ms(v, false, &c->reconnect_max_ms);
	if (!strcmp(n, "connect_timeout"))
		return parse_ms(v, false, &c->connect_timeout_ms);
	snprintf(err, errlen, "[redis] unknown key '%s'", n);
	return -2;
}

bool valid_name(const char *s)
{
	return *s && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

/* An NS8 agent id (module/traefik1, node/1, cluster): a Redis key prefix. */
static bool valid_agent_id(const char *s)
{
	if (!*s || s[strlen(s) - 1] == '/')
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

static int set_events(struct jz_bus_config *c, const char *n, const char *v,
		      char *err, size_t errlen)
{
	if (!strcmp(n, "module_id"))
		return valid_name(v) ? set_str(&c->module_id, v) : -1;
	if (!strcmp(n, "publish"))
		return parse_bool(v, &c->publish);
	if (!strcmp(n, "handle"))
		return parse_bool(v, &c->handle);
	if (!strcmp(n, "subscribe"))
		return *v ? set_str(&c->pattern, v) : -1;
	if (!strcmp(n, "buffer"))
		return parse_size(v, 1, &c->buffer_max);
	if (!strcmp(n, "buffer_bytes"))
		return parse_size(v, 1024, &c->buffer_bytes);
	if (!strcmp(n, "events_dir"))
		return strv_append(&c->events_dirs, &c->n_events_dirs, v);
	if (!strcmp(n, "actions_dir"))
		return strv_append(&c->actions_dirs, &c->n_actions_dirs, v);
	if (!strcmp(n, "eventsgw_conf"))
		return set_str(&c->eventsgw_conf, v);
	if (!strcmp(n, "max_handlers")) {
		size_t m;

		if (parse_size(v, 1, &m) || m > 4096)
			return -1;
		c->max_handlers = (unsigned)m;
		return 0;
	}
	if (!strcmp(n, "queue"))
		return parse_size(v, 0, &c->queue_max);
	if (!strcmp(n, "queue_bytes"))
		return parse_size(v, 1024, &c->queue_bytes);
	if (!strcmp(n, "step_timeout"))
		return parse_ms(v, true, &c->step_timeout_ms);
	if (!strcmp(n, "state_dir"))
		return v[0] == '/' ? set_str(&c->state_dir, v) : -1;
	if (!strcmp(n, "agent_id"))
		return valid_agent_id(v) ? set_str(&c->agent_id, v) : -1;
	snprintf(err, errlen, "[events] unknown key '%s'", n);
	return -2;
}

int jz_bus_config_set(struct jz_bus_config *c, const char *section,
		      const char *name, const char *value, char *err, size_t errlen)
{
	int rc;

	if (!strcasecmp(section, "redis"))
		rc = set_redis(c, name, value, err, errlen);
	else if (!strcasecmp(section, "events"))
		rc = set_events(c, name, value, err, errlen);
	else
		return 1;
	if (rc == -1)
		snprintf(err, errlen, "[%s] %s: bad value '%s'", section, name, value);
	return rc ? -1 : 0;
}

int config_copy(struct jz_bus_config *d, const struct jz_bus_config *s)
{
	int bad = 0;

	*d = *s;
	d->host = s->host ? strdup(s->host) : NULL;
	d->unix_path = s->unix_path ? strdup(s->unix_path) : NULL;
	d->username = s->username ? strdup(s->username) : NULL;
	d->password = s->password ? strdup(s->password) : NULL;
	d->module_id = strdup(s->module_id ? s->module_id : "jazz1");
	d->pattern = strdup(s->pattern ? s->pattern : "*/event/*");
	d->eventsgw_conf = s->eventsgw_conf ? strdup(s->eventsgw_conf) : NULL;
	d->state_dir = s->state_dir ? strdup(s->state_dir) : NULL;
	d->agent_id = s->agent_id ? strdup(s->agent_id) : NULL;
	d->events_dirs = NULL;
	d->n_events_dirs = 0;
	d->actions_dirs = NULL;
	d->n_actions_dirs = 0;
	for (size_t i = 0; i < s->n_events_dirs; i++)
		bad |= strv_append(&d->events_dirs, &d->n_events_dirs, s->events_dirs[i]);
	for (size_t i = 0; i < s->n_actions_dirs; i++)
		bad |= strv_append(&d->actions_dirs, &d->n_actions_dirs, s->actions_dirs[i]);
	if (bad || !d->module_id || !d->pattern || (s->host && !d->host) ||
	    (s->unix_path && !d->unix_path) || (s->state_dir && !d->state_dir) ||
	    (s->agent_id && !d->agent_id)) {
		jz_bus_config_free(d);
		return -1;
	}
	return 0;
}

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

bool redis_changed(const struct jz_bus_config *a, const struct jz_bus_config *b)
{
	return !str_eq(a->host, b->host) || a->port != b->port ||
	       !str_eq(a->unix_path, b->unix_path) ||
	       !str_eq(a->username, b->username) ||
	       !str_eq(a->password, b->password);
}

