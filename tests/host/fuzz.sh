#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The libFuzzer harnesses of tests/fuzz/ (frame reader, the client's
# message parsers, password and Kerberos tokens, jazzd.conf, eventsgw.conf,
# the Python callbacks' result conversions), each for a bounded time
# (FUZZ_SECONDS, default 20 s here; `make fuzz-userspace` runs them
# longer). A crash, leak, UB report or hang fails, with the reproducer.
exec bash "$(dirname "$0")/../fuzz/run.sh" "$@"
