#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# demo.sh: vhnet end to end, in one command (make demo).
#
# Builds vhnet.ko for the 6.12 kernel, boots the test VM (KVM if a probe
# boot under /dev/kvm works, else TCG; see vm_accel_init), loads vhnet there and starts an unmodified QEMU
# guest on it with "-netdev tap,vhost=on,vhostforce=on,vhostfd=3
# 3<>/dev/vhnet" (the nested guest of tools/vm/nested.sh), under nested
# KVM if it works in the VM (nested_accel_init), else TCG. The guest pings
# the VM and moves 16 MiB over TCP each way; then vhnet's worker thread
# and counters are shown, and which path kicks and interrupts took (KVM's
# ioeventfd and irqfd, or QEMU), and everything shuts down. One line per phase
# here, full logs in build/demo/<kver>/ (named at the end). Exit status 0
# if all went well.
#
#   demo.sh --in-vm OUT   the part that runs in the VM (guest-run.sh demo
#                         mode); its "demo: " console lines are what the
#                         host part shows, its summary goes to
#                         OUT/results/demo.out
set -uo pipefail
# shellcheck source=tools/vm/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tools/vm/nested.sh
. "$(dirname "$0")/nested.sh"

say() { printf 'demo: %s\n' "$*"; }

mib_per_s() {	# BYTES CSECS -> "N.NN MiB/s"
	local r
	[ "${2:-0}" -gt 0 ] || { echo "? MiB/s"; return; }
	r=$(($1 * 100 * 100 / $2 >> 20))
	printf '%d.%02d MiB/s\n' $((r / 100)) $((r % 100))
}

secs() {	# CSECS -> "N.N s"
	echo "$(($1 / 100)).$(($1 % 100 / 10)) s"
}

# --- in the VM ----------------------------------------------------------------
in_vm() {
	local out=$1 res pid line bytes sum csecs tids removed t0 rc m ok=1
	local next_tick=30 want_md5 stats
	res=$out/results
	NESTED_OUT=$out NESTED_LOGS=$res/nested NESTED_TMP=$(mktemp -d)
	want_md5=$(cat "$out/nested/data.md5")
	# shellcheck disable=SC2317  # called by the EXIT trap
	finish() {
		nested_cleanup
		rm -rf "$NESTED_TMP"
	}
	trap finish EXIT
	summary() { printf '  %-16s %s\n' "$1" "$2" >>"$res/demo.out"; }
	failed() {
		say "FAILED: $*"
		summary FAILED "$*"
		ok=0
	}
	rm -f "$res/demo.out"

	[ -c /dev/vhnet ] || { failed "vhnet.ko did not load (/dev/vhnet missing)"; return 1; }
	removed=$(nested_unload_vhost_net) ||
		{ failed "cannot remove the in-tree vhost_net"; return 1; }
	say "[vm] $(uname -r) up: vhnet.ko loaded (/dev/vhnet: $(stat -c '%A, char %Hr:%Lr' /dev/vhnet)), in-tree vhost_net not loaded${removed:+ (removed $(xargs <<<"$removed"))}"

	say "[guest] checking for nested KVM ..."
	nested_accel_init
	say "[guest] accelerator: $NESTED_ACCEL ($NESTED_ACCEL_WHY)"
	summary "guest accel" "$NESTED_ACCEL ($NESTED_ACCEL_WHY)"
	t0=$SECONDS
	nested_start demo 0 ping,rx,tx || { failed "cannot set up tap0 for the nested guest"; return 1; }
	pid=${NESTED_PID[demo]}
	say "[guest] qemu-system-x86_64 pid $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" |
		grep -o -- '-accel [^ ]* .*-netdev [^ ]* -device [^ ]*' | sed 's/ -smp.*-netdev/ ... -netdev/') 3<>/dev/vhnet"
	if [ "$NESTED_ACCEL" = kvm ]; then
		say "[guest] booting a $(uname -r) guest under nested KVM inside the VM ..."
	else
		say "[guest] booting a $(uname -r) guest under TCG inside the VM (a minute or more) ..."
	fi
	# shellcheck disable=SC2317  # called by nested_wait
	nested_tick() {
		[ "$1" -ge "$next_tick" ] || return 0
		next_tick=$(($1 + 30))
		say "[guest]   ... ${1} s (QEMU used $(ps -o time= -p "${NESTED_PID[demo]}" | xargs) of CPU)"
	}
	if ! nested_wait_up demo 900; then
		failed "the nested guest did not come up${NESTED_WHY[demo]:+: ${NESTED_WHY[demo]}} (console: $NESTED_LOGS/demo.console)"
		return 1
	fi
	unset -f nested_tick
	if [ "${NESTED_RESTARTS[demo]:-0}" != 0 ]; then
		pid=${NESTED_PID[demo]}
		say "[guest] (its kernel died in early boot ${NESTED_RESTARTS[demo]} time(s), before vhost started; started again as pid $pid)"
	fi
	nested_path_mark demo
	say "[guest] up after $((SECONDS - t0)) s: eth0 $(nested_value "$(nested_result demo up)" ip), the VM's side tap0 10.0.2.1/24"
	summary "guest boot" "$((SECONDS - t0)) s"

	tids=$(nested_worker "$pid" | xargs)
	if [ -n "$tids" ] && nested_holds_vhnet "$pid"; then
		say "[vhnet] QEMU holds /dev/vhnet open; worker thread vhnet-$pid (tid $tids)"
		summary "vhnet worker" "vhnet-$pid (tid $tids); QEMU holds /dev/vhnet"
	else
		failed "no vhnet-$pid worker thread, or QEMU does not hold /dev/vhnet"
	fi

	nested_wait demo ping 120
	line=$(nested_result demo ping)
	if [ "$(nested_value "$line" received)" = 10 ]; then
		line="10/10 replies, rtt min/avg/max $(nested_value "$line" rtt_ms) ms"
		say "[ping] guest -> 10.0.2.1: $line"
		summary ping "$line"
	else
		failed "ping: ${line:-no result}"
	fi

	say "[tcp] host -> guest: $NESTED_DATA_MB MiB of random data ..."
	nested_wait demo rx 600
	line=$(nested_result demo rx)
	bytes=$(nested_value "$line" bytes) sum=$(nested_value "$line" md5)
	csecs=$(nested_value "$line" csecs)
	if [ "$bytes" = $((NESTED_DATA_MB << 20)) ] && [ "$sum" = "$want_md5" ]; then
		line="$NESTED_DATA_MB MiB in $(secs "$csecs"): $(mib_per_s "$bytes" "$csecs"), md5 matches"
		say "[tcp] host -> guest: $line"
		summary "host -> guest" "$line"
	else
		failed "host -> guest: ${line:-no result}"
	fi

	say "[tcp] guest -> host: the same data back ..."
	nested_wait demo tx 600
	line=$(nested_result demo tx)
	csecs=$(nested_value "$line" csecs)
	nested_sink_wait demo 30
	bytes=$(stat -c %s "$NESTED_TMP/demo.rx" 2>/dev/null)
	sum=$(md5sum <"$NESTED_TMP/demo.rx" | cut -d' ' -f1)
	if [ "$bytes" = $((NESTED_DATA_MB << 20)) ] && [ "$sum" = "$want_md5" ]; then
		line="$NESTED_DATA_MB MiB in $(secs "${csecs:-0}"): $(mib_per_s "$bytes" "${csecs:-0}"), md5 matches"
		say "[tcp] guest -> host: $line"
		summary "guest -> host" "$line"
	else
		failed "guest -> host: ${line:-no result}, the VM got ${bytes:-0} bytes"
	fi

	nested_wait demo "done" 60
	tids=$(nested_worker "$pid" | xargs)
	[ -n "$tids" ] &&
		say "[vhnet] worker thread (pid state cputime name): $(ps -o pid=,stat=,time=,comm= -p "${tids// /,}" | xargs)"
	# (No process substitution: the VM's /dev has no /dev/fd.)
	stats=$(nested_stats "$pid")
	[ -n "$stats" ] || failed "no vhnet debugfs counters for QEMU pid $pid"
	while read -r line; do
		[ -n "$line" ] || continue
		say "[vhnet] /sys/kernel/debug/vhnet/$pid-*/stats: $line"
		summary "vhnet ${line%% *}" "${line#* }"
	done <<<"$stats"
	if [ "$NESTED_ACCEL" = kvm ]; then
		if line=$(nested_path demo); then
			say "[path] kicks through KVM's ioeventfd, interrupts through its irqfd: $line"
			summary "path" "ioeventfd + irqfd: $line"
		else
			failed "path: not KVM's ioeventfd and irqfd: $line"
		fi
	elif line=$(nested_path_tcg demo); then
		say "[path] TCG: $line"
		summary "path" "TCG, QEMU relays: $line"
	else
		failed "path: $line"
	fi

	say "[shutdown] powering the guest off ..."
	nested_stop demo
	rc=$?
	if [ "$rc" = 0 ] && [ -z "$(nested_worker "$pid")" ]; then
		say "[shutdown] guest powered off, QEMU exited 0, vhnet-$pid is gone"
	else
		failed "shutdown: QEMU exit status $rc, worker $(nested_worker "$pid" | xargs)"
	fi
	if grep -qiE 'vhost|falling back|error|fail' "$NESTED_LOGS/demo.qemu.log"; then
		failed "QEMU reported: $(grep -iE 'vhost|falling back|error|fail' "$NESTED_LOGS/demo.qemu.log" | head -3 | xargs)"
	fi
	for m in $removed; do modprobe "$m"; done
	[ $ok = 1 ]
}

# --- on the host ----------------------------------------------------------------
on_host() {
	local kver out t0 vpid qrc ok=1 brc
	t0=$SECONDS
	vm_accel_line
	kver=$(vm_kernels quick)
	[ -n "$kver" ] || vm_die "no 6.12 kernel with headers installed (make deps)"
	out=$VM_BUILD/demo/$kver
	mkdir -p "$out"

	say "[build] vhnet.ko for $kver (log: $out/build.log)"
	"$VM_TOP/tools/vm/build-module.sh" --module-only "$kver" "$out"
	brc=$?
	[ $brc = 0 ] || [ $brc = 2 ] || exit 1
	nested_initramfs "$kver" "$out" >"$out/nested.log" 2>&1 ||
		vm_die "nested guest initramfs failed (log: $out/nested.log)"
	say "[build] nested guest: kernel, busybox initramfs with virtio_net, $NESTED_DATA_MB MiB of random data (log: $out/nested.log)"

	rm -rf "$out/results"
	mkdir -p "$out/results"
	# (vm_boot starts a new one; the old one must not show here.)
	rm -f "$out/console.log"
	say "[vm] booting $kver ($VM_ACCEL, $VM_SMP CPUs, $VM_MEM MB) and loading vhnet.ko ..."
	vm_boot "$kver" "$out" demo &
	vpid=$!
	# Show the VM's progress lines as they come.
	tail -n +1 -F --pid="$vpid" "$out/console.log" 2>/dev/null |
		sed -un -e 's/\r$//' -e '/^demo: \|^vm: .*FAILED/p'
	wait "$vpid"
	qrc=$?

	[ "$qrc" = 0 ] || { say "FAILED: the VM: $(cat "$out/vm-failure" 2>/dev/null) (log: $out/qemu.log)"; ok=0; }
	[ -f "$out/results/done" ] || { say "FAILED: the VM did not finish"; ok=0; }
	if [ -s "$out/results/setup-failures" ]; then
		sed 's/^/demo: FAILED: /' "$out/results/setup-failures"
		ok=0
	fi
	grep -q FAILED "$out/results/demo.out" 2>/dev/null && ok=0
	[ -s "$out/results/demo.out" ] || ok=0
	if ! vm_log_problems "$out/console.log" "$out/results/nested/demo.console"; then
		say "FAILED: kernel problems in the logs (above)"
		ok=0
	fi

	echo
	echo "==== vhnet demo summary ($kver, $VM_ACCEL)"
	cat "$out/results/demo.out" 2>/dev/null
	printf '  %-16s %s\n' "total time" "$(((SECONDS - t0) / 60)) min $(((SECONDS - t0) % 60)) s" \
		logs "$out/" \
		"" "build.log: module build; console.log: the VM's console" \
		"" "results/nested/demo.console, demo.qemu.log: the guest's console, its QEMU"
	if [ $ok = 1 ]; then
		echo "==== demo OK"
		return 0
	fi
	echo "==== demo FAILED"
	return 1
}

if [ "${1:-}" = --in-vm ]; then
	[ $# = 2 ] || vm_die "usage: $0 --in-vm OUT"
	in_vm "$2"
else
	[ $# = 0 ] || vm_die "usage: $0"
	on_host
fi
