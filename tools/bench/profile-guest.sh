#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the benchmark VM after the measurements (BENCH_PROFILE=1):
#   profile-guest.sh OUT
# Samples the whole VM with perf (cpu-clock: TCG has no PMU) while vhnet
# and the in-tree vhost-net each run TX 64 B, RX 64 B and TX/RX 64 KB,
# and writes flat per-symbol profiles, kernel and module symbols resolved
# in the guest (/proc/kallsyms):
#   OUT/results/perf-<metric>-<impl>.txt    perf report --sort sym
#   OUT/results/perf-<metric>-<impl>.note   the device's own counters
#   OUT/results/perf-<metric>-<impl>.csv    the run's measurement
set -u

out=$1
res=$out/results
# shellcheck source=/dev/null
. "$out/bench.conf"
: "${BENCH_PROFILE_SECONDS:=3}" "${BENCH_PROFILE_METRICS:=tx64 rx64 txgso rxgso}"
say() { echo "bench: [$(cut -d" " -f1 /proc/uptime)s] $*"; }

if ! command -v perf >/dev/null; then
	say "no perf (linux-perf): no profiles"
	exit 0
fi
echo -1 >/proc/sys/kernel/perf_event_paranoid
echo 0 >/proc/sys/kernel/kptr_restrict

for metric in $BENCH_PROFILE_METRICS; do
	case $metric in
	tx64) args="-t tx -s 64" ;;
	rx64) args="-t rx -s 64" ;;
	txgso) args="-t tx -s gso" ;;
	rxgso) args="-t rx -s gso" ;;
	*) continue ;;
	esac
	for impl in vhnet vhost-net; do
		base=$res/perf-$metric-$impl
		say "profiling $metric $impl"
		# The workload takes 4 s, but perf record's own setup and
		# teardown take most of a minute under TCG, more on a loaded
		# host (a 60 s limit failed every time); -B skips the build-id
		# pass over the sampled binaries (read over 9p) at the end.
		# shellcheck disable=SC2086  # $args: options
		timeout -k 5 120 perf record -q -B -a -e cpu-clock -F 1000 \
			-o /tmp/perf.data -- "$BENCH_BIN" -i "$impl" $args \
			-w 0.5 -d "$BENCH_PROFILE_SECONDS" \
			>"$base.csv" 2>"$base.note" ||
			say "perf record of $metric $impl exited with status $?"
		# One report per profile: each takes most of a minute under TCG.
		timeout -k 5 300 perf report -i /tmp/perf.data --stdio \
			--sort sym --percent-limit 0.3 >"$base.txt" 2>/dev/null
		rm -f /tmp/perf.data
	done
done
say "profiles done"
