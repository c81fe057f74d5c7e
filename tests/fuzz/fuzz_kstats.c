// SPDX-License-Identifier: GPL-2.0
/* The client's reading of jazz.ko's counters (kernel/kernel_nl.c): any
 * bytes as DEV_GET replies and PEER_GET dump parts, parsed into a
 * jz_kstats of at most 4 peers, then rendered on the metrics page; the
 * same bytes as one key-rotate-ntf, as one conn-request/-expire-ntf and
 * as one stun-rx-ntf and as one peer-roam-ntf. The parsers must keep their bounds
 * whatever the kernel (or a bug) sends. */
#include <assert.h>
#include <libmnl/libmnl.h>

#include <jazz.h>

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
	if (size >= sizeof(struct nlmsghdr)) {
		/* one message, its length inside the input (as mnl_cb_run
		 * hands it over after msgs_sane) */
		uint8_t *copy = malloc(size);
		struct nlmsghdr *nlh = (struct nlmsghdr *)copy;
		struct jz_krotate r;
		struct jz_kconn c;
		static struct jz_kstun su;
		struct jz_kroam ro;

		memcpy(copy, data, size);
		if (nlh->nlmsg_len >= sizeof(*nlh) && nlh->nlmsg_len <= size &&
		    !jz_knl_parse_rotate(nlh, 7, &r))
			assert(r.peer_id && (r.slot == JAZZ_KEY_SLOT_PRIMARY ||
					     r.slot == JAZZ_KEY_SLOT_SECONDARY));
		if (nlh->nlmsg_len >= sizeof(*nlh) && nlh->nlmsg_len <= size &&
		    !jz_knl_parse_conn(nlh, 7, &c))
			assert(c.peer_id && memchr(c.src, 0, sizeof(c.src)) &&
			       memchr(c.dst, 0, sizeof(c.dst)) &&
			       (c.direction == JAZZ_DIRECTION_EGRESS ||
				c.direction == JAZZ_DIRECTION_INGRESS));
		if (nlh->nlmsg_len >= sizeof(*nlh) && nlh->nlmsg_len <= size &&
		    !jz_knl_parse_stun(nlh, 7, &su))
			assert(su.len && su.len <= sizeof(su.data) &&
			       (su.from.ss_family == AF_INET || su.from.ss_family == AF_INET6));
		if (nlh->nlmsg_len >= sizeof(*nlh) && nlh->nlmsg_len <= size &&
		    !jz_knl_parse_roam(nlh, 7, &ro))
			assert(ro.peer_id && (ro.ep.ss_family == AF_INET ||
					      ro.ep.ss_family == AF_INET6));
		free(copy);
	}
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
