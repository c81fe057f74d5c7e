# SPDX-License-Identifier: GPL-2.0
# Shared setup of the NAT traversal VM tests (tests/vm/nat-*.sh; issue 20),
# sourced after lib.sh and lib-pair.sh:
#   nat_prelude      the tools and modules they need (skip_all without),
#                    jazz_prelude, then nat_topology
#   nat_topology     namespaces c1, nat, srv (skip_all without nftables NAT):
#                      c1: v-c1 192.168.1.2/24, default via .1; jazz0 port 51820, up
#                      nat: v-in 192.168.1.1/24 | v-out 203.0.113.1/24, forwarding
#                      srv: v-srv 203.0.113.2/24
#   nat_rule [OPT]   masquerade out of v-out (OPT: fully-random, ...), with an
#                    empty connection table
#   ct_port DPORT    the NAT's public port of c1's 51820 towards srv:DPORT
#   nat_servers P... a jazzd server in srv answering STUN on 203.0.113.2:P
#                    for each P (TLS on P+4000; no KDC needed); $JAZZD

nat_prelude() {
	need_root
	need_cmd ip nft conntrack openssl
	need_module jazz
	modprobe nf_conntrack_netlink 2>/dev/null
	jazz_prelude
	nat_topology
}

nat_topology() {
	JAZZD=$JAZZ_TOP/build/jazzd
	[ -x "$JAZZD" ] || skip_all "build/jazzd not built"
	ns_add c1 nat srv
	# nftables NAT available? (stock kernels: modules; the debug kernel: none)
	nat nft add table ip t 2>/dev/null &&
		nat nft add chain ip t p '{ type nat hook postrouting priority 100; }' 2>/dev/null &&
		nat nft add rule ip t p masquerade 2>/dev/null ||
		skip_all "the kernel has no nftables masquerade"
	nat nft delete table ip t
	veth c1 v-c1 nat v-in
	veth nat v-out srv v-srv
	addr c1 v-c1 192.168.1.2/24
	addr nat v-in 192.168.1.1/24
	addr nat v-out 203.0.113.1/24
	addr srv v-srv 203.0.113.2/24
	c1 ip route add default via 192.168.1.1
	nat sysctl -qw net.ipv4.ip_forward=1
	c1 ip link add jazz0 type jazz
	check "jazz0 listens on 51820" c1 "$JZ" set jazz0 listen-port 51820
	c1 ip link set jazz0 up
}

nat_rule() {
	nat nft delete table ip nat 2>/dev/null
	nat conntrack -F >/dev/null 2>&1
	nat nft -f - <<NFT
table ip nat {
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "v-out" masquerade $*
	}
}
NFT
}

ct_port() {
	nat conntrack -L -p udp --orig-src 192.168.1.2 --orig-port-src 51820 \
		--orig-port-dst "$1" 2>/dev/null |
		sed -n 's/.*src=203.0.113.2 dst=203.0.113.1 sport=[0-9]* dport=\([0-9]*\).*/\1/p' | head -n 1
}

nat_servers() {
	local p
	[ -s "$T/c.pem" ] || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$T/k.pem" -out "$T/c.pem" -days 2 -subj /CN=srv.jazz.test 2>/dev/null
	for p in "$@"; do
		cat >"$T/s$p.conf" <<CONF
[jazzd]
mode = server
[server]
listen = 203.0.113.2:$((p + 4000))
cert = $T/c.pem
key = $T/k.pem
leases = $T/leases$p.json
pool4 = 10.77.0.0/16
pool6 = fd77:6a61:7a7a::/64
stun_listen = 203.0.113.2:$p
CONF
		bg srv "$JAZZD" -f -c "$T/s$p.conf" >"$T/s$p.log" 2>&1
		wait_listen srv udp "$p" 30 || not_ok "jazzd's STUN port $p listening"
	done
}
