# SPDX-License-Identifier: GPL-2.0
# Unit tests of jazzd's metrics page (included by tests/unit/Makefile):
# userspace/jazzd/metrics/metrics.c and kernel.c rendering readings handed
# over as the client does, with kernel/kernel.c for the drop-reason names.
MT_DIR := $(TOP)/userspace/jazzd
MT_SRC := $(MT_DIR)/metrics/metrics.c $(MT_DIR)/metrics/kernel.c $(MT_DIR)/kernel/kernel.c
MT_CFLAGS := -O1 -g -std=gnu11 -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE \
	-I$(TOP)/userspace/include -I$(TOP)/userspace/common -I$(MT_DIR) -I$(TOP)/netlink
PROGS += $(B)/test_metrics

$(B)/test_metrics: $(TOP)/tests/unit/test_metrics.c $(MT_SRC) $(wildcard $(MT_DIR)/metrics/*.h) $(MT_DIR)/kernel/kernel.h
	@mkdir -p $(B)
	$(CC) $(MT_CFLAGS) -o $@ $(TOP)/tests/unit/test_metrics.c $(MT_SRC) \
		$(shell pkg-config --cflags --libs cmocka) -lpthread
