/* SPDX-License-Identifier: GPL-2.0 */
/*
 * AEAD keys of a peer. A key has separate material for each direction:
 * "encrypt" for packets we send, "decrypt" for packets we receive, so the
 * two ends of a tunnel never use the same key and nonce pair.
 *
 * Locking: a key is immutable after creation except for tx_counter (atomic),
 * rotate_sent (atomic bit) and the replay window (replay_lock, taken with
 * BHs disabled). Keys hang off peer->keys[] under RCU; writers hold the
 * device config mutex.
 *
 * Lifetime: @ref counts the peer's key slot and every queued packet
 * (queueing.h). The data path takes its reference under rcu_read_lock()
 * with jazz_key_get_rcu(), which fails once the count reached zero. The
 * last jazz_key_put() frees the key by a work item after a grace period.
 */
#ifndef _JAZZ_CRYPTO_H
#define _JAZZ_CRYPTO_H

#include <linux/types.h>
#include <linux/kref.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <linux/skbuff.h>
#include <crypto/aead.h>
#include "replay.h"
#include "messages.h"

struct jazz_key {
	struct kref ref;
	struct crypto_aead *tx_tfm;
	struct crypto_aead *rx_tfm;
	/*
	 * Per-cpu pointers to kmalloc'ed requests, one set per direction,
	 * each used by its cpu with BHs off; wiped and freed with the key
	 * (jazz_key_free_work, after an RCU grace period).
	 */
	struct aead_request *__percpu *tx_req;
	struct aead_request *__percpu *rx_req;
	u8 tx_salt[4];
	u8 rx_salt[4];
	u8 key_id;
	u8 cipher;
	atomic64_t tx_counter;		/* next counter to send */
	unsigned long rotate_sent;	/* bit 0: key-rotate-ntf sent */
	spinlock_t replay_lock;
	struct jazz_replay replay;
	struct rcu_work free_work;
};

extern u64 jazz_tx_soft_limit;
extern u64 jazz_tx_hard_limit;

struct jazz_key *jazz_key_create(u8 cipher, u8 key_id,
				 const u8 *tx_key, const u8 *tx_salt,
				 const u8 *rx_key, const u8 *rx_salt,
				 struct netlink_ext_ack *extack);
/* Drop a reference; the last one frees the key after an RCU grace period. */
void jazz_key_put(struct jazz_key *key);

/* A reference on a key found under rcu_read_lock(); false if it is dying. */
static inline bool jazz_key_get_rcu(struct jazz_key *key)
{
	return kref_get_unless_zero(&key->ref);
}

/*
 * Encrypt @skb (the inner packet) in place: push the jazz header, append
 * the tag. Returns 0 or a negative errno. Called with BHs disabled (the
 * request is per cpu).
 */
int jazz_key_encrypt(struct jazz_key *key, struct sk_buff *skb,
		     u32 receiver, u64 counter);
/*
 * Decrypt @skb in place; skb->data points at the jazz header and the skb
 * is exactly header + ciphertext + tag. On success the header and tag are
 * removed. Called with BHs disabled.
 */
int jazz_key_decrypt(struct jazz_key *key, struct sk_buff *skb, u64 counter);

int jazz_crypto_init(void);
void jazz_crypto_exit(void);

extern atomic_t jazz_keys_live;

#endif /* _JAZZ_CRYPTO_H */
