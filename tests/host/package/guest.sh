#!/usr/bin/env bash
# Runs inside the VM (scripts/vm.sh) booted from a host root on which the
# jazz-dkms and jazz-tools packages are installed (tests/host/package-deb.sh):
# the module modprobe loads is the one DKMS built for this kernel, and the
# packaged jazzctl and jazz-ifup drive it.
set -uo pipefail
n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - [$JAZZ_KVER] $*"; }
not_ok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - [$JAZZ_KVER] $*"; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }

dkms_ko=$(ls /lib/modules/"$JAZZ_KVER"/updates/dkms/jazz.ko* 2>/dev/null | head -n 1)
check "DKMS's jazz.ko is on the guest's root (${dkms_ko:-none})" test -n "$dkms_ko"
check "modprobe jazz" modprobe jazz
path=$(modinfo -n jazz 2>&1)
echo "# modinfo -n jazz: $path"
check "modprobe resolves jazz to DKMS's build" test -n "$dkms_ko" -a "$path" = "$dkms_ko"
# The loaded module's GNU build ID (sysfs note: 12-byte header, "GNU\0",
# then the ID) against the one in DKMS's file.
got=$(od -An -tx1 -j16 /sys/module/jazz/notes/.note.gnu.build-id 2>/dev/null | tr -d ' \n')
tmp=$(mktemp)
case "$dkms_ko" in
*.xz) xz -dc "$dkms_ko" >"$tmp" ;;
*.zst) zstd -qdc "$dkms_ko" >"$tmp" ;;
*) cat "$dkms_ko" >"$tmp" 2>/dev/null ;;
esac
want=$(readelf -n "$tmp" 2>/dev/null | awk '/Build ID:/ { print $3; exit }')
rm -f "$tmp"
echo "# build ID: loaded ${got:-?}, DKMS build ${want:-?}"
check "the loaded module is DKMS's build (same GNU build ID)" test -n "$want" -a "$got" = "$want"

conf=$(mktemp)
printf '[client]\nserver = 127.0.0.1:7443\ndevice = t\n\n[kernel]\nifname = jzpkg0\n' >"$conf"
check "/usr/lib/jazz/jazz-ifup creates the configured device" /usr/lib/jazz/jazz-ifup "$conf"
check "jzpkg0 is a jazz link and up" sh -c 'ip -d link show dev jzpkg0 | grep -q "jazz" && ip link show dev jzpkg0 | grep -q "[<,]UP[,>]"'
check "jazz-ifup again: the device exists, no error" /usr/lib/jazz/jazz-ifup "$conf"
printf '[kernel]\nifname = bad/name\n' >"$conf"
if /usr/lib/jazz/jazz-ifup "$conf" 2>/dev/null; then not_ok "jazz-ifup refuses a bad ifname"; else ok "jazz-ifup refuses a bad ifname"; fi
check "packaged jazzctl sets the device (listen-port 51977)" /usr/bin/jazzctl set jzpkg0 listen-port 51977
check "packaged jazzctl shows it" sh -c '/usr/bin/jazzctl show jzpkg0 | grep -q 51977'
ip link del jzpkg0
rm -f "$conf"
[ "$fails" -eq 0 ]
