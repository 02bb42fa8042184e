#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vhnet_qemu_test: unmodified QEMU as a vhnet client, end to end (TAP).
#
# Runs in the test VM (tools/vm/guest-run.sh), as root, with vhnet.ko
# loaded. Removes the in-tree vhost_net, then runs nested guests
# (tools/vm/nested.sh) with
#   -netdev tap,ifname=tapN,vhost=on,vhostforce=on,vhostfd=3 3<>/dev/vhnet
#   -device virtio-net-pci
# one after the other:
#   triple  (nested KVM only) a guest that reboots with reboot=t: its
#           triple fault must be seen (nested_triple_fault), since the
#           retries below rely on that
#   modern  ping; 16 MiB of random data host->guest; reload virtio_net in
#           the guest (QEMU stops and restarts vhost: GET_VRING_BASE, then
#           SET_VRING_BASE); ping; ethtool -G to 128-entry rings and back
#           (VIRTIO_F_RING_RESET: QEMU detaches one queue's backend, reads
#           its base, sets it up anew and reattaches), pings meanwhile;
#           ping; the guest sends the 16 MiB back; multiqueue: the guest
#           has 2 vCPUs and 2 queue pairs (fds=5:6, vhostfds=3:4: one
#           vhnet device each, mq=on) and takes four 16 MiB streams at
#           once, two on each vCPU: md5 matches, and each vhnet device
#           moved frames both ways during them. Under
#           nested KVM if it works here (nested_accel_init: kvm_amd in the
#           test VM and a probe guest), else TCG
#   legacy  disable-modern=on,mrg_rxbuf=off,event_idx=off, and poll-us=50
#           on its -netdev (busy polling): ping; 16 MiB host->guest. Always under TCG: QEMU without KVM relays the
#           kicks and interrupts itself, a path real users have too
#   migrate live migration (dirty log): a guest on a bridge (tap2) reads
#           16 MiB from the host slowly, so that its receive queue stays
#           full; meanwhile its QEMU migrates over a unix socket to a
#           second QEMU (tap3, its own /dev/vhnet). The transfer then
#           completes on the destination with md5 matching, the guest pings
#           from there, and the source's vhnet device is released when it
#           quits. Under the modern guest's accelerator. vhnet's
#           debug_skip_rx_log=1 (VHNET_QEMU_SKIP_RX_LOG=1) breaks RX logging
#           on purpose, to show that this case catches it
#   dropin  vhnet reloaded with vhost_net_node=1 serves /dev/vhost-net
#           (10:238); QEMU gets vhost=on,vhostforce=on and no vhostfd, so
#           it opens that node itself, as libvirt's QEMU does: ping; 16 MiB
#           host->guest; vhnet-<QEMU pid> serves it. vhnet is reloaded
#           without the parameter afterwards
#   packed  -device virtio-net-pci,packed=on: a packed virtqueue
#           (VIRTIO_F_RING_PACKED, bit 34, which QEMU 7.2 passes on to a
#           vhost kernel backend that offers it): the guest's features show
#           bit 34; ping; 16 MiB host->guest; reload virtio_net (QEMU reads
#           and sets the packed base: avail and used slot, wrap counters);
#           ping; ethtool -G (queue reset); ping; 16 MiB guest->host
#   pmigrate  the migrate case with packed=on: QEMU reads the packed base
#           (slots and wrap counters) from the source's vhnet and sets it
#           on the destination's; the guest's features show bit 34
# A KVM guest's kicks must reach vhnet through KVM's ioeventfd and its
# interrupts come through KVM's irqfd (nested_path); a TCG guest's through
# QEMU (nested_path_tcg).
# md5 checksums are compared at the receiving end, the guest's against the
# host's. While a guest runs: QEMU has /dev/vhnet open as its vhostfd and
# vhnet-<QEMU pid> exists; afterwards vhnet's debugfs counters must show
# the traffic, QEMU's output no vhost failure ("falling back on userspace
# virtio", ...) and the nested console no kernel problem. Logs (QEMU's
# output, the nested consoles): OUT/results/vhnet_qemu_test/.
#
# The time limit comes from guest-run.sh (VHNET_TEST_TIMEOUT); every case
# is reported a minute before it. VHNET_QEMU_PARALLEL=1 runs the two guests
# side by side (slower under TCG: they share the VM's CPUs).
# selftests/Makefile installs this as OUT/selftests/vhnet_qemu_test with
# the work tree's path filled in below.
set -uo pipefail

top=@VHNET_TOP@
case $top in @*) top=$(cd "$(dirname "$0")/.." && pwd -P) ;; esac
# shellcheck source=tools/vm/lib.sh
. "$top/tools/vm/lib.sh"
# shellcheck source=tools/vm/nested.sh
. "$top/tools/vm/nested.sh"

NESTED_OUT=$(cd "$(dirname "$0")/.." && pwd -P)
NESTED_LOGS=$NESTED_OUT/results/vhnet_qemu_test
NESTED_TMP=$(mktemp -d)
parallel=${VHNET_QEMU_PARALLEL:-0}

modern_steps=ping,rx,reload,ping,resize,ping,tx,mq
NESTED_QUEUES[modern]=2
# Its two vCPUs take turns on one CPU of the test VM: two vCPUs of a KVM
# guest in guest mode at once, on the outer QEMU's emulated SVM, stalled
# one of them and corrupted the test VM's kernel (testing.rst).
NESTED_PIN[modern]=0
legacy_steps=ping,rx
legacy_dev=,disable-modern=on,mrg_rxbuf=off,event_idx=off
# QEMU's poll-us=N: VHOST_SET_VRING_BUSYLOOP_TIMEOUT on every queue.
NESTED_NETOPTS[legacy]=poll-us=50
# A nested TCG boot takes one to several minutes; about 500 s on the debug
# kernel, whose check.sh --debug raises the time limit.
boot_secs=$(( ${VHNET_TEST_TIMEOUT:-1200} / 3 ))
[ $boot_secs -ge 480 ] || boot_secs=480
step_secs=300
# Finish, with every case reported, a minute before guest-run.sh's limit.
deadline=$((SECONDS + ${VHNET_TEST_TIMEOUT:-1200} - 60))

data_bytes=$((NESTED_DATA_MB << 20))
data_md5=$(cat "$NESTED_OUT/nested/data.md5" 2>/dev/null)

# --- TAP --------------------------------------------------------------------
n=0 failed=0
# holding=1: results wait in held[] (an attempt that may be retried).
holding=0 held=()
diag() { printf '# %s\n' "$@"; }
result() {	# STATUS DESCRIPTION
	local line
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		line="ok $n $2"
	else
		line="not ok $n $2"
		failed=$((failed + 1))
	fi
	if [ $holding = 1 ]; then held+=("$line"); else echo "$line"; fi
}
steps_of() { tr , '\n' <<<"$1" | grep -c .; }
# Per guest: tap, vhostfd, worker, one per step, rx and tx counters, busy
# polling, path, shutdown, QEMU log, console.
per_guest=10
mig_steps=ping,rxslow,ping
# Without mergeable buffers the guest posts chains of whole pages for
# large frames, pages only the device writes (with them, the guest's own
# writes next to each buffer would make KVM's dirty log cover for vhnet's).
mig_dev=,mrg_rxbuf=off
mig_cases=10
# Behind a vIOMMU (intel-iommu, iommu_platform=on): vhnet's IOTLB.
iommu_steps=ping,rx,tx
NESTED_IOMMU[iommu]=1
dropin_steps=ping,rx
NESTED_DROPIN[dropin]=1
# A packed virtqueue (packed=on): QEMU 7.2 passes bit 34 on to vhost.
packed_steps=ping,rx,reload,ping,resize,ping,tx
packed_dev=,packed=on
declare -A want_bit=([packed]=34)
plan=$((2 + per_guest + $(steps_of $modern_steps) + per_guest + $(steps_of $legacy_steps)))
plan=$((plan + per_guest + 1 + $(steps_of $iommu_steps) + mig_cases))
plan=$((plan + 1 + per_guest + $(steps_of $dropin_steps)))
plan=$((plan + per_guest + 1 + $(steps_of $packed_steps) + mig_cases))
# VHNET_QEMU_ONLY=modern, legacy, iommu, migrate, dropin, packed or
# pmigrate: that case alone.
only=${VHNET_QEMU_ONLY:-}
runs() { [ -z "$only" ] || [ "$only" = "$1" ]; }
if [ -n "$only" ]; then
	plan=1
	runs modern && plan=$((plan + 1 + per_guest + $(steps_of $modern_steps)))
	runs legacy && plan=$((plan + per_guest + $(steps_of $legacy_steps)))
	runs iommu && plan=$((plan + per_guest + 1 + $(steps_of $iommu_steps)))
	runs migrate && plan=$((plan + mig_cases))
	runs dropin && plan=$((plan + 1 + per_guest + $(steps_of $dropin_steps)))
	runs packed && plan=$((plan + per_guest + 1 + $(steps_of $packed_steps)))
	runs pmigrate && plan=$((plan + mig_cases))
fi

removed='' dropin_loaded=0
cleanup() {
	local m
	nested_cleanup
	[ $dropin_loaded = 1 ] && dropin_unload
	ip link del vhbr0 2>/dev/null
	[ -w /sys/module/vhnet/parameters/debug_skip_rx_log ] &&
		echo 0 >/sys/module/vhnet/parameters/debug_skip_rx_log
	rm -rf "$NESTED_TMP"
	# Put back what later tests may expect.
	for m in $removed; do
		modprobe "$m"
	done
}
trap cleanup EXIT
# timeout(1) ends the test with SIGTERM: clean up then too (bash runs the
# EXIT trap on a signal only if the signal is trapped), or the nested QEMUs
# would keep /dev/vhnet open and vhnet could not be unloaded.
trap 'exit 143' TERM INT

echo "TAP version 13"
echo "1..$plan"
t_all=$SECONDS
diag "nested guests: $(uname -r), ${NESTED_MEM} MB, data $NESTED_DATA_MB MiB (md5 ${data_md5:-missing})"
diag "time limit ${VHNET_TEST_TIMEOUT:-1200} s, parallel=$parallel"
mkdir -p "$NESTED_LOGS"
[ -f "$NESTED_OUT/nested/initramfs.img" ] ||
	diag "no $NESTED_OUT/nested/initramfs.img (tools/vm/build-module.sh builds it)"
if [ -f "$NESTED_OUT/nested/vmlinux" ]; then
	diag "nested kernel: $NESTED_OUT/nested/vmlinux (PVH boot)"
else
	diag "nested kernel: /boot/vmlinuz-$(uname -r)"
fi
if [ ! -c /dev/vhnet ] && [ -n "${VHNET_KO:-}" ]; then
	diag "/dev/vhnet missing; loading $VHNET_KO"
	insmod "$VHNET_KO"
fi

removed=$(nested_unload_vhost_net)
st=$?
[ -n "$removed" ] && diag "removed: $(xargs <<<"$removed")"
[ $st = 0 ] && [ -c /dev/vhnet ] && grep -q '^vhnet ' /proc/modules &&
	! grep -q '^vhost_net ' /proc/modules
result $? "setup: vhnet loaded, in-tree vhost_net not loaded (no /dev/vhost-net)"
nested_accel_init
modern_accel=$NESTED_ACCEL
diag "nested accelerator: $NESTED_ACCEL ($NESTED_ACCEL_WHY); the legacy guest: tcg"

# --- one guest --------------------------------------------------------------
stuck=0
# Waits for a guest line; after one timeout the guest counts as stuck and
# later waits do not wait any more.
wait_for() {	# NAME WHAT SECS [NTH]
	local rc left=$((deadline - SECONDS))
	[ $left -gt 0 ] || left=0
	[ "$3" -le $left ] || set -- "$1" "$2" $left "${4:-1}"
	[ $stuck = 0 ] || set -- "$1" "$2" 0 "${4:-1}"
	if [ "$2" = up ]; then
		nested_wait_up "$1" "$3"
	else
		nested_wait "$@"
	fi
	rc=$?
	case $rc in
	1) diag "$1: no \"nested: $2\" line after $3 s (test time used: $((SECONDS - t_all)) s)"; stuck=1 ;;
	2) diag "$1: QEMU dead before \"nested: $2\": ${NESTED_WHY[$1]:-}" ;;
	esac
	return $rc
}

time_left() {	# MAX: seconds to the deadline, at most MAX, at least 1
	local left=$((deadline - SECONDS))
	[ $left -le "$1" ] || left=$1
	[ "$left" -ge 1 ] || left=1
	echo "$left"
}

# Too little time left to boot a guest: report its cases as not run.
skip_guest() {	# NAME STEPS
	local i
	diag "$1: not started: $((deadline - SECONDS)) s left before the time limit"
	local more=${NESTED_IOMMU[$1]:-0}
	[ -z "${want_bit[$1]:-}" ] || more=$((more + 1))
	for ((i = 0; i < per_guest + $(steps_of "$2") + more; i++)); do
		result 1 "$1: not run (out of time)"
	done
}

rate() {	# BYTES CSECS
	[ "${2:-0}" -gt 0 ] || { echo "?"; return; }
	echo "$(($1 * 100 / $2 >> 10)) KiB/s in $(($2 / 100)).$(($2 % 100 / 10)) s"
}

# The number after KEY in a counter line ("rx packets N bytes N ...").
counter() {	# LINE KEY
	awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) { print $(i + 1); exit } }' <<<"$1"
}

# Summed over the guest's devices (one per queue pair). Each of its
# STREAMS data streams may move up to twice its bytes (headers, ACKs).
check_counters() {	# NAME STATS QUEUE MIN-BYTES STREAMS
	local name=$1 stats=$2 q=$3 min=$4 streams=$5 line packets bytes broken
	line=$(grep "^$q " <<<"$stats")
	diag "$name: $q counters: ${line:-none}"
	read -r packets bytes broken <<<"$(awk -v k=packets -v b=bytes -v x=broken '
		{ for (i = 1; i < NF; i++) { if ($i == k) p += $(i + 1); if ($i == b) s += $(i + 1); if ($i == x) r += $(i + 1) } }
		END { print p + 0, s + 0, r + 0 }' <<<"$line")"
	[ -n "$line" ] && [ "$packets" -gt 0 ] && [ "$broken" = 0 ] &&
		[ "$bytes" -ge "$min" ] &&
		[ "$bytes" -lt $((2 * streams * data_bytes + (1 << 20))) ]
}

# QEMU passed poll-us=N on as each queue's busy-loop timeout (off without
# it); with it, the worker polled the TX ring.
check_busyloop() {	# NAME STATS
	local want=0 q line us polls ok=0
	case ${NESTED_NETOPTS[$1]:-} in
	*poll-us=*) want=${NESTED_NETOPTS[$1]#*poll-us=} want=${want%%,*} ;;
	esac
	for q in rx tx; do
		line=$(grep "^$q " <<<"$2")
		us=$(counter "$line" busyloop_us)
		polls=$(counter "$line" polls)
		diag "$1: $q busyloop_us ${us:-none} polls ${polls:-none} poll_hits $(counter "$line" poll_hits)"
		[ "$us" = "$want" ] || ok=1
		[ $q = tx ] && [ "$want" != 0 ] && [ "${polls:-0}" = 0 ] && ok=1
	done
	return $ok
}

# QEMU's command line has the vhost options and its fd 3 is /dev/vhnet
# (and fd 4 with two queue pairs).
check_vhostfd() {	# NAME PID
	local args fds=3 fd
	[ "${NESTED_QUEUES[$1]:-1}" = 2 ] && fds=3:4
	args=$(tr '\0' ' ' <"/proc/$2/cmdline" 2>/dev/null)
	diag "qemu: $(grep -o -- '-netdev [^ ]*' <<<"$args") $(grep -o -- '-device [^ ]*' <<<"$args")"
	if [ -n "${NESTED_DROPIN[$1]:-}" ]; then
		# QEMU opened the node itself: no fd was handed to it.
		grep -q -- "-netdev tap,.*vhost=on,vhostforce=on" <<<"$args" &&
			! grep -q -- 'vhostfd' <<<"$args" &&
			nested_holds_vhnet "$2" /dev/vhost-net
		return
	fi
	for fd in ${fds/:/ }; do
		[ "$(readlink "/proc/$2/fd/$fd")" = /dev/vhnet ] || return 1
	done
	grep -q -- "-netdev tap,.*vhost=on,vhostforce=on,vhostfds\?=$fds" <<<"$args" &&
		grep -q -- '-device virtio-net-pci' <<<"$args" &&
		nested_holds_vhnet "$2"
}

# The tap QEMU uses was made with vnet_hdr (IFF_VNET_HDR, 0x4000), and
# with two queue pairs multi_queue (IFF_MULTI_QUEUE, 0x0100).
check_tap() {	# NAME
	local tap=tap${NESTED_IDX[$1]} flags mq=0
	[ "${NESTED_QUEUES[$1]:-1}" = 2 ] && mq=$((0x0100))
	flags=$(cat "/sys/class/net/$tap/tun_flags" 2>/dev/null)
	diag "$1: $tap tun_flags ${flags:-none}, $(ip -br addr show dev "$tap" 2>/dev/null | xargs)"
	[ -n "$flags" ] && [ $((flags & 0x4000)) != 0 ] && [ $((flags & 0x0002)) != 0 ] &&
		[ $((flags & mq)) = $mq ]
}

# The guest negotiated VIRTIO_F_ACCESS_PLATFORM and its NIC sits behind
# the vIOMMU; vhnet translated through its IOTLB: it missed, QEMU
# answered (traffic flowed), and no queue broke.
check_iotlb() {	# NAME STATS
	local line f group misses
	line=$(nested_result "$1" dev)
	f=$(nested_value "$line" features) group=$(nested_value "$line" iommu_group)
	misses=$(awk '{ for (i = 1; i < NF; i++) if ($i == "iotlb_misses") s += $(i + 1) }
		END { print s + 0 }' <<<"$2")
	diag "$1: feature bit 33 ${f:33:1}, iommu_group ${group:-none}, vhnet IOTLB misses $misses"
	[ "${f:33:1}" = 1 ] && [ -n "$group" ] && [ "$misses" -gt 0 ]
}

check_guest() {	# NAME STEPS
	local name=$1 steps=$2 pid s line t0 nping=0 rc tids sum bytes i prev=
	local before after moved
	local stats done_rc rx_min=1 tx_min=1 rx_streams=1
	pid=${NESTED_PID[$name]}
	stuck=0
	t0=$SECONDS
	diag "$name: QEMU pid $pid, steps $steps"
	check_tap "$name"
	result $? "$name: tap${NESTED_IDX[$name]} is a tap device with vnet_hdr${NESTED_QUEUES[$name]:+ and multi_queue}"

	wait_for "$name" up $boot_secs
	# Early-boot deaths (TCG in TCG, before vhost starts; see
	# nested_wait_up) are shown here, not counted as failures.
	for ((i = 1; i <= ${NESTED_RESTARTS[$name]:-0}; i++)); do
		diag "$name: attempt $i died in early boot, started again: $(vm_log_problems \
			"$NESTED_LOGS/$name.console.$i" | head -1 | sed 's/^ *[^ ]*: //')"
	done
	pid=${NESTED_PID[$name]}
	nested_path_mark "$name"
	diag "$name: guest up ($(nested_result "$name" up)) under ${NESTED_ACCEL_OF[$name]:-?} after $((SECONDS - t0)) s"
	diag "$name: test VM memory: $(free -m | awk '/^Mem:/ { print $3 " MB used, " $7 " MB available" }')"
	check_vhostfd "$name" "$pid"
	rc=$?
	if [ -n "${NESTED_DROPIN[$name]:-}" ]; then
		result $rc "$name: QEMU runs with vhost=on,vhostforce=on and no vhostfd, and opened /dev/vhost-net itself"
	elif [ "${NESTED_QUEUES[$name]:-1}" = 2 ]; then
		result $rc "$name: QEMU runs with two tap queues (fds=5:6) and vhost=on,vhostforce=on,vhostfds=3:4, fds 3 and 4 are /dev/vhnet"
	else
		result $rc "$name: QEMU runs with vhost=on,vhostforce=on,vhostfd=3, fd 3 is /dev/vhnet"
	fi
	tids=$(nested_worker "$pid" | xargs)
	[ -n "$tids" ] && diag "$name: vhnet-$pid is thread $tids"
	[ -z "${NESTED_PIN[$name]:-}" ] ||
		diag "$name: vCPU threads pinned: $(for t in /proc/"$pid"/task/*; do
			case $(cat "$t/comm" 2>/dev/null) in
			"CPU "*/KVM) printf '%s on %s; ' "$(cat "$t/comm")" "$(taskset -pc "${t##*/}" | sed 's/.*: //')" ;;
			esac
		done)"
	[ -n "$tids" ]
	result $? "$name: worker thread vhnet-$pid runs"

	for s in $(tr , ' ' <<<"$steps"); do
		case $s in
		ping)
			nping=$((nping + 1))
			wait_for "$name" ping $step_secs $nping
			line=$(nested_result "$name" ping $nping)
			diag "$name: ping $nping at $((SECONDS - t0)) s: ${line:-none}"
			[ "$(nested_value "$line" received)" = 10 ]
			rc=$?
			case $prev in
			reload) result $rc "$name: ping after the virtio_net reload, 10 of 10 replies" ;;
			resize) result $rc "$name: ping after the ring resize, 10 of 10 replies" ;;
			*) result $rc "$name: ping, 10 of 10 replies" ;;
			esac
			;;
		rx)
			rx_min=$data_bytes
			[[ ,$steps, == *,mq,* ]] && rx_streams=5
			wait_for "$name" rx $step_secs
			line=$(nested_result "$name" rx)
			diag "$name: host->guest at $((SECONDS - t0)) s: ${line:-none}"
			[ -n "$line" ] &&
				diag "$name: host->guest $(rate "$(nested_value "$line" bytes)" "$(nested_value "$line" csecs)")"
			[ "$(nested_value "$line" bytes)" = "$data_bytes" ] &&
				[ "$(nested_value "$line" md5)" = "$data_md5" ]
			result $? "$name: $NESTED_DATA_MB MiB host->guest, md5 matches in the guest"
			;;
		tx)
			tx_min=$data_bytes
			wait_for "$name" tx $step_secs
			line=$(nested_result "$name" tx)
			diag "$name: guest->host at $((SECONDS - t0)) s: ${line:-none}"
			nested_sink_wait "$name" "$(time_left 30)" ||
				diag "$name: the host's receiver did not finish"
			bytes=$(stat -c %s "$NESTED_TMP/$name.rx" 2>/dev/null)
			sum=$(md5sum <"$NESTED_TMP/$name.rx" 2>/dev/null | cut -d' ' -f1)
			diag "$name: host received ${bytes:-0} bytes, md5 ${sum:-none}"
			[ -n "$line" ] &&
				diag "$name: guest->host $(rate "${bytes:-0}" "$(nested_value "$line" csecs)")"
			[ "$bytes" = "$data_bytes" ] && [ "$sum" = "$data_md5" ]
			result $? "$name: $NESTED_DATA_MB MiB guest->host, md5 matches on the host"
			;;
		mq)
			wait_for "$name" mqready $step_secs
			diag "$name: mq ready at $((SECONDS - t0)) s: $(nested_result "$name" mqready)"
			before=$(nested_dev_packets "$pid")
			nested_go "$name" 7
			wait_for "$name" mq $step_secs
			line=$(nested_result "$name" mq)
			after=$(nested_dev_packets "$pid")
			diag "$name: mq at $((SECONDS - t0)) s: ${line:-none}"
			diag "$name: per vhnet device, RX and TX packets before: $(paste -sd, <<<"$before"), after: $(paste -sd, <<<"$after")"
			# Each device (queue pair) moved frames both ways meanwhile.
			moved=$(printf '%s\n--\n%s\n' "$before" "$after" | awk '
				$0 == "--" { a = 1; next }
				!a { b[++nb] = $0; next }
				{ split(b[++na], x); if ($1 > x[1] && $2 > x[2]) m++ }
				END { print m + 0 }')
			[ "$(nested_value "$line" ok)" = 1 ] &&
				[ "$(nested_value "$line" combined)" = 2 ] &&
				[ "$(nested_value "$line" md5)" = "$data_md5,$data_md5,$data_md5,$data_md5" ] &&
				[ "$(wc -l <<<"$before")" = 2 ] && [ "$moved" = 2 ]
			result $? "$name: 2 queue pairs, four $NESTED_DATA_MB MiB streams from both vCPUs, md5 matches, both vhnet devices moved frames each way"
			;;
		reload|resize)
			wait_for "$name" "$s" $step_secs
			line=$(nested_result "$name" "$s")
			diag "$name: $s at $((SECONDS - t0)) s: ${line:-none}"
			[ "$(nested_value "$line" ok)" = 1 ]
			rc=$?
			if [ "$s" = reload ]; then
				result $rc "$name: virtio_net unloaded and reloaded, eth0 up again"
			else
				result $rc "$name: ethtool -G rx/tx 128 and back (queue reset), pings meanwhile"
			fi
			;;
		esac
		prev=$s
	done

	wait_for "$name" "done" 60
	done_rc=$?
	stats=$(nested_stats "$pid")
	check_counters "$name" "$stats" rx $rx_min $rx_streams
	result $? "$name: debugfs rx counters moved (bytes >= $rx_min, nothing broken)"
	check_counters "$name" "$stats" tx $tx_min 1
	result $? "$name: debugfs tx counters moved (bytes >= $tx_min, nothing broken)"
	check_busyloop "$name" "$stats"
	result $? "$name: busy polling as QEMU asked (${NESTED_NETOPTS[$name]:-no poll-us})"
	if [ -n "${want_bit[$name]:-}" ]; then
		line=$(nested_value "$(nested_result "$name" dev)" features)
		diag "$name: the guest's virtio features: ${line:-none}"
		[ "${line:${want_bit[$name]}:1}" = 1 ]
		result $? "$name: the guest negotiated feature bit ${want_bit[$name]}"
	fi
	if [ -n "${NESTED_IOMMU[$name]:-}" ]; then
		check_iotlb "$name" "$stats"
		result $? "$name: vIOMMU: ACCESS_PLATFORM negotiated, eth0 in an IOMMU group, vhnet's IOTLB misses answered by QEMU"
	fi
	if [ "${NESTED_ACCEL_OF[$name]:-}" = kvm ]; then
		line=$(nested_path "$name")
		rc=$?
		diag "$name: $line"
		result $rc "$name: nested KVM: kicks came through KVM's ioeventfd, interrupts went through its irqfd"
	else
		# The KVM check must fail here: it would not tell the paths
		# apart otherwise.
		line=$(nested_path "$name")
		rc=$?
		diag "$name: the KVM path check: $line"
		[ $rc != 0 ]
		rc=$?
		line=$(nested_path_tcg "$name") || rc=1
		diag "$name: $line"
		result $rc "$name: TCG: QEMU relayed the kicks and interrupts (no KVM VM; the KVM path check fails)"
	fi

	if [ $stuck = 0 ]; then nested_stop "$name" "$(time_left 60)"; else nested_stop "$name" 0; fi
	rc=$?
	diag "$name: QEMU exited with status $rc after $((SECONDS - t0)) s"
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		[ -z "$(nested_worker "$pid")" ] && [ -z "$(nested_stats "$pid")" ] && break
		sleep 0.5
	done
	[ $done_rc = 0 ] && [ $rc = 0 ] && [ -z "$(nested_worker "$pid")" ] && [ -z "$(nested_stats "$pid")" ]
	result $? "$name: guest finished its steps and powered off, QEMU exited 0, vhnet-$pid and its debugfs entry gone"

	# With vhostforce=on QEMU should fail rather than fall back, but a
	# fallback ("falling back on userspace virtio") must not pass either.
	if grep -qiE 'vhost|falling back|error|fail' "$NESTED_LOGS/$name.qemu.log"; then
		grep -iE 'vhost|falling back|error|fail' "$NESTED_LOGS/$name.qemu.log" |
			head -20 | sed "s/^/# $name: qemu: /"
		result 1 "$name: no vhost failure or fallback in QEMU's output"
	else
		result 0 "$name: no vhost failure or fallback in QEMU's output"
	fi
	vm_log_problems "$NESTED_LOGS/$name.console" | head -20 | sed 's/^/#/'
	[ "${PIPESTATUS[0]}" = 0 ] && [ -s "$NESTED_LOGS/$name.console" ]
	result $? "$name: no kernel problems in the nested guest's console"
}

start_guest() {	# ACCEL NAME IDX STEPS [DEVICE-OPTIONS]
	NESTED_ACCEL=$1
	shift
	nested_start "$@" && return 0
	diag "$1: cannot start QEMU (tap$2 setup failed)"
	NESTED_PID[$1]=''	# then every check of this guest fails
}

# A guest's cases run as an attempt, their results held. They stand unless
# they failed and the guest's death is not vhnet's doing:
#   - its kernel died before vhnet touched its rings (no kick, no packet:
#     sampled every second while the test waits for the guest), or
#   - its QEMU ended because the guest triple-faulted (a KVM shutdown exit,
#     nested_triple_fault) with nothing on its console: a Linux guest
#     reports a double fault before it could triple-fault, unless the
#     (emulated, nested) CPU lost its state.
# Then its cases are shown as diagnostics and fresh guests run them once
# more (VHNET_QEMU_RETRIES, default 1; tools/vm/ab.sh measures how often
# nested guests die, per backend). Any other failure always counts.
declare -A touched=()
attempt_guests=''
# shellcheck disable=SC2317  # called by nested_wait
nested_tick() {
	local g pid
	for g in $attempt_guests; do
		pid=${NESTED_PID[$g]:-}
		if [ -z "$pid" ] || [ "${touched[$pid]:-0}" = 1 ] || ! nested_running "$g"; then
			continue
		fi
		[ "$(nested_vhnet_sum "$pid" kicks)" = 0 ] &&
			[ "$(nested_vhnet_sum "$pid" packets)" = 0 ] || touched[$pid]=1
	done
}

# Why the attempt's failure is not vhnet's (see above); fails if it may be.
attempt_flaw() {
	local g oops why
	for g in $attempt_guests; do
		why=$(nested_triple_fault "$g") && { echo "$g: $why"; return 0; }
		oops=$(vm_first_oops "$NESTED_LOGS/$g.console" 2>/dev/null)
		[ -n "$oops" ] && [ "${touched[${NESTED_PID[$g]:-none}]:-0}" = 0 ] &&
			echo "$g: the guest's kernel died before vhnet touched a ring: $oops" &&
			return 0
	done
	return 1
}

run_attempts() {	# "GUESTS" FUNCTION [ARGS...]
	local guests=$1 retries=${VHNET_QEMU_RETRIES:-1} n0=$n failed0=$failed
	local attempt why g f line t0
	shift
	attempt_guests=$guests
	for ((attempt = 1; ; attempt++)); do
		holding=0
		[ "$attempt" -gt "$retries" ] || holding=1
		t0=$SECONDS
		"$@"
		[ $holding = 1 ] || break
		holding=0
		for g in $guests; do
			line=$(vm_first_oops "$NESTED_LOGS/$g.console" 2>/dev/null)
			[ -z "$line" ] || [ $failed = "$failed0" ] ||
				diag "$g: the guest's kernel died, vhnet rings $([ "${touched[${NESTED_PID[$g]:-none}]:-0}" = 1 ] && echo used || echo unused): $line"
		done
		# Again only if it can end, as long as this one took, in time.
		if [ $failed = "$failed0" ] || ! why=$(attempt_flaw) ||
				[ $((deadline - SECONDS)) -lt $((2 * (SECONDS - t0) + 60)) ]; then
			printf '%s\n' "${held[@]}"
			break
		fi
		diag "attempt $attempt: $why; running it again"
		for line in "${held[@]}"; do
			echo "# attempt $attempt: $line"
		done
		for g in $guests; do
			for f in console qemu.log monitor; do
				[ ! -f "$NESTED_LOGS/$g.$f" ] ||
					mv "$NESTED_LOGS/$g.$f" "$NESTED_LOGS/$g.$f.attempt$attempt"
			done
			NESTED_RESTARTS[$g]=0
		done
		n=$n0 failed=$failed0 held=()
	done
	held=() attempt_guests=''
}

run_modern() {
	start_guest "$modern_accel" modern 0 $modern_steps
	[ "$parallel" = 1 ] && runs legacy && [ -z "${NESTED_PID[legacy]:-}" ] &&
		start_guest tcg legacy 1 $legacy_steps $legacy_dev
	check_guest modern $modern_steps
}

run_guest() {	# ACCEL NAME IDX STEPS [DEVICE-OPTIONS]
	start_guest "$@"
	check_guest "$2" "$4"
}

# What the retries rely on, tried first: a KVM guest that triple-faults on
# purpose (reboot=t) is told as such.
check_triple() {
	local why rc
	NESTED_APPEND[triple]=reboot=t
	start_guest kvm triple 6 triple
	wait_for triple "done" 120
	rc=$?
	why=$(nested_triple_fault triple)
	diag "triple: wait: ${NESTED_WHY[triple]:-none}" "triple: ${why:-no triple fault found}"
	nested_stop triple 0
	[ $rc = 2 ] && [[ ${NESTED_WHY[triple]} == "QEMU exited; its guest triple-faulted: vcpu "* ]] &&
		grep -q 'nested: triple' "$NESTED_LOGS/triple.console" &&
		[[ $why =~ ^QEMU\ [0-9]+"'s guest triple-faulted (vcpu "[0-9]+\ reason\ shutdown\ rip\ 0x[0-9a-f]+\ at ]]
}
if runs modern; then
	if [ "$modern_accel" = kvm ]; then
		check_triple
		result $? "triple: a KVM guest that triple-faults (reboot=t) is seen to, at its RIP (KVM's shutdown exit)"
	else
		result 0 "triple: a KVM guest that triple-faults is seen to # SKIP no nested KVM"
	fi
fi

# The modern guest first: it is the main case, and the one with more to do.
runs modern && run_attempts modern run_modern
if runs legacy; then
	if [ "$parallel" = 1 ] && runs modern; then
		check_guest legacy $legacy_steps
	elif [ $((deadline - SECONDS)) -ge 120 ]; then
		run_attempts legacy run_guest tcg legacy 1 $legacy_steps $legacy_dev
	else
		skip_guest legacy $legacy_steps
	fi
	diag "both guests done in $((SECONDS - t_all)) s"
fi

if runs iommu; then
	if [ $((deadline - SECONDS)) -ge 360 ]; then
		run_attempts iommu run_guest "$modern_accel" iommu 4 $iommu_steps
	else
		skip_guest iommu $iommu_steps
	fi
fi

# --- live migration ------------------------------------------------------------
# Cases that must hold for one QEMU of the migration (source or destination).
check_released() {	# PID
	local i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		[ -z "$(nested_worker "$1")" ] && [ -z "$(nested_stats "$1")" ] && return 0
		sleep 0.5
	done
	return 1
}

# The destination (-S: paused once loaded) must hold exactly the memory
# the source stopped with: a page vhnet wrote and did not log differs.
# Called by check_migration, whose src, dst and label it uses.
check_same_memory() {
	local dir=$NESTED_TMP/mem size=$((NESTED_MEM << 20)) st i pages
	for ((i = 0; i < 60; i++)); do
		st=$(nested_hmp_sync "$dst" "info status" 10)
		case $st in *inmigrate*|'') sleep 1 ;; *) break ;; esac
	done
	diag "$label: destination: ${st:-no status}"
	mkdir -p "$dir"
	# (Quoted: the size's expression would go on into a bare /path.)
	if ! nested_hmp_sync "$src" "pmemsave 0 $size \"$dir/src\"" 120 >/dev/null ||
			! nested_hmp_sync "$dst" "pmemsave 0 $size \"$dir/dst\"" 120 >/dev/null; then
		diag "$label: pmemsave failed"
		return 1
	fi
	cmp -l "$dir/src" "$dir/dst" 2>/dev/null | head -n 1000000 >"$dir/diff"
	pages=$(awk '{ print int(($1 - 1) / 4096) }' "$dir/diff" | uniq)
	[ -s "$dir/diff" ] &&
		diag "$label: first differing bytes (pfn:offset src dst, octal): $(head -n 8 "$dir/diff" |
			awk '{ printf "%d:%d %s %s, ", int(($1 - 1) / 4096), ($1 - 1) % 4096, $2, $3 }')"
	diag "$label: $(stat -c %s "$dir/src") and $(stat -c %s "$dir/dst") bytes saved; $(grep -c . <<<"$pages") pages differ${pages:+, the first at pfn $(head -n 3 <<<"$pages" | xargs)}"
	[ "$(stat -c %s "$dir/src")" = "$size" ] && [ "$(stat -c %s "$dir/dst")" = "$size" ] &&
		[ -z "$pages" ]
	st=$?
	rm -rf "$dir"
	return $st
}

check_migration() {	# SOURCE DESTINATION LABEL DEVOPTS
	local src=$1 dst=$2 label=$3 dev=$4
	local sock=$NESTED_TMP/migrate.sock t0=$SECONDS pid dpid line rc logw i bit feat
	local param=/sys/module/vhnet/parameters/debug_skip_rx_log
	stuck=0
	rm -f "$sock"	# (an earlier attempt's)
	if [ "${VHNET_QEMU_SKIP_RX_LOG:-0}" = 1 ]; then
		echo 1 >"$param"
		diag "$label: debug_skip_rx_log=$(cat "$param"): RX logging off, this run must fail"
	fi
	modprobe bridge 2>/dev/null
	ip link del vhbr0 2>/dev/null	# (an earlier attempt's)
	if ! { ip link add vhbr0 type bridge && ip addr add 10.0.4.1/24 dev vhbr0 &&
			ip link set vhbr0 up; }; then
		diag "$label: cannot set up bridge vhbr0"
	fi
	NESTED_BRIDGE=vhbr0
	NESTED_MONITOR[$src]=1 NESTED_MONITOR[$dst]=1
	NESTED_TAP[$dst]=tap3 NESTED_INCOMING[$dst]=unix:$sock
	# KVM itself rewrites the guest's kvmclock page on the destination.
	NESTED_KVM_CPUOPTS[$src]=,kvmclock=off NESTED_KVM_CPUOPTS[$dst]=,kvmclock=off
	start_guest "$modern_accel" "$src" 2 $mig_steps "$dev"
	wait_for "$src" up $boot_secs
	for ((i = 1; i <= ${NESTED_RESTARTS[$src]:-0}; i++)); do
		diag "$src: attempt $i died in early boot, started again"
	done
	pid=${NESTED_PID[$src]}
	diag "$label: source up ($(nested_result "$src" up)) under ${NESTED_ACCEL_OF[$src]:-?} after $((SECONDS - t0)) s"
	wait_for "$src" ping $step_secs
	line=$(nested_result "$src" ping)
	diag "$label: ping from the source: ${line:-none}"
	bit=${want_bit[$src]:-}
	if [ -n "$bit" ]; then
		feat=$(nested_value "$(nested_result "$src" dev)" features)
		diag "$label: the guest's virtio features: ${feat:-none}"
	fi
	check_vhostfd "$src" "$pid" && [ "$(nested_value "$line" received)" = 10 ] &&
		{ [ -z "$bit" ] || [ "${feat:$bit:1}" = 1 ]; }
	result $? "$label: source QEMU on /dev/vhnet, ping 10 of 10${bit:+, feature bit $bit negotiated}"

	start_guest "$modern_accel" "$dst" 2 $mig_steps "$dev"
	wait_for "$src" rxstart $step_secs
	# The destination listens only once its QEMU has set up; a busy
	# test VM takes seconds to get there.
	for ((i = 0; i < 60; i++)); do
		{ [ -S "$sock" ] || ! nested_running "$dst"; } && break
		sleep 1
	done
	diag "$label: destination listening after $i s: $([ -S "$sock" ] && echo yes || echo no)"
	sleep 1
	# At 16 MiB/s the first pass over the guest's memory takes about 5 s
	# of RX: more pages vhnet writes after QEMU sent them.
	nested_hmp "$src" "migrate_set_parameter max-bandwidth 16M"
	diag "$label: migrating at $((SECONDS - t0)) s, the guest reading 16 MiB from the host"
	nested_migrate "$src" "unix:$sock" "$(time_left 180)"
	rc=$?
	for i in "$src" "$dst"; do
		nested_running "$i" && continue
		wait "${NESTED_PID[$i]}"
		diag "$label: the $i QEMU is gone, exit status $?"
		dmesg | tail -n 15 | sed 's/^/#   dmesg: /'
	done
	line=$(nested_result "$src" rx)
	diag "$label: $(tr -d '\r' <"$NESTED_LOGS/$src.monitor" | grep -E '^(Migration status|total time|downtime|transferred ram|dirty sync count):' | tail -n 5 | xargs)"
	diag "$label: migration ended (status $rc) at $((SECONDS - t0)) s; transfer ${line:+done before it: $line}${line:-still running}"
	[ $rc = 0 ] && [ -z "$line" ]
	result $? "$label: migration completed while the transfer ran"
	# Failed: the destination waits for a guest that never comes, and
	# nothing below may wait for it (the attempt must end soon enough
	# to be run again).
	[ $rc = 0 ] || stuck=1
	logw=$(nested_vhnet_sum "$pid" log_writes)
	diag "$label: source vhnet: $(nested_stats "$pid" | awk '{ print $1, $2, $3, "log_writes", $(NF - 2), "log_errors", $NF }' | xargs)"
	[ "${logw:-0}" -gt 0 ] && [ "$(nested_vhnet_sum "$pid" log_errors)" = 0 ]
	result $? "$label: the source's vhnet logged dirty pages (log_writes ${logw:-0}), no log errors"
	[ $rc = 0 ] && check_same_memory
	result $? "$label: the paused destination's memory equals the source's, page for page"
	nested_hmp "$dst" cont

	dpid=${NESTED_PID[$dst]}
	check_vhostfd "$dst" "$dpid" && [ -n "$(nested_worker "$dpid")" ]
	result $? "$label: destination QEMU on its own /dev/vhnet, worker vhnet-$dpid runs"
	wait_for "$dst" rx $step_secs
	line=$(nested_result "$dst" rx)
	diag "$label: host->guest on the destination at $((SECONDS - t0)) s: ${line:-none}"
	[ "$(nested_value "$line" bytes)" = "$data_bytes" ] &&
		[ "$(nested_value "$line" md5)" = "$data_md5" ]
	result $? "$label: the transfer completed after migration, md5 matches in the guest"
	wait_for "$dst" ping $step_secs
	line=$(nested_result "$dst" ping)
	diag "$label: ping from the destination: ${line:-none}"
	[ "$(nested_value "$line" received)" = 10 ]
	result $? "$label: ping from the destination, 10 of 10"

	nested_hmp "$src" quit
	for ((i = 0; i < 30; i++)); do nested_running "$src" || break; sleep 1; done
	nested_stop "$src" 0
	check_released "$pid"
	result $? "$label: the source QEMU quit, vhnet-$pid and its debugfs entry gone"
	# "done" first: a guest that reset also ends QEMU with 0 (-no-reboot).
	wait_for "$dst" "done" 60
	i=$?
	if [ $stuck = 0 ]; then nested_stop "$dst" "$(time_left 60)"; else nested_stop "$dst" 0; fi
	rc=$?
	check_released "$dpid" && [ $i = 0 ] && [ $rc = 0 ]
	result $? "$label: the guest finished its steps and powered off on the destination, QEMU exited 0, vhnet-$dpid gone"

	rc=0
	for i in "$src" "$dst"; do
		if grep -qiE 'vhost|falling back|error|fail' "$NESTED_LOGS/$i.qemu.log"; then
			grep -iE 'vhost|falling back|error|fail' "$NESTED_LOGS/$i.qemu.log" |
				head -10 | sed "s/^/# $i: qemu: /"
			rc=1
		fi
		vm_log_problems "$NESTED_LOGS/$i.console" | head -10 | sed 's/^/#/'
		[ "${PIPESTATUS[0]}" = 0 ] || rc=1
	done
	result $rc "$label: no vhost failure in either QEMU's output, no kernel problem in the guest"
	NESTED_BRIDGE=
	diag "$label: done in $((SECONDS - t0)) s"
}

# The same for a split and for a packed virtqueue.
migration() {	# SOURCE DESTINATION LABEL DEVOPTS
	if ! runs "$3"; then
		:
	elif [ $((deadline - SECONDS)) -ge 240 ]; then
		run_attempts "$1 $2" check_migration "$@"
	else
		diag "$3: not started: $((deadline - SECONDS)) s left before the time limit"
		for ((i = 0; i < mig_cases; i++)); do result 1 "$3: not run (out of time)"; done
	fi
}
migration msrc mdst migrate "$mig_dev"
want_bit[pmsrc]=34
migration pmsrc pmdst pmigrate "$mig_dev$packed_dev"

# vhnet again, now also as /dev/vhost-net (the in-tree module is out).
dropin_load() {
	local dev
	rmmod vhnet 2>/dev/null || { diag "dropin: rmmod vhnet failed"; return 1; }
	dropin_loaded=1
	insmod "$VHNET_KO" vhost_net_node=1 || { diag "dropin: insmod failed"; return 1; }
	dev=$(cat /sys/class/misc/vhost-net/dev 2>/dev/null)
	diag "dropin: /sys/class/misc/vhost-net/dev ${dev:-missing}, $(ls -l /dev/vhost-net 2>&1)"
	[ "$dev" = 10:238 ] && [ -c /dev/vhost-net ] && [ -c /dev/vhnet ]
}

# Back as the other tests expect it: vhnet without the parameter.
dropin_unload() {
	dropin_loaded=0
	rmmod vhnet 2>/dev/null
	insmod "$VHNET_KO" || diag "dropin: cannot load $VHNET_KO again"
}

if runs dropin; then
	if [ -z "${VHNET_KO:-}" ]; then
		diag "dropin: VHNET_KO not set"
		result 1 "dropin: vhnet reloaded with vhost_net_node=1 serves /dev/vhost-net (10:238)"
		skip_guest dropin $dropin_steps
	elif [ $((deadline - SECONDS)) -lt 300 ]; then
		result 1 "dropin: not run (out of time)"
		skip_guest dropin $dropin_steps
	else
		dropin_load
		result $? "dropin: vhnet reloaded with vhost_net_node=1 serves /dev/vhost-net (10:238)"
		run_attempts dropin run_guest "$modern_accel" dropin 5 $dropin_steps
		dropin_unload
	fi
fi

if runs packed; then
	if [ $((deadline - SECONDS)) -ge 300 ]; then
		run_attempts packed run_guest "$modern_accel" packed 7 $packed_steps $packed_dev
	else
		skip_guest packed $packed_steps
	fi
fi

# Problems in the test VM's own kernel log since the test began are caught
# by check.sh (console.log, dmesg.txt).
[ "$n" = "$plan" ] || diag "ran $n of $plan planned cases"
[ $failed = 0 ]
