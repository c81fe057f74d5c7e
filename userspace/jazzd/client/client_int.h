/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Inside the client device (client/): the client's state, shared by
 * client.c (connection, login, messages) and peers.c (what the server's
 * peer lists, keys and verdicts may install in the kernel).
 */
#ifndef JAZZD_CLIENT_INT_H
#define JAZZD_CLIENT_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <event2/bufferevent.h>
#include <openssl/ssl.h>

#include "client/cmsg.h"
#include "client/noise.h"
#include "core/jazzd.h"
#include "core/proto.h"
#include "kernel/kernel.h"
#include "auth/krb.h"

enum cstate { C_IDLE, C_CONNECTING, C_LOGIN, C_ONLINE };

struct kpeer_state {
	struct jz_kpeer p;
	bool present;		/* installed in the kernel */
	bool has_key;		/* a key is in the primary slot */
	int pending_key_id;	/* installed in secondary, waiting for swap */
	int active_key_id;	/* the key this end sends with (primary) */
	bool seen;		/* in the latest list */
	bool carried;		/* from before this session, not listed since */
	uint8_t pub[32];	/* its identity key, as listed (has_pub) */
	bool has_pub;
	bool key_shared;	/* device keys: the peer holds the key this end
				 * sends with (initiator: message 2 came;
				 * responder: the confirm came) */
	double active_at;	/* on demand: last data seen either way */
	uint64_t seen_data;	/* ... the kernel's data bytes, rx + tx, then */
	uint64_t seen_rx_nokey;	/* ... and its no-key drops, rx and tx */
	uint64_t seen_tx_nokey;
	double tx_nokey_at;	/* the last tx no-key drop seen */
	bool seen_stats;	/* the three above come from a reading */
	struct pair *pair;	/* device keys: handshake state (pairs.c), owned;
				 * freed by client_pair_forget */
	struct path *path;	/* path.c: candidates and punching, owned; freed
				 * by client_path_forget (with the pair's) */
};

/* Device keys: one pair's handshake state (pairs.c). */
struct pair {
	struct jz_hs hs;	/* initiator: message 1 sent, awaiting 2 */
	bool hs_on;
	double hs_at;
	struct jz_pair_keys await;	/* responder: keys in the secondary
					 * slot, awaiting the confirm */
	bool await_on;
	double await_at;
	uint64_t last_ts;	/* responder: newest message 1 taken */
	double keyed_at;	/* last key agreed (either end started it) */
	unsigned int fails;	/* handshakes this end gave up in a row */
	bool rotate_due;	/* the kernel asked for a new key (packet count) */
	double rotate_at;	/* when it asked */
	/* The handshake version the peer speaks (0 until known): learnt from
	 * what it sent or answered, kept across pair_reset, forgotten when
	 * its kernel peer is made anew (it may have been upgraded). */
	uint8_t peer_version;
	bool v2_unanswered;	/* the last version-2 message 1 got no answer */
};

/*
 * After a reconnect (say the server restarted) the devices log in again one
 * by one, and the server's first lists lack those not back yet. Peers
 * installed in an earlier session stay this long unless listed, so working
 * tunnels do not go down while everyone reconnects.
 */
#define CARRY_GRACE_S 20

struct jz_client {
	struct jz_daemon *d;
	enum cstate state;
	SSL_CTX *ssl;
	struct bufferevent *bev;
	struct event *retry_ev, *ping_ev, *carry_ev;
	int backoff_s;
	unsigned int srv_i;	/* servers.c: the server in use (list index) */
	unsigned int srv_fails;	/* connections failed in a row */
	char srv_cur[300];
	struct jz_kernel *k;
	struct jz_krb_client *krb;
	struct jz_krb_pw_client *pw;
	unsigned char binding[JZ_BINDING_LEN];
	bool proven;		/* the server's proof of identity checked out */
	uint32_t my_id;
	char vip4[46], vip6[46];
	int prefix4, prefix6;	/* the server's pools (welcome): peers' addresses from ids */
	struct kpeer_state *peers;
	size_t n_peers, cap_peers;
	struct jz_cm_peer *view;	/* the server's list for us (<= max_peers) */
	size_t n_view, cap_view;
	struct jz_cm_peer *pend;	/* a list coming in parts: entries so far */
	size_t n_pend, cap_pend;	/* (n_pend <= max_peers, else disconnect) */
	unsigned int pend_next;	/* the part expected next */
	bool in_parts;		/* a list in parts is in progress */
	/* this session's login presented the view it kept ("peers_known",
	 * known_count entries): its first list or "peers_unchanged" is due */
	bool known_due;
	uint32_t known_count;
	bool view_cut;		/* the view lost entries to max_peers */
	uint64_t next_rid;
	bool stopping;
	struct jz_kpeer_stats *kstats;	/* kstats.c's reading buffer (metrics) */
	bool server_keys;	/* the server hands out the pair keys */
	EVP_PKEY *idkey;	/* device keys: the identity key and its public */
	uint8_t idpub[32];
	uint64_t last_ts;	/* the newest timestamp put in a message 1 */
	struct event *pair_ev;	/* handshakes due, once a second */
	unsigned int rotate_unknown;	/* key-rotate for no usable peer */
	unsigned int rotate_stale;	/* ... for a key no longer sent with */
	struct deferred_verdict *deferred;	/* demand.c: approvals waiting
						 * for their pair's key */
	size_t n_deferred;
	struct conn_asked *asked;	/* demand.c: when the kernel asked */
	struct jz_kpeer_stats *demand_stats;	/* demand.c's reading buffer */
	double counters_at;	/* demand.c: when it last read them */
	struct client_nat *nat;	/* nat.c: endpoint discovery; NULL: off */
	struct client_path *path;	/* path.c: candidates, punching; NULL: off */
	struct client_addrwatch *addrwatch;	/* addrwatch.c: the connection's
						 * local address; NULL: off */
};

static inline struct jz_config *cfg(struct jz_client *c)
{
	return &c->d->cfg;
}

/* client.c */
void client_send(struct jz_client *c, json_t *m);
void client_drop(struct jz_client *c, const char *why);

/* peers.c: addr inside the CIDR pool of family af? (*pool_plen: its length) */
bool client_in_pool(int af, const char *addr, const char *pool, int *pool_plen);
void client_on_peers(struct jz_client *c, json_t *m, bool delta);
/* the view kept from an earlier session, for the login ("peers_known");
 * NULL when there is none */
json_t *client_known_view(struct jz_client *c);
void client_on_peers_unchanged(struct jz_client *c, json_t *m);
void client_on_key(struct jz_client *c, json_t *m);
void client_on_key_swap(struct jz_client *c, json_t *m);
void client_on_verdict(struct jz_client *c, json_t *m);
void client_on_carry_over(evutil_socket_t fd, short what, void *arg);
void client_parts_end(struct jz_client *c);
struct kpeer_state *client_kp_find(struct jz_client *c, uint32_t id);

/* nat.c: endpoint discovery (issue 20) with [client] stun_server */
int client_nat_start(struct jz_client *c, char *err, size_t errlen);
void client_nat_free(struct jz_client *c);
struct jz_stun_msg;
struct jz_stun_addr;
bool client_nat_take(struct jz_client *c, const struct jz_kstun *s, const struct jz_stun_msg *m);
bool client_nat_mapped(struct jz_client *c, struct jz_stun_addr *a);

/* path.c: candidates and hole punching (issue 20) */
int client_path_start(struct jz_client *c, char *err, size_t errlen);
void client_path_free(struct jz_client *c);
void client_path_online(struct jz_client *c);
void client_path_mapping_changed(struct jz_client *c, bool first);
void client_path_listed(struct jz_client *c, struct kpeer_state *ks,
			const struct jz_cm_peer *e, struct jz_kpeer *p);
void client_path_need(struct jz_client *c, struct kpeer_state *ks, const char *why);
void client_path_forget(struct kpeer_state *ks);
void client_path_relay(struct jz_client *c, json_t *m);
void client_path_relay_refused(struct jz_client *c, json_t *m);
void client_path_report_refused(struct jz_client *c, json_t *m);

/* pairs.c: device keys */
int client_pairs_init(struct jz_client *c, char *err, size_t errlen);
void client_pairs_free(struct jz_client *c);
void client_pair_listed(struct jz_client *c, struct kpeer_state *ks,
			const struct jz_cm_peer *e);
void client_pair_forget(struct kpeer_state *ks);
void client_on_pair(struct jz_client *c, json_t *m);
void client_on_pair_refused(struct jz_client *c, json_t *m);
void client_on_pair_start(struct jz_client *c, json_t *m);
void client_pair_rotate(void *arg, const struct jz_krotate *r);
void client_pair_need(struct jz_client *c, struct kpeer_state *ks, const char *why);
void client_pair_need_anew(struct jz_client *c, struct kpeer_state *ks, const char *why);
void client_pair_drop_keys(struct jz_client *c, struct kpeer_state *ks, const char *why);

/* demand.c: on-demand pair keys ([client] pair_handshake = on-demand) */
void client_demand_asked(struct jz_client *c, const struct jz_kconn *kc);
bool client_demand_verdict(struct jz_client *c, const struct jz_kconn *kc, bool approve,
			   uint32_t lifetime);
void client_demand_key_ready(struct jz_client *c, struct kpeer_state *ks);
void client_demand_tick(struct jz_client *c, double now);
void client_demand_free(struct jz_client *c);

/* addrwatch.c: drop the connection when its local address goes away */
int client_addrwatch_start(struct jz_client *c, char *err, size_t errlen);
void client_addrwatch_free(struct jz_client *c);

/* servers.c: the [client] server list, failover and backoff */
const char *client_server(struct jz_client *c);
void client_server_next(struct jz_client *c, struct timeval *tv);
void client_server_ok(struct jz_client *c);

#endif
