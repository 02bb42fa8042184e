#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# build-module.sh [--module-only] KVER OUTDIR
#
# Builds vhnet.ko against KVER's headers (vm_kdir in lib.sh: the debug
# kernel's build tree for that one) from a private copy of the sources in
# OUTDIR/src (log: OUTDIR/build.log), with W=1, and the selftests into
# OUTDIR/selftests (log: OUTDIR/selftests.log) and the nested guest's
# initramfs into OUTDIR/nested (log: OUTDIR/nested.log) unless --module-only.
# Exit status: 0 clean; 1 something did not build; 2 vhnet.ko was built but
# the build printed warnings (a failure too, but the module is testable).
set -uo pipefail
# shellcheck source=tools/vm/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tools/vm/nested.sh
. "$(dirname "$0")/nested.sh"

selftests=1
if [ "${1:-}" = --module-only ]; then
	selftests=0
	shift
fi
[ $# -eq 2 ] || vm_die "usage: $0 [--module-only] KVER OUTDIR"
kver=$1
mkdir -p "$2"
out=$(cd "$2" && pwd -P)
[ -d "$(vm_kdir "$kver")" ] || vm_die "no headers for $kver ($(vm_kdir "$kver"))"

status=0

vm_copy_src "$out/src"
log=$out/build.log
if ! vm_kbuild "$kver" "$out/src" "$log" W=1 || [ ! -f "$out/src/vhnet.ko" ]; then
	vm_msg "build-module: vhnet.ko FAILED to build for $kver (log: $log)"
	grep -aiE 'error|warning:' "$log" | head -40 | sed 's/^/  /'
	status=1
# Any case: modpost says "WARNING: modpost: ..." (e.g. a missing
# MODULE_DESCRIPTION() under W=1).
elif grep -qaiE 'warning:|error:' "$log"; then
	vm_msg "build-module: W=1 build of vhnet.ko for $kver has warnings (log: $log)"
	grep -aiE 'warning:|error:' "$log" | head -40 | sed 's/^/  /'
	status=2
fi

[ $selftests = 1 ] || exit $status

ksft=$VM_BUILD/ksrc/tools/testing/selftests
[ -f "$ksft/kselftest_harness.h" ] || "$VM_TOP/tools/ksrc.sh" ||
	vm_die "cannot extract the kselftest harness"
rm -rf "$out/selftests"
slog=$out/selftests.log
if ! make -C "$VM_TOP/selftests" OUT="$out/selftests" KSFT_INC="$ksft" \
		>"$slog" 2>&1; then
	vm_msg "build-module: selftests FAILED to build (log: $slog)"
	grep -aE 'error|warning:' "$slog" | head -40 | sed 's/^/  /'
	status=1
fi
# The nested guest that selftests/vhnet_qemu_test.sh boots. Under the
# debug kernel it boots the installed 6.12: the debug kernel has no
# virtio_net (and would crawl under TCG in TCG); vhnet runs in the VM.
nkver=$kver
vm_debug_kernel "$kver" && nkver=$(vm_kernels quick)
if [ -z "$nkver" ]; then
	vm_msg "build-module: no installed 6.12 kernel for the nested guest (make deps)"
	status=1
elif ! nested_initramfs "$nkver" "$out" >"$out/nested.log" 2>&1; then
	vm_msg "build-module: nested guest initramfs FAILED (log: $out/nested.log)"
	status=1
fi
exit $status
