#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The real-guest section of make bench; runs inside the benchmark VM
# (tools/bench/run-guest.sh):   real-guest.sh OUT
#
# Boots the VM's own Debian kernel with its virtio_net as nested guests
# (nested KVM when the probe allows, see tools/vm/nested.sh), each with two
# queue pairs and two vCPUs, serving iperf3 and sockperf
# (tools/vm/nested-init.sh, step serve), in two passes of at most three
# guests at once:
#   vhnet         -netdev tap,vhost=on through /dev/vhnet
#   vhost-net     the same through the in-tree /dev/vhost-net
#   user          vhost=off: QEMU's own virtio-net (the emulation baseline)
#   vhnet-bp, vhost-net-bp  vhnet and vhost-net with poll-us=50 (device
#                 busy polling), for the rrbp metric only
# In each pass, round after round, every metric is measured against each
# guest in turn (the order rotates with the round), the VM being the other
# end:
#   tcp-h2g tcp-g2h    iperf3 TCP, one stream, VM to guest and back (Gbit/s;
#                      1 s omitted, then BENCH_REAL_SECONDS)
#   tcp4-h2g tcp4-g2h  four streams over the two queue pairs
#   udp64-h2g udp64-g2h  iperf3 UDP, 64 B datagrams, unlimited rate:
#                      datagrams received per second (kpps)
#   rr rrbp            sockperf UDP ping-pong, 64 B: p50 and p99 (us)
# One line per measurement in OUT/results/real-raw.csv:
#   kernel,metric,round,impl,value,value2,worker_ns_per_pkt,guest_irq_per_s,packets,seconds,accel
# value2: the p99 of rr and rrbp. worker_ns_per_pkt: CPU time of the
# device's worker threads (vhnet-PID, vhost-PID; none for user) over the
# packets through the guest's tap. guest_irq_per_s: the guest's virtio-net
# interrupts (its /proc/interrupts) per second of the run.
# Failures: OUT/results/bench-failures; logs: OUT/results/real/.
set -uo pipefail

# One brace group that ends in exit: bash reads all of it before running
# any, so an edit of this file (the VM reads it over 9p) cannot break a run.
{
out=$1
res=$out/results
# shellcheck source=/dev/null
. "$out/bench.conf" || { echo "real-guest: no $out/bench.conf"; exit 1; }
: "${BENCH_REAL_ROUNDS:=8}" "${BENCH_REAL_SECONDS:=2}"
: "${BENCH_REAL_METRICS:=tcp-h2g tcp-g2h tcp4-h2g tcp4-g2h udp64-h2g udp64-g2h rr rrbp}"
# shellcheck source=tools/vm/lib.sh
. "$(dirname "$0")/../vm/lib.sh"
# shellcheck source=tools/vm/nested.sh
. "$VM_TOP/tools/vm/nested.sh"

raw=$res/real-raw.csv
err=$res/real.err
kver=$(uname -r)
secs=$BENCH_REAL_SECONDS
NESTED_FLAVOR=bench
NESTED_MEM=${VHNET_NESTED_MEM:-256}
NESTED_OUT=$out NESTED_LOGS=$res/real NESTED_TMP=/tmp/real-guest
say() { echo "bench: [$(cut -d" " -f1 /proc/uptime)s] real guest: $*"; }
fail() { echo "real-guest $*" >>"$res/bench-failures"; say "$* FAILED (see real.err)"; }

declare -A idx=([vhnet]=1 [vhost-net]=2 [user]=3 [vhnet-bp]=4 [vhost-net-bp]=5)
declare -A WORKERS=() REVIVED=() REVIVED_ROUND=()
impls=(vhnet vhost-net user)

guest_ip() { echo "10.0.$((${idx[$1]} + 2)).2"; }
guest_port() { echo $((NESTED_PORT0 + 10 * ${idx[$1]} + $2)); }

# Thread ids of guest NAME's device workers: named PREFIX-<QEMU's pid>
# (kernel threads, 6.1), or threads of QEMU named PREFIX-<a thread id>
# (vhost_tasks, 6.12: named after the thread that set the owner).
find_workers() {
	local pid=${NESTED_PID[$1]} pfx f c
	case $1 in
	vhnet*) pfx=vhnet ;;
	vhost-net*) pfx=vhost ;;
	*) return 0 ;;
	esac
	{
		nested_worker "$pid" "$pfx"
		for f in /proc/"$pid"/task/[0-9]*/comm; do
			read -r c 2>/dev/null <"$f" || continue
			[[ $c == "$pfx"-[0-9]* ]] || continue
			f=${f%/comm}
			echo "${f##*/}"
		done
	} | sort -un
}

# CPU time (ns) of guest NAME's device workers; empty for QEMU's own.
worker_ns() {
	local t s sum=0
	[ -n "${WORKERS[$1]:-}" ] || return 0
	for t in ${WORKERS[$1]}; do
		read -r s _ <"/proc/$t/schedstat" 2>/dev/null || continue
		sum=$((sum + s))
	done
	echo "$sum"
}

# Packets both ways through guest NAME's tap.
tap_packets() {
	local d=/sys/class/net/tap${idx[$1]}/statistics r t
	read -r r <"$d/rx_packets" && read -r t <"$d/tx_packets" && echo $((r + t))
}

# The guest's virtio-net interrupts so far, all CPUs.
guest_irqs() {
	timeout 10 busybox nc "$(guest_ip "$1")" "$(guest_port "$1" 8)" </dev/null |
		awk '/virtio[0-9]+-(input|output)/ {
			for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i
		} END { print s + 0 }'
}

# iperf3 against guest NAME, KIND tcp or udp, more options; prints Gbit/s
# (tcp) or kpps received (udp). TCP omits its first second (slow start);
# UDP does not: iperf3 3.12 then miscounts the loss, even below zero.
iperf() {
	local name=$1 kind=$2 j omit=(-O 1)
	shift 2
	[ "$kind" = udp ] && omit=()
	j=$(timeout -k 5 $((secs + 40)) iperf3 -c "$(guest_ip "$name")" \
		-p "$(guest_port "$name" 4)" -t "$secs" "${omit[@]}" -J "$@" 2>>"$err") || {
		echo "$j" | grep -m1 '"error"' >>"$err"
		return 1
	}
	perl -MJSON::PP -e '
		my $j = decode_json(join("", <STDIN>));
		my $r = $j->{end}{sum_received} or die "no sum_received\n";
		die "iperf3: $j->{error}\n" if $j->{error};
		if ($ARGV[0] eq "udp") {
			die "no datagrams\n" unless $r->{seconds} > 0;
			die "lost $r->{lost_packets} of $r->{packets}\n"
				if $r->{lost_packets} > $r->{packets};
			printf("%.3f\n", ($r->{packets} - $r->{lost_packets}) /
			    $r->{seconds} / 1e3);
		} else {
			printf("%.4f\n", $r->{bits_per_second} / 1e9);
		}' "$kind" <<<"$j" 2>>"$err"
}

# sockperf ping-pong against guest NAME: "p50 p99" in us.
pingpong() {
	local o
	o=$(timeout -k 5 $((secs + 40)) sockperf ping-pong -i "$(guest_ip "$1")" \
		-p "$(guest_port "$1" 5)" -t "$secs" --msg-size 64 2>&1) || {
		echo "$o" | tail -3 >>"$err"
		return 1
	}
	echo "$o" | awk '
		/percentile 50\.000 =/ { p50 = $NF }
		/percentile 99\.000 =/ { p99 = $NF }
		END { if (p50 == "" || p99 == "") exit 1; print p50, p99 }'
}

# Start guest NAME (again), wait until it serves, find its device threads.
bring_up() {
	local name=$1
	NESTED_QUEUES[$name]=2
	case $name in *-bp) NESTED_NETOPTS[$name]=poll-us=50 ;; esac
	NESTED_BACKEND=${name%-bp} nested_start "$name" "${idx[$name]}" serve ||
		return 1
	nested_wait_up "$name" 900 && nested_wait "$name" serving 300 &&
		[ "$(nested_value "$(nested_result "$name" serving)" ok)" = 1 ]
}

# A guest whose QEMU died (nested KVM in TCG loses one now and then, with
# any backend: Documentation/testing.rst) is restarted once per round,
# and the restart recorded in OUT/results/real-restarts.
revive() {	# NAME WHY
	local name=$1 n=$((${REVIVED[$1]:-0} + 1))
	[ "${REVIVED_ROUND[$1]:-}" != "$round" ] || return 1
	REVIVED[$name]=$n REVIVED_ROUND[$name]=$round
	say "$name: $2; restarting it (restart $n)"
	echo "$name round $round: $2" >>"$res/real-restarts"
	nested_reap "$name"
	mv "$NESTED_LOGS/$name.console" "$NESTED_LOGS/$name.console.died$n" 2>/dev/null
	mv "$NESTED_LOGS/$name.qemu.log" "$NESTED_LOGS/$name.qemu.log.died$n" 2>/dev/null
	bring_up "$name" || return 1
	WORKERS[$name]=$(find_workers "$name" | tr '\n' ' ')
}

# measure METRIC ROUND IMPL: one run, one CSV line.
measure() {
	local metric=$1 round=$2 impl=$3 name=$3 v v2='' w0 w1 p0 p1 i0 i1
	local t0 t1 wns='' irq dt pk sec
	[ "$metric" = rrbp ] && name=$impl-bp
	echo "== $metric round $round $impl" >>"$err"
	if ! nested_running "$name" && ! revive "$name" "QEMU gone before $metric"; then
		fail "$metric round $round $impl (guest $name down)"
		return
	fi
	w0=$(worker_ns "$name") p0=$(tap_packets "$name") i0=$(guest_irqs "$name")
	t0=$EPOCHREALTIME
	case $metric in
	tcp-h2g)   v=$(iperf "$name" tcp) ;;
	tcp-g2h)   v=$(iperf "$name" tcp -R) ;;
	tcp4-h2g)  v=$(iperf "$name" tcp -P 4) ;;
	tcp4-g2h)  v=$(iperf "$name" tcp -P 4 -R) ;;
	udp64-h2g) v=$(iperf "$name" udp -u -l 64 -b 0) ;;
	udp64-g2h) v=$(iperf "$name" udp -u -l 64 -b 0 -R) ;;
	rr|rrbp)   read -r v v2 <<<"$(pingpong "$name")" ;;
	esac
	t1=$EPOCHREALTIME
	if [ -z "$v" ]; then
		# The same run once more, on a restarted guest if it died in it.
		if [ -z "${retry:-}" ] && { nested_running "$name" ||
				revive "$name" "QEMU died during $metric"; }; then
			echo "== retrying $metric round $round $impl" >>"$err"
			retry=1 measure "$@"
			return
		fi
		fail "$metric round $round $impl"
		return
	fi
	w1=$(worker_ns "$name") p1=$(tap_packets "$name") i1=$(guest_irqs "$name")
	# Microseconds, from bash's EPOCHREALTIME (no forks).
	dt=$(( ${t1/./} - ${t0/./} ))
	pk=$((p1 - p0))
	[ -n "$w0" ] && [ "$pk" -gt 0 ] && wns=$(( (w1 - w0) / pk ))
	irq=$(( (i1 - i0) * 1000000 / (dt > 0 ? dt : 1) ))
	printf -v sec '%d.%03d' $((dt / 1000000)) $((dt / 1000 % 1000))
	echo "$kver,$metric,$round,$impl,$v,$v2,$wns,$irq,$pk,$sec,$NESTED_ACCEL" >>"$raw"
}

trap nested_cleanup EXIT

mkdir -p "$res" "$NESTED_TMP"
if ! command -v iperf3 >/dev/null || ! command -v sockperf >/dev/null; then
	fail "setup: iperf3 or sockperf missing (make deps)"
	exit 1
fi
[ -f "$out/nested/initramfs-bench.img" ] ||
	{ fail "setup: no $out/nested/initramfs-bench.img (tools/vm/bench.sh builds it)"; exit 1; }
modprobe vhost_net 2>>"$err"
nested_accel_init
say "accelerator $NESTED_ACCEL ($NESTED_ACCEL_WHY)"

# Start the guests NAMES, wait until each serves, find its device threads.
start_pass() {
	local name t0=$SECONDS
	round=0
	for name in "$@"; do
		NESTED_QUEUES[$name]=2
		case $name in *-bp) NESTED_NETOPTS[$name]=poll-us=50 ;; esac
		NESTED_BACKEND=${name%-bp} nested_start "$name" "${idx[$name]}" serve ||
			{ fail "setup: cannot start guest $name"; return 1; }
	done
	for name in "$@"; do
		if ! { nested_wait_up "$name" 900 && nested_wait "$name" serving 300 &&
				[ "$(nested_value "$(nested_result "$name" serving)" ok)" = 1 ]; } &&
				! { [ "${NESTED_WHY[$name]:-}" = "QEMU exited" ] &&
				    revive "$name" "QEMU exited while booting"; }; then
			fail "setup: guest $name: ${NESTED_WHY[$name]:-$(nested_result "$name" serving)} (console: $NESTED_LOGS/$name.console)"
			return 1
		fi
		WORKERS[$name]=$(find_workers "$name" | tr '\n' ' ')
		say "$name serving: $(nested_result "$name" serving); QEMU ${NESTED_PID[$name]}, device threads: ${WORKERS[$name]:-none}"
		case $name in
		user) ;;
		*)	# No device thread: the CPU figures would read 0.
			if [ -z "${WORKERS[$name]}" ]; then
				fail "setup: guest $name: no device thread found; threads: $(
					cat /proc/"${NESTED_PID[$name]}"/task/*/comm 2>/dev/null | tr '\n' ' ')"
				return 1
			fi ;;
		esac
	done
	say "$# guests up in $((SECONDS - t0))s: $*"
}

# Every round of METRICS, then stop the guests NAMES.
run_pass() {	# "METRICS" NAMES...
	local metrics=$1 metric k name t0=$SECONDS
	shift
	for round in $(seq 1 "$BENCH_REAL_ROUNDS"); do
		say "round $round"
		for metric in $metrics; do
			case $metric in
			rrbp) set -- vhnet vhost-net ;;
			*) set -- "${impls[@]}" ;;
			esac
			# Rotate the order with the round: no implementation always first.
			for k in $(seq 0 $(($# - 1))); do
				k=$(( (k + round) % $# + 1 ))
				measure "$metric" "$round" "${!k}"
			done
		done
	done
	say "pass done in $((SECONDS - t0))s"
}

stop_pass() {
	local name
	for name in "$@"; do
		nested_stop "$name" 20 >/dev/null
	done
}

# Two passes, so that at most three nested KVM guests run at once (five
# at once made the emulator lose guests and, twice, the test VM itself:
# Documentation/performance.rst): vhnet, vhost-net and vhost=off for
# every row but rrbp, then the two busy-polling guests for rrbp.
main_metrics='' bp_metrics=''
for metric in $BENCH_REAL_METRICS; do
	case $metric in
	tcp-h2g|tcp-g2h|tcp4-h2g|tcp4-g2h|udp64-h2g|udp64-g2h|rr)
		main_metrics+=" $metric" ;;
	rrbp) bp_metrics+=" $metric" ;;
	*) say "unknown metric $metric" ;;
	esac
done
[ -s "$raw" ] || echo "kernel,metric,round,impl,value,value2,worker_ns_per_pkt,guest_irq_per_s,packets,seconds,accel" >"$raw"
t0=$SECONDS
if [ -n "$main_metrics" ]; then
	start_pass "${impls[@]}" || exit 1
	run_pass "$main_metrics"
	stop_pass "${impls[@]}"
fi
if [ -n "$bp_metrics" ]; then
	start_pass vhnet-bp vhost-net-bp || exit 1
	run_pass "$bp_metrics"
	stop_pass vhnet-bp vhost-net-bp
fi
say "measurements done in $((SECONDS - t0))s"
exit 0
}
