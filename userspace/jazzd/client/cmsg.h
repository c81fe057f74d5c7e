/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The client's side of the control protocol, parsed at the edge: every
 * message the server sends becomes one of these typed, checked structs
 * where it enters (cmsg.c), and client.c never reads JSON fields itself.
 * Parsing checks shape (types, lengths, address syntax); what a client
 * accepts (its pools, its peer cap) is client.c's business.
 */
#ifndef JAZZD_CMSG_H
#define JAZZD_CMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define JZ_CM_NAME 256		/* user, realm (with NUL) */
#define JZ_CM_DEV 64		/* device name (with NUL) */
#define JZ_CM_IP 46
#define JZ_CM_PROMPTS 8
#define JZ_CM_TEXT 256		/* prompt text, server message */

struct jz_cm_auth {
	char user[JZ_CM_NAME], realm[JZ_CM_NAME];
	unsigned char *proof;	/* malloc'd; jz_cm_auth_free */
	size_t proof_len;
};

struct jz_cm_prompt {
	char code[JZ_CM_DEV];
	char text[JZ_CM_TEXT];
	bool secret;
};

struct jz_cm_challenge {
	long long round;
	size_t n;
	struct jz_cm_prompt p[JZ_CM_PROMPTS];
	char message[JZ_CM_TEXT];
};

struct jz_cm_welcome {
	uint32_t id;
	char user[JZ_CM_NAME], realm[JZ_CM_NAME], device[JZ_CM_DEV];
	char vip4[JZ_CM_IP], vip6[JZ_CM_IP];	/* "" when absent */
	int prefix4, prefix6;
	bool server_keys;	/* "pair_keys": "server" (absent: an old server) */
};

/* A peer's candidate (issue 20): where its tunnel socket may be reached. */
#define JZ_CM_CANDS 8
struct jz_cm_cand {
	uint8_t family;		/* AF_INET, AF_INET6 */
	bool srflx;		/* its public mapping (else its own address) */
	uint16_t port;
	uint8_t addr[16];
};

/* One entry of a peer list. bad[0] != 0: the entry is unusable (why). */
struct jz_cm_peer {
	uint32_t id;
	char device[JZ_CM_DEV];
	bool linked;
	char vip4[JZ_CM_IP], vip6[JZ_CM_IP];
	char ep_ip[JZ_CM_IP];	/* "" for none */
	uint16_t ep_port;
	uint8_t pub[32];	/* its identity key (has_pub) */
	bool has_pub;
	uint8_t ncands;		/* "cands", at most JZ_CM_CANDS */
	struct jz_cm_cand cands[JZ_CM_CANDS];
	bool addrs_made;	/* vip4/vip6 made from the id (a compact entry) */
	char bad[96];
};

/* "peers" (delta false: set is the whole list, or part "part" of it, more
 * to come while "more") or "peers_delta". At most max entries are parsed
 * from set; total counts them all. bad_part: the parse failed on "part" or
 * "more" (a protocol error, not a list to skip). */
#define JZ_CM_MAX_PART 1000000
struct jz_cm_peers {
	bool delta;
	unsigned int part;
	bool more, bad_part;
	struct jz_cm_peer *set;
	size_t n_set, total;
	uint32_t *del;
	size_t n_del;
};

struct jz_cm_key {
	uint32_t peer;
	uint8_t key_id;
	bool aes;		/* aes-256-gcm, else chacha20-poly1305 */
	uint8_t tx_key[32], tx_salt[4], rx_key[32], rx_salt[4];
};

struct jz_cm_key_swap {
	uint32_t peer;
	int key_id;
};

struct jz_cm_verdict {
	bool approve, ingress;
	uint64_t cookie;
	uint32_t peer, lifetime;
	char proto[16];
	char src[JZ_CM_IP], dst[JZ_CM_IP];
	uint16_t sport, dport;
	bool has_vid;
	json_int_t vid;
};

/* "pair": a handshake message relayed from peer (bytes unchecked here:
 * client/noise.c parses them); "pair_refused": why the server did not
 * relay ours (reason, escaped). */
#define JZ_CM_PAIR_MAX 128
struct jz_cm_pair {
	uint32_t peer;
	uint8_t msg[JZ_CM_PAIR_MAX];
	size_t len;
	char reason[64];
};

/* "relay" (issue 20): the server relays this device's traffic to peer
 * through ip:port (send there); "relay_refused": why not (escaped). */
struct jz_cm_relay {
	uint32_t peer;
	uint8_t family;		/* AF_INET / AF_INET6 */
	uint8_t addr[16];
	uint16_t port;
	bool has_token;		/* the latch's transaction id, from the offer */
	uint8_t token[12];
	char reason[160];
};

/* Each returns 0, or -1 with err set (the message is then unusable). */
int jz_cm_auth(json_t *m, struct jz_cm_auth *a, char *err, size_t errlen);
void jz_cm_auth_free(struct jz_cm_auth *a);
int jz_cm_challenge(json_t *m, struct jz_cm_challenge *c, char *err, size_t errlen);
int jz_cm_welcome(json_t *m, struct jz_cm_welcome *w, char *err, size_t errlen);
int jz_cm_peers(json_t *m, bool delta, size_t max, struct jz_cm_peers *p,
		char *err, size_t errlen);
void jz_cm_peers_free(struct jz_cm_peers *p);
/* "peers_unchanged" {count}: the list this device presented is its list */
int jz_cm_peers_unchanged(json_t *m, uint32_t *count, char *err, size_t errlen);
int jz_cm_key(json_t *m, struct jz_cm_key *k, char *err, size_t errlen);
int jz_cm_key_swap(json_t *m, struct jz_cm_key_swap *s, char *err, size_t errlen);
int jz_cm_pair(json_t *m, bool refused, struct jz_cm_pair *p, char *err, size_t errlen);
int jz_cm_verdict(json_t *m, struct jz_cm_verdict *v, char *err, size_t errlen);
int jz_cm_relay(json_t *m, bool refused, struct jz_cm_relay *r, char *err, size_t errlen);

/* Text from the server made safe for a log line or a terminal: control
 * characters, DEL and bytes that are not UTF-8 become \xNN (\n, \r, \t
 * as \n, \r, \t), a backslash becomes \\. Always NUL-terminated. */
void jz_cm_escape(const char *in, char *out, size_t outlen);

#endif
