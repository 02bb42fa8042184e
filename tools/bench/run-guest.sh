#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the benchmark VM (tools/vm/guest-run.sh, mode bench), after
# vhnet.ko, vhost_net and tun are loaded:   run-guest.sh OUT
#
# Reads OUT/bench.conf (written by tools/vm/bench.sh), then for every
# metric, round after round, runs each implementation once in turn
# (vhnet, vhost-net, userspace, limit, vhnet, ...) and appends one line per
# run to OUT/results/bench-raw.csv:
#   kernel,metric,round,<the columns of vhnet_bench -H>
# Every run's stderr goes to OUT/results/bench.err; a failed run leaves no
# CSV line but one in OUT/results/bench-failures.
# Then the real-guest section (tools/bench/real-guest.sh) unless
# BENCH_REAL=0. With BENCH_PROFILE=1 it then records perf profiles
# (OUT/results/perf-*).
set -u

out=$1
res=$out/results
# shellcheck source=/dev/null
. "$out/bench.conf" || { echo "bench: no $out/bench.conf"; exit 1; }
: "${BENCH_BIN:?}" "${BENCH_ROUNDS:=15}" "${BENCH_SECONDS:=1}"
: "${BENCH_WARMUP:=0.3}" "${BENCH_METRICS:=tx64 rx64 tx1500 rx1500 txgso rxgso ping pingbp memcpy scaletx1 scaletx8 scaletx64 scalerx1 scalerx8 scalerx64}"
: "${BENCH_SCALE_ROUNDS:=5}"
: "${BENCH_IMPLS:=vhnet vhost-net userspace limit vhnet-packed vhnet-in-order}" "${BENCH_PROFILE:=0}"
: "${BENCH_RUN_TIMEOUT:=120}"

raw=$res/bench-raw.csv
err=$res/bench.err
kver=$(uname -r)
say() { echo "bench: [$(cut -d" " -f1 /proc/uptime)s] $*"; }

mkdir -p "$res"
modprobe pktgen 2>>"$err" || say "modprobe pktgen failed: RX runs will fail"
{
	echo "kernel=$kver"
	echo "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
	echo "ncpu=$(nproc)"
	echo "vhost_net_zcopytx=$(cat /sys/module/vhost_net/parameters/experimental_zcopytx 2>/dev/null)"
	echo "memory_kb=$(sed -n 's/^MemTotal: *\([0-9]*\).*/\1/p' /proc/meminfo)"
} >"$res/bench-guest.txt"

# metric -> "test size [flags]"; the ping-pong guest busy-polls (see
# Documentation/performance.rst), and for pingbp the device too (50 us)
metric_args() {
	case $1 in
	tx64)	echo "tx 64" ;;
	rx64)	echo "rx 64" ;;
	tx1500)	echo "tx 1514" ;;
	rx1500)	echo "rx 1514" ;;
	txgso)	echo "tx gso" ;;
	rxgso)	echo "rx gso" ;;
	ping)	echo "ping 64 -p" ;;
	pingbp)	echo "ping 64 -p -P 50" ;;
	memcpy)	echo "memcpy 65536" ;;
	scaletx[0-9]*)	echo "tx 64 -N ${1#scaletx}" ;;
	scalerx[0-9]*)	echo "rx 64 -N ${1#scalerx}" ;;
	*)	return 1 ;;
	esac
}

# run METRIC ROUND IMPL: one measurement, one CSV line.
run() {
	local metric=$1 round=$2 impl=$3 test size opt line
	read -r test size opt <<<"$(metric_args "$metric")"
	# Device busy polling: the two vhost devices only.
	case $metric-$impl in pingbp-userspace|pingbp-limit) return 0 ;; esac
	# Many devices: vhnet against the in-tree vhost-net.
	case $metric-$impl in scale*-userspace|scale*-limit) return 0 ;; esac
	# Packed rings and in order beside split: 64 B, 64 KB, the round trip.
	case $metric-$impl in
	tx64-vhnet-*|rx64-vhnet-*|txgso-vhnet-*|rxgso-vhnet-*|ping-vhnet-*) ;;
	*-vhnet-packed|*-vhnet-in-order) return 0 ;;
	esac
	echo "== $metric round $round $impl" >>"$err"
	# shellcheck disable=SC2086  # $opt: an optional flag
	if line=$(timeout -k 5 "$BENCH_RUN_TIMEOUT" "$BENCH_BIN" -i "$impl" \
			-t "$test" -s "$size" -w "$BENCH_WARMUP" \
			-d "$BENCH_SECONDS" $opt 2>>"$err"); then
		echo "$kver,$metric,$round,$line" >>"$raw"
	else
		echo "$metric round $round $impl" >>"$res/bench-failures"
		say "$metric round $round $impl FAILED (see bench.err)"
	fi
}

# Debugging: one command line instead of the schedule.
if [ -n "${BENCH_CMD:-}" ]; then
	say "BENCH_CMD: $BENCH_CMD"
	export BENCH_BIN
	bash -c "$BENCH_CMD" >"$res/bench-cmd.out" 2>&1
	say "BENCH_CMD exited with status $?"
	exit 0
fi

[ -s "$raw" ] || echo "kernel,metric,round,$("$BENCH_BIN" -H -i limit -t memcpy -d 0 | head -1)" >"$raw"
t0=$SECONDS
for metric in $BENCH_METRICS; do
	[ "$metric" = none ] && continue
	metric_args "$metric" >/dev/null || { say "unknown metric $metric"; continue; }
	say "$metric"
	rounds=$BENCH_ROUNDS
	case $metric in scale*) rounds=$BENCH_SCALE_ROUNDS ;; esac
	for round in $(seq 1 "$rounds"); do
		if [ "$metric" = memcpy ]; then
			run memcpy "$round" limit
			continue
		fi
		for impl in $BENCH_IMPLS; do
			run "$metric" "$round" "$impl"
		done
	done
done
say "measurements done in $((SECONDS - t0))s"

# Real guests, unless BENCH_REAL=0 (tools/bench/real-guest.sh).
if [ "${BENCH_REAL:-1}" != 0 ]; then
	"$(dirname "$0")/real-guest.sh" "$out" ||
		echo "real-guest.sh exited with status $?" >>"$res/bench-failures"
fi

[ "$BENCH_PROFILE" = 1 ] && "$(dirname "$0")/profile-guest.sh" "$out"
exit 0
