#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vhnet_dkms_test: the module that DKMS built from the vhnet-dkms package
# works in the test VM (TAP).
#
# make check installs the package on the host first (tools/vm/dkms_test.sh
# --keep) and passes the path of this kernel's DKMS-built module as
# VHNET_DKMS_KO. Cases: it loads in place of the work tree's vhnet.ko;
# its version is VHNET_VERSION and its srcversion that of the tree's
# module (the same sources); minimal-vmm moves frames both ways through
# it; the tree's module loads again afterwards. Without VHNET_DKMS_KO the
# test is skipped.
set -uo pipefail

top=@VHNET_TOP@
case $top in @*) top=$(cd "$(dirname "$0")/.." && pwd -P) ;; esac
bin=$(cd "$(dirname "$0")" && pwd -P)
dkms=${VHNET_DKMS_KO:-}

echo "TAP version 13"
if [ -z "$dkms" ] || [ -z "${VHNET_KO:-}" ]; then
	echo "1..1"
	echo "ok 1 # SKIP VHNET_DKMS_KO or VHNET_KO not set (make check sets them)"
	exit 0
fi
echo "1..4"
# shellcheck source=tools/vm/tap.sh
. "$top/tools/vm/tap.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The 6.12 kernel's modules, DKMS's included, are xz-compressed.
ko=$dkms
case $dkms in
*.xz) ko=$tmp/vhnet.ko; xz -dc "$dkms" >"$ko" ;;
*.zst) ko=$tmp/vhnet.ko; zstd -qdc "$dkms" >"$ko" ;;
esac
diag "DKMS module: $dkms ($(modinfo -F vermagic "$ko" 2>/dev/null))"
# devtmpfs makes the node; give it a moment.
node() { for _ in 1 2 3 4 5 6 7 8 9 10; do [ -c /dev/vhnet ] && return; sleep 0.2; done; }
rmmod vhnet 2>/dev/null
insmod "$ko" && node && grep -q '^vhnet ' /proc/modules
result $? "the DKMS-built module loads in place of the tree's, /dev/vhnet is there"

want=$(sed -n 's/^#define[[:space:]]\+VHNET_VERSION[[:space:]]\+"\([^"]*\)".*/\1/p' \
	"$top/drivers/vhnet/vhnet.h")
got=$(cat /sys/module/vhnet/version 2>/dev/null)
src=$(cat /sys/module/vhnet/srcversion 2>/dev/null)
tree=$(modinfo -F srcversion "$VHNET_KO" 2>/dev/null)
diag "version ${got:-none} (VHNET_VERSION $want), srcversion ${src:-none} (the tree's ${tree:-none})"
[ -n "$want" ] && [ "$got" = "$want" ] && [ -n "$src" ] && [ "$src" = "$tree" ]
result $? "its version is VHNET_VERSION and its srcversion the tree's module's"

out=$("$bin/minimal-vmm" -n 64 2>&1)
rc=$?
tail -n 8 <<<"$out" | sed 's/^/#   /'
[ $rc = 0 ] && grep -q '^minimal-vmm: ok: 64 frames TX, 64 frames RX' <<<"$out"
result $? "minimal-vmm moves 64 frames each way through it"

rmmod vhnet
insmod "$VHNET_KO" && node && [ "$(cat /sys/module/vhnet/srcversion 2>/dev/null)" = "$tree" ]
result $? "the tree's module loads again"
[ $failed = 0 ]
