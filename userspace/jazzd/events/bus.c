// SPDX-License-Identifier: GPL-2.0
/*
 * The Redis event bus (bus.h, docs/EVENTS.md): connections, publishing,
 * dispatch to handlers and the gateway, and the bus's life. Parsing the
 * [redis]/[events] configuration is bus_config.c's; this file must not
 * read configuration text.
 *
 * Two hiredis async connections on the daemon's event_base: "pub" sends
 * PUBLISH commands, "sub" holds the PSUBSCRIBE (a subscribed connection
 * cannot publish). Each reconnects on its own with exponential backoff.
 *
 * Outgoing events sit in one FIFO until Redis acknowledges them: at most
 * PUB_WINDOW are pipelined, and after a disconnect sending restarts at the
 * oldest unacknowledged one. So order is kept and nothing inside the bound
 * is lost; an event may be published twice if the connection died after
 * Redis executed the PUBLISH but before the reply arrived (at least once).
 */
#include "bus_int.h"
#include "ns8task.h"

/* ---- bus state -------------------------------------------------------- */

struct jz_msg {
	TAILQ_ENTRY(jz_msg) link;
	char *channel;		/* for the log: "PUBLISH <channel>", "LPUSH <key> ..." */
	char *data;		/* the whole command, RESP-encoded */
	size_t len;
	bool task;		/* an NS8 agent task (LPUSH) */
};

TAILQ_HEAD(jz_msgq, jz_msg);

struct jz_conn {
	struct jz_bus *bus;
	const char *role;	/* "publisher" / "subscriber" */
	redisAsyncContext *ac;
	bool ready;		/* authenticated (and subscribed for sub) */
	bool want;		/* keep connected */
	int backoff_ms;
	struct event *retry;
	struct event *timeout;	/* connect + first answer */
	unsigned long gen;	/* bumps on every new context */
};

struct jz_bus {
	struct event_base *base;
	struct jz_bus_config cfg;
	struct jz_conn pub, sub;

	struct jz_msgq out;		/* oldest first; acked ones leave */
	struct jz_msg *next_send;	/* first not yet written on this connection */
	size_t out_n, out_bytes, inflight;

	struct jz_runner *runner;
	struct jz_eventsgw gw;

	struct jz_bus_stats st;
	/* graceful stop */
	bool draining, drain_done;
	void (*drained_cb)(void *);
	void *drained_arg;
	struct event *ev_drained;
	time_t last_overflow_log;
	unsigned long overflow_unlogged;
	bool freeing;
	/* publishing waits for our own PSUBSCRIBE after a (re)connect */
	struct event *sub_wait;
	bool sub_wait_over;
};

static void conn_start(struct jz_conn *c);
static void pub_flush(struct jz_bus *bus);
static void drain_check(struct jz_bus *bus);
static void on_drained(evutil_socket_t fd, short what, void *arg);

/* The publisher also carries the tasks for an NS8 agent. */
static bool pub_wanted(const struct jz_bus_config *c)
{
	return c->publish || (c->handle && c->agent_id);
}

static void conn_schedule(struct jz_conn *c)
{
	struct timeval tv;

	if (!c->want || c->bus->freeing)
		return;
	if (c->backoff_ms < c->bus->cfg.reconnect_min_ms)
		c->backoff_ms = c->bus->cfg.reconnect_min_ms;
	tv.tv_sec = c->backoff_ms / 1000;
	tv.tv_usec = (c->backoff_ms % 1000) * 1000;
	evtimer_add(c->retry, &tv);
	c->backoff_ms *= 2;
	if (c->backoff_ms > c->bus->cfg.reconnect_max_ms)
		c->backoff_ms = c->bus->cfg.reconnect_max_ms;
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct jz_conn *c = arg;

	c->bus->st.reconnects++;
	conn_start(c);
}

static void conn_lost(struct jz_conn *c, const char *why)
{
	struct jz_bus *bus = c->bus;

	c->ac = NULL;
	c->ready = false;
	evtimer_del(c->timeout);
	if (c == &bus->pub) {
		/* everything not acknowledged goes again, in order */
		bus->next_send = TAILQ_FIRST(&bus->out);
		bus->inflight = 0;
		/* the next connection waits for the subscriber again */
		bus->sub_wait_over = false;
		if (bus->sub_wait)
			evtimer_del(bus->sub_wait);
	}
	if (!bus->freeing && c->want) {
		jz_warn("redis %s: %s; reconnecting in %d ms (%zu event(s) buffered)",
			c->role, why, c->backoff_ms < bus->cfg.reconnect_min_ms ?
			bus->cfg.reconnect_min_ms : c->backoff_ms, bus->out_n);
		conn_schedule(c);
	}
	if (c == &bus->pub)
		drain_check(bus);	/* a graceful stop does not wait for Redis */
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct jz_conn *c = ac->data;

	if (status != REDIS_OK)
		conn_lost(c, ac->errstr[0] ? ac->errstr : "connect failed");
	/* else: readiness comes with the AUTH/first reply, see conn_ready() */
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct jz_conn *c = ac->data;

	if (!c || c->ac != ac)
		return;
	conn_lost(c, status == REDIS_OK ? "disconnected" :
		  (ac->errstr[0] ? ac->errstr : "connection error"));
}

static void sub_on_message(redisAsyncContext *ac, void *r, void *priv);

static void conn_ready(struct jz_conn *c)
{
	struct jz_bus *bus = c->bus;

	if (c == &bus->pub) {
		evtimer_del(c->timeout);
		c->ready = true;
		c->backoff_ms = 0;
		jz_info("redis publisher connected (%zu event(s) buffered)", bus->out_n);
		pub_flush(bus);
	} else {
		redisAsyncCommand(c->ac, sub_on_message, c, "PSUBSCRIBE %s",
				  bus->cfg.pattern);
	}
}

static void on_auth(redisAsyncContext *ac, void *r, void *priv)
{
	struct jz_conn *c = priv;
	redisReply *reply = r;

	if (!reply || c->ac != ac)
		return;		/* connection going away */
	if (reply->type == REDIS_REPLY_ERROR) {
		jz_err("redis %s: authentication failed: %s", c->role, reply->str);
		redisAsyncDisconnect(ac);
		return;
	}
	conn_ready(c);
}

static void conn_start(struct jz_conn *c)
{
	struct jz_bus *bus = c->bus;
	const struct jz_bus_config *cfg = &bus->cfg;
	redisAsyncContext *ac;

	if (cfg->unix_path)
		ac = redisAsyncConnectUnix(cfg->unix_path);
	else
		ac = redisAsyncConnect(cfg->host, cfg->port);
	if (!ac || ac->err) {
		char why[160];

		snprintf(why, sizeof(why), "%s", ac ? ac->errstr : "out of memory");
		if (ac)
			redisAsyncFree(ac);
		c->ac = NULL;
		conn_lost(c, why);
		return;
	}
	/* handler steps must not inherit the socket (also closed by closefrom) */
	fcntl(ac->c.fd, F_SETFD, FD_CLOEXEC);
	if (!cfg->unix_path)
		redisEnableKeepAlive(&ac->c);
	ac->data = c;
	c->ac = ac;
	c->gen++;
	redisLibeventAttach(ac, bus->base);
	if (cfg->connect_timeout_ms > 0) {
		struct timeval tv = { cfg->connect_timeout_ms / 1000,
				      (cfg->connect_timeout_ms % 1000) * 1000 };

		evtimer_add(c->timeout, &tv);
	}
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	if (cfg->password) {
		/* ACL (Redis 6+): AUTH user pass; legacy: AUTH pass */
		if (cfg->username && *cfg->username)
			redisAsyncCommand(ac, on_auth, c, "AUTH %s %s", cfg->username,
					  cfg->password);
		else
			redisAsyncCommand(ac, on_auth, c, "AUTH %s", cfg->password);
	} else {
		/* a PING round trip tells that the server really answers */
		redisAsyncCommand(ac, on_auth, c, "PING");
	}
}

/* hiredis 0.14 has no async connect timeout: a blackholed address or a
 * server that accepts but never answers would hold the connection. */
static void on_conn_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct jz_conn *c = arg;
	redisAsyncContext *ac = c->ac;

	if (!ac)
		return;
	c->ac = NULL;
	ac->data = NULL;
	redisAsyncFree(ac);
	conn_lost(c, "no answer within connect_timeout");
}

static void conn_stop(struct jz_conn *c)
{
	redisAsyncContext *ac = c->ac;

	c->want = false;
	evtimer_del(c->retry);
	evtimer_del(c->timeout);
	if (ac) {
		c->ac = NULL;
		c->ready = false;
		ac->data = NULL;
		redisAsyncFree(ac);
	}
}

/* ---- publishing ------------------------------------------------------- */

static void msg_free(struct jz_msg *m)
{
	free(m->channel);
	free(m->data);
	free(m);
}

static void on_published(redisAsyncContext *ac, void *r, void *priv)
{
	struct jz_bus *bus = priv;
	redisReply *reply = r;
	struct jz_msg *m;

	if (!reply || bus->freeing || bus->pub.ac != ac)
		return;		/* lost with the connection: resent after reconnect */
	m = TAILQ_FIRST(&bus->out);
	if (!m || bus->inflight == 0)
		return;
	if (reply->type == REDIS_REPLY_ERROR) {
		/* permanent (e.g. ACL NOPERM): retrying would block the queue */
		jz_err("redis %s refused: %s; %s dropped", m->channel, reply->str,
		       m->task ? "task" : "event");
		bus->st.publish_dropped++;
	} else if (m->task) {
		jz_debug("redis %s: queued", m->channel);
		bus->st.tasks_pushed++;
	} else {
		bus->st.published++;
	}
	TAILQ_REMOVE(&bus->out, m, link);
	bus->out_n--;
	bus->out_bytes -= m->len;
	bus->inflight--;
	msg_free(m);
	pub_flush(bus);
	drain_check(bus);
}

/*
 * Pub/Sub keeps nothing: when Redis comes back, the publisher is often
 * ready a few ms before the subscriber has re-subscribed, and the events
 * buffered during the outage would reach every subscriber but jazzd's own
 * handlers. So while our subscriber is wanted but not subscribed, hold the
 * buffer, at most connect_timeout (a subscriber that cannot subscribe must
 * not stop publishing).
 */
static bool pub_wait_for_sub(struct jz_bus *bus)
{
	int ms = bus->cfg.connect_timeout_ms > 0 ? bus->cfg.connect_timeout_ms : 5000;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (!bus->pub.ready || !bus->sub.want || bus->sub.ready || bus->sub_wait_over ||
	    !bus->sub_wait)
		return false;	/* the wait starts when the publisher is ready */
	if (!evtimer_pending(bus->sub_wait, NULL))
		evtimer_add(bus->sub_wait, &tv);
	return true;
}

static void on_sub_wait(evutil_socket_t fd, short what, void *arg)
{
	struct jz_bus *bus = arg;

	jz_warn("redis subscriber not subscribed in time: publishing anyway");
	bus->sub_wait_over = true;
	pub_flush(bus);
}

static void pub_flush(struct jz_bus *bus)
{
	if (pub_wait_for_sub(bus))
		return;
	while (bus->pub.ready && bus->next_send && bus->inflight < PUB_WINDOW) {
		struct jz_msg *m = bus->next_send;

		if (redisAsyncFormattedCommand(bus->pub.ac, on_published, bus,
					       m->data, m->len) != REDIS_OK)
			break;
		bus->inflight++;
		bus->next_send = TAILQ_NEXT(m, link);
	}
}

static void log_overflow(struct jz_bus *bus, const char *channel)
{
	time_t now = time(NULL);

	bus->st.publish_dropped++;
	bus->overflow_unlogged++;
	if (now == bus->last_overflow_log)
		return;		/* at most one line per second in a flood */
	jz_err("event buffer full (%zu events, %zu bytes, Redis %s): dropped %lu event(s), last %s; %lu dropped in total",
	       bus->out_n, bus->out_bytes, bus->pub.ready ? "up" : "down",
	       bus->overflow_unlogged, channel, bus->st.publish_dropped);
	bus->last_overflow_log = now;
	bus->overflow_unlogged = 0;
}

/* VERB key data in RESP, built once: resends after a reconnect reuse it */
static char *format_cmd(const char *verb, const char *channel, const char *data,
			size_t *len)
{
	size_t cl = strlen(channel), dl = strlen(data), size = cl + dl + 64;
	char *cmd = malloc(size);
	size_t n;

	if (!cmd)
		return NULL;
	n = snprintf(cmd, size, "*3\r\n$%zu\r\n%s\r\n$%zu\r\n", strlen(verb), verb, cl);
	memcpy(cmd + n, channel, cl);
	n += cl;
	n += snprintf(cmd + n, size - n, "\r\n$%zu\r\n", dl);
	memcpy(cmd + n, data, dl);
	n += dl;
	memcpy(cmd + n, "\r\n", 2);
	*len = n + 2;
	return cmd;
}

static void out_append(struct jz_bus *bus, struct jz_msg *m)
{
	TAILQ_INSERT_TAIL(&bus->out, m, link);
	bus->out_n++;
	bus->out_bytes += m->len;
	if (!bus->next_send)
		bus->next_send = m;
	pub_flush(bus);
}

void jz_bus_publish(struct jz_bus *bus, const char *event_name, json_t *payload)
{
	struct jz_msg *m = NULL;
	char *data = NULL, *channel = NULL;

	if (!bus || !bus->cfg.publish || !event_name || !valid_name(event_name))
		goto out;
	data = payload ? json_dumps(payload, JSON_COMPACT | JSON_ENCODE_ANY) :
			 strdup("{}");
	if (!data || asprintf(&channel, "module/%s/event/%s", bus->cfg.module_id,
			      event_name) < 0) {
		channel = NULL;
		jz_err("event %s: out of memory, dropped", event_name);
		bus->st.publish_dropped++;
		goto out;
	}
	if (bus->out_n >= bus->cfg.buffer_max ||
	    bus->out_bytes + strlen(data) > bus->cfg.buffer_bytes) {
		log_overflow(bus, channel);
		goto out;
	}
	m = calloc(1, sizeof(*m));
	if (!m || !(m->data = format_cmd("PUBLISH", channel, data, &m->len)) ||
	    asprintf(&m->channel, "PUBLISH %s", channel) < 0) {
		if (m)
			free(m->data);
		free(m);
		jz_err("event %s: out of memory, dropped", event_name);
		bus->st.publish_dropped++;
		goto out;
	}
	out_append(bus, m);
out:
	free(channel);
	free(data);
	json_decref(payload);
}

/* ---- handling --------------------------------------------------------- */

/* An [actions] entry when jazzd runs as an NS8 module: a task for the agent. */
static void push_task(struct jz_bus *bus, const char *action, const char *channel,
		      const char *data, size_t len)
{
	char id[JZ_TASK_ID_LEN + 1], *json = NULL, *key = NULL;
	const char *why = "out of memory";
	struct jz_msg *m = NULL;

	if (jz_ns8_task(bus->cfg.agent_id, action, channel, data, len, &json, id, &why))
		goto fail;
	if (bus->out_n >= bus->cfg.buffer_max ||
	    bus->out_bytes + strlen(json) > bus->cfg.buffer_bytes) {
		log_overflow(bus, channel);
		free(json);
		return;
	}
	why = "out of memory";
	if (asprintf(&key, "%s/tasks", bus->cfg.agent_id) < 0) {
		key = NULL;
		goto fail;
	}
	m = calloc(1, sizeof(*m));
	if (!m || !(m->data = format_cmd("LPUSH", key, json, &m->len)) ||
	    asprintf(&m->channel, "LPUSH %s task %s (%s)", key, id, action) < 0) {
		if (m)
			free(m->data);
		free(m);
		goto fail;
	}
	m->task = true;
	jz_info("%s: action %s handed to agent %s as task %s", channel, action,
		bus->cfg.agent_id, id);
	out_append(bus, m);
	free(json);
	free(key);
	return;
fail:
	jz_err("%s: action %s not handed to agent %s: %s", channel, action,
	       bus->cfg.agent_id, why);
	bus->st.publish_dropped++;
	free(json);
	free(key);
}

static void run_gw(struct jz_bus *bus, const struct jz_job_desc *ev)
{
	struct jz_job_desc d = *ev;
	struct jz_steps steps;
	int i = -1;

	while ((i = jz_eventsgw_match(&bus->gw, i + 1, ev->channel)) >= 0) {
		const struct jz_gw_entry *e = &bus->gw.e[i];

		d.what = e->kind == JZ_GW_ACTION ? e->value : e->pattern;
		if (e->kind == JZ_GW_ACTION && bus->cfg.agent_id) {
			push_task(bus, e->value, ev->channel, ev->payload, ev->len);
		} else if (e->kind == JZ_GW_ACTION) {
			int n = jz_steps_from_dirs(bus->cfg.actions_dirs,
						   bus->cfg.n_actions_dirs, e->value, &steps);

			if (n <= 0) {
				jz_warn("%s: action %s has no steps in the actions dirs",
					ev->channel, e->value);
				continue;
			}
			d.kind = "action";
			jz_runner_submit(bus->runner, &d, &steps);
		} else {
			if (jz_steps_shell(e->pattern, e->value, &steps) < 0)
				continue;
			d.kind = "command";
			jz_runner_submit(bus->runner, &d, &steps);
		}
	}
}

static void dispatch(struct jz_bus *bus, const char *channel, const char *data,
		     size_t len)
{
	struct jz_job_desc d = { .kind = "event", .channel = channel,
				 .payload = data, .len = len };
	const char *at = strstr(channel, "/event/");
	char *source = NULL;
	struct jz_steps steps;
	json_error_t jerr;
	json_t *j;

	bus->st.received++;
	/* NS8 (strings.Cut): the source is the part before the first "/event/" */
	if (at) {
		source = strndup(channel, at - channel);
		if (!source) {
			jz_err("%s: out of memory, event not handled", channel);
			return;
		}
	}
	d.source = source ? source : "";
	d.name = at ? at + 7 : channel;
	d.what = d.name;
	j = json_loadb(data, len, JSON_DECODE_ANY, &jerr);
	if (!j)
		jz_warn("%s: payload is not valid JSON (%s at %d), handed over as raw text",
			channel, jerr.text, jerr.position);
	json_decref(j);

	if (at && valid_name(d.name) && bus->cfg.n_events_dirs &&
	    jz_steps_from_dirs(bus->cfg.events_dirs, bus->cfg.n_events_dirs, d.name,
			       &steps) > 0)
		jz_runner_submit(bus->runner, &d, &steps);
	else if (at && !valid_name(d.name))
		jz_warn("%s: event name not usable as a directory, no handlers run",
			channel);
	if (bus->gw.n)
		run_gw(bus, &d);
	free(source);
}

static void sub_on_message(redisAsyncContext *ac, void *r, void *priv)
{
	struct jz_conn *c = priv;
	struct jz_bus *bus = c->bus;
	redisReply *reply = r;

	if (!reply || bus->freeing || c->ac != ac)
		return;
	if (reply->type == REDIS_REPLY_ERROR) {
		jz_err("redis subscriber: PSUBSCRIBE %s: %s", bus->cfg.pattern, reply->str);
		redisAsyncDisconnect(ac);
		return;
	}
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3)
		return;
	if (reply->elements == 4 && !strcmp(reply->element[0]->str, "pmessage") &&
	    reply->element[2]->type == REDIS_REPLY_STRING &&
	    reply->element[3]->type == REDIS_REPLY_STRING) {
		dispatch(bus, reply->element[2]->str, reply->element[3]->str,
			 reply->element[3]->len);
	} else if (!strcmp(reply->element[0]->str, "psubscribe")) {
		evtimer_del(c->timeout);
		c->ready = true;
		c->backoff_ms = 0;
		jz_info("redis subscriber: subscribed to %s", bus->cfg.pattern);
		evtimer_del(bus->sub_wait);
		bus->sub_wait_over = false;
		pub_flush(bus);
	}
}

/* ---- lifecycle -------------------------------------------------------- */

static void runner_limits(const struct jz_bus_config *c, struct jz_runner_limits *l)
{
	l->max_running = c->max_handlers;
	l->queue_max = c->queue_max;
	l->queue_bytes = c->queue_bytes;
	l->step_timeout_ms = c->step_timeout_ms;
	l->state_dir = c->state_dir;
}

static void ignore_sigpipe(void)
{
	struct sigaction sa;

	/* a step that closes stdin early must not kill jazzd */
	if (!sigaction(SIGPIPE, NULL, &sa) && sa.sa_handler == SIG_DFL) {
		sa.sa_handler = SIG_IGN;
		sigaction(SIGPIPE, &sa, NULL);
	}
}

static void conn_init(struct jz_bus *bus, struct jz_conn *c, const char *role)
{
	c->bus = bus;
	c->role = role;
	c->retry = evtimer_new(bus->base, on_retry, c);
	c->timeout = evtimer_new(bus->base, on_conn_timeout, c);
}

struct jz_bus *jz_bus_new(struct event_base *base, const struct jz_bus_config *c,
			  char *err, size_t errlen)
{
	struct jz_runner_limits lim;
	struct jz_bus *bus = calloc(1, sizeof(*bus));

	if (!bus || config_copy(&bus->cfg, c)) {
		free(bus);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	bus->base = base;
	TAILQ_INIT(&bus->out);
	if (bus->cfg.handle &&
	    jz_eventsgw_load(bus->cfg.eventsgw_conf, &bus->gw, err, errlen)) {
		jz_bus_config_free(&bus->cfg);
		free(bus);
		return NULL;
	}
	runner_limits(&bus->cfg, &lim);
	bus->runner = jz_runner_new(base, &lim);
	conn_init(bus, &bus->pub, "publisher");
	conn_init(bus, &bus->sub, "subscriber");
	bus->sub_wait = evtimer_new(base, on_sub_wait, bus);
	bus->ev_drained = evtimer_new(base, on_drained, bus);
	if (!bus->runner || !bus->sub_wait || !bus->ev_drained || !bus->pub.retry || !bus->sub.retry || !bus->pub.timeout ||
	    !bus->sub.timeout) {
		snprintf(err, errlen, "out of memory");
		jz_bus_free(bus);
		return NULL;
	}
	ignore_sigpipe();
	bus->pub.want = pub_wanted(&bus->cfg);
	bus->sub.want = bus->cfg.handle;
	if (bus->pub.want)
		conn_start(&bus->pub);
	if (bus->sub.want)
		conn_start(&bus->sub);
	if (bus->cfg.unix_path)
		snprintf(err, errlen, "unix:%s", bus->cfg.unix_path);
	else
		snprintf(err, errlen, "%s:%d", bus->cfg.host, bus->cfg.port);
	jz_info("event bus: redis %s, module %s, publish %s, handlers %s (%zu events dir(s), %zu eventsgw entries%s%s)",
		err, bus->cfg.module_id, bus->cfg.publish ? "on" : "off",
		bus->cfg.handle ? "on" : "off", bus->cfg.n_events_dirs, bus->gw.n,
		bus->cfg.agent_id ? ", actions to agent " : "",
		bus->cfg.agent_id ? bus->cfg.agent_id : "");
	err[0] = '\0';
	return bus;
}

int jz_bus_reload(struct jz_bus *bus, const struct jz_bus_config *c,
		  char *err, size_t errlen)
{
	struct jz_bus_config nc;
	struct jz_runner_limits lim;
	struct jz_eventsgw gw;
	bool reconnect, resub;

	if (c->handle && jz_eventsgw_load(c->eventsgw_conf, &gw, err, errlen))
		return -1;	/* keep the running tables */
	if (!c->handle)
		memset(&gw, 0, sizeof(gw));
	if (config_copy(&nc, c)) {
		jz_eventsgw_free(&gw);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	reconnect = redis_changed(&bus->cfg, &nc);
	resub = reconnect || strcmp(bus->cfg.pattern, nc.pattern) ||
		bus->cfg.handle != nc.handle;
	/*
	 * Everything below happens between two loop iterations: an event
	 * arriving now sees either the old or the new tables, never none.
	 */
	jz_eventsgw_free(&bus->gw);
	bus->gw = gw;
	jz_bus_config_free(&bus->cfg);
	bus->cfg = nc;
	runner_limits(&bus->cfg, &lim);
	jz_runner_set_limits(bus->runner, &lim);
	if (reconnect || !pub_wanted(&bus->cfg)) {
		conn_stop(&bus->pub);
		bus->next_send = TAILQ_FIRST(&bus->out);
		bus->inflight = 0;
	}
	if (pub_wanted(&bus->cfg) && !bus->pub.want) {
		bus->pub.want = true;
		bus->pub.backoff_ms = 0;
		conn_start(&bus->pub);
	}
	if (resub) {
		conn_stop(&bus->sub);
		if (bus->cfg.handle && !bus->draining) {
			bus->sub.want = true;
			bus->sub.backoff_ms = 0;
			conn_start(&bus->sub);
		}
	}
	jz_info("event bus reloaded: %zu events dir(s), %zu eventsgw entries, max %u handlers%s",
		bus->cfg.n_events_dirs, bus->gw.n, bus->cfg.max_handlers,
		reconnect ? ", redis reconnected" : "");
	return 0;
}

void jz_bus_free(struct jz_bus *bus)
{
	struct jz_msg *m;

	if (!bus)
		return;
	bus->freeing = true;
	if (bus->out_n)
		jz_warn("event bus: %zu event(s) not yet published are lost at exit",
			bus->out_n);
	if (bus->pub.retry && bus->pub.timeout)
		conn_stop(&bus->pub);
	if (bus->sub.retry && bus->sub.timeout)
		conn_stop(&bus->sub);
	if (bus->pub.retry)
		event_free(bus->pub.retry);
	if (bus->pub.timeout)
		event_free(bus->pub.timeout);
	if (bus->sub.retry)
		event_free(bus->sub.retry);
	if (bus->sub.timeout)
		event_free(bus->sub.timeout);
	if (bus->sub_wait)
		event_free(bus->sub_wait);
	if (bus->ev_drained)
		event_free(bus->ev_drained);
	while ((m = TAILQ_FIRST(&bus->out))) {
		TAILQ_REMOVE(&bus->out, m, link);
		msg_free(m);
	}
	jz_runner_free(bus->runner);
	jz_eventsgw_free(&bus->gw);
	jz_bus_config_free(&bus->cfg);
	free(bus);
}

/* ---- graceful stop ---------------------------------------------------- */

static void on_drained(evutil_socket_t fd, short what, void *arg)
{
	struct jz_bus *bus = arg;

	if (bus->drained_cb)
		bus->drained_cb(bus->drained_arg);
}

/*
 * Done when no handler runs and nothing waits for Redis, or Redis is not
 * there to take it (then jz_bus_free() logs what is lost).
 */
static void drain_check(struct jz_bus *bus)
{
	static const struct timeval now;

	if (!bus->draining || bus->drain_done || !jz_runner_idle(bus->runner))
		return;
	if (bus->out_n && bus->pub.ready)
		return;
	bus->drain_done = true;
	evtimer_add(bus->ev_drained, &now);
}

static void on_runner_drained(void *arg)
{
	drain_check(arg);
}

void jz_bus_drain(struct jz_bus *bus, void (*done)(void *), void *arg)
{
	bus->drained_cb = done;
	bus->drained_arg = arg;
	if (bus->draining)
		return;
	bus->draining = true;
	/* no new event, so no new handler; the running ones go on */
	if (bus->sub.want) {
		conn_stop(&bus->sub);
		jz_info("graceful stop: unsubscribed from %s", bus->cfg.pattern);
	}
	if (bus->out_n)
		jz_info("graceful stop: %zu event(s)/task(s) to send while Redis is %s",
			bus->out_n, bus->pub.ready ? "up" : "down");
	jz_runner_drain(bus->runner, on_runner_drained, bus);
}

void jz_bus_get_stats(const struct jz_bus *bus, struct jz_bus_stats *st)
{
	struct jz_runner_stats rs;

	*st = bus->st;
	st->buffered = bus->out_n;
	st->pub_connected = bus->pub.ready;
	st->sub_connected = bus->sub.ready;
	jz_runner_get_stats(bus->runner, &rs);
	st->handlers_started = rs.started;
	st->handlers_done = rs.done;
	st->handlers_failed = rs.failed;
	st->handler_dropped = rs.dropped;
	st->running = rs.running;
	st->max_running_seen = rs.max_running_seen;
	st->queued = rs.queued;
}
