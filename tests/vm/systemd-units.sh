#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Issue 17: the jazzd units under a real systemd. The VM's init is not
# systemd, so systemd-nspawn boots the guest's own systemd (PID 1 of a
# container: the host's / read-only with a tmpfs overlay, --volatile=overlay)
# sharing the VM's network namespace, with the tree's units, jazzd and
# jazz-ifup bound where the package installs them and the sysusers file
# that creates _jazz. Run in the VM by scripts/test.sh (vm suite), or:
#   scripts/vm.sh --kernel 6.12 --out out/sdu-612 --each tests/vm/systemd-units.sh
# Checks, driving the container's systemctl through nsenter:
#  - Type=notify: `systemctl start jazzd-server@srv` returns only once the
#    TLS port accepts (READY=1 after the listener is bound);
#  - `systemctl reload` is SIGHUP (same MainPID, "reload done"), and a
#    broken configuration's reload leaves it serving with a STATUS saying so;
#  - the sandbox permits what jazzd needs: the server reads its keytab
#    (root:_jazz 0640) and writes leases in its StateDirectory; the client
#    reads its keytab, gets a ticket from the KDC and drives jazz.ko over
#    netlink (its device gets the leased address);
#  - and no more: the server holds no capability but CAP_NET_BIND_SERVICE,
#    the client only CAP_NET_ADMIN, both NoNewPrivs, running as _jazz;
#  - `systemctl stop` ends them cleanly (Result=success).
set -u
. "$(dirname "$0")/lib.sh"
TOP=${JAZZ_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/tests/host/lib/kdc.sh"
need_root
need_cmd systemd-nspawn nsenter krb5kdc kadmin.local openssl
need_module jazz
[ -x "$TOP/build/jazzd" ] || { not_ok "build/jazzd exists"; exit 1; }

W=$(mktemp -d /tmp/jazz-sdu.XXXXXX)
mkdir -p "$W/root" "$W/units" "$W/etc-jazz"
chmod 755 "$W" "$W/etc-jazz"
mount --bind / "$W/root" || { not_ok "bind mount of /"; exit 1; }
on_exit rm -rf --one-file-system "$W"
on_exit umount -l "$W/root"
# nspawn needs the unified cgroup hierarchy mounted
mountpoint -q /sys/fs/cgroup || mount -t cgroup2 cgroup2 /sys/fs/cgroup

# ---------------------------------------------------------------- setup
kdc_start "$W/kdc" >/dev/null 2>&1
check "KDC" test -n "${KDC_PID:-}"
on_exit kdc_stop
kdc_add_user alice alicepw >/dev/null 2>&1
kdc_user_keytab alice "$W/etc-jazz/alice.keytab" >/dev/null 2>&1
kdc_add_service jazz/server.jazz.test "$W/etc-jazz/server.keytab" >/dev/null 2>&1
check "keytabs for the client (alice) and the server" test -s "$W/etc-jazz/alice.keytab" -a -s "$W/etc-jazz/server.keytab"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$W/etc-jazz/server.key" -out "$W/etc-jazz/server.crt" -days 2 \
	-subj /CN=server.jazz.test -addext subjectAltName=DNS:server.jazz.test 2>/dev/null
cp "$KRB5_CONFIG" "$W/krb5.conf"
PORT=7443
cat >"$W/etc-jazz/srv.conf" <<EOC
[server]
listen = 127.0.0.1:$PORT
cert = /etc/jazz/server.crt
key = /etc/jazz/server.key
keytab = FILE:/etc/jazz/server.keytab
service = jazz/server.jazz.test@$KDC_REALM
leases = /var/lib/jazz/srv/leases.json
pool4 = 10.77.0.0/16
pool6 = fd77:6a61:7a7a::/64
EOC
cat >"$W/etc-jazz/alice.conf" <<EOC
[client]
server = 127.0.0.1:$PORT
server_name = server.jazz.test
ca = /etc/jazz/server.crt
device = alice-pc
method = kerberos
keytab = FILE:/etc/jazz/alice.keytab
principal = alice@$KDC_REALM
realm = $KDC_REALM
service = jazz/server.jazz.test@$KDC_REALM
reconnect_min = 1
reconnect_max = 2

[kernel]
backend = netlink
ifname = jazz7
EOC
cp "$TOP/userspace/systemd/jazzd-server@.service" "$TOP/userspace/systemd/jazzd-client@.service" "$W/units/"

# ------------------------------------------------------------ container
systemd-nspawn -q -D "$W/root" --volatile=overlay --register=no --keep-unit -M jazzunits \
	--capability=CAP_NET_ADMIN \
	--bind-ro="$W/units:/etc/systemd/system" \
	--bind="$W/etc-jazz:/etc/jazz" \
	--bind-ro="$W/krb5.conf:/etc/krb5.conf" \
	--bind-ro="$TOP/build/jazzd:/usr/sbin/jazzd" \
	--bind-ro="$TOP/userspace/systemd/jazz-ifup:/usr/lib/jazz/jazz-ifup" \
	--bind-ro="$TOP/userspace/systemd/jazz.sysusers:/etc/sysusers.d/jazz.conf" \
	-b systemd.unit=multi-user.target >"$W/nspawn.log" 2>&1 </dev/null &
NSPAWN=$!
_T_PIDS+=($NSPAWN)
on_exit kill "$NSPAWN"
on_exit cp "$W/nspawn.log" "${JAZZ_OUT:-/tmp}/systemd-units-nspawn.log"
leader() { pgrep -P "$NSPAWN" -x systemd | head -n 1; }
in_c() { nsenter -t "$(leader)" -a "$@"; }	# a command inside the container
sc() { in_c systemctl --no-pager "$@"; }
booted() { case $(sc is-system-running 2>/dev/null) in running|degraded) return 0 ;; esac; return 1; }
check "systemd boots as PID 1 of the container (multi-user.target reached)" wait_for 240 booted
diag "container: $(sc is-system-running 2>&1); failed units: $(sc --failed --plain --no-legend 2>&1 | awk '{print $1}' | tr '\n' ' ')"
check_eq "PID 1 in the container is systemd" "$(in_c cat /proc/1/comm)" systemd
check "sysusers created _jazz" in_c getent passwd _jazz
in_c chown root:_jazz /etc/jazz/server.keytab /etc/jazz/alice.keytab /etc/jazz/server.key
in_c chmod 0640 /etc/jazz/server.keytab /etc/jazz/alice.keytab /etc/jazz/server.key
verify() {
	local out
	out=$(in_c systemd-analyze verify --man=no jazzd-server@srv.service jazzd-client@alice.service 2>&1)
	[ -z "$out" ] || { echo "$out"; return 1; }
}
check "systemd-analyze verify (man pages: package-install.sh) clean under the running systemd" verify

# ---------------------------------------------------------------- server
port_open() { bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT" 2>/dev/null; }
check_fail "nothing listens on $PORT before the start" port_open
check "systemctl start jazzd-server@srv" sc start jazzd-server@srv
# start returned: with Type=notify that means READY=1 came, after the bind
check "Type=notify: the TLS port accepts the moment start returns" port_open
prop() { sc show -p "$2" --value "$1"; }
check_eq "server: ActiveState/SubState" "$(prop jazzd-server@srv ActiveState)/$(prop jazzd-server@srv SubState)" active/running
check_eq "server: StatusText from sd_notify" "$(prop jazzd-server@srv StatusText)" serving
SPID=$(prop jazzd-server@srv MainPID)
status() { in_c awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
check_eq "server runs as _jazz" "$(in_c stat -c %U "/proc/$SPID")" _jazz
check_eq "server: effective capabilities = CAP_NET_BIND_SERVICE only" "$(status "$SPID" CapEff)" 0000000000000400
check_eq "server: bounding set = CAP_NET_BIND_SERVICE only" "$(status "$SPID" CapBnd)" 0000000000000400
check_eq "server: NoNewPrivs" "$(status "$SPID" NoNewPrivs)" 1
check_eq "server: descriptor limit from LimitNOFILE" "$(in_c awk '/Max open files/ { print $4 }' "/proc/$SPID/limits")" 65536

# ---------------------------------------------------------------- client
check "systemctl start jazzd-client@alice (jazz-ifup makes jazz7)" sc start jazzd-client@alice
check_eq "client: ActiveState/SubState" "$(prop jazzd-client@alice ActiveState)/$(prop jazzd-client@alice SubState)" active/running
CPID=$(prop jazzd-client@alice MainPID)
check_eq "client runs as _jazz" "$(in_c stat -c %U "/proc/$CPID")" _jazz
check_eq "client: effective capabilities = CAP_NET_ADMIN only" "$(status "$CPID" CapEff)" 0000000000001000
check_eq "client: NoNewPrivs" "$(status "$CPID" NoNewPrivs)" 1
journal() { in_c journalctl --no-pager -o cat -u "$1"; }
logged() { journal jazzd-client@alice | grep -q 'logged in as alice'; }
check "client: read its keytab, got a ticket, logged in (sandboxed)" wait_for 90 logged
leased() { ip -4 addr show dev jazz7 | grep -q '10\.77\.'; }
check "client: drove jazz.ko over netlink: jazz7 has the leased address" wait_for 30 leased
lease() { in_c test -s /var/lib/jazz/srv/leases.json; }
check "server: wrote its leases in StateDirectory /var/lib/jazz/srv" wait_for 30 lease
check_eq "StateDirectory is _jazz's, 0700" "$(in_c stat -c '%U %a' /var/lib/jazz/srv)" "_jazz 700"

# ---------------------------------------------------------------- reload
check "systemctl reload jazzd-server@srv" sc reload jazzd-server@srv
check_eq "reload kept the process (same MainPID)" "$(prop jazzd-server@srv MainPID)" "$SPID"
reloaded() { journal "$1" | grep -q 'reload done'; }
check "reload = SIGHUP: jazzd logged 'reload done'" wait_for 20 reloaded jazzd-server@srv
check_eq "after reload: StatusText" "$(prop jazzd-server@srv StatusText)" "serving (reloaded)"
check "the client's reload" sc reload jazzd-client@alice
check "... is SIGHUP too: 'reload done'" wait_for 20 reloaded jazzd-client@alice
check_eq "... same client MainPID" "$(prop jazzd-client@alice MainPID)" "$CPID"
echo 'no_such_key = 1' >>"$W/etc-jazz/srv.conf"
sc reload jazzd-server@srv >/dev/null 2>&1
failed_reload() { prop jazzd-server@srv StatusText | grep -q 'reload failed'; }
check "broken configuration: the reload fails, StatusText says so" wait_for 20 failed_reload
check_eq "... the server is still active, same process" \
	"$(prop jazzd-server@srv ActiveState) $(prop jazzd-server@srv MainPID)" "active $SPID"
check "... and still accepts TLS" port_open

# ---------------------------------------------------------------- stop
check "systemctl stop jazzd-client@alice jazzd-server@srv" sc stop jazzd-client@alice jazzd-server@srv
check_eq "both stopped cleanly (Result=success)" \
	"$(prop jazzd-server@srv Result) $(prop jazzd-client@alice Result)" "success success"
check_fail "nothing listens on $PORT after the stop" port_open
sc poweroff >/dev/null 2>&1
gone() { ! kill -0 "$NSPAWN" 2>/dev/null; }
wait_for 60 gone || kill "$NSPAWN" 2>/dev/null
ip link del jazz7 2>/dev/null
true
