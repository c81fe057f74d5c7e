// SPDX-License-Identifier: GPL-2.0
/*
 * jazz: AEAD keys through the kernel crypto API.
 */
#include <linux/slab.h>
#include <linux/percpu.h>
#include <linux/scatterlist.h>
#include <linux/string.h>
#include <linux/netlink.h>
#include <linux/netdevice.h>
#include <jazz.h>
#include "crypto.h"

atomic_t jazz_keys_live = ATOMIC_INIT(0);
static struct workqueue_struct *jazz_key_wq;

#define JAZZ_MAX_SG	(MAX_SKB_FRAGS + 8)

static const char *const jazz_cipher_names[] = {
	[JAZZ_CIPHER_CHACHA20_POLY1305] = "rfc7539(chacha20,poly1305)",
	[JAZZ_CIPHER_AES_256_GCM] = "gcm(aes)",
};

/*
 * Free the per-cpu requests of one direction. Request contexts may hold key
 * schedule material, so they are wiped before they are freed.
 */
static void jazz_reqs_free(struct aead_request *__percpu *reqs)
{
	int cpu;

	if (!reqs)
		return;
	for_each_possible_cpu(cpu)
		kfree_sensitive(*per_cpu_ptr(reqs, cpu));
	free_percpu(reqs);
}

/*
 * One request per possible cpu, each kmalloc'ed: ciphers build scatterlists
 * over their request context (poly1305 key generation, GCM's hash), and
 * sg_init_one() needs linearly mapped memory, which per-cpu memory is not
 * always (it may come from vmalloc space).
 */
static struct aead_request *__percpu *jazz_reqs_new(struct crypto_aead *tfm)
{
	size_t size = sizeof(struct aead_request) + crypto_aead_reqsize(tfm);
	struct aead_request *__percpu *reqs;
	int cpu;

	reqs = alloc_percpu(struct aead_request *);
	if (!reqs)
		return NULL;
	for_each_possible_cpu(cpu) {
		struct aead_request *req;

		req = kmalloc_node(size, GFP_KERNEL, cpu_to_node(cpu));
		if (!req) {
			jazz_reqs_free(reqs);
			return NULL;
		}
		aead_request_set_tfm(req, tfm);
		*per_cpu_ptr(reqs, cpu) = req;
	}
	return reqs;
}

static int jazz_tfm_new(u8 cipher, const u8 *key, struct crypto_aead **tfmp,
			struct aead_request *__percpu **reqp,
			struct netlink_ext_ack *extack)
{
	struct crypto_aead *tfm;
	int err;

	/* Synchronous implementations only: we run inside RCU read sections. */
	tfm = crypto_alloc_aead(jazz_cipher_names[cipher], 0, CRYPTO_ALG_ASYNC);
	if (IS_ERR(tfm)) {
		NL_SET_ERR_MSG(extack, "cipher not available in this kernel");
		return PTR_ERR(tfm);
	}
	err = crypto_aead_setauthsize(tfm, JAZZ_TAG_LEN);
	if (!err)
		err = crypto_aead_setkey(tfm, key, JAZZ_KEY_LEN);
	if (err) {
		NL_SET_ERR_MSG(extack, "cipher rejected the key");
		crypto_free_aead(tfm);
		return err;
	}
	*reqp = jazz_reqs_new(tfm);
	if (!*reqp) {
		crypto_free_aead(tfm);
		return -ENOMEM;
	}
	*tfmp = tfm;
	return 0;
}

static void jazz_key_free_work(struct work_struct *w)
{
	struct jazz_key *key = container_of(to_rcu_work(w), struct jazz_key,
					    free_work);

	jazz_reqs_free(key->tx_req);
	jazz_reqs_free(key->rx_req);
	/* crypto_free_aead() frees the tfm context with kfree_sensitive(). */
	crypto_free_aead(key->tx_tfm);
	crypto_free_aead(key->rx_tfm);
	memzero_explicit(key, sizeof(*key));
	kfree(key);
	atomic_dec(&jazz_keys_live);
	pr_debug("jazz: key destroyed\n");
}

struct jazz_key *jazz_key_create(u8 cipher, u8 key_id,
				 const u8 *tx_key, const u8 *tx_salt,
				 const u8 *rx_key, const u8 *rx_salt,
				 struct netlink_ext_ack *extack)
{
	struct jazz_key *key;
	int err;

	if (cipher != JAZZ_CIPHER_CHACHA20_POLY1305 &&
	    cipher != JAZZ_CIPHER_AES_256_GCM)
		return ERR_PTR(-EINVAL);
	key = kzalloc(sizeof(*key), GFP_KERNEL);
	if (!key)
		return ERR_PTR(-ENOMEM);
	err = jazz_tfm_new(cipher, tx_key, &key->tx_tfm, &key->tx_req, extack);
	if (err)
		goto fail;
	err = jazz_tfm_new(cipher, rx_key, &key->rx_tfm, &key->rx_req, extack);
	if (err)
		goto fail;
	memcpy(key->tx_salt, tx_salt, JAZZ_SALT_LEN);
	memcpy(key->rx_salt, rx_salt, JAZZ_SALT_LEN);
	key->key_id = key_id;
	key->cipher = cipher;
	atomic64_set(&key->tx_counter, 0);
	spin_lock_init(&key->replay_lock);
	jazz_replay_init(&key->replay);
	INIT_RCU_WORK(&key->free_work, jazz_key_free_work);
	kref_init(&key->ref);
	atomic_inc(&jazz_keys_live);
	pr_debug("jazz: key created\n");
	return key;

fail:
	if (key->tx_tfm) {
		jazz_reqs_free(key->tx_req);
		crypto_free_aead(key->tx_tfm);
	}
	kfree_sensitive(key);
	return ERR_PTR(err);
}

static void jazz_key_release(struct kref *ref)
{
	struct jazz_key *key = container_of(ref, struct jazz_key, ref);

	queue_rcu_work(jazz_key_wq, &key->free_work);
}

void jazz_key_put(struct jazz_key *key)
{
	if (key)
		kref_put(&key->ref, jazz_key_release);
}

static void jazz_nonce(u8 *nonce, const u8 *salt, u64 counter)
{
	__be64 c = cpu_to_be64(counter);

	memcpy(nonce, salt, 4);
	memcpy(nonce + 4, &c, 8);
}

/* This cpu's request; BHs are off, so nothing else uses it meanwhile. */
static struct aead_request *jazz_req(struct aead_request *__percpu *reqs)
{
	struct aead_request *req = *this_cpu_ptr(reqs);

	aead_request_set_callback(req, 0, NULL, NULL);
	return req;
}

int jazz_key_encrypt(struct jazz_key *key, struct sk_buff *skb,
		     u32 receiver, u64 counter)
{
	struct scatterlist sg[JAZZ_MAX_SG];
	struct aead_request *req;
	struct sk_buff *trailer;
	u8 nonce[JAZZ_NONCE_LEN];
	unsigned int plen;
	int nsg, err;

	if (skb->ip_summed == CHECKSUM_PARTIAL && skb_checksum_help(skb))
		return -EINVAL;
	plen = skb->len;
	nsg = skb_cow_data(skb, JAZZ_TAG_LEN, &trailer);
	if (nsg < 0 || nsg + 1 > JAZZ_MAX_SG)
		return -ENOMEM;
	if (skb_cow_head(skb, JAZZ_MAX_OUTER_OVERHEAD + LL_MAX_HEADER))
		return -ENOMEM;
	jazz_hdr_build(skb_push(skb, JAZZ_HDR_LEN), key->key_id, receiver,
		       counter);
	pskb_put(skb, trailer, JAZZ_TAG_LEN);

	sg_init_table(sg, nsg + 1);
	err = skb_to_sgvec(skb, sg, 0, skb->len);
	if (err < 0)
		return err;
	jazz_nonce(nonce, key->tx_salt, counter);
	req = jazz_req(key->tx_req);
	aead_request_set_ad(req, JAZZ_HDR_LEN);
	aead_request_set_crypt(req, sg, sg, plen, nonce);
	err = crypto_aead_encrypt(req);
	memzero_explicit(nonce, sizeof(nonce));
	return err;
}

int jazz_key_decrypt(struct jazz_key *key, struct sk_buff *skb, u64 counter)
{
	struct scatterlist sg[JAZZ_MAX_SG];
	struct aead_request *req;
	struct sk_buff *trailer;
	u8 nonce[JAZZ_NONCE_LEN];
	int nsg, err;

	if (skb->len < JAZZ_OVERHEAD)
		return -EINVAL;
	nsg = skb_cow_data(skb, 0, &trailer);
	if (nsg < 0 || nsg > JAZZ_MAX_SG)
		return -ENOMEM;
	sg_init_table(sg, nsg);
	err = skb_to_sgvec(skb, sg, 0, skb->len);
	if (err < 0)
		return err;
	jazz_nonce(nonce, key->rx_salt, counter);
	req = jazz_req(key->rx_req);
	aead_request_set_ad(req, JAZZ_HDR_LEN);
	aead_request_set_crypt(req, sg, sg, skb->len - JAZZ_HDR_LEN, nonce);
	err = crypto_aead_decrypt(req);
	if (err)
		return -EBADMSG;
	if (pskb_trim(skb, skb->len - JAZZ_TAG_LEN))
		return -ENOMEM;
	__skb_pull(skb, JAZZ_HDR_LEN);
	return 0;
}

int jazz_crypto_init(void)
{
	jazz_key_wq = alloc_workqueue("jazz-key", WQ_UNBOUND, 0);
	return jazz_key_wq ? 0 : -ENOMEM;
}

void jazz_crypto_exit(void)
{
	rcu_barrier();
	destroy_workqueue(jazz_key_wq);
}
