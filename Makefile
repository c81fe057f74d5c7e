# SPDX-License-Identifier: GPL-2.0
#
# jazz: kernel module (kmod/, built through Kbuild) and userspace tools
# (userspace/, built into build/).
#
#   make                 module for the running kernel (or KDIR=...) and tools
#   make module KDIR=... module only
#   make userspace       jazzctl, jazzd, the sample plugin
#   make install         module, tools, UAPI header, man pages (DESTDIR honoured)
#   make test            every test (scripts/test.sh; installs what it needs)
#   make demo            the end-to-end demo in a VM (scripts/demo.sh)
#   make bench           benchmarks (scripts/bench.sh)
#   make fuzz            both below
#   make fuzz-userspace  the libFuzzer harnesses (tests/fuzz/), FUZZ_SECONDS
#                        each (default 300)
#   make deb             Debian packages jazz-dkms and jazz-tools in out/deb/
#                        (dpkg-buildpackage on a copy of the tree's files)
#   make fuzz-kernel     kernel fuzzers on the debug kernel (tests/fuzz-kernel/run.sh;
#                        FUZZ_SECONDS per run, FUZZ_SEED to replay)

KVER ?= $(shell uname -r)
KDIR ?= /lib/modules/$(KVER)/build
DESTDIR ?=
PREFIX ?= /usr
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.1)

TOP := $(CURDIR)

.PHONY: all module userspace install install-module install-userspace \
	clean test demo bench checkpatch fuzz fuzz-userspace fuzz-kernel deb

all: module userspace

module:
	@test -d $(KDIR) || { echo "make: no kernel headers in $(KDIR); install linux-headers-$(KVER) or pass KDIR=" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(TOP) modules

userspace:
	$(MAKE) -C userspace

install: install-module install-userspace

install-module: module
	$(MAKE) -C $(KDIR) M=$(TOP) INSTALL_MOD_PATH=$(DESTDIR) INSTALL_MOD_DIR=extra modules_install
	@if [ -z "$(DESTDIR)" ]; then depmod -a $(KVER); fi

install-userspace: userspace
	$(MAKE) -C userspace install DESTDIR=$(DESTDIR) PREFIX=$(PREFIX)
	install -D -m 0644 netlink/jazz.h $(DESTDIR)$(PREFIX)/include/linux/jazz.h
	install -D -m 0644 netlink/jazz.yaml $(DESTDIR)$(PREFIX)/share/jazz/jazz.yaml

clean:
	-$(MAKE) -C $(KDIR) M=$(TOP) clean 2>/dev/null
	$(MAKE) -C userspace clean

test:
	bash scripts/test.sh

demo:
	bash scripts/demo.sh

bench:
	bash scripts/bench.sh

FUZZ_SECONDS ?= 300
fuzz-userspace:
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz/run.sh
# The tree's files (tracked and new, not ignored) copied to out/deb/jazz-VERSION,
# built there: the .debs, .changes and .buildinfo land in out/deb/.
DEB_OUT := $(TOP)/out/deb
deb:
	rm -rf $(DEB_OUT) && mkdir -p $(DEB_OUT)/jazz-$(VERSION)
	cd $(TOP) && git ls-files -z --cached --others --exclude-standard | \
		xargs -0 sh -c 'for f; do [ -e "$$f" ] || [ -L "$$f" ] && printf "%s\0" "$$f"; done' _ | \
		tar --null -T - -cf - | tar -xf - -C $(DEB_OUT)/jazz-$(VERSION)
	cd $(DEB_OUT)/jazz-$(VERSION) && nice dpkg-buildpackage -us -uc -j2 >$(DEB_OUT)/build.log 2>&1 || \
		{ tail -n 40 $(DEB_OUT)/build.log; echo "make deb: dpkg-buildpackage failed (log: $(DEB_OUT)/build.log)" >&2; exit 1; }
	@ls -1 $(DEB_OUT)/*.deb
fuzz-kernel:
	bash tests/fuzz-kernel/run.sh

# Every fuzzer, each for FUZZ_SECONDS.
fuzz: fuzz-userspace fuzz-kernel
