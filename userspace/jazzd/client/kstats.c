// SPDX-License-Identifier: GPL-2.0
/*
 * The client's data-path metrics: reads the device's and its peers'
 * counters through the kernel backend's stats operation and hands the
 * typed result to metrics/ (main.c calls this once a second, only with a
 * [metrics] listener).
 *
 * Must not render anything or keep history: metrics/ owns the copy.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"
#include "metrics/metrics.h"
#include "log.h"

void jz_client_sample_metrics(struct jz_client *c)
{
	struct jz_kstats st = { .max_peers = JZ_METRICS_MAX_PEERS };
	int r;

	if (!c || !c->k || !c->k->ops->stats)
		return;
	if (!c->kstats)
		c->kstats = calloc(JZ_METRICS_MAX_PEERS, sizeof(*c->kstats));
	if (!c->kstats)
		return;
	st.peers = c->kstats;
	r = c->k->ops->stats(c->k, &st);
	if (r) {
		/* once a second: say it at debug level, count it always */
		jz_debug("kernel counters: %s", strerror(-r));
		jz_metrics_kernel_error();
		return;
	}
	jz_metrics_set_kernel(&st);
}
