# shellcheck shell=bash
# Shared by tests/host/package-install.sh and package-vm.sh: the packages'
# install state lives in overlay upper layers under out/package-root/ (for
# /usr, /etc and /var), mounted only inside the tests' private mount
# namespaces. package-install.sh installs and leaves the state;
# package-vm.sh boots VMs on it, purges and removes it.

. "$TOP/tests/host/lib/tap.sh"
PKG_STATE=$TOP/out/package-root
VERSION=$(cat "$TOP/VERSION")
DEB=$TOP/out/deb

# Inside a private mount namespace: the overlays, and a tmpfs over
# build/vm so that the VM loads DKMS's module, not the tree's
# (build/vm/modroot-*; vm.sh rebuilds its initramfs there).
pkg_mount() {
	local d
	for d in usr etc var; do
		mkdir -p "$PKG_STATE/upper/$d" "$PKG_STATE/ovl/$d"
		mount -t overlay overlay \
			-o "lowerdir=/$d,upperdir=$PKG_STATE/upper/$d,workdir=$PKG_STATE/ovl/$d" "/$d" || return 1
	done
	mkdir -p "$TOP/build/vm"
	mount -t tmpfs tmpfs "$TOP/build/vm"
}

# Inside a test's mount namespace: the overlays, and KERNELS = the kernels
# with headers. A failure is a not-ok line, the count file and exit.
pkg_inside() { # WORK
	local k
	pkg_mount || { not_ok "overlays on /usr /etc /var"; echo "$n $fails" >"$1/count"; exit 1; }
	KERNELS=()
	for k in /lib/modules/*; do
		[ -e "$k/build/Makefile" ] && KERNELS+=("${k##*/}")
	done
}

# Outside: SCRIPT --inside WORK in a private mount namespace, its TAP
# numbering continuing ours, its failures added to ours.
pkg_run_inside() { # SCRIPT WORK
	local f
	TAP_N=$n unshare -m --propagation private bash "$1" --inside "$2"
	read -r n f <"$2/count" 2>/dev/null || { not_ok "the part in its mount namespace finished"; f=0; }
	fails=$((fails + f))
}

# out/deb/ from `make deb` unless it is there and newer than every file of
# the tree.
pkg_debs() {
	local newest deb_t
	newest=$(cd "$TOP" && git ls-files -co --exclude-standard -z | xargs -0 stat -c %Y 2>/dev/null | sort -n | tail -n 1)
	deb_t=$(stat -c %Y "$DEB/jazz-tools_${VERSION}_amd64.deb" 2>/dev/null || echo 0)
	[ -f "$DEB/jazz-dkms_${VERSION}_all.deb" ] && [ "$deb_t" -ge "${newest:-0}" ] && return 0
	echo "# out/deb/ missing or older than the tree: make deb"
	nice make -s -C "$TOP" deb >"$1" 2>&1
}
