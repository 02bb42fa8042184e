#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# demo.sh: boot the 6.12 VM, load vhnet and show /dev/vhnet.
# A placeholder until the data path exists.
set -uo pipefail
# shellcheck source=tools/vm/lib.sh
. "$(dirname "$0")/lib.sh"

kver=$(vm_kernels quick)
[ -n "$kver" ] || vm_die "no 6.12 kernel with headers installed (make deps)"
out=$VM_BUILD/demo/$kver
"$VM_TOP/tools/vm/build-module.sh" --module-only "$kver" "$out" || exit 1

rm -rf "$out/results"
mkdir -p "$out/results"
vm_msg "demo: booting $kver ($(vm_accel))"
vm_boot "$kver" "$out" demo
qrc=$?
ok=1
[ "$qrc" = 0 ] || { vm_msg "demo: qemu exited with status $qrc"; ok=0; }
[ -f "$out/results/done" ] || { vm_msg "demo: the guest did not finish"; ok=0; }
if [ -s "$out/results/setup-failures" ]; then
	sed 's/^/demo: FAILED: /' "$out/results/setup-failures"
	ok=0
fi
vm_log_problems "$out/console.log" || ok=0
if [ $ok = 1 ] && [ -s "$out/results/demo.out" ]; then
	cat "$out/results/demo.out"
	exit 0
fi
vm_msg "demo: FAILED (console log: $out/console.log)"
exit 1
