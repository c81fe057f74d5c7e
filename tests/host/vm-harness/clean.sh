#!/bin/bash
# Guest part of tests/host/vm-harness.sh: a test that passes, log clean.
echo "ok 1 - nothing to report"
