#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# check.sh [--all|--quick|--debug|--6.1|--6.12]
#
# First line: the VM accelerator and why (vm_accel_init in lib.sh). Then,
# on the host, lint (tools/lint.sh) and the harness's own test
# (tools/vm/harness_test.sh), one [host] block, skipped with VHNET_ONLY.
# Then the vhnet-dkms package is built and installed on the host
# (tools/vm/dkms_test.sh --keep, a [host] block; not with VHNET_ONLY or
# --debug, VHNET_DKMS=0 skips it, =1 forces it), so that each test VM can
# load its DKMS-built module (vhnet_dkms_test); after the VMs it is purged
# (dkms_test.sh --purge).
# For every supported kernel (--quick or --6.12: 6.12 only; --6.1: 6.1 only): build vhnet.ko with W=1
# and the selftests, boot a VM, run the selftests in it, collect the TAP.
# --debug: the debug kernel only (tools/vm/debug-kernel.sh builds it once;
# KASAN, lockdep, kmemleak, UBSAN, debug objects), no [host] block, every
# test limited to VHNET_TEST_TIMEOUT=2700 s and the VM to
# VHNET_VM_TIMEOUT=9000 s, vhnet_data_test to VHNET_FRAMES=10000 frames
# each way (100000 otherwise) unless set; what kmemleak finds after the tests
# (results/kmemleak.txt) is one more failure, and so is no kmemleak report.
# Prints all TAP (prefixed with the kernel series), a summary line per
# kernel, and as the very last line "N passed, N failed" over all kernels.
# N counts kselftest cases ("ok"/"not ok"); each of these adds a failure
# too: a build failure or W=1 warning, a boot failure or VM timeout, a
# failed setup step in the guest (modprobe, insmod, rmmod), a test binary
# that crashed, timed out or exited badly, and kernel problems (Oops, BUG,
# WARNING, ...) in the guest's log. Exit status: 0 only if nothing failed.
# Exception: a test VM that died of an int3 the emulator made up
# (vm_stale_int3, vm_int3_loop) or of a cross-call it lost (vm_lost_ipi) before any
# failure boots again, up to twice per kernel (VHNET_FLAW_RETRIES=2); the summary
# line says so.
set -uo pipefail
# shellcheck source=tools/vm/lib.sh
. "$(dirname "$0")/lib.sh"

set_name=all
case ${1:---all} in
--all) set_name=all ;;
--quick) set_name=quick ;;
--debug) set_name=debug ;;
--6.1|--6.12) set_name=${1#--} ;;
*) vm_die "usage: $0 [--all|--quick|--debug|--6.1|--6.12]" ;;
esac
if [ "$set_name" = debug ]; then
	# Everything runs several times slower under the checkers: 100000
	# frames each way took ~100 s per vhnet_data_test case, 118 cases.
	export VHNET_TEST_TIMEOUT=${VHNET_TEST_TIMEOUT:-2700}
	export VHNET_FRAMES=${VHNET_FRAMES:-10000}
	VM_TIMEOUT=${VHNET_VM_TIMEOUT:-9000}
fi

total_pass=0 total_fail=0
# A test VM killed by one of the outer QEMU's flaws (vm_flaw_retry_ok)
# boots again, up to twice per kernel, if nothing had failed before it,
# and runs the tests that had not ended by then.
flaw_retries=${VHNET_FLAW_RETRIES:-2}
summaries=() fail_ctx=()

# The first line: which accelerator the VMs get, and why.
vm_accel_line

"$VM_TOP/tools/ksrc.sh" || vm_die "tools/ksrc.sh failed"

# Host-side checks first: lint (one case) and the harness's own test.
host_checks() {
	local log=$VM_BUILD/lint.log res=$VM_BUILD/host tap p f t0
	vm_msg "==== [host] lint (log: $log)"
	if "$VM_TOP/tools/lint.sh" >"$log" 2>&1; then
		vm_msg "[host] ok lint: checkpatch --strict, sparse on every kernel, shellcheck"
		p=1 f=0
	else
		grep -v '^lint: ' "$log" | tail -40 | sed 's/^/[host] #   /'
		vm_msg "[host] not ok lint: checkpatch --strict, sparse on every kernel, shellcheck"
		p=0 f=1
	fi
	mkdir -p "$res"
	tap=$res/harness_test.tap
	vm_msg "==== [host] tools/vm/harness_test.sh"
	t0=$SECONDS
	"$VM_TOP/tools/vm/harness_test.sh" >"$tap" 2>"$res/harness_test.err"
	echo $? >"$res/harness_test.rc"
	echo $((SECONDS - t0)) >"$res/harness_test.time"
	k_pass=0 k_fail=0 k_skip=0 k_notes=()
	report_test host "$res" harness_test
	[ $f = 0 ] || k_note "lint FAILED (log: $log)"
	k_pass=$((k_pass + p)) k_fail=$((k_fail + f))
	summaries+=("[host] lint, harness_test: $k_pass passed, $k_fail failed${k_notes[*]:+ -- ${k_notes[*]}}")
	total_pass=$((total_pass + k_pass))
	total_fail=$((total_fail + k_fail))
}

# The vhnet-dkms package (tools/vm/dkms_test.sh): built and installed on
# this host before the test VMs, which load its modules in
# vhnet_dkms_test; purged after them, and checked that nothing is left.
# VHNET_DKMS=0 skips it (as does VHNET_ONLY, unless VHNET_DKMS=1).
dkms=${VHNET_DKMS:-}
[ -n "$dkms" ] || { [ -n "${VHNET_ONLY:-}" ] || [ "$set_name" = debug ] && dkms=0; }
dkms_list=$VM_BUILD/host/dkms-ko.txt
dkms_step() {	# --keep | --purge
	local res=$VM_BUILD/host name=dkms_test${1#-}
	name=${name/-/_}
	mkdir -p "$res"
	vm_msg "==== [host] tools/vm/dkms_test.sh $1"
	local t0=$SECONDS
	VHNET_DKMS_KO=$dkms_list "$VM_TOP/tools/vm/dkms_test.sh" "$1" \
		>"$res/$name.tap" 2>"$res/$name.err"
	echo $? >"$res/$name.rc"
	echo $((SECONDS - t0)) >"$res/$name.time"
	k_pass=0 k_fail=0 k_skip=0 k_notes=()
	report_test host "$res" "$name"
	summaries+=("[host] $name: $k_pass passed, $k_fail failed${k_notes[*]:+ -- ${k_notes[*]}}")
	total_pass=$((total_pass + k_pass))
	total_fail=$((total_fail + k_fail))
}

kernels=()
if [ "$set_name" = debug ]; then
	vm_msg "==== [debug] tools/vm/debug-kernel.sh (log: $VM_BUILD/debug/build.log)"
	if k=$("$VM_TOP/tools/vm/debug-kernel.sh") && [ -n "$k" ]; then
		kernels=("$k")
	else
		total_fail=$((total_fail + 1))
		summaries+=("[debug] kernel build: FAILED (log: $VM_BUILD/debug/build.log)")
	fi
else
	mapfile -t kernels < <(vm_kernels "$set_name")
	want=1
	[ "$set_name" = all ] && want=2
fi
if [ "$set_name" != debug ] && [ "${#kernels[@]}" -lt "$want" ]; then
	vm_msg "check: expected $want supported kernel(s), found: ${kernels[*]:-none} (make deps)"
	total_fail=$((total_fail + 1))
	summaries+=("missing kernels: FAILED (found: ${kernels[*]:-none})")
fi

# Per-kernel counters, set by the functions below.
k_pass=0 k_fail=0 k_skip=0 k_notes=()
k_note() { k_notes+=("$*"); }
k_failure() { k_fail=$((k_fail + 1)); k_note "$*"; }

# Report one selftest binary: print its TAP, count its cases, and add a
# failure if the binary itself did not end well.
report_test() {
	local label=$1 res=$2 name=$3 tap rc secs counts p f s plan bad=
	tap=$res/$name.tap
	rc=$(cat "$res/$name.rc" 2>/dev/null)
	secs=$(cat "$res/$name.time" 2>/dev/null)
	vm_msg "[$label] # selftest $name (exit status ${rc:-none}, ${secs:-?}s)"
	[ -f "$tap" ] && sed "s/^/[$label] /" "$tap"
	counts=$(awk '
		/^ok / { if (/# SKIP/) s++; else p++ }
		/^not ok / { f++ }
		/^1\.\.[0-9]+/ { plan = substr($1, 4) + 0 }
		END { printf "%d %d %d %d", p, f, s, (plan == "" ? -1 : plan) }
	' "$tap" 2>/dev/null || echo "0 0 0 -1")
	read -r p f s plan <<<"$counts"
	k_pass=$((k_pass + p)) k_fail=$((k_fail + f)) k_skip=$((k_skip + s))
	# Name each failed case in the summary, with its last diagnostics, so
	# that the tail of the output alone says what failed.
	if [ "$f" -gt 0 ]; then
		k_notes+=("$(sed -n "s/^not ok [0-9]* /$name: /p" "$tap" | paste -sd, -)")
		fail_ctx+=("$(awk -v l="$label" '
			/^#  RUN / { n = 0 }
			{ ctx[n++ % 6] = $0 }
			/^not ok / { for (i = n > 6 ? n - 6 : 0; i < n; i++) print "[" l "] " ctx[i % 6] }
		' "$tap")")
	fi

	if [ -z "$rc" ]; then
		bad="did not run to the end (guest died?)"
	elif [ "$rc" = hung ]; then
		bad="stuck in the kernel past its time limit (blocked tasks in the console log)"
	elif [ "$rc" = 124 ]; then
		bad="timed out after ${secs}s"
	elif [ "$rc" -gt 128 ]; then
		bad="killed by signal $((rc - 128)) after ${secs}s"
		# timeout(1) also ends with 137 when it had to SIGKILL.
		[ "$rc" != 137 ] || [ "$secs" -lt "${VHNET_TEST_TIMEOUT:-900}" ] ||
			bad+=" (timed out; SIGTERM was not enough)"
	elif [ "$rc" != 0 ] && [ "$rc" != 1 ]; then
		bad="exit status $rc"
	elif [ "$rc" = 1 ] && [ "$f" = 0 ]; then
		bad="exit status 1 without a failed case"
	elif [ "$plan" -lt 0 ]; then
		bad="printed no TAP plan"
	elif [ $((p + f + s)) -lt "$plan" ]; then
		bad="reported $((p + f + s)) of $plan planned cases"
	fi
	if [ -n "$bad" ]; then
		k_failure "$name: $bad"
		vm_msg "[$label] # $name: $bad"
		if [ -s "$res/$name.err" ]; then
			vm_msg "[$label] # stderr (last 50 lines of $res/$name.err):"
			tail -50 "$res/$name.err" | sed "s/^/[$label] #   /"
		fi
	fi
}

check_kernel() {
	local kver=$1 label out res brc qrc t0 t1 t2 n=0 f name leaks sig
	local retries passed='' boots=0
	label=$(echo "$kver" | cut -d. -f1,2)
	vm_debug_kernel "$kver" && label+=-debug
	out=$VM_BUILD/$kver
	res=$out/results
	k_pass=0 k_fail=0 k_skip=0 k_notes=()
	mkdir -p "$out"

	vm_msg "==== [$label] $kver: building (W=1)"
	t0=$SECONDS
	"$VM_TOP/tools/vm/build-module.sh" "$kver" "$out"
	brc=$?
	t1=$SECONDS
	case $brc in
	0) ;;
	2) k_failure "W=1 warnings (log: $out/build.log)" ;;
	*) k_failure "build failed (logs: $out/build.log, $out/selftests.log)" ;;
	esac

	if [ "$brc" = 0 ] || [ "$brc" = 2 ]; then
		rm -rf "$res"
		mkdir -p "$res"
		# The tests' size settings, for guest-run.sh to export.
		env | grep -E '^VHNET_(FUZZ_[A-Z]*|FRAMES|LIFE_CYCLES)=[0-9]*$|^VHNET_QEMU_(ONLY|SKIP_RX_LOG|STRACE)=[a-z0-9]*$|^VHNET_LIBVIRT=[01]$' \
			>"$out/test.env"
		# This kernel's DKMS-built module, for vhnet_dkms_test.
		[ "$dkms" = 0 ] || awk -v k="$kver" '$1 == k { print "VHNET_DKMS_KO=" $2 }' \
			"$dkms_list" 2>/dev/null >>"$out/test.env"
		vm_msg "==== [$label] booting ($VM_ACCEL, ${VM_SMP} CPUs, ${VM_MEM} MB)"
		vm_boot "$kver" "$out" test
		qrc=$?
		retries=$flaw_retries
		while [ "$retries" -gt 0 ] && sig=$(vm_flaw_retry_ok "$out"); do
			retries=$((retries - 1))
			boots=$((boots + 1))
			# What passed before the flaw stands; the rest runs again.
			passed+=" $(vm_flaw_passed "$out" "$sig" | paste -sd' ' -)"
			rm -rf "$res.attempt$boots"
			mv "$res" "$res.attempt$boots"
			mv "$out/console.log" "$out/console.attempt$boots.log"
			mkdir -p "$res"
			for name in $passed; do
				cp -a "$res.attempt$boots/$name".* "$res/"
				[ ! -d "$res.attempt$boots/$name" ] || cp -a "$res.attempt$boots/$name" "$res/"
			done
			echo "VHNET_SKIP_TESTS=${passed# }" >>"$out/test.env"
			k_note "booted again: test VM $boots died of an emulator flaw, $sig; the next ran the tests not passed by then (logs: $out/console.attempt$boots.log)"
			vm_msg "==== [$label] the test VM died of an emulator flaw, with no failure before it: $sig; booting again, without the $(wc -w <<<"$passed") tests that had passed (testing.rst)"
			vm_boot "$kver" "$out" test
			qrc=$?
		done
		t2=$SECONDS
		if [ "$qrc" != 0 ]; then
			k_failure "VM: $(cat "$out/vm-failure" 2>/dev/null) (log: $out/qemu.log)"
			vm_msg "==== [$label] VM: $(cat "$out/vm-failure" 2>/dev/null)"
			sed 's/^/  qemu: /' "$out/qemu.log" | tail -20
		fi
		[ -f "$res/done" ] ||
			k_failure "the guest did not finish (boot failure, panic or hang)$(
				[ "$qrc" != 0 ] || [ ! -s "$out/vm-failure" ] || echo ": $(cat "$out/vm-failure")")"
		if [ -s "$res/setup-failures" ]; then
			while IFS= read -r f; do
				k_failure "guest setup: $f"
			done <"$res/setup-failures"
			sed 's/^/  setup stderr: /' "$res/setup.err" 2>/dev/null
		fi

		for t in "$out"/selftests/*_test; do
			[ -x "$t" ] || continue
			name=$(basename "$t")
			n=$((n + 1))
			# Nothing ran if the module did not load; say so once.
			if [ ! -f "$res/$name.rc" ] && [ -s "$res/setup-failures" ]; then
				continue
			fi
			report_test "$label" "$res" "$name"
		done
		[ "$n" -gt 0 ] || k_failure "no selftests were built"

		if ! vm_log_problems "$out/console.log" ||
		   { [ -f "$res/dmesg.txt" ] && ! vm_log_problems "$res/dmesg.txt"; }; then
			k_failure "kernel problems in the guest log"
		fi
		# The debug kernel's leak check (guest-run.sh).
		if [ "$set_name" = debug ] && [ ! -f "$res/kmemleak.txt" ]; then
			k_failure "no kmemleak report ($res/kmemleak.txt)"
		elif [ -s "$res/kmemleak.txt" ]; then
			leaks=$(grep -c '^unreferenced object' "$res/kmemleak.txt")
			k_failure "kmemleak: $leaks unreferenced objects ($res/kmemleak.txt)"
			vm_msg "[$label] # kmemleak: $leaks unreferenced objects (first 40 lines of $res/kmemleak.txt):"
			head -40 "$res/kmemleak.txt" | sed "s/^/[$label] #   /"
		fi
		vm_msg "==== [$label] build $((t1 - t0))s, VM $((t2 - t1))s"
	fi

	if [ "$k_fail" -gt 0 ]; then
		vm_msg "==== [$label] FAILED; console log: $out/console.log"
	fi
	local line="[$label] $kver: $k_pass passed, $k_fail failed, $k_skip skipped"
	local note sep=" -- "
	for note in "${k_notes[@]}"; do
		line+="$sep$note"
		sep="; "
	done
	summaries+=("$line")
	total_pass=$((total_pass + k_pass))
	total_fail=$((total_fail + k_fail))
}

# (Not when iterating on a few selftests; make check runs them, not
# make check-debug.)
[ -n "${VHNET_ONLY:-}" ] || [ "$set_name" = debug ] || host_checks
[ "$dkms" = 0 ] || dkms_step --keep
for k in "${kernels[@]}"; do
	check_kernel "$k"
done
[ "$dkms" = 0 ] || dkms_step --purge

if [ ${#fail_ctx[@]} -gt 0 ]; then
	vm_msg "==== failed cases (their last lines)"
	printf '%s\n' "${fail_ctx[@]}"
fi
vm_msg "==== summary"
for s in "${summaries[@]}"; do
	vm_msg "$s"
done
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]
