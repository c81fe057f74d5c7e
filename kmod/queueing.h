/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Parallel crypto with per-peer ordering.
 *
 * Every packet to encrypt or decrypt goes on two queues at once:
 *
 * - the peer's ordered queue (struct jazz_pqueue, one for tx and one for
 *   rx per peer), in the order the packets must leave: counter order on
 *   send, arrival order on receive;
 * - the device's crypt queue (struct jazz_crypt_queue, one for encryption
 *   and one for decryption per device): a bounded multi-producer ring that
 *   per-cpu crypt workers on all CPUs empty, round robin.
 *
 * A crypt worker takes a packet from the ring, runs the crypto, sets the
 * packet's state (JAZZ_PKT_CRYPTED or JAZZ_PKT_DEAD) and queues the ordered
 * queue's work item. With an asynchronous AEAD the worker only submits the
 * request; the cipher's completion does the rest (@async.done), and
 * @async.inflight counts the device's requests not yet completed. The
 * ordered queue's work runs on one fixed cpu per queue (so the packets of
 * a peer leave through one cpu's backlog and GRO cell, in
 * order) and hands every packet at the head whose state is no longer
 * JAZZ_PKT_NEW to the queue's @done handler, up to 64 at a time as one
 * list: send (a run of equal-sized datagrams leaves as one UDP GSO
 * super-packet, send.c), or replay check and delivery.
 *
 * Lifetime: a queued packet holds a reference on its peer and on its key
 * (struct jazz_cb), dropped by the @done handler; a queued ordered-queue
 * work holds a peer reference too, so neither goes away under a worker.
 * Crypto and @done run with BHs disabled, inside rcu_read_lock(). A
 * device's crypt queues are emptied by jazz_crypt_queue_free() (ndo_uninit:
 * no producer is left then), which also waits for the device's
 * asynchronous requests to complete, after which every packet has left
 * its peer queue or is on its way out through a queued work.
 *
 * Locking: @list.lock protects the ordered list and is taken with BHs
 * disabled; a packet's state is written once, by the crypt worker
 * (release), and read under @list.lock (acquire). The ring has its own
 * producer and consumer locks (ptr_ring).
 */
#ifndef _JAZZ_QUEUEING_H
#define _JAZZ_QUEUEING_H

#include <linux/skbuff.h>
#include <linux/ptr_ring.h>
#include <linux/workqueue.h>
#include <linux/atomic.h>
#include "crypto.h"

struct jazz_peer;

/* Most packets waiting in one device crypt ring / one peer queue. */
#define JAZZ_CRYPT_RING_LEN	4096
#define JAZZ_PEER_QUEUE_LEN	4096

/* Module parameter peer_queue_len (tests lower it to provoke full queues). */
extern unsigned int jazz_peer_queue_len;

/* Is @pq full? Called with @pq->list.lock held. */
#define jazz_pqueue_full(pq) \
	(skb_queue_len(&(pq)->list) >= READ_ONCE(jazz_peer_queue_len))

enum {
	JAZZ_PKT_NEW,
	JAZZ_PKT_CRYPTED,
	JAZZ_PKT_DEAD,
};

/* skb->cb of a packet between the device's entry points and its exit. */
struct jazz_cb {
	struct jazz_peer *peer;	/* holds a reference */
	struct jazz_key *key;	/* holds a reference */
	u64 counter;
	atomic_t state;
	u8 depth;		/* tx: tunnel nesting depth at jazz_xmit() */
	u8 ds;			/* outer DS field: tx to set, rx as received */
	u8 xnet;		/* rx: the socket is in another namespace */
};

static_assert(sizeof(struct jazz_cb) <= sizeof_field(struct sk_buff, cb));

#define JAZZ_CB(skb) ((struct jazz_cb *)(skb)->cb)

/* A per-peer queue of packets that must leave in order. */
struct jazz_pqueue {
	struct sk_buff_head list;
	struct work_struct work;	/* drains the head; on @cpu */
	struct jazz_peer *peer;
	int cpu;
	/*
	 * Handles the packets taken from the head that are no longer NEW,
	 * in order; consumes them all.
	 */
	void (*done)(struct sk_buff_head *ready);
};

struct jazz_crypt_worker {
	struct work_struct work;
	struct jazz_crypt_queue *queue;
};

/* A device's ring of packets waiting for the crypt workers. */
struct jazz_crypt_queue {
	struct ptr_ring ring;
	struct jazz_crypt_worker __percpu *workers;
	int last_cpu;
	/*
	 * Encrypts or decrypts; then calls jazz_pqueue_finish(), itself or,
	 * for an asynchronous AEAD, through @async.done.
	 */
	void (*crypt)(struct sk_buff *skb);
	struct jazz_crypt_async async;
};

int jazz_queueing_init(void);
void jazz_queueing_exit(void);
/* Wait for every queued crypt and ordered-queue work of all devices. */
void jazz_queueing_flush(void);

int jazz_crypt_queue_init(struct jazz_crypt_queue *cq,
			  void (*crypt)(struct sk_buff *skb),
			  void (*done)(struct sk_buff *skb, int err));
/*
 * Waits for the workers and the asynchronous requests, and frees the ring;
 * no producer may be left.
 */
void jazz_crypt_queue_free(struct jazz_crypt_queue *cq);

void jazz_pqueue_init(struct jazz_pqueue *pq, struct jazz_peer *peer,
		      int cpu, void (*done)(struct sk_buff_head *ready));
/* An online cpu picked by @n, for spreading peers' ordered queues. */
int jazz_pick_cpu(u32 n);

/*
 * Put @skb, already appended to @pq by the caller, on the crypt ring and
 * wake a worker. If the ring is full the packet is marked dead (it still
 * leaves @pq in order, through @done) and false is returned.
 */
bool jazz_crypt_enqueue(struct jazz_crypt_queue *cq, struct jazz_pqueue *pq,
			struct sk_buff *skb);

/*
 * The same for the @n packets of @skbs (appended to @pq in this order by
 * the caller) under one hold of the ring's producer lock, waking up to one
 * worker per online cpu. Those that do not fit are marked dead; returns
 * how many. BHs off, rcu_read_lock held.
 */
unsigned int jazz_crypt_enqueue_burst(struct jazz_crypt_queue *cq,
				      struct jazz_pqueue *pq,
				      struct sk_buff **skbs, unsigned int n);

/*
 * Set @skb's final state and let the ordered queue move. The caller holds
 * @skb (and so a reference on its peer) until this call.
 */
void jazz_pqueue_finish(struct jazz_pqueue *pq, struct sk_buff *skb,
			int state);

#endif /* _JAZZ_QUEUEING_H */
