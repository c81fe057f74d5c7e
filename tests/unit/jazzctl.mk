# SPDX-License-Identifier: GPL-2.0
# Unit tests of jazzctl (cmocka): make -f tests/unit/jazzctl.mk [run]
# from the top of the checkout. Links every jazzctl source but main().
B ?= build/unit
CFLAGS ?= -O1 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE \
	-Inetlink -Iuserspace/jazzctl
SRC := $(filter-out userspace/jazzctl/jazzctl.c,$(wildcard userspace/jazzctl/*.c))

.PHONY: all run
all: $(B)/test_jazzctl

$(B)/test_jazzctl: tests/unit/test_jazzctl.c $(SRC) $(wildcard userspace/jazzctl/*.h)
	@mkdir -p $(B)
	$(CC) $(CFLAGS) -o $@ tests/unit/test_jazzctl.c $(SRC) \
		$(shell pkg-config --cflags --libs cmocka libmnl)

run: $(B)/test_jazzctl
	$(B)/test_jazzctl
