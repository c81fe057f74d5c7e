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
 */
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

#include "core/jazzd.h"
#include "kernel/kernel.h"
#include "auth/krb.h"
#include "log.h"
#include "core/proto.h"

enum cstate { C_IDLE, C_CONNECTING, C_LOGIN, C_ONLINE };

struct kpeer_state {
	struct jz_kpeer p;
	bool present;		/* installed in the kernel */
	bool has_key;		/* a key is in the primary slot */
	int pending_key_id;	/* installed in secondary, waiting for swap */
	int active_key_id;	/* the key this end sends with (primary) */
	bool seen;		/* in the latest list */
	bool carried;		/* from before this session, not listed since */
};

/*
 * After a reconnect (say the server restarted) the devices log in again one
 * by one, and the server's first lists lack those not back yet. Peers
 * installed in an earlier session stay this long unless listed, so working
 * tunnels do not go down while everyone reconnects.
 */
#define CARRY_GRACE_S 20

struct jz_client {
	struct jz_daemon *d;
	enum cstate state;
	SSL_CTX *ssl;
	struct bufferevent *bev;
	struct event *retry_ev, *ping_ev, *carry_ev;
	int backoff_s;
	struct jz_kernel *k;
	struct jz_krb_client *krb;
	struct jz_krb_pw_client *pw;
	unsigned char binding[JZ_BINDING_LEN];
	uint32_t my_id;
	char vip4[46], vip6[46];
	struct kpeer_state *peers;
	size_t n_peers, cap_peers;
	json_t *view;		/* the server's list for us: id (text) -> entry */
	json_t *part_peers;	/* a list coming in parts: the entries so far */
	unsigned int part_next;	/* ... and the part expected next */
	uint64_t next_rid;
	bool stopping;
};

static struct jz_config *cfg(struct jz_client *c)
{
	return &c->d->cfg;
}

static void schedule_reconnect(struct jz_client *c);

static void send_msg(struct jz_client *c, json_t *m)
{
	if (c->bev)
		jz_frame_send(c->bev, m);
	else
		json_decref(m);
}

static void disconnect(struct jz_client *c, const char *why)
{
	if (why)
		jz_warn("disconnected from %s: %s", cfg(c)->server, why);
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
	json_decref(c->part_peers);	/* a list in parts ends with its session */
	c->part_peers = NULL;
	c->state = C_IDLE;
	if (!c->stopping)
		schedule_reconnect(c);
}

/* ------------------------------------------------------------------ */
/* kernel state */

static struct kpeer_state *kp_find(struct jz_client *c, uint32_t id)
{
	for (size_t i = 0; i < c->n_peers; i++)
		if (c->peers[i].p.id == id)
			return &c->peers[i];
	return NULL;
}

/* Removes the peers not in the latest list (keep_carried: but not those
 * carried over from an earlier session). */
static void drop_unseen(struct jz_client *c, bool keep_carried)
{
	for (size_t i = 0; i < c->n_peers;) {
		struct kpeer_state *ks = &c->peers[i];

		if (ks->seen || (keep_carried && ks->carried)) {
			i++;
			continue;
		}
		if (ks->present)
			c->k->ops->peer_del(c->k, ks->p.id);
		*ks = c->peers[--c->n_peers];
	}
}

static void on_carry_over(evutil_socket_t fd, short what, void *arg)
{
	struct jz_client *c = arg;
	size_t n = c->n_peers;

	drop_unseen(c, false);
	if (n != c->n_peers)
		jz_info("peer list: %zu peer(s) from the previous session not back, removed",
			n - c->n_peers);
}

/* Makes the kernel's peers match the list (every visible entry). */
static void apply_peers(struct jz_client *c, json_t *arr)
{
	json_t *e;
	size_t i;

	for (i = 0; i < c->n_peers; i++)
		c->peers[i].seen = false;
	json_array_foreach(arr, i, e) {
		struct jz_kpeer p = { 0 };
		struct kpeer_state *ks;
		json_t *ep = json_object_get(e, "endpoint");
		bool create;

		if (!json_is_true(json_object_get(e, "linked")))
			continue;	/* visible but not reachable: not installed */
		p.id = (uint32_t)jz_msg_int(e, "id", 0);
		p.remote_id = c->my_id;
		snprintf(p.name, sizeof(p.name), "%s", jz_msg_str(e, "device") ?: "");
		snprintf(p.vip4, sizeof(p.vip4), "%s", jz_msg_str(e, "vip4") ?: "");
		snprintf(p.vip6, sizeof(p.vip6), "%s", jz_msg_str(e, "vip6") ?: "");
		if (ep) {
			snprintf(p.endpoint_ip, sizeof(p.endpoint_ip), "%s",
				 jz_msg_str(ep, "ip") ?: "");
			p.endpoint_port = (uint16_t)jz_msg_int(ep, "port", 0);
		}
		p.keepalive_s = 25;
		if (!p.id)
			continue;
		ks = kp_find(c, p.id);
		if (!ks) {
			if (c->n_peers == c->cap_peers) {
				c->cap_peers = c->cap_peers ? 2 * c->cap_peers : 16;
				c->peers = realloc(c->peers, c->cap_peers * sizeof(*c->peers));
			}
			ks = &c->peers[c->n_peers++];
			memset(ks, 0, sizeof(*ks));
			ks->pending_key_id = ks->active_key_id = -1;
		}
		ks->seen = true;
		ks->carried = false;
		create = !ks->present;
		if (create || memcmp(&ks->p, &p, sizeof(p))) {
			if (c->k->ops->peer_set(c->k, &p, create))
				jz_err("kernel: cannot %s peer %s", create ? "add" : "update",
				       p.name);
			ks->p = p;
			ks->present = true;
		}
	}
	drop_unseen(c, evtimer_pending(c->carry_ev, NULL));
	jz_info("peer list: %zu visible, %zu installed", json_array_size(arr), c->n_peers);
}

static void view_set(struct jz_client *c, json_t *e)
{
	char key[16];

	if (!json_is_integer(json_object_get(e, "id")))
		return;
	snprintf(key, sizeof(key), "%lld", jz_msg_int(e, "id", 0));
	json_object_set(c->view, key, e);
}

/* "peers": the complete list, applied when its last part is in. */
static void on_peers(struct jz_client *c, json_t *m)
{
	json_t *arr, *e;
	size_t i;
	int r = jz_list_part(&c->part_peers, &c->part_next, m, &arr);

	if (r <= 0) {
		if (r < 0)
			disconnect(c, "bad peer list part");
		return;
	}
	json_decref(c->view);
	c->view = json_object();
	json_array_foreach(arr, i, e)
		view_set(c, e);
	apply_peers(c, arr);
	json_decref(arr);
}

/* "peers_delta": entries added or changed, ids removed. */
static void on_peers_delta(struct jz_client *c, json_t *m)
{
	json_t *e, *arr = json_array();
	const char *key;
	size_t i;

	if (c->part_peers) {
		disconnect(c, "peer list delta inside a list in parts");
		return;
	}
	if (!c->view)
		c->view = json_object();
	json_array_foreach(json_object_get(m, "del"), i, e) {
		char k[16];

		snprintf(k, sizeof(k), "%lld", (long long)json_integer_value(e));
		json_object_del(c->view, k);
	}
	json_array_foreach(json_object_get(m, "set"), i, e)
		view_set(c, e);
	json_object_foreach(c->view, key, e)
		json_array_append(arr, e);
	apply_peers(c, arr);
	json_decref(arr);
}

static int get_keydir(json_t *o, uint8_t key[32], uint8_t salt[4])
{
	size_t kl = 0, sl = 0;
	unsigned char *k = jz_b64_decode(jz_msg_str(o, "key") ?: "", &kl);
	unsigned char *s = jz_b64_decode(jz_msg_str(o, "salt") ?: "", &sl);
	int ok = k && s && kl == 32 && sl == 4;

	if (ok) {
		memcpy(key, k, 32);
		memcpy(salt, s, 4);
	}
	if (k)
		OPENSSL_cleanse(k, kl);
	free(k);
	free(s);
	return ok ? 0 : -1;
}

static void on_key(struct jz_client *c, json_t *m)
{
	struct jz_kkey key = { 0 };
	uint32_t peer = (uint32_t)jz_msg_int(m, "peer", 0);
	struct kpeer_state *ks = kp_find(c, peer);
	const char *cipher = jz_msg_str(m, "cipher");

	if (!ks || !ks->present) {
		jz_warn("key for unknown peer %u ignored", peer);
		return;
	}
	key.peer_id = peer;
	key.key_id = (uint8_t)jz_msg_int(m, "key_id", 0);
	key.cipher = cipher && !strcmp(cipher, "aes-256-gcm") ? JAZZ_CIPHER_AES_256_GCM
							     : JAZZ_CIPHER_CHACHA20_POLY1305;
	if (get_keydir(json_object_get(m, "tx"), key.tx_key, key.tx_salt) ||
	    get_keydir(json_object_get(m, "rx"), key.rx_key, key.rx_salt)) {
		jz_warn("malformed key for peer %u ignored", peer);
		return;
	}
	/* a peer with no key yet takes it in the primary slot; otherwise the
	 * new key waits in the secondary slot until both ends have it */
	key.slot = ks->has_key ? JAZZ_KEY_SLOT_SECONDARY : JAZZ_KEY_SLOT_PRIMARY;
	if (c->k->ops->key_new(c->k, &key)) {
		jz_err("kernel: key-new for peer %s failed", ks->p.name);
	} else if (key.slot == JAZZ_KEY_SLOT_PRIMARY) {
		ks->has_key = true;
		ks->active_key_id = key.key_id;
		ks->pending_key_id = -1;
	} else {
		ks->pending_key_id = key.key_id;
	}
	OPENSSL_cleanse(&key, sizeof(key));
	send_msg(c, json_pack("{s:s,s:i,s:I}", "type", "key_ack", "peer", peer,
			      "key_id", jz_msg_int(m, "key_id", 0)));
}

static void on_key_swap(struct jz_client *c, json_t *m)
{
	uint32_t peer = (uint32_t)jz_msg_int(m, "peer", 0);
	int key_id = (int)jz_msg_int(m, "key_id", -1);
	struct kpeer_state *ks = kp_find(c, peer);

	if (!ks)
		return;
	if (ks->pending_key_id == key_id) {
		if (c->k->ops->key_swap(c->k, peer)) {
			jz_err("kernel: key-swap for peer %s failed", ks->p.name);
			return;
		}
		ks->pending_key_id = -1;
		ks->active_key_id = key_id;
		jz_info("key %d for peer %s now in use", key_id, ks->p.name);
	} else if (ks->active_key_id != key_id) {
		return;		/* a stale swap: a newer key has come since */
	}
	/* tell the server this end sends with it: the next rotation may reuse
	 * the receive slot the previous key still holds */
	send_msg(c, json_pack("{s:s,s:i,s:i}", "type", "key_swap_ack", "peer", peer,
			      "key_id", key_id));
}

static void on_verdict(struct jz_client *c, json_t *m)
{
	struct jz_kconn kc = { 0 };
	const char *v = jz_msg_str(m, "verdict"), *dir = jz_msg_str(m, "dir");
	bool approve = v && !strcmp(v, "approve");

	kc.cookie = (uint64_t)jz_msg_int(m, "cookie", 0);
	kc.peer_id = (uint32_t)jz_msg_int(m, "peer", 0);
	kc.direction = dir && !strcmp(dir, "ingress") ? JAZZ_DIRECTION_INGRESS
						      : JAZZ_DIRECTION_EGRESS;
	kc.proto = jz_proto_number(jz_msg_str(m, "proto") ?: "0");
	snprintf(kc.src, sizeof(kc.src), "%s", jz_msg_str(m, "src") ?: "");
	snprintf(kc.dst, sizeof(kc.dst), "%s", jz_msg_str(m, "dst") ?: "");
	kc.sport = (uint16_t)jz_msg_int(m, "sport", 0);
	kc.dport = (uint16_t)jz_msg_int(m, "dport", 0);
	if (c->k->ops->conn_verdict(c->k, &kc, approve,
				    (uint32_t)jz_msg_int(m, "lifetime", 0)))
		jz_err("kernel: conn-verdict failed");
	jz_info("verdict %s for %s %s:%u -> %s:%u", approve ? "approve" : "deny",
		jz_msg_str(m, "proto") ?: "?", kc.src, kc.sport, kc.dst, kc.dport);
	if (json_object_get(m, "vid"))
		send_msg(c, json_pack("{s:s,s:O}", "type", "verdict_ack", "vid",
				      json_object_get(m, "vid")));
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
	if (expired)
		json_object_set_new(m, "end", json_integer(kc->end));
	else
		json_object_set_new(m, "rid", json_integer((json_int_t)++c->next_rid));
	send_msg(c, m);
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
	disconnect(c, NULL);
	event_base_loopbreak(c->d->base);
}

static void on_challenge(struct jz_client *c, json_t *m)
{
	json_t *prompts = json_object_get(m, "prompts"), *p, *items = json_array();
	const char *msg = jz_msg_str(m, "message");
	size_t i;

	if (msg && *msg)
		jz_info("server: %s", msg);
	json_array_foreach(prompts, i, p) {
		const char *code = jz_msg_str(p, "code") ?: "";
		const char *text = jz_msg_str(p, "text") ?: code;
		const char *v = find_answer(c, code);
		const char *why = "[client] interactive is off";
		char *asked = NULL;

		if (!v && cfg(c)->interactive)
			v = asked = ask_terminal(text, json_is_true(json_object_get(p, "secret")),
						 &why);
		if (!v) {
			char what[512];

			snprintf(what, sizeof(what),
				 "the server asks for '%s' (%s): no answer in the configuration "
				 "([answers] %s = ...) or on the command line (-a %s=...), and "
				 "none can be asked: %s", code, text, code, code, why);
			json_decref(items);
			give_up(c, what);
			return;
		}
		json_array_append_new(items, json_pack("{s:s,s:s}", "code", code, "value", v));
		if (asked) {
			OPENSSL_cleanse(asked, strlen(asked));
			free(asked);
		}
	}
	send_msg(c, json_pack("{s:s,s:o}", "type", "answer", "other_data", items));
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
	json_t *m;
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
	m = json_pack("{s:s,s:s,s:s,s:s,s:i,s:[],s:[sss]}", "type", "login", "method",
		      cfg(c)->method, "device", cfg(c)->device, "token", b64,
		      "listen_port", c->k->ops->listen_port(c->k), "other_data",
		      "features", "peers_delta", "key_swap_ack", "peers_more");
	free(b64);
	if (cfg(c)->endpoint) {
		char host[64];
		uint16_t port;

		if (!jz_parse_hostport(cfg(c)->endpoint, host, sizeof(host), &port)) {
			json_object_set_new(m, "endpoint_ip", json_string(host));
			json_object_set_new(m, "listen_port", json_integer(port));
		}
	}
	send_msg(c, m);
	return 0;
}

static int on_auth(struct jz_client *c, json_t *m)
{
	size_t len = 0;
	unsigned char *proof = jz_b64_decode(jz_msg_str(m, "proof") ?: "", &len);
	char err[256];
	int rc;

	if (!proof) {
		disconnect(c, "server sent no authentication proof");
		return -1;
	}
	if (c->pw)
		rc = jz_krb_pw_client_reply(c->pw, proof, len, err, sizeof(err));
	else
		rc = jz_krb_client_ap_rep(c->krb, proof, len, err, sizeof(err));
	free(proof);
	if (rc) {
		jz_err("server failed mutual authentication: %s", err);
		disconnect(c, "mutual authentication failed");
		return -1;
	}
	jz_info("authenticated as %s@%s; server verified", jz_msg_str(m, "user") ?: "?",
		jz_msg_str(m, "realm") ?: "?");
	return 0;
}

static void on_welcome(struct jz_client *c, json_t *m)
{
	const char *v4 = jz_msg_str(m, "vip4"), *v6 = jz_msg_str(m, "vip6");
	struct timeval tv = { cfg(c)->keepalive_s, 0 };
	struct timeval grace = { CARRY_GRACE_S, 0 };

	if (!c->pw && !c->krb) {
		disconnect(c, "welcome before authentication");
		return;
	}
	c->state = C_ONLINE;
	c->backoff_s = 0;
	for (size_t i = 0; i < c->n_peers; i++)
		c->peers[i].carried = true;
	if (c->n_peers)
		evtimer_add(c->carry_ev, &grace);
	c->my_id = (uint32_t)jz_msg_int(m, "id", 0);
	snprintf(c->vip4, sizeof(c->vip4), "%s", v4 ?: "");
	snprintf(c->vip6, sizeof(c->vip6), "%s", v6 ?: "");
	if (c->k->ops->set_addresses(c->k, c->vip4, (int)jz_msg_int(m, "prefix4", 16),
				     c->vip6, (int)jz_msg_int(m, "prefix6", 64)))
		jz_err("kernel: cannot set addresses");
	jz_info("logged in as %s@%s, device %s (id %u): %s %s",
		jz_msg_str(m, "user") ?: "?", jz_msg_str(m, "realm") ?: "?",
		jz_msg_str(m, "device") ?: "?", c->my_id, c->vip4, c->vip6);
	bufferevent_set_timeouts(c->bev, &(struct timeval){ cfg(c)->dead_s, 0 }, NULL);
	evtimer_add(c->ping_ev, &tv);
}

static void on_message(struct jz_client *c, json_t *m)
{
	const char *t = jz_msg_type(m);

	if (!strcmp(t, "ping")) {
		send_msg(c, json_pack("{s:s}", "type", "pong"));
	} else if (!strcmp(t, "pong")) {
	} else if (!strcmp(t, "auth")) {
		on_auth(c, m);
	} else if (!strcmp(t, "challenge")) {
		on_challenge(c, m);
	} else if (!strcmp(t, "welcome")) {
		on_welcome(c, m);
	} else if (!strcmp(t, "reject")) {
		jz_err("login rejected: %s%s%s", jz_msg_str(m, "reason") ?: "?",
		       (jz_msg_str(m, "message") ?: "")[0] ? ": " : "",
		       jz_msg_str(m, "message") ?: "");
		disconnect(c, "rejected");
	} else if (!strcmp(t, "bye") || !strcmp(t, "error")) {
		disconnect(c, jz_msg_str(m, "reason") ?: jz_msg_str(m, "message") ?: t);
	} else if (c->state != C_ONLINE) {
		disconnect(c, "unexpected message before welcome");
	} else if (!strcmp(t, "peers")) {
		on_peers(c, m);
	} else if (!strcmp(t, "peers_delta")) {
		on_peers_delta(c, m);
	} else if (!strcmp(t, "key")) {
		on_key(c, m);
	} else if (!strcmp(t, "key_swap")) {
		on_key_swap(c, m);
	} else if (!strcmp(t, "verdict")) {
		on_verdict(c, m);
	} else {
		jz_debug("ignoring message %s", t);
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
			disconnect(c, err);
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
			disconnect(c, err);
			return;
		}
		if (jz_tls_binding(ssl, c->binding)) {
			disconnect(c, "no TLS exporter");
			return;
		}
		c->state = C_LOGIN;
		if (send_login(c)) {
			disconnect(c, "cannot build the login");
			return;
		}
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		disconnect(c, "timeout");
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		jz_bev_error(bev, err, sizeof(err));
		disconnect(c, err);
		return;
	}
	if (what & BEV_EVENT_EOF)
		disconnect(c, "server closed the connection");
}

static void do_connect(evutil_socket_t fd, short what, void *arg)
{
	struct jz_client *c = arg;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	char host[256], portstr[8];
	uint16_t port;
	SSL *ssl;

	if (jz_parse_hostport(cfg(c)->server, host, sizeof(host), &port)) {
		jz_err("[client] server: cannot parse '%s'", cfg(c)->server);
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
	jz_info("connecting to %s", cfg(c)->server);
	if (bufferevent_socket_connect(c->bev, ai->ai_addr, (int)ai->ai_addrlen)) {
		freeaddrinfo(ai);
		disconnect(c, "connect failed");
		return;
	}
	freeaddrinfo(ai);
}

static void schedule_reconnect(struct jz_client *c)
{
	struct timeval tv;
	unsigned int jitter;

	if (!c->backoff_s)
		c->backoff_s = cfg(c)->reconnect_min_s > 0 ? cfg(c)->reconnect_min_s : 1;
	else
		c->backoff_s *= 2;
	if (c->backoff_s > cfg(c)->reconnect_max_s)
		c->backoff_s = cfg(c)->reconnect_max_s;
	RAND_bytes((unsigned char *)&jitter, sizeof(jitter));
	tv.tv_sec = c->backoff_s;
	tv.tv_usec = jitter % 250000;	/* spread a crowd of clients */
	jz_info("reconnecting in %d s", c->backoff_s);
	evtimer_add(c->retry_ev, &tv);
}

static void on_ping(evutil_socket_t fd, short what, void *arg)
{
	struct jz_client *c = arg;
	struct timeval tv = { cfg(c)->keepalive_s, 0 };

	if (c->state != C_ONLINE)
		return;
	send_msg(c, json_pack("{s:s}", "type", "ping"));
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
	c->k = jz_kernel_new(d->base, &d->cfg, on_kconn, c, err, errlen);
	if (!c->k)
		goto fail;
	c->retry_ev = evtimer_new(d->base, do_connect, c);
	c->ping_ev = evtimer_new(d->base, on_ping, c);
	c->carry_ev = evtimer_new(d->base, on_carry_over, c);
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
		send_msg(c, json_pack("{s:s}", "type", "bye"));
		bufferevent_flush(c->bev, EV_WRITE, BEV_FLUSH);
	}
	disconnect(c, NULL);
	if (c->retry_ev)
		event_free(c->retry_ev);
	if (c->ping_ev)
		event_free(c->ping_ev);
	if (c->carry_ev)
		event_free(c->carry_ev);
	if (c->k)
		c->k->ops->free(c->k);
	if (c->ssl)
		SSL_CTX_free(c->ssl);
	free(c->peers);
	json_decref(c->view);
	free(c);
}
