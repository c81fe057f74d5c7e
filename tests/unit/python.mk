# SPDX-License-Identifier: GPL-2.0
# Unit tests of the Python backend's conversions (included by
# tests/unit/Makefile): userspace/jazzd/policy/python*.c + common/log.c, linked
# with the embedded interpreter (Debian's python3-config, not the one on PATH).
PY_DIR := $(TOP)/userspace/jazzd/policy
PY_CONFIG := /usr/bin/python3-config
PY_UNIT_SRC := $(wildcard $(PY_DIR)/python*.c) $(TOP)/userspace/common/log.c
PY_UNIT_CFLAGS := -O1 -g -std=gnu11 -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE \
	-I$(TOP)/userspace/include -I$(TOP)/userspace/common -I$(TOP)/userspace/jazzd
PROGS += $(B)/test_python

$(B)/test_python: $(TOP)/tests/unit/test_python.c $(PY_UNIT_SRC) $(wildcard $(PY_DIR)/python*.h)
	@mkdir -p $(B)
	$(CC) $(PY_UNIT_CFLAGS) $(shell $(PY_CONFIG) --includes) -o $@ \
		$(TOP)/tests/unit/test_python.c $(PY_UNIT_SRC) \
		$(shell pkg-config --cflags --libs cmocka) $(shell $(PY_CONFIG) --ldflags --embed) -lpthread
