// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of jazz's pure parts: the replay window, the allowed-ips trie
 * (against a naive reference model) and wire header parsing. Built only
 * with CONFIG_JAZZ_KUNIT_TEST (scripts/kunit.sh); the tested files are
 * included so the test does not need the whole module.
 */
#include <kunit/test.h>
#include <linux/random.h>
#include <linux/slab.h>
#include "../replay.c"
#include "../allowedips.c"
#include "../messages.c"

/* ---------------------------------------------------------------- replay */

struct replay_step {
	u64 counter;
	bool accept;
};

struct replay_case {
	const char *name;
	const struct replay_step *steps;
	unsigned int n;
};

#define W JAZZ_REPLAY_WINDOW
static const struct replay_step rs_basic[] = {
	{ 0, true }, { 0, false }, { 1, true }, { 1, false }, { 2, true },
};
static const struct replay_step rs_reorder[] = {
	{ 10, true }, { 5, true }, { 7, true }, { 5, false }, { 9, true },
	{ 0, true }, { 11, true }, { 10, false }, { 6, true },
};
static const struct replay_step rs_window[] = {
	{ W + 100, true }, { 101, true }, { 100, false }, { 99, false },
	{ W + 99, true }, { W + 100, false }, { W + 101, true },
	{ 102, true }, { 101, false },
};
static const struct replay_step rs_jump[] = {
	{ 1, true }, { 1000000, true }, { 1, false }, { 999999, true },
	{ 1000000 - W + 1, true }, { 1000000 - W, false },
	{ 1ULL << 40, true }, { 1000000, false }, { (1ULL << 40) - 64, true },
	{ (1ULL << 40) + 64 * JAZZ_REPLAY_WORDS + 5, true },
	{ (1ULL << 40), false },
};
static const struct replay_step rs_word_edges[] = {
	{ 63, true }, { 64, true }, { 127, true }, { 128, true },
	{ 63, false }, { 64, false }, { 62, true }, { 65, true },
};
static const struct replay_step rs_limit[] = {
	{ JAZZ_REPLAY_REJECT - 1, true }, { JAZZ_REPLAY_REJECT, false },
	{ U64_MAX, false }, { U64_MAX - 1, false },
	{ JAZZ_REPLAY_REJECT - 2, true }, { JAZZ_REPLAY_REJECT - 1, false },
	{ 0, false },
};

static const struct replay_case replay_cases[] = {
	{ "counter 0 and duplicates", rs_basic, ARRAY_SIZE(rs_basic) },
	{ "reorder inside the window", rs_reorder, ARRAY_SIZE(rs_reorder) },
	{ "window edge", rs_window, ARRAY_SIZE(rs_window) },
	{ "far-future jumps", rs_jump, ARRAY_SIZE(rs_jump) },
	{ "word boundaries", rs_word_edges, ARRAY_SIZE(rs_word_edges) },
	{ "wrap limit", rs_limit, ARRAY_SIZE(rs_limit) },
};

static void replay_case_desc(const struct replay_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(replay, replay_cases, replay_case_desc);

static void jazz_replay_table_test(struct kunit *test)
{
	const struct replay_case *c = test->param_value;
	struct jazz_replay *r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, r);
	jazz_replay_init(r);
	for (i = 0; i < c->n; i++)
		KUNIT_EXPECT_EQ_MSG(test, jazz_replay_check(r, c->steps[i].counter),
				    c->steps[i].accept, "step %u counter %llu",
				    i, c->steps[i].counter);
}

/* Every counter of a shuffled window is accepted once, then never again. */
static void jazz_replay_shuffle_test(struct kunit *test)
{
	struct jazz_replay *r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);
	u32 *perm = kunit_kcalloc(test, W, sizeof(u32), GFP_KERNEL);
	u32 i, j, t;

	KUNIT_ASSERT_NOT_NULL(test, r);
	KUNIT_ASSERT_NOT_NULL(test, perm);
	KUNIT_EXPECT_GE(test, (int)W, 2048);
	for (i = 0; i < W; i++)
		perm[i] = i;
	for (i = W - 1; i > 0; i--) {
		j = get_random_u32() % (i + 1);
		t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	jazz_replay_init(r);
	KUNIT_EXPECT_TRUE(test, jazz_replay_check(r, W - 1));
	for (i = 0; i < W; i++)
		if (perm[i] != W - 1)
			KUNIT_EXPECT_TRUE(test, jazz_replay_check(r, perm[i]));
	for (i = 0; i < W; i++)
		KUNIT_EXPECT_FALSE(test, jazz_replay_check(r, perm[i]));
}

/* ------------------------------------------------------------ allowed-ips */

struct ref_entry {
	u8 addr[16];
	u8 bits, cidr;
	struct jazz_peer *peer;
	bool live;
};

static bool ref_match(const struct ref_entry *e, const u8 *addr)
{
	unsigned int i;

	for (i = 0; i < e->cidr; i++)
		if (((e->addr[i / 8] ^ addr[i / 8]) >> (7 - i % 8)) & 1)
			return false;
	return true;
}

/* Naive model: scan every live entry, longest match wins. */
static struct jazz_peer *ref_lookup(struct ref_entry *tab, int n,
				    const u8 *addr, u8 bits)
{
	struct ref_entry *best = NULL;
	int i;

	for (i = 0; i < n; i++) {
		if (!tab[i].live || tab[i].bits != bits ||
		    !ref_match(&tab[i], addr))
			continue;
		if (!best || tab[i].cidr > best->cidr)
			best = &tab[i];
	}
	return best ? best->peer : NULL;
}

#define NPEERS 8
#define NENTRIES 600

static void random_addr(u8 *a, u8 bits)
{
	/* Few distinct high bytes so that prefixes overlap a lot. */
	get_random_bytes(a, 16);
	a[0] &= 0x3;
	if (bits == 128)
		a[1] &= 0x1;
}

static void jazz_aip_random_test(struct kunit *test)
{
	struct ref_entry *tab = kunit_kcalloc(test, NENTRIES, sizeof(*tab),
					      GFP_KERNEL);
	struct list_head lists[NPEERS];
	struct jazz_aip t;
	struct mutex lock;
	struct jazz_peer *peers[NPEERS];
	int i, j, k, round, mismatches = 0;
	u8 a[16];

	KUNIT_ASSERT_NOT_NULL(test, tab);
	mutex_init(&lock);
	jazz_aip_init(&t);
	for (i = 0; i < NPEERS; i++) {
		INIT_LIST_HEAD(&lists[i]);
		peers[i] = (struct jazz_peer *)(unsigned long)(0x1000 + i * 16);
	}
	for (round = 0; round < 3; round++) {
		mutex_lock(&lock);
		for (i = 0; i < NENTRIES / 3; i++) {
			struct ref_entry *e = &tab[round * (NENTRIES / 3) + i];

			e->bits = get_random_u32() & 1 ? 32 : 128;
			random_addr(e->addr, e->bits);
			e->cidr = get_random_u32() % (e->bits + 1);
			mask_key(e->addr, e->addr, e->bits / 8, e->cidr);
			k = get_random_u32() % NPEERS;
			e->peer = peers[k];
			e->live = true;
			/* Re-adding a prefix moves it: the model keeps one. */
			for (j = 0; j < round * (NENTRIES / 3) + i; j++)
				if (tab[j].live && tab[j].bits == e->bits &&
				    tab[j].cidr == e->cidr &&
				    !memcmp(tab[j].addr, e->addr, 16))
					tab[j].live = false;
			KUNIT_ASSERT_EQ(test, 0,
					jazz_aip_insert(&t, e->addr, e->bits,
							e->cidr, e->peer,
							&lists[k], &lock));
		}
		if (round == 1) {
			/* Remove two peers entirely. */
			for (k = 0; k < 2; k++) {
				jazz_aip_remove_peer(&t, &lists[k], &lock);
				for (j = 0; j < NENTRIES; j++)
					if (tab[j].peer == peers[k])
						tab[j].live = false;
			}
		}
		mutex_unlock(&lock);
		for (i = 0; i < 4000; i++) {
			u8 bits = i & 1 ? 32 : 128;
			struct jazz_peer *got, *want;

			random_addr(a, bits);
			/* Half the probes start at an inserted prefix. */
			if (i & 2) {
				struct ref_entry *e = &tab[get_random_u32() %
					((round + 1) * (NENTRIES / 3))];
				if (e->bits == bits)
					memcpy(a, e->addr, 16);
			}
			rcu_read_lock();
			got = jazz_aip_lookup(&t, a, bits);
			rcu_read_unlock();
			want = ref_lookup(tab, NENTRIES, a, bits);
			if (got != want)
				mismatches++;
		}
		KUNIT_EXPECT_EQ_MSG(test, mismatches, 0, "round %d", round);
	}
	mutex_lock(&lock);
	for (k = 0; k < NPEERS; k++)
		jazz_aip_remove_peer(&t, &lists[k], &lock);
	KUNIT_EXPECT_NULL(test, rcu_access_pointer(t.root4));
	KUNIT_EXPECT_NULL(test, rcu_access_pointer(t.root6));
	jazz_aip_free(&t, &lock);
	mutex_unlock(&lock);
	rcu_barrier();
}

static void jazz_aip_basic_test(struct kunit *test)
{
	static const u8 net10[4] = { 10, 0, 0, 0 }, host[4] = { 10, 1, 2, 3 };
	static const u8 net101[4] = { 10, 1, 0, 0 }, other[4] = { 11, 0, 0, 1 };
	struct jazz_peer *p1 = (void *)0x100, *p2 = (void *)0x200;
	struct list_head l1, l2;
	struct jazz_aip t;
	struct mutex lock;

	mutex_init(&lock);
	INIT_LIST_HEAD(&l1);
	INIT_LIST_HEAD(&l2);
	jazz_aip_init(&t);
	mutex_lock(&lock);
	KUNIT_EXPECT_EQ(test, 0, jazz_aip_insert(&t, net10, 32, 8, p1, &l1, &lock));
	KUNIT_EXPECT_EQ(test, 0, jazz_aip_insert(&t, net101, 32, 16, p2, &l2, &lock));
	KUNIT_EXPECT_EQ(test, -EINVAL, jazz_aip_insert(&t, net101, 32, 33, p2, &l2, &lock));
	mutex_unlock(&lock);
	rcu_read_lock();
	KUNIT_EXPECT_PTR_EQ(test, jazz_aip_lookup(&t, host, 32), p2);
	KUNIT_EXPECT_PTR_EQ(test, jazz_aip_lookup(&t, net10, 32), p1);
	KUNIT_EXPECT_NULL(test, jazz_aip_lookup(&t, other, 32));
	rcu_read_unlock();
	mutex_lock(&lock);
	jazz_aip_remove_peer(&t, &l2, &lock);
	mutex_unlock(&lock);
	rcu_read_lock();
	KUNIT_EXPECT_PTR_EQ(test, jazz_aip_lookup(&t, host, 32), p1);
	rcu_read_unlock();
	mutex_lock(&lock);
	jazz_aip_free(&t, &lock);
	mutex_unlock(&lock);
	rcu_barrier();
}

/* ---------------------------------------------------------------- header */

struct hdr_case {
	const char *name;
	u8 buf[20];
	unsigned int len;
	int err;
	u8 key_id, flags;
	u32 receiver;
	u64 counter;
};

static const struct hdr_case hdr_cases[] = {
	{ "valid", { 1, 0x10, 7, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 1, 0 }, 16,
	  0, 7, 0, 0x102, 0x100 },
	{ "valid, unknown flags and reserved ignored",
	  { 1, 0x1f, 0xff, 0xee, 0xde, 0xad, 0xbe, 0xef,
	    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe }, 16,
	  0, 0xff, 0xf, 0xdeadbeef, 0xfffffffffffffffeULL },
	{ "longer buffer", { 1, 0x10, 1, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0,
	  0xaa }, 20, 0, 1, 0, 9, 0 },
	{ "truncated", { 1, 0x10 }, 15, -EINVAL },
	{ "empty", { 0 }, 0, -EINVAL },
	{ "type 0", { 0, 0x10 }, 16, -EPROTO },
	{ "type 2", { 2, 0x10 }, 16, -EPROTO },
	{ "version 0", { 1, 0x00 }, 16, -EPROTO },
	{ "version 2", { 1, 0x20 }, 16, -EPROTO },
	{ "version 15", { 1, 0xf0 }, 16, -EPROTO },
};

static void hdr_case_desc(const struct hdr_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(hdr, hdr_cases, hdr_case_desc);

static void jazz_hdr_parse_test(struct kunit *test)
{
	const struct hdr_case *c = test->param_value;
	struct jazz_hdr_info hi;
	int err = jazz_hdr_parse(c->buf, c->len, &hi);

	KUNIT_ASSERT_EQ(test, err, c->err);
	if (err)
		return;
	KUNIT_EXPECT_EQ(test, hi.key_id, c->key_id);
	KUNIT_EXPECT_EQ(test, hi.flags, c->flags);
	KUNIT_EXPECT_EQ(test, hi.receiver, c->receiver);
	KUNIT_EXPECT_EQ(test, hi.counter, c->counter);
}

static void jazz_hdr_roundtrip_test(struct kunit *test)
{
	struct jazz_hdr h;
	struct jazz_hdr_info hi;
	const u8 *b = (const u8 *)&h;

	jazz_hdr_build(&h, 3, 0x01020304, 0x0a0b0c0d0e0f1011ULL);
	KUNIT_EXPECT_EQ(test, b[0], 1);
	KUNIT_EXPECT_EQ(test, b[1], 0x10);
	KUNIT_EXPECT_EQ(test, b[2], 3);
	KUNIT_EXPECT_EQ(test, b[3], 0);
	KUNIT_EXPECT_EQ(test, b[4], 1);
	KUNIT_EXPECT_EQ(test, b[7], 4);
	KUNIT_EXPECT_EQ(test, b[8], 0x0a);
	KUNIT_EXPECT_EQ(test, b[15], 0x11);
	KUNIT_ASSERT_EQ(test, 0, jazz_hdr_parse(&h, sizeof(h), &hi));
	KUNIT_EXPECT_EQ(test, hi.receiver, 0x01020304U);
	KUNIT_EXPECT_EQ(test, hi.counter, 0x0a0b0c0d0e0f1011ULL);
}

static struct kunit_case jazz_replay_cases[] = {
	KUNIT_CASE_PARAM(jazz_replay_table_test, replay_gen_params),
	KUNIT_CASE(jazz_replay_shuffle_test),
	{}
};

static struct kunit_case jazz_aip_cases[] = {
	KUNIT_CASE(jazz_aip_basic_test),
	KUNIT_CASE(jazz_aip_random_test),
	{}
};

static struct kunit_case jazz_hdr_cases[] = {
	KUNIT_CASE_PARAM(jazz_hdr_parse_test, hdr_gen_params),
	KUNIT_CASE(jazz_hdr_roundtrip_test),
	{}
};

static struct kunit_suite jazz_replay_suite = {
	.name = "jazz_replay",
	.test_cases = jazz_replay_cases,
};

static struct kunit_suite jazz_aip_suite = {
	.name = "jazz_allowedips",
	.test_cases = jazz_aip_cases,
};

static struct kunit_suite jazz_hdr_suite = {
	.name = "jazz_header",
	.test_cases = jazz_hdr_cases,
};

kunit_test_suites(&jazz_replay_suite, &jazz_aip_suite, &jazz_hdr_suite);
MODULE_DESCRIPTION("KUnit tests of the jazz data path");
MODULE_LICENSE("GPL");
