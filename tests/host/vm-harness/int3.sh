#!/bin/bash
# Guest part of tests/host/vm-harness.sh: the console shows what QEMU TCG's
# stale-text fault looks like ("Oops: int3" outside jazz), then the kernel
# crashes (sysrq c). vm.sh must run the test once more, then report it.
printf '<1>Oops: int3: 0000 [#1] PREEMPT SMP NOPTI\n' >/dev/kmsg
printf '<1>RIP: 0010:kmem_cache_alloc_noprof+0x106/0x2f0\n' >/dev/kmsg
sleep 1
echo c >/proc/sysrq-trigger
sleep 30
