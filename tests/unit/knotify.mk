# SPDX-License-Identifier: GPL-2.0
# Unit tests of jazzd's parsers of the kernel's notifications (included by
# tests/unit/Makefile): userspace/jazzd/kernel/kernel_parse.c on messages
# built here, valid and each way malformed.
KN_DIR := $(TOP)/userspace/jazzd
KN_CFLAGS := -O1 -g -std=gnu11 -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE \
	-I$(TOP)/userspace/include -I$(TOP)/userspace/common -I$(KN_DIR) -I$(TOP)/netlink
PROGS += $(B)/test_knotify

$(B)/test_knotify: $(TOP)/tests/unit/test_knotify.c $(KN_DIR)/kernel/kernel_parse.c $(KN_DIR)/kernel/kernel_int.h $(KN_DIR)/kernel/kernel.h
	@mkdir -p $(B)
	$(CC) $(KN_CFLAGS) -o $@ $(TOP)/tests/unit/test_knotify.c $(KN_DIR)/kernel/kernel_parse.c \
		$(shell pkg-config --cflags --libs cmocka libmnl)
