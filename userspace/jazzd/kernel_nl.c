// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include "kernel.h"

struct jz_kernel *jz_kernel_nl_new(struct event_base *base, const struct jz_config *c,
				   char *err, size_t errlen)
{
	snprintf(err, errlen, "netlink kernel backend not built yet");
	return NULL;
}
