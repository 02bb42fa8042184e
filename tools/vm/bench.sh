#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# bench.sh: make bench. Side-by-side benchmark of vhnet, the in-tree
# vhost-net and a userspace device loop (QEMU's vhost=off path), with the
# tap's and memcpy's limits, in one VM per kernel. See
# Documentation/performance.rst.
#
# Environment:
#   VHNET_BENCH_KERNELS  quick (default: 6.12) | all | list of versions
#   BENCH_ROUNDS         rounds per metric (default 15)
#   BENCH_SECONDS        measured seconds per run (default 1)
#   BENCH_WARMUP         seconds before measuring (default 0.3)
#   BENCH_METRICS        subset of: tx64 rx64 tx1500 rx1500 txgso rxgso
#                        ping pingbp (ping-pong with the device busy-polling
#                        50 us; vhnet and vhost-net only) memcpy
#                        scaletx1 scaletx8 scaletx64 scalerx1 scalerx8
#                        scalerx64 (64 B, N devices at once; vhnet and
#                        vhost-net only); or none
#   BENCH_SCALE_ROUNDS   rounds of the scale metrics (default 5)
#   BENCH_IMPLS          subset of: vhnet vhost-net userspace limit
#                        vhnet-packed vhnet-in-order (packed virtqueues,
#                        VIRTIO_F_IN_ORDER: tx64 rx64 txgso rxgso ping)
#   BENCH_REAL           0: no real-guest section (tools/bench/real-guest.sh:
#                        a Debian guest through vhnet, vhost-net and
#                        vhost=off, under nested KVM where it works)
#   BENCH_REAL_ROUNDS    its rounds (default 8)
#   BENCH_REAL_SECONDS   seconds per iperf3 or sockperf run (default 2)
#   BENCH_REAL_METRICS   subset of: tcp-h2g tcp-g2h tcp4-h2g tcp4-g2h
#                        udp64-h2g udp64-g2h rr rrbp
#   BENCH_PROFILE        1 (default): perf profiles after the measurements
#   BENCH_CMD            debugging: run this in the guest instead (its
#                        output: <out>/results/bench-cmd.out)
#   VHNET_BUILD          build directory (default build/); results go to
#                        $VHNET_BUILD/bench/
# Output: $VHNET_BUILD/bench/results.md, results.csv, raw.csv and
# bench-<kernel>.png; the paths are printed at the end.
set -uo pipefail
# shellcheck source=tools/vm/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tools/vm/nested.sh
. "$(dirname "$0")/nested.sh"

# The whole script is one brace group that ends in exit: bash reads it
# completely before running any of it, so editing this file while a run
# is going (a shared work tree) cannot break that run (the previous
# failure mode: "]: command not found" at the end of a 25-minute run).
{

# A full run (fake guest, scale, real guests) takes about an hour under
# TCG; leave room.
VM_TIMEOUT=${VHNET_VM_TIMEOUT:-7200}
bdir=$VM_BUILD/bench
t_start=$SECONDS
vm_accel_line

case ${VHNET_BENCH_KERNELS:-quick} in
quick|all) mapfile -t kernels < <(vm_kernels "${VHNET_BENCH_KERNELS:-quick}") ;;
*) read -r -a kernels <<<"$VHNET_BENCH_KERNELS" ;;
esac
[ ${#kernels[@]} -gt 0 ] || vm_die "no supported kernel installed (make deps)"
command -v gnuplot >/dev/null || vm_die "gnuplot is missing (make deps)"

mkdir -p "$bdir"
vm_msg "bench: building the benchmark binary"
make -s -C "$VM_TOP/tools/bench" OUT="$bdir" >"$bdir/build.log" 2>&1 ||
	{ cat "$bdir/build.log"; vm_die "benchmark build failed (log: $bdir/build.log)"; }

raws=()
failed=0
for kver in "${kernels[@]}"; do
	out=$bdir/$kver
	mkdir -p "$out"
	vm_msg "bench: [$kver] building vhnet.ko"
	if ! "$VM_TOP/tools/vm/build-module.sh" --module-only "$kver" "$out"; then
		failed=1
		continue
	fi
	if [ "${BENCH_REAL:-1}" != 0 ]; then
		vm_msg "bench: [$kver] building the real guests' initramfs"
		NESTED_FLAVOR=bench nested_initramfs "$(nested_kver "$kver")" "$out" \
			>"$out/nested.log" 2>&1 ||
			{ cat "$out/nested.log"; vm_die "nested guest initramfs failed"; }
	fi
	rm -rf "$out/results"
	mkdir -p "$out/results"
	# Inside OUT: the guest sees only that share of the host's /tmp.
	cp "$bdir/vhnet_bench" "$out/vhnet_bench"
	{
		echo "BENCH_BIN=$out/vhnet_bench"
		echo "BENCH_ROUNDS=${BENCH_ROUNDS:-15}"
		echo "BENCH_SECONDS=${BENCH_SECONDS:-1}"
		echo "BENCH_WARMUP=${BENCH_WARMUP:-0.3}"
		echo "BENCH_PROFILE=${BENCH_PROFILE:-1}"
		[ -z "${BENCH_METRICS:-}" ] || echo "BENCH_METRICS='$BENCH_METRICS'"
		[ -z "${BENCH_IMPLS:-}" ] || echo "BENCH_IMPLS='$BENCH_IMPLS'"
		echo "BENCH_REAL=${BENCH_REAL:-1}"
		[ -z "${BENCH_SCALE_ROUNDS:-}" ] || echo "BENCH_SCALE_ROUNDS=$BENCH_SCALE_ROUNDS"
		[ -z "${BENCH_REAL_ROUNDS:-}" ] || echo "BENCH_REAL_ROUNDS=$BENCH_REAL_ROUNDS"
		[ -z "${BENCH_REAL_SECONDS:-}" ] || echo "BENCH_REAL_SECONDS=$BENCH_REAL_SECONDS"
		[ -z "${BENCH_REAL_METRICS:-}" ] || echo "BENCH_REAL_METRICS='$BENCH_REAL_METRICS'"
		[ -z "${BENCH_CMD:-}" ] || printf 'BENCH_CMD=%q\n' "$BENCH_CMD"
	} >"$out/bench.conf"
	{
		echo "accel=$VM_ACCEL"
		echo "host_cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
		echo "host_ncpu=$(nproc)"
		echo "vm_smp=$VM_SMP"
		echo "vm_mem_mb=$VM_MEM"
		echo "qemu=$(qemu-system-x86_64 --version | head -1)"
		echo "loadavg_before=$(cut -d' ' -f1-3 /proc/loadavg)"
	} >"$out/results/bench-host.txt"
	vm_msg "bench: [$kver] booting ($VM_ACCEL, $VM_SMP CPUs, $VM_MEM MB); console: $out/console.log"
	t0=$SECONDS
	vm_boot "$kver" "$out" bench
	qrc=$?
	echo "loadavg_after=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/results/bench-host.txt"
	echo "vm_seconds=$((SECONDS - t0))" >>"$out/results/bench-host.txt"
	vm_msg "bench: [$kver] VM finished after $((SECONDS - t0))s (qemu status $qrc)"
	[ ! -s "$out/vm-failure" ] || vm_msg "bench: [$kver] VM: $(cat "$out/vm-failure")"
	if [ ! -f "$out/results/done" ]; then
		vm_msg "bench: [$kver] the guest did not finish; console: $out/console.log"
		failed=1
	fi
	if [ -s "$out/results/setup-failures" ]; then
		sed 's/^/  guest setup: /' "$out/results/setup-failures"
		failed=1
	fi
	if ! vm_log_problems "$out/console.log" "$out/results/dmesg.txt"; then
		vm_msg "bench: [$kver] kernel problems in the guest log"
		failed=1
	fi
	if [ -s "$out/results/bench-failures" ]; then
		vm_msg "bench: [$kver] $(wc -l <"$out/results/bench-failures") runs failed (stderr: $out/results/bench.err):"
		grep -v -e '^== ' -e '^vhnet_bench: note:' "$out/results/bench.err" |
			head -20 | sed 's/^/  /'
		failed=1
	fi
	[ -s "$out/results/bench-raw.csv" ] && raws+=("$out")
done

[ ${#raws[@]} -gt 0 ] || vm_die "no results"
vm_msg "bench: report"
"$VM_TOP/tools/bench/report.pl" "$bdir" "${raws[@]}" || failed=1
vm_msg "bench: total $((SECONDS - t_start))s"
exit $failed
}
