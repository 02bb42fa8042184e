#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# debug-kernel.sh: build (once; cached) the vhnet debug kernel from Debian's
# linux-source-6.12: allnoconfig plus tools/vm/debug.config (KASAN, lockdep,
# kmemleak, UBSAN, debug objects). Prints its release (uname -r).
#
#   build/debug/linux-source-6.12/   source and build tree (KDIR for vhnet)
#   build/debug/root/lib/modules/    its modules (modules_install)
#   build/debug/key                  what the cached build was made from
set -euo pipefail
# shellcheck source=tools/vm/lib.sh
. "$(dirname "$0")/lib.sh"

dir=$VM_BUILD/debug
frag=$VM_TOP/tools/vm/debug.config
tarball=
for f in /usr/src/linux-source-6.12*.tar.xz; do
	[ -e "$f" ] && tarball=$f
done
[ -n "$tarball" ] || vm_die "linux-source-6.12 is not installed (tools/vm/deps.sh --debug)"
src=$dir/$(basename "$tarball" .tar.xz)
log=$dir/build.log
key=$( { ls -lL "$tarball"; cat "$frag" "$0"; gcc --version; } | sha256sum | cut -d' ' -f1)

if [ -f "$dir/key" ] && [ "$(cat "$dir/key")" = "$key" ] &&
   [ -f "$src/arch/x86/boot/bzImage" ]; then
	make -s -C "$src" kernelrelease
	exit 0
fi

mkdir -p "$dir"
rm -f "$dir/key"
if [ ! -f "$src/Makefile" ]; then
	vm_msg "debug-kernel: extracting $tarball" >&2
	tar -C "$dir" -xJf "$tarball"
fi
vm_msg "debug-kernel: building in $src (log: $log); about 30 min on 2 cores" >&2
{
	KCONFIG_ALLCONFIG=$frag make -C "$src" allnoconfig
	make -C "$src" -j"$(nproc)" bzImage modules
	rm -rf "$dir/root"
	make -C "$src" INSTALL_MOD_PATH="$dir/root" modules_install
} >"$log" 2>&1 || {
	tail -30 "$log" >&2
	vm_die "debug kernel build failed (log: $log)"
}
# Every line of the fragment must have stuck: a dependency Kconfig could
# not satisfy drops an option silently.
bad=0
while IFS= read -r l; do
	k=${l%%=*} v=${l#*=}
	if [ "$v" = n ]; then
		grep -qx "# $k is not set" "$src/.config" && continue
	else
		grep -qxF "$l" "$src/.config" && continue
	fi
	vm_msg "debug-kernel: $l did not stick: $(grep -E "^(# )?${k}[= ]" "$src/.config")" >&2
	bad=1
done < <(grep '^CONFIG_' "$frag")
[ $bad = 0 ] || vm_die "tools/vm/debug.config needs fixing"
echo "$key" >"$dir/key"
make -s -C "$src" kernelrelease
