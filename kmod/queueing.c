// SPDX-License-Identifier: GPL-2.0
/*
 * jazz: per-cpu crypt workers and per-peer ordered queues (queueing.h).
 */
#include <linux/cpumask.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/percpu.h>
#include <linux/sched.h>
#include "queueing.h"
#include "peer.h"

static struct workqueue_struct *jazz_crypt_wq;

unsigned int jazz_peer_queue_len = JAZZ_PEER_QUEUE_LEN;
module_param_named(peer_queue_len, jazz_peer_queue_len, uint, 0644);
MODULE_PARM_DESC(peer_queue_len,
		 "Most packets per peer and direction waiting for crypto");

/* The next online cpu after @cq's last one, round robin. */
static int jazz_next_cpu(struct jazz_crypt_queue *cq)
{
	int cpu = cpumask_next(READ_ONCE(cq->last_cpu), cpu_online_mask);

	if (cpu >= nr_cpu_ids)
		cpu = cpumask_first(cpu_online_mask);
	WRITE_ONCE(cq->last_cpu, cpu);
	return cpu;
}

static void jazz_crypt_one(struct jazz_crypt_queue *cq, struct sk_buff *skb)
{
	local_bh_disable();
	rcu_read_lock();
	cq->crypt(skb);
	rcu_read_unlock();
	local_bh_enable();
}

static void jazz_crypt_work(struct work_struct *work)
{
	struct jazz_crypt_worker *w =
		container_of(work, struct jazz_crypt_worker, work);
	struct jazz_crypt_queue *cq = w->queue;
	struct sk_buff *skb;
	unsigned int n = 0;

	while ((skb = ptr_ring_consume_bh(&cq->ring))) {
		jazz_crypt_one(cq, skb);
		if (!(++n % 32))
			cond_resched();
	}
}

int jazz_crypt_queue_init(struct jazz_crypt_queue *cq,
			  void (*crypt)(struct sk_buff *skb),
			  void (*done)(struct sk_buff *skb, int err))
{
	int cpu, err;

	err = ptr_ring_init(&cq->ring, JAZZ_CRYPT_RING_LEN, GFP_KERNEL);
	if (err)
		return err;
	cq->workers = alloc_percpu(struct jazz_crypt_worker);
	if (!cq->workers) {
		ptr_ring_cleanup(&cq->ring, NULL);
		return -ENOMEM;
	}
	for_each_possible_cpu(cpu) {
		struct jazz_crypt_worker *w = per_cpu_ptr(cq->workers, cpu);

		INIT_WORK(&w->work, jazz_crypt_work);
		w->queue = cq;
	}
	cq->last_cpu = -1;
	cq->crypt = crypt;
	atomic_set(&cq->async.inflight, 0);
	cq->async.done = done;
	return 0;
}

void jazz_crypt_queue_free(struct jazz_crypt_queue *cq)
{
	struct sk_buff *skb;
	int cpu;

	if (!cq->workers)
		return;
	for_each_possible_cpu(cpu)
		flush_work(&per_cpu_ptr(cq->workers, cpu)->work);
	/*
	 * Every enqueue wakes a worker after producing, so the ring is empty
	 * now; should a packet remain, it takes the workers' way out.
	 */
	while ((skb = ptr_ring_consume_bh(&cq->ring)))
		jazz_crypt_one(cq, skb);
	/* Their completions queue ordered-queue works: the caller flushes. */
	jazz_crypt_async_wait(&cq->async);
	ptr_ring_cleanup(&cq->ring, NULL);
	free_percpu(cq->workers);
	cq->workers = NULL;
}

bool jazz_crypt_enqueue(struct jazz_crypt_queue *cq, struct jazz_pqueue *pq,
			struct sk_buff *skb)
{
	int cpu;

	if (unlikely(ptr_ring_produce_bh(&cq->ring, skb))) {
		local_bh_disable();
		rcu_read_lock();
		jazz_pqueue_finish(pq, skb, JAZZ_PKT_DEAD);
		rcu_read_unlock();
		local_bh_enable();
		return false;
	}
	cpu = jazz_next_cpu(cq);
	queue_work_on(cpu, jazz_crypt_wq, &per_cpu_ptr(cq->workers, cpu)->work);
	return true;
}

unsigned int jazz_crypt_enqueue_burst(struct jazz_crypt_queue *cq,
				      struct jazz_pqueue *pq,
				      struct sk_buff **skbs, unsigned int n)
{
	unsigned int fit, i, wake;
	int cpu;

	spin_lock(&cq->ring.producer_lock);
	for (fit = 0; fit < n; fit++)
		if (__ptr_ring_produce(&cq->ring, skbs[fit]))
			break;
	spin_unlock(&cq->ring.producer_lock);
	for (i = fit; i < n; i++)
		jazz_pqueue_finish(pq, skbs[i], JAZZ_PKT_DEAD);
	/* The workers empty the ring: one woken per cpu is enough. */
	wake = min(fit, num_online_cpus());
	while (wake--) {
		cpu = jazz_next_cpu(cq);
		queue_work_on(cpu, jazz_crypt_wq,
			      &per_cpu_ptr(cq->workers, cpu)->work);
	}
	return n - fit;
}

/*
 * Hand at most @budget ready packets at the head of @pq to @pq->done, in
 * order. Returns true if more are ready. BHs off, rcu_read_lock held.
 */
static bool jazz_pqueue_drain(struct jazz_pqueue *pq, unsigned int budget)
{
	struct sk_buff_head ready;
	struct sk_buff *skb;
	bool more;

	__skb_queue_head_init(&ready);
	spin_lock(&pq->list.lock);
	while ((skb = skb_peek(&pq->list)) &&
	       atomic_read_acquire(&JAZZ_CB(skb)->state) != JAZZ_PKT_NEW &&
	       budget--) {
		__skb_unlink(skb, &pq->list);
		__skb_queue_tail(&ready, skb);
	}
	more = skb && atomic_read_acquire(&JAZZ_CB(skb)->state) !=
		      JAZZ_PKT_NEW;
	spin_unlock(&pq->list.lock);
	if (!skb_queue_empty(&ready))
		pq->done(&ready);
	return more;
}

/* The ordered queue's work: a work item never runs twice at once. */
static void jazz_pqueue_work(struct work_struct *work)
{
	struct jazz_pqueue *pq = container_of(work, struct jazz_pqueue, work);
	struct jazz_peer *peer = pq->peer;
	bool more;

	do {
		local_bh_disable();
		rcu_read_lock();
		more = jazz_pqueue_drain(pq, 64);
		rcu_read_unlock();
		local_bh_enable();
		cond_resched();
	} while (more);
	/* The reference taken when the work was queued; may free @pq. */
	jazz_peer_put(peer);
}

void jazz_pqueue_init(struct jazz_pqueue *pq, struct jazz_peer *peer,
		      int cpu, void (*done)(struct sk_buff_head *ready))
{
	skb_queue_head_init(&pq->list);
	INIT_WORK(&pq->work, jazz_pqueue_work);
	pq->peer = peer;
	pq->cpu = cpu;
	pq->done = done;
}

int jazz_pick_cpu(u32 n)
{
	unsigned int i = n % max(num_online_cpus(), 1U);
	int cpu;

	for_each_online_cpu(cpu)
		if (!i--)
			return cpu;
	return cpumask_first(cpu_online_mask);
}

void jazz_pqueue_finish(struct jazz_pqueue *pq, struct sk_buff *skb,
			int state)
{
	struct jazz_peer *peer = pq->peer;

	/* For the work; safe while @skb still pins the peer. */
	jazz_peer_get(peer);
	atomic_set_release(&JAZZ_CB(skb)->state, state);
	/* @skb may be gone from here on: the work may have sent it. */
	if (!queue_work_on(pq->cpu, jazz_crypt_wq, &pq->work))
		jazz_peer_put(peer);	/* a pending work holds one */
}

void jazz_queueing_flush(void)
{
	flush_workqueue(jazz_crypt_wq);
}

int jazz_queueing_init(void)
{
	jazz_crypt_wq = alloc_workqueue("jazz-crypt",
					WQ_CPU_INTENSIVE | WQ_MEM_RECLAIM, 0);
	return jazz_crypt_wq ? 0 : -ENOMEM;
}

void jazz_queueing_exit(void)
{
	destroy_workqueue(jazz_crypt_wq);
}
