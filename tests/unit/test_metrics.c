// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the client's data-path metrics (userspace/jazzd/metrics/
 * kernel.c): readings handed over as client/kstats.c does, the page
 * rendered by jz_metrics_render(). Checks the bounds a hostile or huge
 * kernel state must not break: at most JZ_METRICS_MAX_PEERS peers, one
 * series set per name, label values escaped, no age for a peer that never
 * received, drops only for reasons that counted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "metrics/metrics.h"

/* kernel.c chooses a backend; these tests never open one */
struct jz_kernel *jz_kernel_fake_new(struct event_base *b, const struct jz_config *c,
				     char *e, size_t l)
{
	return NULL;
}

struct jz_kernel *jz_kernel_nl_new(struct event_base *b, const struct jz_config *c,
				   char *e, size_t l)
{
	return NULL;
}

static char *page(void)
{
	size_t len;
	char *p = jz_metrics_render(&len);

	assert_non_null(p);
	assert_int_equal(strlen(p), len);
	return p;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void no_reading_no_series(void **state)
{
	char *p = page();

	assert_null(strstr(p, "jazz_peer_"));
	assert_null(strstr(p, "jazz_device_"));
	free(p);
}

static void peers_capped(void **state)
{
	size_t n = JZ_METRICS_MAX_PEERS + 44;
	struct jz_kpeer_stats *ps = calloc(n, sizeof(*ps));
	struct jz_kstats st = { .peers = ps, .max_peers = n, .n_peers = n, .peers_total = n + 10 };
	char want[64];
	char *p;

	for (size_t i = 0; i < n; i++) {
		ps[i].id = i + 1;
		snprintf(ps[i].name, sizeof(ps[i].name), "dev-%zu", i);
		ps[i].c.rx_packets = i;
	}
	jz_metrics_set_kernel(&st);
	free(ps);	/* the metrics keep their own copy */
	p = page();
	assert_int_equal(count(p, "\njazz_peer_receive_packets_total{"), JZ_METRICS_MAX_PEERS);
	snprintf(want, sizeof(want), "\njazz_peers %zu\n", n + 10);
	assert_non_null(strstr(p, want));
	snprintf(want, sizeof(want), "\njazz_peers_not_exported %zu\n", n + 10 - JZ_METRICS_MAX_PEERS);
	assert_non_null(strstr(p, want));
	assert_null(strstr(p, "peer=\"dev-256\""));
	assert_non_null(strstr(p, "peer=\"dev-255\"} 255\n"));
	free(p);
}

static void names_escaped_and_deduplicated(void **state)
{
	struct jz_kpeer_stats ps[3] = {
		{ .id = 1, .name = "a\"b\\c\nd", .last_rx_ns = now_ns() - 5000000000ull },
		{ .id = 2, .name = "twin" },
		{ .id = 3, .name = "twin", .c.rx_bytes = 99 },
	};
	struct jz_kstats st = { .peers = ps, .max_peers = 3, .n_peers = 3, .peers_total = 3 };
	char *p;

	ps[0].c.drops[JZ_KDROP_REPLAY] = 7;
	jz_metrics_set_kernel(&st);
	p = page();
	assert_non_null(strstr(p, "jazz_peer_drops_total{peer=\"a\\\"b\\\\c\\nd\",reason=\"replay\"} 7\n"));
	/* only the reason that counted */
	assert_int_equal(count(p, "\njazz_peer_drops_total{"), 1);
	/* the device's drops: every reason, always */
	assert_int_equal(count(p, "\njazz_device_drops_total{"), JZ_KDROP_N);
	/* the second "twin" is left out, and counted as not exported */
	assert_int_equal(count(p, "\njazz_peer_receive_bytes_total{peer=\"twin\"}"), 1);
	assert_non_null(strstr(p, "jazz_peer_receive_bytes_total{peer=\"twin\"} 0\n"));
	assert_non_null(strstr(p, "\njazz_peers_not_exported 1\n"));
	/* age only for the peer that received; about 5 s */
	assert_int_equal(count(p, "\njazz_peer_last_receive_age_seconds{"), 1);
	{
		const char *a = strstr(p, "jazz_peer_last_receive_age_seconds{peer=\"a\\\"b");
		double age;

		assert_non_null(a);
		assert_int_equal(sscanf(strchr(a, '}') + 1, "%lf", &age), 1);
		assert_true(age >= 5.0 && age < 3600);
	}
	free(p);
}

static void clock_behind_gives_zero_age(void **state)
{
	struct jz_kpeer_stats ps = { .id = 1, .name = "future", .last_rx_ns = now_ns() + 3600000000000ull };
	struct jz_kstats st = { .peers = &ps, .max_peers = 1, .n_peers = 1, .peers_total = 1 };
	char *p;

	jz_metrics_set_kernel(&st);
	p = page();
	assert_non_null(strstr(p, "jazz_peer_last_receive_age_seconds{peer=\"future\"} 0.000\n"));
	free(p);
}

static void read_errors_counted(void **state)
{
	char *p;

	jz_metrics_kernel_error();
	jz_metrics_kernel_error();
	p = page();
	assert_non_null(strstr(p, "\njazz_kernel_read_errors_total 2\n"));
	free(p);
}

static void receive_batches_rendered(void **state)
{
	struct jz_kstats st = { .dev = { .rx_packets = 640, .rx_gro_batches = 12,
					 .rx_gro_datagrams = 600 } };
	char *p;

	jz_metrics_set_kernel(&st);
	p = page();
	assert_non_null(strstr(p, "\n# TYPE jazz_device_receive_batches_total counter\n"));
	assert_non_null(strstr(p, "\njazz_device_receive_batches_total 12\n"));
	assert_non_null(strstr(p, "\njazz_device_receive_batched_datagrams_total 600\n"));
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(no_reading_no_series),
		cmocka_unit_test(peers_capped),
		cmocka_unit_test(names_escaped_and_deduplicated),
		cmocka_unit_test(clock_behind_gives_zero_age),
		cmocka_unit_test(read_errors_counted),
		cmocka_unit_test(receive_batches_rendered),
	};

	return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
