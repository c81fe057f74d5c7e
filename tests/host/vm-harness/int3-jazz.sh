#!/bin/bash
# Guest part of tests/host/vm-harness.sh: an int3 oops whose RIP is in jazz
# is ours: vm.sh must report the crash at once, with no second run.
printf '<1>Oops: int3: 0000 [#1] PREEMPT SMP NOPTI\n' >/dev/kmsg
printf '<1>RIP: 0010:jazz_peer_put+0x12/0x40 [jazz]\n' >/dev/kmsg
sleep 1
echo c >/proc/sysrq-trigger
sleep 30
