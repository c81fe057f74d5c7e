// SPDX-License-Identifier: GPL-2.0
/* The client's reading of jazz.ko's counters (kernel/kernel_nl.c): any
 * bytes as DEV_GET replies and PEER_GET dump parts, parsed into a
 * jz_kstats of at most 4 peers, then rendered on the metrics page. The
 * parser must keep its bounds whatever the kernel (or a bug) sends. */
#include <assert.h>

#include "kernel/kernel_int.h"
#include "metrics/metrics.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct jz_kpeer_stats peers[4];
	struct jz_kstats st = { .peers = peers, .max_peers = 4 };
	size_t i, len;
	char *page;

	fuzz_quiet();
	memset(peers, 0, sizeof(peers));
	jz_knl_parse_stats(data, size, &st);
	assert(st.n_peers <= st.max_peers && st.n_peers <= st.peers_total);
	for (i = 0; i < st.n_peers; i++)
		assert(memchr(peers[i].name, 0, sizeof(peers[i].name)) && peers[i].id);
	jz_metrics_set_kernel(&st);
	page = jz_metrics_render(&len);
	assert(page && strlen(page) == len);
	free(page);
	return 0;
}
