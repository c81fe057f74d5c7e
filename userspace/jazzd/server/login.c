// SPDX-License-Identifier: GPL-2.0
/*
 * Login: Kerberos (AP-REQ or password) on worker threads, user_key,
 * validate_user rounds, leases, and going online. Must not send peer
 * lists itself (it schedules a recomputation).
 */
#include "metrics/metrics.h"
#include "server_int.h"

static void do_validate(struct session *s);

/* ------------------------------------------------------------------ */
/* login */

void login_failed(struct session *s, const char *reason, const char *message)
{

	jz_info("login from %s:%u (%s@%s, %s) failed: %s%s%s", s->ip, s->port,
		s->user[0] ? s->user : "?", s->realm[0] ? s->realm : "?",
		s->method[0] ? s->method : "?", reason, message ? ": " : "",
		message ? message : "");
	jz_metrics_login_failed(reason);
	EVENT("user-login-failed", json_pack("{s:s,s:s,s:s,s:s,s:s,s:i}", "user", s->user,
					     "realm", s->realm, "method", s->method,
					     "reason", reason, "source_ip", s->ip,
					     "source_port", s->port));
	send_msg(s, json_pack("{s:s,s:s,s:s}", "type", "reject", "reason", reason,
			      "message", message ? message : ""));
	session_close(s, NULL);
}

/*
 * The device's identity key, bound to user@realm/device (in its lease, or
 * in the cluster state). A different key than last time is allowed (a
 * reinstalled device) but never silent: peers hand-shake with whatever key
 * the server lists, so an operator must be able to see every change
 * (docs/SECURITY.md).
 */
static void log_pub(struct session *s, const char *key, const struct jz_state_prev *prev)
{
	char *now = jz_b64_encode(s->pub, 32), *was;

	if (prev->has_pub && CRYPTO_memcmp(prev->pub, s->pub, 32)) {
		was = jz_b64_encode(prev->pub, 32);
		jz_warn("device %s: identity key changed from %s to %s", key,
			was ? was : "?", now ? now : "?");
		EVENT("device-key-changed", json_pack("{s:s,s:s,s:s,s:s?,s:s?}", "user",
						      s->user, "realm", s->realm,
						      "device", s->device, "old", was,
						      "new", now));
		free(was);
	} else if (!prev->has_pub) {
		jz_info("device %s: identity key %s bound", key, now ? now : "?");
	}
	free(now);
}

/* A lease or online record the state refused: the client is told why. */
static void state_failed(struct session *s, enum jz_state_rc rc)
{
	switch (rc) {
	case JZ_STATE_TOO_MANY:
		login_failed(s, "too-many-devices", "this user has max_devices devices "
			     "already; an unused one is freed after lease_expiry");
		break;
	case JZ_STATE_POOL_FULL:
		login_failed(s, "pool-full", "no free virtual address");
		break;
	case JZ_STATE_MALFORMED:
		login_failed(s, "state-malformed", "the cluster state holds a value this "
			     "server refuses to use (see its log)");
		break;
	default:
		jz_warn("login of %s@%s/%s refused: the cluster state (Redis) cannot record "
			"it now", s->user, s->realm, s->device);
		login_failed(s, "state-unavailable", "this server cannot reach the cluster "
			     "state; try another server");
		break;
	}
}

static void go_online(struct session *s)
{
	struct jz_server *srv = s->srv;
	char key[600];
	struct session *old;
	struct jz_state_prev prev;
	enum jz_state_rc rc;
	json_t *welcome;

	snprintf(key, sizeof(key), "%s@%s/%s", s->user, s->realm, s->device);
	rc = jz_state_lease(srv->state, s->user, s->realm, s->device, cfg(srv)->max_devices,
			    &s->lease);
	if (rc) {
		s->lease = NULL;
		state_failed(s, rc);
		return;
	}
	if (!s->ep_ip[0])
		snprintf(s->ep_ip, sizeof(s->ep_ip), "%s", s->ip);
	/* recorded before anything is sent: the last login wins everywhere */
	rc = jz_state_online(srv->state, s->lease, &(struct jz_state_dev){
				.sid = s->sid, .pub = s->has_pub ? s->pub : NULL,
				.ep_ip = s->ep_ip, .ep_port = s->ep_port }, &prev);
	if (rc) {
		state_failed(s, rc);
		return;
	}
	if (s->has_pub)
		log_pub(s, key, &prev);
	if (prev.server[0]) {
		jz_info("device %s: was online on server %s; taken here", key, prev.server);
		EVENT("device-moved", json_pack("{s:s,s:s,s:s,s:i,s:s,s:s}", "user", s->user,
						"realm", s->realm, "device", s->device,
						"id", s->lease->idx, "from", prev.server,
						"to", cfg(srv)->cluster.server_id));
	}
	if (make_entries(s)) {
		login_failed(s, "internal", "names that cannot be sent (not UTF-8?)");
		return;
	}
	/* the same device again: the new session replaces the old one */
	while ((old = find_online_idx(srv, s->lease->idx))) {
		jz_info("device %s: replaced by a new session", key);
		send_msg(old, json_pack("{s:s,s:s}", "type", "bye", "reason", "replaced"));
		session_close(old, "replaced");
	}
	s->state = S_ONLINE;
	s->fresh = true;
	jz_metrics_online(1);
	jz_metrics_login_ok(s->login_ns);
	set_online_idx(srv, s->lease->idx, s);
	if (!evtimer_pending(srv->lease_ev, NULL)) {
		struct timeval ltv = { 1, 0 };

		evtimer_add(srv->lease_ev, &ltv);
	}
	session_online(s);
	if (s->deadline)
		evtimer_del(s->deadline);
	if (s->deadline && s->cred_end) {
		/* a session lives no longer than the ticket that opened it */
		time_t left = s->cred_end - time(NULL);
		struct timeval ctv = { left > 0 ? left : 0, 0 };

		evtimer_add(s->deadline, &ctv);
	}
	bufferevent_set_timeouts(s->bev, &(struct timeval){ cfg(srv)->dead_s, 0 }, NULL);
	welcome = json_pack("{s:s,s:s,s:s,s:s,s:i,s:s,s:i,s:s,s:i,s:i,s:s,s:o}",
			    "type", "welcome", "user", s->user, "realm", s->realm,
			    "device", s->device, "id", s->lease->idx,
			    "vip4", s->lease->vip4, "prefix4", srv->plen4,
			    "vip6", s->lease->vip6, "prefix6", srv->plen6,
			    "keepalive", cfg(srv)->keepalive_s, "cipher", cfg(srv)->cipher,
			    "endpoint", ep_json(s->ep_ip, s->ep_port));
	if (welcome)
		json_object_set_new(welcome, "pair_keys",
				    json_string(cfg(srv)->server_keys ? "server" : "device"));
	send_msg(s, welcome);
	jz_info("login: %s@%s device %s from %s:%u (%s) -> %s %s", s->user, s->realm,
		s->device, s->ip, s->port, s->method, s->lease->vip4, s->lease->vip6);
	EVENT("user-logged-in", json_pack("{s:s,s:s,s:s,s:s,s:s,s:i}", "user", s->user,
					     "realm", s->realm, "device", s->device,
					     "method", s->method, "source_ip", s->ip,
					     "source_port", s->port));
	EVENT("device-connected", json_pack("{s:s,s:s,s:s,s:i,s:s,s:s,s:s,s:i}",
					       "user", s->user, "realm", s->realm,
					       "device", s->device, "id", s->lease->idx,
					       "vip4", s->lease->vip4, "vip6", s->lease->vip6,
					       "endpoint_ip", s->ep_ip,
					       "endpoint_port", s->ep_port));
	schedule_recompute(srv);
}

static void validate_done(void *arg, struct jz_cb_call *c)
{
	struct session *s = arg;
	struct jazz_validate_reply *r = &c->u.validate.reply;

	s->pending = NULL;
	if (r->status == JAZZ_VALIDATE_USER_STATUS_ACCEPTED) {
		go_online(s);
	} else if (r->status == JAZZ_VALIDATE_USER_STATUS_MORE_DATA) {
		json_t *ch;

		if (s->round + 1 >= (unsigned)cfg(s->srv)->max_rounds) {
			login_failed(s, "too-many-rounds", "too many validation rounds");
			return;
		}
		ch = jz_sm_challenge_msg(r, s->round);
		if (!ch) {
			login_failed(s, "validation-failed", "out of memory");
			return;
		}
		send_msg(s, ch);
	} else {
		login_failed(s, c->failed ? "validation-failed" : "rejected",
			     r->message[0] ? r->message : NULL);
	}
}

static void do_validate(struct session *s)
{
	struct jz_cb_call *c = jz_cb_call_new(JZ_CB_VALIDATE_USER);
	size_t n = s->data.n;
	struct jazz_data_item *items = jz_cb_alloc(c, (n + 1) * sizeof(*items));

	for (size_t i = 0; i < n; i++) {
		items[i].code = jz_cb_strdup(c, s->data.it[i].code);
		items[i].value = jz_cb_strdup(c, s->data.it[i].value);
	}
	c->u.validate.req.username = jz_cb_strdup(c, s->user);
	c->u.validate.req.realm = jz_cb_strdup(c, s->realm);
	c->u.validate.req.device = jz_cb_strdup(c, s->device);
	snprintf(c->u.validate.req.source.ip, JAZZ_ADDR_MAX, "%s", s->ip);
	c->u.validate.req.source.port = s->port;
	c->u.validate.req.method = jz_cb_strdup(c, s->method);
	c->u.validate.req.other_data = items;
	c->u.validate.req.n_other_data = n;
	c->u.validate.req.round = s->round;
	c->u.validate.items = items;
	s->pending = c;
	jz_cb_submit(s->srv->d->cb, c, validate_done, s);
}

static void authenticated(struct session *s, struct jz_krb_buf *proof,
			  const struct jz_krb_identity *id)
{
	char *b64 = jz_b64_encode(proof->data, proof->len);

	snprintf(s->user, sizeof(s->user), "%s", id->user);
	snprintf(s->realm, sizeof(s->realm), "%s", id->realm);
	send_msg(s, json_pack("{s:s,s:s,s:s,s:s}", "type", "auth", "user", s->user,
			      "realm", s->realm, "proof", b64));
	free(b64);
	jz_krb_buf_free(proof);
	s->round = 0;
	do_validate(s);
}

/* A Kerberos check on a worker thread (krb.c's server is thread-safe). */
struct krb_job {
	struct jz_server *srv;	/* its krb under krb_lock (read) */
	bool password;
	unsigned char *token;
	size_t token_len;
	unsigned char binding[JZ_BINDING_LEN];
	bool bind;
	struct jazz_user_key_reply secret;
	bool no_derive;		/* per-user limit reached: cached keys only */
	bool unknown;		/* a stand-in secret for an unknown user */
	int rc;
	struct jz_krb_identity id;
	struct jz_krb_buf proof;
	char err[256];
};

static void krb_job_run(void *arg)
{
	struct krb_job *j = arg;
	struct jz_krb_server *krb;

	pthread_rwlock_rdlock(&j->srv->krb_lock);
	krb = j->srv->krb;
	if (j->password) {
		struct jz_krb_secret sec = { 0 };

		if (j->secret.kind == JAZZ_USER_KEY_PASSWORD)
			sec.password = j->secret.password;
		else {
			sec.key = j->secret.key;
			sec.key_len = j->secret.key_len;
		}
		sec.no_derive = j->no_derive;
		j->rc = jz_krb_pw_verify(krb, j->token, j->token_len, &sec,
					 j->bind ? j->binding : NULL,
					 j->bind ? sizeof(j->binding) : 0,
					 &j->id, &j->proof, j->err, sizeof(j->err));
		OPENSSL_cleanse(&j->secret, sizeof(j->secret));
	} else {
		j->rc = jz_krb_ap_verify(krb, j->token, j->token_len,
					 j->bind ? j->binding : NULL,
					 j->bind ? sizeof(j->binding) : 0,
					 &j->id, &j->proof, j->err, sizeof(j->err));
	}
	pthread_rwlock_unlock(&j->srv->krb_lock);
}

static void krb_job_done(void *arg, struct jz_cb_call *c)
{
	struct session *s = arg;
	struct krb_job *j = c->u.work.arg;

	s->pending = NULL;
	if (j->unknown && !j->rc) {	/* cannot happen: nobody knows the key */
		j->rc = JZ_KRB_EBADKEY;
		jz_krb_buf_free(&j->proof);
	}
	if (j->rc == JZ_KRB_EBADKEY) {
		/* unknown user and wrong password look alike on the wire */
		jz_info("login from %s:%u: %s%s", s->ip, s->port, j->err,
			j->unknown ? " (unknown user)" : "");
		login_failed(s, "bad-key", "wrong user name or password");
	} else if (j->rc) {
		login_failed(s, jz_krb_status_name(j->rc), j->err);
	} else {
		s->cred_end = j->id.endtime;
		authenticated(s, &j->proof, &j->id);
	}
}

static void krb_submit(struct session *s, bool password,
		       const struct jazz_user_key_reply *secret, bool unknown)
{
	struct jz_cb_call *c = jz_cb_call_new(JZ_CB_WORK);
	struct krb_job *j = jz_cb_alloc(c, sizeof(*j));

	j->srv = s->srv;
	j->password = password;
	j->unknown = unknown;
	/* the per-user budget of key derivations: past it, only a key the
	 * cache holds (a user who logged in before) is checked */
	j->no_derive = password && !jz_limits_login_user(s->srv, s->user, s->realm);
	j->token = jz_cb_alloc(c, s->token_len);
	memcpy(j->token, s->token, s->token_len);
	j->token_len = s->token_len;
	memcpy(j->binding, s->binding, sizeof(j->binding));
	j->bind = cfg(s->srv)->channel_binding;
	if (secret)
		j->secret = *secret;
	c->u.work.fn = krb_job_run;
	c->u.work.arg = j;
	s->pending = c;
	jz_cb_submit(s->srv->work, c, krb_job_done, s);
}

static void user_key_done(void *arg, struct jz_cb_call *c)
{
	struct session *s = arg;
	struct jazz_user_key_reply *r = &c->u.user_key.reply;

	s->pending = NULL;
	if (c->defaulted) {
		login_failed(s, "password-login-disabled", NULL);
		return;
	}
	if (r->kind != JAZZ_USER_KEY_PASSWORD && r->kind != JAZZ_USER_KEY_RAW) {
		/*
		 * Unknown user: the same work and the same answer as a wrong
		 * password, with a stand-in password that depends on the name
		 * (so the key cache treats it like a real user's) and that
		 * nobody can know (a keyed hash under a per-process key).
		 */
		struct jazz_user_key_reply fake = { .kind = JAZZ_USER_KEY_PASSWORD };

		jz_limits_fake_password(s->srv, s->user, s->realm, fake.password,
					sizeof(fake.password));
		krb_submit(s, true, &fake, true);
		OPENSSL_cleanse(&fake, sizeof(fake));
		return;
	}
	krb_submit(s, true, r, false);
	OPENSSL_cleanse(r, sizeof(*r));
}

/* Device names: 1-63 of [A-Za-z0-9._-], starting with a letter or digit. */
static bool device_name_ok(const char *d)
{
	size_t n = strlen(d);

	if (!n || n > 63 || !isalnum((unsigned char)d[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)d[i]) && !strchr("._-", d[i]))
			return false;
	return true;
}

/* An announced endpoint: an address, and the one the server sees unless
 * the configuration trusts clients to know better (NAT, split routing). */
static bool endpoint_ok(struct session *s, const char *ep)
{
	unsigned char a[16], b[16];
	int fa = strchr(ep, ':') ? AF_INET6 : AF_INET;
	int fb = strchr(s->ip, ':') ? AF_INET6 : AF_INET;

	if (strlen(ep) >= sizeof(s->ep_ip) || inet_pton(fa, ep, a) != 1)
		return false;
	if (cfg(s->srv)->allow_endpoint)
		return true;
	return fa == fb && inet_pton(fb, s->ip, b) == 1 &&
	       !memcmp(a, b, fa == AF_INET ? 4 : 16);
}

void on_login(struct session *s, struct jz_sm_login *l)
{
	char err[256];
	int rc;

	if (s->user[0] || s->pending || s->token) {
		login_failed(s, "protocol", "second login message");
		return;
	}
	if (!jz_limits_login_source(s->srv, s->src)) {
		login_failed(s, "rate-limited", "too many logins from this address; "
			     "try again later");
		return;
	}
	if (!device_name_ok(l->device)) {
		login_failed(s, "bad-device", "device names are 1-63 of A-Z a-z 0-9 . _ -, "
			     "starting with a letter or digit");
		return;
	}
	if (l->pub_bad) {
		login_failed(s, "bad-pubkey", "pubkey must be the base64 of a 32-byte "
			     "X25519 public key, not all zero");
		return;
	}
	s->has_pub = l->has_pub;
	if (l->has_pub)
		memcpy(s->pub, l->pub, sizeof(s->pub));
	if (!l->has_pub && !cfg(s->srv)->server_keys) {
		login_failed(s, "no-pubkey", "this server needs the device's identity key "
			     "(a jazzd with device keys), or [server] pair_keys = server");
		return;
	}
	s->login_ns = jz_metrics_now_ns();
	snprintf(s->method, sizeof(s->method), "%s", l->kerberos ? "kerberos" : "password");
	snprintf(s->device, sizeof(s->device), "%s", l->device);
	s->ep_port = l->listen_port;
	s->takes_delta = l->takes_delta;
	s->takes_more = l->takes_more;
	s->takes_compact = l->takes_compact;
	s->has_known = l->has_known;
	s->known_count = l->known_count;
	memcpy(s->known_digest, l->known_digest, sizeof(s->known_digest));
	if (l->ep_ip[0] && !endpoint_ok(s, l->ep_ip)) {
		char esc[64];

		jz_escape(l->ep_ip, esc, sizeof(esc));
		jz_warn("login from %s:%u: announced endpoint %s is not the address "
			"seen (allow_endpoint = false); using %s", s->ip, s->port, esc, s->ip);
	} else if (l->ep_ip[0]) {
		snprintf(s->ep_ip, sizeof(s->ep_ip), "%s", l->ep_ip);
	}
	/* the session takes the token and the answers over */
	s->token = l->token;
	s->token_len = l->token_len;
	l->token = NULL;
	jz_sm_data_merge(&s->data, &l->data);
	if (l->kerberos) {
		krb_submit(s, false, NULL, false);
	} else {
		struct jz_krb_pw_hello h;
		struct jz_cb_call *c;

		rc = jz_krb_pw_peek(s->token, s->token_len, &h, err, sizeof(err));
		if (rc) {
			login_failed(s, jz_krb_status_name(rc), err);
			return;
		}
		if (!jz_name_ok(h.user) || !jz_name_ok(h.realm)) {
			/* kept escaped, for the log and the event only */
			jz_escape(h.user, s->user, sizeof(s->user));
			jz_escape(h.realm, s->realm, sizeof(s->realm));
			login_failed(s, "malformed", "user and realm must be printable UTF-8");
			return;
		}
		snprintf(s->user, sizeof(s->user), "%s", h.user);
		snprintf(s->realm, sizeof(s->realm), "%s", h.realm);
		c = jz_cb_call_new(JZ_CB_USER_KEY);
		c->u.user_key.req.username = jz_cb_strdup(c, h.user);
		c->u.user_key.req.realm = jz_cb_strdup(c, h.realm);
		snprintf(c->u.user_key.req.source.ip, JAZZ_ADDR_MAX, "%s", s->ip);
		c->u.user_key.req.source.port = s->port;
		c->u.user_key.req.enctype = jz_cb_strdup(c, h.enctype_name);
		s->pending = c;
		jz_cb_submit(s->srv->d->cb, c, user_key_done, s);
	}
}

void on_answer(struct session *s, struct jz_sm_data *d)
{
	if (s->pending || !s->user[0] || !s->token) {
		jz_sm_data_free(d);
		login_failed(s, "protocol", "unexpected answer");
		return;
	}
	if (jz_sm_data_merge(&s->data, d)) {
		login_failed(s, "protocol", "more than 32 answers");
		return;
	}
	s->round++;
	do_validate(s);
}
