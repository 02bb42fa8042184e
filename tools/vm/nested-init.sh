#!/bin/busybox sh
# shellcheck shell=dash disable=SC2013  # word splitting is intended
# SPDX-License-Identifier: GPL-2.0
# /init of the nested guest (see nested.sh): the QEMU guest that the test
# VM runs with vhost=on through /dev/vhnet. Loads the virtio modules, brings
# eth0 up and runs the steps the kernel command line names, in order:
#
#   nsteps=ping,rx,reload,ping,tx nip=10.0.2.2/24 nhost=10.0.2.1 nport=5001
#
#   ping    10 pings to nhost
#   rx      read a stream from nhost:nport (the host sends), checksum it
#   rxslow  rx, but say "rxstart" first, with a 4 MiB receive buffer, and
#           read slowly, 256 KiB every 0.2 s: megabytes that the device
#           wrote stay queued, unread, for seconds (live migration)
#   tx      send what rx read back to nhost:nport+1 (the host checksums it)
#   reload  unload and reload virtio_net, bring eth0 up again
#   resize  ethtool -G: both rings to 128 entries and back (the driver
#           resets each queue: VIRTIO_F_RING_RESET), pings meanwhile
#   mq      2 queue pairs (ethtool -L combined 2), say "mqready", wait for
#           the host's go (a connection on nport+7), then four streams
#           from nhost:nport+3 to +6 at once, two pinned to each vCPU
#   serve   the benchmark's servers (tools/bench/real-guest.sh): every
#           queue pair in use, iperf3 -s on nport+4, sockperf server (UDP)
#           on nport+5, /proc/interrupts to whoever connects to nport+8;
#           then "serving"
#   triple  say "triple", then reboot: with reboot=t on the kernel command
#           line the kernel triple-faults (the harness's test of how it
#           tells a guest's triple fault)
#
# Every result goes to the console as one line "nested: WHAT key=value...";
# after the steps "nested: done", then the guest waits for a connection on
# port nport+2 (the host's word that it has seen enough) and powers off.

/bin/busybox --install -s /bin
export PATH=/bin:/usr/sbin:/usr/bin

say() { echo "nested: $*"; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp

steps='' ip='' host='' port=''
for w in $(cat /proc/cmdline); do
	case $w in
	nsteps=*) steps=${w#nsteps=} ;;
	nip=*)    ip=${w#nip=} ;;
	nhost=*)  host=${w#nhost=} ;;
	nport=*)  port=${w#nport=} ;;
	esac
done

# Uptime in centiseconds (the guest clock follows the host's under TCG).
now() {
	local up
	read -r up _ </proc/uptime
	echo $((${up%.*} * 100 + 1${up#*.} - 100))
}

net_up() {
	local n=0
	until [ -e /sys/class/net/eth0 ]; do
		n=$((n + 1))
		[ $n -le 100 ] || return 1
		sleep 0.2
	done
	ip addr add "$ip" dev eth0 && ip link set eth0 up
}

step_ping() {
	local out counts rtt times
	out=$(ping -c 10 -i 0.2 -w 60 "$host")
	counts=$(echo "$out" |
		sed -n 's/^\([0-9]*\) packets transmitted, \([0-9]*\) packets received.*/\1 \2/p')
	[ -n "$counts" ] || counts="0 0"
	rtt=$(echo "$out" | sed -n 's|^round-trip min/avg/max = \([0-9./]*\) ms|\1|p')
	times=$(echo "$out" | sed -n 's/.*seq=\([0-9]*\) .*time=\([0-9.]*\) ms/\1:\2/p' | tr '\n' ,)
	say "ping sent=${counts% *} received=${counts#* } rtt_ms=${rtt:-none} seq_ms=${times%,}"
}

# stdin to /tmp/rx, 256 KiB at a time with a pause after each.
slow_copy() {
	local size=0 last=-1
	: >/tmp/rx
	while [ "$size" != "$last" ]; do
		last=$size
		dd bs=65536 count=4 iflag=fullblock oflag=append conv=notrunc \
			of=/tmp/rx 2>/dev/null
		size=$(wc -c </tmp/rx)
		sleep 0.2
	done
}

step_rx() {
	local t0 t1 rc bytes sum
	t0=$(now)
	if [ "${1:-}" = slow ]; then
		echo "4096 4194304 8388608" >/proc/sys/net/ipv4/tcp_rmem
		say "rxstart"
		nc "$host" "$port" </dev/null | slow_copy
	else
		nc "$host" "$port" </dev/null >/tmp/rx
	fi
	rc=$?
	t1=$(now)
	bytes=$(wc -c </tmp/rx)
	sum=$(md5sum </tmp/rx)
	say "rx bytes=$bytes md5=${sum%% *} csecs=$((t1 - t0)) rc=$rc"
}

step_tx() {
	local t0 t1 rc
	[ -f /tmp/rx ] || { say "tx bytes=0 csecs=0 rc=1 (no rx before)"; return; }
	t0=$(now)
	nc "$host" $((port + 1)) -e cat /tmp/rx
	rc=$?
	t1=$(now)
	say "tx bytes=$(wc -c </tmp/rx) csecs=$((t1 - t0)) rc=$rc"
}

step_reload() {
	local ok=1
	ip link set eth0 down
	rmmod virtio_net || ok=0
	insmod /lib/vm/virtio_net.ko || ok=0
	net_up || ok=0
	say "reload ok=$ok"
}

# Current ring size of eth0, "rx tx".
rings() {
	ethtool -g eth0 2>/dev/null | awk '
		/^Current/ { c = 1 }
		c && $1 == "RX:" { rx = $2 }
		c && $1 == "TX:" { tx = $2 }
		END { print rx "/" tx }'
}

step_resize() {
	local ok=1 before small received pid
	before=$(rings)
	ping -c 20 -i 0.1 -w 30 "$host" >/tmp/resize.ping 2>&1 &
	pid=$!
	ethtool -G eth0 rx 128 tx 128 || ok=0
	small=$(rings)
	[ "$small" = 128/128 ] || ok=0
	ethtool -G eth0 rx "${before%/*}" tx "${before#*/}" || ok=0
	[ "$(rings)" = "$before" ] || ok=0
	wait "$pid"	# (not the sign-of-life loop)
	received=$(sed -n 's/.* \([0-9]*\) packets received.*/\1/p' /tmp/resize.ping)
	say "resize ok=$ok rings=$before small=$small pings=${received:-0}/20"
}

# Queue pairs in use.
channels() {
	ethtool -l eth0 2>/dev/null |
		awk '/^Current/ { c = 1 } c && $1 == "Combined:" { print $2 }'
}

step_mq() {
	local ok=1 k pids='' sums='' sum
	[ "$(channels)" = 2 ] || ethtool -L eth0 combined 2 || ok=0
	say "mqready combined=$(channels) cpus=$(nproc)"
	nc -l -p $((port + 7)) </dev/null >/dev/null
	for k in 0 1 2 3; do
		taskset -c $((k % 2)) sh -c "nc $host $((port + 3 + k)) </dev/null | md5sum >/tmp/mq$k" &
		pids="$pids $!"
	done
	# shellcheck disable=SC2086  # one pid a word
	wait $pids	# (not the sign-of-life loop)
	for k in 0 1 2 3; do
		read -r sum _ </tmp/mq$k
		sums="$sums,$sum"
	done
	say "mq ok=$ok combined=$(channels) md5=${sums#,}"
}

step_serve() {
	local ok=1
	[ "$(channels)" = "$(nproc)" ] || ethtool -L eth0 combined "$(nproc)" || ok=0
	iperf3 -s -D -p $((port + 4)) || ok=0
	sockperf server -i 0.0.0.0 -p $((port + 5)) --daemonize >/dev/null 2>&1 || ok=0
	while :; do
		nc -l -p $((port + 8)) -e cat /proc/interrupts </dev/null >/dev/null 2>&1
	done &
	say "serving ok=$ok combined=$(channels) cpus=$(nproc)"
}

say "boot $(uname -r)"
# A sign of life: the host takes a guest silent for minutes for dead.
while sleep 30; do say alive; done &
for m in $(cat /lib/vm/order); do
	insmod "/lib/vm/$m.ko" || say "cannot load $m"
done
if net_up; then
	say "up ip=$ip"
	# Bit 33 (ACCESS_PLATFORM) first of all: 0 or 1 per bit, bit 0 first.
	d=/sys/class/net/eth0/device
	say "dev features=$(cat $d/features) iommu_group=$(basename "$(readlink $d/../iommu_group)")"
else
	say "up failed: no eth0"
fi

for s in $(echo "$steps" | tr , ' '); do
	case $s in
	ping|rx|tx|reload|resize|mq|serve) "step_$s" ;;
	triple) say triple; sleep 1; reboot -f ;;
	rxslow) step_rx slow ;;
	*) say "unknown step $s" ;;
	esac
done

say "done"
nc -l -p $((port + 2)) </dev/null >/dev/null
sync
poweroff -f
