#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Issue 7: the whole system end to end on a real kernel. Run inside the VM
# by scripts/test.sh (vm suite), or by hand:
#   scripts/vm.sh --kernel 6.12 --out out/e2e-612 --each tests/vm/e2e.sh
# The scenario (shared with `make demo`) is tests/e2e/scenario.sh; the
# topology, configuration and helpers are in tests/e2e/lib.sh. TAP output;
# logs in $JAZZ_OUT/e2e/.
exec bash "$(dirname "$0")/../e2e/scenario.sh" "$@"
