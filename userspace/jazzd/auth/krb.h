/* SPDX-License-Identifier: GPL-2.0 */
/*
 * krb.h - the two Kerberos login modes of jazz, as pure functions over MIT
 * libkrb5. No event loop, no sockets, no logging: bytes in, bytes out, and
 * errors as text in the caller's buffer. docs/PROTOCOL-kerberos.md gives the
 * exact bytes of every token.
 *
 *  (a) AP-REQ login. The client builds an AP-REQ for jazz/<server host>@REALM
 *      from its credential cache (after kinit) or from a client keytab, with
 *      mutual authentication; the server checks it against its keytab (replay
 *      cache on, clock skew enforced) and answers with the AP-REP that the
 *      client then verifies.
 *
 *  (b) Password login (encrypted timestamp). The client derives the Kerberos
 *      long-term key from the password (string-to-key, salt REALM + user) and
 *      sends a "password token": user, realm, enctype and an encrypted
 *      {timestamp, nonce, channel binding}. The server reads user/realm/
 *      enctype with jz_krb_pw_peek(), asks the user_key callback for the
 *      password or key, then jz_krb_pw_verify() decrypts and checks skew,
 *      replay and channel binding, and returns a reply token that proves the
 *      server also knew the key (mutual authentication). The password never
 *      crosses the network.
 *
 * Channel binding: every call takes an optional binding blob (cb, cb_len),
 * meant to be a TLS exporter value of the control connection, so a token
 * captured on one TLS session fails on another. NULL/0 means "no binding".
 * The server side: if the server passes a binding, the token must carry the
 * same one; if the server passes none, a token's binding is not checked.
 *
 * Threads: a jz_krb_server is fully thread-safe (any number of threads may
 * call jz_krb_ap_verify / jz_krb_pw_verify at once; it keeps a small pool of
 * krb5 contexts inside). A jz_krb_client / jz_krb_pw_client is used by one
 * thread at a time (one object per login). jz_krb_pw_peek and the enctype
 * helpers are stateless.
 *
 * Memory: struct jz_krb_buf data comes from malloc(); release it with
 * jz_krb_buf_free(). Secrets (passwords, keys) are wiped after use.
 *
 * Blocking: nothing here waits on the network except the client side of
 * mode (a): jz_krb_client_new() with a keytab and jz_krb_client_ap_req()
 * (when the service ticket is not cached yet) talk to the KDC, up to
 * krb5.conf's kdc_timeout x max_retries. jz_krb_ap_verify() stats the keytab
 * and writes the replay cache file (tens of microseconds); jz_krb_pw_verify()
 * with an uncached password runs PBKDF2 (milliseconds, see below): call it
 * from a worker thread, not from an event loop.
 *
 * A FILE server keytab (and the default keytab when it is a file) is kept
 * in memory and stat()ed before every verification: it is read again when
 * it changed (another inode, size, mtime or ctime), so a service key
 * rotated with kadmin ktadd (new kvno appended), a key removed with
 * ktremove or a new file renamed over the old one is used by the next
 * check, with no restart or SIGHUP. Other keytab types are used by name.
 *
 * auth/ interface: server/ and client/ include only this header of auth/.
 */
#ifndef JAZZD_KRB_H
#define JAZZD_KRB_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Return values: 0 on success, else one of these (positive). The message in
 * err says more (libkrb5's text where there is one). */
enum jz_krb_status {
	JZ_KRB_OK = 0,
	JZ_KRB_EMALFORMED,	/* token truncated, bad version, garbage */
	JZ_KRB_EBADKEY,		/* wrong password / key / service key: decrypt
				 * or integrity check failed, or the keytab
				 * lacks the ticket's kvno/enctype; unknown
				 * user (no secret) */
	JZ_KRB_EREPLAY,		/* token seen before (replay cache) */
	JZ_KRB_ESKEW,		/* timestamp outside the clock-skew limit */
	JZ_KRB_EEXPIRED,	/* ticket expired (or not yet valid) */
	JZ_KRB_ECHANNEL,	/* channel binding missing or different */
	JZ_KRB_EUNSUPPORTED,	/* enctype or option not supported */
	JZ_KRB_ENOCREDS,	/* client: no usable ccache / keytab / TGT */
	JZ_KRB_EWRONGPRINC,	/* ticket for a service that is not ours (not
				 * cfg.service, or not in the keytab) */
	JZ_KRB_EFULL,		/* password replay memory full (fail closed) */
	JZ_KRB_EINTERNAL,	/* anything else (out of memory, krb5 error) */
	JZ_KRB_ELIMIT,		/* password: the key is not cached and the
				 * caller said not to derive it now */
};

/* Short fixed name of a status, e.g. "replay", for logs and wire errors. */
const char *jz_krb_status_name(int status);

#define JZ_KRB_NAME_MAX 256	/* user, realm (each, with NUL) */
#define JZ_KRB_TOKEN_MAX 65536	/* largest token accepted (AP-REQ with PAC) */
#define JZ_KRB_CB_MAX 255	/* largest channel-binding blob */
#define JZ_KRB_DEFAULT_SKEW 300	/* seconds */

struct jz_krb_buf {
	unsigned char *data;
	size_t len;
};

void jz_krb_buf_free(struct jz_krb_buf *b);	/* frees data, zeroes both */

/* Enctypes for the password mode. Returns the krb5 enctype number or -1. */
int jz_krb_enctype_from_name(const char *name);
/* "aes256-cts-hmac-sha1-96" / "aes256-cts-hmac-sha384-192"; "?" if other. */
const char *jz_krb_enctype_name(int enctype);
/* 1 if the password mode accepts this enctype (the two AES-256 ones). */
int jz_krb_pw_enctype_ok(int enctype);

/* ===================== Server (both modes) ============================ */

struct jz_krb_server_cfg {
	/* Keytab name: "FILE:/etc/jazz/jazz.keytab", or a plain path; NULL =
	 * the default keytab (KRB5_KTNAME). Only mode (a) uses it. */
	const char *keytab;
	/* "jazz/host.example@REALM" (realm optional: default realm). NULL =
	 * accept a ticket for any principal that has a key in the keytab. */
	const char *service;
	/* Clock-skew limit in seconds for both modes; 0 = 300. For AP-REQs
	 * libkrb5 also applies krb5.conf [libdefaults] clockskew (default
	 * 300 s) inside krb5_rd_req, so the effective AP-REQ limit is the
	 * smaller of the two. */
	int max_skew;
	/* AP-REQ replay cache name, e.g. "file2:/var/lib/jazz/rcache2". NULL =
	 * $KRB5RCACHENAME if set, else "dfl:", i.e. file2 at
	 * $KRB5RCACHEDIR/krb5_<euid>.rcache2 (directory default /var/tmp).
	 * The directory must be writable. Always on; it cannot be turned off.
	 * Shared safely by threads, server objects and processes (the file is
	 * locked per use), and it survives restarts. */
	const char *rcache;
	/* Password mode: the most (user, timestamp, nonce) tuples remembered
	 * inside the skew window; 0 = 100000. When full (after dropping the
	 * expired ones) new logins fail with JZ_KRB_EFULL rather than
	 * forgetting a tuple that could then be replayed. */
	size_t pw_replay_max;
	/* Testing aid: seconds added to this server's clock (krb5_set_real_time
	 * on its contexts). 0 in production. */
	int time_offset;
	/* Password mode: derived keys kept for repeat logins, so string-to-key
	 * (milliseconds of PBKDF2) runs once per (user, realm, enctype,
	 * password) rather than once per login. Entries are keyed by a keyed
	 * hash of the password under a random per-server key, so a changed
	 * password misses. 0 = 1024 entries (direct-mapped), -1 = off. */
	int pw_key_cache;
	/* Accepted enctypes (ticket, its session key, password token), e.g.
	 * from jz_krb_enctypes_parse(); n_enctypes 0 = whatever libkrb5
	 * permits. Anything else fails with JZ_KRB_EUNSUPPORTED. */
	int enctypes[8];
	size_t n_enctypes;
};

/* "aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96 ..." (spaces or
 * commas) into enctype numbers; -1 on a name libkrb5 does not know. */
int jz_krb_enctypes_parse(const char *list, int *out, size_t max, size_t *n,
			  char *err, size_t errlen);

struct jz_krb_server;

int jz_krb_server_new(const struct jz_krb_server_cfg *cfg,
		      struct jz_krb_server **out, char *err, size_t errlen);
void jz_krb_server_free(struct jz_krb_server *s);

/* On reload (SIGHUP): move the password replay memory and key cache of old
 * into new before freeing old, so that a token accepted just before the
 * reload cannot be replayed just after it. (The AP-REQ replay cache is on
 * disk and needs nothing.) Neither object may be in use by another thread
 * during the call. */
void jz_krb_server_adopt(struct jz_krb_server *new_s,
			 struct jz_krb_server *old_s);

/* Who logged in. */
struct jz_krb_identity {
	char user[JZ_KRB_NAME_MAX];	/* principal without realm ("alice",
					 * "host/x" for multi-component) */
	char realm[JZ_KRB_NAME_MAX];
	int enctype;			/* (a) ticket session key enctype;
					 * (b) the password enctype */
	time_t endtime;			/* (a) ticket end time; (b) 0 */
};

/*
 * Mode (a), server: verify an AP-REQ (raw DER as krb5_mk_req makes it).
 * On success fills *id and *ap_rep (the AP-REP to send back; empty when the
 * client did not ask for mutual authentication, which jazz clients always
 * do). cb/cb_len: this connection's channel binding, or NULL/0.
 */
int jz_krb_ap_verify(struct jz_krb_server *s, const void *ap_req, size_t len,
		     const void *cb, size_t cb_len, struct jz_krb_identity *id,
		     struct jz_krb_buf *ap_rep, char *err, size_t errlen);

/* The secret the user_key callback returned for a password login. */
struct jz_krb_secret {
	const char *password;	/* NUL-terminated; or NULL with key set */
	const unsigned char *key;	/* raw key of the token's enctype */
	size_t key_len;		/* 32 for both AES-256 enctypes */
	/* 1: fail with JZ_KRB_ELIMIT instead of running string-to-key when
	 * the key cache does not hold this password's key (rate limits) */
	int no_derive;
};

/* What the server needs to know before calling user_key. */
struct jz_krb_pw_hello {
	char user[JZ_KRB_NAME_MAX];
	char realm[JZ_KRB_NAME_MAX];
	int enctype;
	const char *enctype_name;	/* static string */
};

/* Mode (b), server step 1: parse the password token's clear header. Does
 * not authenticate anything: only for choosing whom to ask user_key about. */
int jz_krb_pw_peek(const void *token, size_t len, struct jz_krb_pw_hello *h,
		   char *err, size_t errlen);

/*
 * Mode (b), server step 2: derive the key from the secret (string-to-key
 * with salt realm+user for a password), decrypt the token, check the
 * timestamp against the skew limit, the channel binding, and the replay
 * memory. On success fills *id and *reply (the reply token for the client).
 * Costs one string-to-key (PBKDF2: 4096 rounds for sha1, 32768 for sha384:
 * about 7 ms and 70 ms of CPU) when given a password the key cache does not
 * hold yet; a raw key skips it. The derived key is cached whether or not
 * the token decrypts (it comes from the caller's secret, never from the
 * token), so repeated wrong tokens for one user cost one derivation. Run
 * it off the event loop.
 */
int jz_krb_pw_verify(struct jz_krb_server *s, const void *token, size_t len,
		     const struct jz_krb_secret *secret,
		     const void *cb, size_t cb_len, struct jz_krb_identity *id,
		     struct jz_krb_buf *reply, char *err, size_t errlen);

/* Helper for user databases that store keys instead of passwords: the raw
 * key (as jz_krb_secret.key) for user@realm's password. key must have room
 * for 32 bytes; *key_len is set. */
int jz_krb_pw_string_to_key(int enctype, const char *user, const char *realm,
			    const char *password, unsigned char *key,
			    size_t *key_len, char *err, size_t errlen);

/* ===================== Client, mode (a) =============================== */

struct jz_krb_client_cfg {
	/* Credential cache name ("FILE:/tmp/krb5cc_1000", "KEYRING:...");
	 * NULL = the default (KRB5CCNAME). Ignored when keytab is set. */
	const char *ccache;
	/* Client keytab: when set, initial credentials are obtained from it
	 * into a private MEMORY ccache (needs the KDC reachable). */
	const char *keytab;
	/* Client principal for the keytab; NULL = the first one in it. */
	const char *principal;
	/* "jazz/<server host>@REALM"; without "@REALM" the realm comes from
	 * the client principal's realm. Required. */
	const char *service;
	/* Testing aid: seconds added to the client's clock (authenticator
	 * time). 0 in production. */
	int time_offset;
};

struct jz_krb_client;

int jz_krb_client_new(const struct jz_krb_client_cfg *cfg,
		      struct jz_krb_client **out, char *err, size_t errlen);
void jz_krb_client_free(struct jz_krb_client *c);

/* Build an AP-REQ (mutual authentication requested) bound to cb. Gets the
 * service ticket from the KDC if the ccache does not hold it yet. One login
 * at a time per object: a second call forgets the first. */
int jz_krb_client_ap_req(struct jz_krb_client *c, const void *cb, size_t cb_len,
			 struct jz_krb_buf *ap_req, char *err, size_t errlen);

/* Verify the server's AP-REP for the last AP-REQ; 0 = mutual auth done. */
int jz_krb_client_ap_rep(struct jz_krb_client *c, const void *ap_rep,
			 size_t len, char *err, size_t errlen);

/* The client principal as user and realm (after jz_krb_client_new). */
int jz_krb_client_identity(struct jz_krb_client *c, struct jz_krb_identity *id,
			   char *err, size_t errlen);

/* ===================== Client, mode (b) =============================== */

struct jz_krb_pw_client;

struct jz_krb_pw_cfg {
	const char *user;
	const char *realm;
	const char *password;	/* or NULL with key/key_len set */
	const unsigned char *key;
	size_t key_len;
	int enctype;		/* 0 = aes256-cts-hmac-sha1-96 */
	int time_offset;	/* testing aid: seconds added to the clock */
};

/* Build the password token bound to cb. The object keeps the key and nonce
 * for jz_krb_pw_client_reply(); the password itself is not kept. */
int jz_krb_pw_client_new(const struct jz_krb_pw_cfg *cfg, const void *cb,
			 size_t cb_len, struct jz_krb_pw_client **out,
			 struct jz_krb_buf *token, char *err, size_t errlen);

/* Check the server's reply token; 0 = the server knew the key. */
int jz_krb_pw_client_reply(struct jz_krb_pw_client *c, const void *reply,
			   size_t len, char *err, size_t errlen);

void jz_krb_pw_client_free(struct jz_krb_pw_client *c);	/* wipes the key */

#endif /* JAZZD_KRB_H */
