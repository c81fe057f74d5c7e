// SPDX-License-Identifier: GPL-2.0
/*
 * rogue: a hostile jazz server for testing the jazzd CLIENT. It presents a
 * certificate the client trusts (real TLS 1.3), reads the client's login,
 * then proves its identity or not, as told, and plays a script of messages
 * at the client. Everything the client sends back is written to a record
 * file, one line per frame, so a test can assert what the client answered
 * (and what it did not).
 *
 *   rogue -l PORT -c CERT -k KEY -x SCRIPT -o RECORD [options]
 *     -P none|garbage|valid|other   the proof of identity:
 *          none     no `auth` message at all
 *          garbage  `auth` with random bytes as the proof
 *          valid    the real proof (the rogue holds the user's password, -p,
 *                   or the service keytab, -K: a compromised server)
 *          other    a real proof, but `auth` names another principal (-U)
 *     -p PASSWORD   password mode: the user's password (for valid/other)
 *     -K KEYTAB -S SERVICE   kerberos mode: the service keytab and principal
 *     -U USER       the principal `other` names (default "admin")
 *     -n N          serve N connections, then exit (default 1)
 *     -w SECONDS    after the script, keep reading this long (default 3)
 *
 * SCRIPT is a JSON array of messages sent in order after the proof step
 * ("v" is added). Two directives: {"type": "_read"} waits (up to -w s) for
 * one frame from the client; {"type": "_sleep", "ms": N} pauses.
 *
 * RECORD lines: "conn N", "login method=M device=D user=U", "proof MODE",
 * "recv TYPE JSON", "closed" (the client closed) or "timeout".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "auth/krb.h"

static const char *proof_mode = "none", *password, *keytab, *service;
static const char *other_user = "admin";
static int wait_s = 3;
static FILE *rec;

static void record(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void record(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(rec, fmt, ap);
	va_end(ap);
	fputc('\n', rec);
	fflush(rec);
}

static int ssl_read_full(SSL *ssl, int fd, void *buf, size_t len, int timeout_ms)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int n;

		if (!SSL_pending(ssl) && poll(&p, 1, timeout_ms) <= 0)
			return -2;	/* timeout */
		n = SSL_read(ssl, (char *)buf + got, (int)(len - got));
		if (n <= 0) {
			int e = SSL_get_error(ssl, n);

			if (e == SSL_ERROR_WANT_READ)
				continue;
			return -1;	/* closed */
		}
		got += n;
	}
	return 0;
}

/* 0: *out holds a message; -1 closed; -2 timeout */
static int read_frame(SSL *ssl, int fd, json_t **out, int timeout_ms)
{
	unsigned char hdr[4], *body;
	uint32_t len;
	int r = ssl_read_full(ssl, fd, hdr, 4, timeout_ms);

	if (r)
		return r;
	len = (uint32_t)hdr[0] << 24 | hdr[1] << 16 | hdr[2] << 8 | hdr[3];
	if (!len || len > (16u << 20))
		return -1;
	body = malloc(len);
	r = ssl_read_full(ssl, fd, body, len, timeout_ms);
	if (!r) {
		*out = json_loadb((char *)body, len, 0, NULL);
		if (!*out)
			r = -1;
	}
	free(body);
	return r;
}

static int send_frame(SSL *ssl, json_t *m)
{
	char *s;
	size_t len;
	unsigned char *buf;
	int rc;

	json_object_set_new(m, "v", json_integer(1));
	s = json_dumps(m, JSON_COMPACT);
	len = strlen(s);
	buf = malloc(len + 4);
	buf[0] = len >> 24;
	buf[1] = len >> 16;
	buf[2] = len >> 8;
	buf[3] = len;
	memcpy(buf + 4, s, len);
	rc = SSL_write(ssl, buf, (int)len + 4) == (int)len + 4 ? 0 : -1;
	free(buf);
	free(s);
	return rc;
}

static unsigned char *b64dec(const char *s, size_t *len)
{
	size_t n = strlen(s);
	unsigned char *out = malloc(n + 4);
	int r = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);

	if (r < 0) {
		free(out);
		return NULL;
	}
	while (n && s[n - 1] == '=') {
		n--;
		r--;
	}
	*len = (size_t)r;
	return out;
}

static char *b64enc(const unsigned char *p, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, p, (int)len);
	return out;
}

/* The proof for this login, as the -P mode wants it. */
static json_t *make_auth(SSL *ssl, json_t *login)
{
	static const char label[] = "EXPORTER-jazz-login";
	unsigned char cb[32];
	const char *method = json_string_value(json_object_get(login, "method")) ?: "";
	const char *tok64 = json_string_value(json_object_get(login, "token")) ?: "";
	struct jz_krb_identity id = { 0 };
	struct jz_krb_buf proof = { 0 };
	unsigned char *tok;
	char err[256], *p64;
	size_t toklen = 0;
	json_t *m;
	int rc;

	if (!strcmp(proof_mode, "garbage")) {
		unsigned char junk[96];

		RAND_bytes(junk, sizeof(junk));
		p64 = b64enc(junk, sizeof(junk));
		m = json_pack("{s:s,s:s,s:s,s:s}", "type", "auth", "user", "bob",
			      "realm", "X", "proof", p64);
		free(p64);
		return m;
	}
	SSL_export_keying_material(ssl, cb, sizeof(cb), label, sizeof(label) - 1,
				   NULL, 0, 0);
	tok = b64dec(tok64, &toklen);
	if (!tok)
		return NULL;
	if (!strcmp(method, "password")) {
		struct jz_krb_server_cfg sc = { .pw_key_cache = -1 };
		struct jz_krb_secret sec = { .password = password };
		struct jz_krb_server *s;

		rc = jz_krb_server_new(&sc, &s, err, sizeof(err));
		if (!rc)
			rc = jz_krb_pw_verify(s, tok, toklen, &sec, cb, sizeof(cb), &id,
					      &proof, err, sizeof(err));
		if (s)
			jz_krb_server_free(s);
	} else {
		struct jz_krb_server_cfg sc = { .keytab = keytab, .service = service,
						.rcache = "none:" };
		struct jz_krb_server *s = NULL;

		rc = jz_krb_server_new(&sc, &s, err, sizeof(err));
		if (!rc)
			rc = jz_krb_ap_verify(s, tok, toklen, cb, sizeof(cb), &id, &proof,
					      err, sizeof(err));
		if (s)
			jz_krb_server_free(s);
	}
	free(tok);
	if (rc) {
		record("proof-failed %s", err);
		return NULL;
	}
	p64 = b64enc(proof.data, proof.len);
	jz_krb_buf_free(&proof);
	m = json_pack("{s:s,s:s,s:s,s:s}", "type", "auth",
		      "user", !strcmp(proof_mode, "other") ? other_user : id.user,
		      "realm", id.realm, "proof", p64);
	free(p64);
	return m;
}

static void record_msg(json_t *m)
{
	char *s = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);

	record("recv %s %s", json_string_value(json_object_get(m, "type")) ?: "?", s);
	free(s);
}

static void serve(SSL *ssl, int fd, json_t *script)
{
	json_t *m, *step;
	size_t i;
	int r;

	if (SSL_accept(ssl) != 1) {
		record("tls-failed");
		return;
	}
	r = read_frame(ssl, fd, &m, 10000);
	if (r) {
		record(r == -2 ? "timeout" : "closed");
		return;
	}
	{
		char *feat = json_dumps(json_object_get(m, "features"), JSON_COMPACT | JSON_ENCODE_ANY);

		record("login method=%s device=%s token=%s features=%s",
		       json_string_value(json_object_get(m, "method")) ?: "?",
		       json_string_value(json_object_get(m, "device")) ?: "?",
		       json_is_string(json_object_get(m, "token")) ? "yes" : "no",
		       feat ? feat : "-");
		free(feat);
	}
	if (strcmp(proof_mode, "none")) {
		json_t *a = make_auth(ssl, m);

		if (a) {
			record("proof %s", proof_mode);
			send_frame(ssl, a);
			json_decref(a);
		}
	}
	json_decref(m);
	json_array_foreach(script, i, step) {
		const char *t = json_string_value(json_object_get(step, "type")) ?: "";

		if (!strcmp(t, "_read")) {
			r = read_frame(ssl, fd, &m, wait_s * 1000);
			if (r) {
				record(r == -2 ? "timeout" : "closed");
				if (r == -1)
					return;
				continue;
			}
			record_msg(m);
			json_decref(m);
		} else if (!strcmp(t, "_sleep")) {
			json_int_t ms = json_integer_value(json_object_get(step, "ms"));

			nanosleep(&(struct timespec){ ms / 1000, (ms % 1000) * 1000000 }, NULL);
		} else if (send_frame(ssl, json_deep_copy(step))) {
			record("closed");
			return;
		}
	}
	for (;;) {
		r = read_frame(ssl, fd, &m, wait_s * 1000);
		if (r) {
			record(r == -2 ? "timeout" : "closed");
			return;
		}
		record_msg(m);
		json_decref(m);
	}
}

int main(int argc, char **argv)
{
	const char *cert = NULL, *key = NULL, *script_path = NULL, *rec_path = NULL;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int port = 0, conns = 1, opt, lfd, one = 1;
	json_error_t je;
	json_t *script;
	SSL_CTX *ctx;

	while ((opt = getopt(argc, argv, "l:c:k:x:o:P:p:K:S:U:n:w:")) != -1) {
		switch (opt) {
		case 'l': port = atoi(optarg); break;
		case 'c': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'x': script_path = optarg; break;
		case 'o': rec_path = optarg; break;
		case 'P': proof_mode = optarg; break;
		case 'p': password = optarg; break;
		case 'K': keytab = optarg; break;
		case 'S': service = optarg; break;
		case 'U': other_user = optarg; break;
		case 'n': conns = atoi(optarg); break;
		case 'w': wait_s = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: see the comment at the top of rogue.c\n");
			return 2;
		}
	}
	if (!port || !cert || !key || !script_path || !rec_path) {
		fprintf(stderr, "rogue: -l -c -k -x -o are required\n");
		return 2;
	}
	script = json_load_file(script_path, 0, &je);
	if (!json_is_array(script)) {
		fprintf(stderr, "rogue: %s: %s\n", script_path, je.text);
		return 2;
	}
	rec = fopen(rec_path, "a");
	if (!rec)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	ctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		ERR_print_errors_fp(stderr);
		return 2;
	}
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sin.sin_port = htons(port);
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) || listen(lfd, 8)) {
		perror("rogue: bind");
		return 2;
	}
	record("listening %d", port);
	for (int n = 1; n <= conns; n++) {
		int fd = accept(lfd, NULL, NULL);
		SSL *ssl;

		if (fd < 0)
			continue;
		record("conn %d", n);
		ssl = SSL_new(ctx);
		SSL_set_fd(ssl, fd);
		serve(ssl, fd, script);
		SSL_shutdown(ssl);
		SSL_free(ssl);
		close(fd);
	}
	record("done");
	json_decref(script);
	SSL_CTX_free(ctx);
	fclose(rec);
	return 0;
}
