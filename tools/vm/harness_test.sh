#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Each case sets its variables in a subshell on purpose: a fresh run.
# shellcheck disable=SC2030,SC2031
#
# harness_test.sh: TAP test of the VM harness itself, on the build host.
#
# The accelerator choice (vm_accel_init: probe, cache, VHNET_ACCEL) and the
# VM runner (vm_boot, vm_qemu_watched) run against stand-in
# qemu-system-x86_64 scripts placed first on PATH, with a writable file
# standing in for /dev/kvm. A stand-in behaves, per accelerator, as one of
#   marker     prints the probe's marker on the serial console, exits 0
#   kvm-error  prints QEMU's "KVM internal error" and hangs (paused vCPU)
#   exit       exits at once with status 1
#   silent     hangs without a word
#   chatty     writes a console line every half second, forever
#   lockup     a kernel's soft lockup reports, forever (stuck for 26 s, 52 s,
#              ... one every half second: the first of 200 s or more is 208 s)
#   hung       silent, but its monitor (-chardev pipe) answers "info
#              registers -a" with two vCPUs, one halted
#   reset      exits 0 without powering off, its -D log showing a triple
#              fault (poweroff: powers off)
#   lostipi    a soft lockup in smp_call_function_many_cond on CPU#1 for
#              200 s, the other vCPU halted with interrupts on in the
#              monitor's dump (STANDIN_HLT=0: running, not halted)
#   int3loop   the same lockup, the other vCPU in the int3 handler in every
#              dump, an exception frame on its stack and no int3 in memory
#              where it trapped (STANDIN_CODE: those bytes; STANDIN_AT: its
#              RIP in the dumps)
#   int3quiet  silent after a clean console, both vCPUs trapping so (CPU#1
#              at other2+0x28; STANDIN_AT1: its RIP in the dumps)
#   l2ipi      lostipi's lockup, the other vCPU in a nested guest in every
#              dump: RIP outside kallsyms, CR4 not the kernel's (STANDIN_CR4),
#              EFER.SVME on (STANDIN_EFER); STANDIN_RCU=1: an RCU stall of
#              CPU#0 reported by CPU#1 instead of the lockup
# Every bound below is far above what a working harness needs and far
# below the default VM timeout (2100 s). Needs an installed kernel (make
# deps) for vm_boot's initramfs; runs no real VM. make check runs it.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd -P)
tmp=$(mktemp -d)
stand_pids=()
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
	pkill -f "$tmp/bin/" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

export VHNET_BUILD=$tmp/build VHNET_KVM_DEV=$tmp/kvm
export VHNET_ACCEL_CACHE=$tmp/cache/accel VHNET_KVM_PROBE_SECS=20
unset VHNET_ACCEL VM_ACCEL VM_ACCEL_WHY VHNET_VM_TIMEOUT VHNET_VM_SILENCE
mkdir -p "$tmp/bin" "$VHNET_BUILD"
: >"$VHNET_KVM_DEV"
export PATH=$tmp/bin:$PATH STANDIN_CALLS=$tmp/calls
# shellcheck source=tools/vm/lib.sh
. "$top/tools/vm/lib.sh"

cat >"$tmp/bin/qemu-system-x86_64" <<'EOF'
#!/bin/bash
# Stand-in QEMU: STANDIN_KVM / STANDIN_TCG pick the behaviour per -accel.
if [ "${1:-}" = --version ]; then
	echo "QEMU emulator version 7.2.0 (stand-in ${STANDIN_VERSION:-1})"
	exit 0
fi
accel='' con=/dev/null mon='' dlog=/dev/null
while [ $# -gt 0 ]; do
	case $1 in
	-accel) accel=${2%%,*}; shift ;;
	-chardev) [[ $2 == pipe,*path=* ]] && mon=${2##*path=} && mon=${mon%%,*}; shift ;;
	-serial) con=${2#file:}; shift ;;
	-D) dlog=$2; shift ;;
	esac
	shift
done
echo "$accel" >>"$STANDIN_CALLS"
mode=${STANDIN_TCG:-silent}
[ "$accel" = kvm ] && mode=${STANDIN_KVM:-silent}
case $mode in
marker)
	echo "Linux version stand-in" >"$con"
	echo "vhnet-kvm-probe: ok" >>"$con"
	echo "reboot: Power down" >>"$con"
	exit 0 ;;
kvm-error)
	echo "KVM internal error. Suberror: 1" >&2
	echo "extra data[0]: 0x0000000000000000" >&2
	echo "emulation failure" >&2
	exec sleep 300 ;;
exit)
	echo "qemu-system-x86_64: stand-in: cannot start" >&2
	exit 1 ;;
silent)
	exec sleep 300 ;;
reset|poweroff)
	# QEMU's start, then (reset) a guest reset, as -d cpu_reset logs them.
	for c in 0 1; do
		printf 'CPU Reset (CPU %d)\nEIP=0000fff0 EFL=00000002 [-------] CPL=0 II=0 A20=1 SMM=0 HLT=0\n' $c
	done >"$dlog"
	echo "[    1.000000] Linux version stand-in" >"$con"
	# (STANDIN_NESTED=1) A test passed, then nested guests ran.
	[ "${STANDIN_NESTED:-0}" = 0 ] || printf '%s\n' \
		'vm: [5.00s] vhnet_a_test exited with status 0' \
		'[    9.000000] kvm_amd: Nested Virtualization enabled' \
		"[   17.000000] ${STANDIN_LINE:-kvm: kvm [239]: vcpu0, guest rIP: 0xffffffff8109e458 Unhandled WRMSR(0xc0010007) = 0xffff}" >>"$con"
	if [ "$mode" = reset ]; then
		echo "Triple fault" >>"$dlog"
	else
		echo "[    2.000000] reboot: Power down" >>"$con"
	fi
	exit 0 ;;
chatty)
	while :; do echo "vm: tick" >>"$con"; sleep 0.5; done ;;
lockup)
	for ((t = 26; ; t += 26)); do
		echo "[ $t.0] watchdog: BUG: soft lockup - CPU#1 stuck for ${t}s! [qemu-system-x86:161]" >>"$con"
		sleep 0.5
	done ;;
hung|lostipi|int3loop|int3quiet|l2ipi)
	[ -n "$mon" ] || exec sleep 300
	if [ "$mode" = int3quiet ]; then
		printf '%s\n' 'vm: [400.00s] vhnet_a_test exited with status 0' \
			'vm: [400.10s] running vhnet_b_test (time limit 900s)' \
			"[  650.000000] ${STANDIN_LINE:-eth0: link up}" >"$con"
	elif [ "${STANDIN_RCU:-0}" = 1 ]; then
		printf '%s\n' 'vm: [400.00s] vhnet_a_test exited with status 0' \
			'[  698.205773] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:' \
			"[  698.208979] rcu: 	0-...!: (0 ticks this GP) idle=ab6c/1/0x4000000000000000 softirq=274446/274446 fqs=0" \
			'[  698.209374] 	(detected by 1, t=5252 jiffies, g=163209, q=10614 ncpus=2)' \
			'[  698.209374] Call Trace:' >"$con"
	elif [ "$mode" != hung ]; then
		{
			echo 'vm: [400.00s] vhnet_a_test exited with status 0'
			for ((t = 22; t <= 208; t += 26)); do
				echo "[  $((600 + t)).000000] watchdog: BUG: soft lockup - CPU#1 stuck for ${t}s! [kworker/1:1:40]"
				echo "[  $((600 + t)).000100] RIP: 0010:smp_call_function_many_cond+0x12e/0x3c0"
			done
		} >"$con"
	fi
	exec 3<>"$mon.in" 4<>"$mon.out"
	cpu=0
	while read -r line <&3; do
		case $line in
		"cpu "*)
			cpu=${line#cpu }
			printf '(qemu) c\e[K\e[D%s\e[K\r\n' "$line" >&4
			continue ;;
		"x/64gx "*)
			if [ "$mode$cpu" = int3loop0 ] || [ "$mode" = int3quiet ]; then
				# exc_int3's frame, then pt_regs' end: the iret frame.
				printf 'ff47b2e2c0003e90: 0xffffffff81000315 0x0000000000000001\r\n' >&4
				printf 'ff47b2e2c0003ea0: 0xffffffff81000%d28 0x0000000000000010\r\n' $((cpu ? 9 : 4)) >&4
				printf 'ff47b2e2c0003eb0: 0x0000000000000046 0xff47b2e2c0003f00\r\n' >&4
				printf 'ff47b2e2c0003ec0: 0x0000000000000018 0x0000000000000000\r\n' >&4
			else
				printf 'ff47b2e2c0003e90: 0xffffffff81000215 0x0000000000000001\r\n' >&4
				printf 'ff47b2e2c0003ea0: 0xffffffffc0002004 0xff13a5b27da36040\r\n' >&4
			fi
			continue ;;
		"x/8bx 0xffffffff81000427"|"x/8bx 0xffffffff81000927")
			# shellcheck disable=SC2086 # one word a byte
			printf 'ffffffff81000427: %s %s %s %s %s %s %s %s\r\n' \
				${STANDIN_CODE:-0xe9 0x8c 0x02 0x00 0x00 0x48 0x89 0xc7} >&4
			continue ;;
		esac
		[[ $line == "info registers -a"* ]] || continue
		if [ "$mode" = int3quiet ]; then
			printf 'CPU#0\r\nRIP=ffffffff81000310 RFL=00000046 [---Z-P-] CPL=0 II=0 A20=1 SMM=0 HLT=0\r\n' >&4
			printf 'CPU#1\r\nRIP=%s RFL=00000046 [---Z-P-] CPL=0 II=0 A20=1 SMM=0 HLT=0\r\n' "${STANDIN_AT1:-ffffffff81000928}" >&4
			continue
		fi
		if [ "$mode" = l2ipi ]; then
			printf 'CPU#0\r\nRIP=ffffffff81a5a170 RFL=00000002 [-------] CPL=0 II=0 A20=1 SMM=0 HLT=0\r\n' >&4
			printf 'CR0=80050033 CR2=00000000038a8730 CR3=0000000006274000 CR4=%s\r\nEFER=%s\r\n' \
				"${STANDIN_CR4:-000006f0}" "${STANDIN_EFER:-0000000000001d01}" >&4
			printf 'CPU#1\r\nRIP=ffffffff81000520 RFL=00000202 [-------] CPL=0 II=0 A20=1 SMM=0 HLT=0\r\n' >&4
			printf 'CR0=80050033 CR2=0000000000583157 CR3=000000001ae10000 CR4=00751ee0\r\nEFER=0000000000001d01\r\n' >&4
			continue
		fi
		if [ "$mode" = int3loop ]; then
			printf 'CPU#0\r\nRIP=%s RFL=00000046 [---Z-P-] CPL=0 II=0 A20=1 SMM=0 HLT=0\r\n' "${STANDIN_AT:-ffffffff81000310}" >&4
			printf 'CPU#1\r\nRIP=ffffffff81000520 RFL=00000202 [-------] CPL=0 II=0 A20=1 SMM=0 HLT=0\r\n' >&4
			continue
		fi
		printf 'CPU#0\r\nRIP=ffffffff81000123 RFL=00000246 [---Z-P-] CPL=0 II=0 A20=1 SMM=0 HLT=%s\r\n' "${STANDIN_HLT:-1}" >&4
		printf 'CPU#1\r\nRIP=ffffffffc0002010 RFL=00000202 [-------] CPL=0 II=0 A20=1 SMM=0 HLT=0\r\n' >&4
	done ;;
esac
EOF
chmod 755 "$tmp/bin/qemu-system-x86_64"

# shellcheck source=tools/vm/tap.sh
. "$top/tools/vm/tap.sh"
ok() { result "$@"; }
kvm_calls() { grep -cx kvm "$STANDIN_CALLS" 2>/dev/null; }

# choose [VAR=VALUE...]: a fresh choice, as a new run makes it, in a
# subshell; sets accel, why, secs and line ("accel: ..." as printed).
choose() {
	local t0=$SECONDS out
	out=$(
		for a in "$@"; do export "${a?}"; done
		unset VM_ACCEL VM_ACCEL_WHY
		# shellcheck source=tools/vm/lib.sh
		. "$top/tools/vm/lib.sh"
		VM_ACCEL='' VM_ACCEL_WHY=''
		if declare -F vm_accel_init >/dev/null; then
			vm_accel_init >/dev/null 2>&1
		else	# a harness from before the probe
			VM_ACCEL=$(vm_accel)
		fi
		echo "$VM_ACCEL"
		echo "$VM_ACCEL_WHY"
		if declare -F vm_accel_line >/dev/null; then vm_accel_line; else echo; fi
	)
	secs=$((SECONDS - t0))
	{ read -r accel; read -r why; read -r line; } <<<"$out"
	diag "choice: ${line:-accel: $accel ($why)} [${secs}s]"
}

echo "TAP version 13"
planned=79
echo "1..$planned"

# --- the accelerator choice ---------------------------------------------
choose VHNET_KVM_DEV="$tmp/no-such-kvm"
[ "$accel" = tcg ] && [[ $why == *"no $tmp/no-such-kvm"* ]]
ok $? "no /dev/kvm: TCG, and the reason says so"

: >"$STANDIN_CALLS"
choose STANDIN_KVM=kvm-error
[ "$accel" = tcg ] && [[ $why == *"kvm probe failed: KVM internal error"* ]] &&
	[ "$line" = "accel: tcg ($why)" ]
ok $? "KVM that stops with 'KVM internal error': TCG, the first line says why"
[ "$(kvm_calls)" = 1 ] && [ $secs -le 15 ]
ok $? "the failing probe ran once and took at most 15 s (${secs}s)"

choose STANDIN_KVM=kvm-error
[ "$accel" = tcg ] && [ "$(kvm_calls)" = 1 ] && [[ $why == *cached* ]]
ok $? "the verdict is cached: no second probe on the same machine"

choose STANDIN_KVM=kvm-error STANDIN_VERSION=2
[ "$accel" = tcg ] && [ "$(kvm_calls)" = 2 ] && [[ $why != *cached* ]]
ok $? "another QEMU version probes again"

rm -f "$VHNET_ACCEL_CACHE"
choose STANDIN_KVM=exit
[ "$accel" = tcg ] && [[ $why == *"status 1"*"cannot start"* ]] && [ $secs -le 10 ]
ok $? "a QEMU that exits at once: TCG, its status and message in the reason (${secs}s)"

rm -f "$VHNET_ACCEL_CACHE"
choose STANDIN_KVM=silent VHNET_KVM_PROBE_SECS=3
[ "$accel" = tcg ] && [[ $why == *"no marker"*"3 s"* ]] && [ $secs -le 15 ]
ok $? "a guest that never prints the marker: TCG after the probe's deadline (${secs}s)"
calls=$(kvm_calls)
choose STANDIN_KVM=marker
[ "$accel" = kvm ] && [ "$(kvm_calls)" = $((calls + 1)) ]
ok $? "a timed-out probe is not cached; a probe that gets the marker picks KVM"

choose STANDIN_KVM=kvm-error
[ "$accel" = kvm ] && [[ $why == *cached* ]]
ok $? "a KVM verdict is cached too"

calls=$(kvm_calls)
choose VHNET_ACCEL=tcg STANDIN_KVM=marker
[ "$accel" = tcg ] && [ "$why" = "VHNET_ACCEL=tcg" ] && [ "$(kvm_calls)" = "$calls" ]
ok $? "VHNET_ACCEL=tcg overrides without probing"
rm -f "$VHNET_ACCEL_CACHE"
choose VHNET_ACCEL=kvm STANDIN_KVM=kvm-error
[ "$accel" = kvm ] && [ "$(kvm_calls)" = "$calls" ]
ok $? "VHNET_ACCEL=kvm overrides without probing"
! (export VHNET_ACCEL=hvf; unset VM_ACCEL; vm_accel_init) >/dev/null 2>&1
ok $? "VHNET_ACCEL=hvf is refused"

# --- the VM runner: a dead QEMU ends the run at once ---------------------
kver=$(vm_kernels quick)
[ -n "$kver" ] || kver=$(vm_kernels all | head -1)
[ -n "$kver" ] || diag "no installed kernel with headers: the vm_boot cases fail (make deps)"
out=$tmp/out
mkdir -p "$out"

# boot [VAR=VALUE...]: vm_boot "$kver" in a subshell; sets rc, secs, why.
boot() {
	local t0=$SECONDS
	rm -f "$out/vm-failure"
	(
		# A bound for this test itself, should vm_boot wait for the dead.
		export VHNET_VM_TIMEOUT=60
		for a in "$@"; do export "${a?}"; done
		unset VM_ACCEL VM_ACCEL_WHY
		# shellcheck source=tools/vm/lib.sh
		. "$top/tools/vm/lib.sh"
		[ -n "$kver" ] && vm_boot "$kver" "$out" test
	) >/dev/null 2>&1
	rc=$?
	secs=$((SECONDS - t0))
	why=$(cat "$out/vm-failure" 2>/dev/null)
	diag "vm_boot: status $rc after ${secs}s: ${why:-no vm-failure}"
}

boot VHNET_ACCEL=kvm STANDIN_KVM=kvm-error
[ $rc = 125 ] && [[ $why == "KVM internal error"* ]] && [ $secs -le 20 ]
ok $? "vm_boot: a guest paused by a KVM internal error is killed and reported at once (${secs}s)"

boot VHNET_ACCEL=tcg STANDIN_TCG=exit
[ $rc = 1 ] && [[ $why == *"exited with status 1"* ]] && [ $secs -le 20 ]
ok $? "vm_boot: a QEMU that exits at once is reported at once (${secs}s)"

boot VHNET_ACCEL=tcg STANDIN_TCG=silent VHNET_VM_SILENCE=4
[ $rc = 125 ] && [[ $why == "no console output for "* ]] && [ $secs -le 20 ]
ok $? "vm_boot: a guest silent for VHNET_VM_SILENCE s is killed and reported (${secs}s)"

boot VHNET_ACCEL=tcg STANDIN_TCG=chatty VHNET_VM_SILENCE=4 VHNET_VM_TIMEOUT=8
[ $rc = 124 ] && [[ $why == "still running after 8 s"* ]]
ok $? "vm_boot: a guest that keeps printing is not taken for dead; the VM timeout still holds"

boot VHNET_ACCEL=tcg STANDIN_TCG=lockup VHNET_VM_SILENCE=4
[ $rc = 125 ] && [[ $why == "soft lockup - CPU#1 stuck for 208s"* ]] && [ $secs -le 30 ]
ok $? "vm_boot: a guest whose CPU stays in a soft lockup for 200 s is killed and reported (${secs}s)"

# vm_boot's results are emptied by check.sh, not by vm_boot.
mkdir -p "$out/results"
printf 'ffffffff81000000 T default_idle\nffffffff81000200 t other\n' >"$out/results/kallsyms"
printf 'ffffffffc0002000 t vhnet_worker\t[vhnet]\n' >"$out/results/kallsyms.mod"
boot VHNET_ACCEL=tcg STANDIN_TCG=hung VHNET_VM_SILENCE=4
[ $rc = 125 ] && [[ $why == "no console output for "*"[vCPUs: CPU#0 at default_idle+0x123 (hlt); CPU#1 at vhnet_worker+0x10 [vhnet]]" ]]
ok $? "vm_boot: a hung guest's report names where each vCPU is, from its monitor and kallsyms"
[ "$(cat "$out/vm-stacks.txt" 2>/dev/null)" = "CPU#0: other+0x15 vhnet_worker+0x4
CPU#1: other+0x15 vhnet_worker+0x4" ]
ok $? "vm_boot: and the kernel addresses on each vCPU's stack, as symbols (vm-stacks.txt)"
boot VHNET_ACCEL=tcg STANDIN_TCG=reset
[ $rc = 0 ] && [ "$why" = "the VM reset itself instead of powering off: a triple fault (QEMU's log: qemu-reset.log)" ]
ok $? "vm_boot: a VM that resets itself in a triple fault is reported as such"
! vm_nested_triple_fault "$out" >/dev/null
ok $? "vm_nested_triple_fault: not for a VM that ran no nested guest"
boot VHNET_ACCEL=tcg STANDIN_TCG=reset STANDIN_NESTED=1
mkdir -p "$out/results"
echo 0 >"$out/results/vhnet_a_test.rc"
echo 'ok 1 a' >"$out/results/vhnet_a_test.tap"
line=$(vm_flaw_retry_ok "$out")
diag "vm_nested_triple_fault: ${line:-nothing}"
[ $rc = 0 ] && [ "$line" = "triple fault while nested guests ran at 17.000000 s (the console's last line), no kernel problem reported before it" ]
ok $? "vm_nested_triple_fault: a silent triple fault while nested guests ran allows a retry"
echo 'not ok 1 a' >"$out/results/vhnet_a_test.tap"
! vm_flaw_retry_ok "$out" >/dev/null
ok $? "vm_nested_triple_fault: no retry when a test had failed before it"
boot VHNET_ACCEL=tcg STANDIN_TCG=reset STANDIN_NESTED=1 STANDIN_LINE='Kernel panic - not syncing: Fatal exception'
! vm_nested_triple_fault "$out" >/dev/null
ok $? "vm_nested_triple_fault: not when the kernel reported a problem first"
boot VHNET_ACCEL=tcg STANDIN_TCG=poweroff
[ $rc = 0 ] && [ -z "$why" ]
ok $? "vm_boot: a VM that powers off is not"
boot VHNET_ACCEL=tcg STANDIN_TCG=lostipi VHNET_VM_SILENCE=30
line=$(vm_lost_ipi "$out")
diag "vm_lost_ipi: ${line:-nothing}"
[ $rc = 125 ] && [ "$line" = "lost IPI at 600 s: CPU#1 waited in smp_call_function_many_cond+0x12e/0x3c0, the other vCPUs halted with interrupts on" ]
ok $? "vm_lost_ipi: a cross-call that a halted vCPU with interrupts on never took"
echo 0 >"$out/results/vhnet_a_test.rc"
echo 'ok 1 a' >"$out/results/vhnet_a_test.tap"
vm_flaw_retry_ok "$out" >/dev/null
ok $? "vm_flaw_retry_ok: a lost IPI after passing tests allows a retry"
boot VHNET_ACCEL=tcg STANDIN_TCG=lostipi STANDIN_HLT=0 VHNET_VM_SILENCE=30
! vm_lost_ipi "$out" >/dev/null && ! vm_flaw_retry_ok "$out" >/dev/null
ok $? "vm_lost_ipi: not when the other vCPU was running (it may have had interrupts off)"
! vm_int3_loop "$out" >/dev/null
ok $? "vm_int3_loop: not when the other vCPU was anywhere but the int3 path"
printf '%s\n' 'ffffffff81000300 T exc_int3' 'ffffffff81000400 t __schedule' \
	'ffffffff81000500 T smp_call_function_many_cond' 'ffffffff81000900 t other2' >>"$out/results/kallsyms"
boot VHNET_ACCEL=tcg STANDIN_TCG=int3loop VHNET_VM_SILENCE=30
line=$(vm_int3_loop "$out")
diag "vm_int3_loop: ${line:-nothing}"
[ $rc = 125 ] && [ "$line" = "int3 loop at 600 s: CPU#0 trapped again and again at ffffffff81000428 (__schedule+0x28), whose bytes hold no int3 (e9 8c 02 00 00 48 89 c7), interrupts off there, while CPU#1 waited in smp_call_function_many_cond+0x12e/0x3c0" ]
ok $? "vm_int3_loop: a vCPU trapping for ever where memory holds no int3, the other waiting for it"
vm_flaw_retry_ok "$out" >/dev/null
ok $? "vm_flaw_retry_ok: an int3 loop after passing tests allows a retry"
! vm_lost_ipi "$out" >/dev/null
ok $? "vm_lost_ipi: not for an int3 loop (the other vCPU was running)"
boot VHNET_ACCEL=tcg STANDIN_TCG=int3loop STANDIN_CODE='0xcc 0x8c 0x02 0x00 0x00 0x48 0x89 0xc7' VHNET_VM_SILENCE=30
! vm_int3_loop "$out" >/dev/null
ok $? "vm_int3_loop: not when memory holds the int3 (a real trap)"
boot VHNET_ACCEL=tcg STANDIN_TCG=int3loop STANDIN_AT=ffffffff81000910 VHNET_VM_SILENCE=30
! vm_int3_loop "$out" >/dev/null
ok $? "vm_int3_loop: not when the vCPU was outside the int3 path"
boot VHNET_ACCEL=tcg STANDIN_TCG=int3quiet VHNET_VM_SILENCE=4
line=$(vm_int3_loop "$out")
diag "vm_int3_loop: ${line:-nothing}"
[ $rc = 125 ] && [ "$line" = "int3 loop at 650.000000 s (the console's last line): CPU#0 trapped again and again at ffffffff81000428 (__schedule+0x28), whose bytes hold no int3 (e9 8c 02 00 00 48 89 c7), interrupts off there; CPU#1 trapped again and again at ffffffff81000928 (other2+0x28), whose bytes hold no int3 (e9 8c 02 00 00 48 89 c7), interrupts off there; every vCPU, none left to report it" ]
ok $? "vm_int3_loop: a silent VM with every vCPU trapping for ever where memory holds no int3"
[ "$(vm_flaw_retry_ok "$out")" = "$line" ] && [ "$(vm_flaw_passed "$out" "$line")" = vhnet_a_test ]
ok $? "vm_flaw_retry_ok: it allows a retry; vm_flaw_passed: of the tests, the one that passed before"
boot VHNET_ACCEL=tcg STANDIN_TCG=int3quiet STANDIN_AT1=ffffffff81000520 VHNET_VM_SILENCE=4
! vm_int3_loop "$out" >/dev/null
ok $? "vm_int3_loop: not when a silent VM's other vCPU was elsewhere"
boot VHNET_ACCEL=tcg STANDIN_TCG=int3quiet STANDIN_LINE='WARNING: CPU: 0 PID: 9 at drivers/vhnet/ring.c:10' VHNET_VM_SILENCE=4
! vm_int3_loop "$out" >/dev/null && ! vm_flaw_retry_ok "$out" >/dev/null
ok $? "vm_int3_loop: not when the silent VM's console holds a kernel problem"
boot VHNET_ACCEL=tcg STANDIN_TCG=l2ipi VHNET_VM_SILENCE=30
line=$(vm_ipi_in_l2 "$out")
diag "vm_ipi_in_l2: ${line:-nothing}"
[ $rc = 125 ] && [ "$line" = "cross-call lost in a nested guest at 600 s: CPU#0 in a nested guest in all 4 dumps (RIP ffffffff81a5a170, not the kernel's or a module's; CR4 000006f0, the kernel's 00751ee0; EFER.SVME on), while CPU#1 waited in smp_call_function_many_cond+0x12e/0x3c0" ]
ok $? "vm_ipi_in_l2: a cross-call that a vCPU running a nested guest never took"
vm_flaw_retry_ok "$out" >/dev/null && ! vm_lost_ipi "$out" >/dev/null && ! vm_int3_loop "$out" >/dev/null
ok $? "vm_flaw_retry_ok: it allows a retry (and it is neither a lost IPI nor an int3 loop)"
boot VHNET_ACCEL=tcg STANDIN_TCG=l2ipi STANDIN_RCU=1 VHNET_VM_SILENCE=4
line=$(vm_flaw_retry_ok "$out")
diag "vm_ipi_in_l2: ${line:-nothing}"
[ $rc = 125 ] && [ "$line" = "RCU stall in a nested guest at 698.205773 s: CPU#0 in a nested guest in all 4 dumps (RIP ffffffff81a5a170, not the kernel's or a module's; CR4 000006f0, the kernel's 00751ee0; EFER.SVME on), while CPU#1 reported it" ]
ok $? "vm_ipi_in_l2: an RCU stall of a vCPU that stayed in a nested guest, and vm_flaw_retry_ok allows a retry"
boot VHNET_ACCEL=tcg STANDIN_TCG=l2ipi STANDIN_RCU=1 STANDIN_CR4=00751ee0 VHNET_VM_SILENCE=4
! vm_ipi_in_l2 "$out" >/dev/null
ok $? "vm_ipi_in_l2: not for an RCU stall of a vCPU in the kernel"
boot VHNET_ACCEL=tcg STANDIN_TCG=l2ipi STANDIN_CR4=00751ee4 VHNET_VM_SILENCE=30
! vm_ipi_in_l2 "$out" >/dev/null
ok $? "vm_ipi_in_l2: not when the vCPU's CR4 is the kernel's (TSD aside)"
boot VHNET_ACCEL=tcg STANDIN_TCG=l2ipi STANDIN_EFER=0000000000000d01 VHNET_VM_SILENCE=30
! vm_ipi_in_l2 "$out" >/dev/null
ok $? "vm_ipi_in_l2: not when the vCPU has SVM off"
printf 'ffffffff81a5a000 t bpf_prog_x\n' >>"$out/results/kallsyms"
boot VHNET_ACCEL=tcg STANDIN_TCG=l2ipi VHNET_VM_SILENCE=30
! vm_ipi_in_l2 "$out" >/dev/null
ok $? "vm_ipi_in_l2: not when its RIP is the kernel's"
printf 'ffffffff81000420 t vhnet_tx\t[vhnet]\n' >>"$out/results/kallsyms.mod"
boot VHNET_ACCEL=tcg STANDIN_TCG=int3loop VHNET_VM_SILENCE=30
! vm_int3_loop "$out" >/dev/null
ok $? "vm_int3_loop: not when it trapped in vhnet"
rm -rf "$out/results"

boot STANDIN_KVM=kvm-error STANDIN_TCG=marker
[ $rc = 0 ] && [ -z "$why" ] && grep -qx tcg <(tail -1 "$STANDIN_CALLS")
ok $? "vm_boot with no override on a broken KVM boots under TCG"

# --- the same inside the test VM: the nested guest -------------------------
# shellcheck source=tools/vm/nested.sh
. "$top/tools/vm/nested.sh"
[ -v NESTED_WHY ] || declare -gA NESTED_WHY=()
NESTED_LOGS=$tmp/nested
mkdir -p "$NESTED_LOGS"
# nested_standin NAME KVM-MODE: a stand-in started as nested_start would.
nested_standin() {
	: >"$NESTED_LOGS/$1.console"
	STANDIN_KVM=$2 qemu-system-x86_64 -accel kvm \
		-serial "file:$NESTED_LOGS/$1.console" \
		>"$NESTED_LOGS/$1.qemu.log" 2>&1 </dev/null &
	NESTED_PID[$1]=$!
	stand_pids+=($!)
}

nested_standin ierr kvm-error
t0=$SECONDS
nested_wait ierr up 120
rc=$?
secs=$((SECONDS - t0))
diag "nested_wait: status $rc after ${secs}s: ${NESTED_WHY[ierr]:-}"
[ $rc = 2 ] && [[ ${NESTED_WHY[ierr]:-} == "KVM internal error"* ]] && [ $secs -le 15 ] &&
	! nested_running ierr
ok $? "nested guest: a KVM internal error ends the wait at once and QEMU is killed (${secs}s)"

nested_standin quiet chatty
sleep 2
kill -STOP "${NESTED_PID[quiet]}"
t0=$SECONDS
NESTED_SILENCE=4 nested_wait quiet up 120
rc=$?
secs=$((SECONDS - t0))
diag "nested_wait: status $rc after ${secs}s: ${NESTED_WHY[quiet]:-}"
[ $rc = 2 ] && [[ ${NESTED_WHY[quiet]:-} == "no console output"* ]] && [ $secs -le 15 ]
ok $? "nested guest: silent after its first output, it counts as dead (${secs}s)"

nested_standin mute silent
t0=$SECONDS
NESTED_SILENCE=2 nested_wait mute up 5
rc=$?
secs=$((SECONDS - t0))
[ $rc = 1 ] && nested_running mute
ok $? "nested guest: no output yet is only bounded by the boot deadline (status $rc, ${secs}s)"

nested_standin gone exit
t0=$SECONDS
NESTED_RESTARTS[gone]=$NESTED_MAX_RESTARTS
nested_wait_up gone 120
rc=$?
secs=$((SECONDS - t0))
[ $rc = 2 ] && [ $secs -le 10 ] && [[ ${NESTED_WHY[gone]:-} == "QEMU exited"* ]]
ok $? "nested guest: a QEMU that exits ends the wait at once (${secs}s)"

kill -9 "${stand_pids[@]}" 2>/dev/null
wait 2>/dev/null
# vm_first_oops: the signature ab.sh and vhnet_qemu_test's retry use.
printf '%s\r\n' '[    1.000000] virtio_net virtio0 eth0: up' \
	'[   11.437904] Oops: double fault: 0000 [#1] PREEMPT SMP NOPTI' \
	'[   11.440000] CPU: 0 UID: 0 PID: 0 Comm: swapper/0 Not tainted' \
	'[   11.441000] RIP: 0010:do_idle+0x1c/0x240' \
	'[   11.442000] Modules linked in: virtio_net net_failover failover' \
	'[   11.443000] BUG: scheduling while atomic' >"$tmp/oops.console"
line=$(vm_first_oops "$tmp/oops.console")
diag "vm_first_oops: $line"
[ "$line" = "Oops: double fault: 0000 [#1] PREEMPT SMP NOPTI at 11.437904 s in do_idle+0x1c/0x240, modules: virtio_net net_failover failover" ]
ok $? "vm_first_oops: the first oops, its time, RIP and modules"
printf '%s\n' '[    1.0] eth0: up' '[    2.0] nested: up' >"$tmp/clean.console"
line=$(vm_first_oops "$tmp/clean.console")
[ -z "$line" ]
ok $? "vm_first_oops: nothing for a console without an oops"

# vm_stale_int3 and vm_flaw_retry_ok: check.sh's one retry of a test VM.
# The 6.12 form of the trap seen in testing.rst, and the 6.1 one.
int3_console() {	# FILE HEADER RIP CODE [LINE BEFORE]
	printf '%s\r\n' '[    1.000000] vm: [1.00s] kernel 6.12, mode test' "${5:-[    2.0] ok}" \
		'vm: [5.10s] vhnet_a_test exited with status 0' \
		'vm: [6.20s] vhnet_b_test exited with status 0' \
		"[   10.811000] $2" '[   10.812000] CPU: 1 UID: 0 PID: 0 Comm: swapper/1' \
		"[   10.813000] RIP: 0010:$3" "[   10.814000] Code: 0f 1f 44 00 00 $4 02 00 00 48" \
		'[   10.815000] Call Trace:' 'vm: [30.00s] vhnet_c_test exited with status 1' >"$1"
}
int3_console "$tmp/int3.console" 'Oops: int3: 0000 [#1] PREEMPT SMP NOPTI' '__schedule+0x428/0x1450' 'e9 <8c>'
line=$(vm_stale_int3 "$tmp/int3.console")
[ "$line" = "int3 at 10.811000 s in __schedule+0x428/0x1450 (code e9 <8c>)" ]
ok $? "vm_stale_int3: a trap inside a completed jmp (6.12): $line"
int3_console "$tmp/int3-61.console" 'int3: 0000 [#1] SMP NOPTI' 'sched_clock_cpu+0x9/0x40' '0f <1f>'
vm_stale_int3 "$tmp/int3-61.console" >/dev/null
ok $? "vm_stale_int3: the 6.1 form, no \"Oops: \" before int3"
int3_console "$tmp/int3-cc.console" 'Oops: int3: 0000 [#1] PREEMPT SMP NOPTI' '__schedule+0x428/0x1450' 'cc <8c>'
int3_console "$tmp/int3-vhnet.console" 'Oops: int3: 0000 [#1] PREEMPT SMP NOPTI' 'vhnet_tx+0x28/0x450 [vhnet]' 'e9 <8c>'
int3_console "$tmp/int3-warn.console" 'Oops: int3: 0000 [#1] PREEMPT SMP NOPTI' '__schedule+0x428/0x1450' 'e9 <8c>' \
	'[    3.0] WARNING: CPU: 0 PID: 9 at drivers/vhnet/ring.c:10'
sed '/Code: /d' "$tmp/int3.console" >"$tmp/int3-nocode.console"
for f in cc vhnet warn nocode; do
	! vm_stale_int3 "$tmp/int3-$f.console" >/dev/null
	ok $? "vm_stale_int3: not for $f"
done
! vm_stale_int3 "$tmp/oops.console" >/dev/null
ok $? "vm_stale_int3: not for another oops"

mkdir -p "$tmp/flaw/results"
cp "$tmp/int3.console" "$tmp/flaw/console.log"
echo 0 >"$tmp/flaw/results/vhnet_a_test.rc"
echo 'ok 1 a' >"$tmp/flaw/results/vhnet_a_test.tap"
echo 0 >"$tmp/flaw/results/vhnet_b_test.rc"
echo 'ok 1 b' >"$tmp/flaw/results/vhnet_b_test.tap"
echo 1 >"$tmp/flaw/results/vhnet_c_test.rc"
echo 'not ok 1 c' >"$tmp/flaw/results/vhnet_c_test.tap"
vm_flaw_retry_ok "$tmp/flaw" >/dev/null
ok $? "vm_flaw_retry_ok: what failed after the trap does not stop a retry"
echo 'not ok 2 b' >>"$tmp/flaw/results/vhnet_b_test.tap"
! vm_flaw_retry_ok "$tmp/flaw" >/dev/null
ok $? "vm_flaw_retry_ok: a case that failed before the trap stops it"
echo 'ok 1 b' >"$tmp/flaw/results/vhnet_b_test.tap"
echo 1 >"$tmp/flaw/results/vhnet_a_test.rc"
! vm_flaw_retry_ok "$tmp/flaw" >/dev/null
ok $? "vm_flaw_retry_ok: a test that exited badly before the trap stops it"
echo 0 >"$tmp/flaw/results/vhnet_a_test.rc"
echo 'insmod vhnet.ko' >"$tmp/flaw/results/setup-failures"
! vm_flaw_retry_ok "$tmp/flaw" >/dev/null
ok $? "vm_flaw_retry_ok: a failed setup step stops it"
rm "$tmp/flaw/results/setup-failures"
cp "$tmp/int3-cc.console" "$tmp/flaw/console.log"
! vm_flaw_retry_ok "$tmp/flaw" >/dev/null
ok $? "vm_flaw_retry_ok: only for vm_stale_int3"

# vm_stack_guard_entry: as on 6.1 on 2026-12-07, in a nested guest's QEMU.
guard_console() {	# FILE NESTED-LINE COMM RIP
	printf '%s\r\n' '[    1.000000] vm: [1.00s] kernel 6.1, mode test' "$2" \
		'vm: [5.10s] vhnet_a_test exited with status 0' \
		'[   62.023974] BUG: TASK stack guard page was hit at 000000009187e6e7 (stack is 0..1)' \
		'[   62.023974] stack guard page: 0000 [#1] PREEMPT SMP NOPTI' \
		"[   62.023974] CPU: 0 PID: 6273 Comm: $3 Tainted: G           OE      6.1.0-57-amd64 #1" \
		"[   62.023974] RIP: 0010:$4" \
		'[   62.060124] Kernel panic - not syncing: corrupted stack end detected inside scheduler' >"$1"
}
guard_console "$tmp/flaw/console.log" '[   40.0] kvm: Nested Virtualization enabled' qemu-system-x86 'error_entry+0x1a/0x130'
line=$(vm_flaw_retry_ok "$tmp/flaw")
[ "$line" = "stack guard page hit in error_entry+0x1a/0x130 of qemu-system-x86 at 62.023974 s, nested guests running" ]
ok $? "vm_stack_guard_entry: a QEMU thread's stack overflow in the entry code allows a retry: $line"
guard_console "$tmp/flaw/console.log" '[   40.0] kvm: Nested Virtualization enabled' vhnet-6273 'error_entry+0x1a/0x130'
! vm_flaw_retry_ok "$tmp/flaw" >/dev/null
ok $? "vm_stack_guard_entry: not in another thread (a vhnet worker)"
guard_console "$tmp/flaw/console.log" '[   40.0] kvm: Nested Virtualization enabled' qemu-system-x86 'vhnet_tx+0x28/0x450 [vhnet]'
! vm_flaw_retry_ok "$tmp/flaw" >/dev/null
ok $? "vm_stack_guard_entry: not outside the entry code"
guard_console "$tmp/flaw/console.log" '[    2.0] ok' qemu-system-x86 'error_entry+0x1a/0x130'
! vm_flaw_retry_ok "$tmp/flaw" >/dev/null
ok $? "vm_stack_guard_entry: not without nested guests"

# --- tools/bench/report.pl: ratios, intervals and verdicts ---------------
# real-raw.csv lines; ROUNDS rounds; vhnet's value per round from VH, the
# in-tree's from IT, vhost=off's 1 (awk expressions of r, the round).
real_raw() {	# DIR METRIC ROUNDS VH IT
	mkdir -p "$1/results"
	echo "kernel,metric,round,impl,test" >"$1/results/bench-raw.csv"
	[ -s "$1/results/real-raw.csv" ] ||
		echo "kernel,metric,round,impl,value,value2,worker_ns_per_pkt,guest_irq_per_s,packets,seconds,accel" \
			>"$1/results/real-raw.csv"
	local r vh it
	for r in $(seq 1 "$3"); do
		vh=$(awk -v r="$r" "BEGIN { print $4 }")
		it=$(awk -v r="$r" "BEGIN { print $5 }")
		echo "k,$2,$r,vhnet,$vh,$vh,$(awk "BEGIN { print 100 * $vh }"),9,99,3,kvm"
		echo "k,$2,$r,vhost-net,$it,$it,$(awk "BEGIN { print 100 * $it }"),9,99,3,kvm"
		echo "k,$2,$r,user,1,1,,9,99,3,kvm"
	done >>"$1/results/real-raw.csv"
}
ratio_of() {	# DIR WHAT METRIC: its ratio line, less the kernel and rounds
	"$top/tools/bench/report.pl" "$1" "$1" 2>&1 |
		sed -n "s#^ratio $2 $3 \(.*\) kernel=.*#\1#p"
}
rt=$tmp/report
real_raw "$rt/a" tcp-h2g 15 "1.2 + (r % 3) / 100" "1.0 + (r % 2) / 100"
[[ $(ratio_of "$rt/a" vhnet/in-tree guest-tcp-h2g) == 1.2*" win" ]]
ok $? "report.pl: 20 % more in every round of 15 is a win ($(ratio_of "$rt/a" vhnet/in-tree guest-tcp-h2g))"
real_raw "$rt/b" tcp-h2g 15 "r % 2 ? 1.3 : 0.8" "1"
[[ $(ratio_of "$rt/b" vhnet/in-tree guest-tcp-h2g) == *"] parity" ]]
ok $? "report.pl: ratios that swing either side of 1 are parity, not a win ($(ratio_of "$rt/b" vhnet/in-tree guest-tcp-h2g))"
real_raw "$rt/c" rr 15 "40 + r % 3" "50 + r % 2"
[[ $(ratio_of "$rt/c" vhnet/in-tree guest-rr-p50) == 0.8*" win" ]] &&
	[[ $(ratio_of "$rt/c" vhnet/vhost-off guest-rr-p50) == 4*" loss" ]] &&
	[[ $(ratio_of "$rt/c" vhnet/in-tree guest-rr-cpu) == 0.8*" win" ]]
ok $? "report.pl: a lower latency and CPU per packet win, a higher latency loses"
real_raw "$rt/d" tcp-g2h 4 "2" "1"
[[ $(ratio_of "$rt/d" vhnet/in-tree guest-tcp-g2h) == 2.00*" too-few-rounds" ]]
ok $? "report.pl: no verdict from 4 rounds ($(ratio_of "$rt/d" vhnet/in-tree guest-tcp-g2h))"
mkdir -p "$rt/e/results"
{
	echo "kernel,metric,round,impl,test,len,gso,seconds,frames,bytes,pps,gbps,p50_us,p99_us,dev_ns,devices,min_pps,max_pps,mem_kb"
	for r in $(seq 1 9); do
		echo "k,scaletx64,$r,vhnet,tx,64,0,2,1,1,6400,0.1,,,900,64,90,110,$((60 + r))"
		echo "k,scaletx64,$r,vhost-net,tx,64,0,2,1,1,6400,0.1,,,900,64,50,100,$((120 + r))"
		echo "k,tx64,$r,vhnet,tx,64,0,2,1,1,$((1300 + r)),0.1,,,$((700 + r))"
		echo "k,tx64,$r,vhost-net,tx,64,0,2,1,1,$((1000 + r)),0.1,,,$((1000 + r))"
		echo "k,tx64,$r,userspace,tx,64,0,2,1,1,$((2000 + r)),0.1,,,$((500 + r))"
		echo "k,tx64,$r,limit,tx,64,0,2,1,1,1500,0.1,,,"
		echo "k,tx64,$r,vhnet-packed,tx,64,0,2,1,1,$((1430 + r)),0.1,,,$((650 + r))"
	done
} >"$rt/e/results/bench-raw.csv"
[[ $(ratio_of "$rt/e" vhnet/in-tree tx64) == 1.30*" win" ]] &&
	[[ $(ratio_of "$rt/e" vhnet/userspace tx64) == 0.65*" loss" ]] &&
	[ "$("$top/tools/bench/report.pl" "$rt/e" "$rt/e" | tail -1 | cut -d' ' -f1)" = ratio ]
ok $? "report.pl: the fake-guest rows get ratio lines too, printed last"
[[ $(ratio_of "$rt/e" vhnet/in-tree tx64-cpu) == 0.70*" win" ]]
ok $? "report.pl: device CPU per frame, lower is better ($(ratio_of "$rt/e" vhnet/in-tree tx64-cpu))"
"$top/tools/bench/report.pl" "$rt/e" "$rt/e" 2>/dev/null | grep -qx 'limit-invalid tx64 kernel=k beaten-by=userspace' &&
	grep -q 'invalid: beaten by userspace' "$rt/e/results.md"
ok $? "report.pl: a limit that an implementation beats is flagged invalid"
[[ $(ratio_of "$rt/e" vhnet/in-tree scaletx64-mem) == 0.5*" win" ]] &&
	[[ $(ratio_of "$rt/e" vhnet/in-tree scaletx64) == 1.00*" parity" ]] &&
	grep -q '^| TX 64 B, 64 devices at once, sum | 0.818 (0.818-0.818) | 0.500 (0.500-0.500) |' "$rt/e/results.md"
ok $? "report.pl: many devices: aggregate rate, fairness (min/max) and memory per device"
[[ $(ratio_of "$rt/e" vhnet-packed/vhnet tx64) == 1.10*" win" ]] &&
	grep -q '^| TX 64 B | kpps | 1.30 (1.30-1.31) | 1.44 (1.43-1.44) | n/a | 1.10 ' "$rt/e/results.md"
ok $? "report.pl: packed virtqueues beside split, their own ratio ($(ratio_of "$rt/e" vhnet-packed/vhnet tx64))"

[ "$n" = $((planned - 1)) ]
ok $? "ran every case: $n of $((planned - 1)) before this one"
[ $failed = 0 ]
