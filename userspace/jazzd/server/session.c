// SPDX-License-Identifier: GPL-2.0
/*
 * The jazz server's session plumbing: accepting TLS control connections
 * (accept_conn), framing and dispatching messages, closing sessions, the
 * Kerberos server's start and reload, and jz_server_new/reload/free.
 * The login, peer lists, pair keys and approval bridge live in their own
 * files of server/ (see server_int.h); this file must not grow their logic.
 *
 * Session life: ACCEPTING (accept_conn pending) -> TLS (handshake) ->
 * LOGIN (waiting for the login message / callbacks) -> ONLINE -> gone.
 * One event loop; callbacks run on the dispatcher's workers (policy/).
 */
#include <sys/ioctl.h>
#include <linux/sockios.h>

#include "metrics/metrics.h"
#include "server_int.h"

struct jz_config *cfg(struct jz_server *srv)
{
	return &srv->d->cfg;
}

struct session *find_sid(struct jz_server *srv, uint64_t sid)
{
	for (struct session *s = srv->sessions; s; s = s->next)
		if (s->sid == sid)
			return s;
	return NULL;
}

struct session *find_online_idx(struct jz_server *srv, uint32_t idx)
{
	return idx < srv->by_idx_cap ? srv->by_idx[idx] : NULL;
}

void set_online_idx(struct jz_server *srv, uint32_t idx, struct session *s)
{
	srv->ksnap_stale = true;
	if (idx >= srv->by_idx_cap) {
		size_t cap = srv->by_idx_cap ? srv->by_idx_cap : 256;

		while (cap <= idx)
			cap *= 2;
		srv->by_idx = jz_xrealloc(srv->by_idx, cap, sizeof(*srv->by_idx));
		memset(srv->by_idx + srv->by_idx_cap, 0,
		       (cap - srv->by_idx_cap) * sizeof(*srv->by_idx));
		srv->by_idx_cap = cap;
	}
	srv->by_idx[idx] = s;
}

/*
 * A join sends each viewer a pair_start and a delta, and the newcomer a
 * pair_start per viewer: while srv->corking (peers_finish), a session's
 * frames gather in its cork and go out together at the end, one
 * SSL_write and one write() for all (written from here: jz_bev_write_now),
 * instead of a record and a write each.
 */
#define JZ_CORK_MAX 16384	/* a TLS record's plaintext */

static void session_uncork(struct session *s)
{
	size_t done = 0;

	if (!s->ncork)
		return;
	if (s->bev && s->state != S_CLOSING) {
		done = jz_bev_write_now(s->bev, s->cork, s->ncork);
		if (done < s->ncork)
			bufferevent_write(s->bev, s->cork + done, s->ncork - done);
	}
	OPENSSL_cleanse(s->cork, s->ncork);	/* server-made keys pass here */
	free(s->cork);
	s->cork = NULL;
	s->ncork = s->capcork = 0;
}

void session_uncork_all(struct jz_server *srv)
{
	struct session *s = srv->corked;

	srv->corking = false;
	srv->corked = NULL;
	while (s) {
		struct session *next = s->cork_next;

		s->corked = false;
		s->cork_next = NULL;
		session_uncork(s);
		s = next;
	}
}

/* A frame made by the caller: buf[4..4+len) the message, 4 bytes before
 * it for the length. */
void session_send_raw(struct session *s, unsigned char *buf, size_t len)
{
	if (!s->bev || s->state == S_CLOSING)
		return;
	if (s->srv->corking && s->ncork + len + 4 <= JZ_CORK_MAX &&
	    (s->ncork || !evbuffer_get_length(bufferevent_get_output(s->bev)))) {
		if (s->ncork + len + 4 > s->capcork) {
			/* a viewer's frames of a join are a few hundred bytes: room
			 * for those, not a record's worth per session */
			size_t cap = s->capcork ? s->capcork : 512;

			while (cap < s->ncork + len + 4)
				cap *= 2;
			s->capcork = cap < JZ_CORK_MAX ? cap : JZ_CORK_MAX;
			s->cork = jz_xrealloc(s->cork, s->capcork, 1);
		}
		jz_frame_len(buf, len);
		memcpy(s->cork + s->ncork, buf, len + 4);
		s->ncork += len + 4;
		if (!s->corked) {
			s->corked = true;
			s->cork_next = s->srv->corked;
			s->srv->corked = s;
		}
		return;
	}
	session_uncork(s);	/* what was held goes first */
	jz_frame_send_raw(s->bev, buf, len);
}

void send_msg(struct session *s, json_t *m)
{
	session_uncork(s);
	if (s->bev && s->state != S_CLOSING) {
		jz_frame_send(s->bev, m);
		session_out_over(s);
	} else {
		json_decref(m);
	}
}

/*
 * A session that lets four times max_outbuf pile up unsent is dropped
 * where the bytes are queued, not only when it next sends something: a
 * device that never reads and never writes must not hold the server's
 * memory without bound (its deltas, pair_starts, verdicts). The session
 * is only marked closing here; callers may go on using it.
 */
bool session_out_over(struct session *s)
{
	if (!s->bev || s->state == S_CLOSING ||
	    evbuffer_get_length(bufferevent_get_output(s->bev)) <= 4 * cfg(s->srv)->max_outbuf)
		return false;
	session_close(s, "not reading its answers");
	return true;
}

json_t *ep_json(const char *ip, uint16_t port)
{
	return json_pack("{s:s,s:i}", "ip", ip, "port", port);
}

/* ------------------------------------------------------------------ */
/* session plumbing */

/* A message after login that does not parse is logged and dropped. */
static void bad_msg(struct session *s, const char *t, const char *err)
{
	char esc[64];

	jz_escape(t, esc, sizeof(esc));
	jz_warn("session %s: malformed %s (%s); ignored", s->device, esc, err);
}

/* Parse at the edge (smsg.c): the handlers get typed, checked structs. */
static void on_message(struct session *s, json_t *m)
{
	const char *t = jz_msg_type(m);
	char err[256];

	if (!strcmp(t, "ping")) {
		send_msg(s, json_pack("{s:s}", "type", "pong"));
		return;
	}
	if (!strcmp(t, "pong"))
		return;
	if (s->state == S_LOGIN) {
		if (!strcmp(t, "login")) {
			struct jz_sm_login l;

			if (jz_sm_login(m, &l, err, sizeof(err))) {
				login_failed(s, "protocol", err);
				return;
			}
			on_login(s, &l);
			jz_sm_login_free(&l);
		} else if (!strcmp(t, "answer")) {
			struct jz_sm_data d;

			if (jz_sm_answer(m, &d, err, sizeof(err))) {
				login_failed(s, "protocol", err);
				return;
			}
			on_answer(s, &d);
		} else {
			login_failed(s, "protocol", "unexpected message before login");
		}
		return;
	}
	if (!strcmp(t, "key_ack") || !strcmp(t, "key_swap_ack")) {
		struct jz_sm_key_ack k;

		if (jz_sm_key_ack(m, &k, err, sizeof(err)))
			bad_msg(s, t, err);
		else if (t[4] == 'a')
			on_key_ack(s, &k);
		else
			on_key_swap_ack(s, &k);
	} else if (!strcmp(t, "conn_request")) {
		struct jz_sm_conn_req r;

		if (jz_sm_conn_request(m, &r, err, sizeof(err)))
			bad_msg(s, t, err);
		else
			on_conn_request(s, &r);
	} else if (!strcmp(t, "verdict_ack")) {
		uint64_t vid;

		if (jz_sm_verdict_ack(m, &vid, err, sizeof(err)))
			bad_msg(s, t, err);
		else
			on_verdict_ack(s, vid);
	} else if (!strcmp(t, "conn_expired")) {
		struct jz_sm_conn_expired e;

		if (jz_sm_conn_expired(m, &e, err, sizeof(err)))
			bad_msg(s, t, err);
		else
			on_conn_expired(s, &e);
	} else if (!strcmp(t, "pair")) {
		struct jz_sm_pair p;

		if (jz_sm_pair(m, &p, err, sizeof(err)))
			on_pair_malformed(s, p.peer, err);
		else
			on_pair(s, &p);
	} else if (!strcmp(t, "candidates")) {
		struct jz_sm_cands cd;

		if (jz_sm_candidates(m, &cd, err, sizeof(err)))
			bad_msg(s, t, err);
		else
			on_candidates(s, &cd);
	} else if (!strcmp(t, "relay_request")) {
		uint32_t peer;

		if (jz_sm_relay_request(m, &peer, err, sizeof(err)))
			bad_msg(s, t, err);
		else
			on_relay_request(s, peer);
	} else if (!strcmp(t, "path")) {
		struct jz_sm_path pr;

		if (jz_sm_path(m, &pr, err, sizeof(err)))
			bad_msg(s, t, err);
		else
			on_path_report(s, &pr);
	} else if (!strcmp(t, "bye")) {
		session_close(s, "client said bye");
	} else {
		char esc[64];

		jz_escape(t, esc, sizeof(esc));
		jz_debug("session %s: ignoring message %s", s->device, esc);
	}
}

/*
 * Back-pressure: a peer that does not read its answers (pongs, lists,
 * verdicts) is not read either until they drained below half the limit;
 * one that lets four times the limit pile up is dropped.
 */
static bool out_full(struct session *s)
{
	size_t out = evbuffer_get_length(bufferevent_get_output(s->bev));
	size_t lim = cfg(s->srv)->max_outbuf;

	if (out > 4 * lim) {
		session_close(s, "not reading its answers");
		return true;
	}
	if (out <= lim)
		return false;
	if (!s->read_paused) {
		jz_debug("session %s:%u: %zu bytes unsent; not reading", s->ip, s->port, out);
		s->read_paused = true;
		bufferevent_disable(s->bev, EV_READ);
		bufferevent_setwatermark(s->bev, EV_WRITE, lim / 2, 0);
	}
	return true;
}

static void on_read(struct bufferevent *bev, void *arg);

static void on_write(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	if (s->lstream || s->dpend)
		peers_drained(s);	/* its list's next parts, its held delta */
	if (!s->read_paused || s->state == S_CLOSING ||
	    evbuffer_get_length(bufferevent_get_output(bev)) > cfg(s->srv)->max_outbuf / 2)
		return;
	s->read_paused = false;
	bufferevent_setwatermark(bev, EV_WRITE, s->lstream ? JZ_LIST_OUT_LOW : 0, 0);
	bufferevent_enable(bev, EV_READ);
	on_read(bev, s);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	char err[256];
	json_t *m;
	int r;

	while (s->state != S_CLOSING && !out_full(s) &&
	       (r = jz_frame_read(bev, cfg(s->srv)->max_frame, &m, err, sizeof(err))) != 0) {
		if (r < 0) {
			jz_warn("session %s:%u: %s; closing", s->ip, s->port, err);
			if (s->state == S_LOGIN)
				login_failed(s, "protocol", err);
			else {
				send_msg(s, json_pack("{s:s,s:s}", "type", "error",
						      "message", err));
				session_close(s, NULL);
			}
			return;
		}
		on_message(s, m);
		json_decref(m);
	}
}

/* Logged in: no longer counted against the pre-login limits. */
void session_online(struct session *s)
{
	if (s->halfopen)
		s->srv->n_halfopen--;
	s->halfopen = false;
}

void session_free(struct session *s)
{
	struct jz_server *srv = s->srv;

	if (s->prev)
		s->prev->next = s->next;
	else
		srv->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	if (s->remote) {
		free(s->lease);		/* its own copy (remote.c) */
	} else {
		srv->n_sessions--;
		jz_metrics_session(-1);
	}
	session_online(s);
	jz_cb_cancel(s->pending);
	if (s->corked) {	/* not while a computation ends; never leave it listed */
		struct session **pp = &srv->corked;

		while (*pp != s)
			pp = &(*pp)->cork_next;
		*pp = s->cork_next;
	}
	if (s->cork)
		OPENSSL_cleanse(s->cork, s->ncork);
	free(s->cork);
	if (s->deadline)
		event_free(s->deadline);
	if (s->bev)
		bufferevent_free(s->bev);
	else if (s->fd >= 0)
		evutil_closesocket(s->fd);
	free(s->token);
	jz_sm_data_free(&s->data);
	filter_res_free(s->res);
	free(s->pchg);
	free(s->pbits);
	free(s->rv);
	free(s->ent_linked);
	free(s->ent_unlinked);
	free(s->ent_user);
	free(s->cands);
	free(s->hidden);
	free(s->gain);
	free(s->lose);
	free(s);
}

static void drain_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);

	evbuffer_drain(in, evbuffer_get_length(in));
}

static void drain_event(struct bufferevent *bev, short what, void *arg)
{
	session_free(arg);
}

/*
 * Everything sent: wait (up to the linger timer) for the peer to close,
 * discarding what it still sends, so that closing with unread input does
 * not reset the connection and destroy our last message in flight.
 */
static void on_flushed(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	if (evbuffer_get_length(bufferevent_get_output(bev)))
		return;
	bufferevent_setcb(bev, drain_read, NULL, drain_event, s);
	bufferevent_enable(bev, EV_READ);
}

/* Bytes the socket's kernel send queue holds that the peer has not
 * acknowledged yet. */
static bool kernel_unsent(struct bufferevent *bev)
{
	int fd = bufferevent_getfd(bev), n = 0;

	return fd >= 0 && !ioctl(fd, SIOCOUTQ, &n) && n > 0;
}

static void on_linger(evutil_socket_t fd, short what, void *arg)
{
	session_free(arg);
}

/* Leaves the session; sends what is queued first. */
void session_close(struct session *s, const char *why)
{
	bool was_online = s->state == S_ONLINE;
	struct timeval tv = { 2, 0 };

	if (s->state == S_CLOSING)
		return;
	if (why)
		jz_info("session %s:%u (%s): closed: %s", s->ip, s->port,
			s->device[0] ? s->device : "-", why);
	s->state = S_CLOSING;
	jz_cb_cancel(s->pending);
	s->pending = NULL;
	if (s->lease && !s->remote)	/* the state's hold on the lease */
		jz_state_offline(s->srv->state, s->lease, s->sid);
	if (was_online) {
		if (!s->remote)
			jz_metrics_online(-1);
		set_online_idx(s->srv, s->lease->idx, NULL);
		peers_left(s);
		if (!s->remote)
			EVENT("device-disconnected",
			 json_pack("{s:s,s:s,s:s,s:i,s:s}", "user", s->user, "realm",
				   s->realm, "device", s->device, "id", s->lease->idx,
				   "reason", why ? why : "closed"));
		schedule_recompute(s->srv);
	}
	/*
	 * Never freed here: callers may be inside this session's read loop.
	 * What is queued is sent first, then the peer gets up to 2 s to close.
	 */
	if (s->deadline)
		event_free(s->deadline);
	s->deadline = evtimer_new(s->srv->d->base, on_linger, s);
	if (s->bev && evbuffer_get_length(bufferevent_get_output(s->bev))) {
		bufferevent_setcb(s->bev, NULL, on_flushed, drain_event, s);
		bufferevent_disable(s->bev, EV_READ);
		evtimer_add(s->deadline, &tv);
		return;
	}
	if (s->bev && kernel_unsent(s->bev)) {
		/* written directly (jz_frame_send_raw), not yet taken by the peer */
		on_flushed(s->bev, s);
		evtimer_add(s->deadline, &tv);
		return;
	}
	tv.tv_sec = 0;
	evtimer_add(s->deadline, &tv);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;
	char err[256];

	if (what & BEV_EVENT_CONNECTED) {
		SSL *ssl = bufferevent_openssl_get_ssl(bev);

		if (jz_tls_binding(ssl, s->binding)) {
			session_close(s, "no TLS exporter");
			return;
		}
		s->state = S_LOGIN;
		jz_debug("session %s:%u: TLS up", s->ip, s->port);
		bufferevent_set_timeouts(bev, &(struct timeval){ cfg(s->srv)->login_timeout_s, 0 },
					 NULL);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		session_close(s, s->state == S_TLS ? "TLS handshake timeout"
			      : s->state == S_LOGIN ? "login timeout" : "keepalive timeout");
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		jz_bev_error(bev, err, sizeof(err));
		session_close(s, err);
		return;
	}
	if (what & BEV_EVENT_EOF)
		session_close(s, "connection closed");
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	if (s->state == S_TLS || s->state == S_LOGIN)
		session_close(s, s->state == S_TLS ? "TLS handshake timeout"
					      : "login took too long");
	else if (s->state == S_ONLINE && s->cred_end && time(NULL) >= s->cred_end) {
		/* the ticket that opened the session ended: log in again */
		send_msg(s, json_pack("{s:s,s:s}", "type", "bye", "reason",
				      "credential-expired"));
		session_close(s, "Kerberos ticket expired");
	}
}

static void accept_done(void *arg, struct jz_cb_call *c)
{
	struct session *s = arg;
	struct jz_server *srv = s->srv;
	SSL *ssl;

	s->pending = NULL;
	if (!c->u.accept.accept) {
		jz_info("connection from %s:%u refused by accept_conn%s", s->ip, s->port,
			c->failed ? " (fail-closed)" : "");
		session_close(s, NULL);
		return;
	}
	ssl = SSL_new(srv->ssl);
	s->bev = bufferevent_openssl_socket_new(srv->d->base, s->fd, ssl,
						BUFFEREVENT_SSL_ACCEPTING,
						BEV_OPT_CLOSE_ON_FREE);
	s->fd = -1;
	s->state = S_TLS;
	bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
	bufferevent_set_timeouts(s->bev,
				 &(struct timeval){ cfg(srv)->handshake_timeout_s, 0 }, NULL);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

static void on_accept(struct evconnlistener *lis, evutil_socket_t fd,
		      struct sockaddr *sa, int salen, void *arg)
{
	struct jz_server *srv = arg;
	struct session *s;
	struct jz_cb_call *c;
	struct timeval tv = { 0, 0 };
	unsigned char key[17];
	const char *why;

	jz_source_key(sa, key);
	why = jz_limits_accept(srv, key);
	if (why) {
		/* closed at once, before any TLS byte or callback; logged at
		 * debug only: a flood must not become a log flood */
		evutil_closesocket(fd);
		jz_debug("connection refused: %s", why);
		return;
	}
	/*
	 * A fixed send buffer instead of the kernel's autotuning (up to
	 * tcp_wmem's 4 MiB a socket on loopback): a device that stops reading
	 * holds at most this much of the server's kernel memory, and its
	 * list in parts stops in the server's own bounded buffer (peers.c).
	 * 64 KiB (the kernel doubles it) still moves a 10,000-device list
	 * (about 3 MB) in about 2 s at 100 ms of round trip.
	 */
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &(int){ JZ_SESSION_SNDBUF }, sizeof(int));
	s = calloc(1, sizeof(*s));
	memcpy(s->src, key, sizeof(key));
	s->halfopen = true;
	srv->n_halfopen++;
	s->srv = srv;
	s->fd = fd;
	s->sid = ++srv->next_sid;
	s->state = S_ACCEPTING;
	jz_sockaddr_str(sa, s->ip, sizeof(s->ip), &s->port);
	s->next = srv->sessions;
	if (s->next)
		s->next->prev = s;
	srv->sessions = s;
	srv->n_sessions++;
	jz_metrics_session(1);
	tv.tv_sec = cfg(srv)->handshake_timeout_s + cfg(srv)->login_timeout_s;
	s->deadline = evtimer_new(srv->d->base, on_deadline, s);
	evtimer_add(s->deadline, &tv);

	c = jz_cb_call_new(JZ_CB_ACCEPT_CONN);
	snprintf(c->u.accept.info.source.ip, JAZZ_ADDR_MAX, "%s", s->ip);
	c->u.accept.info.source.port = s->port;
	s->pending = c;
	jz_cb_submit(srv->d->cb, c, accept_done, s);
}

static int krb_start(struct jz_server *srv, char *err, size_t errlen)
{
	struct jz_krb_server_cfg kc = {
		.keytab = cfg(srv)->keytab,
		.service = cfg(srv)->service,
		.max_skew = cfg(srv)->max_skew_s,
		.rcache = cfg(srv)->rcache,
		.time_offset = cfg(srv)->time_offset,
		.pw_key_cache = cfg(srv)->key_cache > 0 ? cfg(srv)->key_cache : -1,
	};
	struct jz_krb_server *k;
	char rc[600];

	if (!kc.rcache && cfg(srv)->leases && strrchr(cfg(srv)->leases, '/')) {
		/* next to the leases (the state directory), not in /var/tmp,
		 * which PrivateTmp= wipes at every restart */
		snprintf(rc, sizeof(rc), "file2:%.*s/krb5.rcache2",
			 (int)(strrchr(cfg(srv)->leases, '/') - cfg(srv)->leases),
			 cfg(srv)->leases);
		kc.rcache = rc;
	}
	if (jz_krb_enctypes_parse(cfg(srv)->enctypes, kc.enctypes, 8, &kc.n_enctypes,
				  err, errlen))
		return -1;
	if (jz_krb_server_new(&kc, &k, err, errlen))
		return -1;
	if (srv->krb) {
		/* keep the password replay memory and key cache */
		jz_krb_server_adopt(k, srv->krb);
		jz_krb_server_free(srv->krb);
	}
	srv->krb = k;
	return 0;
}

static bool lease_in_use(void *arg, uint32_t idx)
{
	return find_online_idx(arg, idx) != NULL;
}

/* Online devices are seen now; leases unused for lease_expiry are freed. */
static void on_lease_expiry(evutil_socket_t fd, short what, void *arg)
{
	struct jz_server *srv = arg;
	time_t now = time(NULL);
	size_t gone;

	for (struct session *s = srv->sessions; s; s = s->next)
		if (s->state == S_ONLINE)
			jz_state_seen(srv->state, s->lease, now);
	gone = jz_state_expire(srv->state, now - cfg(srv)->lease_expiry_s,
				lease_in_use, srv);
	if (gone) {
		jz_info("leases: %zu unused for %d s freed", gone, cfg(srv)->lease_expiry_s);
		jz_state_flush(srv->state);
	}
}

static void on_lease_flush(evutil_socket_t fd, short what, void *arg)
{
	struct jz_server *srv = arg;

	jz_state_flush(srv->state);
}

/* cluster/: a device of ours logged in on another server (the last login
 * wins), or the shared state cannot be reached: the session ends here. */
static void on_state_lost(void *arg, uint32_t idx, uint64_t sid, const char *why)
{
	struct session *s = find_sid(arg, sid);

	if (!s || s->state != S_ONLINE || s->lease->idx != idx)
		return;
	EVENT("device-dropped", json_pack("{s:s,s:s,s:s,s:i,s:s}", "user", s->user, "realm",
					  s->realm, "device", s->device, "id", idx, "reason", why));
	send_msg(s, json_pack("{s:s,s:s}", "type", "bye", "reason",
			      strncmp(why, "replaced", 8) ? "cluster" : "replaced"));
	session_close(s, why);
}

/*
 * SIGHUP: swap the Kerberos server only while no worker uses it. Jobs hold
 * krb_lock for reading while they run; try for the write lock every 20 ms
 * for a second, then wait for it.
 */
static void krb_reload(evutil_socket_t fd, short what, void *arg)
{
	struct jz_server *srv = arg;
	struct timeval tv = { 0, 20000 };
	char err[256];

	if (pthread_rwlock_trywrlock(&srv->krb_lock)) {
		if (++srv->krb_reload_tries < 50) {
			evtimer_add(srv->krb_reload_ev, &tv);
			return;
		}
		pthread_rwlock_wrlock(&srv->krb_lock);
	}
	srv->krb_reload_tries = 0;
	if (krb_start(srv, err, sizeof(err)))
		jz_err("reload: keeping the old Kerberos settings: %s", err);
	else
		jz_info("reload: Kerberos settings applied");
	pthread_rwlock_unlock(&srv->krb_lock);
}

struct jz_server *jz_server_new(struct jz_daemon *d, char *err, size_t errlen)
{
	struct jz_server *srv = calloc(1, sizeof(*srv));
	struct sockaddr_storage ss;
	int sslen = sizeof(ss);
	struct timeval tv;

	srv->d = d;
	pthread_rwlock_init(&srv->krb_lock, NULL);
	if (jz_limits_new(srv)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	jz_limits_fds(srv);
	srv->ssl = jz_tls_server_ctx(d->cfg.cert, d->cfg.key, err, errlen);
	if (!srv->ssl)
		goto fail;
	if (krb_start(srv, err, errlen))
		goto fail;
	srv->work = jz_workpool_new(d->base, 2);
	srv->krb_reload_ev = evtimer_new(d->base, krb_reload, srv);
	srv->lease_ev = evtimer_new(d->base, on_lease_flush, srv);
	srv->state = jz_state_new(d, &(struct jz_state_cbs){ .lost = on_state_lost,
				  .remote = remote_device, .relay = remote_relay,
				  .arg = srv }, err, errlen);
	if (!srv->state)
		goto fail;
	jz_state_prefix(srv->state, &srv->plen4, &srv->plen6);
	if (evutil_parse_sockaddr_port(d->cfg.listen, (struct sockaddr *)&ss, &sslen)) {
		snprintf(err, errlen, "[server] listen: cannot parse %s", d->cfg.listen);
		goto fail;
	}
	srv->lis = evconnlistener_new_bind(d->base, on_accept, srv,
					   LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
					   LEV_OPT_CLOSE_ON_EXEC, 1024,
					   (struct sockaddr *)&ss, sslen);
	if (!srv->lis) {
		snprintf(err, errlen, "listen on %s: %s", d->cfg.listen, strerror(errno));
		goto fail;
	}
	evconnlistener_set_error_cb(srv->lis, jz_limits_accept_error);
	if (jz_relays_start(srv, err, errlen) || jz_stun_srv_start(srv, err, errlen))
		goto fail;
	if (d->cfg.lease_expiry_s > 0) {
		struct timeval etv = { d->cfg.lease_expiry_s / 4 > 3600 ? 3600 :
				       d->cfg.lease_expiry_s / 4 ?: 1, 0 };

		srv->lease_expiry_ev = event_new(d->base, -1, EV_PERSIST, on_lease_expiry, srv);
		evtimer_add(srv->lease_expiry_ev, &etv);
	}
	srv->recompute_ev = evtimer_new(d->base, on_recompute, srv);
	srv->started = jz_now();
	srv->rekey_ev = event_new(d->base, -1, EV_PERSIST, on_rekey, srv);
	tv.tv_sec = d->cfg.rekey_s > 0 ? d->cfg.rekey_s : 3600;
	tv.tv_usec = 0;
	evtimer_add(srv->rekey_ev, &tv);
	jz_info("server listening on %s (TLS 1.3)", d->cfg.listen);
	return srv;
fail:
	jz_server_free(srv);
	return NULL;
}

int jz_server_reload(struct jz_server *srv)
{
	char err[256];
	SSL_CTX *ctx = jz_tls_server_ctx(cfg(srv)->cert, cfg(srv)->key, err, sizeof(err));
	struct timeval tv = { cfg(srv)->rekey_s > 0 ? cfg(srv)->rekey_s : 3600, 0 };

	if (ctx) {
		SSL_CTX_free(srv->ssl);
		srv->ssl = ctx;
	} else {
		jz_err("reload: keeping the old certificate: %s", err);
	}
	krb_reload(-1, 0, srv);
	evtimer_del(srv->rekey_ev);
	evtimer_add(srv->rekey_ev, &tv);
	srv->full = true;	/* the new plugin may filter differently */
	schedule_recompute(srv);
	return 0;
}

void jz_server_free(struct jz_server *srv)
{
	if (!srv)
		return;
	while (srv->sessions) {
		srv->sessions->state = S_CLOSING;
		session_free(srv->sessions);
	}
	free(srv->by_idx);
	while (srv->pv) {
		struct pending_verdict *pv = srv->pv;

		srv->pv = pv->next;
		json_decref(pv->to_origin);
		event_free(pv->timer);
		free(pv);
	}
	if (srv->lis)
		evconnlistener_free(srv->lis);
	if (srv->recompute_ev)
		event_free(srv->recompute_ev);
	known_free(srv);
	review_set_put(srv->fresh_set);
	if (srv->rekey_ev)
		event_free(srv->rekey_ev);
	links_free(srv);
	if (srv->ssl)
		SSL_CTX_free(srv->ssl);
	if (srv->krb)
		jz_krb_server_free(srv->krb);
	jz_callbacks_free(srv->work);
	if (srv->lease_ev) {
		if (srv->state)
			jz_state_flush(srv->state);
		event_free(srv->lease_ev);
	}
	if (srv->krb_reload_ev)
		event_free(srv->krb_reload_ev);
	if (srv->accept_ev)
		event_free(srv->accept_ev);
	if (srv->lease_expiry_ev)
		event_free(srv->lease_expiry_ev);
	jz_limits_free(srv);
	jz_stun_srv_free(srv);
	jz_relays_free(srv);
	pthread_rwlock_destroy(&srv->krb_lock);
	jz_state_free(srv->state);
	free(srv->links);
	free(srv->relay);
	free(srv->left);
	free(srv->vc);
	OPENSSL_cleanse(srv->rpool, sizeof(srv->rpool));
	free(srv);
}
