#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# deps.sh [--quiet] [--debug | --deb | --libvirt]
# Installs what building, linting and VM-testing vhnet needs on Debian 12;
# --debug also what building the debug kernel needs (make check-debug);
# --deb only what building the Debian package needs (make deb);
# --libvirt also libvirtd and virsh (make check-libvirt).
# Idempotent: a quick no-op when everything is there; otherwise one
# "apt-get update" and one non-interactive install. Needs root (CI runs as
# root with no stdin). --quiet: apt's output goes to build/deps.log and
# shows only on failure (the first line of make check names the
# accelerator, and the probe needs QEMU and a kernel installed first).
set -euo pipefail
quiet=0 debug=0 deb=0 libvirt=0
for a in "$@"; do
	case $a in
	--quiet) quiet=1 ;;
	--debug) debug=1 ;;
	--deb) deb=1 ;;
	--libvirt) libvirt=1 ;;
	*) echo "deps: unknown option $a" >&2; exit 2 ;;
	esac
done

pkgs=(
	# the two supported kernels, with headers to build against
	linux-image-amd64 linux-headers-amd64
	linux-image-6.12-amd64 linux-headers-6.12-amd64
	# kselftest harness and checkpatch come from here (tools/ksrc.sh)
	linux-source-6.12 xz-utils
	# module and selftest builds; pahole for module BTF
	gcc make libc6-dev pahole kmod
	# the VM: emulator, initramfs, guest userland tools
	qemu-system-x86 busybox-static cpio gzip iproute2 ethtool procps
	# the nested guest's uncompressed kernel (tools/vm/nested.sh)
	zstd
	# lint
	perl sparse shellcheck
	# make bench: plots, profiles in the guest
	gnuplot-nox linux-perf
	# make bench, real guests: the servers in the guest, the clients in the VM
	iperf3 sockperf
)
# tools/vm/debug-kernel.sh
[ $debug = 0 ] || pkgs+=(flex bison bc libelf-dev libssl-dev)
# selftests/vhnet_libvirt_test.sh: libvirtd with its QEMU driver, and
# virsh; without libvirt-daemon-system (no services, users, polkit or
# firewalld on the host: the test sets up what libvirtd needs in the VM).
[ $libvirt = 0 ] || pkgs+=(libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients)
# tools/deb.sh: dpkg-buildpackage, dh and dh_dkms (a package of its own
# in Debian 12); DKMS builds the module where the package is installed.
[ $deb = 0 ] || pkgs=(dpkg-dev debhelper dh-dkms lintian)

missing=()
for p in "${pkgs[@]}"; do
	if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" != installed ]; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: need root to install ${missing[*]}" >&2
	exit 1
fi
do_install() {
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q </dev/null &&
		apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
}
if [ $quiet = 0 ]; then
	do_install
	exit
fi
log=${VHNET_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}/deps.log
mkdir -p "$(dirname "$log")"
do_install >"$log" 2>&1 || {
	tail -30 "$log" >&2
	echo "deps: FAILED (log: $log)" >&2
	exit 1
}
