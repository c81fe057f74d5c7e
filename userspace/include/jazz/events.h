/* SPDX-License-Identifier: MIT */
/*
 * jazz/events.h - the JazzVPN policy callbacks, for native plugins.
 *
 * A plugin is a shared object that jazzd loads from the path in
 * jazzd.conf ([callbacks] plugin = ...). It defines any of the five
 * callbacks below under exactly these names; a callback it does not define
 * takes the default (accept / approve / no password login). The Python
 * events.py backend has the same five callbacks with the same data as dicts;
 * docs/CALLBACKS.md gives both forms side by side.
 *
 * Threading: jazzd calls callbacks from a worker thread, never from its event
 * loop, one call at a time per plugin unless the plugin defines
 * jazz_events_concurrent = 1. A call that runs past its timeout is abandoned
 * (its result ignored, the fail-closed answer used), so callbacks must not
 * keep pointers into their arguments after returning.
 *
 * Every callback returns JAZZ_CB_OK when it filled in its answer, or
 * JAZZ_CB_ERROR to make jazzd log the failure and use the fail-closed answer
 * (reject / refuse / hide everything / deny).
 */
#ifndef JAZZ_EVENTS_H
#define JAZZ_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on incompatible changes; jazzd refuses a plugin built for another. */
#define JAZZ_EVENTS_ABI_VERSION 1

enum jazz_cb_result {
	JAZZ_CB_OK = 0,
	JAZZ_CB_ERROR = -1,
};

/* Log levels, the syslog priorities. */
enum jazz_log_level {
	JAZZ_LOG_ERROR = 3,
	JAZZ_LOG_WARNING = 4,
	JAZZ_LOG_INFO = 6,
	JAZZ_LOG_DEBUG = 7,
};

/* Services jazzd offers to the plugin, passed to jazz_events_init(). */
struct jazz_host_api {
	int abi_version;
	/* Writes one line to the daemon log under the plugin's name. */
	void (*log)(int level, const char *fmt, ...)
		__attribute__((format(printf, 2, 3)));
};

/* An IP address in text form (IPv4 dotted or IPv6 without brackets). */
#define JAZZ_ADDR_MAX 46

struct jazz_endpoint {
	char ip[JAZZ_ADDR_MAX];
	uint16_t port;
};

/* ---- 1. Connection acceptance: before the TLS handshake. ------------- */

struct jazz_accept_info {
	struct jazz_endpoint source;	/* the TCP peer */
};

/* Set *accept to 1 to go on with the handshake, 0 to close the socket. */
typedef int (*jazz_accept_conn_fn)(const struct jazz_accept_info *info,
				   int *accept);

/* ---- 2. Password or key for the encrypted-timestamp login. ----------- */

struct jazz_user_key_request {
	const char *username;
	const char *realm;
	struct jazz_endpoint source;
	/* Kerberos enctype the client used, e.g. "aes256-cts-hmac-sha1-96". */
	const char *enctype;
};

enum jazz_user_key_kind {
	JAZZ_USER_KEY_UNKNOWN_USER = 0,	/* no such user: login fails */
	JAZZ_USER_KEY_PASSWORD = 1,	/* password[] holds the password */
	JAZZ_USER_KEY_RAW = 2,		/* key[] holds the enctype's key */
};

#define JAZZ_PASSWORD_MAX 256
#define JAZZ_RAW_KEY_MAX 64

struct jazz_user_key_reply {
	enum jazz_user_key_kind kind;
	char password[JAZZ_PASSWORD_MAX];	/* NUL-terminated */
	unsigned char key[JAZZ_RAW_KEY_MAX];
	size_t key_len;
};

typedef int (*jazz_user_key_fn)(const struct jazz_user_key_request *req,
				struct jazz_user_key_reply *reply);

/* ---- 3. User validation, with extra data (multi-factor). ------------- */

/* A code/value item: what the client sent, or a prompt jazzd sends. */
struct jazz_data_item {
	const char *code;
	const char *value;
};

struct jazz_validate_request {
	const char *username;
	const char *realm;
	const char *device;	/* name of the device logging in */
	struct jazz_endpoint source;
	/* "kerberos" (AP-REQ) or "password" (encrypted timestamp) */
	const char *method;
	/* Items the client sent so far (answers to earlier prompts). */
	const struct jazz_data_item *other_data;
	size_t n_other_data;
	unsigned int round;	/* 0 on the first call, then 1, 2, ... */
};

enum jazz_validate_status {
	JAZZ_VALIDATE_USER_STATUS_ACCEPTED = 0,
	JAZZ_VALIDATE_USER_STATUS_REJECTED = 1,
	JAZZ_VALIDATE_USER_STATUS_MORE_DATA = 2,
};

#define JAZZ_PROMPTS_MAX 8
#define JAZZ_CODE_MAX 64
#define JAZZ_TEXT_MAX 256

struct jazz_prompt {
	char code[JAZZ_CODE_MAX];	/* the code the answer must carry */
	char text[JAZZ_TEXT_MAX];	/* what to ask the person */
	int secret;			/* 1: do not echo the answer */
};

struct jazz_validate_reply {
	enum jazz_validate_status status;
	/* With MORE_DATA: what to ask for. */
	struct jazz_prompt prompts[JAZZ_PROMPTS_MAX];
	size_t n_prompts;
	/* Optional text shown to the person (reason for a reject, ...). */
	char message[JAZZ_TEXT_MAX];
};

typedef int (*jazz_validate_user_fn)(const struct jazz_validate_request *req,
				     struct jazz_validate_reply *reply);

/* ---- 4. Peer list filtering, before each list goes to a client. ------ */

struct jazz_user_entry {
	const char *username;
	const char *realm;
};

struct jazz_peer_entry {
	const char *device;	/* the peer's device name */
	const char *username;	/* its owner */
	const char *realm;
	const char *vip4;	/* virtual addresses, text; "" if none */
	const char *vip6;
};

struct jazz_peer_review {
	const char *username;	/* the viewer */
	const char *realm;
	struct jazz_endpoint source;
	const struct jazz_user_entry *users;
	size_t n_users;
	const struct jazz_peer_entry *peers;
	size_t n_peers;
};

/*
 * keep_users[i] and keep_peers[i] start at 1; set an entry to 0 to hide it.
 * A list can only shrink: a callback cannot add entries the viewer may not
 * see. A peer whose owner is hidden is hidden too.
 */
typedef int (*jazz_peer_filter_fn)(const struct jazz_peer_review *review,
				   unsigned char *keep_users,
				   unsigned char *keep_peers);

/*
 * 4b. Many viewers against the same users and peers, in one call
 * (optional; exported as peer_filter_many). jazzd reviews many viewers
 * against one set at once: the devices that came online in a computation
 * each review every device online, and the viewers already online each
 * review those newcomers. With peer_filter only, jazzd calls it once per
 * viewer (the review above: the viewer's own device left out); with
 * peer_filter_many it makes one call for the batch, with one copy of the
 * users and peers for all its viewers, so a plugin can also answer alike
 * viewers once (the same user, say) instead of once each.
 *
 * Viewer v's answers are keep_users[v][i] and keep_peers[v][i], all
 * starting at 1, with peer_filter's meaning. The set may hold a viewer's
 * own device, at peers[viewers[v].self]: its answer there is ignored (a
 * device never sees itself) and its owner is among users like any other
 * (hiding it hides the viewer's other devices, as before). A plugin that
 * defines both is asked through peer_filter_many only. JAZZ_CB_ERROR
 * fails every viewer of the call closed (each is asked again alone).
 */
#define JAZZ_NO_PEER ((size_t)-1)

struct jazz_viewer {
	const char *username;
	const char *realm;
	struct jazz_endpoint source;
	size_t self;		/* its own device in peers, or JAZZ_NO_PEER */
};

struct jazz_peer_reviews {
	const struct jazz_viewer *viewers;
	size_t n_viewers;
	const struct jazz_user_entry *users;
	size_t n_users;
	const struct jazz_peer_entry *peers;
	size_t n_peers;
};

typedef int (*jazz_peer_filter_many_fn)(const struct jazz_peer_reviews *reviews,
					unsigned char *const *keep_users,
					unsigned char *const *keep_peers);

/* ---- 5. Direct connection approval. ---------------------------------- */

struct jazz_connection_info {
	const char *origin_username;
	const char *origin_realm;
	const char *origin_device;
	struct jazz_endpoint origin;		/* virtual ip:port */
	const char *destination_device;
	struct jazz_endpoint destination;	/* virtual ip:port */
	const char *protocol;	/* "tcp", "udp", "icmp", "icmpv6" or a number */
	/* 1: the server relays this pair now (its relay carried their
	 * packets lately), so the connection's packets would go through the
	 * relay; 0: direct or not known (issue 20). Appended: a plugin built
	 * before it never reads it. */
	int relayed;
};

struct jazz_connection_reply {
	int approve;		/* 1 approve, 0 deny */
	uint32_t lifetime_s;	/* 0: the protocol's idle timeout */
};

typedef int (*jazz_peer_connection_fn)(const struct jazz_connection_info *info,
				       struct jazz_connection_reply *reply);

/*
 * Symbols a plugin may export (all optional but jazz_events_abi):
 *
 *   const int jazz_events_abi = JAZZ_EVENTS_ABI_VERSION;
 *   int jazz_events_init(const struct jazz_host_api *api);  (non-zero: refuse)
 *   void jazz_events_fini(void);
 *   const int jazz_events_concurrent = 1;  (callbacks are thread-safe)
 *   int accept_conn(const struct jazz_accept_info *, int *);
 *   int user_key(const struct jazz_user_key_request *,
 *                struct jazz_user_key_reply *);
 *   int validate_user(const struct jazz_validate_request *,
 *                     struct jazz_validate_reply *);
 *   int peer_filter(const struct jazz_peer_review *, unsigned char *,
 *                   unsigned char *);
 *   int peer_filter_many(const struct jazz_peer_reviews *,
 *                        unsigned char *const *, unsigned char *const *);
 *   int peer_connection(const struct jazz_connection_info *,
 *                       struct jazz_connection_reply *);
 *
 * The callback names are the ones of events.py, so one name means one thing.
 */
#define JAZZ_EVENTS_SYM_ABI "jazz_events_abi"
#define JAZZ_EVENTS_SYM_INIT "jazz_events_init"
#define JAZZ_EVENTS_SYM_FINI "jazz_events_fini"
#define JAZZ_EVENTS_SYM_CONCURRENT "jazz_events_concurrent"

#ifdef __cplusplus
}
#endif

#endif /* JAZZ_EVENTS_H */
