/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Inside metrics/: kernel.c's part of the page, called by metrics.c's
 * renderer on the listener's thread.
 */
#ifndef JZ_METRICS_INT_H
#define JZ_METRICS_INT_H

#include <stdio.h>

#pragma GCC visibility push(hidden)
void jz_metrics_render_kernel(FILE *f);
#pragma GCC visibility pop

#endif
