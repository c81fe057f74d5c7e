/* SPDX-License-Identifier: GPL-2.0 */
/*
 * jazzctl: shared declarations. The pure parts (parse.c, json.c, config.c,
 * rules.c) do not touch netlink, so the unit tests link them alone.
 */
#ifndef JAZZCTL_H
#define JAZZCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <jazz.h>

#define PROG "jazzctl"

/* Exit codes: documented in jazzctl(8). */
#define EXIT_OK		0
#define EXIT_FAIL	1	/* the kernel or the system refused */
#define EXIT_USAGE	2	/* the command line or a file is wrong */

/* ---- parse.c: arguments and values ---- */

struct jz_prefix {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint8_t cidr;
};

int parse_u32(const char *s, uint32_t max, uint32_t *out);
int parse_u64(const char *s, uint64_t *out);
int parse_bool(const char *s, bool *out);
/* unit_ms: true if a bare number is milliseconds, false if seconds. */
int parse_duration(const char *s, bool unit_ms, uint32_t max, uint32_t *out);
/* "A:P", "[A6]:P", or with !need_port also a bare address. */
int parse_endpoint(const char *s, bool need_port, struct sockaddr_storage *ss);
int parse_prefix(const char *s, struct jz_prefix *p);
/* Comma and/or space separated; returns count or -1, *out malloc'ed. */
int parse_prefix_list(const char *s, struct jz_prefix **out);
int parse_hex(const char *s, uint8_t *buf, size_t len);
int parse_keydir(const char *s, uint8_t key[JAZZ_KEY_LEN], uint8_t salt[JAZZ_SALT_LEN]);
int parse_cipher(const char *s, uint32_t *out);
int parse_slot(const char *s, uint32_t *out);
int parse_proto(const char *s, uint8_t *out);
int parse_direction(const char *s, uint8_t *out);
bool prefix_contains(const struct jz_prefix *p, int family, const uint8_t *addr);

const char *cipher_name(uint32_t c);
const char *slot_name(uint32_t s);
const char *proto_name(uint8_t p, char *buf, size_t len);
const char *direction_name(uint8_t d);
const char *conn_state_name(uint8_t s);
const char *conn_end_name(uint8_t e);
const char *del_reason_name(uint32_t r);
const char *verdict_name(uint8_t v);
/* "1.2.3.4:5" / "[::1]:5"; port 0 and !with_port gives just the address. */
char *fmt_endpoint(const struct sockaddr_storage *ss, bool with_port, char *buf, size_t len);
char *fmt_addr(int family, const void *addr, char *buf, size_t len);
char *fmt_prefix(const struct jz_prefix *p, char *buf, size_t len);

/* ---- json.c ---- */

void json_escape(FILE *f, const char *s);

struct jw {
	FILE *f;
	int depth;
	bool need_comma[32];
};

void jw_init(struct jw *w, FILE *f);
void jw_obj(struct jw *w, const char *key);
void jw_obj_end(struct jw *w);
void jw_arr(struct jw *w, const char *key);
void jw_arr_end(struct jw *w);
void jw_str(struct jw *w, const char *key, const char *val);
void jw_u64(struct jw *w, const char *key, uint64_t val);
void jw_bool(struct jw *w, const char *key, bool val);
void jw_null(struct jw *w, const char *key);

/* ---- device options: one table for set, show, setconf, showconf ---- */

enum devopt_kind { DO_NUM, DO_HEX, DO_BOOL, DO_MS, DO_SEC };

struct devopt {
	const char *arg;	/* jazzctl set keyword */
	const char *conf;	/* config file key */
	const char *json;	/* JSON member */
	int attr;		/* JAZZ_A_* */
	int bits;		/* 8, 16 or 32 */
	enum devopt_kind kind;
	uint32_t min, max;
};

extern const struct devopt devopts[];
extern const size_t n_devopts;
const struct devopt *devopt_by_arg(const char *s);
const struct devopt *devopt_by_conf(const char *s);
int devopt_parse(const struct devopt *o, const char *s, uint32_t *out);

/* ---- configuration to apply (set, setconf) ---- */

struct jz_peercfg {
	uint32_t id;
	bool remove, replace_ips, clear_endpoint;
	bool has_remote_id, has_name, has_endpoint, has_keepalive, has_ips;
	uint32_t remote_id;
	char name[JAZZ_PEER_NAME_MAX + 1];
	struct sockaddr_storage endpoint;
	uint16_t keepalive;
	int n_ips;
	struct jz_prefix *ips;
};

struct jz_devcfg {
	uint64_t set_mask;	/* bit i: devopts[i] given */
	uint32_t val[32];
	int n_peers;
	struct jz_peercfg *peers;
};

struct jz_peercfg *devcfg_peer(struct jz_devcfg *c, uint32_t id);
void devcfg_free(struct jz_devcfg *c);

/* config.c: INI-like file; on error fills err and returns -1. */
int config_parse(FILE *f, const char *fname, struct jz_devcfg *c, char *err, size_t errlen);

/* rules.c: answer mode rules. */
struct jz_connreq {
	uint32_t ifindex;
	uint64_t cookie;
	uint32_t peer_id;
	char peer_name[JAZZ_PEER_NAME_MAX + 1];
	uint8_t direction, proto;
	int family;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;	/* host order */
	bool has_cookie;
};

/* Read-only parts of a connection (conn-get, conn-expire-ntf). */
struct jz_conninfo_ext {
	uint8_t state, end;
	uint64_t age_ms, idle_ms, packets, bytes;
	uint32_t held;
	uint64_t wait_ns;	/* decision wait, 0: none reported */
	uint64_t verdict_ns;	/* its part until the verdict arrived */
	bool has_state, has_end, has_counters;
};

struct jz_rule {
	uint8_t verdict;	/* JAZZ_VERDICT_* */
	uint32_t lifetime;
	bool has_lifetime;
	char peer[JAZZ_PEER_NAME_MAX + 1];	/* "" = any */
	uint32_t peer_id;	/* 0 = any */
	int proto;		/* -1 = any */
	uint8_t direction;	/* 0 = any */
	bool has_from, has_to;
	struct jz_prefix from, to;
	uint16_t sport_lo, sport_hi, dport_lo, dport_hi;	/* hi 0 = any */
};

int rules_parse(FILE *f, const char *fname, struct jz_rule **out, int *n, char *err, size_t errlen);
const struct jz_rule *rules_match(const struct jz_rule *r, int n, const struct jz_connreq *c);

/* ---- netlink layer (nl.c) ---- */

struct nl_err {
	char msg[256];
	int miss_type;		/* -1 if none */
};

struct nl {
	struct mnl_socket *sk;
	uint16_t family;
	uint32_t grp_notify, grp_approvals, grp_stun;
	uint32_t portid, seq;
};

struct nlmsghdr;
struct nlattr;
typedef int (*nl_cb)(const struct nlmsghdr *nlh, void *data);

int nl_open(struct nl *nl);
void nl_close(struct nl *nl);
struct nlmsghdr *nl_msg(struct nl *nl, void *buf, uint8_t cmd, uint16_t flags);
void nl_put_dev(struct nlmsghdr *nlh, const char *dev);
int nl_run(struct nl *nl, struct nlmsghdr *nlh, nl_cb cb, void *data, struct nl_err *e);
int nl_join(struct nl *nl, uint32_t grp);
int nl_rcvbuf(struct nl *nl, int bytes);
int nl_fail(const char *ctx, int rc, const struct nl_err *e);
const char *ifname_of(uint32_t ifindex, char *buf);
#define NL_BUF (1 << 16)
#define NL_SMALL 8192
/* Receive buffer of the event listeners (answer, monitor): about 5000 requests. */
#define NL_RCVBUF (8 << 20)

/* ---- fetch.c: kernel state ---- */

/* The kernel's crypto driver names fit CRYPTO_MAX_ALG_NAME (128). */
#define JZ_DRIVER_MAX 128
struct jz_keyinfo {
	uint32_t slot, cipher;
	uint8_t key_id;
	uint64_t tx_counter;
	bool has_tx_counter;
	char driver[JZ_DRIVER_MAX];	/* printable ASCII only; "" if absent */
};

#define N_STATS (JAZZ_A_STATS_MAX + 1)
struct jz_stats {
	bool present[N_STATS];
	uint64_t v[N_STATS];
};

struct jz_peer {
	uint32_t id, remote_id;
	char name[JAZZ_PEER_NAME_MAX + 1];
	struct sockaddr_storage endpoint;	/* ss_family 0: none */
	uint16_t keepalive;
	uint64_t last_rx_ns;
	uint32_t del_reason;
	int n_ips;
	struct jz_prefix *ips;
	int n_keys;
	struct jz_keyinfo keys[4];
	struct jz_stats stats;
	bool has_stats;
	/* the path record (issue 20): kind 0 none, since (ns), why */
	uint32_t path_kind;
	uint64_t path_since_ns;
	char path_reason[JAZZ_PATH_REASON_MAX + 1];
};

struct jz_dev {
	uint32_t ifindex;
	char ifname[16];
	uint32_t wire_version, conn_count;
	uint64_t features;
	bool has_opt[32];
	uint32_t opt[32];	/* indexed like devopts[] */
	struct jz_stats stats;
	bool has_stats;
	int n_peers;
	struct jz_peer *peers;
};

int peer_parse(const struct nlattr *nest, struct jz_peer *p);
int keyinfo_parse(const struct nlattr *nest, struct jz_keyinfo *k, uint32_t *peer_id);
int conn_parse(const struct nlattr *nest, struct jz_connreq *c, struct jz_conninfo_ext *x);
/* Room for one more of @size-byte items in *@v (holding @n of *@cap):
 * doubles the array when full. 0, or -1 (out of memory, *@v unchanged). */
int grow_for_one(void **v, size_t *cap, size_t n, size_t size);
void peer_free(struct jz_peer *p);
void dev_free(struct jz_dev *d);
/* dev-get (do) for one device, or dump all (n returned in *n). */
int fetch_dev(struct nl *nl, const char *name, struct jz_dev *d, struct nl_err *e);
int fetch_devs(struct nl *nl, struct jz_dev **out, int *n, struct nl_err *e);
int fetch_peers(struct nl *nl, struct jz_dev *d, struct nl_err *e);
int fetch_peer(struct nl *nl, const char *dev, uint32_t id, struct jz_peer *p, struct nl_err *e);

/* apply a jz_devcfg (set.c); replace: setconf semantics. */
int apply_config(struct nl *nl, const char *dev, struct jz_devcfg *c, bool replace);

/* printing shared by show, monitor, conns */
void print_stats_text(const char *indent, const struct jz_stats *s);
void print_stats_json(struct jw *w, const struct jz_stats *s);
void print_peer_json(struct jw *w, const char *key, const struct jz_peer *p);
void print_conn_text(const char *dev, const struct jz_connreq *c, const struct jz_conninfo_ext *x);
void print_conn_json(struct jw *w, const char *dev, const struct jz_connreq *c,
		     const struct jz_conninfo_ext *x);

/* set.c, conn.c: argument parsers (unit tested) and shared requests */
int set_parse(int argc, char **argv, struct jz_devcfg *c);
int conn_spec_parse(int argc, char **argv, struct jz_connreq *c, bool *has_proto,
		    uint32_t *lifetime, bool *has_lifetime);
int conn_request(struct nl *nl, const char *dev, uint8_t cmd, const struct jz_connreq *c,
		 bool has_proto, int verdict, const uint32_t *lifetime);

/* fetch.c: the probe nest of approver-probe and its notifications */
struct jz_probe {
	uint64_t cookie, rtt_ns;
	uint32_t listener;	/* port id of the answering socket, 0: none */
	bool has_cookie;
};

int probe_parse(const struct nlattr *nest, struct jz_probe *p);

/* monitor.c: multicast events */
struct jz_event {
	uint8_t cmd;		/* JAZZ_CMD_*_NTF */
	uint32_t ifindex;
	char ifname[16];
	bool has_peer, has_key, has_conn;
	struct jz_peer peer;
	struct jz_keyinfo key;
	uint32_t key_peer;
	struct jz_connreq conn;
	struct jz_conninfo_ext conn_x;
	bool has_probe;
	struct jz_probe probe;
};

int event_parse(const struct nlmsghdr *nlh, struct jz_event *ev);
void event_free(struct jz_event *ev);
void event_print(const struct jz_event *ev, bool json);
/* Receive multicast messages on nl, calling cb for each; cb returns
 * MNL_CB_STOP to end. Returns 0 or an exit code. */
int event_loop(struct nl *nl, nl_cb cb, void *data);
int join_group(struct nl *nl, const char *name);

/* subcommands */
int cmd_show(int argc, char **argv);
int cmd_set(int argc, char **argv);
int cmd_key(int argc, char **argv);
int cmd_setconf(int argc, char **argv);
int cmd_addconf(int argc, char **argv);
int cmd_showconf(int argc, char **argv);
int cmd_monitor(int argc, char **argv);
int cmd_conns(int argc, char **argv);
int cmd_conn(int argc, char **argv);
int cmd_answer(int argc, char **argv);
int cmd_rtt(int argc, char **argv);
int cmd_probe(int argc, char **argv);
int cmd_stun(int argc, char **argv);

#endif
