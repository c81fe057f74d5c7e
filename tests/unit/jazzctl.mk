# SPDX-License-Identifier: GPL-2.0
# Unit tests of jazzctl (included by tests/unit/Makefile): every jazzctl
# source but main() and the STUN codec it shares with jazzd
# (userspace/common/stun.c) linked with tests/unit/test_jazzctl.c.
JZ_DIR := $(TOP)/userspace/jazzctl
JZ_SRC := $(filter-out $(JZ_DIR)/jazzctl.c,$(wildcard $(JZ_DIR)/*.c)) \
	$(TOP)/userspace/common/stun.c
JZ_CFLAGS := -O1 -g -std=gnu11 -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE \
	-I$(TOP)/netlink -I$(JZ_DIR) -I$(TOP)/userspace/common
PROGS += $(B)/test_jazzctl

$(B)/test_jazzctl: $(TOP)/tests/unit/test_jazzctl.c $(JZ_SRC) $(wildcard $(JZ_DIR)/*.h) \
		$(TOP)/userspace/common/stun.h
	@mkdir -p $(B)
	$(CC) $(JZ_CFLAGS) -o $@ $(TOP)/tests/unit/test_jazzctl.c $(JZ_SRC) \
		$(shell pkg-config --cflags --libs cmocka libmnl)
