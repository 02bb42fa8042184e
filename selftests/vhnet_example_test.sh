#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vhnet_example_test: tools/examples/minimal-vmm against /dev/vhnet (TAP).
#
# Runs in the test VM (tools/vm/guest-run.sh), as root, with vhnet.ko
# loaded. selftests/Makefile builds minimal-vmm beside this test (as
# OUT/minimal-vmm, with <linux/vhnet.h>) and installs this script as
# OUT/vhnet_example_test. Cases:
#   1  minimal-vmm -n 64 -t vhnetex0 exits 0, its last line
#      "minimal-vmm: ok: 64 frames TX, 64 frames RX"
#   2  it read VHNET_GET_STATS: 64 TX packets, and as many RX packets as
#      RX buffers used
#   3  after it exited, its tap and its worker thread vhnet-<pid> are gone
#   4  -n 256 (a whole ring each way): exit 0 and the "ok" line
#   5  -d /dev/null: exit 1 and "minimal-vmm: VHOST_SET_OWNER: ..." on
#      stderr, the error a VMM sees when the file is not a vhost device
# VHNET_DEV overrides /dev/vhnet, VHNET_MINIMAL_VMM the program (to run
# this from the source tree: VHNET_MINIMAL_VMM=build/tools/minimal-vmm).
set -uo pipefail

top=@VHNET_TOP@
case $top in @*) top=$(cd "$(dirname "$0")/.." && pwd -P) ;; esac
vmm=${VHNET_MINIMAL_VMM:-$(dirname "$0")/minimal-vmm}
dev=${VHNET_DEV:-/dev/vhnet}
tap=vhnetex0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# shellcheck source=tools/vm/tap.sh
. "$top/tools/vm/tap.sh"
# run NAME ARGS...: minimal-vmm's output in $tmp/NAME.out and .err, its
# exit status in $rc and its pid in $pid; both outputs as diagnostics.
run() {
	local name=$1
	shift
	"$vmm" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" </dev/null &
	pid=$!
	wait "$pid"
	rc=$?
	diag "minimal-vmm $* (exit status $rc):"
	sed 's/^/#   /' "$tmp/$name.out" "$tmp/$name.err"
}
# gone PATTERN...: true once no path matches, within 5 s.
gone() {
	local i
	for i in $(seq 50); do
		compgen -G "$1" >/dev/null || return 0
		[ "$i" = 50 ] || sleep 0.1
	done
	return 1
}
# The worker's thread, by name: a thread of the owner on 6.12, a kthread
# on 6.1.
worker_gone() {	# PID
	local i
	for i in $(seq 50); do
		grep -qsx "vhnet-$1" /proc/[0-9]*/task/*/comm || return 0
		[ "$i" = 50 ] || sleep 0.1
	done
	return 1
}

echo "TAP version 13"
echo "1..5"
[ -x "$vmm" ] || diag "$vmm: not built"
[ -c "$dev" ] || diag "$dev: no such character device"

run n64 -d "$dev" -n 64 -t "$tap"
last=$(tail -n 1 "$tmp/n64.out")
[ "$rc" = 0 ] && [ "$last" = "minimal-vmm: ok: 64 frames TX, 64 frames RX" ]
result $? "64 frames each way: exit 0 and the ok line"

# The RX count includes frames of the host's own the program recycled.
grep -Eq '^minimal-vmm: VHNET_GET_STATS: tx packets 64, rx packets (6[4-9]|[7-9][0-9]|[1-9][0-9]{2,})$' \
	"$tmp/n64.out"
result $? "VHNET_GET_STATS read and matching the rings"

ok=0
grep -q "ready: tap $tap," "$tmp/n64.out" ||
	{ diag "minimal-vmm did not get as far as attaching $tap"; ok=1; }
gone "/sys/class/net/$tap" || { diag "tap $tap still there"; ok=1; }
worker_gone "$pid" || { diag "thread vhnet-$pid still there"; ok=1; }
result $ok "after exit: tap and worker thread gone"

run n256 -d "$dev" -n 256
last=$(tail -n 1 "$tmp/n256.out")
[ "$rc" = 0 ] && [ "$last" = "minimal-vmm: ok: 256 frames TX, 256 frames RX" ]
result $? "256 frames each way (a whole ring): exit 0 and the ok line"

run devnull -d /dev/null -n 1
[ "$rc" = 1 ] &&
	grep -qx 'minimal-vmm: VHOST_SET_OWNER: Inappropriate ioctl for device' \
		"$tmp/devnull.err"
result $? "not a vhost device: exit 1 naming VHOST_SET_OWNER and ENOTTY"

[ $failed = 0 ]
