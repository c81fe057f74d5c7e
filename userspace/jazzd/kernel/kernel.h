/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The client's view of its jazz device: a small interface with two
 * implementations, the real one over generic netlink + rtnetlink
 * (kernel_nl.c) and a fake one that records every operation in a log file
 * and takes injected approval requests from a FIFO (kernel_fake.c), so the
 * control plane is testable without the module. [kernel] backend = netlink|fake.
 *
 * kernel/ interface, shared by both backends; kernel_nl.c and kernel_fake.c
 * must not include each other.
 */
#ifndef JAZZD_KERNEL_H
#define JAZZD_KERNEL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <event2/event.h>
#include <jazz.h>

#include "core/jazzd.h"

#define JZ_IP_MAX 46

struct jz_kpeer {
	uint32_t id;		/* the peer's id on this device */
	uint32_t remote_id;	/* our id on the peer's device */
	char name[64];
	char vip4[JZ_IP_MAX];	/* allowed-ips: vip4/32 and vip6/128 */
	char vip6[JZ_IP_MAX];
	char endpoint_ip[JZ_IP_MAX];	/* underlay; "" for none */
	uint16_t endpoint_port;
	uint16_t keepalive_s;
};

struct jz_kkey {
	uint32_t peer_id;
	int slot;		/* JAZZ_KEY_SLOT_PRIMARY / _SECONDARY */
	uint8_t key_id;
	int cipher;		/* JAZZ_CIPHER_* */
	uint8_t tx_key[32], tx_salt[4];
	uint8_t rx_key[32], rx_salt[4];
};

struct jz_kconn {
	uint64_t cookie;	/* 0: by addresses */
	uint32_t peer_id;
	int direction;		/* JAZZ_DIRECTION_* */
	int proto;		/* IP protocol number */
	char src[JZ_IP_MAX], dst[JZ_IP_MAX];
	uint16_t sport, dport;
	int end;		/* conn-expire: JAZZ_CONN_END_* */
};

/* Drop reasons, in the order of the "stats" attribute set of
 * netlink/jazz.yaml (drop-malformed .. drop-queue-full, without "held"). */
enum jz_kdrop {
	JZ_KDROP_MALFORMED, JZ_KDROP_NO_PEER, JZ_KDROP_NO_KEY, JZ_KDROP_AUTH,
	JZ_KDROP_REPLAY, JZ_KDROP_SOURCE, JZ_KDROP_NO_ENDPOINT,
	JZ_KDROP_KEY_EXHAUSTED, JZ_KDROP_LOOP, JZ_KDROP_CONNCHECK,
	JZ_KDROP_HOLD_OVERFLOW, JZ_KDROP_CONN_FULL, JZ_KDROP_TIMEOUT,
	JZ_KDROP_TX_ERROR, JZ_KDROP_QUEUE_FULL,
	/* the send side's reasons of the same names */
	JZ_KDROP_TX_NO_PEER, JZ_KDROP_TX_NO_KEY, JZ_KDROP_TX_MALFORMED,
	JZ_KDROP_TX_QUEUE_FULL, JZ_KDROP_N
};
/* "malformed", "no_peer", ...: metric label values */
extern const char *const jz_kdrop_names[JZ_KDROP_N];

/* A device's or a peer's counters (inner bytes). */
struct jz_kcounters {
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
	uint64_t held;		/* packets waiting for a verdict now (a gauge) */
	uint64_t drops[JZ_KDROP_N];
	/* receive batching (GRO of the outer datagrams); device only */
	uint64_t rx_gro_batches, rx_gro_datagrams;
};

struct jz_kpeer_stats {
	uint32_t id;
	char name[64];		/* the peer's device name; "" if the kernel has none */
	uint64_t last_rx_ns;	/* CLOCK_REALTIME of the last authenticated packet; 0 none */
	struct jz_kcounters c;
};

/* One reading of the device: its own counters and up to max_peers peers
 * (peers_total counts them all; more than max are left out). */
struct jz_kstats {
	struct jz_kcounters dev;
	struct jz_kpeer_stats *peers;	/* caller's array of max_peers */
	size_t max_peers, n_peers, peers_total;
};

struct jz_kernel;

struct jz_kernel_ops {
	int (*set_addresses)(struct jz_kernel *k, const char *vip4, int plen4,
			     const char *vip6, int plen6);
	int (*peer_set)(struct jz_kernel *k, const struct jz_kpeer *p, bool create);
	int (*peer_del)(struct jz_kernel *k, uint32_t id);
	int (*key_new)(struct jz_kernel *k, const struct jz_kkey *key);
	int (*key_swap)(struct jz_kernel *k, uint32_t peer_id);
	/* Removes and wipes the key in one slot (an empty slot is no error). */
	int (*key_del)(struct jz_kernel *k, uint32_t peer_id, int slot);
	/* Ends every connection of one peer (its next packet asks for
	 * approval again); -ENODEV: the device has no connection checks. */
	int (*conn_flush)(struct jz_kernel *k, uint32_t peer_id);
	int (*conn_verdict)(struct jz_kernel *k, const struct jz_kconn *c,
			    bool approve, uint32_t lifetime_s);
	int (*listen_port)(struct jz_kernel *k);
	/* Fills st (st->peers and st->max_peers set by the caller); 0 or -errno. */
	int (*stats)(struct jz_kernel *k, struct jz_kstats *st);
	/* A STUN message (msg, len) from the device's own UDP socket to @to
	 * (jazz.ko's stun-send; issue 20). NULL: the backend has none. 0 when
	 * handed to the kernel (its refusal is logged, not returned). */
	int (*stun_send)(struct jz_kernel *k, const struct sockaddr_storage *to,
			 const void *msg, size_t len);
	/* The peer's path record in the kernel (issue 20: jazzctl show):
	 * kind JAZZ_PATH_KIND_*, reason printable ASCII of at most
	 * JAZZ_PATH_REASON_MAX bytes (longer is cut). NULL: none. */
	int (*path_set)(struct jz_kernel *k, uint32_t peer_id, int kind, const char *reason);
	void (*free)(struct jz_kernel *k);
};

typedef void (*jz_kconn_fn)(void *arg, const struct jz_kconn *c, bool expired);

/* key-rotate-ntf: the key a peer's packets are sent with neared its
 * packet limit (jazz.ko's tx_soft_limit); parsed and checked by the
 * backend, so a callback only ever sees a peer id, a key id and a slot. */
struct jz_krotate {
	uint32_t peer_id;	/* never 0 */
	uint8_t key_id;
	int slot;		/* JAZZ_KEY_SLOT_PRIMARY / _SECONDARY */
	uint64_t tx_counter;	/* packets sent with it (0 when not told) */
};

typedef void (*jz_krotate_fn)(void *arg, const struct jz_krotate *r);

/* stun-rx-ntf: a STUN datagram that reached the device's port, checked by
 * the backend (a source of one family, a length within the kernel's
 * stun-max-len); its bytes are still to be parsed (common/stun.c). */
struct jz_kstun {
	struct sockaddr_storage from;
	uint16_t local_port;
	size_t len;
	uint8_t data[JAZZ_STUN_MAX_LEN];
};

typedef void (*jz_kstun_fn)(void *arg, const struct jz_kstun *s);

/* peer-roam-ntf: jazz.ko moved a peer's endpoint to the source of its
 * authenticated packet; checked by the backend (a peer id, an endpoint of
 * one family with a port). */
struct jz_kroam {
	uint32_t peer_id;	/* never 0 */
	struct sockaddr_storage ep;
};

typedef void (*jz_kroam_fn)(void *arg, const struct jz_kroam *r);

struct jz_kernel {
	const struct jz_kernel_ops *ops;
	struct event_base *base;
	jz_kconn_fn on_conn;	/* approval request or expiry */
	jz_krotate_fn on_rotate;	/* key-rotate; NULL: not listened to */
	jz_kstun_fn on_stun;	/* stun-rx-ntf; NULL: not listened to */
	jz_kroam_fn on_roam;	/* peer-roam-ntf; NULL: not listened to */
	void *arg;
};

struct jz_kernel *jz_kernel_new(struct event_base *base, const struct jz_config *c,
				jz_kconn_fn on_conn, void *arg,
				char *err, size_t errlen);
struct jz_kernel *jz_kernel_fake_new(struct event_base *base,
				     const struct jz_config *c,
				     char *err, size_t errlen);
struct jz_kernel *jz_kernel_nl_new(struct event_base *base,
				   const struct jz_config *c,
				   char *err, size_t errlen);

const char *jz_proto_name(int proto, char *buf, size_t len);
int jz_proto_number(const char *name);

#endif
