#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# ab.sh [--runs N] [--arms "ARM..."] [--kernels quick|all|6.1|6.12|debug] [--steps S]
#       [--keep|--table]
#
# A/B test of a nested guest under nested KVM (issue 14): does vhnet make
# the test VM or its guest die? Each run boots a fresh test VM (TCG, with
# -cpu qemu64,+svm,+npt so that kvm_amd loads in it), which runs one
# unmodified-QEMU guest with -accel kvm that boots and pings 10 times
# (--steps ping,rx,tx: then also moves NESTED_DATA_MB MiB each way, md5
# checked; the steps are nested-init.sh's).
# The arms differ only in the backend:
#   vhnet      vhost=on through /dev/vhnet, the in-tree vhost_net unloaded
#   vhost-net  vhost=on through the in-tree /dev/vhost-net, vhnet unloaded
#   vhnet-off  vhnet loaded (its device unused), QEMU's own virtio-net
# Runs are interleaved (arm by arm, kernel by kernel, round after round).
# --kernels debug: the KASAN + lockdep kernel (tools/vm/debug-kernel.sh);
# its KASAN, lockdep and UBSAN reports count as test VM kernel problems.
# One line per run, then a table per kernel and arm: runs, passed, failed
# and each failure's signature. Logs: build/ab/<kver>/runs/<arm>-<n>/.
# --keep adds the runs to those already there (numbered after them);
# --table only prints the table, every signature taken again from the logs.
# Exit status 0 when every run passed.
#
# In the test VM (guest-run.sh mode "ab"): ab.sh --in-vm OUT, the arm in
# VHNET_AB_ARM.
set -uo pipefail
# shellcheck source=tools/vm/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tools/vm/nested.sh
. "$VM_TOP/tools/vm/nested.sh"

# Why step S failed (nothing, status 1, if it passed).
step_failed() {	# S WAIT-STATUS LINE
	local s=$1 rc=$2 line=$3 bytes sum
	if [ "$rc" != 0 ]; then
		echo "$s: ${NESTED_WHY[ab]:-no result line}"
		return 0
	fi
	case $s in
	ping) [ "$(nested_value "$line" received)" = 10 ] && return 1 ;;
	rx)
		[ "$(nested_value "$line" bytes)" = $((NESTED_DATA_MB << 20)) ] &&
			[ "$(nested_value "$line" md5)" = "$(cat "$NESTED_OUT/nested/data.md5")" ] &&
			return 1 ;;
	tx)
		nested_sink_wait ab 30
		bytes=$(stat -c %s "$NESTED_TMP/ab.rx" 2>/dev/null)
		sum=$(md5sum <"$NESTED_TMP/ab.rx" 2>/dev/null | cut -d' ' -f1)
		[ "$bytes" = $((NESTED_DATA_MB << 20)) ] &&
			[ "$sum" = "$(cat "$NESTED_OUT/nested/data.md5")" ] && return 1
		line+=" host: ${bytes:-0} bytes md5 ${sum:-none}" ;;
	*) return 1 ;;
	esac
	echo "$s: wrong result"
}

in_vm() {
	local out=$1 res=$1/results arm=${VHNET_AB_ARM:-} rc t0 line why touched
	local steps=${VHNET_AB_STEPS:-ping} s done_steps
	NESTED_OUT=$out NESTED_LOGS=$res/nested NESTED_TMP=/tmp/ab
	record() { echo "ab: $*" | tee -a "$res/ab.out"; }
	modprobe kvm_amd 2>/dev/null || modprobe kvm_intel 2>/dev/null
	if [ ! -c /dev/kvm ]; then
		record "result=setup why=no-/dev/kvm"
		return 1
	fi
	case $arm in
	vhnet)
		nested_unload_vhost_net >/dev/null || { record "result=setup why=vhost_net-busy"; return 1; }
		NESTED_BACKEND=vhnet ;;
	vhost-net)
		rmmod vhnet || { record "result=setup why=vhnet-busy"; return 1; }
		NESTED_BACKEND="vhost-net" ;;
	vhnet-off)
		nested_unload_vhost_net >/dev/null || { record "result=setup why=vhost_net-busy"; return 1; }
		NESTED_BACKEND=user ;;
	*)
		record "result=setup why=unknown-arm-'$arm'"
		return 1 ;;
	esac
	NESTED_ACCEL=kvm
	t0=$SECONDS
	nested_start ab 0 "$steps" || { record "result=setup why=nested_start"; return 1; }
	# How far vhnet got, sampled every second: a failure before any kick
	# or packet happened before the guest's driver started vhost.
	touched=0
	# shellcheck disable=SC2317  # called by nested_wait
	nested_tick() {
		[ "$arm" = vhnet ] && [ "$touched" = 0 ] || return 0
		[ "$(nested_vhnet_sum "${NESTED_PID[ab]}" kicks)" = 0 ] &&
			[ "$(nested_vhnet_sum "${NESTED_PID[ab]}" packets)" = 0 ] ||
			touched=1
	}
	done_steps='' why='' line=''
	for s in $(tr , ' ' <<<"$steps"); do
		nested_wait ab "$s" 300
		rc=$?
		line=$(nested_result ab "$s")
		why=$(step_failed "$s" "$rc" "$line") && break
		done_steps+="${done_steps:+,}$s"
		why=''
	done
	if [ -z "$why" ] && ! vm_log_problems "$NESTED_LOGS/ab.console" >/dev/null; then
		why="guest kernel problem"
	fi
	if [ -z "$why" ]; then
		record "result=pass arm=$arm secs=$((SECONDS - t0)) steps=$steps $(nested_result ab ping)"
	else
		[ -s "$NESTED_LOGS/ab.console" ] || why+=", empty guest console"
		nested_result ab boot >/dev/null || why+=", before the guest's /init"
		[ "$arm" = vhnet ] && why+=", vhnet rings $([ $touched = 1 ] && echo used || echo unused)"
		record "result=fail arm=$arm secs=$((SECONDS - t0)) wait=$rc why=$why passed=${done_steps:-none} $s=${line:-none}"
	fi
	nested_stop ab 30 >/dev/null
	nested_cleanup
	return 0
}

# The signature of one run from its logs (RUN directory).
signature() {
	local run=$1 line oops stale
	line=$(grep -a '^ab: result=' "$run/results/ab.out" 2>/dev/null | tail -1)
	# A pass counts only if the test VM's kernel stayed clean to the end.
	case $line in
	*result=pass*) vm_log_problems "$run/console.log" >/dev/null && { echo pass; return; } ;;
	esac
	# A trap on an int3 no longer in memory: the emulator's (lib.sh).
	if stale=$(vm_stale_int3 "$run/console.log" 2>/dev/null); then
		echo "test VM: emulator flaw, $stale"
	elif grep -qa 'Kernel panic' "$run/console.log" 2>/dev/null; then
		echo "test VM panic: $(grep -a -m1 -o 'Kernel panic.*' "$run/console.log" | tr -d '\r')" \
			"(Comm: $(grep -a -m1 -o 'Comm: [^ ]*' "$run/console.log" | cut -d' ' -f2);" \
			"$(vm_first_oops "$run/console.log"))"
	elif ! vm_log_problems "$run/console.log" >/dev/null; then
		oops=$(vm_first_oops "$run/console.log")
		[ -n "$oops" ] || oops=$(grep -aE -m1 "$VM_BAD_RE" "$run/console.log" | tr -d '\r' | cut -c1-120)
		echo "test VM kernel problem${line:+ after the guest steps passed}: $oops"
	elif [ -n "$line" ]; then
		oops=$(vm_first_oops "$run/results/nested/ab.console" 2>/dev/null)
		echo "guest: ${line#ab: }${oops:+; guest: $oops}" |
			sed 's/ \(ping\|rx\|tx\)=[^;]*//; s/ secs=[0-9]*//'
	elif [ -s "$run/vm-failure" ]; then
		echo "test VM: $(cat "$run/vm-failure")"
	else
		echo "test VM: no result"
	fi
}

# The table of the runs in KVER's ab.tsv, each signature taken again from
# its logs (so that a better signature() applies to old runs too).
table() {	# KVER ARMS
	local kver=$1 arms=$2 tsv=$VM_BUILD/ab/$1/ab.tsv k a i secs sig
	[ -f "$tsv" ] || return 0
	while IFS=$'\t' read -r k a i secs sig; do
		sig=$(signature "$VM_BUILD/ab/$k/runs/$a-$i")
		printf '%s\t%s\t%s\t%s\t%s\n' "$k" "$a" "$i" "$secs" "$sig"
	done <"$tsv" >"$tsv.new" && mv "$tsv.new" "$tsv"
	for a in $arms; do
		awk -F'\t' -v a="$a" -v k="$kver" '
			$2 == a { n++; if ($5 == "pass") p++; else sig[$5]++ }
			END {
				printf "%s %-10s runs %d passed %d failed %d\n", k, a, n, p, n - p
				for (s in sig) printf "    %dx %s\n", sig[s], s
			}' "$tsv"
	done
}

on_host() {
	local runs=30 arms="vhnet vhost-net vhnet-off" set=quick kver out i arm steps=ping
	local run sig t0 fails=0 kernels=() k keep=0 only_table=0 first=1
	while [ $# -gt 0 ]; do
		case $1 in
		--runs) runs=$2; shift 2 ;;
		--arms) arms=$2; shift 2 ;;
		--kernels) set=$2; shift 2 ;;
		--steps) steps=$2; shift 2 ;;
		--keep) keep=1; shift ;;
		--table) only_table=1; shift ;;
		*) vm_die "usage: $0 [--runs N] [--arms \"ARM...\"] [--kernels quick|all|6.1|6.12|debug] [--steps S] [--keep|--table]" ;;
		esac
	done
	vm_accel_line
	if [ "$set" = debug ]; then
		# The KASAN + lockdep kernel (built once, cached).
		if ! k=$("$VM_TOP/tools/vm/debug-kernel.sh") || [ -z "$k" ]; then
			vm_die "tools/vm/debug-kernel.sh failed ($VM_BUILD/debug/build.log)"
		fi
		kernels=("$k")
	else
		mapfile -t kernels < <(vm_kernels "$set")
	fi
	if [ $only_table = 1 ]; then
		for kver in "${kernels[@]}"; do table "$kver" "$arms"; done
		return 0
	fi
	[ ${#kernels[@]} -gt 0 ] || vm_die "no kernel for '$set'"
	for kver in "${kernels[@]}"; do
		out=$VM_BUILD/ab/$kver
		mkdir -p "$out"
		"$VM_TOP/tools/vm/build-module.sh" --module-only "$kver" "$out" >/dev/null
		case $? in 0|2) ;; *) vm_die "vhnet.ko for $kver did not build ($out/build.log)" ;; esac
		nested_initramfs "$(nested_kver "$kver")" "$out" >"$out/nested.log" 2>&1 ||
			vm_die "nested initramfs for $kver failed ($out/nested.log)"
		if [ $keep = 1 ] && [ -f "$out/ab.tsv" ]; then
			# Go on numbering after the runs already there.
			i=$(awk -F'\t' '$3 > m { m = $3 } END { print m + 1 }' "$out/ab.tsv")
			[ "$i" -le "$first" ] || first=$i
		else
			: >"$out/ab.tsv"
		fi
	done
	for ((i = first; i < first + runs; i++)); do
		for arm in $arms; do
			for kver in "${kernels[@]}"; do
				out=$VM_BUILD/ab/$kver
				run=$out/runs/$arm-$i
				rm -rf "$out/results" "$run"
				mkdir -p "$out/results" "$run"
				printf 'VHNET_AB_ARM=%s\nVHNET_AB_STEPS=%s\n' "$arm" "$steps" >"$out/test.env"
				t0=$SECONDS
				VM_CPU=qemu64,+svm,+npt vm_boot "$kver" "$out" ab >/dev/null 2>&1
				mv "$out/results" "$out/console.log" "$out/qemu.log" "$run/" 2>/dev/null
				[ -f "$out/vm-failure" ] && mv "$out/vm-failure" "$run/"
				sig=$(signature "$run")
				[ "$sig" = pass ] || fails=$((fails + 1))
				printf '%s\t%s\t%s\t%s\t%s\n' "$kver" "$arm" "$i" \
					$((SECONDS - t0)) "$sig" >>"$out/ab.tsv"
				vm_msg "[$(echo "$kver" | cut -d. -f1,2)] $arm run $i ($((SECONDS - t0)) s): $sig"
			done
		done
	done
	vm_msg "==== A/B: nested guest under nested KVM, $runs runs per arm this time"
	for kver in "${kernels[@]}"; do table "$kver" "$arms"; done
	for k in "${kernels[@]}"; do vm_msg "logs: $VM_BUILD/ab/$k/runs/"; done
	[ $fails = 0 ]
}

if [ "${1:-}" = --in-vm ]; then
	[ $# = 2 ] || vm_die "usage: $0 --in-vm OUT"
	in_vm "$2"
else
	on_host "$@"
fi
