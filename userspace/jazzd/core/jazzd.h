/* SPDX-License-Identifier: GPL-2.0 */
/*
 * jazzd: shared declarations of the daemon (configuration, the global
 * context, the server and client halves).
 *
 * core/ interface. Must not grow a part's internals: those stay in the
 * part's folder.
 */
#ifndef JAZZD_H
#define JAZZD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>
#include <jansson.h>

#define JZ_PROTO_VERSION 1
#define JZ_MAX_ANSWERS 16

enum jz_mode { JZ_MODE_NONE, JZ_MODE_SERVER, JZ_MODE_CLIENT };

struct jz_answer {
	char *code;
	char *value;
};

/* [cluster] (cluster/, docs/ARCHITECTURE.md "Several servers"): where the
 * state several servers share lives. Parsed and checked by config.c. */
struct jz_cluster_cfg {
	bool redis;		/* backend = redis; else local (the leases file) */
	char *redis_addr;	/* host:port of the primary, without Sentinels */
	char *sentinels;	/* "host:port host:port ...": ask them for the primary */
	char *master;		/* the Sentinels' name for it */
	char *password;		/* AUTH, if any */
	char *server_id;	/* this server's name in the cluster (unique) */
	char *prefix;		/* key prefix: one network per prefix */
	int timeout_ms;		/* one Redis command, connecting included */
	int session_ttl_ms;	/* an online record lives this long unrefreshed */
	int heartbeat_ms;	/* refresh and change-feed period */
	int wait_replicas;	/* WAIT for this many replicas after a login's writes */
	int wait_ms;
};

struct jz_config {
	enum jz_mode mode;
	char *log_level;

	/* [server] */
	char *listen;		/* host:port */
	char *cert, *key;
	char *keytab;
	char *service;		/* principal the clients ask a ticket for */
	char *realm;		/* default realm for password logins */
	char *pool4, *pool6;	/* CIDR */
	char *leases;		/* state file */
	char *cipher;		/* chacha20-poly1305 | aes-256-gcm */
	int rekey_s;
	int keepalive_s;
	int dead_s;		/* no traffic for this long: session dropped */
	int handshake_timeout_s;
	int login_timeout_s;
	size_t max_frame;
	int max_skew_s;
	int max_sessions;
	int peer_debounce_ms;
	int verdict_cache_s;
	int max_rounds;		/* validate_user rounds */
	char *rcache;		/* AP-REQ replay cache name */
	char *metrics_listen;	/* [metrics] listen; NULL = no metrics listener */
	bool channel_binding;	/* tokens bound to the TLS session */
	int time_offset;	/* testing aid: seconds added to the krb clock */
	/* pre-login limits (issue 15) */
	int max_per_source;	/* connections not logged in yet, per source */
	int max_halfopen;	/* connections not logged in yet, overall */
	int login_rate, login_burst;	/* logins per second per source */
	int user_login_rate, user_login_burst;	/* key derivations per user */
	int key_cache;		/* derived password keys kept (0: none) */
	size_t max_outbuf;	/* unsent answers: stop reading above this */
	char *enctypes;		/* accepted Kerberos enctypes (names) */
	int max_devices;	/* devices (leases) per user; 0 = no limit */
	int lease_expiry_s;	/* unused leases freed after this long */
	bool allow_endpoint;	/* trust a client's announced endpoint_ip */
	/* pair_keys = server: the server makes every pair key (the old way,
	 * kept for old clients); device (default): the devices agree them */
	bool server_keys;
	struct jz_cluster_cfg cluster;
	/* STUN binding requests answered on this UDP host:port (issue 20,
	 * server/stun.c); NULL = none. At most stun_rate answers a second. */
	char *stun_listen;
	int stun_rate;
	/* relay (issue 20, server/udprelay.c): UDP ports on relay_listen
	 * (an address) that copy still-encrypted tunnel datagrams between
	 * two linked devices with no direct path; NULL = no relay */
	char *relay_listen;
	int relay_port_lo, relay_port_hi;	/* relay_ports = LO-HI */
	int relay_idle_s;	/* a pair's relay ends after this long unused */
	int relay_max;		/* pairs relayed at once */

	/* [client] */
	char *server;		/* host:port; or several, space/comma separated
				 * (also [client] servers =): tried in turn */
	char *server_name;	/* TLS SNI / host part of the service */
	char *ca;
	char *fingerprint;	/* sha256 hex, colons allowed */
	char *device;
	char *method;		/* kerberos | password */
	char *user;
	char *password;
	char *password_file;
	char *ccache;
	char *client_keytab;
	char *principal;
	char *enctype;
	struct jz_answer answers[JZ_MAX_ANSWERS];
	size_t n_answers;
	bool interactive;
	int listen_port;	/* underlay UDP port reported to the server */
	char *endpoint;		/* ip:port reported instead of the one seen */
	int max_peers;		/* most peer-list entries taken from a server */
	/* pool4/pool6 (shared with [server]): in [client], the pools whose
	 * addresses the client accepts for itself and its peers */
	int reconnect_min_s, reconnect_max_s;
	char *identity_key;	/* this device's X25519 private key (PEM, 0600) */
	int pair_rekey_s;	/* device keys: a new handshake this often */
	bool pair_eager;	/* pair_handshake = eager: every linked pair at
				 * once; else on demand (the first approved
				 * connection, or the peer's handshake) */
	int pair_idle_s;	/* on demand: keys dropped after this long
				 * without traffic either way (0: never) */
	/* endpoint discovery (issue 20, client/nat.c): a STUN server asked
	 * from the jazz device's socket every stun_interval s; NULL: none */
	char *stun_server;	/* host:port */
	int stun_interval_s;
	bool direct_only;	/* never relayed (client/path.c) */
	int path_retry_s;	/* a relayed pair tries a direct path this often */

	/* [kernel] */
	char *kbackend;		/* netlink | fake */
	char *ifname;
	char *klog;		/* fake: operations log */
	char *kinject;		/* fake: FIFO for injected approval requests */

	/* [callbacks] */
	char *plugin;
	char *python;
	char *order;
	int cb_timeout_ms;
	int cb_threads;
	int cb_hold_logins_at;	/* held peer_filter calls that stop accepting (0: never) */

	void *bus_config;	/* struct jz_bus_config *, when built with bus.c */
	bool bus_configured;	/* a [redis] or [events] section was given */
};

int jz_config_load(const char *path, struct jz_config *c, char *err, size_t errlen);
void jz_config_free(struct jz_config *c);
int jz_config_add_answer(struct jz_config *c, const char *code, const char *value);

struct jz_callbacks;
struct jz_kernel;
struct jz_server;
struct jz_client;

struct jz_daemon {
	struct event_base *base;
	const char *config_path;
	struct jz_config cfg;
	struct jz_callbacks *cb;
	void *bus;		/* struct jz_bus * or NULL */
	struct jz_server *server;
	struct jz_client *client;
	/* command line answers, kept across reloads */
	struct jz_answer cli_answers[JZ_MAX_ANSWERS];
	size_t n_cli_answers;
	char *cli_password;
	int exit_status;	/* set by who stops the loop on an error */
};

extern struct jz_daemon *jz_d;

/* evt.c: events to Redis (no-op without a bus); payload reference stolen */
void jz_event(const char *name, json_t *payload);
/* Would an event go anywhere (a bus, or the debug log)? Lets callers skip
 * building payloads nobody reads. */
bool jz_events_on(void);
void jz_evt_config_init(struct jz_config *c);
int jz_evt_config_set(struct jz_config *c, const char *section, const char *name,
		      const char *value, char *err, size_t errlen);
void jz_evt_config_free(struct jz_config *c);
int jz_evt_start(struct jz_daemon *d, char *err, size_t errlen);
int jz_evt_reload(struct jz_daemon *d, char *err, size_t errlen);
void jz_evt_stop(struct jz_daemon *d);
void jz_evt_drain(struct jz_daemon *d, void (*done)(void *));

struct jz_server *jz_server_new(struct jz_daemon *d, char *err, size_t errlen);
int jz_server_reload(struct jz_server *s);
void jz_server_free(struct jz_server *s);

struct jz_client *jz_client_new(struct jz_daemon *d, char *err, size_t errlen);
int jz_client_reload(struct jz_client *c);
/* Reads the kernel device's counters into the metrics (loop thread). */
void jz_client_sample_metrics(struct jz_client *c);
void jz_client_free(struct jz_client *c);

/* util.c */
int jz_parse_hostport(const char *s, char *host, size_t hostlen, uint16_t *port);
char *jz_b64_encode(const unsigned char *buf, size_t len);
unsigned char *jz_b64_decode(const char *s, size_t *len);
void jz_hex(const unsigned char *buf, size_t len, char *out);
/* An identity public key as the protocol carries it: 32 bytes of base64
 * (44 characters), not all zero. 0, or -1 for anything else. */
int jz_pubkey_parse(const char *b64, unsigned char pub[32]);
void jz_sockaddr_str(const void *sa, char *ip, size_t iplen, uint16_t *port);
double jz_now(void);
/* Printable valid UTF-8 without control characters (names from the wire). */
bool jz_name_ok(const char *s);
/* realloc of nmemb * size that never returns NULL: the daemon's growing
 * tables have no way to go on without their memory, so it says so on
 * stderr and aborts (systemd restarts it) instead of writing through NULL. */
void *jz_xrealloc(void *p, size_t nmemb, size_t size);
/* @in with control characters, backslashes and invalid UTF-8 bytes as
 * \xNN, truncated to fit @out: safe for logs, terminals and JSON. */
void jz_escape(const char *in, char *out, size_t outlen);
struct bufferevent;
/* Why a (TLS) bufferevent failed: the OpenSSL error if any, else errno's text. */
void jz_bev_error(struct bufferevent *bev, char *err, size_t errlen);

#endif
