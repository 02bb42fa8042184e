#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Installs what building, linting and VM-testing vhnet needs on Debian 12.
# Idempotent: a quick no-op when everything is there; otherwise one
# "apt-get update" and one non-interactive install. Needs root (CI runs as
# root with no stdin).
set -euo pipefail

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
)

missing=()
for p in "${pkgs[@]}"; do
	if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" != installed ]; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
if [ "$(id -u)" != 0 ]; then
	echo "deps: need root to install packages" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q </dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
