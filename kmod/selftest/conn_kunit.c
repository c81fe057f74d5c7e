// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of the direct-connection table (conn.c): key normalisation,
 * insert/lookup/removal against a naive reference model on random input,
 * forced hash collisions, expiry by the GC (idle, FIN/RST, lifetime,
 * back-off, approval timeout with no listener) and the hold limits.
 * conn.c is included; the few functions it calls outside the table (send,
 * deliver, the netlink group) are replaced below by recording doubles.
 */
#include <kunit/test.h>
#include <linux/random.h>
#include <linux/etherdevice.h>
#include "../conn.c"

static int kt_notified[JAZZ_CONN_END_PEER_REMOVED + 1];
static bool kt_listening;
/* Released packets, in order: mark, negated when delivered (ingress). */
static long kt_released[16];
static int kt_n_released;

static void kt_release_log(long v)
{
	if (kt_n_released < ARRAY_SIZE(kt_released))
		kt_released[kt_n_released++] = v;
}

void jazz_send_to_peer(struct jazz_peer *peer, struct sk_buff *skb)
{
	kt_release_log(skb->mark);
	kfree_skb(skb);
}

void jazz_deliver(struct jazz_device *jd, struct jazz_peer *peer,
		  struct sk_buff *skb)
{
	kt_release_log(-(long)skb->mark);
	kfree_skb(skb);
}

bool jazz_approvals_listening(struct net *net)
{
	return kt_listening;
}

int jazz_approvals_multicast(struct net *net, struct sk_buff *msg)
{
	kfree_skb(msg);
	return 0;
}

struct sk_buff *jazz_conn_msg(struct jazz_conn_table *t, struct jazz_conn *c,
			      u8 cmd, u8 end)
{
	if (cmd == JAZZ_CMD_CONN_EXPIRE_NTF && end < ARRAY_SIZE(kt_notified))
		kt_notified[end]++;
	return NULL;
}

int jazz_conn_notify(struct jazz_conn_table *t, struct jazz_conn *c, u8 cmd,
		     u8 end)
{
	jazz_conn_msg(t, c, cmd, end);
	return 0;
}

/* ---- fixture ---- */

struct kt_fix {
	struct net_device *dev;
	struct jazz_device *jd;
	struct jazz_conn_table *t;
	struct jazz_peer *peer;
};

static void kt_setup(struct kunit *test, struct kt_fix *f)
{
	f->dev = alloc_netdev(sizeof(struct jazz_device), "jzkt%d",
			      NET_NAME_UNKNOWN, ether_setup);
	KUNIT_ASSERT_NOT_NULL(test, f->dev);
	f->jd = netdev_priv(f->dev);
	f->jd->dev = f->dev;
	f->jd->tcp_idle_s = 100;
	f->jd->udp_idle_s = 20;
	f->jd->other_idle_s = 5;
	f->jd->deny_backoff_ms = 2000;
	f->jd->approval_timeout_ms = 1000;
	f->jd->hold_max = 1024;
	f->jd->conn_max = 1 << 20;
	f->t = jazz_conn_table_alloc(f->jd);
	KUNIT_ASSERT_NOT_NULL(test, f->t);
	/* Keep the real GC worker out: the tests drive the GC by hand. */
	f->t->dead = true;
	f->peer = kunit_kzalloc(test, sizeof(*f->peer), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, f->peer);
	f->peer->id = 7;
	/* jazz_conn_new() links each entry on its peer's list. */
	INIT_LIST_HEAD(&f->peer->conns);
	memset(kt_notified, 0, sizeof(kt_notified));
	kt_listening = false;
}

static void kt_teardown(struct kt_fix *f)
{
	jazz_conn_flush(f->t, NULL, JAZZ_CONN_END_DELETED);
	jazz_conn_tables_del(f->t);
	kvfree(f->t->hash);
	kvfree(f->t->cookies);
	kfree(f->t);
	atomic_dec(&jazz_conn_tables_live);
	rcu_barrier();
	free_netdev(f->dev);
}

/* A random tuple from a small space (so the model sees repeats). */
static void kt_tuple(struct jazz_conn_tuple *tu, u32 space)
{
	static const u8 protos[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP,
				     IPPROTO_GRE };
	u8 proto = protos[get_random_u32() % ARRAY_SIZE(protos)];

	memset(tu, 0, sizeof(*tu));
	tu->src.s6_addr32[0] = htonl(0x0a000000 | (get_random_u32() % space));
	tu->dst.s6_addr32[0] = htonl(0x0a000000 | (get_random_u32() % space));
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
		tu->sport = htons(get_random_u32() % space);
		tu->dport = htons(get_random_u32() % space);
	} else if (proto == IPPROTO_ICMP) {
		tu->sport = htons(get_random_u32() % space);
		tu->dport = tu->sport;
	}
	jazz_conn_key_make(&tu->key, AF_INET, proto, &tu->src, tu->sport,
			   &tu->dst, tu->dport);
}

static struct jazz_conn *kt_insert(struct kt_fix *f,
				   const struct jazz_conn_tuple *tu, u8 state)
{
	struct jazz_conn *c;

	spin_lock_bh(&f->t->lock);
	c = jazz_conn_new(f->t, tu, f->peer, JAZZ_DIRECTION_EGRESS, state);
	spin_unlock_bh(&f->t->lock);
	return c;
}

static struct jazz_conn *kt_lookup(struct kt_fix *f,
				   const struct jazz_conn_key *key)
{
	struct jazz_conn *c;

	rcu_read_lock();
	c = jazz_conn_lookup(f->t, key);
	rcu_read_unlock();
	return c;
}

/* ---- keys ---- */

static void conn_key_normalized(struct kunit *test)
{
	struct jazz_conn_key k1, k2, k3;
	struct in6_addr a = {}, b = {};

	a.s6_addr32[0] = htonl(0x0a000001);
	b.s6_addr32[0] = htonl(0x0a000002);
	jazz_conn_key_make(&k1, AF_INET, IPPROTO_TCP, &a, htons(40000), &b,
			   htons(22));
	jazz_conn_key_make(&k2, AF_INET, IPPROTO_TCP, &b, htons(22), &a,
			   htons(40000));
	KUNIT_EXPECT_EQ(test, memcmp(&k1, &k2, sizeof(k1)), 0);
	/* Other port, protocol or family: another connection. */
	jazz_conn_key_make(&k3, AF_INET, IPPROTO_TCP, &a, htons(40001), &b,
			   htons(22));
	KUNIT_EXPECT_NE(test, memcmp(&k1, &k3, sizeof(k1)), 0);
	jazz_conn_key_make(&k3, AF_INET, IPPROTO_UDP, &a, htons(40000), &b,
			   htons(22));
	KUNIT_EXPECT_NE(test, memcmp(&k1, &k3, sizeof(k1)), 0);
	jazz_conn_key_make(&k3, AF_INET6, IPPROTO_TCP, &a, htons(40000), &b,
			   htons(22));
	KUNIT_EXPECT_NE(test, memcmp(&k1, &k3, sizeof(k1)), 0);
	/* Same address both ends (loopback-like): ordered by port. */
	jazz_conn_key_make(&k1, AF_INET, IPPROTO_UDP, &a, htons(5), &a,
			   htons(9));
	jazz_conn_key_make(&k2, AF_INET, IPPROTO_UDP, &a, htons(9), &a,
			   htons(5));
	KUNIT_EXPECT_EQ(test, memcmp(&k1, &k2, sizeof(k1)), 0);
}

/* ---- table against a naive model ---- */

#define KT_N 3000

static int kt_model_find(struct jazz_conn_key *m, int n,
			 const struct jazz_conn_key *k)
{
	int i;

	for (i = 0; i < n; i++)
		if (!memcmp(&m[i], k, sizeof(*k)))
			return i;
	return -1;
}

static void conn_table_vs_model(struct kunit *test)
{
	struct jazz_conn_key *model;
	struct jazz_conn **ents;
	struct jazz_conn_tuple tu;
	struct jazz_conn *c;
	struct kt_fix f;
	int i, n = 0, round;

	kt_setup(test, &f);
	model = kunit_kcalloc(test, KT_N, sizeof(*model), GFP_KERNEL);
	ents = kunit_kcalloc(test, KT_N, sizeof(*ents), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, model);
	KUNIT_ASSERT_NOT_NULL(test, ents);
	for (round = 0; round < 3; round++) {
		/* Insert random tuples the model does not have yet. */
		for (i = 0; i < KT_N && n < KT_N; i++) {
			kt_tuple(&tu, 64);
			c = kt_lookup(&f, &tu.key);
			KUNIT_ASSERT_EQ(test, !!c,
					kt_model_find(model, n, &tu.key) >= 0);
			if (c)
				continue;
			c = kt_insert(&f, &tu, JAZZ_CONN_STATE_APPROVED);
			KUNIT_ASSERT_NOT_NULL(test, c);
			model[n] = tu.key;
			ents[n++] = c;
		}
		KUNIT_EXPECT_EQ(test, f.t->count, (unsigned int)n);
		/* Every model key is found, as the same entry. */
		for (i = 0; i < n; i++) {
			KUNIT_EXPECT_PTR_EQ(test, kt_lookup(&f, &model[i]),
					    ents[i]);
			spin_lock_bh(&f.t->lock);
			KUNIT_EXPECT_PTR_EQ(test,
					    jazz_conn_by_cookie(f.t,
								ents[i]->cookie),
					    ents[i]);
			spin_unlock_bh(&f.t->lock);
		}
		/* Random keys: found exactly when the model has them. */
		for (i = 0; i < KT_N; i++) {
			kt_tuple(&tu, 256);
			KUNIT_EXPECT_EQ(test, !!kt_lookup(&f, &tu.key),
					kt_model_find(model, n, &tu.key) >= 0);
		}
		/* Remove a random half; the model follows. */
		for (i = 0; i < n; ) {
			if (get_random_u32() & 1) {
				i++;
				continue;
			}
			jazz_conn_remove(f.t, ents[i], JAZZ_CONN_END_DELETED);
			KUNIT_EXPECT_NULL(test, kt_lookup(&f, &model[i]));
			model[i] = model[n - 1];
			ents[i] = ents[n - 1];
			n--;
		}
		KUNIT_EXPECT_EQ(test, f.t->count, (unsigned int)n);
	}
	kt_teardown(&f);
}

/* ---- forced hash collisions ---- */

#define KT_COLL 40

static void conn_hash_collisions(struct kunit *test)
{
	struct jazz_conn_tuple *tus;
	struct jazz_conn *ents[KT_COLL];
	struct jazz_conn_tuple tu;
	u32 bucket = ~0U, h;
	struct kt_fix f;
	int n = 0, i, tries;

	kt_setup(test, &f);
	tus = kunit_kcalloc(test, KT_COLL, sizeof(*tus), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, tus);
	/* Search keys that all land in one bucket. */
	for (tries = 0; n < KT_COLL && tries < 4000000; tries++) {
		kt_tuple(&tu, 1 << 16);
		h = jazz_conn_hash(f.t, &tu.key) &
		    ((1 << JAZZ_CONN_HASH_BITS) - 1);
		if (bucket == ~0U)
			bucket = h;
		if (h != bucket || kt_lookup(&f, &tu.key))
			continue;
		tus[n] = tu;
		ents[n] = kt_insert(&f, &tu, JAZZ_CONN_STATE_APPROVED);
		KUNIT_ASSERT_NOT_NULL(test, ents[n]);
		n++;
	}
	KUNIT_ASSERT_EQ(test, n, KT_COLL);
	for (i = 0; i < n; i++)
		KUNIT_EXPECT_PTR_EQ(test, kt_lookup(&f, &tus[i].key), ents[i]);
	/* Remove every third one from the chain; the others stay. */
	for (i = 0; i < n; i += 3)
		jazz_conn_remove(f.t, ents[i], JAZZ_CONN_END_DELETED);
	for (i = 0; i < n; i++)
		KUNIT_EXPECT_PTR_EQ(test, kt_lookup(&f, &tus[i].key),
				    i % 3 ? ents[i] : NULL);
	KUNIT_EXPECT_EQ(test, kt_notified[JAZZ_CONN_END_DELETED],
			(n + 2) / 3);
	kt_teardown(&f);
}

/* ---- expiry ---- */

static void conn_expiry(struct kunit *test)
{
	struct jazz_conn *tcp, *udp, *icmp, *fin, *life, *pend;
	struct jazz_conn_tuple tu;
	unsigned long now = jiffies;
	struct kt_fix f;

	kt_setup(test, &f);
	do {
		kt_tuple(&tu, 1 << 16);
	} while (tu.key.proto != IPPROTO_TCP);
	tcp = kt_insert(&f, &tu, JAZZ_CONN_STATE_APPROVED);
	tu.key.port_a ^= htons(1);
	fin = kt_insert(&f, &tu, JAZZ_CONN_STATE_APPROVED);
	fin->fin = 3;
	tu.key.port_a ^= htons(2);
	life = kt_insert(&f, &tu, JAZZ_CONN_STATE_APPROVED);
	life->has_deadline = true;
	life->deadline = now + 3 * HZ;
	tu.key.proto = IPPROTO_UDP;
	udp = kt_insert(&f, &tu, JAZZ_CONN_STATE_APPROVED);
	tu.key.proto = IPPROTO_ICMP;
	icmp = kt_insert(&f, &tu, JAZZ_CONN_STATE_APPROVED);
	tu.key.proto = IPPROTO_GRE;
	pend = kt_insert(&f, &tu, JAZZ_CONN_STATE_PENDING);
	pend->has_deadline = true;
	pend->deadline = now + HZ;
	KUNIT_ASSERT_EQ(test, f.t->count, 6U);

	/* Listening, before any deadline: nothing happens. */
	kt_listening = true;
	jazz_conn_gc_run(f.t, now + HZ / 2);
	KUNIT_EXPECT_EQ(test, f.t->count, 6U);
	KUNIT_EXPECT_EQ(test, pend->state, JAZZ_CONN_STATE_PENDING);
	/* Approval timeout: refused for the back-off, notified once. */
	jazz_conn_gc_run(f.t, now + HZ + 1);
	KUNIT_EXPECT_EQ(test, pend->state, JAZZ_CONN_STATE_DENIED);
	KUNIT_EXPECT_EQ(test, kt_notified[JAZZ_CONN_END_TIMEOUT], 1);
	/* Lifetime (3 s) before the ICMP idle time (5 s). */
	jazz_conn_gc_run(f.t, now + 3 * HZ + 1);
	KUNIT_EXPECT_NULL(test, kt_lookup(&f, &life->key));
	KUNIT_EXPECT_EQ(test, kt_notified[JAZZ_CONN_END_LIFETIME], 1);
	/* Back-off over (1 + 2 s): gone without a second notification. */
	KUNIT_EXPECT_EQ(test, kt_notified[JAZZ_CONN_END_TIMEOUT], 1);
	KUNIT_EXPECT_NULL(test, kt_lookup(&f, &pend->key));
	/* FIN both ways: closed after the grace time. */
	jazz_conn_gc_run(f.t, now + JAZZ_CONN_CLOSE_GRACE + 1);
	KUNIT_EXPECT_NULL(test, kt_lookup(&f, &fin->key));
	KUNIT_EXPECT_EQ(test, kt_notified[JAZZ_CONN_END_CLOSED], 1);
	/* ICMP idle 5 s, UDP 20 s, TCP 100 s. */
	KUNIT_EXPECT_NULL(test, kt_lookup(&f, &icmp->key));
	KUNIT_EXPECT_PTR_EQ(test, kt_lookup(&f, &udp->key), udp);
	jazz_conn_gc_run(f.t, now + 20 * HZ + 1);
	KUNIT_EXPECT_NULL(test, kt_lookup(&f, &udp->key));
	KUNIT_EXPECT_PTR_EQ(test, kt_lookup(&f, &tcp->key), tcp);
	/* Traffic moves the idle time on. */
	WRITE_ONCE(tcp->last_used, now + 50 * HZ);
	jazz_conn_gc_run(f.t, now + 120 * HZ);
	KUNIT_EXPECT_PTR_EQ(test, kt_lookup(&f, &tcp->key), tcp);
	jazz_conn_gc_run(f.t, now + 151 * HZ);
	KUNIT_EXPECT_NULL(test, kt_lookup(&f, &tcp->key));
	KUNIT_EXPECT_EQ(test, kt_notified[JAZZ_CONN_END_IDLE], 3);
	KUNIT_EXPECT_EQ(test, f.t->count, 0U);

	/* Nobody listening: a pending entry is refused at once. */
	kt_listening = false;
	tu.key.proto = IPPROTO_SCTP;
	pend = kt_insert(&f, &tu, JAZZ_CONN_STATE_PENDING);
	pend->has_deadline = true;
	pend->deadline = now + 100 * HZ;
	jazz_conn_gc_run(f.t, now);
	KUNIT_EXPECT_EQ(test, pend->state, JAZZ_CONN_STATE_DENIED);
	KUNIT_EXPECT_EQ(test, kt_notified[JAZZ_CONN_END_NO_LISTENER], 1);
	kt_teardown(&f);
}

/* ---- hold limits ---- */

static struct sk_buff *kt_skb(u32 seq)
{
	struct sk_buff *skb = alloc_skb(64, GFP_KERNEL);

	if (skb)
		skb->mark = seq;
	return skb;
}

static void conn_hold_limits(struct kunit *test)
{
	struct jazz_conn *a, *b;
	struct jazz_conn_tuple tu;
	struct sk_buff_head drop;
	unsigned int per = jazz_conn_hold_per_conn;
	struct kt_fix f;
	int i, total0 = atomic_read(&jazz_conn_held_total);

	kt_setup(test, &f);
	f.jd->hold_max = 6;
	jazz_conn_hold_per_conn = 4;
	__skb_queue_head_init(&drop);
	kt_tuple(&tu, 1 << 16);
	a = kt_insert(&f, &tu, JAZZ_CONN_STATE_PENDING);
	tu.key.port_b ^= htons(1);
	b = kt_insert(&f, &tu, JAZZ_CONN_STATE_PENDING);
	KUNIT_ASSERT_NOT_NULL(test, a);
	KUNIT_ASSERT_NOT_NULL(test, b);
	a->direction = JAZZ_DIRECTION_INGRESS;
	b->direction = JAZZ_DIRECTION_INGRESS;

	spin_lock_bh(&f.t->lock);
	/* Per connection: 4, the oldest goes first. */
	for (i = 1; i <= 5; i++)
		jazz_conn_hold(f.t, a, kt_skb(i), JAZZ_DIRECTION_INGRESS,
			       &drop);
	KUNIT_EXPECT_EQ(test, skb_queue_len(&a->held), 4U);
	KUNIT_EXPECT_EQ(test, skb_peek(&a->held)->mark, 2U);
	KUNIT_EXPECT_EQ(test, skb_peek(&drop)->mark, 1U);
	/* Per device: 6; b's packets push a's oldest out. */
	for (i = 101; i <= 104; i++)
		jazz_conn_hold(f.t, b, kt_skb(i), JAZZ_DIRECTION_INGRESS,
			       &drop);
	KUNIT_EXPECT_EQ(test, f.t->held, 6U);
	KUNIT_EXPECT_EQ(test, skb_queue_len(&a->held), 2U);
	KUNIT_EXPECT_EQ(test, skb_peek(&a->held)->mark, 4U);
	KUNIT_EXPECT_EQ(test, skb_queue_len(&b->held), 4U);
	KUNIT_EXPECT_EQ(test, skb_queue_len(&drop), 3U);
	KUNIT_EXPECT_EQ(test, atomic_read(&jazz_conn_held_total) - total0, 6);
	spin_unlock_bh(&f.t->lock);

	/* Removal drops the held packets and the counts follow. */
	jazz_conn_remove(f.t, a, JAZZ_CONN_END_DELETED);
	KUNIT_EXPECT_EQ(test, f.t->held, 4U);
	jazz_conn_remove(f.t, b, JAZZ_CONN_END_DELETED);
	KUNIT_EXPECT_EQ(test, f.t->held, 0U);
	KUNIT_EXPECT_EQ(test, atomic_read(&jazz_conn_held_total), total0);
	KUNIT_EXPECT_TRUE(test, list_empty(&f.t->holders));
	__skb_queue_purge(&drop);
	jazz_conn_hold_per_conn = per;
	kt_teardown(&f);
}

/*
 * Both directions of a pending connection share its hold queue: the
 * opener's packets and an early reply are released together, in arrival
 * order, each its own way (sent to the peer, or delivered); a deny drops
 * them all.
 */
static struct dst_entry kt_dst;

static void conn_hold_both_directions(struct kunit *test)
{
	static const long want[] = { 1, -2, 3, -4 };
	struct jazz_conn_tuple tu;
	struct sk_buff_head drop;
	struct jazz_conn *c;
	struct kt_fix f;
	int i;

	kt_setup(test, &f);
	__skb_queue_head_init(&drop);
	kt_tuple(&tu, 7);
	c = kt_insert(&f, &tu, JAZZ_CONN_STATE_PENDING);
	KUNIT_ASSERT_NOT_NULL(test, c);
	c->direction = JAZZ_DIRECTION_INGRESS;
	/* Egress packets need a (refcounted) route to be held. */
	atomic_set(&kt_dst.__refcnt, 1 << 20);
	spin_lock_bh(&f.t->lock);
	for (i = 0; i < ARRAY_SIZE(want); i++) {
		struct sk_buff *skb = kt_skb(abs(want[i]));

		if (want[i] > 0)
			skb_dst_set(skb, &kt_dst);
		jazz_conn_hold(f.t, c, skb, want[i] > 0 ?
			       JAZZ_DIRECTION_EGRESS : JAZZ_DIRECTION_INGRESS,
			       &drop);
	}
	spin_unlock_bh(&f.t->lock);
	KUNIT_EXPECT_EQ(test, skb_queue_len(&c->held), (u32)ARRAY_SIZE(want));
	KUNIT_EXPECT_EQ(test, skb_queue_len(&drop), 0U);
	kt_n_released = 0;
	KUNIT_EXPECT_EQ(test, jazz_conn_decide(f.t, c, JAZZ_VERDICT_APPROVE, 0),
			0);
	KUNIT_EXPECT_EQ(test, c->state, JAZZ_CONN_STATE_APPROVED);
	KUNIT_EXPECT_EQ(test, f.t->held, 0U);
	KUNIT_ASSERT_EQ(test, kt_n_released, (int)ARRAY_SIZE(want));
	for (i = 0; i < ARRAY_SIZE(want); i++)
		KUNIT_EXPECT_EQ(test, kt_released[i], want[i]);

	/* A deny drops every direction's packets and empties the queue. */
	c->state = JAZZ_CONN_STATE_PENDING;
	spin_lock_bh(&f.t->lock);
	jazz_conn_hold(f.t, c, kt_skb(5), JAZZ_DIRECTION_INGRESS, &drop);
	jazz_conn_hold(f.t, c, kt_skb(6), JAZZ_DIRECTION_INGRESS, &drop);
	spin_unlock_bh(&f.t->lock);
	KUNIT_EXPECT_EQ(test, skb_queue_len(&c->held), 2U);
	KUNIT_EXPECT_EQ(test, jazz_conn_decide(f.t, c, JAZZ_VERDICT_DENY, 0), 0);
	KUNIT_EXPECT_EQ(test, skb_queue_len(&c->held), 0U);
	KUNIT_EXPECT_EQ(test, f.t->held, 0U);
	kt_teardown(&f);
}

static struct kunit_case jazz_conn_cases[] = {
	KUNIT_CASE(conn_key_normalized),
	KUNIT_CASE(conn_table_vs_model),
	KUNIT_CASE(conn_hash_collisions),
	KUNIT_CASE(conn_expiry),
	KUNIT_CASE(conn_hold_limits),
	KUNIT_CASE(conn_hold_both_directions),
	{}
};

static struct kunit_suite jazz_conn_suite = {
	.name = "jazz_conn",
	.test_cases = jazz_conn_cases,
};

kunit_test_suites(&jazz_conn_suite);

MODULE_LICENSE("GPL");
