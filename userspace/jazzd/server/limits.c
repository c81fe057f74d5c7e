// SPDX-License-Identifier: GPL-2.0
/*
 * Pre-login limits (issue 15): who may open a connection, how many logins a
 * source or a user name may start, the descriptor budget, and accept()
 * errors. Everything here runs on the event loop and costs O(1) per call
 * except the per-source count, a walk over the sessions not yet logged in
 * (at most max_halfopen). Must not know about the login itself.
 */
#include <sys/resource.h>

#include <openssl/crypto.h>

#include "server_int.h"

/* The rate tables: direct-mapped on SipHash (OpenSSL's) of the source or
 * the user name under a random per-process key, so nobody can aim a name
 * at another's slot; a collision only shares a bucket. */
#define RL_SLOTS 4096

struct rl_ent {
	uint64_t tag;
	double tokens, at;
};

struct jz_limits {
	struct rl_ent src[RL_SLOTS], user[RL_SLOTS];
	unsigned char sip_key[16];
	unsigned char fake_key[32];	/* for unknown users' stand-in secrets */
};

static uint64_t keyed_hash(const struct jz_limits *l, const void *data, size_t len)
{
	unsigned char out[16] = { 0 };
	size_t outlen = 0;
	uint64_t h;

	EVP_Q_mac(NULL, "SIPHASH", NULL, NULL, NULL, l->sip_key, sizeof(l->sip_key),
		  data, len, out, sizeof(out), &outlen);
	memcpy(&h, out, sizeof(h));
	return h;
}

/* Token bucket: true when one token was taken. */
static bool rl_take(struct jz_limits *l, struct rl_ent *tab, const void *key, size_t len,
		    int rate, int burst)
{
	uint64_t h = keyed_hash(l, key, len);
	struct rl_ent *e = &tab[h % RL_SLOTS];
	double now = jz_now();

	if (rate <= 0)
		return true;
	if (e->tag != h) {
		e->tag = h;
		e->tokens = burst;
		e->at = now;
	}
	e->tokens += (now - e->at) * rate;
	if (e->tokens > burst)
		e->tokens = burst;
	e->at = now;
	if (e->tokens < 1)
		return false;
	e->tokens -= 1;
	return true;
}

/* Whether a bucket is empty now (nothing taken). */
static bool rl_empty(struct jz_limits *l, struct rl_ent *tab, const void *key, size_t len,
		     int rate, int burst)
{
	uint64_t h = keyed_hash(l, key, len);
	struct rl_ent *e = &tab[h % RL_SLOTS];

	if (rate <= 0 || e->tag != h)
		return false;
	return e->tokens + (jz_now() - e->at) * rate < 1;
}

/* A source: the IPv4 address, or the /64 of an IPv6 address. */
void jz_source_key(const struct sockaddr *sa, unsigned char key[17])
{
	memset(key, 0, 17);
	if (sa->sa_family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a)) {
			key[0] = 4;
			memcpy(key + 1, a->s6_addr + 12, 4);
		} else {
			key[0] = 6;
			memcpy(key + 1, a->s6_addr, 8);
		}
	}
}

/* A stand-in password for an unknown user: a keyed hash of the name. */
void jz_limits_fake_password(struct jz_server *srv, const char *user, const char *realm,
			     char *out, size_t outlen)
{
	unsigned char mac[32];
	size_t maclen = 0;
	char in[2 * JZ_KRB_NAME_MAX + 2];
	int n = snprintf(in, sizeof(in), "%s@%s", user, realm);

	EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, srv->lim->fake_key,
		  sizeof(srv->lim->fake_key), (unsigned char *)in, (size_t)n, mac,
		  sizeof(mac), &maclen);
	for (size_t i = 0; i < maclen && 2 * i + 2 < outlen; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
	OPENSSL_cleanse(mac, sizeof(mac));
}

int jz_limits_new(struct jz_server *srv)
{
	srv->lim = calloc(1, sizeof(*srv->lim));
	if (!srv->lim)
		return -1;
	RAND_bytes(srv->lim->sip_key, sizeof(srv->lim->sip_key));
	RAND_bytes(srv->lim->fake_key, sizeof(srv->lim->fake_key));
	return 0;
}

void jz_limits_free(struct jz_server *srv)
{
	if (srv->lim)
		OPENSSL_cleanse(srv->lim->fake_key, sizeof(srv->lim->fake_key));
	free(srv->lim);
	srv->lim = NULL;
}

/* Whether a new connection from @key may be taken (before any callback). */
const char *jz_limits_accept(struct jz_server *srv, const unsigned char key[17])
{
	size_t same = 0;

	if (srv->n_sessions >= (size_t)srv->max_sessions)
		return "too many sessions";
	if (srv->n_halfopen >= (size_t)cfg(srv)->max_halfopen)
		return "too many connections waiting for login";
	/* fewer half-open sessions in all than one source may have: no need
	 * to count this source's (a walk of every session per accept made a
	 * ramp of N devices O(N^2): 10 % of the server's CPU at 6,000) */
	for (struct session *s = srv->sessions;
	     srv->n_halfopen >= (size_t)cfg(srv)->max_per_source && s; s = s->next)
		same += s->halfopen && !memcmp(s->src, key, 17);
	if (same >= (size_t)cfg(srv)->max_per_source)
		return "too many connections from this source";
	/* a source out of logins gets no TLS handshake either */
	if (rl_empty(srv->lim, srv->lim->src, key, 17, cfg(srv)->login_rate,
		     cfg(srv)->login_burst))
		return "too many logins from this source";
	return NULL;
}

bool jz_limits_login_source(struct jz_server *srv, const unsigned char key[17])
{
	return rl_take(srv->lim, srv->lim->src, key, 17, cfg(srv)->login_rate,
		       cfg(srv)->login_burst);
}

bool jz_limits_login_user(struct jz_server *srv, const char *user, const char *realm)
{
	char k[2 * JZ_KRB_NAME_MAX + 2];
	int n = snprintf(k, sizeof(k), "%s@%s", user, realm);

	return rl_take(srv->lim, srv->lim->user, k, (size_t)n, cfg(srv)->user_login_rate,
		       cfg(srv)->user_login_burst);
}

/*
 * max_sessions needs a descriptor each, plus some for the KDC, Redis,
 * logs and handler pipes: raise the soft limit to the hard one; if that
 * is still short, say so and take fewer sessions than configured.
 */
#define FD_RESERVE 64

void jz_limits_fds(struct jz_server *srv)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)cfg(srv)->max_sessions + FD_RESERVE;

	srv->max_sessions = cfg(srv)->max_sessions;
	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_cur < need && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur >= need)
		return;
	srv->max_sessions = rl.rlim_cur > 2 * FD_RESERVE ? (int)(rl.rlim_cur - FD_RESERVE)
							 : (int)(rl.rlim_cur / 2);
	jz_warn("max_sessions %d needs %llu descriptors but the descriptor limit %llu is "
		"lower (LimitNOFILE=); taking at most %d sessions", cfg(srv)->max_sessions,
		(unsigned long long)need, (unsigned long long)rl.rlim_cur, srv->max_sessions);
}

/*
 * accept() failed (EMFILE, ENFILE, ENOBUFS, ...): the listening socket
 * stays readable, so trying again at once is a busy loop. Stop accepting
 * for a while (doubling up to 1 s while it keeps failing) and say so once
 * per pause.
 */
static void accept_resume(evutil_socket_t fd, short what, void *arg)
{
	struct jz_server *srv = arg;

	if (!srv->logins_held)
		evconnlistener_enable(srv->lis);
}

void jz_limits_accept_error(struct evconnlistener *lis, void *arg)
{
	struct jz_server *srv = arg;
	int e = EVUTIL_SOCKET_ERROR();
	double now = jz_now();
	struct timeval tv;

	srv->accept_pause_ms = now - srv->accept_fail_at < 2.0 && srv->accept_pause_ms
			       ? (srv->accept_pause_ms * 2 > 1000 ? 1000 : srv->accept_pause_ms * 2)
			       : 50;
	srv->accept_fail_at = now;
	jz_warn("accept: %s; not accepting for %d ms", evutil_socket_error_to_string(e),
		srv->accept_pause_ms);
	evconnlistener_disable(lis);
	if (!srv->accept_ev)
		srv->accept_ev = evtimer_new(srv->d->base, accept_resume, srv);
	tv.tv_sec = srv->accept_pause_ms / 1000;
	tv.tv_usec = (srv->accept_pause_ms % 1000) * 1000;
	evtimer_add(srv->accept_ev, &tv);
}

/*
 * Logins wait while peer_filter's queue is long ([callbacks]
 * hold_logins_at calls waiting for a worker, until half as many wait):
 * each device let in now would add a full review and a share of every
 * viewer's to a computation that is already behind, and a longer queue
 * made the next computation longer still (the 10,000 ramp stopped at
 * 5,800 that way). The listener stops accepting, so waiting devices sit
 * in the kernel's accept queue: they hold no session, count in no
 * pre-login limit (max_halfopen, per source) and run no handshake
 * timeout; sessions already accepted finish their login. Only while the
 * workers get through the queue: when none came back for 20 x timeout_ms
 * (stuck in a plugin), holding logins would only stop them for nothing.
 */
void jz_limits_filter_backlog(struct jz_server *srv)
{
	int at = cfg(srv)->cb_hold_logins_at;
	size_t held = jz_cb_filter_held(srv->d->cb);
	bool stuck = jz_cb_filter_stuck(srv->d->cb);

	if (!srv->lis) {
		return;
	} else if (!srv->logins_held && at > 0 && held >= (size_t)at && !stuck) {
		srv->logins_held = true;
		jz_info("peers: %zu peer_filter calls wait for a worker: not accepting "
			"connections until %d do", held, at / 2);
		evconnlistener_disable(srv->lis);
	} else if (srv->logins_held && (at <= 0 || held <= (size_t)at / 2 || stuck)) {
		srv->logins_held = false;
		jz_info("peers: %zu peer_filter calls wait for a worker: accepting again%s", held,
			stuck ? " (none came back for 20 x timeout_ms: the workers are stuck)" : "");
		if (!srv->accept_ev || !evtimer_pending(srv->accept_ev, NULL))
			evconnlistener_enable(srv->lis);
	}
}
