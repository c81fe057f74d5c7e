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
 *
 * Asynchronous AEADs: a packet whose request the cipher completes later
 * (-EINPROGRESS/-EBUSY) keeps its key reference until its completion has
 * run, and @inflight counts those requests; the free work also waits for
 * @inflight to reach zero before it frees the tfms. So whatever drops the
 * last slot reference (key swap or delete, peer or link delete, netns
 * exit, rmmod) never frees a tfm under a running request. The device's
 * struct jazz_crypt_async counts the same requests for the device, whose
 * teardown waits for them (jazz_crypt_queue_free).
 */
#ifndef _JAZZ_CRYPTO_H
#define _JAZZ_CRYPTO_H

#include <linux/types.h>
#include <linux/kref.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <linux/skbuff.h>
#include <crypto/aead.h>
#include <crypto/chacha20poly1305.h>
#include "replay.h"
#include "messages.h"

struct netlink_ext_ack;

struct jazz_areq;

struct jazz_key {
	struct kref ref;
	/*
	 * ChaCha20-Poly1305 keys whose two salts are zero run on lib/crypto's
	 * chacha20poly1305 (WireGuard's path: no tfm, no request, always
	 * synchronous; module parameter crypto_lib). Its 96-bit nonce is 32
	 * zero bits and a 64-bit counter, which is jazz's nonce (salt, then
	 * the counter) when the salt is zero; nothing changes on the wire.
	 * Then @lib is set, the tfms, requests and spares are NULL and the
	 * key bytes are in @tx_key/@rx_key, wiped with the key. Immutable.
	 */
	bool lib;
	u8 tx_key[CHACHA20POLY1305_KEY_SIZE];
	u8 rx_key[CHACHA20POLY1305_KEY_SIZE];
	struct crypto_aead *tx_tfm;
	struct crypto_aead *rx_tfm;
	/*
	 * Synchronous tfms: per-cpu pointers to kmalloc'ed requests, one set
	 * per direction, each used by its cpu with BHs off; wiped and freed
	 * with the key (jazz_key_free_work, after an RCU grace period).
	 * Asynchronous tfms: NULL; each packet owns a request (struct
	 * jazz_areq in crypto.c) until it completes.
	 */
	struct aead_request *__percpu *tx_req;
	struct aead_request *__percpu *rx_req;
	/*
	 * Asynchronous tfms only (else NULL): one spare request per cpu and
	 * direction, so that a packet whose AEAD completes at once (the usual
	 * case of a SIMD driver flagged async) allocates nothing. A packet
	 * takes its cpu's spare with this_cpu_xchg() (or kmallocs one when the
	 * slot is empty); a finished request goes back to the slot of the cpu
	 * it finished on, or is freed if that slot is taken. this_cpu_xchg()
	 * is safe in any context, so no lock. Every request in flight holds
	 * @inflight, so the spares are wiped and freed with the key once it
	 * reaches zero (jazz_key_free_work).
	 */
	struct jazz_areq *__percpu *tx_spare;
	struct jazz_areq *__percpu *rx_spare;
	atomic_t inflight;		/* async requests not yet completed */
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

/*
 * The owner of a set of asynchronous requests: a device's crypt queue.
 * @done(skb, err) finishes a packet whose AEAD completed later, from the
 * cipher's completion (process or softirq context; called with BHs off and
 * rcu_read_lock held). @inflight counts the owner's requests not yet
 * completed; it is decremented after @done returned, and the owner waits
 * for zero before it goes away (wait_var_event on @inflight).
 */
struct jazz_crypt_async {
	atomic_t inflight;
	void (*done)(struct sk_buff *skb, int err);
};

extern u64 jazz_tx_soft_limit;
extern bool jazz_crypto_force_async;
extern bool jazz_crypto_lib;
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
 * the tag. Returns 0 or a negative errno, or -EINPROGRESS when the tfm is
 * asynchronous and the request was queued: then @as->done(skb, err) runs
 * when it completes and the caller must not touch @skb any more. Called
 * with BHs disabled (a synchronous tfm's request is per cpu).
 */
int jazz_key_encrypt(struct jazz_key *key, struct sk_buff *skb,
		     u32 receiver, u64 counter, struct jazz_crypt_async *as);
/*
 * Decrypt @skb in place; skb->data points at the jazz header and the skb
 * is exactly header + ciphertext + tag. On success the header and tag are
 * removed; a failed authentication is -EBADMSG. -EINPROGRESS as for
 * jazz_key_encrypt(). Called with BHs disabled.
 */
int jazz_key_decrypt(struct jazz_key *key, struct sk_buff *skb, u64 counter,
		     struct jazz_crypt_async *as);
/* The driver name a lib/crypto key (@lib) reports. */
#define JAZZ_LIB_DRIVER	"chacha20poly1305-lib"
/* The driver (implementation) name of @key's sending side, e.g. for dumps. */
static inline const char *jazz_key_driver(const struct jazz_key *key)
{
	return key->lib ? JAZZ_LIB_DRIVER : crypto_aead_driver_name(key->tx_tfm);
}

/* Wait until none of @as's asynchronous requests is in flight. Sleeps. */
void jazz_crypt_async_wait(struct jazz_crypt_async *as);

int jazz_crypto_init(void);
void jazz_crypto_exit(void);

extern atomic_t jazz_keys_live;

#endif /* _JAZZ_CRYPTO_H */
