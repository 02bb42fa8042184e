#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the test VM, chrooted into the host's Debian userland (see
# init.sh):  guest-run.sh MODE OUT
#
# Loads the helper modules and OUT/src/vhnet.ko, then for MODE
#   test  runs every OUT/selftests/*_test (sorted), each under a time limit
#   demo  runs the in-VM part of tools/vm/demo.sh (make demo)
#   bench runs tools/bench/run-guest.sh OUT (make bench; tools/vm/bench.sh)
#   ab    runs one nested-KVM guest for tools/vm/ab.sh
# Results go to OUT/results/ (a host directory shared writable):
#   <test>.tap / .err / .rc / .time       stdout, stderr, exit status, seconds
#                                         (.rc "hung": stuck past its limit)
#   setup-failures                        one line per failed setup step
#   kmemleak.txt                          with kmemleak (the debug kernel):
#                                         the objects leaked after setup
#   dmesg.txt, done                       kernel log; written last
# Console output is our progress only; test output never goes there.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp LC_ALL=C.UTF-8
umask 022

mode=$1 out=$2
res=$out/results
ko=$out/src/vhnet.ko
# Per-test time limit (seconds): VHNET_TEST_TIMEOUT if set (for every
# test), else 900, or what test_limit below gives a slower test. A test
# finds its own limit in VHNET_TEST_TIMEOUT.
test_timeout=${VHNET_TEST_TIMEOUT:-}
test_limit() {
	if [ -n "$test_timeout" ]; then
		echo "$test_timeout"
		return
	fi
	case $1 in
	# Two nested TCG guests, one after the other: ~10 min, more on a
	# busy host.
	vhnet_qemu_test) echo 1200 ;;
	*) echo 900 ;;
	esac
}

mkdir -p "$res"
say() { echo "vm: [$(cut -d" " -f1 /proc/uptime)s] $*"; }
setup_fail() {
	echo "$*" >>"$res/setup-failures"
	say "FAILED: $*"
}

say "kernel $(uname -r), mode $mode"
# A sign of life for the host, which takes a VM silent for minutes
# (VHNET_VM_SILENCE) for dead; it names what runs.
echo setup >/tmp/vm-current
# The kernel's text symbols, for the host to name where the vCPUs of a
# hung VM are (vm_cpu_where); the beat refreshes the modules' ones.
kallsyms_mod() { grep -E '^[0-9a-f]+ [tT] .*\[' /proc/kallsyms >"$res/kallsyms.mod"; }
grep -E '^[0-9a-f]+ [tT] [^[]*$' /proc/kallsyms >"$res/kallsyms"
( while sleep 60; do
	say "alive: $(cat /tmp/vm-current 2>/dev/null)"
	kallsyms_mod
done ) &
heartbeat=$!
helpers="tun tap macvtap macvlan veth dummy vhost_net"
# One modprobe for all (each run reads the module index over 9p); only on
# failure find out which one it was.
# shellcheck disable=SC2086  # a list of names
if ! modprobe -a $helpers 2>>"$res/setup.err"; then
	for m in $helpers; do
		modprobe "$m" 2>>"$res/setup.err" || setup_fail "modprobe $m"
	done
fi

# kmemleak (the debug kernel): what leaked before vhnet.ko was loaded is
# not ours. A clear only forgets objects a scan has reported, and a scan
# only reports objects 5 s old: scan, wait, scan, clear.
kmemleak=/sys/kernel/debug/kmemleak
kmemleak_scan() {
	echo kmemleak >/tmp/vm-current
	echo scan >"$kmemleak" && sleep 6 && echo scan >"$kmemleak"
}
if [ -e "$kmemleak" ]; then
	say "kmemleak: forgetting what leaked so far"
	{ kmemleak_scan && echo clear >"$kmemleak"; } 2>>"$res/setup.err" ||
		setup_fail "kmemleak scan and clear"
fi

loaded=0
if insmod "$ko" 2>>"$res/setup.err"; then
	loaded=1
	# devtmpfs creates the node; give it a moment all the same.
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		[ -c /dev/vhnet ] && break
		sleep 0.2
	done
	[ -c /dev/vhnet ] || setup_fail "/dev/vhnet missing after insmod"
else
	setup_fail "insmod $ko"
fi
export VHNET_KO=$ko VHNET_DEV=/dev/vhnet
# VHNET_FUZZ_*, VHNET_FRAMES, VHNET_LIFE_CYCLES=number and VHNET_QEMU_ONLY,
# VHNET_QEMU_SKIP_RX_LOG, VHNET_QEMU_STRACE, VHNET_LIBVIRT settings from
# the host (check.sh writes them, and VHNET_SKIP_TESTS, the tests a first
# test VM had passed; VHNET_DKMS_KO, the DKMS-built module); VHNET_AB_* from
# ab.sh.
while IFS='=' read -r k v; do
	case $k in
	VHNET_FUZZ_[A-Z]*|VHNET_FRAMES|VHNET_LIFE_CYCLES|VHNET_AB_ARM|VHNET_AB_STEPS|\
	VHNET_QEMU_ONLY|VHNET_QEMU_SKIP_RX_LOG|VHNET_QEMU_STRACE|VHNET_SKIP_TESTS|\
	VHNET_DKMS_KO|VHNET_LIBVIRT) export "$k=$v" ;;
	esac
done 2>/dev/null <"$out/test.env"

# guarded SECS CMD...: run CMD; if it is still there after SECS seconds
# (stuck in the kernel, where not even SIGKILL helps), dump the blocked
# tasks to the console and give up on it: status 255. Without this a hang
# only shows as the host's whole-VM timeout, with nothing to debug.
guarded() {
	local secs=$1 pid sleeper rc
	shift
	"$@" &
	pid=$!
	sleep "$secs" &
	sleeper=$!
	wait -n "$pid" "$sleeper"
	rc=$?
	if kill -0 "$pid" 2>/dev/null; then
		echo w >/proc/sysrq-trigger
		return 255
	fi
	kill "$sleeper" 2>/dev/null
	wait "$sleeper" 2>/dev/null
	return $rc
}

run_one() {	# TEST NAME LIMIT
	cd /tmp && VHNET_TEST_TIMEOUT=$3 exec timeout -k 10 "$3" "$1" \
		>"$res/$2.tap" 2>"$res/$2.err" </dev/null
}

# The kselftest harness runs each case in its own process group, which
# timeout(1) does not reach: a case cut off mid-run would live on, holding
# /dev/vhnet. Kill what is left of NAME's processes (matched by comm).
reap_strays() {	# NAME
	local comm=${1:0:15}
	pkill -KILL -x "$comm" 2>/dev/null || return 0
	say "killed processes $1 left behind"
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		pgrep -x "$comm" >/dev/null || return 0
		sleep 1
	done
	say "$1 left processes that survive SIGKILL; blocked tasks follow"
	echo w >/proc/sysrq-trigger
}

# KASAN (the debug kernel) keeps freed objects in a quarantine of up to
# 1/32 of RAM, and their slab pages count as Slab, which the tests' leak
# checks compare: +1.9 MB over vhnet_ctl_test's 1000 cycles with no leak
# (kmemleak found none). Shrinking every cache empties the quarantine; it
# frees nothing that is still allocated.
kasan=0
grep -q ' kasan_quarantine_remove_cache$' /proc/kallsyms 2>/dev/null && kasan=1
kasan_flush() {
	local f
	for f in /sys/kernel/slab/*/shrink; do
		echo 1 >"$f"
	done 2>/dev/null
}

run_tests() {
	local t name rc t0 limit
	for t in $(find "$out/selftests" -maxdepth 1 -name '*_test' -type f \
			-perm -u+x | LC_ALL=C sort); do
		name=$(basename "$t")
		case " ${VHNET_SKIP_TESTS:-} " in
		*" $name "*)
			say "not running $name: it passed in the first test VM"
			continue ;;
		esac
		limit=$(test_limit "$name")
		[ $kasan = 0 ] || kasan_flush
		say "running $name (time limit ${limit}s)"
		echo "$name" >/tmp/vm-current
		t0=$SECONDS
		guarded $((limit + 60)) run_one "$t" "$name" "$limit"
		rc=$?
		echo $((SECONDS - t0)) >"$res/$name.time"
		if [ $rc = 255 ]; then
			echo hung >"$res/$name.rc"
			say "$name is stuck in the kernel; blocked tasks dumped above"
			continue
		fi
		echo "$rc" >"$res/$name.rc"
		say "$name exited with status $rc"
		reap_strays "$name"
		# Timed out (124; 137 if it took a SIGKILL): if anything is left
		# blocked in the kernel, its stack goes to the console.
		if [ $rc = 124 ] || [ $rc = 137 ]; then
			echo w >/proc/sysrq-trigger
		fi
	done
}

echo "$mode" >/tmp/vm-current
case $mode in
test)
	if [ $loaded = 1 ]; then
		run_tests
	else
		say "not running the selftests: vhnet.ko did not load"
	fi
	;;
demo)
	# Its progress lines go to the console, which demo.sh on the host
	# shows; it reports its own failures.
	"$(dirname "$0")/demo.sh" --in-vm "$out"
	;;
ab)
	# One nested-KVM guest for tools/vm/ab.sh, which reads the result.
	"$(dirname "$0")/ab.sh" --in-vm "$out"
	;;
bench)
	if [ $loaded = 1 ]; then
		"$(dirname "$0")/../bench/run-guest.sh" "$out" ||
			setup_fail "tools/bench/run-guest.sh exited with status $?"
	fi
	;;
*)
	setup_fail "unknown mode '$mode'"
	;;
esac

# The module must come out cleanly too (tests may have unloaded it).
if grep -q '^vhnet ' /proc/modules; then
	guarded 120 rmmod vhnet 2>>"$res/setup.err"
	case $? in
	0) ;;
	255) setup_fail "rmmod vhnet hung (blocked tasks dumped to the console)" ;;
	*) setup_fail "rmmod vhnet" ;;
	esac
fi

if [ -e "$kmemleak" ]; then
	say "kmemleak: scanning"
	if ! kmemleak_scan 2>>"$res/setup.err"; then
		setup_fail "kmemleak scan"
	elif ! cat "$kmemleak" >"$res/kmemleak.txt" 2>>"$res/setup.err"; then
		rm -f "$res/kmemleak.txt"
		setup_fail "cat $kmemleak"
	else
		say "kmemleak: $(grep -c '^unreferenced object' "$res/kmemleak.txt") unreferenced objects"
	fi
fi

# Lockdep turns itself off after its first report, and on some taints:
# later lock bugs would go unreported.
if [ -r /proc/lockdep_stats ] &&
   ! grep -Eq '^ *debug_locks: *1$' /proc/lockdep_stats; then
	setup_fail "lockdep is off at the end ($(grep -E 'debug_locks' /proc/lockdep_stats | xargs); taint $(cat /proc/sys/kernel/tainted))"
fi

kill "$heartbeat" 2>/dev/null
dmesg >"$res/dmesg.txt" 2>&1
echo finished >"$res/done"
sync
say "finished"
