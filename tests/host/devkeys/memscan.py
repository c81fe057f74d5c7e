#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""memscan PID HEX...: which of these byte strings (hex) are anywhere in the
readable memory of process PID (/proc/PID/mem, every mapping). Prints
"found HEX" or "absent HEX" per string and "scanned N bytes"."""
import re
import sys


def main():
    pid = int(sys.argv[1])
    needles = [bytes.fromhex(h) for h in sys.argv[2:]]
    found = set()
    total = 0
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+)", line)
            if not m or m.group(3)[0] != "r" or "[vvar]" in line or "[vsyscall]" in line:
                continue
            lo, hi = int(m.group(1), 16), int(m.group(2), 16)
            try:
                mem.seek(lo)
                data = mem.read(hi - lo)
            except (OSError, ValueError, OverflowError):
                continue
            total += len(data)
            for i, n in enumerate(needles):
                if i not in found and n in data:
                    found.add(i)
    for i, n in enumerate(needles):
        print(("found " if i in found else "absent ") + n.hex())
    print(f"scanned {total} bytes")


main()
