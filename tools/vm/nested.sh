# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# The nested guest: a QEMU guest that the test VM runs with
# "-netdev tap,vhost=on,vhostfd=N N<>/dev/vhnet", so that unmodified QEMU
# drives vhnet. Sourced (bash) after lib.sh, never run. Used by
# selftests/vhnet_qemu_test.sh and tools/vm/demo.sh.
#
# On the host (build time):
#   nested_initramfs KVER OUT   OUT/nested/initramfs.img (busybox, virtio_net,
#                               tools/vm/nested-init.sh as /init), the
#                               random data.bin the guest receives and echoes
#                               and, if KVER can boot that way, the
#                               uncompressed OUT/nested/vmlinux; KVER (an
#                               installed kernel) in OUT/nested/kver;
#                               with NESTED_FLAVOR=bench the image is
#                               initramfs-bench.img and also holds iperf3
#                               and sockperf (make bench)
# In the test VM:
#   nested_unload_vhost_net     remove the in-tree vhost_net (and vhost, ...)
#   nested_start NAME IDX STEPS [DEVICE-OPTIONS]
#                               start guest NAME on tap<IDX>, host address
#                               10.0.<IDX+2>.1, guest .2; STEPS as in
#                               nested-init.sh; ${NESTED_NETOPTS[NAME]} is
#                               appended to its -netdev (e.g. poll-us=50).
#                               Options for live migration: NESTED_TAP[NAME]
#                               another tap; NESTED_INCOMING[NAME] a URI:
#                               wait for the guest there (no host helpers),
#                               and stay paused until "cont" (-S);
#                               NESTED_MONITOR[NAME]=1 an HMP monitor;
#                               NESTED_KVM_CPUOPTS[NAME] appended to -cpu
#                               under KVM (e.g. ,kvmclock=off);
#                               NESTED_QUEUES[NAME]=2 multiqueue: a
#                               multi_queue tap whose two queues tapfds
#                               passes (fds=5:6), two device fds
#                               (vhostfds=3:4), mq=on and 2 vCPUs;
#                               NESTED_IOMMU[NAME]=1 a vIOMMU: q35, an
#                               intel-iommu with device-iotlb=on, the NIC
#                               behind a PCIe root port with
#                               iommu_platform=on,ats=on; intel_iommu=on
#                               NESTED_DROPIN[NAME]=1 no vhostfd: QEMU
#                               opens /dev/vhost-net itself (vhnet's with
#                               vhost_net_node=1)
#                               NESTED_APPEND[NAME] more kernel arguments
#                               NESTED_PIN[NAME]=CPU its vCPU threads on
#                               that CPU of the test VM, all of them
#                               NESTED_BRIDGE a bridge that has the host
#                               address and takes the taps
#   nested_hmp NAME COMMAND     send COMMAND to NAME's monitor; the replies
#                               collect in NESTED_LOGS/NAME.monitor
#   nested_hmp_sync NAME COMMAND SECS  and wait until QEMU is done with it;
#                               prints the VM status after it
#   nested_migrate NAME URI SECS  migrate NAME to URI, wait until it ends:
#                               0 completed, 1 failed, 2 timed out
#   nested_wait NAME WHAT SECS [N]  wait for the guest's (Nth) "nested: WHAT";
#                               a dead guest ends the wait at once, the
#                               reason in ${NESTED_WHY[NAME]}
#   nested_wait_up NAME SECS    wait for "up"; restart a guest that died early
#   nested_result NAME WHAT [N] that (Nth) line's "key=value..." part
#   nested_value LINE KEY       one value of such a line
#   nested_sink_wait NAME SECS  wait until the host has all the guest sent
#   nested_worker PID [PREFIX]  thread ids named vhnet-PID (PREFIX-PID)
#   nested_holds_vhnet PID [NODE]  whether PID has /dev/vhnet (NODE) open
#   nested_stats PID            vhnet's debugfs counters of owner PID
#   nested_dev_packets PID      "RX TX" packets, a line per vhnet device of PID
#   nested_go NAME OFFSET       connect to the guest's port nport+OFFSET
#   nested_stop NAME [GRACE]    let the guest power off; QEMU's exit status
#   nested_triple_fault NAME    whether NAME's guest ended in a triple fault
#                               (a KVM shutdown exit) with no kernel problem
#                               on its console; prints where
#   nested_cleanup              stop everything nested_start started
#
# The caller sets NESTED_OUT (the kernel's output directory, OUT above),
# NESTED_LOGS (logs to keep: NAME.console, NAME.qemu.log) and NESTED_TMP
# (NAME.rx: what the guest sent). The data each way is OUT/nested/data.bin,
# its md5 in OUT/nested/data.md5. A guest's QEMU pid is ${NESTED_PID[NAME]}.

NESTED_DATA_MB=${VHNET_NESTED_DATA_MB:-16}
NESTED_MEM=${VHNET_NESTED_MEM:-128}
# Shorter boot under TCG-in-TCG; loglevel 5 still shows warnings and oopses.
# (No iPXE option ROM either: romfile= below.) no_timer_check: on a busy
# host the timer ticks that the IO-APIC check waits for come too late, and
# the guest panicked in early boot ("IO-APIC + timer doesn't work").
NESTED_CMDLINE="console=ttyS0 panic=-1 loglevel=5 edd=off cryptomgr.notests mitigations=off tsc=reliable no_timer_check"
NESTED_PORT0=5001
# The initramfs nested_initramfs builds and nested_start boots: "" (the
# tests') or bench (the real-guest benchmark's, with its servers).
NESTED_FLAVOR=${NESTED_FLAVOR:-}
# For comparisons: the in-tree vhost-net, or QEMU's own virtio-net.
NESTED_BACKEND=${VHNET_NESTED_BACKEND:-vhnet}
# The accelerator of the guests nested_start starts: tcg, or kvm (nested
# KVM: the test VM has SVM, kvm_amd loads in it). nested_accel_init
# chooses it with a probe; VHNET_NESTED_ACCEL overrides. The guest's CPU:
# under KVM VHNET_NESTED_KVM_CPU (default qemu64, QEMU's own default:
# with "host" the nested kernel sees the XSAVE sizes of TCG's emulated
# CPU disagree and warns, "XSAVE consistency problem"), under TCG
# VHNET_NESTED_CPU (default max).
NESTED_ACCEL=${VHNET_NESTED_ACCEL:-tcg}
NESTED_ACCEL_WHY=
NESTED_PROBE_SECS=${VHNET_NESTED_PROBE_SECS:-300}
declare -gA NESTED_PID=() NESTED_HELPERS=() NESTED_IDX=() NESTED_SINK=()
declare -gA NESTED_ARGS=() NESTED_RESTARTS=() NESTED_WHY=() NESTED_ACCEL_OF=()
declare -gA NESTED_BACKEND_OF=()
declare -gA NESTED_NETOPTS=() NESTED_TAP=() NESTED_INCOMING=() NESTED_MONITOR=()
declare -gA NESTED_KVM_CPUOPTS=() NESTED_QUEUES=() NESTED_IOMMU=()
declare -gA NESTED_DROPIN=() NESTED_APPEND=() NESTED_PIN=()
NESTED_BRIDGE=
NESTED_TRACE=/sys/kernel/tracing
NESTED_KVM_HOLDER=
# After its first line, a guest silent this long is dead (nested-init.sh
# prints a sign of life every 30 s; its boot itself is quiet).
NESTED_SILENCE=${VHNET_NESTED_SILENCE:-300}
NESTED_TAPS=()

# The kernel a nested guest boots in a test VM running KVER: the same one,
# but the installed 6.12 under the debug kernel, which has no virtio_net
# (and would crawl under TCG in TCG); vhnet runs in the VM.
nested_kver() {
	if vm_debug_kernel "$1"; then vm_kernels quick; else echo "$1"; fi
}

nested_initramfs() {
	local kver=$1 dir=$2/nested data
	data=$dir/data.bin
	mkdir -p "$dir"
	# Random data, generated once per output directory. The guest gets it
	# over the network (rx) and sends it back (tx); carried in the
	# initramfs it would cost the nested guest more than that.
	if [ "$(stat -c %s "$data" 2>/dev/null)" != $((NESTED_DATA_MB << 20)) ]; then
		head -c $((NESTED_DATA_MB << 20)) /dev/urandom >"$data.tmp" &&
			mv "$data.tmp" "$data" || return 1
	fi
	[ "$dir/data.md5" -nt "$data" ] ||
		md5sum <"$data" | cut -d' ' -f1 >"$dir/data.md5"
	echo "$kver" >"$dir/kver"
	# Multiqueue guests get their tap's queues from it (nested_start).
	[ "$dir/tapfds" -nt "$VM_TOP/tools/vm/tapfds.c" ] ||
		gcc -O2 -Wall -Wextra -o "$dir/tapfds" "$VM_TOP/tools/vm/tapfds.c" || return 1
	nested_vmlinux "$kver" "$dir/vmlinux" ||
		echo "nested: booting the compressed /boot/vmlinuz-$kver"
	VM_INITRAMFS_BINS="ethtool${NESTED_FLAVOR:+ iperf3 sockperf}" \
		vm_busybox_initramfs "$dir/initramfs${NESTED_FLAVOR:+-$NESTED_FLAVOR}.img" \
		"$VM_TOP/tools/vm/nested-init.sh" "$kver" virtio_pci virtio_net
}

# nested_vmlinux KVER DEST: the kernel image of /boot/vmlinuz-KVER,
# decompressed, as DEST. QEMU boots such an ELF file through its PVH entry
# point; that saves the nested guest the decompression, a third of its
# boot time under TCG. Fails (DEST removed) where that is not possible.
nested_vmlinux() {
	local kver=$1 dest=$2 img=/boot/vmlinuz-$1 cfg=/boot/config-$1
	local magic unpack off
	[ "$dest" -nt "$img" ] && [ "$dest" -nt "$cfg" ] && return 0
	rm -f "$dest"
	grep -q '^CONFIG_PVH=y' "$cfg" 2>/dev/null || return 1
	case $(grep -o '^CONFIG_KERNEL_[A-Z0-9]*=y' "$cfg") in
	CONFIG_KERNEL_ZSTD=y) magic='\x28\xb5\x2f\xfd' unpack="zstd -dcq" ;;
	CONFIG_KERNEL_XZ=y)   magic='\xfd7zXZ\x00' unpack="xz -dcq" ;;
	CONFIG_KERNEL_GZIP=y) magic='\x1f\x8b\x08' unpack="gzip -dcq" ;;
	*) return 1 ;;
	esac
	# The payload is the first stream in the file that unpacks to an ELF
	# image (the decompressors complain about the trailer after it).
	for off in $(LC_ALL=C grep -obUaP "$magic" "$img" | head -4 | cut -d: -f1); do
		# shellcheck disable=SC2086  # command and options
		tail -c +$((off + 1)) "$img" | $unpack >"$dest.tmp" 2>/dev/null
		if [ "$(head -c 4 "$dest.tmp")" = $'\x7fELF' ]; then
			mv "$dest.tmp" "$dest"
			return 0
		fi
	done
	rm -f "$dest.tmp"
	return 1
}

# Sets NESTED_ACCEL and NESTED_ACCEL_WHY, once: VHNET_NESTED_ACCEL if set;
# else kvm if /dev/kvm appears here (kvm_amd or kvm_intel loads) and a
# probe guest (tap9, QEMU's own virtio-net) boots to its /init under it;
# else tcg. The probe's logs: NESTED_LOGS/probe.*.
nested_accel_init() {
	local rc
	[ -z "$NESTED_ACCEL_WHY" ] || return 0
	case ${VHNET_NESTED_ACCEL:-} in
	kvm|tcg)
		NESTED_ACCEL=$VHNET_NESTED_ACCEL
		NESTED_ACCEL_WHY="VHNET_NESTED_ACCEL=$VHNET_NESTED_ACCEL"
		return 0 ;;
	esac
	NESTED_ACCEL=tcg
	modprobe kvm_amd 2>/dev/null || modprobe kvm_intel 2>/dev/null
	if [ ! -c /dev/kvm ]; then
		NESTED_ACCEL_WHY="no /dev/kvm in the test VM (no SVM or VMX in its CPU?)"
		return 0
	fi
	# One KVM VM without vCPUs held until nested_cleanup: KVM then enables
	# SVM on every CPU and flips its preempt-notifier static key once, not
	# at each guest's start and exit, where the outer TCG ran stale code
	# (Documentation/testing.rst, "tools/vm/ab.sh").
	if [ -z "$NESTED_KVM_HOLDER" ]; then
		mkdir -p "${NESTED_LOGS:?}"
		qemu-system-x86_64 -machine none -accel kvm -nodefaults -nographic \
			-monitor none -S </dev/null >"$NESTED_LOGS/kvm-hold.log" 2>&1 &
		NESTED_KVM_HOLDER=$!
	fi
	NESTED_ACCEL=kvm NESTED_BACKEND=user nested_start probe 9 "" || {
		NESTED_ACCEL_WHY="kvm probe: cannot start QEMU"
		return 0
	}
	nested_wait probe boot "$NESTED_PROBE_SECS"
	rc=$?
	case $rc in
	0) NESTED_ACCEL=kvm NESTED_ACCEL_WHY="kvm probe booted $(nested_result probe boot)" ;;
	1) NESTED_ACCEL_WHY="kvm probe: no /init after $NESTED_PROBE_SECS s" ;;
	*) NESTED_ACCEL_WHY="kvm probe: ${NESTED_WHY[probe]}: $(grep -av '^$' \
		"${NESTED_LOGS:?}/probe.qemu.log" 2>/dev/null | tail -1)" ;;
	esac
	nested_stop probe 0 >/dev/null
	return 0
}

# Prints the in-tree modules it removed; fails if /dev/vhost-net remains.
nested_unload_vhost_net() {
	local m
	for m in vhost_net vhost vhost_iotlb; do
		grep -q "^$m " /proc/modules || continue
		rmmod "$m" || return 1
		echo "$m"
	done
	[ ! -e /dev/vhost-net ]
}

nested_tap() {	# TAP ADDR [multi_queue]
	local tap=$1 addr=$2
	ip link show "$tap" >/dev/null 2>&1 || {
		# shellcheck disable=SC2086  # ${3:-}: a flag or nothing
		ip tuntap add "$tap" mode tap vnet_hdr ${3:-} || return 1
		NESTED_TAPS+=("$tap")
	}
	if [ -n "$NESTED_BRIDGE" ]; then
		ip link set "$tap" master "$NESTED_BRIDGE" up
		return
	fi
	ip addr flush dev "$tap" &&
	ip addr add "$addr" dev "$tap" &&
	ip link set "$tap" up
}

nested_start() {
	local name=$1 idx=$2 steps=$3 devopts=${4:-} tap net port img
	local kver vhost dev kernel cpu extra=() mon hsteps=$steps k
	local queues=${NESTED_QUEUES[$1]:-1} dev2=/dev/null tapopts launch
	local plat=() append=''
	: "${NESTED_OUT:?}" "${NESTED_LOGS:?}" "${NESTED_TMP:?}"
	# The test VM's kernel unless build-module.sh chose another one.
	kver=$(cat "$NESTED_OUT/nested/kver" 2>/dev/null) || kver=$(uname -r)
	tap=tap$idx net=10.0.$((idx + 2)) port=$((NESTED_PORT0 + 10 * idx))
	img=$NESTED_OUT/nested/initramfs${NESTED_FLAVOR:+-$NESTED_FLAVOR}.img
	kernel=$NESTED_OUT/nested/vmlinux
	[ -f "$kernel" ] || kernel=/boot/vmlinuz-$kver
	NESTED_IDX[$name]=$idx
	NESTED_ARGS[$name]="$idx $steps $devopts"
	[ "$NESTED_ACCEL" = kvm ] && nested_shutdown_trace
	NESTED_ACCEL_OF[$name]=$NESTED_ACCEL
	NESTED_BACKEND_OF[$name]=$NESTED_BACKEND
	cpu=${VHNET_NESTED_CPU:-max}
	[ "$NESTED_ACCEL" = kvm ] && cpu=${VHNET_NESTED_KVM_CPU:-qemu64}${NESTED_KVM_CPUOPTS[$name]:-}
	mkdir -p "$NESTED_LOGS" "$NESTED_TMP"
	rm -f "$NESTED_LOGS/$name.console" "$NESTED_TMP/$name.rx" \
		"$NESTED_LOGS/$name.monitor"
	tap=${NESTED_TAP[$name]:-$tap}
	nested_tap "$tap" "$net.1/24" "$([ "$queues" = 2 ] && echo multi_queue)" || return 1
	if [ -n "${NESTED_MONITOR[$name]:-}" ]; then
		mon=$NESTED_TMP/$name.mon
		rm -f "$mon.in" "$mon.out"
		mkfifo "$mon.in" "$mon.out" || return 1
		extra+=(-chardev "pipe,id=mon0,path=$mon" -mon "chardev=mon0,mode=readline")
		cat "$mon.out" >>"$NESTED_LOGS/$name.monitor" 2>/dev/null &
		NESTED_HELPERS[$name]+=" $!"
	fi
	# A migration target: the source's helpers serve the guest.
	[ -n "${NESTED_INCOMING[$name]:-}" ] &&
		extra+=(-S -incoming "${NESTED_INCOMING[$name]}") hsteps=

	# The host side of the transfers: send data.bin to whoever connects
	# (rx), write what comes back to NAME.rx (tx).
	case ,$hsteps, in
	*,rx,*|*,rxslow,*)
		busybox nc -l -p "$port" -e cat "$NESTED_OUT/nested/data.bin" \
			</dev/null >/dev/null 2>&1 &
		NESTED_HELPERS[$name]+=" $!"
		;;
	esac
	# mq: four streams, one listener each (ports nport+3 to nport+6).
	case ,$hsteps, in
	*,mq,*)
		for k in 3 4 5 6; do
			busybox nc -l -p $((port + k)) -e cat "$NESTED_OUT/nested/data.bin" \
				</dev/null >/dev/null 2>&1 &
			NESTED_HELPERS[$name]+=" $!"
		done
		;;
	esac
	case ,$hsteps, in
	*,tx,*)
		busybox nc -l -p $((port + 1)) </dev/null \
			>"$NESTED_TMP/$name.rx" 2>/dev/null &
		NESTED_SINK[$name]=$!
		NESTED_HELPERS[$name]+=" $!"
		;;
	esac

	case $NESTED_BACKEND in
	vhnet)     vhost=vhost=on,vhostforce=on,vhostfd=3 dev=/dev/vhnet ;;
	vhost-net) vhost=vhost=on,vhostforce=on,vhostfd=3 dev=/dev/vhost-net ;;
	user)      vhost=vhost=off dev=/dev/null ;;
	*)         vm_die "NESTED_BACKEND: vhnet, vhost-net or user" ;;
	esac
	[ -n "${NESTED_DROPIN[$name]:-}" ] && vhost=vhost=on,vhostforce=on dev=/dev/null
	tapopts=ifname=$tap,script=no,downscript=no launch=()
	if [ -n "${NESTED_IOMMU[$name]:-}" ]; then
		# Guest DMA goes through the vIOMMU: vhnet gets IOVAs and an
		# IOTLB; ATS (a PCIe port) makes the guest's unmaps reach it.
		plat=(-machine q35 -device "intel-iommu,intremap=off,device-iotlb=on"
			-device "pcie-root-port,id=rp0,bus=pcie.0,chassis=1")
		devopts+=,bus=rp0,disable-legacy=on,iommu_platform=on,ats=on
		append=" intel_iommu=on"
	fi
	if [ "$queues" = 2 ]; then
		# QEMU takes vhostfds= only with fds=: the tap's queues come
		# from tapfds, as a manager such as libvirt passes them.
		[ "$NESTED_BACKEND" = user ] || vhost=${vhost/vhostfd=3/vhostfds=3:4} dev2=$dev
		tapopts=fds=5:6 devopts+=,mq=on,vectors=6
		launch=("$NESTED_OUT/nested/tapfds" "$tap" 2 5 --)
	fi
	# VHNET_QEMU_STRACE=NAME: that guest's QEMU under strace, its failed
	# ioctls in NESTED_LOGS/NAME.strace (QEMU 7.2 aborts without a word
	# when a vhost ioctl fails at migration start). -D: the tracer is a
	# grandchild, so that QEMU keeps the pid the checks look up.
	# (QEMU names its vCPU threads "CPU n/KVM" only with debug-threads.)
	[ -n "${NESTED_PIN[$name]:-}" ] && extra+=(-name "$name,debug-threads=on")
	[ "${VHNET_QEMU_STRACE:-}" = "$name" ] && launch+=(strace -D -f -Z -qq
		-e trace=ioctl -e "signal=SIGABRT,SIGSEGV,SIGBUS" -o "$NESTED_LOGS/$name.strace")
	"${launch[@]}" qemu-system-x86_64 -accel "$NESTED_ACCEL" -cpu "$cpu" \
		-smp "$queues" -m "$NESTED_MEM" \
		-nodefaults -no-user-config -nographic -monitor none -no-reboot \
		-serial "file:$NESTED_LOGS/$name.console" "${plat[@]}" \
		-kernel "$kernel" -initrd "$img" \
		-append "$NESTED_CMDLINE$append${NESTED_APPEND[$name]:+ ${NESTED_APPEND[$name]}} nsteps=$steps nip=$net.2/24 nhost=$net.1 nport=$port" \
		-netdev "tap,id=n0,$tapopts,$vhost${NESTED_NETOPTS[$name]:+,${NESTED_NETOPTS[$name]}}" \
		-device "virtio-net-pci,netdev=n0,romfile=$devopts" "${extra[@]}" \
		3<>"$dev" 4<>"$dev2" </dev/null >"$NESTED_LOGS/$name.qemu.log" 2>&1 &
	NESTED_PID[$name]=$!
	if [ -n "${NESTED_PIN[$name]:-}" ]; then
		nested_pin_vcpus "$!" "$queues" "${NESTED_PIN[$name]}" &
		NESTED_HELPERS[$name]+=" $!"
	fi
}

# Pin QEMU PID's N vCPU threads ("CPU n/KVM") to CPU, once they exist.
nested_pin_vcpus() {	# PID N CPU
	local i t pinned
	for ((i = 0; i < 100; i++)); do
		pinned=0
		for t in /proc/"$1"/task/*; do
			case $(cat "$t/comm" 2>/dev/null) in
			"CPU "*/KVM)
				taskset -pc "$3" "${t##*/}" >/dev/null 2>&1 &&
					pinned=$((pinned + 1)) ;;
			esac
		done
		[ "$pinned" -lt "$2" ] || return 0
		sleep 0.2
	done
	return 1
}

nested_running() {
	kill -0 "${NESTED_PID[$1]}" 2>/dev/null
}

nested_hmp() {	# NAME COMMAND
	# A gone QEMU's fifo has no reader: the write would wait its 10 s.
	nested_running "$1" || return 1
	# shellcheck disable=SC2016 # expanded by that sh
	timeout 10 sh -c 'printf "%s\n" "$1" >"$2"' sh "$2" "$NESTED_TMP/$1.mon.in"
}

# COMMAND, then "info status": its answer comes once COMMAND is done.
nested_hmp_sync() {	# NAME COMMAND SECS
	local log=$NESTED_LOGS/$1.monitor n t0=$SECONDS
	n=$(grep -ac 'VM status:' "$log")
	nested_hmp "$1" "$2" && nested_hmp "$1" "info status" || return 1
	while [ "$(grep -ac 'VM status:' "$log")" -le "$n" ]; do
		[ $((SECONDS - t0)) -lt "$3" ] && nested_running "$1" || return 1
		sleep 0.5
	done
	tr -d '\r' <"$log" | grep -a 'VM status:' | tail -n 1
}

nested_migrate() {	# NAME URI SECS
	local name=$1 t0=$SECONDS log=$NESTED_LOGS/$1.monitor st
	nested_hmp "$name" "migrate -d $2" || return 1
	while [ $((SECONDS - t0)) -lt "$3" ]; do
		sleep 1
		nested_hmp "$name" "info migrate" || return 1
		sleep 0.5
		st=$(tr -d '\r' <"$log" | sed -n 's/^Migration status: //p' | tail -n 1)
		case $st in
		completed) return 0 ;;
		failed|cancelled) return 1 ;;
		esac
	done
	return 2
}

# 0: the (Nth) line is there; 1: timed out; 2: QEMU is gone, or dead
# (vm_qemu_dead) and now killed. Calls nested_tick ELAPSED once a second
# if the caller defines it.
nested_wait() {
	local name=$1 what=$2 secs=$3 nth=${4:-1} t0=$SECONDS pid
	pid=${NESTED_PID[$name]}
	NESTED_WHY[$name]=
	while ! nested_result "$name" "$what" "$nth" >/dev/null; do
		if vm_qemu_dead "$pid" "$NESTED_LOGS/$name.qemu.log" \
				"$NESTED_LOGS/$name.console" "$NESTED_SILENCE" ''; then
			NESTED_WHY[$name]=$VM_DEAD_WHY
			if [ "$VM_DEAD_WHY" = "QEMU exited" ]; then
				NESTED_WHY[$name]+=$(nested_shutdowns "$pid" |
					sed -n '1s/^/; its guest triple-faulted: /p')
				return 2
			fi
			kill -9 "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
			return 2
		fi
		[ $((SECONDS - t0)) -lt "$secs" ] || return 1
		declare -F nested_tick >/dev/null && nested_tick $((SECONDS - t0))
		sleep 1
	done
}

# nested_wait for "up", but a guest whose kernel died before its /init ran
# is started again, up to NESTED_MAX_RESTARTS times. Seen now and then
# under TCG in TCG: a corrupted EFLAGS in the nested guest's early boot
# (double fault, or a general protection fault on IRET), before any
# virtio driver runs and so before vhost starts. NESTED_RESTARTS[NAME]
# counts the restarts; dead guest number N keeps its console and QEMU log
# as NAME.console.N and NAME.qemu.log.N.
NESTED_MAX_RESTARTS=${VHNET_NESTED_MAX_RESTARTS:-2}
nested_wait_up() {
	local name=$1 secs=$2 rc args t0=$SECONDS n
	while :; do
		nested_wait "$name" up $((secs - (SECONDS - t0)))
		rc=$?
		n=${NESTED_RESTARTS[$name]:-0}
		[ $rc = 2 ] && [ "${NESTED_WHY[$name]}" = "QEMU exited" ] &&
			! nested_result "$name" boot >/dev/null &&
			[ "$n" -lt "$NESTED_MAX_RESTARTS" ] &&
			[ $((SECONDS - t0)) -lt "$secs" ] || return $rc
		n=$((n + 1))
		NESTED_RESTARTS[$name]=$n
		wait "${NESTED_PID[$name]}"
		nested_reap "$name"
		mv "$NESTED_LOGS/$name.console" "$NESTED_LOGS/$name.console.$n"
		mv "$NESTED_LOGS/$name.qemu.log" "$NESTED_LOGS/$name.qemu.log.$n"
		read -r -a args <<<"${NESTED_ARGS[$name]}"
		NESTED_ACCEL=${NESTED_ACCEL_OF[$name]} NESTED_BACKEND=${NESTED_BACKEND_OF[$name]} \
			nested_start "$name" "${args[@]}" ||
			return 2
	done
}

# Only whole lines count: the serial console may be in the middle of one.
nested_result() {
	local name=$1 what=$2 nth=${3:-1} text
	text=$(tr -d '\0\r' 2>/dev/null <"$NESTED_LOGS/$name.console"; echo .)
	text=${text%.}
	case $text in
	*$'\n') ;;
	*$'\n'*) text=${text%$'\n'*}$'\n' ;;
	*) text= ;;
	esac
	printf '%s' "$text" |
		awk -v w="$what" -v n="$nth" '
			$1 == "nested:" && $2 == w && ++seen == n {
				sub(/^nested: [^ ]* ?/, ""); print; found = 1; exit
			}
			END { exit !found }'
}

nested_value() {
	local line=$1 key=$2 w
	for w in $line; do
		case $w in "$key"=*) echo "${w#*=}"; return 0 ;; esac
	done
	return 1
}

# Wait (SECS at most) until the host has read all the guest sent.
nested_sink_wait() {
	local pid=${NESTED_SINK[$1]:-} t0=$SECONDS
	[ -n "$pid" ] || return 1
	while kill -0 "$pid" 2>/dev/null; do
		nested_running "$1" || return 1
		[ $((SECONDS - t0)) -lt "$2" ] || return 1
		sleep 1
	done
}

# (No command per thread: forks are slow in a TCG guest under load.)
# nested_worker PID [PREFIX]: threads named PREFIX-PID (default vhnet; the
# in-tree vhost-net's are vhost-PID).
nested_worker() {
	local f c
	for f in /proc/[0-9]*/task/[0-9]*/comm; do
		read -r c 2>/dev/null <"$f" || continue
		[ "$c" = "${2:-vhnet}-$1" ] || continue
		f=${f%/comm}
		echo "${f##*/}"
	done
}

nested_holds_vhnet() {	# PID [NODE]
	find "/proc/$1/fd" -lname "${2:-/dev/vhnet}" 2>/dev/null | grep -q .
}

nested_stats() {
	nested_debugfs || return 1
	cat /sys/kernel/debug/vhnet/"$1"-*/stats 2>/dev/null
}

nested_dev_packets() {	# PID
	local f
	nested_debugfs || return 1
	for f in /sys/kernel/debug/vhnet/"$1"-*/stats; do
		[ -r "$f" ] && awk '{ p[$1] = $3 } END { print p["rx"] + 0, p["tx"] + 0 }' "$f"
	done
}

nested_go() {	# NAME OFFSET
	local idx=${NESTED_IDX[$1]}
	timeout 20 busybox nc "10.0.$((idx + 2)).2" $((NESTED_PORT0 + 10 * idx + $2)) \
		</dev/null >/dev/null 2>&1
}

# The guest waits for a connection on nport+2 before it powers off; after
# GRACE seconds (default 60; 0: at once) QEMU is killed.
nested_stop() {
	local name=$1 grace=${2:-60} pid t0 rc
	pid=${NESTED_PID[$name]}
	[ "$grace" -gt 0 ] && nested_running "$name" && nested_go "$name" 2
	t0=$SECONDS
	while nested_running "$name" && [ $((SECONDS - t0)) -lt "$grace" ]; do
		sleep 1
	done
	nested_running "$name" && kill "$pid"
	sleep 1
	nested_running "$name" && kill -9 "$pid"
	wait "$pid"
	rc=$?
	nested_reap "$name"
	return $rc
}

# Triple faults of KVM guests: KVM's exits for SVM_EXIT_SHUTDOWN (0x7f),
# traced in a tracefs instance of their own from the first KVM guest on,
# with each task's process id. A guest that triple-faults ends its QEMU
# (-no-reboot) with status 0 and nothing on its console.
NESTED_SHUTDOWN_TRACE=$NESTED_TRACE/instances/vhnet-shutdown
nested_shutdown_trace() {
	local i=$NESTED_SHUTDOWN_TRACE
	[ -d "$NESTED_TRACE/instances" ] ||
		mount -t tracefs tracefs "$NESTED_TRACE" 2>/dev/null
	[ -d "$i" ] || mkdir "$i" 2>/dev/null || return 1
	[ -d "$i/events/kvm/kvm_exit" ] || return 1
	[ "$(cat "$i/events/kvm/kvm_exit/enable")" = 1 ] && return 0
	echo 1 >"$i/options/record-tgid"
	echo 'exit_reason == 127' >"$i/events/kvm/kvm_exit/filter"
	echo 1 >"$i/events/kvm/kvm_exit/enable"
}

# "vcpu N reason shutdown rip R at T s" for each traced exit of QEMU PID.
nested_shutdowns() {	# PID
	[ -r "$NESTED_SHUTDOWN_TRACE/trace" ] || return 1
	awk -v pid="$1" '
		/kvm_exit: .*reason shutdown/ && match($0, /\( *[0-9]+\)/) {
			p = substr($0, RSTART + 1, RLENGTH - 2); gsub(/ /, "", p)
			if (p != pid) next
			t = $0; sub(/: kvm_exit:.*/, "", t); sub(/.* /, "", t)
			w = $0; sub(/.*kvm_exit: /, "", w); sub(/ info1.*/, "", w)
			print w " at " t " s"
		}' "$NESTED_SHUTDOWN_TRACE/trace"
}

nested_triple_fault() {	# NAME
	local pid=${NESTED_PID[$1]:-} where
	[ -n "$pid" ] || return 1
	where=$(nested_shutdowns "$pid" | head -n 1)
	[ -n "$where" ] && vm_log_problems "$NESTED_LOGS/$1.console" >/dev/null &&
		echo "QEMU $pid's guest triple-faulted ($where), nothing on its console"
}

nested_reap() {
	local p
	for p in ${NESTED_HELPERS[$1]:-}; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	NESTED_HELPERS[$1]=
}

nested_cleanup() {
	local name tap
	for name in "${!NESTED_PID[@]}"; do
		if nested_running "$name"; then
			kill -9 "${NESTED_PID[$name]}"
			wait "${NESTED_PID[$name]}" 2>/dev/null
		fi
		nested_reap "$name"
	done
	for tap in "${NESTED_TAPS[@]}"; do
		ip link del "$tap" 2>/dev/null
	done
	NESTED_TAPS=()
	if [ -n "$NESTED_KVM_HOLDER" ]; then
		kill "$NESTED_KVM_HOLDER" 2>/dev/null
		wait "$NESTED_KVM_HOLDER" 2>/dev/null
		NESTED_KVM_HOLDER=
	fi
}

# --- Which path kicks and interrupts took ---------------------------------
# nested_path_mark NAME, once the guest is up; nested_path NAME when its
# traffic is done, before nested_stop. nested_path prints the evidence and
# returns 0 if, since the mark, the guest's notifies reached vhnet through
# KVM's ioeventfd and vhnet's call signals reached the guest through KVM's
# irqfd (the production path):
#   ioeventfd  vhnet counted K kicks and KVM M MMIO exits to QEMU; a notify
#              that QEMU relays (a modern virtio-pci device notifies by
#              MMIO) is one such exit, so M < K.
#   irqfd      MSIs that KVM injected (tracepoint kvm:kvm_msi_set_irq)
#              outside QEMU's threads: an irqfd injects from the thread
#              that signals it (vhnet's worker) or a kworker, QEMU's own
#              KVM_SIGNAL_MSI from a QEMU thread. More than half must be so.
# Under TCG there is no KVM VM: it fails, and nested_path_tcg NAME holds
# instead (kicks, and no KVM VM of that QEMU).
declare -gA NESTED_MARK=()

nested_debugfs() {
	local d=/sys/kernel/debug
	[ -d "$d/kvm" ] || [ -d "$d/vhnet" ] || mountpoint -q "$d" ||
		mount -t debugfs debugfs "$d"
}

# Sum of one counter over vhnet's queues of owner PID.
nested_vhnet_sum() {	# PID KEY
	nested_stats "$1" | awk -v k="$2" '
		{ for (i = 1; i < NF; i++) if ($i == k) s += $(i + 1) }
		END { print s + 0 }'
}

# A KVM VM statistic of QEMU PID (vCPU counters summed); fails without one.
nested_kvm_stat() {	# PID NAME
	local f
	nested_debugfs
	for f in /sys/kernel/debug/kvm/"$1"-*/"$2"; do
		[ -r "$f" ] && cat "$f" && return 0
	done
	return 1
}

nested_path_mark() {
	local name=$1 pid=${NESTED_PID[$1]} t=$NESTED_TRACE
	[ -d "$t/events" ] || mount -t tracefs tracefs "$t" 2>/dev/null
	if [ -d "$t/events/kvm/kvm_msi_set_irq" ]; then
		echo 0 >"$t/tracing_on"
		echo 4096 >"$t/buffer_size_kb"
		echo 1 >"$t/events/kvm/kvm_msi_set_irq/enable"
		: >"$t/trace"
		echo 1 >"$t/tracing_on"
	fi
	NESTED_MARK[$name]="$(nested_vhnet_sum "$pid" kicks) $(nested_kvm_stat "$pid" mmio_exits || echo -)"
}

nested_path() {
	local name=$1 pid=${NESTED_PID[$1]} t=$NESTED_TRACE k0 m0 k m tids w
	local msis out=0 own=0
	read -r k0 m0 <<<"${NESTED_MARK[$name]:-0 -}"
	k=$(( $(nested_vhnet_sum "$pid" kicks) - k0 ))
	if [ "$m0" = - ] || ! m=$(nested_kvm_stat "$pid" mmio_exits); then
		echo "no KVM VM of QEMU $pid in /sys/kernel/debug/kvm; $k kicks"
		return 1
	fi
	m=$((m - m0))
	if [ -r "$t/trace" ]; then
		echo 0 >"$t/tracing_on"
		tids=" $(cd "/proc/$pid/task" 2>/dev/null && echo *) "
		# vhnet's worker, a thread of QEMU's on 6.12 (a vhost_task),
		# is not one of QEMU's own.
		for w in $(nested_worker "$pid"); do
			tids=${tids/ $w / }
		done
		# (No process substitution: the VM's /dev has no /dev/fd.)
		read -r out own <<<"$(awk -v tids=" $tids " '
			/kvm_msi_set_irq:/ && match($0, /-[0-9]+ +\[[0-9]+\]/) {
				p = substr($0, RSTART + 1, RLENGTH); sub(/ .*/, "", p)
				if (index(tids, " " p " ")) q++; else o++
			}
			END { print o + 0, q + 0 }' "$t/trace")"
		echo 0 >"$t/events/kvm/kvm_msi_set_irq/enable"
		msis="$out MSIs injected outside QEMU's own threads (irqfd), $own by QEMU"
	else
		msis="no tracepoint kvm:kvm_msi_set_irq"
	fi
	echo "$k kicks, $m MMIO exits to QEMU; $msis"
	[ "$k" -gt 0 ] && [ "$m" -lt "$k" ] && [ "$out" -gt 0 ] && [ "$out" -gt "$own" ]
}

nested_path_tcg() {
	local name=$1 pid=${NESTED_PID[$1]} k0 k
	read -r k0 _ <<<"${NESTED_MARK[$name]:-0 -}"
	k=$(( $(nested_vhnet_sum "$pid" kicks) - k0 ))
	if nested_kvm_stat "$pid" exits >/dev/null; then
		echo "QEMU $pid has a KVM VM; $k kicks"
		return 1
	fi
	echo "no KVM VM: QEMU relayed $k kicks (and the interrupts)"
	[ "$k" -gt 0 ]
}
