/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bus_int.h - what bus.c and bus_config.c share. Internal to events/:
 * other folders include bus.h.
 */
#ifndef JAZZD_BUS_INT_H
#define JAZZD_BUS_INT_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "bus.h"
#include "eventsgw.h"
#include "handlers.h"
#include "log.h"

#define PUB_WINDOW 1024

/* Shared by the files of this folder only; hidden from dlopen()ed plugins. */
#pragma GCC visibility push(hidden)
bool valid_name(const char *s);
int config_copy(struct jz_bus_config *d, const struct jz_bus_config *s);
bool redis_changed(const struct jz_bus_config *a, const struct jz_bus_config *b);
#pragma GCC visibility pop

#endif
