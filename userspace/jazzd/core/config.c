// SPDX-License-Identifier: GPL-2.0
/*
 * jazzd.conf parsing (inih). Sections [jazzd], [server], [client], [kernel]
 * and [callbacks] are ours; any other section goes to the Redis bus
 * configuration ([redis], [events]) when the bus is built in.
 *
 * Must not act on the values (the halves read struct jz_config).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ini.h>

#include "jazzd.h"
#include "log.h"


struct parse_ctx {
	struct jz_config *c;
	char *err;
	size_t errlen;
	bool failed;
};

static void set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = strdup(v);
}

static bool parse_bool(const char *v)
{
	return !strcasecmp(v, "yes") || !strcasecmp(v, "true") ||
	       !strcasecmp(v, "on") || !strcmp(v, "1");
}

static int parse_int(const char *v, int *out)
{
	char *end;
	long x;

	errno = 0;
	x = strtol(v, &end, 10);
	if (errno || end == v || *end || x < 0 || x > 1000000000)
		return -1;
	*out = (int)x;
	return 0;
}

int jz_config_add_answer(struct jz_config *c, const char *code, const char *value)
{
	for (size_t i = 0; i < c->n_answers; i++) {
		if (!strcmp(c->answers[i].code, code)) {
			set_str(&c->answers[i].value, value);
			return 0;
		}
	}
	if (c->n_answers >= JZ_MAX_ANSWERS)
		return -1;
	c->answers[c->n_answers].code = strdup(code);
	c->answers[c->n_answers].value = strdup(value);
	c->n_answers++;
	return 0;
}

/* Names that go into Redis keys and logs: 1-63 of [A-Za-z0-9._-]. */
static bool cluster_name_ok(const char *v)
{
	size_t n = strlen(v);

	if (!n || n > 63)
		return false;
	return strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			 "0123456789._-") == n;
}

/* [cluster] name = value: 1 taken, 0 not ours, -1 bad value. */
static int cluster_set(struct jz_cluster_cfg *k, const char *name, const char *v)
{
	struct { const char *name; int *field; int min, max; } ints[] = {
		{ "timeout_ms", &k->timeout_ms, 10, 60000 },
		{ "session_ttl_ms", &k->session_ttl_ms, 500, 3600000 },
		{ "heartbeat_ms", &k->heartbeat_ms, 50, 600000 },
		{ "wait_replicas", &k->wait_replicas, 0, 16 },
		{ "wait_ms", &k->wait_ms, 0, 60000 },
	};
	struct { const char *name; char **field; } strs[] = {
		{ "redis", &k->redis_addr }, { "sentinels", &k->sentinels },
		{ "master", &k->master }, { "password", &k->password },
		{ "server_id", &k->server_id }, { "prefix", &k->prefix },
	};
	int x;

	if (!strcmp(name, "backend")) {
		if (strcmp(v, "local") && strcmp(v, "redis"))
			return -1;
		k->redis = !strcmp(v, "redis");
		return 1;
	}
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		if (strcmp(name, ints[i].name))
			continue;
		if (parse_int(v, &x) || x < ints[i].min || x > ints[i].max)
			return -1;
		*ints[i].field = x;
		return 1;
	}
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		if (strcmp(name, strs[i].name))
			continue;
		if ((!strcmp(name, "server_id") || !strcmp(name, "prefix") ||
		     !strcmp(name, "master")) && !cluster_name_ok(v))
			return -1;
		if (strlen(v) > 1024)
			return -1;
		set_str(strs[i].field, v);
		return 1;
	}
	return 0;
}

/* After the file: a Redis backend needs somewhere to go and a name. */
static int cluster_check(struct jz_cluster_cfg *k, char *err, size_t errlen)
{
	if (!k->redis)
		return 0;
	if (!k->redis_addr && !(k->sentinels && k->master)) {
		snprintf(err, errlen, "[cluster] backend = redis needs redis = host:port, "
			 "or sentinels = ... and master = NAME");
		return -1;
	}
	if (!k->server_id) {
		snprintf(err, errlen, "[cluster] backend = redis needs server_id "
			 "(this server's unique name)");
		return -1;
	}
	if (k->session_ttl_ms < 2 * k->heartbeat_ms) {
		snprintf(err, errlen, "[cluster] session_ttl_ms must be at least twice "
			 "heartbeat_ms");
		return -1;
	}
	return 0;
}

#define STR(sec, key, field) \
	do { \
		if (!strcmp(section, sec) && !strcmp(name, key)) { \
			set_str(&c->field, value); \
			return 1; \
		} \
	} while (0)
#define INT(sec, key, field) \
	do { \
		if (!strcmp(section, sec) && !strcmp(name, key)) { \
			if (parse_int(value, &c->field)) \
				goto bad; \
			return 1; \
		} \
	} while (0)

static int handler(void *user, const char *section, const char *name,
		   const char *value)
{
	struct parse_ctx *p = user;
	struct jz_config *c = p->c;
	int tmp;

	/* the first of [server] / [client] decides, unless [jazzd] mode = */
	if (!strcmp(section, "server") && c->mode == JZ_MODE_NONE)
		c->mode = JZ_MODE_SERVER;
	else if (!strcmp(section, "client") && c->mode == JZ_MODE_NONE)
		c->mode = JZ_MODE_CLIENT;
	if (!name)	/* a section header (inih built with section callbacks) */
		return 1;
	if (!strcmp(section, "jazzd") && !strcmp(name, "mode")) {
		if (!strcmp(value, "server"))
			c->mode = JZ_MODE_SERVER;
		else if (!strcmp(value, "client"))
			c->mode = JZ_MODE_CLIENT;
		else
			goto bad;
		return 1;
	}
	STR("jazzd", "log_level", log_level);

	STR("server", "listen", listen);
	STR("server", "stun_listen", stun_listen);
	INT("server", "stun_rate", stun_rate);
	STR("server", "relay_listen", relay_listen);
	INT("server", "relay_idle", relay_idle_s);
	INT("server", "relay_max", relay_max);
	if (!strcmp(section, "server") && !strcmp(name, "relay_ports")) {
		if (sscanf(value, "%d-%d", &c->relay_port_lo, &c->relay_port_hi) != 2 ||
		    c->relay_port_lo < 1 || c->relay_port_hi > 65535 ||
		    c->relay_port_hi - c->relay_port_lo < 1)
			goto bad;
		return 1;
	}
	STR("server", "cert", cert);
	STR("server", "key", key);
	STR("server", "keytab", keytab);
	STR("server", "service", service);
	STR("server", "realm", realm);
	STR("server", "pool4", pool4);
	STR("server", "pool6", pool6);
	STR("server", "leases", leases);
	STR("server", "cipher", cipher);
	INT("server", "rekey_interval", rekey_s);
	INT("server", "keepalive", keepalive_s);
	INT("server", "dead_after", dead_s);
	INT("server", "handshake_timeout", handshake_timeout_s);
	INT("server", "login_timeout", login_timeout_s);
	INT("server", "max_skew", max_skew_s);
	INT("server", "max_sessions", max_sessions);
	INT("server", "peer_debounce_ms", peer_debounce_ms);
	INT("server", "verdict_cache", verdict_cache_s);
	INT("server", "max_rounds", max_rounds);
	STR("server", "rcache", rcache);
	INT("server", "max_per_source", max_per_source);
	INT("server", "max_halfopen", max_halfopen);
	INT("server", "login_rate", login_rate);
	INT("server", "login_burst", login_burst);
	INT("server", "user_login_rate", user_login_rate);
	INT("server", "user_login_burst", user_login_burst);
	INT("server", "key_cache", key_cache);
	INT("server", "max_devices", max_devices);
	INT("server", "lease_expiry", lease_expiry_s);
	STR("server", "enctypes", enctypes);
	if (!strcmp(section, "server") && !strcmp(name, "allow_endpoint")) {
		c->allow_endpoint = parse_bool(value);
		return 1;
	}
	if (!strcmp(section, "server") && !strcmp(name, "max_outbuf")) {
		if (parse_int(value, &tmp) || tmp < 65536)
			goto bad;
		c->max_outbuf = (size_t)tmp;
		return 1;
	}
	if ((!strcmp(section, "server") || !strcmp(section, "client")) &&
	    !strcmp(name, "pair_keys")) {
		if (strcmp(value, "device") && strcmp(value, "server"))
			goto bad;
		c->server_keys = !strcmp(value, "server");
		return 1;
	}
	STR("metrics", "listen", metrics_listen);
	if (!strcmp(section, "server") && !strcmp(name, "channel_binding")) {
		c->channel_binding = parse_bool(value);
		return 1;
	}
	if ((!strcmp(section, "server") || !strcmp(section, "client")) &&
	    !strcmp(name, "time_offset")) {
		c->time_offset = atoi(value);
		return 1;
	}
	if ((!strcmp(section, "server") || !strcmp(section, "client")) &&
	    !strcmp(name, "max_frame")) {
		if (parse_int(value, &tmp) || tmp < 1024)
			goto bad;
		c->max_frame = (size_t)tmp;
		return 1;
	}

	STR("client", "server", server);
	STR("client", "servers", server);
	if (!strcmp(section, "cluster")) {
		int r = cluster_set(&c->cluster, name, value);

		if (r < 0)
			goto bad;
		if (r > 0)
			return 1;
	}
	STR("client", "server_name", server_name);
	STR("client", "ca", ca);
	STR("client", "fingerprint", fingerprint);
	STR("client", "device", device);
	STR("client", "method", method);
	STR("client", "user", user);
	STR("client", "password", password);
	STR("client", "password_file", password_file);
	STR("client", "ccache", ccache);
	STR("client", "keytab", client_keytab);
	STR("client", "principal", principal);
	STR("client", "service", service);
	STR("client", "realm", realm);
	STR("client", "enctype", enctype);
	STR("client", "endpoint", endpoint);
	INT("client", "listen_port", listen_port);
	STR("client", "stun_server", stun_server);
	INT("client", "stun_interval", stun_interval_s);
	INT("client", "path_retry", path_retry_s);
	if (!strcmp(section, "client") && !strcmp(name, "direct_only")) {
		c->direct_only = parse_bool(value);
		return 1;
	}
	INT("client", "max_peers", max_peers);
	STR("client", "pool4", pool4);
	STR("client", "pool6", pool6);
	INT("client", "reconnect_min", reconnect_min_s);
	INT("client", "reconnect_max", reconnect_max_s);
	STR("client", "identity_key", identity_key);
	if (!strcmp(section, "client") && !strcmp(name, "rekey_interval")) {
		if (parse_int(value, &c->pair_rekey_s) || c->pair_rekey_s < 2)
			goto bad;
		return 1;
	}
	if (!strcmp(section, "client") && !strcmp(name, "pair_handshake")) {
		if (strcmp(value, "on-demand") && strcmp(value, "eager"))
			goto bad;
		c->pair_eager = !strcmp(value, "eager");
		return 1;
	}
	if (!strcmp(section, "client") && !strcmp(name, "pair_idle")) {
		if (parse_int(value, &c->pair_idle_s) || c->pair_idle_s < 0)
			goto bad;
		return 1;
	}
	INT("client", "keepalive", keepalive_s);
	INT("client", "dead_after", dead_s);
	if (!strcmp(section, "client") && !strcmp(name, "interactive")) {
		c->interactive = parse_bool(value);
		return 1;
	}
	if (!strcmp(section, "answers")) {
		if (jz_config_add_answer(c, name, value))
			goto bad;
		return 1;
	}

	STR("kernel", "backend", kbackend);
	STR("kernel", "ifname", ifname);
	STR("kernel", "log", klog);
	STR("kernel", "inject", kinject);

	STR("callbacks", "plugin", plugin);
	STR("callbacks", "python", python);
	STR("callbacks", "order", order);
	INT("callbacks", "timeout_ms", cb_timeout_ms);
	INT("callbacks", "threads", cb_threads);
	INT("callbacks", "hold_logins_at", cb_hold_logins_at);

	{
		int r = jz_evt_config_set(c, section, name, value, p->err, p->errlen);

		if (r == 0)
			return 1;
		if (r < 0) {
			p->failed = true;
			return 0;
		}
	}
	snprintf(p->err, p->errlen, "unknown setting [%s] %s", section, name);
	p->failed = true;
	return 0;
bad:
	snprintf(p->err, p->errlen, "bad value for [%s] %s: %s", section, name, value);
	p->failed = true;
	return 0;
}

static void set_defaults(struct jz_config *c)
{
	memset(c, 0, sizeof(*c));
	c->log_level = strdup("info");
	c->listen = strdup("0.0.0.0:7443");
	c->pool4 = strdup("10.77.0.0/16");
	c->pool6 = strdup("fd77:6a61:7a7a::/64");
	c->leases = strdup("/var/lib/jazz/leases.json");
	c->cipher = strdup("chacha20-poly1305");
	c->rekey_s = 3600;
	c->keepalive_s = 15;
	c->dead_s = 0;
	c->handshake_timeout_s = 10;
	c->login_timeout_s = 60;
	c->max_frame = 65536;
	c->max_skew_s = 300;
	c->max_sessions = 4096;
	c->stun_rate = 1000;
	c->stun_interval_s = 25;
	c->path_retry_s = 30;
	c->relay_port_lo = 40000;
	c->relay_port_hi = 40999;
	c->relay_idle_s = 120;
	c->relay_max = 256;
	c->max_per_source = 256;
	c->max_halfopen = 1024;
	c->login_rate = 10;
	c->login_burst = 256;
	c->user_login_rate = 1;
	c->user_login_burst = 10;
	c->key_cache = 1024;
	c->max_outbuf = 1 << 20;
	c->enctypes = strdup("aes256-cts-hmac-sha1-96 aes256-cts-hmac-sha384-192 "
			     "aes128-cts-hmac-sha1-96 aes128-cts-hmac-sha256-128");
	c->max_devices = 16;
	c->lease_expiry_s = 30 * 86400;
	c->peer_debounce_ms = 50;
	c->verdict_cache_s = 60;
	c->max_rounds = 5;
	c->channel_binding = true;
	c->method = strdup("kerberos");
	c->enctype = strdup("aes256-cts-hmac-sha1-96");
	c->max_peers = 1024;
	c->reconnect_min_s = 1;
	c->reconnect_max_s = 60;
	c->identity_key = strdup("/var/lib/jazz/device.key");
	c->pair_rekey_s = 120;
	c->pair_idle_s = 600;
	c->kbackend = strdup("netlink");
	c->ifname = strdup("jazz0");
	c->order = strdup("plugin,python");
	c->cluster.prefix = strdup("jazz");
	c->cluster.timeout_ms = 500;
	c->cluster.session_ttl_ms = 6000;
	c->cluster.heartbeat_ms = 1000;
	c->cluster.wait_ms = 200;
	c->cb_timeout_ms = 2000;
	c->cb_threads = 5;
	c->cb_hold_logins_at = 256;
	jz_evt_config_init(c);
}

int jz_config_load(const char *path, struct jz_config *c, char *err, size_t errlen)
{
	struct parse_ctx p = { .c = c, .err = err, .errlen = errlen };
	int r;

	set_defaults(c);
	r = ini_parse(path, handler, &p);
	if (r < 0) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	if (r > 0) {
		if (!p.failed)
			snprintf(err, errlen, "syntax error");
		size_t n = strlen(err);
		snprintf(err + n, errlen - n, " (%s line %d)", path, r);
		return -1;
	}
	if (c->mode == JZ_MODE_NONE) {
		snprintf(err, errlen, "%s has neither [server] nor [client]", path);
		return -1;
	}
	if (!c->dead_s)
		c->dead_s = 3 * c->keepalive_s;
	if (c->mode == JZ_MODE_SERVER && cluster_check(&c->cluster, err, errlen))
		return -1;
	return 0;
}

void jz_config_free(struct jz_config *c)
{
	char **strs[] = {
		&c->log_level, &c->listen, &c->cert, &c->key, &c->keytab,
		&c->service, &c->realm, &c->pool4, &c->pool6, &c->leases,
		&c->cipher, &c->server, &c->server_name, &c->ca, &c->fingerprint,
		&c->device, &c->method, &c->user, &c->password,
		&c->password_file, &c->ccache, &c->client_keytab, &c->principal,
		&c->enctype, &c->endpoint, &c->kbackend, &c->ifname, &c->klog,
		&c->kinject, &c->plugin, &c->rcache, &c->python, &c->order,
		&c->enctypes, &c->identity_key,
		&c->metrics_listen, &c->cluster.redis_addr, &c->cluster.sentinels,
		&c->cluster.master, &c->cluster.password, &c->cluster.server_id,
		&c->cluster.prefix,
		&c->stun_listen, &c->stun_server, &c->relay_listen,
	};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
	for (size_t i = 0; i < c->n_answers; i++) {
		free(c->answers[i].code);
		free(c->answers[i].value);
	}
	c->n_answers = 0;
	jz_evt_config_free(c);
}
