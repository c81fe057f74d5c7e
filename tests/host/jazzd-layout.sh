#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/host/jazzd-layout.sh - keeps the folder layout of userspace/jazzd
# (docs/ARCHITECTURE.md, "Source layout") right:
#  - a file includes another folder only through that folder's interface
#    header, written "folder/name.h" (-Ijazzd); no .c is ever included;
#  - no include cycle between folders (main.c on top may include any
#    interface; nothing includes main.c's folder);
#  - no .c/.h over 900 lines; every file opens with SPDX + a comment.
# Then the checker is run on copies of the tree with one violation each,
# to show it catches them. TAP output; no build, no network.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3

# A folder's interface headers: the only ones other folders may include.
IFACE="core/jazzd.h core/proto.h core/leases.h auth/krb.h policy/callbacks.h events/bus.h kernel/kernel.h metrics/metrics.h cluster/state.h"

n=0 fail=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
nok() { n=$((n + 1)); fail=1; echo "not ok $n - $*"; }

# check DIR: prints one line per violation, exits 1 if any
check() {
	IFACE="$IFACE" "$PY" - "$1" <<'EOF'
import os, re, sys
root = sys.argv[1]
iface = set(os.environ["IFACE"].split())
bad = []
files = []
for dp, dn, fn in os.walk(root):
    for f in fn:
        if f.endswith((".c", ".h")):
            files.append(os.path.relpath(os.path.join(dp, f), root))
folders = {os.path.dirname(f) for f in files}
edges = {}
for f in sorted(files):
    folder = os.path.dirname(f)
    text = open(os.path.join(root, f), errors="replace").read()
    lines = text.split("\n")
    n = len(lines) - (1 if text.endswith("\n") else 0)
    if n > 900:
        bad.append("%s: %d lines (limit 900)" % (f, n))
    if not (lines[0].startswith(("// SPDX-License-Identifier", "/* SPDX-License-Identifier"))
            and len(lines) > 1 and lines[1].startswith("/*")):
        bad.append("%s: does not open with SPDX and a comment saying what it owns" % f)
    for i, l in enumerate(lines, 1):
        m = re.match(r'\s*#\s*include\s*"([^"]+)"', l)
        if not m:
            continue
        inc = m.group(1)
        where = "%s:%d: \"%s\"" % (f, i, inc)
        if inc.endswith(".c"):
            bad.append("%s: a .c file is included" % where)
            continue
        if "/" not in inc:
            if os.path.exists(os.path.join(root, folder, inc)):
                continue
            owners = [d for d in folders if os.path.exists(os.path.join(root, d, inc))]
            if owners:
                bad.append("%s: header of %s/ included by bare name" % (where, owners[0] or "."))
            continue		# common/ or include/ (log.h, jazz.h ...)
        d, h = os.path.split(inc)
        if d not in folders:
            bad.append("%s: no folder %s/ in jazzd" % (where, d))
            continue
        if d == folder:
            continue
        if inc not in iface:
            bad.append("%s: not the interface of %s/ (%s)" % (where, d,
                       " ".join(x for x in sorted(iface) if x.startswith(d + "/")) or "it has none"))
        edges.setdefault(folder or ".", set()).add(d)
# cycles between folders
state = {}
def dfs(u, path):
    state[u] = 1
    for v in sorted(edges.get(u, ())):
        if state.get(v) == 1:
            bad.append("include cycle between folders: " + " -> ".join(path[path.index(v):] + [v]))
        elif not state.get(v):
            dfs(v, path + [v])
    state[u] = 2
for u in sorted(edges):
    if not state.get(u):
        dfs(u, [u])
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
EOF
}

J=$TOP/userspace/jazzd
if out=$(check "$J"); then
	ok "userspace/jazzd: interfaces only across folders, no cycles, no file over 900 lines"
else
	nok "userspace/jazzd layout"
	echo "$out" | sed 's/^/# /'
fi

nfiles=$(find "$J" -name '*.[ch]' | wc -l)
[ "$(find "$J" -maxdepth 1 -name '*.[ch]' | wc -l)" -le 2 ] && [ "$nfiles" -gt 20 ] &&
	ok "jazzd sources live in folders ($nfiles files, main.c on top)" ||
	nok "jazzd sources live in folders ($nfiles files)"

# The checker must catch each kind of violation: copies of the tree with one each.
W=$(mktemp -d "${TMPDIR:-/tmp}/jazzd-layout.XXXXXX") || exit 1
trap 'rm -rf -- "$W"' EXIT

mutant() { # mutant NAME EXPECTED-TEXT SHELL-EDIT
	rm -rf -- "$W/t" && cp -r "$J" "$W/t" && (cd "$W/t" && eval "$3")
	if out=$(check "$W/t"); then
		nok "checker catches $1 (passed)"
	elif echo "$out" | grep -q -- "$2"; then
		ok "checker catches $1"
	else
		nok "checker catches $1 (said: $out)"
	fi
}
mutant "an internal header of another folder" "not the interface of server/" \
	"sed -i '0,/#include \"core\/jazzd.h\"/s//#include \"server\/server_int.h\"/' client/client.c"
mutant "another folder's header by bare name" "included by bare name" \
	"sed -i '0,/#include \"core\/jazzd.h\"/s//#include \"krb_int.h\"/' client/client.c"
mutant "a cycle between folders" "include cycle between folders" \
	"sed -i '0,/#include \"log.h\"/s//#include \"client\/client.h\"/' kernel/kernel_fake.c && printf '// SPDX-License-Identifier: GPL-2.0\n/* x */\n#include \"kernel/kernel.h\"\n' >client/client.h"
mutant "a backend including its sibling .c" "a .c file is included" \
	"echo '#include \"kernel_nl.c\"' >>kernel/kernel_fake.c"
mutant "a file over 900 lines" "lines (limit 900)" \
	"for i in \$(seq 901); do echo; done >>events/evt.c"
mutant "a file without its opening comment" "does not open with SPDX" \
	"sed -i '2,/\\*\\//d' core/util.c"
echo "1..$n"
exit $fail
