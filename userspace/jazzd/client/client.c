// SPDX-License-Identifier: GPL-2.0
/*
 * The jazz client device: connects to the server over TLS 1.3 (verified by
 * CA or pinned fingerprint), logs in (Kerberos AP-REQ or password token,
 * then validate_user prompts), installs addresses, peers and keys through
 * the kernel interface, and bridges the kernel's approval requests to the
 * server. Reconnects with exponential backoff; keeps its kernel state
 * while away so that traffic between peers goes on.
 *
 * Must not speak netlink itself (kernel/kernel.h) nor run Kerberos beyond
 * auth/krb.h.
 *
 * A server is trusted with nothing until it has proved its identity (the
 * `auth` proof of the login: AP-REP or password reply, for the principal
 * that logged in): before that, anything but `auth`, `reject`, `bye` and
 * `error` drops the connection. Even then it may only give this device an
 * address inside [client] pool4/pool6, and peers whose allowed-ips lie in
 * those pools, at most [client] max_peers of them (docs/SECURITY.md).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include <jazz.h>

#include "client/client_int.h"
#include "core/jazzd.h"
#include "log.h"

static void schedule_reconnect(struct jz_client *c);

void client_send(struct jz_client *c, json_t *m)
{
	if (c->bev)
		jz_frame_send(c->bev, m);
	else
		json_decref(m);
}

void client_drop(struct jz_client *c, const char *why)
{
	if (why)
		jz_warn("disconnected from %s: %s", c->srv_cur, why);
	if (c->bev) {
		SSL *ssl = bufferevent_openssl_get_ssl(c->bev);

		if (ssl)
			SSL_set_shutdown(ssl, SSL_RECEIVED_SHUTDOWN);
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	if (c->krb) {
		jz_krb_client_free(c->krb);
		c->krb = NULL;
	}
	if (c->pw) {
		jz_krb_pw_client_free(c->pw);
		c->pw = NULL;
	}
	if (c->ping_ev)
		evtimer_del(c->ping_ev);
	client_parts_end(c);	/* a list in parts ends with its session */
	c->state = C_IDLE;
	c->proven = false;
	if (!c->stopping)
		schedule_reconnect(c);
}

/* From the kernel: an approval request (or expiry) to pass on. */
static void on_kconn(void *arg, const struct jz_kconn *kc, bool expired)
{
	struct jz_client *c = arg;
	char pn[16];
	json_t *m;

	if (c->state != C_ONLINE) {
		/* no server: no verdict; the kernel times out and fails closed */
		jz_warn("approval request while not logged in: left to time out");
		return;
	}
	m = json_pack("{s:s,s:s,s:s,s:i,s:s,s:i,s:s,s:I,s:i}",
		      "type", expired ? "conn_expired" : "conn_request",
		      "proto", jz_proto_name(kc->proto, pn, sizeof(pn)),
		      "src", kc->src, "sport", kc->sport, "dst", kc->dst, "dport", kc->dport,
		      "dir", kc->direction == JAZZ_DIRECTION_INGRESS ? "ingress" : "egress",
		      "cookie", (json_int_t)kc->cookie, "peer", kc->peer_id);
	if (expired) {
		json_object_set_new(m, "end", json_integer(kc->end));
	} else {
		json_object_set_new(m, "rid", json_integer((json_int_t)++c->next_rid));
		client_demand_asked(c, kc);	/* the first-packet wait starts */
	}
	client_send(c, m);
}

/* ------------------------------------------------------------------ */
/* login */

static const char *find_answer(struct jz_client *c, const char *code)
{
	struct jz_daemon *d = c->d;

	for (size_t i = 0; i < d->n_cli_answers; i++)
		if (!strcmp(d->cli_answers[i].code, code))
			return d->cli_answers[i].value;
	for (size_t i = 0; i < cfg(c)->n_answers; i++)
		if (!strcmp(cfg(c)->answers[i].code, code))
			return cfg(c)->answers[i].value;
	return NULL;
}

/*
 * Asks the person at the terminal. Only when standard input is a terminal
 * (jazzd -f run by someone); the question and the answer go through
 * /dev/tty, with echo off for secrets. NULL (and *why set) when there is
 * no terminal to ask on.
 */
static char *ask_terminal(const char *text, bool secret, const char **why)
{
	struct termios old, t;
	char buf[512];
	bool echo_off = false;
	FILE *tty;

	if (!isatty(STDIN_FILENO)) {
		*why = "standard input is not a terminal";
		return NULL;
	}
	tty = fopen("/dev/tty", "r+");
	if (!tty) {
		*why = "no controlling terminal (/dev/tty)";
		return NULL;
	}
	fprintf(tty, "%s: ", text);
	fflush(tty);
	if (secret && tcgetattr(fileno(tty), &old) == 0) {
		t = old;
		t.c_lflag &= ~ECHO;
		echo_off = tcsetattr(fileno(tty), TCSANOW, &t) == 0;
	}
	if (!fgets(buf, sizeof(buf), tty))
		buf[0] = 0;
	if (echo_off) {
		tcsetattr(fileno(tty), TCSANOW, &old);
		fputc('\n', tty);
	}
	fclose(tty);
	buf[strcspn(buf, "\r\n")] = 0;
	return strdup(buf);
}

/* Nobody can give what the login needs: say why, and stop (no retries). */
static void give_up(struct jz_client *c, const char *what)
{
	jz_err("%s; giving up (no reconnect)", what);
	c->stopping = true;
	c->d->exit_status = 1;
	client_drop(c, NULL);
	event_base_loopbreak(c->d->base);
}

static void on_challenge(struct jz_client *c, json_t *m)
{
	struct jz_cm_challenge ch;
	json_t *items;
	char err[256];
	size_t i;

	if (jz_cm_challenge(m, &ch, err, sizeof(err))) {
		client_drop(c, err);
		return;
	}
	if (ch.message[0]) {
		char esc[JZ_CM_TEXT * 4];

		jz_cm_escape(ch.message, esc, sizeof(esc));
		jz_info("server: %s", esc);
	}
	items = json_array();
	for (i = 0; i < ch.n; i++) {
		const struct jz_cm_prompt *p = &ch.p[i];
		const char *v = find_answer(c, p->code);
		const char *why = "[client] interactive is off";
		char text[JZ_CM_TEXT * 4], code[JZ_CM_DEV * 4];
		char *asked = NULL;

		/* the server's words reach the terminal and the log escaped */
		jz_cm_escape(p->text, text, sizeof(text));
		jz_cm_escape(p->code, code, sizeof(code));
		if (!v && cfg(c)->interactive)
			v = asked = ask_terminal(text, p->secret, &why);
		if (!v) {
			char what[3072];

			snprintf(what, sizeof(what),
				 "the server asks for '%s' (%s): no answer in the configuration "
				 "([answers] %s = ...) or on the command line (-a %s=...), "
				 "and none can be asked: %s",
				 code, text, code, code, why);
			json_decref(items);
			give_up(c, what);
			return;
		}
		json_array_append_new(items, json_pack("{s:s,s:s}", "code", p->code, "value", v));
		if (asked) {
			OPENSSL_cleanse(asked, strlen(asked));
			free(asked);
		}
	}
	client_send(c, json_pack("{s:s,s:o}", "type", "answer", "other_data", items));
}

static char *read_password(struct jz_client *c)
{
	char buf[512];
	FILE *f;

	if (c->d->cli_password)
		return strdup(c->d->cli_password);
	if (cfg(c)->password)
		return strdup(cfg(c)->password);
	if (cfg(c)->password_file) {
		f = fopen(cfg(c)->password_file, "r");
		if (!f)
			return NULL;
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = 0;
		fclose(f);
		buf[strcspn(buf, "\r\n")] = 0;
		return strdup(buf);
	}
	if (cfg(c)->interactive) {
		const char *why = NULL;
		char *pw = ask_terminal("Password", true, &why);

		if (!pw)
			jz_err("no password configured, and none can be asked: %s", why);
		return pw;
	}
	return NULL;
}

static int send_login(struct jz_client *c)
{
	struct jz_krb_buf tok = { 0 };
	char err[256];
	char *b64;
	json_t *m, *known;
	int rc;

	if (!strcmp(cfg(c)->method, "password")) {
		char *pw = read_password(c);
		struct jz_krb_pw_cfg pc = {
			.user = cfg(c)->user,
			.realm = cfg(c)->realm,
			.password = pw,
			.enctype = jz_krb_enctype_from_name(cfg(c)->enctype),
			.time_offset = cfg(c)->time_offset,
		};

		if (!pw || !pc.user || !pc.realm) {
			jz_err("password login needs [client] user, realm and a password");
			free(pw);
			return -1;
		}
		if (pc.enctype < 0)
			pc.enctype = 0;
		rc = jz_krb_pw_client_new(&pc, c->binding, sizeof(c->binding), &c->pw,
					  &tok, err, sizeof(err));
		OPENSSL_cleanse(pw, strlen(pw));
		free(pw);
	} else {
		struct jz_krb_client_cfg kc = {
			.ccache = cfg(c)->ccache,
			.keytab = cfg(c)->client_keytab,
			.principal = cfg(c)->principal,
			.service = cfg(c)->service,
			.time_offset = cfg(c)->time_offset,
		};

		rc = jz_krb_client_new(&kc, &c->krb, err, sizeof(err));
		if (!rc)
			rc = jz_krb_client_ap_req(c->krb, c->binding, sizeof(c->binding),
						  &tok, err, sizeof(err));
	}
	if (rc) {
		jz_err("login: %s: %s", jz_krb_status_name(rc), err);
		return -1;
	}
	b64 = jz_b64_encode(tok.data, tok.len);
	jz_krb_buf_free(&tok);
	m = json_pack("{s:s,s:s,s:s,s:s,s:i,s:[],s:[ssss]}", "type", "login", "method",
		      cfg(c)->method, "device", cfg(c)->device, "token", b64,
		      "listen_port", c->k->ops->listen_port(c->k), "other_data",
		      "features", "peers_delta", "key_swap_ack", "peers_more", "peers_compact");
	free(b64);
	known = client_known_view(c);
	if (known)
		json_object_set_new(m, "peers_known", known);
	if (!c->server_keys) {
		/* the public half only: the private key never leaves this device */
		b64 = jz_b64_encode(c->idpub, sizeof(c->idpub));
		json_object_set_new(m, "pubkey", json_string(b64 ? b64 : ""));
		free(b64);
	}
	if (cfg(c)->endpoint) {
		char host[64];
		uint16_t port;

		if (!jz_parse_hostport(cfg(c)->endpoint, host, sizeof(host), &port)) {
			json_object_set_new(m, "endpoint_ip", json_string(host));
			json_object_set_new(m, "listen_port", json_integer(port));
		}
	}
	client_send(c, m);
	return 0;
}

/* The principal this client logged in as: the server's proof must name it. */
static int my_identity(struct jz_client *c, char *user, char *realm, size_t len)
{
	struct jz_krb_identity id;
	char err[256];

	if (c->pw) {
		snprintf(user, len, "%s", cfg(c)->user ?: "");
		snprintf(realm, len, "%s", cfg(c)->realm ?: "");
		return 0;
	}
	if (!c->krb || jz_krb_client_identity(c->krb, &id, err, sizeof(err)))
		return -1;
	snprintf(user, len, "%s", id.user);
	snprintf(realm, len, "%s", id.realm);
	return 0;
}

static int on_auth(struct jz_client *c, json_t *m)
{
	char err[256], user[JZ_CM_NAME], realm[JZ_CM_NAME];
	char eu[JZ_CM_NAME * 4], er[JZ_CM_NAME * 4];
	struct jz_cm_auth a;
	int rc;

	if (c->proven || c->state != C_LOGIN || (!c->pw && !c->krb)) {
		client_drop(c, "a second or unexpected auth message");
		return -1;
	}
	if (jz_cm_auth(m, &a, err, sizeof(err))) {
		jz_err("server failed mutual authentication: %s", err);
		client_drop(c, "mutual authentication failed");
		return -1;
	}
	if (c->pw)
		rc = jz_krb_pw_client_reply(c->pw, a.proof, a.proof_len, err, sizeof(err));
	else
		rc = jz_krb_client_ap_rep(c->krb, a.proof, a.proof_len, err, sizeof(err));
	jz_cm_auth_free(&a);
	if (rc) {
		jz_err("server failed mutual authentication: %s", err);
		client_drop(c, "mutual authentication failed");
		return -1;
	}
	jz_cm_escape(a.user, eu, sizeof(eu));
	jz_cm_escape(a.realm, er, sizeof(er));
	if (my_identity(c, user, realm, sizeof(user)) || strcmp(user, a.user) ||
	    strcmp(realm, a.realm)) {
		jz_err("server failed mutual authentication: its proof names %s@%s, not %s@%s",
		       eu, er, user, realm);
		client_drop(c, "mutual authentication failed");
		return -1;
	}
	c->proven = true;
	jz_info("authenticated as %s@%s; server verified", eu, er);
	return 0;
}

/* The addresses a welcome gives this device: "" or why they are refused. */
static void welcome_check(struct jz_client *c, const struct jz_cm_welcome *w,
			  char *why, size_t len)
{
	int plen = 0;

	why[0] = 0;
	if (w->vip4[0] && !client_in_pool(AF_INET, w->vip4, cfg(c)->pool4, &plen))
		snprintf(why, len, "address %s is outside the accepted pool %s ([client] pool4)",
			 w->vip4, cfg(c)->pool4 ?: "(none)");
	else if (w->vip4[0] && w->prefix4 < plen)
		snprintf(why, len, "prefix length %d for %s is wider than the accepted pool %s",
			 w->prefix4, w->vip4, cfg(c)->pool4);
	else if (w->vip6[0] && !client_in_pool(AF_INET6, w->vip6, cfg(c)->pool6, &plen))
		snprintf(why, len, "address %s is outside the accepted pool %s ([client] pool6)",
			 w->vip6, cfg(c)->pool6 ?: "(none)");
	else if (w->vip6[0] && w->prefix6 < plen)
		snprintf(why, len, "prefix length %d for %s is wider than the accepted pool %s",
			 w->prefix6, w->vip6, cfg(c)->pool6);
}

static void on_welcome(struct jz_client *c, json_t *m)
{
	struct timeval tv = { cfg(c)->keepalive_s, 0 };
	struct timeval grace = { CARRY_GRACE_S, 0 };
	char err[256], eu[JZ_CM_NAME * 4], er[JZ_CM_NAME * 4], ed[JZ_CM_DEV * 4];
	struct jz_cm_welcome w;

	if (c->state != C_LOGIN) {
		client_drop(c, "a second welcome");
		return;
	}
	if (jz_cm_welcome(m, &w, err, sizeof(err))) {
		client_drop(c, err);
		return;
	}
	welcome_check(c, &w, err, sizeof(err));
	if (err[0]) {
		jz_err("welcome: %s: refused, nothing installed", err);
		client_drop(c, "the server's welcome was refused");
		return;
	}
	c->state = C_ONLINE;
	client_server_ok(c);
	for (size_t i = 0; i < c->n_peers; i++)
		c->peers[i].carried = true;
	/* presented at login: they stay until the server's answer (the
	 * unchanged list, or a list and then the grace) */
	if (c->n_peers && !c->known_due)
		evtimer_add(c->carry_ev, &grace);
	c->my_id = w.id;
	snprintf(c->vip4, sizeof(c->vip4), "%s", w.vip4);
	snprintf(c->vip6, sizeof(c->vip6), "%s", w.vip6);
	c->prefix4 = w.prefix4;
	c->prefix6 = w.prefix6;
	if (c->k->ops->set_addresses(c->k, c->vip4, w.prefix4, c->vip6, w.prefix6))
		jz_err("kernel: cannot set addresses");
	jz_cm_escape(w.user, eu, sizeof(eu));
	jz_cm_escape(w.realm, er, sizeof(er));
	jz_cm_escape(w.device, ed, sizeof(ed));
	jz_info("logged in as %s@%s, device %s (id %u): %s %s", eu, er, ed, c->my_id,
		c->vip4, c->vip6);
	if (w.server_keys != c->server_keys)
		jz_err("the server %s pair keys but this device %s ([client] pair_keys): "
		       "no tunnel gets a key until both say the same",
		       w.server_keys ? "hands out" : "leaves the devices to agree",
		       c->server_keys ? "takes them from it" : "agrees its own");
	bufferevent_set_timeouts(c->bev, &(struct timeval){ cfg(c)->dead_s, 0 }, NULL);
	evtimer_add(c->ping_ev, &tv);
	client_path_online(c);
}

/* reject, bye, error: what the server said, escaped, then drop */
static void on_close_msg(struct jz_client *c, json_t *m, const char *t)
{
	char reason[128], msg[JZ_CM_TEXT * 4], why[sizeof(reason) + sizeof(msg) + 4];

	jz_cm_escape(jz_msg_str(m, "reason") ?: "", reason, sizeof(reason));
	jz_cm_escape(jz_msg_str(m, "message") ?: "", msg, sizeof(msg));
	if (!strcmp(t, "reject")) {
		jz_err("login rejected: %s%s%s", reason[0] ? reason : "?",
		       msg[0] ? ": " : "", msg);
		client_drop(c, "rejected");
		return;
	}
	snprintf(why, sizeof(why), "%s", reason[0] ? reason : msg[0] ? msg : t);
	client_drop(c, why);
}

static void on_message(struct jz_client *c, json_t *m)
{
	const char *t = jz_msg_type(m);

	if (!strcmp(t, "reject") || !strcmp(t, "bye") || !strcmp(t, "error")) {
		on_close_msg(c, m, t);
	} else if (!strcmp(t, "auth")) {
		on_auth(c, m);
	} else if (!c->proven) {
		/* nothing from a server that has not proved who it is */
		char et[64], why[160];

		jz_cm_escape(t, et, sizeof(et));
		snprintf(why, sizeof(why),
			 "the server sent '%s' before proving its identity (no valid auth): "
			 "not acting on it", et);
		jz_err("%s", why);
		client_drop(c, "server not authenticated");
	} else if (!strcmp(t, "ping")) {
		client_send(c, json_pack("{s:s}", "type", "pong"));
	} else if (!strcmp(t, "pong")) {
	} else if (!strcmp(t, "challenge")) {
		on_challenge(c, m);
	} else if (!strcmp(t, "welcome")) {
		on_welcome(c, m);
	} else if (c->state != C_ONLINE) {
		client_drop(c, "unexpected message before welcome");
	} else if (!strcmp(t, "peers")) {
		client_on_peers(c, m, false);
	} else if (!strcmp(t, "peers_delta")) {
		client_on_peers(c, m, true);
	} else if (!strcmp(t, "peers_unchanged")) {
		client_on_peers_unchanged(c, m);
	} else if (!strcmp(t, "key")) {
		client_on_key(c, m);
	} else if (!strcmp(t, "key_swap")) {
		client_on_key_swap(c, m);
	} else if (!strcmp(t, "pair")) {
		client_on_pair(c, m);
	} else if (!strcmp(t, "pair_refused")) {
		client_on_pair_refused(c, m);
	} else if (!strcmp(t, "relay")) {
		client_path_relay(c, m);
	} else if (!strcmp(t, "relay_refused")) {
		client_path_relay_refused(c, m);
	} else if (!strcmp(t, "path_refused")) {
		client_path_report_refused(c, m);
	} else if (!strcmp(t, "pair_start")) {
		client_on_pair_start(c, m);
	} else if (!strcmp(t, "verdict")) {
		client_on_verdict(c, m);
	} else {
		char et[64];

		jz_cm_escape(t, et, sizeof(et));
		jz_debug("ignoring message %s", et);
	}
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct jz_client *c = arg;
	char err[256];
	json_t *m;
	int r;

	while (c->bev == bev &&
	       (r = jz_frame_read(bev, cfg(c)->max_frame, &m, err, sizeof(err))) != 0) {
		if (r < 0) {
			client_drop(c, err);
			return;
		}
		on_message(c, m);
		json_decref(m);
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct jz_client *c = arg;
	char err[256];

	if (what & BEV_EVENT_CONNECTED) {
		SSL *ssl = bufferevent_openssl_get_ssl(bev);

		if (jz_tls_check_pin(ssl, cfg(c)->fingerprint, err, sizeof(err))) {
			client_drop(c, err);
			return;
		}
		if (jz_tls_binding(ssl, c->binding)) {
			client_drop(c, "no TLS exporter");
			return;
		}
		c->state = C_LOGIN;
		if (send_login(c)) {
			client_drop(c, "cannot build the login");
			return;
		}
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		client_drop(c, "timeout");
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		jz_bev_error(bev, err, sizeof(err));
		client_drop(c, err);
		return;
	}
	if (what & BEV_EVENT_EOF)
		client_drop(c, "server closed the connection");
}

static void do_connect(evutil_socket_t fd, short what, void *arg)
{
	struct jz_client *c = arg;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	char host[256], portstr[8];
	uint16_t port;
	SSL *ssl;

	if (jz_parse_hostport(client_server(c), host, sizeof(host), &port)) {
		jz_err("[client] server: cannot parse '%s'", c->srv_cur);
		schedule_reconnect(c);
		return;
	}
	snprintf(portstr, sizeof(portstr), "%u", port);
	if (getaddrinfo(host, portstr, &hints, &ai) || !ai) {
		jz_warn("cannot resolve %s", host);
		schedule_reconnect(c);
		return;
	}
	ssl = SSL_new(c->ssl);
	SSL_set_tlsext_host_name(ssl, cfg(c)->server_name ? cfg(c)->server_name : host);
	if (cfg(c)->ca && *cfg(c)->ca)
		SSL_set1_host(ssl, cfg(c)->server_name ? cfg(c)->server_name : host);
	c->bev = bufferevent_openssl_socket_new(c->d->base, -1, ssl,
						BUFFEREVENT_SSL_CONNECTING,
						BEV_OPT_CLOSE_ON_FREE);
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
	bufferevent_set_timeouts(c->bev, &(struct timeval){ 15, 0 },
				 &(struct timeval){ 15, 0 });
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->state = C_CONNECTING;
	jz_info("connecting to %s", c->srv_cur);
	if (bufferevent_socket_connect(c->bev, ai->ai_addr, (int)ai->ai_addrlen)) {
		freeaddrinfo(ai);
		client_drop(c, "connect failed");
		return;
	}
	freeaddrinfo(ai);
}

static void schedule_reconnect(struct jz_client *c)
{
	struct timeval tv;

	client_server_next(c, &tv);	/* servers.c: the next server, and when */
	evtimer_add(c->retry_ev, &tv);
}

static void on_ping(evutil_socket_t fd, short what, void *arg)
{
	struct jz_client *c = arg;
	struct timeval tv = { cfg(c)->keepalive_s, 0 };

	if (c->state != C_ONLINE)
		return;
	client_send(c, json_pack("{s:s}", "type", "ping"));
	evtimer_add(c->ping_ev, &tv);
}

struct jz_client *jz_client_new(struct jz_daemon *d, char *err, size_t errlen)
{
	struct jz_client *c = calloc(1, sizeof(*c));
	struct timeval now = { 0, 0 };

	c->d = d;
	if (!d->cfg.server || !d->cfg.device) {
		snprintf(err, errlen, "[client] needs server and device");
		goto fail;
	}
	if (!d->cfg.service && !strcmp(d->cfg.method, "kerberos")) {
		snprintf(err, errlen, "[client] kerberos login needs service = jazz/HOST@REALM");
		goto fail;
	}
	c->ssl = jz_tls_client_ctx(d->cfg.ca, d->cfg.fingerprint, err, errlen);
	if (!c->ssl)
		goto fail;
	if (client_pairs_init(c, err, errlen))
		goto fail;
	c->k = jz_kernel_new(d->base, &d->cfg, on_kconn, c, err, errlen);
	if (!c->k)
		goto fail;
	c->k->on_rotate = client_pair_rotate;
	if (client_path_start(c, err, errlen) || client_nat_start(c, err, errlen) ||
	    client_addrwatch_start(c, err, errlen))
		goto fail;
	c->retry_ev = evtimer_new(d->base, do_connect, c);
	c->ping_ev = evtimer_new(d->base, on_ping, c);
	c->carry_ev = evtimer_new(d->base, client_on_carry_over, c);
	if (!c->retry_ev || !c->ping_ev || !c->carry_ev) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	evtimer_add(c->retry_ev, &now);
	return c;
fail:
	jz_client_free(c);
	return NULL;
}

int jz_client_reload(struct jz_client *c)
{
	char err[256];
	SSL_CTX *ctx = jz_tls_client_ctx(cfg(c)->ca, cfg(c)->fingerprint, err, sizeof(err));

	if (!ctx) {
		jz_err("reload: keeping the old TLS settings: %s", err);
		return -1;
	}
	SSL_CTX_free(c->ssl);
	c->ssl = ctx;
	return 0;
}

void jz_client_free(struct jz_client *c)
{
	if (!c)
		return;
	c->stopping = true;
	if (c->bev) {
		client_send(c, json_pack("{s:s}", "type", "bye"));
		bufferevent_flush(c->bev, EV_WRITE, BEV_FLUSH);
	}
	client_drop(c, NULL);
	if (c->retry_ev)
		event_free(c->retry_ev);
	if (c->ping_ev)
		event_free(c->ping_ev);
	if (c->carry_ev)
		event_free(c->carry_ev);
	client_pairs_free(c);
	for (size_t i = 0; i < c->n_peers; i++)
		client_path_forget(&c->peers[i]);
	client_nat_free(c);
	client_path_free(c);
	client_addrwatch_free(c);
	if (c->k)
		c->k->ops->free(c->k);
	if (c->ssl)
		SSL_CTX_free(c->ssl);
	free(c->peers);
	free(c->view);
	free(c->pend);
	free(c->kstats);
	free(c);
}
