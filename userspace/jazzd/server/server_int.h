/* SPDX-License-Identifier: GPL-2.0 */
/*
 * server_int.h - what the files of server/ share: the session, link, verdict
 * cache and server structs and the functions one file calls in another.
 * Internal to server/: no other folder includes it (its interface is
 * jz_server_new/reload/free in core/jazzd.h).
 */
#ifndef JAZZD_SERVER_INT_H
#define JAZZD_SERVER_INT_H

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <jazz.h>

#include "policy/callbacks.h"
#include "core/jazzd.h"
#include "auth/krb.h"
#include "core/leases.h"
#include "cluster/state.h"
#include "log.h"
#include "core/proto.h"
#include "smsg.h"

/* A complete list longer than this goes out in parts of at most this
 * many bytes (each at least one entry): well below the clients' default
 * frame limit of 65,536 bytes (docs/PROTOCOL-control.md). */
#define JZ_PEERS_PART_MAX 32768
/* Unsent bytes up to which a list in parts gets its next part: a session
 * holds at most this plus one part (under 48 KiB) of its list, whatever
 * the list's size (times every session whose reader is behind). */
#define JZ_LIST_OUT_LOW (JZ_PEERS_PART_MAX / 2)
/* Unsent bytes from which a viewer's delta waits for its socket to drain
 * (and takes every change until then) */
#define JZ_DELTA_HOLD 16384
/* SO_SNDBUF of a session's socket (session.c on_accept) */
#define JZ_SESSION_SNDBUF 65536

enum sstate { S_ACCEPTING, S_TLS, S_LOGIN, S_ONLINE, S_CLOSING };

struct session {
	struct jz_server *srv;
	struct session *next, *prev;
	/*
	 * Frames of one peer computation's messages (pair_starts, a delta)
	 * held to go out as one TLS record and one write() when it ends
	 * (session_uncork_all); at most JZ_CORK_MAX bytes, only while nothing
	 * is queued in the bufferevent. Owned by the session, freed when
	 * written or with it; cork_next: srv->corked's list.
	 */
	unsigned char *cork;
	size_t ncork, capcork;
	struct session *cork_next;
	bool corked;
	uint64_t sid;
	enum sstate state;
	uint64_t login_ns;	/* when the login message came (metrics) */
	evutil_socket_t fd;
	struct bufferevent *bev;
	char ip[46];
	uint16_t port;
	struct event *deadline;
	struct jz_cb_call *pending;
	unsigned char binding[JZ_BINDING_LEN];

	/* login */
	char method[16];
	char user[JZ_KRB_NAME_MAX], realm[JZ_KRB_NAME_MAX];
	char device[64];
	unsigned char *token;
	size_t token_len;
	struct jz_sm_data data;	/* answers so far, all rounds */
	unsigned int round;

	/* online */
	struct jz_lease *lease;
	char ep_ip[46];
	uint16_t ep_port;
	/*
	 * Who this viewer sees, in O(1) memory when it sees everyone
	 * (peers.c sees()): every device first reviewed as a newcomer in a
	 * computation up to seen_gen, except the ids in hidden[] (its
	 * filter hid them). No per-viewer list of ids: that was N^2.
	 */
	uint64_t jgen;		/* computation that reviewed it as a newcomer (0: not yet) */
	uint64_t seen_gen;	/* it reviewed every device of jgen <= this */
	uint32_t *hidden;	/* reviewed and hidden from it, sorted */
	size_t nhidden, caphidden;
	size_t nvis;		/* how many it sees (events) */
	uint32_t *gain, *lose;	/* ids it came to see / stopped seeing, this computation */
	size_t ngain, capgain, nlose, caplose;
	bool fresh;		/* online, not yet in a peer computation */
	bool review_again;	/* its peer_filter failed: a full review next time */
	bool listed;		/* has had its complete list */
	bool takes_delta;	/* login listed feature "peers_delta" */
	bool takes_more;	/* ... "peers_more": a list may come in parts */
	bool takes_compact;	/* ... "peers_compact": entries without owner and
				 * addresses (the client makes them from the id) */
	/*
	 * "peers_known" (known.c): the list it holds from an earlier session,
	 * as its digest and count. Its first list waits (known_held) while
	 * what it sees grows toward that count on a server that just started;
	 * then "peers_unchanged" if the digests match, else the full list
	 * (known_failed: from then on it is an ordinary session).
	 */
	bool has_known, known_held, known_failed;
	uint32_t known_count;
	uint8_t known_digest[JZ_LIST_DIGEST_LEN];
	size_t known_nvis;		/* nvis when last looked at */
	double known_grew;		/* when its view last grew ... */
	double known_grew_from;		/* ... and when its first list came due */
	double known_checked;		/* digests last compared (0: never) */
	unsigned int known_checks;	/* ... how many times */
	struct filter_res *res;	/* its peer_filter answer, until all are in */
	bool got_res;
	uint32_t *pchg;		/* ids whose entry changed: sent as a delta */
	size_t npchg, cappchg;	/* npchg: marks, in pchg or in pbits */
	uint64_t *pbits;	/* ... past a few hundred: a bitmap by index */
	size_t npbits;		/* its words */
	/*
	 * A complete list in parts goes out as the socket drains (peers.c
	 * peers_drained): the next part is made only when fewer than
	 * JZ_LIST_OUT_LOW bytes wait unsent. Deltas wait in pchg meanwhile,
	 * and while JZ_DELTA_HOLD bytes are unsent (dpend).
	 */
	bool dpend;		/* a delta is held until the socket drains */
	bool lstream;		/* a list in parts is going out */
	bool lpaused;		/* ... and waited for the socket (logged once) */
	size_t lcur;		/* its next by_idx slot */
	unsigned int lpart;	/* its next part number */
	size_t lbytes;		/* its bytes so far */
	/* this device as others' list entry, serialised once when it goes online */
	char *ent_linked, *ent_unlinked, *ent_user;
	size_t ent_linked_len, ent_unlinked_len, ent_user_len;
	/* both entries begin {"id":..,"device":.. (ent_head bytes), then
	 * ,"user":..,"realm":..,"vip4":..,"vip6":.. (ent_owner bytes): a
	 * compact entry (peers_compact) is the entry without the latter */
	size_t ent_head, ent_owner;
	/* its strings as a peer_filter review lists them: device, user,
	 * realm, vip4, vip6, each with its NUL, made with the entries (one
	 * copy per review, not five strlen and five copies per peer) */
	char *rv;
	size_t rv_len, rv_off[5];
	/* the entries' hashes (core/listdigest.c), [linked][compact] */
	uint8_t ent_hash[2][2][JZ_LIST_DIGEST_LEN];
	unsigned int conn_inflight;	/* peer_connection calls and unacked
					 * verdicts this session asked for */
	unsigned char src[17];	/* its source (jz_source_key) */
	bool halfopen;		/* counted in srv->n_halfopen (not online yet) */
	bool read_paused;	/* answers pile up: not reading */
	time_t cred_end;	/* the login credential ends (0: none) */
	unsigned char pub[32];	/* its identity key, from the login */
	bool has_pub;
	/* a device online on another server of the cluster (remote.c): no
	 * connection, its own lease copy; listed to ours, never sent to */
	bool remote;
	double relay_tok, relay_at;	/* "pair" relay budget (links.c) */
	/* issue 20 (cands.c): where its tunnel socket may be reached, as it
	 * last said (NULL: never said); cands_dirty: its list entries are to
	 * be made again and re-sent to its viewers (next computation) */
	struct jz_sm_cands *cands;
	bool cands_dirty;
	bool direct_only;	/* it said so: never relayed (udprelay.c) */
	double cand_tok, cand_at;	/* "candidates" budget */
	unsigned int cand_refused;
	double path_tok, path_at;	/* "path" report budget (paths.c) */
	unsigned int path_refused;
	bool path_flooding;		/* over budget since its last report taken */
};

/* A pair's server-made key ([server] pair_keys = server only: with device
 * keys, the default, the server keeps no per-pair state but the relay
 * budgets of pairs that hand-shook lately, struct relay). */
struct link {
	uint32_t a, b;		/* a < b */
	uint8_t key_id;
	bool ack_a, ack_b;	/* key_id is in a receive slot at that end */
	bool swap_a, swap_b;	/* ... and that end sends with it */
	double step_at;		/* when the rotation's last step happened */
	uint8_t resends;	/* the key sent anew for want of both acks */
	bool used;
	bool dead;		/* deleted: probing goes on past it */
};

/* "pair" messages a pair may still relay (a token bucket), kept only while
 * it is not full again: a table of the pairs that hand-shook lately. */
struct relay {
	uint32_t a, b;		/* a < b; a == b == 0: free */
	double tok, at;
};

/* What one peer_filter call decided, kept until every call is back. */
struct filter_res {
	bool full;
	/* every peer asked about kept and no user hidden: no arrays, the
	 * ids asked are those of @arr (a reference) */
	bool all_kept;
	struct review_arr *arr;
	uint32_t *asked;	/* ids reviewed (still the same sessions), sorted */
	size_t nasked;
	uint32_t *keep;		/* ids kept, sorted */
	size_t nkeep;
	char (*hidden)[600];	/* users hidden ("user@realm") */
	size_t nhidden;
};

/* Viewers batched in one peer_filter call at most (pfilter.c
 * peers_filter_batch(): fewer when the backend is slow). */
#define JZ_FILTER_BATCH 64

/* A device gone offline, until the next computation drops it from lists. */
struct left_dev {
	uint32_t idx;
	uint64_t jgen;
};

struct vcache {
	char key[256];
	bool approve;
	uint32_t lifetime;
	double expires;
};

struct pending_verdict {
	struct pending_verdict *next;
	uint64_t vid;
	uint64_t origin_sid, dest_sid;
	json_t *to_origin;
	struct event *timer;
	struct jz_server *srv;
	/* a verdict another server's origin is waiting on (cluster): its ack
	 * goes back to that server as relay "ack" of r_vid */
	bool relayed;
	uint32_t r_origin, r_dest;
	uint64_t r_vid;
};

struct jz_server {
	struct jz_daemon *d;
	struct evconnlistener *lis;
	SSL_CTX *ssl;
	struct jz_krb_server *krb;
	struct jz_callbacks *work;	/* Kerberos checks, off the loop */
	/* Kerberos jobs hold it for reading while they use srv->krb; a reload
	 * swaps srv->krb under the write lock (nothing to leak when a job is
	 * abandoned before it runs) */
	pthread_rwlock_t krb_lock;
	struct event *krb_reload_ev;	/* reload retries while jobs run */
	int krb_reload_tries;
	struct jz_limits *lim;		/* limits.c */
	size_t n_halfopen;		/* sessions not logged in yet */
	int max_sessions;		/* cfg's, fitted to the descriptor limit */
	struct event *accept_ev;	/* accepting again after an error */
	struct event *lease_expiry_ev;
	int accept_pause_ms;
	bool logins_held;		/* not accepting: peer_filter's queue is long (limits.c) */
	double accept_fail_at;
	struct jz_state *state;		/* leases, online records (cluster/) */
	struct event *lease_ev;		/* debounced lease file writes */
	struct session *sessions;
	size_t n_sessions;
	uint64_t next_sid, next_vid;
	int plen4, plen6;

	/* peer computation */
	struct event *recompute_ev;
	bool computing, dirty;
	bool corking;			/* frames to sessions are held (peers_finish) */
	/*
	 * Pacing (peers.c pace()): the loop thread's CPU time of the
	 * computation under way (on_recompute and peers_finish, not the
	 * callbacks'), and the least wait before the next when changes came
	 * in meanwhile (schedule_recompute).
	 */
	uint64_t comp_ns;
	unsigned int pace_ms;
	struct session *corked;		/* sessions holding frames */
	double started;			/* jz_now() at start (known.c) */
	bool comp_fresh;		/* the computation under way has newcomers */
	double newcomers_at;		/* when the last one with newcomers ended */
	struct event *known_ev;		/* held first lists looked at again */
	struct known_snap *ksnap;	/* the views' digests' common case (known.c) */
	bool ksnap_stale;		/* ... to be made again: devices, entries or
					 * views changed */
	bool full;			/* next: every viewer reviews everyone */
	/* online devices reviewed as newcomers (jgen set): all that a
	 * newcomer sees once its first review kept everyone */
	size_t n_reviewed;
	/* the newcomers of the computation under way (peers.c) */
	struct review_set *fresh_set;
	bool cands_dirty;		/* some session's cands_dirty is set */
	size_t filters_pending;
	uint64_t gen;
	double filter_ms;		/* a peer_filter review's run time (average; 0: unknown) */
	double filter_full_ms;		/* ... of a full review (of everyone) */
	struct left_dev *left;		/* gone offline since the last one */
	size_t nleft, capleft;

	/* relay budgets of pairs that hand-shook lately: open addressing */
	struct relay *relay;
	size_t relay_cap, relay_n;

	/* server-made keys' links ([server] pair_keys = server): open addressing */
	struct link *links;
	size_t links_cap, links_n;
	struct event *rekey_ev;
	struct event *keyack_ev;	/* server keys: keys not acked by both */

	struct session **by_idx;	/* online sessions by lease index */
	size_t by_idx_cap;
	size_t links_dead;		/* tombstones in links[] */

	struct vcache *vc;
	size_t vc_n, vc_cap;

	/* random bytes for pair keys, fetched 64 keys at a time (one DRBG call) */
	unsigned char rpool[64 * 72];
	size_t rpos;
	struct pending_verdict *pv;
	struct jz_stun_srv *stun;	/* stun.c; NULL: no STUN port */
	struct jz_relays *relays;	/* udprelay.c; NULL: no relay */
};


/* An event, its payload built only when it goes somewhere. */
#define EVENT(name, payload) \
	do { \
		if (jz_events_on()) \
			jz_event(name, payload); \
	} while (0)

/* Shared by the files of this folder only; hidden from dlopen()ed plugins. */
#pragma GCC visibility push(hidden)
struct jz_config *cfg(struct jz_server *srv);
struct session *find_sid(struct jz_server *srv, uint64_t sid);
struct session *find_online_idx(struct jz_server *srv, uint32_t idx);
void set_online_idx(struct jz_server *srv, uint32_t idx, struct session *s);
void send_msg(struct session *s, json_t *m);
void session_send_raw(struct session *s, unsigned char *buf, size_t len);
void session_uncork_all(struct jz_server *srv);
json_t *ep_json(const char *ip, uint16_t port);
void session_close(struct session *s, const char *why);
struct link *link_find(struct jz_server *srv, uint32_t a, uint32_t b, bool create);
void link_del(struct jz_server *srv, struct link *l);
void link_send_key(struct jz_server *srv, struct link *l);
void on_key_ack(struct session *s, const struct jz_sm_key_ack *k);
void on_key_swap_ack(struct session *s, const struct jz_sm_key_ack *k);
void on_rekey(evutil_socket_t fd, short what, void *arg);
void links_free(struct jz_server *srv);
void on_pair(struct session *s, const struct jz_sm_pair *p);
void on_pair_malformed(struct session *s, long long peer, const char *why);
void u32_push(uint32_t **v, size_t *n, size_t *cap, uint32_t x);
bool u32_ascending(const uint32_t *v, size_t n);
int cmp_u32(const void *a, const void *b);
void ukey(const struct session *p, char *buf, size_t len);
bool peers_linked(const struct session *a, const struct session *b);
void peers_left(struct session *s);
void pair_new(struct jz_server *srv, struct session *a, struct session *b);
int make_entries(struct session *p);
void filter_res_free(struct filter_res *r);
void peers_finish(struct jz_server *srv);
void peers_drained(struct session *s);
bool peers_sees(const struct session *s, const struct session *p);
bool peers_vis_has(struct jz_server *srv, const struct session *s, uint32_t idx);
void pchg_reset(struct session *s);
void pchg_flatten(struct session *s);
void send_full_list(struct jz_server *srv, struct session *s);
/* peer-list-changed for viewer s (listout.c) */
void list_event(struct jz_server *srv, struct session *s);
/* pair_start to both ends (device keys): links.c */
void pair_start_both(struct session *a, struct session *b);
void send_delta_or_hold(struct jz_server *srv, struct session *s);
bool session_out_over(struct session *s);
size_t peers_filter_batch(struct jz_server *srv, bool full);
/* The peers a computation's calls ask about (all online, or its
 * newcomers), by id and session: shared by its calls, counted. */
struct review_set {
	int refs;
	size_t n;
	uint32_t *ids;
	uint64_t *sids;
	struct review_arr *arr;	/* its calls' users and peers (pfilter.c) */
};
void review_arr_put(struct review_arr *a);
/* The peers of @a: ids ascending and their sessions then. */
size_t review_arr_ids(const struct review_arr *a, const uint32_t **ids, const uint64_t **sids);
struct review_set *review_set_new(size_t cap);
void review_set_add(struct review_set *rs, const struct session *p);
void review_set_put(struct review_set *rs);
void peers_filter_submit(struct jz_server *srv, struct session **vs, size_t nv,
			 struct review_set *set, bool full);
void on_recompute(evutil_socket_t fd, short what, void *arg);
void schedule_recompute(struct jz_server *srv);
void on_verdict_ack(struct session *s, uint64_t vid);
void on_conn_request(struct session *s, const struct jz_sm_conn_req *r);
void on_conn_expired(struct session *s, const struct jz_sm_conn_expired *e);
void login_failed(struct session *s, const char *reason, const char *message);
void on_login(struct session *s, struct jz_sm_login *l);
void on_answer(struct session *s, struct jz_sm_data *d);
void jz_source_key(const struct sockaddr *sa, unsigned char key[17]);
int jz_limits_new(struct jz_server *srv);
/* stun.c: the STUN port ([server] stun_listen), when configured. */
int jz_stun_srv_start(struct jz_server *srv, char *err, size_t errlen);
void jz_stun_srv_free(struct jz_server *srv);
void jz_limits_free(struct jz_server *srv);
const char *jz_limits_accept(struct jz_server *srv, const unsigned char key[17]);
bool jz_limits_login_source(struct jz_server *srv, const unsigned char key[17]);
bool jz_limits_login_user(struct jz_server *srv, const char *user, const char *realm);
void jz_limits_fds(struct jz_server *srv);
void jz_limits_fake_password(struct jz_server *srv, const char *user, const char *realm,
			     char *out, size_t outlen);
void jz_limits_accept_error(struct evconnlistener *lis, void *arg);
void jz_limits_filter_backlog(struct jz_server *srv);
void session_online(struct session *s);
/* cands.c: "candidates" (issue 20); peers.c re-announces changed ones */
void on_candidates(struct session *s, const struct jz_sm_cands *c);
/* A token bucket: one token taken if there is one (@at 0: full). */
bool tokens_take(double *tok, double *at, double rate, double burst);
char *cands_json(const struct session *p);
/* A cluster record's candidates, checked as a device's "candidates" is. */
int cands_parse(const char *text, struct jz_sm_cands *c, char *err, size_t errlen);
void peers_cands_changed(struct jz_server *srv);
/* known.c: "peers_known", a list the device already holds */
int known_entry_hashes(struct session *p);
void known_first_list(struct jz_server *srv, struct session *s);
void known_look_again(struct jz_server *srv);
bool known_pair_start_skipped(const struct session *a, const struct session *b);
void known_free(struct jz_server *srv);
/* udprelay.c: the relay ([server] relay_listen; issue 20) */
int jz_relays_start(struct jz_server *srv, char *err, size_t errlen);
void jz_relays_free(struct jz_server *srv);
void on_relay_request(struct session *s, uint32_t peer);
/* Does the relay carry this pair now (a relay open for it that forwarded
 * within RELAY_ACTIVE_S, longer than jazz.ko's 25 s keepalives)? */
bool jz_relays_pair_active(struct jz_server *srv, uint32_t a, uint32_t b);
/* The relay's ports for the pair, @a's first; false (nothing set) if none. */
bool jz_relays_pair_ports(struct jz_server *srv, uint32_t a, uint32_t b, const char **ip,
			  int *port_a, int *port_b);
/* paths.c: device path reports and peer-path-changed (issue 20) */
struct path_ev {
	const char *path;	/* direct, relayed, not-relayed */
	const char *how;	/* host, srflx, server-seen, peer-seen, relay; "" */
	const char *why;
	const char *by;		/* "device" (its report) or "relay" (this server's) */
	const char *relay_ip;	/* NULL: no relay */
	int relay_port, peer_relay_port;
};
void path_event(const struct session *a, const struct session *b, const struct path_ev *e);
void on_path_report(struct session *s, const struct jz_sm_path *r);
void session_free(struct session *s);
void remote_device(void *arg, uint32_t idx, const struct jz_state_remote *r);
void remote_relay(void *arg, uint32_t from, uint32_t to, const char *kind, const char *msg);
void approval_relayed_verdict(struct jz_server *srv, struct session *o, struct session *d,
			      const char *msg);
void approval_relayed_ack(struct jz_server *srv, struct session *o, struct session *d,
			  const char *vid);
#pragma GCC visibility pop

#endif
