# shellcheck shell=bash
# Shared by tests/host/package-install.sh and package-vm.sh: the packages'
# install state lives in overlay upper layers under out/package-root/ (for
# /usr, /etc and /var), mounted only inside the tests' private mount
# namespaces. package-install.sh installs and leaves the state;
# package-vm.sh boots VMs on it, purges and removes it.

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
