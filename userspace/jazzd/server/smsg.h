/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The server's side of the control protocol, parsed at the edge: every
 * message a client sends becomes one of these typed, checked structs where
 * it enters (smsg.c), and the handlers never read JSON fields themselves.
 * Parsing checks shape (types, lengths, ranges, address syntax); what a
 * session may do with it (its own addresses, its links, its limits) is the
 * handlers' business. Also the one message built from a plugin's answer
 * (the challenge), so that the fuzzers reach it. Internal to server/ (and
 * tests/fuzz/fuzz_server_msg.c, fuzz_plugin_reply.c).
 */
#ifndef JAZZD_SMSG_H
#define JAZZD_SMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <jazz/events.h>

#include "core/proto.h"

#define JZ_SM_ITEMS 32		/* other_data items per login, all rounds */
#define JZ_SM_VALUE_MAX 1024	/* bytes of one answer */
#define JZ_SM_DEV 256		/* device name as sent (checked later) */
#define JZ_SM_IP 46
#define JZ_SM_TOKEN_MAX 65536	/* decoded login token */
#define JZ_SM_KNOWN_MAX 16777215	/* "peers_known" count */

/* Answers to prompts: code (1..63 bytes) and value (malloc'd). */
struct jz_sm_item {
	char code[JAZZ_CODE_MAX];
	char *value;
};

struct jz_sm_data {
	size_t n;
	struct jz_sm_item it[JZ_SM_ITEMS];
};

struct jz_sm_login {
	bool kerberos;		/* else "password" */
	char device[JZ_SM_DEV];
	unsigned char *token;	/* malloc'd */
	size_t token_len;
	char ep_ip[JZ_SM_IP];	/* "" if not announced */
	uint16_t listen_port;
	bool takes_delta, takes_more, takes_compact;
	/* "peers_known" {digest, count}: the list it holds from an earlier
	 * session (server/known.c); absent in an old client's login */
	bool has_known;
	uint8_t known_digest[JZ_LIST_DIGEST_LEN];
	uint32_t known_count;
	bool has_pub;		/* the device's identity key (device keys) */
	bool pub_bad;		/* a "pubkey" that is not one: refused by name */
	unsigned char pub[32];
	struct jz_sm_data data;
};

#define JZ_SM_PAIR_MAX 128	/* bytes of a relayed handshake, decoded */

/* "pair" {peer, msg}: a handshake message for another device, relayed
 * as the text it came in (checked to be base64 of 1..JZ_SM_PAIR_MAX). */
struct jz_sm_pair {
	long long peer;		/* 1..UINT32_MAX when parsed; else best effort */
	char msg[JZ_SM_PAIR_MAX / 3 * 4 + 8];
};

/* A conn_request. dir says whose connection it is from the asker's side:
 * egress, the asker is the origin; ingress, the asker is the destination.
 * The cookie and rid are the asker's own handles, only ever sent back to
 * the asker. */
struct jz_sm_conn_req {
	int proto;			/* IP protocol number */
	char pname[8];			/* its canonical name, for the policy */
	char src[JZ_SM_IP], dst[JZ_SM_IP];	/* canonical text */
	uint16_t sport, dport;
	bool ingress;
	bool has_cookie, has_rid;
	json_int_t cookie;		/* >= 0 */
	json_int_t rid;
	uint32_t peer;			/* the asker's kernel's peer id */
};

struct jz_sm_conn_expired {
	char pname[8];
	char src[JZ_SM_IP], dst[JZ_SM_IP];
	uint16_t sport, dport;
	int end;			/* the kernel's reason, 0..255 */
	const char *reason;		/* its name (jazz.yaml conn-end), static */
};

/* key_ack and key_swap_ack */
struct jz_sm_key_ack {
	uint32_t peer;
	uint8_t key_id;
};

/* "candidates" (issue 20): the addresses and ports where the device's
 * tunnel socket may be reached: its own (host) and the public mapping a
 * STUN server saw (srflx). At most JZ_SM_CANDS, distinct, unicast, not
 * loopback, not unspecified; port 1-65535. */
#define JZ_SM_CANDS 8
struct jz_sm_cand {
	char ip[JZ_SM_IP];	/* canonical text */
	uint16_t port;
	bool srflx;		/* else host */
};

struct jz_sm_cands {
	bool direct_only;	/* "direct_only": true: never relay it */
	size_t n;
	struct jz_sm_cand c[JZ_SM_CANDS];
};

/* Each returns 0, or -1 with err set (nothing to free then). */
int jz_sm_login(json_t *m, struct jz_sm_login *l, char *err, size_t errlen);
void jz_sm_login_free(struct jz_sm_login *l);
int jz_sm_answer(json_t *m, struct jz_sm_data *d, char *err, size_t errlen);
int jz_sm_conn_request(json_t *m, struct jz_sm_conn_req *r, char *err, size_t errlen);
int jz_sm_conn_expired(json_t *m, struct jz_sm_conn_expired *e, char *err,
		       size_t errlen);
int jz_sm_key_ack(json_t *m, struct jz_sm_key_ack *k, char *err, size_t errlen);
int jz_sm_verdict_ack(json_t *m, uint64_t *vid, char *err, size_t errlen);
int jz_sm_pair(json_t *m, struct jz_sm_pair *p, char *err, size_t errlen);
int jz_sm_candidates(json_t *m, struct jz_sm_cands *c, char *err, size_t errlen);
/* "relay_request" {peer}: a device id, 1..UINT32_MAX */
int jz_sm_relay_request(json_t *m, uint32_t *peer, char *err, size_t errlen);

/* "path" (issue 20): the device's path to a peer changed. how: which
 * address it now sends to (direct: a "host" or "srflx" candidate, the
 * "server-seen" address, or "peer-seen": its kernel followed the peer's
 * packets; relayed: "relay"); reason: its words, printable ASCII,
 * 1..JZ_SM_PATH_REASON bytes (jazz.ko's path record's limit). */
#define JZ_SM_PATH_REASON 95
enum jz_sm_path_how { JZ_PH_HOST, JZ_PH_SRFLX, JZ_PH_SERVER, JZ_PH_PEER, JZ_PH_RELAY };
extern const char *const jz_sm_path_how_name[5];
struct jz_sm_path {
	uint32_t peer;
	bool relayed;
	enum jz_sm_path_how how;
	char reason[JZ_SM_PATH_REASON + 1];
};
int jz_sm_path(json_t *m, struct jz_sm_path *p, char *err, size_t errlen);

/* Adds @from's items to @into (a later answer to a code replaces the
 * earlier one; @from is emptied). -1 if more than JZ_SM_ITEMS in all. */
int jz_sm_data_merge(struct jz_sm_data *into, struct jz_sm_data *from);
void jz_sm_data_free(struct jz_sm_data *d);

/* The challenge message for a validate_user MORE_DATA answer (a reply
 * jz_cb_reply_valid() took). NULL only when out of memory. */
json_t *jz_sm_challenge_msg(const struct jazz_validate_reply *r, unsigned int round);

#endif
