#!/usr/bin/env bash
# bash completion for jazzctl and jazzd (userspace/completion/): sourced into
# a bash with the bash-completion library, as an interactive shell would,
# and asked for completions of partial command lines. Devices come from
# `ip link`: a jazz-kind link cannot be made on this host (no module), so
# the device list is checked through a dummy `ip` earlier on PATH that prints
# what iproute2 prints for a jazz link.
set -uo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/tests/host/lib/tap.sh"

BC=/usr/share/bash-completion/bash_completion
if [ ! -r "$BC" ]; then
	not_ok "bash-completion is installed (scripts/deps.sh installs it)"
	exit 1
fi

mkdir -p "$TOP/out"
work=$(mktemp -d "$TOP/out/completion.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/files"
cat >"$work/bin/ip" <<'EOF'
#!/bin/sh
# `ip -o -d link show type jazz` on a host with two jazz devices
case "$*" in
*"type jazz"*)
	echo '7: jazz0: <POINTOPOINT,NOARP,UP,LOWER_UP> mtu 1420 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\    link/none  promiscuity 0 minmtu 0 maxmtu 0 \    jazz addrgenmode none'
	echo '9: office: <POINTOPOINT,NOARP> mtu 1420 qdisc noop state DOWN mode DEFAULT group default qlen 1000\    link/none  promiscuity 0 minmtu 0 maxmtu 0 \    jazz addrgenmode none'
	;;
esac
EOF
chmod +x "$work/bin/ip"
touch "$work/files/server.conf" "$work/files/client.conf" "$work/files/other.txt"

# complete WORDS...: the completions bash offers for the last word (the
# line so far, split in words; the last may be empty), one per line, sorted.
complete_line() { # PROG WORD...
	PATH=$work/bin:$PATH bash --norc --noprofile -c '
		. "$1"; . "$2"; shift 2
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		fn=$(complete -p "$1" | sed -E "s/.*-F ([^ ]+).*/\1/")
		"$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$BC" "$TOP/userspace/completion/$1" "$@"
}

is() { # DESCRIPTION WANT(space separated) WORDS...
	local d=$1 want got
	want=$(tr ' ' '\n' <<<"$2" | sort)
	shift 2
	got=$(cd "$work/files" && complete_line "$@")
	if [ "$got" = "$want" ]; then
		ok "$d"
	else
		not_ok "$d"
		echo "#   want: $(echo $want)"
		echo "#   got:  $(echo $got)"
	fi
}

for f in jazzctl jazzd; do
	if bash -n "$TOP/userspace/completion/$f"; then ok "$f completion parses"; else not_ok "$f completion parses"; fi
done

is "jazzctl s<TAB>: the commands starting with s" "show set setconf showconf stun" jazzctl s
is "jazzctl con<TAB>" "conn conns" jazzctl con
is "jazzctl show <TAB>: all, the jazz devices (from ip link), --json" "all jazz0 office --json" jazzctl show ""
is "jazzctl show jazz0 <TAB>: what to show" "peers endpoints allowed-ips keys --json" jazzctl show jazz0 ""
is "jazzctl set j<TAB>: the device" "jazz0" jazzctl set j
is "jazzctl set jazz0 co<TAB>: device options" "conncheck conn-max" jazzctl set jazz0 co
is "jazzctl set jazz0 conncheck <TAB>: on/off" "on off" jazzctl set jazz0 conncheck ""
is "jazzctl set jazz0 peer 1 re<TAB>: peer options after 'peer'" "remote-id replace-allowed-ips remove" jazzctl set jazz0 peer 1 re
is "jazzctl set jazz0 listen-port <TAB>: a number, nothing offered" "" jazzctl set jazz0 listen-port ""
is "jazzctl monitor --group <TAB>" "notify approvals all" jazzctl monitor --group ""
is "jazzctl answer office <TAB>" "approve-all deny-all rules" jazzctl answer office ""
is "jazzctl key jazz0 <TAB>" "new swap del" jazzctl key jazz0 ""
is "jazzctl key jazz0 new peer 1 cipher <TAB>" "chacha20-poly1305 aes-256-gcm" jazzctl key jazz0 new peer 1 cipher ""
is "jazzctl setconf jazz0 s<TAB>: files" "server.conf" jazzctl setconf jazz0 s
is "jazzd -<TAB>: every option" "-c -f -s -d -t -m -a -P -h" jazzd -
is "jazzd -c <TAB>: files" "client.conf other.txt server.conf" jazzd -c ""
is "jazzd -m <TAB>: the roles" "server client" jazzd -m ""
is "jazzd -a <TAB>: CODE=VALUE, nothing offered" "" jazzd -a ""

# Every jazzctl command in its own --help is offered, and nothing else.
if [ -x "$TOP/build/jazzctl" ]; then
	cmds=$("$TOP/build/jazzctl" --help 2>&1 | awk '$1 == "jazzctl" { print $2 }' | sort -u)
	offered=$(complete_line jazzctl "" | grep -v -- '^--' | grep -vx 'help\|version')
	if [ -n "$cmds" ] && [ "$cmds" = "$offered" ]; then
		ok "jazzctl <TAB> offers exactly the commands of jazzctl --help"
	else
		not_ok "jazzctl <TAB> offers exactly the commands of jazzctl --help"
		echo "#   --help: $(echo $cmds)"
		echo "#   offered: $(echo $offered)"
	fi
fi

[ "$fails" -eq 0 ]
