// SPDX-License-Identifier: GPL-2.0
/*
 * Framing of the control channel and the TLS 1.3 contexts.
 *
 * Must not act on messages (server/ and client/ do).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <limits.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "jazzd.h"
#include "proto.h"

int jz_frame_read(struct bufferevent *bev, size_t max, json_t **out,
		  char *err, size_t errlen)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	unsigned char hdr[4];
	uint32_t len;
	json_error_t je;
	json_t *msg;
	json_t *v;
	unsigned char *body;

	if (evbuffer_get_length(in) < 4)
		return 0;
	evbuffer_copyout(in, hdr, 4);
	len = (uint32_t)hdr[0] << 24 | hdr[1] << 16 | hdr[2] << 8 | hdr[3];
	if (len == 0 || len > max) {
		snprintf(err, errlen, "frame of %u bytes (limit %zu)", len, max);
		return -1;
	}
	if (evbuffer_get_length(in) < 4 + (size_t)len)
		return 0;
	evbuffer_drain(in, 4);
	body = evbuffer_pullup(in, len);
	msg = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &je);
	evbuffer_drain(in, len);
	if (!msg) {
		snprintf(err, errlen, "bad JSON: %s", je.text);
		return -1;
	}
	v = json_object_get(msg, "v");
	if (!json_is_object(msg) || !json_is_integer(v) ||
	    !json_is_string(json_object_get(msg, "type"))) {
		snprintf(err, errlen, "message without v/type");
		json_decref(msg);
		return -1;
	}
	if (json_integer_value(v) != JZ_PROTO_VERSION) {
		snprintf(err, errlen, "protocol version %lld not supported (want %d)",
			 json_integer_value(v), JZ_PROTO_VERSION);
		json_decref(msg);
		return -1;
	}
	*out = msg;
	return 1;
}

/*
 * A frame written to the socket now, by the caller, when nothing is queued
 * before it. bufferevent_openssl writes only when epoll says the socket is
 * writable: a frame to an idle session cost an epoll_ctl to ask for that,
 * a wakeup, and an epoll_ctl to stop asking, and a join sends a frame to
 * each of N viewers (2N epoll_ctl, N wakeups: issue 18's join profile).
 *
 * Not while anything is queued (the order of frames), before the TLS
 * handshake ended or after a shutdown (libevent's state machine drives
 * those), nor while OpenSSL waits to write (an SSL_read that needed a
 * write). What the socket does not take at once (SSL_write's WANT_WRITE:
 * the record is encrypted and partly sent) goes to the output buffer
 * whole, where libevent's next SSL_write repeats it from the same bytes
 * (it sets SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER; without PARTIAL_WRITE an
 * SSL_write writes all or nothing it reports); an error goes there too,
 * and libevent's SSL_write meets it again and reports it as usual.
 * Returns the bytes written (0 or all).
 */
size_t jz_bev_write_now(struct bufferevent *bev, const unsigned char *buf, size_t len)
{
	SSL *ssl;
	int r;

	if (len > INT_MAX || evbuffer_get_length(bufferevent_get_output(bev)) ||
	    !(bufferevent_get_enabled(bev) & EV_WRITE))
		return 0;
	ssl = bufferevent_openssl_get_ssl(bev);
	if (!ssl || !SSL_is_init_finished(ssl) || SSL_want_write(ssl) || SSL_get_shutdown(ssl))
		return 0;
	ERR_clear_error();
	r = SSL_write(ssl, buf, (int)len);
	if (r <= 0) {
		ERR_clear_error();
		return 0;
	}
	return (size_t)r;
}

void jz_frame_len(unsigned char *buf, size_t len)
{
	buf[0] = len >> 24;
	buf[1] = len >> 16;
	buf[2] = len >> 8;
	buf[3] = len;
}

/* One contiguous write of header and body: one evbuffer chain, one record;
 * @now: written by the caller when nothing is queued (write_now). */
static void frame_write(struct bufferevent *bev, unsigned char *buf, size_t len, bool now)
{
	size_t done;

	jz_frame_len(buf, len);
	done = now ? jz_bev_write_now(bev, buf, len + 4) : 0;
	if (done < len + 4)
		bufferevent_write(bev, buf + done, len + 4 - done);
}

void jz_frame_send(struct bufferevent *bev, json_t *msg)
{
	unsigned char stack[4096], *buf = stack;
	size_t len;

	json_object_set_new(msg, "v", json_integer(JZ_PROTO_VERSION));
	len = json_dumpb(msg, (char *)stack + 4, sizeof(stack) - 4, JSON_COMPACT);
	if (len > sizeof(stack) - 4) {
		/* larger than the stack buffer: dump again into the heap */
		buf = malloc(len + 4);
		if (buf)
			len = json_dumpb(msg, (char *)buf + 4, len, JSON_COMPACT);
	}
	json_decref(msg);
	if (!buf || !len)
		goto out;
	frame_write(bev, buf, len, false);
out:
	if (buf != stack)
		free(buf);
}

void jz_frame_send_raw(struct bufferevent *bev, unsigned char *buf, size_t len)
{
	frame_write(bev, buf, len, true);
}

const char *jz_msg_type(json_t *msg)
{
	return json_string_value(json_object_get(msg, "type"));
}

const char *jz_msg_str(json_t *msg, const char *key)
{
	return json_string_value(json_object_get(msg, key));
}

static const struct { int num; const char *name; } ipprotos[] = {
	{ 1, "icmp" }, { 6, "tcp" }, { 17, "udp" }, { 58, "icmpv6" }, { 132, "sctp" },
};

int jz_ipproto_parse(const char *s)
{
	int v = 0;

	if (!s || !*s || strlen(s) > 3 + 4)
		return -1;
	for (size_t i = 0; i < sizeof(ipprotos) / sizeof(ipprotos[0]); i++)
		if (!strcmp(s, ipprotos[i].name))
			return ipprotos[i].num;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9' || p - s >= 3)
			return -1;
		v = v * 10 + (*p - '0');
	}
	return v <= 255 ? v : -1;
}

const char *jz_ipproto_name(int proto, char buf[8])
{
	for (size_t i = 0; i < sizeof(ipprotos) / sizeof(ipprotos[0]); i++)
		if (ipprotos[i].num == proto)
			return ipprotos[i].name;
	snprintf(buf, 8, "%d", proto & 0xff);
	return buf;
}

long long jz_msg_int(json_t *msg, const char *key, long long dflt)
{
	json_t *v = json_object_get(msg, key);

	return json_is_integer(v) ? json_integer_value(v) : dflt;
}

int jz_msg_get_str(json_t *o, const char *key, char *dst, size_t size, bool required)
{
	json_t *v = json_object_get(o, key);
	size_t n;

	dst[0] = 0;
	if (!v)
		return required ? -1 : 0;
	if (!json_is_string(v))
		return -1;
	n = json_string_length(v);
	if (n >= size || memchr(json_string_value(v), 0, n))
		return -1;
	memcpy(dst, json_string_value(v), n + 1);
	return 0;
}

int jz_msg_get_int(json_t *o, const char *key, long long lo, long long hi,
		   long long dflt, long long *out)
{
	json_t *v = json_object_get(o, key);

	*out = dflt;
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return -1;
	*out = json_integer_value(v);
	return 0;
}

static void ssl_err(char *err, size_t errlen, const char *what)
{
	char buf[256];

	ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
	snprintf(err, errlen, "%s: %s", what, buf);
}

SSL_CTX *jz_tls_server_ctx(const char *cert, const char *key, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	/*
	 * No resumption at all. In TLS 1.3 SSL_OP_NO_TICKET alone only turns
	 * stateless tickets into stateful ones: the server still derived and
	 * sent two tickets per handshake and kept every session in its cache
	 * (up to 20480, flushed by a full scan every 255 handshakes), which
	 * no jazz client ever used. A control channel must do a full ECDHE
	 * handshake every time anyway (no psk_ke; forward secrecy).
	 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/*
	 * Send the chain exactly as the cert file has it, instead of letting
	 * OpenSSL build it again through an X509_STORE on every handshake
	 * (the context has no trust store, so it never found more anyway).
	 */
	SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
	/*
	 * A server holds thousands of mostly idle sessions: give each one's
	 * record buffers (about 34 KB) back when nothing is in them, instead
	 * of keeping them for the session's life (issue 18: memory per device).
	 */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	/* X25519 first (the cheapest ECDHE in OpenSSL 3.0), P-256 for the rest */
	if (SSL_CTX_set1_groups_list(ctx, JZ_TLS_GROUPS) != 1) {
		ssl_err(err, errlen, "groups");
		goto fail;
	}
	if (!cert || !key) {
		snprintf(err, errlen, "[server] cert and key are required");
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		ssl_err(err, errlen, cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		ssl_err(err, errlen, key);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static int accept_any(int ok, X509_STORE_CTX *x)
{
	return 1;	/* pinned: checked by jz_tls_check_pin after the handshake */
}

SSL_CTX *jz_tls_client_ctx(const char *ca, const char *fingerprint,
			   char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	/* one key share, X25519, the server's first choice: no HelloRetry */
	SSL_CTX_set1_groups_list(ctx, JZ_TLS_GROUPS);
	/* no resumption (the server offers none): do not keep sessions */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (ca && *ca) {
		if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
			ssl_err(err, errlen, ca);
			SSL_CTX_free(ctx);
			return NULL;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	} else if (fingerprint && *fingerprint) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_any);
	} else {
		snprintf(err, errlen, "[client] needs ca or fingerprint to verify the server");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int jz_tls_check_pin(SSL *ssl, const char *fingerprint, char *err, size_t errlen)
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	char want[65], got[65];
	size_t n = 0;
	X509 *cert;

	if (!fingerprint || !*fingerprint)
		return 0;
	if (!strncasecmp(fingerprint, "sha256:", 7))
		fingerprint += 7;
	for (const char *p = fingerprint; *p && n < 64; p++)
		if (isxdigit((unsigned char)*p))
			want[n++] = tolower((unsigned char)*p);
	want[n] = 0;
	cert = SSL_get1_peer_certificate(ssl);
	if (!cert) {
		snprintf(err, errlen, "server sent no certificate");
		return -1;
	}
	X509_digest(cert, EVP_sha256(), md, &mdlen);
	X509_free(cert);
	jz_hex(md, mdlen, got);
	if (n != 64 || strcmp(want, got)) {
		snprintf(err, errlen, "server certificate fingerprint %s is not the pinned one",
			 got);
		return -1;
	}
	return 0;
}

int jz_tls_binding(SSL *ssl, unsigned char out[JZ_BINDING_LEN])
{
	static const char label[] = "EXPORTER-jazz-login";

	return SSL_export_keying_material(ssl, out, JZ_BINDING_LEN, label,
					  sizeof(label) - 1, NULL, 0, 0) == 1 ? 0 : -1;
}
