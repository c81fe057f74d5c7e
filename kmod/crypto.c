// SPDX-License-Identifier: GPL-2.0
/*
 * jazz: AEAD keys through the kernel crypto API.
 */
#include <linux/slab.h>
#include <linux/kmod.h>
#include <linux/moduleparam.h>
#include <linux/percpu.h>
#include <linux/wait_bit.h>
#include <linux/scatterlist.h>
#include <linux/string.h>
#include <linux/mutex.h>
#include <linux/workqueue.h>
#include <linux/netlink.h>
#include <linux/netdevice.h>
#include <jazz.h>
#include "compat.h"
#include "crypto.h"

atomic_t jazz_keys_live = ATOMIC_INIT(0);
static struct workqueue_struct *jazz_key_wq;

/*
 * Keys take the kernel's highest-priority AEAD implementation, synchronous
 * or not. crypto_force_async wraps the best synchronous one in cryptd
 * (pcrypt before 6.3, compat.h) instead, so that the asynchronous
 * completion path runs (tests); it applies to keys installed after it is
 * set.
 */
bool jazz_crypto_force_async;
module_param_named(crypto_force_async, jazz_crypto_force_async, bool, 0644);
MODULE_PARM_DESC(crypto_force_async,
		 "New keys use an asynchronous AEAD (cryptd; pcrypt before 6.3)");

/*
 * ChaCha20-Poly1305 keys with zero salts on lib/crypto (struct jazz_key,
 * @lib): on by default; off, every key takes the crypto API as before
 * (benchmarks compare the two in one boot). Applies to keys installed
 * after it is set; crypto_force_async overrides it.
 */
bool jazz_crypto_lib = true;
module_param_named(crypto_lib, jazz_crypto_lib, bool, 0644);
MODULE_PARM_DESC(crypto_lib,
		 "New ChaCha20-Poly1305 keys with zero salts use lib/crypto");

#define JAZZ_MAX_SG	(MAX_SKB_FRAGS + 8)

/*
 * A packet's own request for an asynchronous tfm, with everything the
 * cipher reads until it completes: the scatterlist over the skb and the
 * nonce. Taken from the key's per-cpu spare slot of its direction, or
 * kmalloc'ed (GFP_ATOMIC) when that is empty; whoever finishes the packet
 * (the caller, or the completion) recycles it (jazz_areq_recycle()).
 */
struct jazz_areq {
	struct sk_buff *skb;
	struct jazz_key *key;
	struct jazz_crypt_async *as;
	struct jazz_areq *__percpu *spare;	/* the key's slots, this direction */
	bool decrypt;
	u8 nonce[JAZZ_NONCE_LEN];
	struct scatterlist sg[JAZZ_MAX_SG];
	struct aead_request req;	/* last: the tfm's context follows */
};

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
/* Wipe and free a key direction's spare async requests (NULL: none). */
static void jazz_spares_free(struct jazz_areq *__percpu *spare)
{
	int cpu;

	if (!spare)
		return;
	for_each_possible_cpu(cpu)
		kfree_sensitive(*per_cpu_ptr(spare, cpu));
	free_percpu(spare);
}

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

static bool jazz_tfm_async(struct crypto_aead *tfm)
{
	return crypto_aead_alg(tfm)->base.cra_flags & CRYPTO_ALG_ASYNC;
}

/*
 * AES-NI's driver registers "gcm(aes)" only once its module is loaded, and
 * nothing loads it when the generic gcm(aes) is found first: load it before
 * the first AES-GCM key, so that the best implementation can win.
 */
static void jazz_want_aesni(u8 cipher)
{
#if IS_MODULE(CONFIG_CRYPTO_AES_NI_INTEL)
	static bool tried;

	if (cipher != JAZZ_CIPHER_AES_256_GCM || READ_ONCE(tried) ||
	    !boot_cpu_has(X86_FEATURE_AES))
		return;
	WRITE_ONCE(tried, true);
	request_module("aesni_intel");
#endif
}

/*
 * cryptd (or pcrypt) around the best synchronous implementation of
 * @cipher. A wrapper instance is named after its child's driver
 * ("cryptd(<driver>)"), so the child is looked up first: "cryptd(gcm(aes))"
 * would never match the instance it creates.
 */
static struct crypto_aead *jazz_aead_alloc_wrapped(u8 cipher)
{
	char name[CRYPTO_MAX_ALG_NAME];
	struct crypto_aead *child;
	int n;

	child = crypto_alloc_aead(jazz_cipher_names[cipher], 0,
				  CRYPTO_ALG_ASYNC);
	if (IS_ERR(child))
		return child;
	n = snprintf(name, sizeof(name), JAZZ_ASYNC_WRAPPER "(%s)",
		     crypto_aead_driver_name(child));
	crypto_free_aead(child);
	if (n >= sizeof(name))
		return ERR_PTR(-ENAMETOOLONG);
	return crypto_alloc_aead(name, 0, 0);
}

/* "cryptd(" or "pcrypt(": the length of @drv's wrapper prefix, or 0. */
static size_t jazz_wrapper_len(const char *drv)
{
	if (str_has_prefix(drv, "cryptd("))
		return 7;
	if (str_has_prefix(drv, "pcrypt("))
		return 7;
	return 0;
}

/*
 * A bare cryptd or pcrypt instance of @tfm's cipher (registered once
 * anyone asked for one, e.g. crypto_force_async) outranks what it wraps
 * (by 50 and 100), but is that same implementation plus a queue hop: take
 * the wrapped one. SIMD wrappers that use cryptd inside are named
 * otherwise and are kept.
 */
static struct crypto_aead *jazz_aead_unwrap(struct crypto_aead *tfm)
{
	const char *drv = crypto_aead_driver_name(tfm);
	size_t len = strlen(drv), pre = jazz_wrapper_len(drv);
	char name[CRYPTO_MAX_ALG_NAME];
	struct crypto_aead *inner;

	if (!pre || drv[len - 1] != ')')
		return tfm;
	strscpy(name, drv + pre, min(sizeof(name), len - pre));
	inner = crypto_alloc_aead(name, 0, 0);
	if (IS_ERR(inner))
		return tfm;
	crypto_free_aead(tfm);
	return inner;
}

/*
 * The highest-priority implementation of @cipher, synchronous or
 * asynchronous (no CRYPTO_ALG_ASYNC mask); with crypto_force_async, a
 * wrapper around the best synchronous one (cryptd only wraps synchronous
 * AEADs).
 */
static struct crypto_aead *jazz_aead_alloc(u8 cipher)
{
	struct crypto_aead *tfm;

	jazz_want_aesni(cipher);
	if (READ_ONCE(jazz_crypto_force_async))
		return jazz_aead_alloc_wrapped(cipher);
	tfm = crypto_alloc_aead(jazz_cipher_names[cipher], 0, 0);
	return IS_ERR(tfm) ? tfm : jazz_aead_unwrap(tfm);
}

static int jazz_tfm_new(u8 cipher, const u8 *key, struct crypto_aead **tfmp,
			struct aead_request *__percpu **reqp,
			struct jazz_areq *__percpu **sparep,
			struct netlink_ext_ack *extack)
{
	struct crypto_aead *tfm;
	int err;

	tfm = jazz_aead_alloc(cipher);
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
	/* Asynchronous tfms get a request per packet in flight instead. */
	*reqp = NULL;
	*sparep = NULL;
	if (jazz_tfm_async(tfm))
		*sparep = alloc_percpu(struct jazz_areq *);
	else
		*reqp = jazz_reqs_new(tfm);
	if (!*reqp && !*sparep) {
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

	/* Packets hold the key until completed; this is the last guard. */
	wait_var_event(&key->inflight, !atomic_read(&key->inflight));
	jazz_reqs_free(key->tx_req);
	jazz_reqs_free(key->rx_req);
	jazz_spares_free(key->tx_spare);
	jazz_spares_free(key->rx_spare);
	/* crypto_free_aead() frees the tfm context with kfree_sensitive(). */
	if (key->tx_tfm)
		crypto_free_aead(key->tx_tfm);
	if (key->rx_tfm)
		crypto_free_aead(key->rx_tfm);
	/* Also wipes a lib key's bytes. */
	memzero_explicit(key, sizeof(*key));
	kfree(key);
	atomic_dec(&jazz_keys_live);
	pr_debug("jazz: key destroyed\n");
}

/* Does a new key of @cipher with these salts run on lib/crypto? */
static bool jazz_lib_takes(u8 cipher, const u8 *tx_salt, const u8 *rx_salt)
{
	return cipher == JAZZ_CIPHER_CHACHA20_POLY1305 &&
	       READ_ONCE(jazz_crypto_lib) &&
	       !READ_ONCE(jazz_crypto_force_async) &&
	       !memchr_inv(tx_salt, 0, JAZZ_SALT_LEN) &&
	       !memchr_inv(rx_salt, 0, JAZZ_SALT_LEN);
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
	if (jazz_lib_takes(cipher, tx_salt, rx_salt)) {
		key->lib = true;
		memcpy(key->tx_key, tx_key, sizeof(key->tx_key));
		memcpy(key->rx_key, rx_key, sizeof(key->rx_key));
		goto made;
	}
	err = jazz_tfm_new(cipher, tx_key, &key->tx_tfm, &key->tx_req,
			   &key->tx_spare, extack);
	if (err)
		goto fail;
	err = jazz_tfm_new(cipher, rx_key, &key->rx_tfm, &key->rx_req,
			   &key->rx_spare, extack);
	if (err)
		goto fail;
made:
	memcpy(key->tx_salt, tx_salt, JAZZ_SALT_LEN);
	memcpy(key->rx_salt, rx_salt, JAZZ_SALT_LEN);
	key->key_id = key_id;
	key->cipher = cipher;
	atomic64_set(&key->tx_counter, 0);
	atomic_set(&key->inflight, 0);
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
		jazz_spares_free(key->tx_spare);
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

/* A decrypted packet loses its header and tag; -EBADMSG if it failed. */
static int jazz_decrypt_finish(struct sk_buff *skb, int err)
{
	if (err)
		return -EBADMSG;
	if (pskb_trim(skb, skb->len - JAZZ_TAG_LEN))
		return -ENOMEM;
	__skb_pull(skb, JAZZ_HDR_LEN);
	return 0;
}

static void jazz_async_put(struct jazz_key *key, struct jazz_crypt_async *as)
{
	if (atomic_dec_and_test(&key->inflight))
		wake_up_var(&key->inflight);
	if (atomic_dec_and_test(&as->inflight))
		wake_up_var(&as->inflight);
}

/*
 * A request this cpu is done with: back into the cpu's spare slot of its
 * key and direction, or freed if the slot holds one already.
 */
static void jazz_areq_recycle(struct jazz_areq *ar)
{
	kfree_sensitive(this_cpu_xchg(*ar->spare, ar));
}

/*
 * Completion of a packet's asynchronous request (cryptd runs it with BHs
 * off). The key's count drops before @as->done, while the packet still
 * holds the key; the owner's count after, so the owner's teardown, which
 * waits for it, also finds the packet handed on to its ordered queue.
 */
static void jazz_areq_done(void *data, int err)
{
	struct jazz_areq *ar = data;
	struct jazz_crypt_async *as = ar->as;
	struct jazz_key *key = ar->key;
	struct sk_buff *skb = ar->skb;
	bool decrypt = ar->decrypt;

	if (err == -EINPROGRESS)	/* a backlogged request started */
		return;
	jazz_areq_recycle(ar);		/* before the key's count drops */
	if (decrypt)
		err = jazz_decrypt_finish(skb, err);
	if (atomic_dec_and_test(&key->inflight))
		wake_up_var(&key->inflight);
	local_bh_disable();
	rcu_read_lock();
	as->done(skb, err);
	if (atomic_dec_and_test(&as->inflight))
		wake_up_var(&as->inflight);
	rcu_read_unlock();
	local_bh_enable();
}

JAZZ_COMPAT_CRYPTO_DONE(jazz_areq_complete, jazz_areq_done)

/*
 * Run @skb's AEAD on an asynchronous tfm with a request of its own.
 * Returns -EINPROGRESS when the completion will finish the packet, else
 * the result now (the request is gone either way).
 */
static int jazz_aead_async(struct jazz_key *key, struct crypto_aead *tfm,
			   struct jazz_areq *__percpu *spare,
			   struct sk_buff *skb, int nsg, unsigned int cryptlen,
			   const u8 *salt, u64 counter, bool decrypt,
			   struct jazz_crypt_async *as)
{
	struct jazz_areq *ar;
	int err;

	ar = this_cpu_xchg(*spare, NULL);
	if (!ar) {
		ar = kmalloc(sizeof(*ar) + crypto_aead_reqsize(tfm),
			     GFP_ATOMIC);
		if (!ar)
			return -ENOMEM;
	}
	ar->spare = spare;
	sg_init_table(ar->sg, nsg);
	err = skb_to_sgvec(skb, ar->sg, 0, skb->len);
	if (err < 0) {
		jazz_areq_recycle(ar);
		return err;
	}
	ar->skb = skb;
	ar->key = key;
	ar->as = as;
	ar->decrypt = decrypt;
	jazz_nonce(ar->nonce, salt, counter);
	aead_request_set_tfm(&ar->req, tfm);
	aead_request_set_callback(&ar->req, CRYPTO_TFM_REQ_MAY_BACKLOG,
				  jazz_areq_complete, ar);
	aead_request_set_ad(&ar->req, JAZZ_HDR_LEN);
	aead_request_set_crypt(&ar->req, ar->sg, ar->sg, cryptlen, ar->nonce);
	atomic_inc(&key->inflight);
	atomic_inc(&as->inflight);
	err = decrypt ? crypto_aead_decrypt(&ar->req) :
			crypto_aead_encrypt(&ar->req);
	if (err == -EINPROGRESS || err == -EBUSY)
		return -EINPROGRESS;
	/* Done at once (a SIMD wrapper may run the cipher inline). */
	jazz_areq_recycle(ar);
	jazz_async_put(key, as);
	return err;
}

/* Run @skb's AEAD on a synchronous tfm with this cpu's request. */
static int jazz_aead_sync(struct aead_request *__percpu *reqs,
			  struct sk_buff *skb, int nsg, unsigned int cryptlen,
			  const u8 *salt, u64 counter, bool decrypt)
{
	struct scatterlist sg[JAZZ_MAX_SG];
	struct aead_request *req;
	u8 nonce[JAZZ_NONCE_LEN];
	int err;

	sg_init_table(sg, nsg);
	err = skb_to_sgvec(skb, sg, 0, skb->len);
	if (err < 0)
		return err;
	jazz_nonce(nonce, salt, counter);
	req = jazz_req(reqs);
	aead_request_set_ad(req, JAZZ_HDR_LEN);
	aead_request_set_crypt(req, sg, sg, cryptlen, nonce);
	err = decrypt ? crypto_aead_decrypt(req) : crypto_aead_encrypt(req);
	memzero_explicit(nonce, sizeof(nonce));
	return err;
}

/*
 * @skb's AEAD on lib/crypto: @len bytes after the header (the plaintext,
 * or the ciphertext and its tag), the header as associated data; @nsg
 * entries cover the whole skb, tag room included. The library's nonce is
 * 32 zero bits and its 64-bit argument in little-endian order, jazz's the
 * zero salt and the counter in big-endian order: the argument is the
 * counter's big-endian bytes read as a little-endian number.
 */
static int jazz_lib_crypt(const u8 *k, struct sk_buff *skb, int nsg,
			  unsigned int len, u64 counter, bool decrypt)
{
	u64 nonce = le64_to_cpu((__force __le64)cpu_to_be64(counter));
	struct scatterlist sg[JAZZ_MAX_SG];
	bool ok;
	int err;

	sg_init_table(sg, nsg);
	err = skb_to_sgvec(skb, sg, JAZZ_HDR_LEN,
			   decrypt ? len : len + JAZZ_TAG_LEN);
	if (err < 0)
		return err;
	if (decrypt)
		ok = chacha20poly1305_decrypt_sg_inplace(sg, len, skb->data,
							 JAZZ_HDR_LEN, nonce, k);
	else
		ok = chacha20poly1305_encrypt_sg_inplace(sg, len, skb->data,
							 JAZZ_HDR_LEN, nonce, k);
	return ok ? 0 : -EBADMSG;
}

int jazz_key_encrypt(struct jazz_key *key, struct sk_buff *skb,
		     u32 receiver, u64 counter, struct jazz_crypt_async *as)
{
	struct sk_buff *trailer;
	unsigned int plen;
	int nsg;

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

	if (key->lib)
		return jazz_lib_crypt(key->tx_key, skb, nsg + 1, plen, counter,
				      false);
	if (!key->tx_req)
		return jazz_aead_async(key, key->tx_tfm, key->tx_spare, skb,
				       nsg + 1, plen, key->tx_salt, counter,
				       false, as);
	return jazz_aead_sync(key->tx_req, skb, nsg + 1, plen, key->tx_salt,
			      counter, false);
}

int jazz_key_decrypt(struct jazz_key *key, struct sk_buff *skb, u64 counter,
		     struct jazz_crypt_async *as)
{
	unsigned int clen = skb->len - JAZZ_HDR_LEN;
	struct sk_buff *trailer;
	int nsg, err;

	if (skb->len < JAZZ_OVERHEAD)
		return -EINVAL;
	nsg = skb_cow_data(skb, 0, &trailer);
	if (nsg < 0 || nsg > JAZZ_MAX_SG)
		return -ENOMEM;
	if (key->lib) {
		err = jazz_lib_crypt(key->rx_key, skb, nsg, clen, counter, true);
	} else if (!key->rx_req) {
		err = jazz_aead_async(key, key->rx_tfm, key->rx_spare, skb,
				      nsg, clen, key->rx_salt, counter, true,
				      as);
		if (err == -EINPROGRESS)
			return err;
	} else {
		err = jazz_aead_sync(key->rx_req, skb, nsg, clen, key->rx_salt,
				     counter, true);
	}
	return jazz_decrypt_finish(skb, err);
}

void jazz_crypt_async_wait(struct jazz_crypt_async *as)
{
	wait_var_event(&as->inflight, !atomic_read(&as->inflight));
}

/*
 * Warm-up at module load. The first crypto_alloc_aead() of a cipher loads
 * its modules and builds and self-tests its template instance: 2-5 s in a
 * guest without KVM, and with on-demand pair keys that lands on the first
 * packet of a new pair. One work item on jazz_key_wq allocates (and frees)
 * a tfm of each cipher right after load instead; the instances it makes
 * stay registered with the crypto API. It records the driver each cipher
 * resolved to, read through the crypto_drivers parameter. The work is
 * queued once by jazz_crypto_init(); destroy_workqueue() in
 * jazz_crypto_exit() waits for it, so it never outlives the module.
 * jazz_warm_lock guards jazz_warm_driver[].
 */
static DEFINE_MUTEX(jazz_warm_lock);
static char jazz_warm_driver[ARRAY_SIZE(jazz_cipher_names)][CRYPTO_MAX_ALG_NAME];

static void jazz_crypto_warm(struct work_struct *w)
{
	struct crypto_aead *tfm;
	u8 c;

	for (c = 0; c < ARRAY_SIZE(jazz_cipher_names); c++) {
		if (!jazz_cipher_names[c])
			continue;
		tfm = jazz_aead_alloc(c);
		mutex_lock(&jazz_warm_lock);
		strscpy(jazz_warm_driver[c],
			IS_ERR(tfm) ? "-" : crypto_aead_driver_name(tfm),
			sizeof(jazz_warm_driver[c]));
		mutex_unlock(&jazz_warm_lock);
		if (!IS_ERR(tfm))
			crypto_free_aead(tfm);
	}
}

static DECLARE_WORK(jazz_warm_work, jazz_crypto_warm);

/* "crypto_drivers": "<cipher>=<driver>" per cipher once warmed, else "". */
static int jazz_crypto_drivers_get(char *buf, const struct kernel_param *kp)
{
	static const char *const label[] = {
		[JAZZ_CIPHER_CHACHA20_POLY1305] = "chacha20-poly1305",
		[JAZZ_CIPHER_AES_256_GCM] = "aes-256-gcm",
	};
	int len = 0;
	u8 c;

	mutex_lock(&jazz_warm_lock);
	for (c = 0; c < ARRAY_SIZE(label); c++) {
		if (label[c] && jazz_warm_driver[c][0])
			len += sysfs_emit_at(buf, len, "%s%s=%s", len ? " " : "",
					     label[c], jazz_warm_driver[c]);
	}
	mutex_unlock(&jazz_warm_lock);
	return len + sysfs_emit_at(buf, len, "\n");
}

static const struct kernel_param_ops jazz_crypto_drivers_ops = {
	.get = jazz_crypto_drivers_get,
};
module_param_cb(crypto_drivers, &jazz_crypto_drivers_ops, NULL, 0444);
MODULE_PARM_DESC(crypto_drivers,
		 "AEAD driver each cipher resolved to at load (read only)");

int jazz_crypto_init(void)
{
	jazz_key_wq = alloc_workqueue("jazz-key", WQ_UNBOUND, 0);
	if (!jazz_key_wq)
		return -ENOMEM;
	queue_work(jazz_key_wq, &jazz_warm_work);
	return 0;
}

void jazz_crypto_exit(void)
{
	/*
	 * Devices waited for their asynchronous requests; a grace period
	 * more and every completion (BHs off) has returned from this module.
	 */
	synchronize_rcu();
	rcu_barrier();
	destroy_workqueue(jazz_key_wq);
}
