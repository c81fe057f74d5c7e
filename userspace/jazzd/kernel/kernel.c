// SPDX-License-Identifier: GPL-2.0
/*
 * Chooses the kernel backend ([kernel] backend), names protocols and drop
 * reasons.
 *
 * Must not hold either backend's code.
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"

const char *const jz_kdrop_names[JZ_KDROP_N] = {
	[JZ_KDROP_MALFORMED] = "malformed", [JZ_KDROP_NO_PEER] = "no_peer",
	[JZ_KDROP_NO_KEY] = "no_key", [JZ_KDROP_AUTH] = "auth",
	[JZ_KDROP_REPLAY] = "replay", [JZ_KDROP_SOURCE] = "source",
	[JZ_KDROP_NO_ENDPOINT] = "no_endpoint", [JZ_KDROP_KEY_EXHAUSTED] = "key_exhausted",
	[JZ_KDROP_LOOP] = "loop", [JZ_KDROP_CONNCHECK] = "conncheck",
	[JZ_KDROP_HOLD_OVERFLOW] = "hold_overflow", [JZ_KDROP_CONN_FULL] = "conn_full",
	[JZ_KDROP_TIMEOUT] = "timeout", [JZ_KDROP_TX_ERROR] = "tx_error",
	[JZ_KDROP_QUEUE_FULL] = "queue_full",
	[JZ_KDROP_TX_NO_PEER] = "tx_no_peer", [JZ_KDROP_TX_NO_KEY] = "tx_no_key",
	[JZ_KDROP_TX_MALFORMED] = "tx_malformed", [JZ_KDROP_TX_QUEUE_FULL] = "tx_queue_full",
};

struct jz_kernel *jz_kernel_new(struct event_base *base, const struct jz_config *c,
				jz_kconn_fn on_conn, void *arg, char *err, size_t errlen)
{
	struct jz_kernel *k;

	if (!strcmp(c->kbackend, "fake"))
		k = jz_kernel_fake_new(base, c, err, errlen);
	else if (!strcmp(c->kbackend, "netlink"))
		k = jz_kernel_nl_new(base, c, err, errlen);
	else {
		snprintf(err, errlen, "[kernel] backend: unknown '%s' (netlink or fake)",
			 c->kbackend);
		return NULL;
	}
	if (k) {
		k->on_conn = on_conn;
		k->arg = arg;
	}
	return k;
}

const char *jz_proto_name(int proto, char *buf, size_t len)
{
	switch (proto) {
	case 1: return "icmp";
	case 6: return "tcp";
	case 17: return "udp";
	case 58: return "icmpv6";
	}
	snprintf(buf, len, "%d", proto);
	return buf;
}

int jz_proto_number(const char *name)
{
	if (!strcmp(name, "icmp"))
		return 1;
	if (!strcmp(name, "tcp"))
		return 6;
	if (!strcmp(name, "udp"))
		return 17;
	if (!strcmp(name, "icmpv6"))
		return 58;
	return atoi(name);
}
