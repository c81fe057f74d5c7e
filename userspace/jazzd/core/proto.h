/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Control channel framing and TLS (docs/PROTOCOL-control.md): every
 * message is a 4-byte big-endian length and that many bytes of UTF-8 JSON,
 * an object with "v" (protocol version) and "type".
 *
 * core/ interface. Must not declare message handlers.
 */
#ifndef JAZZD_PROTO_H
#define JAZZD_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <event2/bufferevent.h>
#include <jansson.h>
#include <openssl/ssl.h>

#define JZ_BINDING_LEN 32
/* ECDHE groups of both sides, in order of preference */
#define JZ_TLS_GROUPS "X25519:P-256"

/* 1: *out holds a message; 0: need more bytes; -1: protocol error (err). */
int jz_frame_read(struct bufferevent *bev, size_t max, json_t **out,
		  char *err, size_t errlen);
/* Sends msg (reference stolen) with "v" added. */
void jz_frame_send(struct bufferevent *bev, json_t *msg);
/* Sends a message already serialised: buf[4..4+len) is the JSON (with
 * "v"); buf[0..4) is left for the length. For hot paths without jansson.
 * Written to the socket at once when nothing is queued before it (a TLS
 * record and a write() from the caller, no wait for epoll): a caller that
 * closes the connection right after must let the kernel's send queue
 * drain (the server's session_close does). */
void jz_frame_send_raw(struct bufferevent *bev, unsigned char *buf, size_t len);
/* buf[0..4): the frame length header for a body of @len bytes. */
void jz_frame_len(unsigned char *buf, size_t len);
/* Writes buf to an idle TLS session's socket now (SSL_write from the
 * caller, no epoll round): the bytes written, 0 or all (nothing may be
 * queued in bev's output, the handshake must be over); the caller queues
 * what was not written with bufferevent_write. */
size_t jz_bev_write_now(struct bufferevent *bev, const unsigned char *buf, size_t len);
const char *jz_msg_type(json_t *msg);
/* IP protocol of a control message: "tcp", "udp", "icmp", "icmpv6", "sctp"
 * or a decimal 0..255; -1 for anything else. */
int jz_ipproto_parse(const char *s);
/* The canonical name of @proto (the names above, else decimal), in @buf. */
const char *jz_ipproto_name(int proto, char buf[8]);
const char *jz_msg_str(json_t *msg, const char *key);
long long jz_msg_int(json_t *msg, const char *key, long long dflt);
/* Checked fields, for the parsers at the edge (client/cmsg.c, server/smsg.c):
 * a string into dst (size with the NUL; -1 if absent and required, not a
 * string, too long or holding a NUL), an integer in [lo, hi] (dflt when
 * absent; -1 when wrong). */
int jz_msg_get_str(json_t *o, const char *key, char *dst, size_t size, bool required);
int jz_msg_get_int(json_t *o, const char *key, long long lo, long long hi,
		   long long dflt, long long *out);

/*
 * A peer list's digest (core/listdigest.c; docs/PROTOCOL-control.md, "A
 * list the device already holds"). An entry's hash is SHA-256 over its
 * fields as the device holds them (vip4/vip6 "" in a compact entry, whose
 * addresses the device makes from the id); the list's is SHA-256 over its
 * entries' hashes in ascending id order, then their count.
 */
#define JZ_LIST_DIGEST_LEN 32
struct jz_list_cand {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint16_t port;
	bool srflx;
};
struct jz_list_entry {
	uint32_t id;
	const char *device;
	bool linked;
	const char *vip4, *vip6;	/* "" or NULL: not in the entry */
	const uint8_t *pub;		/* 32 bytes; NULL: none */
	const char *ep_ip;		/* "" or NULL (or ep_port 0): no endpoint */
	uint16_t ep_port;
	size_t ncands;
	const struct jz_list_cand *cands;
};
/* Entry hashes go to SHA-256 in blocks of JZ_LIST_DIGEST_BUF: one
 * EVP_DigestUpdate per 32 bytes cost more than the hashing itself (a
 * server's digests after a restart: N x N of them). */
#define JZ_LIST_DIGEST_BUF 64
struct jz_list_digest {
	void *ctx;		/* EVP_MD_CTX */
	uint32_t n;
	unsigned int nbuf;
	uint8_t buf[JZ_LIST_DIGEST_BUF][JZ_LIST_DIGEST_LEN];
};
int jz_list_entry_hash(const struct jz_list_entry *e, uint8_t out[JZ_LIST_DIGEST_LEN]);
int jz_list_digest_start(struct jz_list_digest *d);
void jz_list_digest_add(struct jz_list_digest *d, const uint8_t entry[JZ_LIST_DIGEST_LEN]);
int jz_list_digest_end(struct jz_list_digest *d, uint8_t out[JZ_LIST_DIGEST_LEN]);
/* n entry hashes at once (contiguous), as n jz_list_digest_add */
void jz_list_digest_add_many(struct jz_list_digest *d, const uint8_t (*h)[JZ_LIST_DIGEST_LEN],
			     size_t n);
/* @to (not started) made a copy of @from so far: a shared prefix */
int jz_list_digest_copy(struct jz_list_digest *to, struct jz_list_digest *from);
/* a digest started but not ended, or a copy, let go of */
void jz_list_digest_free(struct jz_list_digest *d);

/* OpenSSL's record buffers kept per thread for the next record (core/
 * sslmem.c): call first in main, before OpenSSL allocates anything. */
bool jz_tls_spare_buffers(void);

SSL_CTX *jz_tls_server_ctx(const char *cert, const char *key, char *err, size_t errlen);
SSL_CTX *jz_tls_client_ctx(const char *ca, const char *fingerprint,
			   char *err, size_t errlen);
/* After the handshake: checks the pinned SHA-256 fingerprint, if any. */
int jz_tls_check_pin(SSL *ssl, const char *fingerprint, char *err, size_t errlen);
/* The channel binding: an RFC 5705/8446 exporter value of this session. */
int jz_tls_binding(SSL *ssl, unsigned char out[JZ_BINDING_LEN]);

#endif
