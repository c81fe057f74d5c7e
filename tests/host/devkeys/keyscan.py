#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""keyscan: are any of these secrets anywhere in a process's memory or in
files, in any of the forms a program would hold or write them?

  keyscan.py mem PID KEYS          every readable private or anonymous
                                   mapping of PID (/proc/PID/mem)
  keyscan.py files KEYS PATH...    files, directories walked

KEYS is a file of hex secrets (one a line, at least 16 bytes each). Each
secret is looked for as raw bytes, as hex (either case), and as base64 or
base64url at each of the three byte alignments it can have inside a longer
encoded string (only the characters that depend on the secret alone).
Prints "found HEX FORM WHERE" for each hit, then "scanned N bytes in M
regions"; exits 0 either way (the caller decides what a hit means).
"""
import base64
import os
import re
import sys

B64URL = bytes.maketrans(b"-_", b"+/")


def needles(secret):
    """(form, bytes) pairs; hex is searched in lowered data, base64 in
    data with the url alphabet mapped to the standard one."""
    out = [("raw", secret), ("hex", secret.hex().encode())]
    for pad in range(3):
        enc = base64.b64encode(b"\0" * pad + secret)
        # characters fed only by the secret's bytes: skip those that mix
        # in the padding before it, stop before those that mix in what
        # follows it
        first = (pad * 8 + 5) // 6
        last = (pad + len(secret)) * 8 // 6
        out.append((f"base64@{pad}", enc[first:last]))
    return out


def scan(data, where, keys, hits):
    low = data.lower()
    std = data.translate(B64URL)
    for k in keys:
        for form, n in needles(k):
            hay = low if form == "hex" else std if form.startswith("base64") else data
            if n in hay:
                hits.append(f"found {k.hex()} {form} {where}")


def regions(pid):
    with open(f"/proc/{pid}/maps") as maps:
        for line in maps:
            m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ (\d+)\s*(.*)", line)
            if not m or m.group(3)[0] != "r":
                continue
            name = m.group(5)
            if name in ("[vvar]", "[vsyscall]", "[vdso]"):
                continue
            # a file mapped read-only holds the file, never what the
            # process made at run time; writable and anonymous ones do
            if name.startswith("/") and "w" not in m.group(3):
                continue
            yield int(m.group(1), 16), int(m.group(2), 16), name or "[anon]"


def main():
    mode = sys.argv[1]
    if mode == "mem":
        pid, keyfile, paths = int(sys.argv[2]), sys.argv[3], []
    else:
        keyfile, paths = sys.argv[2], sys.argv[3:]
    keys = [bytes.fromhex(line.strip()) for line in open(keyfile) if line.strip()]
    if any(len(k) < 16 for k in keys):
        sys.exit("keyscan: secrets shorter than 16 bytes would match by chance")
    hits, total, nreg = [], 0, 0
    if mode == "mem":
        with open(f"/proc/{pid}/mem", "rb", 0) as mem:
            for lo, hi, name in regions(pid):
                try:
                    mem.seek(lo)
                    data = mem.read(hi - lo)
                except (OSError, ValueError, OverflowError):
                    continue
                total += len(data)
                nreg += 1
                scan(data, f"{name}@{lo:x}", keys, hits)
    else:
        files = []
        for p in paths:
            if os.path.isdir(p):
                files += [os.path.join(d, f) for d, _, fs in os.walk(p) for f in fs]
            else:
                files.append(p)
        for f in files:
            try:
                with open(f, "rb") as fh:
                    data = fh.read()
            except OSError:
                continue
            total += len(data)
            nreg += 1
            scan(data, f, keys, hits)
    for h in hits:
        print(h)
    print(f"scanned {total} bytes in {nreg} regions")


main()
