// SPDX-License-Identifier: GPL-2.0
/*
 * jzclient: a small blocking test client of the jazz control channel, for
 * what real jazzd clients cannot do: many logins at once, replayed or
 * delayed tokens, garbage, stalls, bad frames, and the approval benchmark.
 *
 *   jzclient [options] login        one login; prints "welcome VIP4" or
 *                                   "reject REASON"; exit 0 on welcome
 *   jzclient [options] many N       N logins at once (threads), devices
 *                                   DEVICE-0..N-1; prints "ok K/N T s"
 *   jzclient [options] replay       login, then the same token again on a
 *                                   new connection; prints the 2nd result
 *   jzclient [options] garbage      TCP, random bytes; exit 0 if closed
 *   jzclient [options] stall        TCP, half a ClientHello, wait; prints
 *                                   seconds until the server closed
 *   jzclient [options] oversized    after TLS, a 16 MiB frame header
 *   jzclient [options] badjson      after TLS, a frame of invalid JSON
 *   jzclient [options] approvals N  two devices (DEVICE-a, DEVICE-b) log in;
 *                                   a sends N requests to b; prints
 *                                   "approvals K/N T s"
 *   jzclient [options] lists SECS   login, then for SECS seconds print each
 *                                   peer-list message: "peers DEV,DEV..."
 *                                   or "peers_delta"
 * hostile modes (issue 15; each prints what the server let it get away with):
 *   jzclient [options] forge VIP COOKIE N   login, then N conn_requests
 *                                   "ingress" from VIP (another device's
 *                                   address) with COOKIE; prints each
 *                                   verdict it gets: "verdict DIR COOKIE
 *                                   VERDICT" and "verdicts K"
 *   jzclient [options] pairflood PEER MSG N  login, then N "pair" messages
 *                                   (MSG: base64) to device id PEER; prints
 *                                   "pair_refused REASON" for each refusal
 *                                   and "pair refused K"
 *   jzclient [options] idle N SECS  N plain TCP connections held SECS;
 *                                   prints "idle open K/N" (K still open)
 *   jzclient [options] pingflood MB login, then MB MiB of ping frames
 *                                   without reading an answer (5 s send
 *                                   timeout); prints "pingflood sent X MiB"
 *   jzclient [options] junk N RATE  N password logins with a wrong password
 *                                   at RATE per second (one thread each);
 *                                   prints "junk N: reason=count ..."
 *                                   (one token made once and resent, so
 *                                   the sender spends no PBKDF2; set
 *                                   JZ_JUNK_FRESH=1 for a token each)
 *                                   (JZ_FORGE_DIR=egress: N requests of
 *                                   our own to VIP instead)
 *   jzclient [options] mute SECS    login, then never read for SECS
 *   jzclient [options] hold SECS    login, then stay logged in SECS seconds
 *                                   reading and acking; prints "ended after
 *                                   T s" or "held"
 *   jzclient [options] oldpeer SECS  login with the identity key in
 *                                   $JZCLIENT_IDKEY and for SECS seconds
 *                                   answer pair handshakes as a jazzd from
 *                                   before handshake version 2 did: a
 *                                   message of type 4 is dropped unread,
 *                                   a message 1 (type 1) is answered with
 *                                   jazzd's own noise.c; prints "dropped
 *                                   type T from PEER", "answered v1 PEER
 *                                   KEYID TXHEX:SALT", "confirm PEER KEYID
 *                                   ok|bad" (line-buffered)
 *   jzclient [options] rawlogin JSON  TLS, then the frame JSON as given
 *                                   (with "token" replaced by a real token
 *                                   when it is "@"); prints the answer
 *   -e enctype (password token: aes256-cts-hmac-sha384-192 ...)
 *   -E endpoint_ip (announced in the login)
 *   -K close right after sending the login (abandon the server's work)
 *   -T FILE capture: the login token made is saved to FILE; if FILE
 *           exists, the token in it is sent instead (a captured replay)
 * options: -s host:port -C cafile -m kerberos|password -u user -r realm
 *          -p password -S service -c ccache -d device -D delay_s -t offset
 *          -o code=value (answer to a prompt) -b source_ip
 *          -X (stale: AP-REQ from an expired cached service ticket)
 *          -L (legacy: a login without "features", as before peers_delta)
 * environment: JZCLIENT_FEATURES=a,b (the login's features instead),
 *          JZCLIENT_RAW=1 (lists: each peers/peers_delta also as "raw JSON"),
 *          JZCLIENT_KNOWN=JSON (the login's "peers_known", as given: JSON,
 *          else a string; lists prints "peers_unchanged N" for its answer)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <krb5/krb5.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/evp.h>

#include "auth/krb.h"
#include "client/noise.h"
#include "core/jazzd.h"

static const char *server = "127.0.0.1:7443", *cafile, *method = "kerberos";
static const char *user, *realm, *password, *service, *ccache, *device = "test";
static const char *answer_code, *answer_value, *bind_ip;
static const char *enctype_name, *endpoint_ip, *token_file;
static int delay_s, time_offset, stale, legacy, fire;
static SSL_CTX *ctx;
/* oldpeer: the identity key (JZCLIENT_IDKEY) and its public half */
static EVP_PKEY *id_key;
static unsigned char id_pub[32];

static double now(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return tv.tv_sec + tv.tv_usec / 1e6;
}

static int tcp_connect(void)
{
	char host[128];
	const char *colon = strrchr(server, ':');
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	int fd;

	snprintf(host, sizeof(host), "%.*s", (int)(colon - server), server);
	if (getaddrinfo(host, colon + 1, &hints, &ai))
		return -1;
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (bind_ip) {
		struct sockaddr_in sin = { .sin_family = AF_INET };

		inet_pton(AF_INET, bind_ip, &sin.sin_addr);
		bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen)) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

struct conn {
	int fd;
	SSL *ssl;
	unsigned char cb[32];
};

static int tls_connect(struct conn *c)
{
	static const char label[] = "EXPORTER-jazz-login";

	c->fd = tcp_connect();
	if (c->fd < 0)
		return -1;
	c->ssl = SSL_new(ctx);
	SSL_set_fd(c->ssl, c->fd);
	SSL_set_tlsext_host_name(c->ssl, "server.jazz.test");
	if (SSL_connect(c->ssl) != 1)
		return -1;
	SSL_export_keying_material(c->ssl, c->cb, 32, label, sizeof(label) - 1, NULL, 0, 0);
	return 0;
}

static void conn_close(struct conn *c)
{
	if (c->ssl)
		SSL_free(c->ssl);
	if (c->fd >= 0)
		close(c->fd);
	c->ssl = NULL;
	c->fd = -1;
}

static int send_json(struct conn *c, json_t *m)
{
	char *s;
	size_t len;
	unsigned char hdr[4];
	int r;

	json_object_set_new(m, "v", json_integer(1));
	s = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	len = strlen(s);
	hdr[0] = len >> 24;
	hdr[1] = len >> 16;
	hdr[2] = len >> 8;
	hdr[3] = len;
	r = SSL_write(c->ssl, hdr, 4) == 4 && SSL_write(c->ssl, s, (int)len) == (int)len;
	free(s);
	return r ? 0 : -1;
}

static int read_full(struct conn *c, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		int n = SSL_read(c->ssl, (char *)buf + got, (int)(len - got));

		if (n <= 0)
			return -1;
		got += n;
	}
	return 0;
}

static json_t *recv_json(struct conn *c)
{
	unsigned char hdr[4];
	uint32_t len;
	char *buf;
	json_t *m;

	if (read_full(c, hdr, 4))
		return NULL;
	len = (uint32_t)hdr[0] << 24 | hdr[1] << 16 | hdr[2] << 8 | hdr[3];
	if (len > (1 << 24))
		return NULL;
	buf = malloc(len);
	if (read_full(c, buf, len)) {
		free(buf);
		return NULL;
	}
	m = json_loadb(buf, len, 0, NULL);
	free(buf);
	return m;
}

static const char *type_of(json_t *m)
{
	return json_string_value(json_object_get(m, "type"));
}

static char *b64(const unsigned char *buf, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, buf, (int)len);
	return out;
}

/*
 * -X: an AP-REQ from the service ticket in the ccache even if it expired
 * (krb5_get_credentials would refuse it), as an out-of-date client would
 * send it; the authenticator is fresh, there is no channel binding.
 */
static int stale_ap_req(struct jz_krb_buf *out)
{
	krb5_context kc;
	krb5_ccache cc;
	krb5_creds m, creds;
	krb5_auth_context ac = NULL;
	krb5_data d = { 0 };
	krb5_error_code code;

	if (krb5_init_context(&kc))
		return -1;
	memset(&m, 0, sizeof(m));
	code = krb5_cc_resolve(kc, ccache, &cc);
	if (!code)
		code = krb5_cc_get_principal(kc, cc, &m.client);
	if (!code)
		code = krb5_parse_name(kc, service, &m.server);
	if (!code)
		code = krb5_cc_retrieve_cred(kc, cc, 0, &m, &creds);
	if (!code) {
		code = krb5_mk_req_extended(kc, &ac, AP_OPTS_MUTUAL_REQUIRED, NULL,
					    &creds, &d);
		krb5_free_cred_contents(kc, &creds);
	}
	if (!code) {
		out->data = malloc(d.length);
		memcpy(out->data, d.data, d.length);
		out->len = d.length;
	} else {
		fprintf(stderr, "stale AP-REQ: %s\n", krb5_get_error_message(kc, code));
	}
	krb5_free_data_contents(kc, &d);
	if (ac)
		krb5_auth_con_free(kc, ac);
	krb5_free_context(kc);
	return code ? -1 : 0;
}

/* junk: one token made once and sent on every connection (costs the
 * sender nothing; for the server it is a wrong password each time) */
static struct jz_krb_buf junk_tok;
static pthread_mutex_t junk_mu = PTHREAD_MUTEX_INITIALIZER;
static int junk_reuse;

static int make_token_once(struct conn *c, struct jz_krb_buf *tok);

/* Builds a login token for c's binding; *tok is malloc'd. */
static int make_token(struct conn *c, struct jz_krb_buf *tok)
{
	int rc = 0;

	if (!junk_reuse)
		return make_token_once(c, tok);
	pthread_mutex_lock(&junk_mu);
	if (!junk_tok.data)
		rc = make_token_once(c, &junk_tok);
	if (!rc) {
		tok->data = malloc(junk_tok.len);
		memcpy(tok->data, junk_tok.data, junk_tok.len);
		tok->len = junk_tok.len;
	}
	pthread_mutex_unlock(&junk_mu);
	return rc;
}

/* -T: the captured token, if FILE holds one (1: it does not) */
static int token_load(struct jz_krb_buf *tok)
{
	FILE *f = fopen(token_file, "rb");
	unsigned char buf[16384];
	size_t n;

	if (!f)
		return 1;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (!n)
		return 1;
	tok->data = malloc(n);
	memcpy(tok->data, buf, n);
	tok->len = n;
	return 0;
}

static void token_save(const struct jz_krb_buf *tok)
{
	FILE *f = fopen(token_file, "wb");

	if (f) {
		fwrite(tok->data, 1, tok->len, f);
		fclose(f);
	}
}

static int make_token_once(struct conn *c, struct jz_krb_buf *tok)
{
	char err[256];
	int rc;

	if (token_file && !token_load(tok))
		return 0;
	if (stale)
		return stale_ap_req(tok);
	if (!strcmp(method, "password")) {
		struct jz_krb_pw_cfg pc = { .user = user, .realm = realm, .password = password,
					    .time_offset = time_offset };

		if (enctype_name)
			pc.enctype = jz_krb_enctype_from_name(enctype_name);
		struct jz_krb_pw_client *pw;

		rc = jz_krb_pw_client_new(&pc, c->cb, 32, &pw, tok, err, sizeof(err));
		if (!rc)
			jz_krb_pw_client_free(pw);
	} else {
		struct jz_krb_client_cfg kc = { .ccache = ccache, .service = service,
						.time_offset = time_offset };
		struct jz_krb_client *k;

		rc = jz_krb_client_new(&kc, &k, err, sizeof(err));
		if (!rc) {
			rc = jz_krb_client_ap_req(k, c->cb, 32, tok, err, sizeof(err));
			jz_krb_client_free(k);
		}
	}
	if (rc)
		fprintf(stderr, "token: %s\n", err);
	else if (token_file)
		token_save(tok);
	return rc;
}

/* Sends the login with tok; follows challenges; returns the final message. */
static long long welcome_id;	/* the last welcome's "id" */

static json_t *login_with(struct conn *c, const struct jz_krb_buf *tok, const char *dev)
{
	char *t = b64(tok->data, tok->len);
	json_t *m;

	json_t *login = json_pack("{s:s,s:s,s:s,s:s,s:i,s:[]}", "type", "login",
				  "method", method, "device", dev, "token", t,
				  "listen_port", 51820, "other_data");

	/* takes "peers_delta" like jazzd (sent only what changed), unless -L;
	 * JZCLIENT_FEATURES="a,b": those instead */
	if (getenv("JZCLIENT_FEATURES")) {
		char *list = strdup(getenv("JZCLIENT_FEATURES")), *save = NULL;
		json_t *f = json_array();

		for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
			json_array_append_new(f, json_string(t));
		json_object_set_new(login, "features", f);
		free(list);
	} else if (!legacy) {
		json_object_set_new(login, "features", json_pack("[s]", "peers_delta"));
	}
	if (endpoint_ip)
		json_object_set_new(login, "endpoint_ip", json_string(endpoint_ip));
	if (getenv("JZCLIENT_KNOWN")) {
		json_t *k = json_loads(getenv("JZCLIENT_KNOWN"), JSON_DECODE_ANY, NULL);

		json_object_set_new(login, "peers_known",
				    k ? k : json_string(getenv("JZCLIENT_KNOWN")));
	}
	/* an identity key of its own (the server's default needs one): a
	 * real X25519 public key, whose private half this tool drops */
	if (!getenv("JZCLIENT_NO_PUBKEY")) {
		EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
		unsigned char pub[32];
		size_t pl = sizeof(pub);

		if (id_key) {	/* oldpeer: the key it hand-shakes with */
			memcpy(pub, id_pub, sizeof(pub));
			EVP_PKEY_free(k);
			k = id_key;
			EVP_PKEY_up_ref(k);
		}
		if (k && EVP_PKEY_get_raw_public_key(k, pub, &pl) == 1) {
			char *p64 = b64(pub, pl);

			json_object_set_new(login, "pubkey", json_string(p64));
			free(p64);
		}
		EVP_PKEY_free(k);
	}
	send_json(c, login);
	free(t);
	if (fire)	/* -K: gone before the answer, leaving the work behind */
		return NULL;
	while ((m = recv_json(c))) {
		const char *ty = type_of(m);

		if (!strcmp(ty, "welcome"))
			welcome_id = json_integer_value(json_object_get(m, "id"));
		if (!strcmp(ty, "welcome") || !strcmp(ty, "reject"))
			return m;
		if (!strcmp(ty, "challenge")) {
			json_t *items = json_array(), *p;
			size_t i;

			json_array_foreach(json_object_get(m, "prompts"), i, p) {
				const char *code = json_string_value(json_object_get(p, "code"));

				json_array_append_new(items, json_pack("{s:s,s:s}", "code", code,
					"value", answer_code && !strcmp(code, answer_code)
					? answer_value : ""));
			}
			send_json(c, json_pack("{s:s,s:o}", "type", "answer", "other_data", items));
		}
		json_decref(m);
	}
	return NULL;
}

static void print_result(json_t *m)
{
	if (!m)
		printf("closed\n");
	else if (!strcmp(type_of(m), "welcome"))
		printf("welcome %s\n", json_string_value(json_object_get(m, "vip4")));
	else
		printf("reject %s\n", json_string_value(json_object_get(m, "reason")));
}

/* One login; on failure @why (if given) says at which step and why. */
static int do_login(const char *dev, bool quiet, char *why, size_t whylen)
{
	struct conn c = { .fd = -1 };
	struct jz_krb_buf tok = { 0 };
	json_t *m;
	int ok;

	errno = 0;
	if (tls_connect(&c)) {
		if (why)
			snprintf(why, whylen, "%s: %s", c.fd < 0 ? "connect" : "TLS handshake",
				 c.fd < 0 ? strerror(errno) :
				 ERR_reason_error_string(ERR_peek_last_error()) ?:
				 (errno ? strerror(errno) : "closed"));
		if (!quiet)
			printf("closed\n");
		conn_close(&c);
		return 1;
	}
	if (make_token(&c, &tok)) {
		if (why)
			snprintf(why, whylen, "token");
		conn_close(&c);
		return 1;
	}
	if (delay_s)
		sleep(delay_s);
	m = login_with(&c, &tok, dev);
	jz_krb_buf_free(&tok);
	if (!quiet)
		print_result(m);
	ok = m && !strcmp(type_of(m), "welcome");
	if (!ok && why)
		snprintf(why, whylen, "%s", !m ? "closed before an answer" :
			 json_string_value(json_object_get(m, "reason")) ?: "no reason");
	json_decref(m);
	conn_close(&c);
	return ok ? 0 : 1;
}

/* Login, then print the peer-list messages that come within @secs. */
static int do_lists(int secs)
{
	struct conn c = { .fd = -1 };
	struct jz_krb_buf tok = { 0 };
	struct timeval tv = { secs, 0 };
	json_t *m, *e;
	size_t i;

	if (tls_connect(&c) || make_token(&c, &tok)) {
		printf("closed\n");
		conn_close(&c);
		return 1;
	}
	m = login_with(&c, &tok, device);
	jz_krb_buf_free(&tok);
	print_result(m);
	if (!m || strcmp(type_of(m), "welcome")) {
		json_decref(m);
		conn_close(&c);
		return 1;
	}
	json_decref(m);
	fflush(stdout);
	setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while ((m = recv_json(&c))) {
		if (getenv("JZCLIENT_RAW") && (!strcmp(type_of(m), "peers") ||
					       !strcmp(type_of(m), "peers_delta"))) {
			char *raw = json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER);

			printf("raw %s\n", raw ? raw : "-");
			free(raw);
		}
		if (!strcmp(type_of(m), "peers")) {
			printf("peers ");
			json_array_foreach(json_object_get(m, "peers"), i, e)
				printf("%s%s", i ? "," : "",
				       json_string_value(json_object_get(e, "device")));
			printf("\n");
		} else if (!strcmp(type_of(m), "peers_delta")) {
			printf("peers_delta\n");
		} else if (!strcmp(type_of(m), "peers_unchanged")) {
			printf("peers_unchanged %lld\n",
			       (long long)json_integer_value(json_object_get(m, "count")));
		}
		fflush(stdout);
		json_decref(m);
	}
	conn_close(&c);
	return 0;
}

struct many_arg {
	int i;
	int rc;
	char why[128];
};

static void *many_thread(void *arg)
{
	struct many_arg *a = arg;
	char dev[64];

	snprintf(dev, sizeof(dev), "%s-%d", device, a->i);
	a->rc = do_login(dev, true, a->why, sizeof(a->why));
	return NULL;
}

static int do_many(int n)
{
	pthread_t *th = calloc(n, sizeof(*th));
	struct many_arg *a = calloc(n, sizeof(*a));
	double t0 = now();
	int ok = 0;

	for (int i = 0; i < n; i++) {
		a[i].i = i;
		pthread_create(&th[i], NULL, many_thread, &a[i]);
	}
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		ok += a[i].rc == 0;
	}
	printf("ok %d/%d %.3f s\n", ok, n, now() - t0);
	for (int i = 0; i < n; i++)	/* the client's side of each failure */
		if (a[i].rc)
			printf("# login %d failed: %s\n", i, a[i].why);
	return ok == n ? 0 : 1;
}

static int do_replay(void)
{
	struct conn c = { .fd = -1 }, c2 = { .fd = -1 };
	struct jz_krb_buf tok = { 0 };
	json_t *m;

	if (tls_connect(&c) || make_token(&c, &tok))
		return 2;
	m = login_with(&c, &tok, device);
	printf("first: ");
	print_result(m);
	json_decref(m);
	if (tls_connect(&c2))
		return 2;
	m = login_with(&c2, &tok, device);
	printf("second: ");
	print_result(m);
	json_decref(m);
	conn_close(&c);
	conn_close(&c2);
	return 0;
}

/* 0 if the server closed the connection within 30 s */
static int wait_closed(int fd, double *secs)
{
	char buf[4096];
	double t0 = now();
	struct timeval tv = { 30, 0 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
			*secs = now() - t0;
			return 0;
		}
		if (n < 0) {
			*secs = now() - t0;
			return 1;
		}
	}
}

static int do_garbage(void)
{
	int fd = tcp_connect();
	unsigned char junk[2048];
	double s;

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(rand() & 0xff);
	junk[0] = 0x16;	/* looks like a handshake record at first */
	send(fd, junk, sizeof(junk), MSG_NOSIGNAL);
	if (wait_closed(fd, &s)) {
		printf("open\n");
		return 1;
	}
	printf("closed %.1f\n", s);
	return 0;
}

static int do_stall(void)
{
	int fd = tcp_connect();
	/* the start of a TLS record header announcing 512 bytes, then silence */
	unsigned char part[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00 };
	double s;

	send(fd, part, sizeof(part), MSG_NOSIGNAL);
	if (wait_closed(fd, &s)) {
		printf("open\n");
		return 1;
	}
	printf("closed %.1f\n", s);
	return 0;
}

static int do_badframe(bool oversized)
{
	struct conn c = { .fd = -1 };
	json_t *m;

	if (tls_connect(&c))
		return 2;
	if (oversized) {
		unsigned char hdr[4] = { 0x01, 0x00, 0x00, 0x00 };

		SSL_write(c.ssl, hdr, 4);
		SSL_write(c.ssl, "{\"v\":1", 6);
	} else {
		unsigned char hdr[4] = { 0, 0, 0, 9 };

		SSL_write(c.ssl, hdr, 4);
		SSL_write(c.ssl, "{not json", 9);
	}
	m = recv_json(&c);
	if (m) {
		print_result(m);
		json_decref(m);
	}
	m = recv_json(&c);
	printf("%s\n", m ? "still open" : "closed");
	json_decref(m);
	conn_close(&c);
	return 0;
}

/* approvals: device b acks verdicts on its own thread */
static volatile int stop_b;

static void *b_thread(void *arg)
{
	struct conn *c = arg;
	json_t *m;

	while (!stop_b && (m = recv_json(c))) {
		if (!strcmp(type_of(m), "verdict"))
			send_json(c, json_pack("{s:s,s:O}", "type", "verdict_ack", "vid",
					       json_object_get(m, "vid")));
		else if (!strcmp(type_of(m), "key"))
			send_json(c, json_pack("{s:s,s:O,s:O}", "type", "key_ack", "peer",
					       json_object_get(m, "peer"), "key_id",
					       json_object_get(m, "key_id")));
		json_decref(m);
	}
	return NULL;
}

static int do_approvals(int n)
{
	struct conn a = { .fd = -1 }, b = { .fd = -1 };
	struct jz_krb_buf tok = { 0 };
	char da[64], db[64];
	const char *va, *vb;
	json_t *wa, *wb, *m;
	pthread_t th;
	int got = 0, sent = 0, window = 64;
	double t0;

	snprintf(da, sizeof(da), "%s-a", device);
	snprintf(db, sizeof(db), "%s-b", device);
	if (tls_connect(&a) || make_token(&a, &tok))
		return 2;
	wa = login_with(&a, &tok, da);
	jz_krb_buf_free(&tok);
	if (tls_connect(&b) || make_token(&b, &tok))
		return 2;
	wb = login_with(&b, &tok, db);
	jz_krb_buf_free(&tok);
	if (!wa || !wb || strcmp(type_of(wa), "welcome") || strcmp(type_of(wb), "welcome")) {
		printf("login failed\n");
		return 1;
	}
	va = json_string_value(json_object_get(wa, "vip4"));
	vb = json_string_value(json_object_get(wb, "vip4"));
	pthread_create(&th, NULL, b_thread, &b);
	/* wait until a and b are linked (a key for the pair arrives at a) */
	while ((m = recv_json(&a))) {
		bool key = !strcmp(type_of(m), "key");

		if (key)
			send_json(&a, json_pack("{s:s,s:O,s:O}", "type", "key_ack", "peer",
						json_object_get(m, "peer"), "key_id",
						json_object_get(m, "key_id")));
		json_decref(m);
		if (key)
			break;
	}
	t0 = now();
	while (got < n) {
		while (sent < n && sent - got < window) {
			send_json(&a, json_pack("{s:s,s:s,s:s,s:i,s:s,s:i,s:s,s:i}",
						"type", "conn_request", "proto", "tcp",
						"src", va, "sport", 1024 + sent % 60000,
						"dst", vb, "dport", 80 + sent / 60000,
						"dir", "egress", "cookie", sent + 1));
			sent++;
		}
		m = recv_json(&a);
		if (!m)
			break;
		if (!strcmp(type_of(m), "verdict"))
			got++;
		json_decref(m);
	}
	printf("approvals %d/%d %.3f s\n", got, n, now() - t0);
	stop_b = 1;
	shutdown(b.fd, SHUT_RDWR);
	pthread_join(th, NULL);
	return got == n ? 0 : 1;
}

/* ---------------- hostile modes ---------------- */

/* Login on c as device; 0 and *vip4 (malloc'd) on welcome. */
static int login_on(struct conn *c, const char *dev, char **vip4)
{
	struct jz_krb_buf tok = { 0 };
	json_t *m;
	int ok;

	if (tls_connect(c) || make_token(c, &tok)) {
		printf("closed\n");
		return 1;
	}
	m = login_with(c, &tok, dev);
	jz_krb_buf_free(&tok);
	print_result(m);
	ok = m && !strcmp(type_of(m), "welcome");
	if (ok && vip4)
		*vip4 = strdup(json_string_value(json_object_get(m, "vip4")));
	json_decref(m);
	fflush(stdout);
	return ok ? 0 : 1;
}

static void ack_key(struct conn *c, json_t *m)
{
	if (!strcmp(type_of(m), "key"))
		send_json(c, json_pack("{s:s,s:O,s:O}", "type", "key_ack", "peer",
				       json_object_get(m, "peer"), "key_id",
				       json_object_get(m, "key_id")));
}

/* Reads for @secs, acking keys; prints verdicts; returns how many. */
static int read_verdicts(struct conn *c, double secs)
{
	double end = now() + secs;
	int got = 0;
	json_t *m;

	while (now() < end) {
		struct timeval tv = { 0, 200000 };

		setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		m = recv_json(c);
		if (!m) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			break;
		}
		ack_key(c, m);
		if (!strcmp(type_of(m), "verdict")) {
			got++;
			printf("verdict %s %lld %s\n",
			       json_string_value(json_object_get(m, "dir")) ?: "-",
			       json_integer_value(json_object_get(m, "cookie")),
			       json_string_value(json_object_get(m, "verdict")) ?: "-");
			if (json_object_get(m, "vid"))
				send_json(c, json_pack("{s:s,s:O}", "type", "verdict_ack",
						       "vid", json_object_get(m, "vid")));
		}
		json_decref(m);
	}
	return got;
}

/* A device sending N "pair" messages (MSG, base64) to device PEER:
 * prints what the server answered ("pair_refused REASON" per message,
 * then "pair refused K"). */
static int do_pairflood(const char *peer, const char *msg, int n)
{
	struct conn c = { .fd = -1 };
	double end;
	int refused = 0;
	json_t *m;

	if (login_on(&c, device, NULL))
		return 1;
	read_verdicts(&c, 1.0);	/* lists settle */
	for (int i = 0; i < n; i++)
		send_json(&c, json_pack("{s:s,s:I,s:s}", "type", "pair", "peer",
					(json_int_t)strtoll(peer, NULL, 10), "msg", msg));
	end = now() + 2.0;
	while (now() < end) {
		struct timeval tv = { 0, 200000 };

		setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		m = recv_json(&c);
		if (!m) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			break;
		}
		if (!strcmp(type_of(m), "pair_refused")) {
			refused++;
			printf("pair_refused %s\n",
			       json_string_value(json_object_get(m, "reason")) ?: "-");
		}
		json_decref(m);
	}
	printf("pair refused %d\n", refused);
	conn_close(&c);
	return 0;
}

/* A device asking about someone else's connection with its own cookie. */
static int do_forge(const char *victim, const char *cookie, int n)
{
	struct conn c = { .fd = -1 };
	char *vip = NULL;
	int got;

	if (login_on(&c, device, &vip))
		return 1;
	read_verdicts(&c, 1.0);	/* keys and lists settle */
	/* JZ_FORGE_DIR=egress: to VIP from us (a flood of our own requests) */
	bool egress = getenv("JZ_FORGE_DIR") && !strcmp(getenv("JZ_FORGE_DIR"), "egress");

	for (int i = 0; i < n; i++)
		send_json(&c, json_pack("{s:s,s:s,s:s,s:i,s:s,s:i,s:s,s:I}",
					"type", "conn_request", "proto", "tcp",
					"src", egress ? vip : victim, "sport", 40000 + i % 20000,
					"dst", egress ? victim : vip, "dport", 80 + i / 20000,
					"dir", egress ? "egress" : "ingress",
					"cookie", (json_int_t)strtoll(cookie, NULL, 10)));
	got = read_verdicts(&c, 3.0);
	printf("verdicts %d\n", got);
	free(vip);
	conn_close(&c);
	return 0;
}

static int do_idle(int n, int secs)
{
	int *fds = calloc(n, sizeof(*fds)), open_n = 0, made = 0;
	char b;

	for (int i = 0; i < n; i++) {
		fds[i] = tcp_connect();
		made += fds[i] >= 0;
	}
	printf("idle made %d/%d\n", made, n);
	fflush(stdout);
	sleep(secs);
	for (int i = 0; i < n; i++) {
		if (fds[i] < 0)
			continue;
		ssize_t r = recv(fds[i], &b, 1, MSG_DONTWAIT);

		open_n += r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
		close(fds[i]);
	}
	printf("idle open %d/%d\n", open_n, n);
	free(fds);
	return 0;
}

/* Pings, never reading the pongs: the server must stop reading us. */
static int do_pingflood(int mb)
{
	struct conn c = { .fd = -1 };
	struct timeval tv = { 5, 0 };
	static const char ping[] = "{\"type\":\"ping\",\"v\":1,\"pad\":\""
		"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		"\"}";
	unsigned char frame[4 + sizeof(ping)], buf[16384];
	size_t len = sizeof(ping) - 1, pos = 0;
	double sent = 0;
	int rcv = 4096;

	if (login_on(&c, device, NULL))
		return 1;
	setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	frame[0] = 0; frame[1] = 0; frame[2] = len >> 8; frame[3] = len & 0xff;
	memcpy(frame + 4, ping, len);
	while (pos + 4 + len <= sizeof(buf)) {
		memcpy(buf + pos, frame, 4 + len);
		pos += 4 + len;
	}
	while (sent < (double)mb * 1048576) {
		int w = SSL_write(c.ssl, buf, (int)pos);

		if (w <= 0)
			break;
		sent += w;
	}
	printf("pingflood sent %.1f MiB\n", sent / 1048576);
	conn_close(&c);
	return 0;
}

struct junk_arg {
	char why[128];
	int rc;
};

static void *junk_thread(void *arg)
{
	struct junk_arg *a = arg;

	a->rc = do_login(device, true, a->why, sizeof(a->why));
	return NULL;
}

/* N wrong-password logins at @rate per second; tallies the answers. */
static int do_junk(int n, double rate)
{
	pthread_t *th = calloc(n, sizeof(*th));
	struct junk_arg *a = calloc(n, sizeof(*a));
	double t0 = now();
	char reasons[16][128];
	int counts[16] = { 0 }, nr = 0;

	junk_reuse = !getenv("JZ_JUNK_FRESH");	/* JZ_JUNK_FRESH=1: a token each */

	for (int i = 0; i < n; i++) {
		double at = t0 + i / rate, d = at - now();

		if (d > 0)
			usleep((useconds_t)(d * 1e6));
		if (pthread_create(&th[i], NULL, junk_thread, &a[i]))
			th[i] = 0;
	}
	for (int i = 0; i < n; i++) {
		int k;

		if (!th[i])
			continue;
		pthread_join(th[i], NULL);
		if (!a[i].rc)
			snprintf(a[i].why, sizeof(a[i].why), "welcome");
		for (k = 0; k < nr && strcmp(reasons[k], a[i].why); k++)
			;
		if (k == nr && nr < 16)
			snprintf(reasons[nr++], 128, "%s", a[i].why);
		if (k < 16)
			counts[k]++;
	}
	printf("junk %d in %.1f s:", n, now() - t0);
	for (int k = 0; k < nr; k++)
		printf(" [%s]=%d", reasons[k], counts[k]);
	printf("\n");
	return 0;
}

/* Logged in, then never reading (a destination that never acks). */
static int do_mute(int secs)
{
	struct conn c = { .fd = -1 };

	if (login_on(&c, device, NULL))
		return 1;
	sleep(secs);
	conn_close(&c);
	return 0;
}

/* Logged in for up to @secs: does the server end the session? */
/* The next message before @end, pinging the server while none comes;
 * NULL at @end, or when the connection ended (then *closed). */
static json_t *recv_pinging(struct conn *c, double end, bool *closed)
{
	*closed = false;
	while (now() < end) {
		struct timeval tv = { 0, 300000 };
		json_t *m;

		setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		m = recv_json(c);
		if (m)
			return m;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			*closed = true;
			return NULL;
		}
		send_json(c, json_pack("{s:s}", "type", "ping"));
	}
	return NULL;
}

static int do_hold(int secs)
{
	struct conn c = { .fd = -1 };
	bool closed;
	double t0;
	json_t *m;

	if (login_on(&c, device, NULL))
		return 1;
	t0 = now();
	while ((m = recv_pinging(&c, t0 + secs, &closed))) {
		ack_key(&c, m);
		json_decref(m);
	}
	if (closed)
		printf("ended after %.1f s\n", now() - t0);
	else
		printf("held\n");
	conn_close(&c);
	return 0;
}

/* oldpeer: the identity keys the lists gave (by device id). */
struct listed_key {
	json_int_t id;
	unsigned char pub[32];
	struct jz_pair_keys await;	/* what its confirm is checked with */
};

static void note_keys(json_t *arr, struct listed_key *keys, size_t *n, size_t max)
{
	size_t i;
	json_t *e;

	json_array_foreach(arr, i, e) {
		json_int_t id = json_integer_value(json_object_get(e, "id"));
		const char *pk = json_string_value(json_object_get(e, "pubkey"));
		unsigned char pub[32];
		size_t k;

		if (!id || !pk || jz_pubkey_parse(pk, pub))
			continue;
		for (k = 0; k < *n && keys[k].id != id; k++)
			;
		if (k == *n) {
			if (*n == max)
				continue;
			(*n)++;
		}
		keys[k].id = id;
		memcpy(keys[k].pub, pub, 32);
	}
}

/* One relayed handshake message, handled by the rules of a jazzd from
 * before version 2 (its jz_hs_parse knew types 1-3 only). */
static void oldpeer_pair(struct conn *c, json_t *m, struct listed_key *keys, size_t n)
{
	json_int_t peer = json_integer_value(json_object_get(m, "peer"));
	const char *msg = json_string_value(json_object_get(m, "msg"));
	unsigned char *raw, out[JZ_HS_RESP_LEN];
	struct listed_key *from = NULL;
	struct jz_pair_keys k;
	struct jz_hs_msg hm;
	char err[160];
	uint64_t ts;
	size_t len;

	raw = msg ? jz_b64_decode(msg, &len) : NULL;
	if (!raw || len < 2)
		goto out;
	if (raw[0] < JZ_HS_INIT || raw[0] > JZ_HS_CONFIRM) {
		printf("dropped type %u from %lld\n", raw[0], (long long)peer);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (keys[i].id == peer)
			from = &keys[i];
	if (!from || jz_hs_parse(raw, len, &hm, err, sizeof(err)))
		goto out;
	if (hm.type == JZ_HS_INIT &&
	    !jz_hs_respond(id_key, id_pub, from->pub, &hm, &ts, out, &k)) {
		char *b = b64(out, sizeof(out));

		send_json(c, json_pack("{s:s,s:I,s:s}", "type", "pair", "peer", peer, "msg", b));
		free(b);
		printf("answered v%u %lld %u ", k.version, (long long)peer, k.key_id);
		for (int i = 0; i < 32; i++)
			printf("%02x", k.r2i_key[i]);
		printf(":%02x%02x%02x%02x\n", k.r2i_salt[0], k.r2i_salt[1], k.r2i_salt[2],
		       k.r2i_salt[3]);
		from->await = k;
	} else if (hm.type == JZ_HS_CONFIRM) {
		printf("confirm %lld %u %s\n", (long long)peer, hm.key_id,
		       jz_hs_confirm_check(&from->await, &hm) ? "bad" : "ok");
	}
out:
	free(raw);
}

static int do_oldpeer(int secs)
{
	struct conn c = { .fd = -1 };
	struct listed_key keys[64] = { 0 };
	char err[256];
	bool closed;
	size_t n = 0;
	double end;
	json_t *m;

	id_key = getenv("JZCLIENT_IDKEY") ?
		 jz_devkey_load(getenv("JZCLIENT_IDKEY"), id_pub, err, sizeof(err)) : NULL;
	if (!id_key) {
		fprintf(stderr, "jzclient: oldpeer needs JZCLIENT_IDKEY\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (login_on(&c, device, NULL))
		return 1;
	end = now() + secs;
	while ((m = recv_pinging(&c, end, &closed))) {
		const char *t = type_of(m);

		if (!strcmp(t, "peers"))
			note_keys(json_object_get(m, "peers"), keys, &n, 64);
		else if (!strcmp(t, "peers_delta"))
			note_keys(json_object_get(m, "set"), keys, &n, 64);
		else if (!strcmp(t, "pair"))
			oldpeer_pair(&c, m, keys, n);
		ack_key(&c, m);
		json_decref(m);
	}
	conn_close(&c);
	return 0;
}

/* A hand-made login frame ("token": "@" becomes a real token). */
static int do_rawlogin(const char *text)
{
	struct conn c = { .fd = -1 };
	json_t *m = json_loads(text, 0, NULL);
	const char *tok = m ? json_string_value(json_object_get(m, "token")) : NULL;

	if (!m || tls_connect(&c))
		return 2;
	if (tok && !strcmp(tok, "@")) {
		struct jz_krb_buf t = { 0 };
		char *b;

		if (make_token(&c, &t))
			return 2;
		b = b64(t.data, t.len);
		json_object_set_new(m, "token", json_string(b));
		free(b);
		jz_krb_buf_free(&t);
	}
	send_json(&c, m);
	m = recv_json(&c);
	if (m && !strcmp(type_of(m), "auth")) {
		json_decref(m);
		m = recv_json(&c);
	}
	print_result(m);
	json_decref(m);
	conn_close(&c);
	return 0;
}

/* Issue 20: log in, send each line of FILE as a message ("sleep S"
 * lines wait S seconds; "@VIP4@" stands for this device's address), and
 * print, for @secs, every peer entry that comes in a list or delta as
 * "entry DEVICE CANDS" (CANDS: the entry's "cands" as JSON, "-" without),
 * relays ("relay PEER IP PORT TOKEN"), refusals (relay_refused,
 * path_refused) and verdicts. */
static int do_cands(const char *file, double secs)
{
	struct conn c = { .fd = -1 };
	FILE *f = strcmp(file, "-") ? fopen(file, "r") : NULL;
	char line[8192], out[8400], *vip = NULL, *at;
	double end;
	json_t *m, *e;
	size_t i;

	if (login_on(&c, device, &vip))
		return 1;
	printf("id %lld\nvip4 %s\n", welcome_id, vip ? vip : "-");
	fflush(stdout);
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		at = strstr(line, "@VIP4@");
		if (at && vip) {
			*at = 0;
			snprintf(out, sizeof(out), "%s%s%s", line, vip, at + 6);
			snprintf(line, sizeof(line), "%s", out);
		}
		if (!strncmp(line, "sleep ", 6)) {
			usleep((useconds_t)(atof(line + 6) * 1e6));
		} else if (line[0]) {
			m = json_loads(line, 0, NULL);
			if (m)
				send_json(&c, m);
		}
	}
	if (f)
		fclose(f);
	free(vip);
	end = now() + secs;
	while (now() < end) {
		struct timeval tv = { 0, 200000 };
		json_t *set;

		setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		m = recv_json(&c);
		if (!m) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			printf("closed\n");
			break;
		}
		set = json_object_get(m, !strcmp(type_of(m), "peers") ? "peers" : "set");
		if (!strcmp(type_of(m), "peers") || !strcmp(type_of(m), "peers_delta")) {
			json_array_foreach(set, i, e) {
				json_t *cd = json_object_get(e, "cands");
				char *str = cd ? json_dumps(cd, JSON_COMPACT) : NULL;

				printf("entry %s %s\n", json_string_value(json_object_get(e, "device")),
				       str ? str : "-");
				free(str);
			}
		} else if (!strcmp(type_of(m), "relay")) {
			printf("relay %lld %s %lld %s\n", json_integer_value(json_object_get(m, "peer")),
			       json_string_value(json_object_get(m, "ip")) ?: "-",
			       json_integer_value(json_object_get(m, "port")),
			       json_string_value(json_object_get(m, "token")) ?: "-");
		} else if (!strcmp(type_of(m), "verdict")) {
			printf("verdict %s %s:%lld\n",
			       json_string_value(json_object_get(m, "verdict")) ?: "-",
			       json_string_value(json_object_get(m, "dst")) ?: "-",
			       json_integer_value(json_object_get(m, "dport")));
		} else if (!strcmp(type_of(m), "relay_refused") ||
			   !strcmp(type_of(m), "path_refused")) {
			printf("%s %lld %s\n", type_of(m), json_integer_value(json_object_get(m, "peer")),
			       json_string_value(json_object_get(m, "reason")) ?: "-");
		} else if (!strcmp(type_of(m), "error") || !strcmp(type_of(m), "bye")) {
			printf("%s %s\n", type_of(m), json_string_value(json_object_get(m, "reason")) ?: "-");
		}
		fflush(stdout);
		json_decref(m);
	}
	conn_close(&c);
	return 0;
}

int main(int argc, char **argv)
{
	int opt;

	while ((opt = getopt(argc, argv, "s:C:m:u:r:p:S:c:d:D:t:o:b:e:E:T:KXL")) != -1) {
		switch (opt) {
		case 's': server = optarg; break;
		case 'C': cafile = optarg; break;
		case 'm': method = optarg; break;
		case 'u': user = optarg; break;
		case 'r': realm = optarg; break;
		case 'p': password = optarg; break;
		case 'S': service = optarg; break;
		case 'c': ccache = optarg; break;
		case 'd': device = optarg; break;
		case 'D': delay_s = atoi(optarg); break;
		case 't': time_offset = atoi(optarg); break;
		case 'b': bind_ip = optarg; break;
		case 'e': enctype_name = optarg; break;
		case 'E': endpoint_ip = optarg; break;
		case 'T': token_file = optarg; break;
		case 'K': fire = 1; break;
		case 'X': stale = 1; break;
		case 'L': legacy = 1; break;
		case 'o': {
			char *eq = strchr(optarg, '=');

			if (eq) {
				*eq = 0;
				answer_code = optarg;
				answer_value = eq + 1;
			}
			break;
		}
		default:
			return 2;
		}
	}
	if (optind >= argc)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	if (cafile) {
		SSL_CTX_load_verify_locations(ctx, cafile, NULL);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	if (!strcmp(argv[optind], "login"))
		return do_login(device, false, NULL, 0);
	if (!strcmp(argv[optind], "many") && optind + 1 < argc)
		return do_many(atoi(argv[optind + 1]));
	if (!strcmp(argv[optind], "replay"))
		return do_replay();
	if (!strcmp(argv[optind], "garbage"))
		return do_garbage();
	if (!strcmp(argv[optind], "stall"))
		return do_stall();
	if (!strcmp(argv[optind], "oversized"))
		return do_badframe(true);
	if (!strcmp(argv[optind], "badjson"))
		return do_badframe(false);
	if (!strcmp(argv[optind], "lists") && optind + 1 < argc)
		return do_lists(atoi(argv[optind + 1]));
	if (!strcmp(argv[optind], "approvals") && optind + 1 < argc)
		return do_approvals(atoi(argv[optind + 1]));
	if (!strcmp(argv[optind], "pairflood") && optind + 3 < argc)
		return do_pairflood(argv[optind + 1], argv[optind + 2], atoi(argv[optind + 3]));
	if (!strcmp(argv[optind], "forge") && optind + 3 < argc)
		return do_forge(argv[optind + 1], argv[optind + 2], atoi(argv[optind + 3]));
	if (!strcmp(argv[optind], "idle") && optind + 2 < argc)
		return do_idle(atoi(argv[optind + 1]), atoi(argv[optind + 2]));
	if (!strcmp(argv[optind], "pingflood") && optind + 1 < argc)
		return do_pingflood(atoi(argv[optind + 1]));
	if (!strcmp(argv[optind], "junk") && optind + 2 < argc)
		return do_junk(atoi(argv[optind + 1]), atof(argv[optind + 2]));
	if (!strcmp(argv[optind], "mute") && optind + 1 < argc)
		return do_mute(atoi(argv[optind + 1]));
	if (!strcmp(argv[optind], "hold") && optind + 1 < argc)
		return do_hold(atoi(argv[optind + 1]));
	if (!strcmp(argv[optind], "cands") && optind + 2 < argc)
		return do_cands(argv[optind + 1], atof(argv[optind + 2]));
	if (!strcmp(argv[optind], "oldpeer") && optind + 1 < argc)
		return do_oldpeer(atoi(argv[optind + 1]));
	if (!strcmp(argv[optind], "rawlogin") && optind + 1 < argc)
		return do_rawlogin(argv[optind + 1]);
	return 2;
}
