# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Shared shell functions for the vhnet VM tooling. Sourced (bash), never run.
#
#   vm_kernels quick|all        supported kernel versions, one a line
#   vm_debug_kernel KVER        whether KVER is the debug kernel
#                               (tools/vm/debug-kernel.sh), not an installed one
#   vm_modroot KVER             the root KVER's lib/modules is under: / or
#                               the debug kernel's build/debug/root
#   vm_kdir KVER                KVER's kernel build tree (make -C KDIR M=...)
#   vm_kimage KVER              KVER's kernel image (bzImage)
#   vm_copy_src DEST            fresh copy of the module sources into DEST
#   vm_kbuild KVER SRC LOG ARGS build SRC against KVER, log to LOG
#   vm_initramfs KVER           (cached) busybox initramfs that mounts 9p
#   vm_busybox_initramfs IMG INIT KVER MODULE...  the same, any /init
#   vm_accel_init               choose KVM or TCG once (probe, cache); sets
#                               VM_ACCEL and VM_ACCEL_WHY
#   vm_accel                    the chosen accelerator: kvm or tcg
#   vm_accel_line               "accel: tcg (why)", the first line of a run
#   vm_qemu_watched LIMIT SILENCE LOG CONSOLE ARGS...
#                               run QEMU, killing it as soon as it is dead
#   vm_qemu_dead PID LOG CONSOLE SILENCE SINCE
#                               whether a QEMU is gone or as good as gone
#   vm_boot KVER OUT MODE       boot KVER, run tools/vm/guest-run.sh MODE OUT
#   vm_cpu_where LOG SYMS...    where each vCPU of a monitor dump is
#   vm_log_problems FILE...     print kernel-problem lines; 1 if any
#   vm_first_oops FILE          the first oops: what, when, where, modules
#   vm_stale_int3 FILE          whether the first kernel problem is a trap on
#                               an int3 that is not in memory (an emulator flaw)
#   vm_lost_ipi OUT             whether a test VM was killed in a cross-call
#                               that a halted vCPU never took (an emulator
#                               flaw)
#   vm_int3_loop OUT            whether it was killed in a cross-call that a
#                               vCPU never took because it kept trapping on
#                               an int3 that is not in memory, or went
#                               silent with every vCPU doing so (the same)
#   vm_ipi_in_l2 OUT            whether it was killed in a cross-call, or
#                               stalled RCU, because a vCPU never came out
#                               of a nested guest (the same)
#   vm_nested_triple_fault OUT  whether it reset in a triple fault, with no
#                               kernel problem reported, while it ran
#                               nested guests (the same)
#   vm_flaw_retry_ok OUT        whether a test VM that died of one of these
#                               may run again: no test had failed by then
#   vm_flaw_ended OUT SIG       the tests that had ended before it
#   vm_flaw_passed OUT SIG      the ones of them that passed
#
# A kernel's output directory OUT (normally build/<kver>) holds src/,
# selftests/, the build logs, console.log and the guest's results/.

VM_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
VM_BUILD=${VHNET_BUILD:-$VM_TOP/build}
# Whole-VM safety net (seconds); the per-test limits live in guest-run.sh
# (900 s, 1200 s for vhnet_qemu_test; a normal run of all tests is ~20 min).
VM_TIMEOUT=${VHNET_VM_TIMEOUT:-2100}
VM_MEM=${VHNET_VM_MEM:-2048}
VM_SMP=${VHNET_VM_SMP:-2}
# The VM's CPU model (tools/vm/ab.sh: qemu64,+svm,+npt for nested KVM).
VM_CPU=${VHNET_VM_CPU:-max}
# TCG's threading: multi (a host thread per vCPU) or single (round-robin).
VM_TCG_THREAD=${VHNET_VM_TCG_THREAD:-multi}
# A VM whose console stays silent this long is dead (guest-run.sh prints
# a sign of life every 60 s).
VM_SILENCE=${VHNET_VM_SILENCE:-300}
VM_KVM_DEV=${VHNET_KVM_DEV:-/dev/kvm}
VM_KVM_PROBE_SECS=${VHNET_KVM_PROBE_SECS:-60}
VM_ACCEL_CACHE=${VHNET_ACCEL_CACHE:-${XDG_CACHE_HOME:-${HOME:-$VM_BUILD}/.cache}/vhnet/accel}
# QEMU output that means its vCPUs cannot go on (QEMU pauses, not exits).
VM_QEMU_DEAD_RE='KVM internal error|kvm run failed|KVM: entry failed'

# Kernel log lines that mean something went wrong in the guest kernel.
# Our own scripts never print these words. Most reports of the debug
# kernel's checkers start with BUG: or WARNING: too; the rest (and a
# kmemleak that gave up) are named. Its leaks are counted by check.sh from
# results/kmemleak.txt, not from kmemleak's "N new suspected" line.
VM_BAD_RE='Oops|BUG:|WARNING:|general protection|soft lockup|hung task|blocked for more than|Call Trace|Kernel panic|kernel BUG|UBSAN:|refcount_t:|list_(add|del) corruption'
VM_BAD_RE+='|KASAN:|ODEBUG:|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|sleeping function called from invalid context'
VM_BAD_RE+='|kmemleak: (Memory pool empty|Cannot allocate a kmemleak_object|Kernel memory leak detector disabled)'

vm_msg() { printf '%s\n' "$*"; }
vm_die() { printf 'vm: error: %s\n' "$*" >&2; exit 1; }

# Newest installed kernel of a series that has both an image and headers.
vm_kernel_of_series() {
	local series=$1 f v best=
	for f in /boot/vmlinuz-"$series".*-amd64; do
		[ -e "$f" ] || continue
		v=${f#/boot/vmlinuz-}
		[ -d "/lib/modules/$v/build" ] || continue
		best=$(printf '%s\n%s\n' "$best" "$v" | sed '/^$/d' | sort -V | tail -1)
	done
	[ -n "$best" ] && echo "$best"
}

vm_kernels() {
	case $1 in
	quick)	vm_kernel_of_series 6.12 ;;
	all)	vm_kernel_of_series 6.1; vm_kernel_of_series 6.12 ;;
	6.1|6.12) vm_kernel_of_series "$1" ;;
	*)	vm_die "vm_kernels: unknown set '$1'" ;;
	esac
	return 0
}

# The debug kernel's modules are installed under VM_BUILD/debug/root, its
# build tree is what lib/modules/KVER/build there points to; an installed
# kernel has /lib/modules/KVER and /boot/vmlinuz-KVER.
vm_debug_kernel() {
	[ -d "$VM_BUILD/debug/root/lib/modules/$1" ]
}

vm_modroot() {
	if vm_debug_kernel "$1"; then echo "$VM_BUILD/debug/root"; else echo /; fi
}

vm_kdir() {
	if vm_debug_kernel "$1"; then
		echo "$VM_BUILD/debug/root/lib/modules/$1/build"
	else
		echo "/lib/modules/$1/build"
	fi
}

vm_kimage() {
	if vm_debug_kernel "$1"; then
		echo "$(vm_kdir "$1")/arch/x86/boot/bzImage"
	else
		echo "/boot/vmlinuz-$1"
	fi
}

# A private copy per kernel so that two kernels never share object files,
# and a clean one each time so that W=1 sees every file compile.
vm_copy_src() {
	local dest=$1
	rm -rf "$dest"
	mkdir -p "$dest"
	cp -R "$VM_TOP/Kbuild" "$VM_TOP/drivers" "$VM_TOP/include" "$dest/"
	# Objects someone built in place in the work tree must not leak in.
	find "$dest" \( -name '*.o' -o -name '*.ko' -o -name '.*.cmd' \
		-o -name '*.mod' -o -name '*.mod.c' \) -delete
}

vm_kbuild() {
	local kver=$1 src=$2 log=$3
	shift 3
	make -C "$(vm_kdir "$kver")" M="$src" "$@" modules >"$log" 2>&1
}

# Module files (paths, dependency order, each once) that loading MODULE...
# on KVER needs; built-in ones are skipped.
vm_module_files() {
	local kver=$1 m root=()
	shift
	vm_debug_kernel "$kver" && root=(-d "$(vm_modroot "$kver")")
	for m in "$@"; do
		modprobe "${root[@]}" -S "$kver" --show-depends "$m" ||
			vm_die "cannot resolve module $m for $kver"
	done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }'
}

# vm_busybox_initramfs IMG INIT KVER MODULE...
# (Cached) gzipped initramfs IMG: busybox, INIT as /init, and KVER's
# MODULE... with their dependencies, uncompressed, in /lib/vm, their names
# in load order in /lib/vm/order.
vm_busybox_initramfs() {
	local img=$1 init=$2 kver=$3 stage mods key m base bins=() libs b f
	shift 3
	mods=$(vm_module_files "$kver" "$@") || return 1
	# VM_INITRAMFS_BINS: programs to add, with the libraries they need.
	for b in ${VM_INITRAMFS_BINS:-}; do
		f=$(PATH=$PATH:/usr/sbin:/sbin command -v "$b") || vm_die "initramfs: no program $b"
		mapfile -t libs < <(ldd "$f" | grep -o '/[^ ]*')
		bins+=("$f" "${libs[@]}")
	done
	key=$( {
		cat "$init"
		ls -lL /bin/busybox
		for m in $mods "${bins[@]}"; do ls -lL "$m"; done
	} | sha256sum | cut -d' ' -f1)
	if [ -f "$img" ] && [ "$(cat "$img.key" 2>/dev/null)" = "$key" ]; then
		return 0
	fi
	# Private staging names: a demo and a check may build this at once.
	stage=$(mktemp -d "$img.XXXXXX") || return 1
	mkdir -p "$stage"/{bin,dev,proc,sys,mnt/root,lib/vm}
	: >"$stage/lib/vm/order"	# (all built in: none)
	cp /bin/busybox "$stage/bin/busybox"
	for f in "${bins[@]}"; do
		mkdir -p "$stage$(dirname "$f")"
		cp -L "$f" "$stage$f"
	done
	cp "$init" "$stage/init"
	chmod 755 "$stage/init"
	for m in $mods; do
		base=$(basename "$m")
		case $m in
		*.ko.xz)  xz -dc "$m" >"$stage/lib/vm/${base%.xz}" ;;
		*.ko.zst) zstd -qdc "$m" >"$stage/lib/vm/${base%.zst}" ;;
		*.ko.gz)  gzip -dc "$m" >"$stage/lib/vm/${base%.gz}" ;;
		*.ko)     cp "$m" "$stage/lib/vm/$base" ;;
		*)        vm_die "unexpected module file $m" ;;
		esac
		echo "${base%.ko*}" >>"$stage/lib/vm/order"
	done
	vm_cpio "$stage" | gzip -1 >"$stage.img" || return 1
	rm -f "$img.key"
	mv "$stage.img" "$img"
	echo "$key" >"$img.key"
	rm -rf "$stage"
}

# The newc archive of everything under DIR, on stdout.
vm_cpio() {
	(cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0)
}

# The test VM's initramfs (built if needed): mounts 9p, runs init.sh.
vm_initramfs() {
	local kver=$1 img
	img=$VM_BUILD/$kver/initramfs.cpio.gz
	mkdir -p "$VM_BUILD/$kver"
	vm_busybox_initramfs "$img" "$VM_TOP/tools/vm/init.sh" "$kver" \
		virtio_pci 9pnet_virtio 9p || return 1
	echo "$img"
}

# vm_qemu_dead PID LOG CONSOLE SILENCE SINCE
# Whether the QEMU PID (output: LOG, serial console: CONSOLE) is gone or as
# good as gone: exited, a fatal KVM error in LOG, or (SILENCE > 0) CONSOLE
# unchanged for SILENCE seconds, counted from SINCE (epoch seconds) while
# CONSOLE is empty; SINCE empty: not before the first output. If so, sets
# VM_DEAD_WHY and returns 0. (Few forks: nested.sh calls it every second.)
vm_qemu_dead() {
	local pid=$1 log=$2 con=$3 silence=$4 since=$5 last now
	VM_DEAD_WHY=
	if ! kill -0 "$pid" 2>/dev/null; then
		VM_DEAD_WHY="QEMU exited"
		return 0
	fi
	if [ -s "$log" ] && VM_DEAD_WHY=$(grep -aEm1 "$VM_QEMU_DEAD_RE" "$log"); then
		VM_DEAD_WHY=${VM_DEAD_WHY%$'\r'}
		return 0
	fi
	VM_DEAD_WHY=
	[ "$silence" -gt 0 ] || return 1
	last=$since
	[ -s "$con" ] && last=$(stat -c %Y "$con")
	[ -n "$last" ] || return 1
	printf -v now '%(%s)T' -1
	[ $((now - last)) -ge "$silence" ] || return 1
	VM_DEAD_WHY="no console output for $((now - last)) s"
}

# vm_qemu_watched LIMIT SILENCE LOG CONSOLE ARGS...
# Runs "qemu-system-x86_64 ARGS..." (stdout and stderr: LOG) until it
# exits, and returns its status. It never waits for a dead one: a QEMU
# that vm_qemu_dead calls dead (with SILENCE) is killed at once, status
# 125, and so is one with a CPU in a soft lockup for 200 s or more (checked
# every 10 s); one still running after LIMIT seconds too, status 124. VM_QEMU_WHY
# says what happened, empty for a clean exit.
vm_qemu_watched() {
	local limit=$1 silence=$2 log=$3 con=$4 pid t0 now rc n=0 stuck
	shift 4
	VM_QEMU_WHY=
	printf -v t0 '%(%s)T' -1
	qemu-system-x86_64 "$@" </dev/null >"$log" 2>&1 &
	pid=$!
	while :; do
		sleep 0.5
		printf -v now '%(%s)T' -1
		if vm_qemu_dead "$pid" "$log" "$con" "$silence" "$t0"; then
			if [ "$VM_DEAD_WHY" = "QEMU exited" ]; then
				wait "$pid"
				rc=$?
				[ $rc = 0 ] || VM_QEMU_WHY="QEMU exited with status $rc after $((now - t0)) s"
				return $rc
			fi
			VM_QEMU_WHY="$VM_DEAD_WHY (after $((now - t0)) s; QEMU killed)"
			rc=125
		elif [ $((now - t0)) -ge "$limit" ]; then
			VM_QEMU_WHY="still running after $limit s (QEMU killed)"
			rc=124
		elif [ $((++n % 20)) = 0 ] && [ -s "$con" ] &&
			stuck=$(grep -aEom1 'soft lockup - CPU#[0-9]+ stuck for ([2-9][0-9]{2}|[0-9]{4,})s' "$con"); then
			# Its watchdog keeps printing: the console is not silent.
			VM_QEMU_WHY="$stuck (after $((now - t0)) s; QEMU killed)"
			rc=125
		else
			continue
		fi
		[ -z "${VM_QEMU_MON:-}" ] || vm_cpu_dump "$VM_QEMU_MON"
		kill "$pid" 2>/dev/null
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.5
		done
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return $rc
	done
}

# Awk functions for the monitor parsers below. hex(h): the value of a
# hex string (no 0x). load(): a /proc/kallsyms text line into a[], s[],
# m[]. sym(w): the kallsyms symbol (a[1..n] addresses,
# s[] names, m[] modules) holding the 16-digit address w, as
# "name+0xoff [mod]", or "" (none within 64 KiB). stack(): the qwords of
# an "x/..gx" line into q[1..nq], 16 digits each. iret(): the first
# exception frame among q[] (kernel RIP, CS 0x10, RFLAGS, kernel RSP,
# SS 0x18 or 0), as "RIP RFLAGS", or "". mon_line(), mon_end(): a monitor
# log line by line, then its end: per "cpu N" section, f[N], the first
# exception frame on N's stack (x/..gx), and code[N], the bytes of an
# "x/..bx" ("e9 8c ...").
# shellcheck disable=SC2016  # awk code
VM_AWK_FUNCS='
function load() {
	if (length($1) == 16 && $2 ~ /^[tT]$/) {
		n++; a[n] = $1; s[n] = $3; m[n] = $4 == "" ? "" : " " $4
	}
}
function hex(h,   i, v) {
	v = 0
	for (i = 1; i <= length(h); i++)
		v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
	return v
}
function sym(w,   i, b, d) {
	b = 0
	for (i = 1; i <= n; i++)
		if (a[i] <= w && (!b || a[i] > a[b])) b = i
	if (!b || substr(w, 1, 8) != substr(a[b], 1, 8)) return ""
	d = hex(substr(w, 9)) - hex(substr(a[b], 9))
	return d < 65536 ? sprintf("%s+0x%x%s", s[b], d, m[b]) : ""
}
function stack(   j, w) {
	for (j = 2; j <= NF; j++) {
		w = tolower($j); sub(/^0x/, "", w)
		while (length(w) < 16) w = "0" w
		q[++nq] = w
	}
}
function mon_line(   j, w) {
	if ($0 ~ /^\(qemu\) .*cpu [0-9]+$/) {
		mon_end(); cpu = $NF
	} else if ($0 ~ /^[0-9a-f]+: / && cpu != "") {
		if (length($2) > 6) {
			stack()
		} else {
			code[cpu] = ""
			for (j = 2; j <= NF; j++) {
				w = tolower($j); sub(/^0x/, "", w)
				if (length(w) < 2) w = "0" w
				code[cpu] = code[cpu] (j > 2 ? " " : "") w
			}
		}
	}
}
function mon_end() {
	if (cpu != "" && nq) f[cpu] = iret()
	nq = 0
}
function iret(   i, f) {
	for (i = 1; i + 4 <= nq; i++) {
		f = hex(q[i + 2])
		if (q[i] ~ /^ffffffff/ && hex(q[i + 1]) == 16 && q[i + 3] ~ /^ff/ &&
		    (hex(q[i + 4]) == 24 || hex(q[i + 4]) == 0) && int(f / 2) % 2 && f < 4194304)
			return q[i] " " q[i + 2]
	}
	return ""
}'

# vm_mon FIFO FORMAT ARGS...: printf to a monitor's input, or fail in 5 s.
vm_mon() {
	# shellcheck disable=SC2016 # expanded by that sh
	timeout 5 sh -c 'printf "$@" >"$0"' "$@"
}

# vm_cpu_dump MON: every vCPU's registers from the monitor whose input
# is the fifo MON.in (its output in MON.log), three times a second apart
# (a spinning CPU moves); then, the VM stopped, once more with the top of
# each vCPU's stack (vm_cpu_stacks), and the code bytes just before the
# RIP of the first exception frame on each stack (vm_int3_loop).
vm_cpu_dump() {
	local _ c rip in=$1.in
	for _ in 1 2 3; do
		vm_mon "$in" 'info registers -a\n' || return
		sleep 1
	done
	vm_mon "$in" 'stop\ninfo registers -a\n' || return
	for ((c = 0; c < VM_SMP; c++)); do
		# shellcheck disable=SC2016 # the monitor's $sp
		vm_mon "$in" 'cpu %d\nx/64gx $sp\n' "$c" || return
	done
	sleep 1
	while read -r c rip; do
		vm_mon "$in" 'cpu %d\nx/8bx 0x%x\n' "$c" $((0x$rip - 1)) || return
	done < <(tr -d '\r' <"$1.log" | sed 's/\x1b\[[0-9]*[A-Z]//g' | awk "$VM_AWK_FUNCS"'
		{ mon_line() }
		END {
			mon_end()
			for (c in f) if (f[c] != "") { split(f[c], x, " "); print c, x[1] }
		}')
	sleep 1
}

# vm_cpu_stacks LOG SYMS...: the kernel text addresses found on each
# vCPU's stack in the monitor LOG (vm_cpu_dump's x/64gx), as symbols:
# a rough backtrace, stale frames included. "CPU#0: a+0x1 b+0x2 ...".
vm_cpu_stacks() {	# LOG SYMS...
	local log=$1 f syms=()
	shift
	[ -s "$log" ] || return 0
	for f in "$@"; do [ ! -f "$f" ] || syms+=("$f"); done
	# (The monitor echoes input with terminal escapes: dropped.)
	tr -d '\r' <"$log" | sed 's/\x1b\[[0-9]*[A-Z]//g' | awk "$VM_AWK_FUNCS"'
		FILENAME != "-" { load(); next }
		/^\(qemu\) .*cpu [0-9]+$/ { cpu = $NF; next }
		/^[0-9a-f]+: 0x/ && cpu != "" {
			nq = 0
			stack()
			for (j = 1; j <= nq; j++)
				if ((w = sym(q[j])) != "") {
					sub(/ .*/, "", w)
					out[cpu] = out[cpu] " " w
				}
		}
		END { for (c = 0; c < 4096; c++) if (c in out) printf "CPU#%d:%s\n", c, out[c] }' "${syms[@]}" -
}

# vm_cpu_where LOG SYMS...: each vCPU of the "info registers" dumps in
# LOG, at the kernel symbol (from SYMS, /proc/kallsyms lines) holding
# its RIP, distinct places in dump order, "(hlt)" for a halted one;
# "CPU#0 at a+0x1c, b+0x4 (hlt); CPU#1 at user". Nothing if no dump.
vm_cpu_where() {	# LOG SYMS...
	local log=$1 f syms=()
	shift
	[ -s "$log" ] || return 0
	for f in "$@"; do [ ! -f "$f" ] || syms+=("$f"); done
	tr -d '\r' <"$log" | awk "$VM_AWK_FUNCS"'
		FILENAME != "-" { load(); next }
		/^CPU#[0-9]+/ { cpu = $1; if (!(cpu in seen)) { seen[cpu] = 1; order[++nc] = cpu } }
		/^[RE]IP=/ && cpu != "" {
			rip = tolower(substr($1, 5)); cpl = $0; sub(/.*CPL=/, "", cpl); cpl += 0
			hlt = $0; sub(/.*HLT=/, "", hlt); hlt += 0
			if (cpl == 3) w = "user"
			else if (length(rip) != 16) w = $1
			else if ((w = sym(rip)) == "") w = rip
			if (hlt) w = w " (hlt)"
			if (index(", " at[cpu] ", ", ", " w ", ") == 0)
				at[cpu] = at[cpu] == "" ? w : at[cpu] ", " w
		}
		END {
			for (i = 1; i <= nc; i++)
				printf "%s%s at %s", (i > 1 ? "; " : ""), order[i], at[order[i]]
		}' "${syms[@]}" -
}

# vm_kvm_probe KVER: boot KVER under KVM with an init that only prints a
# marker and powers off. 0 if the marker came; else VM_PROBE_WHY says why,
# and status 2 means the verdict is final (worth caching).
vm_kvm_probe() {
	local kver=$1 dir img rc
	dir=$VM_BUILD/kvm-probe
	img=$dir/initramfs.cpio.gz
	VM_PROBE_WHY=
	if ! mkdir -p "$dir" ||
	   ! vm_busybox_initramfs "$img" "$VM_TOP/tools/vm/probe-init.sh" "$kver"; then
		VM_PROBE_WHY="cannot build the probe's initramfs"
		return 1
	fi
	rm -f "$dir/console.log"
	vm_qemu_watched "$VM_KVM_PROBE_SECS" 0 "$dir/qemu.log" "$dir/console.log" \
		-machine q35 -accel kvm -cpu max -smp 1 -m 256 \
		-nographic -monitor none -serial "file:$dir/console.log" \
		-no-reboot -nic none -kernel "$(vm_kimage "$kver")" -initrd "$img" \
		-append "console=ttyS0 panic=-1"
	rc=$?
	grep -qa '^vhnet-kvm-probe: ok' "$dir/console.log" 2>/dev/null && return 0
	case $rc in
	0)   VM_PROBE_WHY="QEMU exited without the guest's marker" ;;
	124) VM_PROBE_WHY="no marker from the guest within $VM_KVM_PROBE_SECS s"
	     return 1 ;;
	125) VM_PROBE_WHY=${VM_QEMU_WHY% (after*} ;;
	*)   VM_PROBE_WHY="$VM_QEMU_WHY: $(grep -av '^$' "$dir/qemu.log" | tail -1)" ;;
	esac
	return 2
}

# What decides a probe's outcome; a change of any of it probes again.
vm_accel_key() {
	local qemu
	qemu=$(command -v qemu-system-x86_64) || return 1
	{
		uname -srvm
		"$qemu" --version 2>&1 | head -1
		stat -Lc '%n %s %Y' "$qemu" "$(vm_kimage "$1")" "$VM_TOP/tools/vm/probe-init.sh"
		stat -Lc '%t:%T' "$VM_KVM_DEV"
		grep -m1 '^model name' /proc/cpuinfo
	} 2>&1 | sha256sum | cut -d' ' -f1
}

# Chooses the accelerator once per run (the result is exported): VHNET_ACCEL
# if set, TCG without a usable /dev/kvm, else KVM only if a probe boot
# under it worked. Verdicts are cached per machine in VM_ACCEL_CACHE.
vm_accel_init() {
	local kver key ckey cval cwhy rc
	[ -z "${VM_ACCEL:-}" ] || return 0
	export VM_ACCEL VM_ACCEL_WHY
	case ${VHNET_ACCEL:-} in
	kvm|tcg)
		VM_ACCEL=$VHNET_ACCEL VM_ACCEL_WHY="VHNET_ACCEL=$VHNET_ACCEL"
		return 0 ;;
	'') ;;
	*) vm_die "VHNET_ACCEL must be kvm or tcg, not '$VHNET_ACCEL'" ;;
	esac
	VM_ACCEL=tcg
	if [ ! -e "$VM_KVM_DEV" ]; then
		VM_ACCEL_WHY="no $VM_KVM_DEV"
		return 0
	fi
	if [ ! -r "$VM_KVM_DEV" ] || [ ! -w "$VM_KVM_DEV" ]; then
		VM_ACCEL_WHY="$VM_KVM_DEV is not read-write for $(id -un)"
		return 0
	fi
	kver=$(vm_kernels quick)
	[ -n "$kver" ] || kver=$(vm_kernels all | head -1)
	if [ -z "$kver" ] || ! key=$(vm_accel_key "$kver"); then
		VM_ACCEL_WHY="no kernel or QEMU to probe KVM with"
		return 0
	fi
	if read -r ckey cval cwhy 2>/dev/null <"$VM_ACCEL_CACHE" &&
	   [ "$ckey" = "$key" ]; then
		VM_ACCEL=$cval VM_ACCEL_WHY="$cwhy; cached in $VM_ACCEL_CACHE"
		return 0
	fi
	vm_kvm_probe "$kver"
	rc=$?
	case $rc in
	0) VM_ACCEL=kvm VM_ACCEL_WHY="kvm probe booted $kver" ;;
	*) VM_ACCEL_WHY="kvm probe failed: $VM_PROBE_WHY" ;;
	esac
	# A probe that only ran out of time is asked again next time.
	[ $rc = 1 ] && return 0
	mkdir -p "$(dirname "$VM_ACCEL_CACHE")" 2>/dev/null &&
		echo "$key $VM_ACCEL $VM_ACCEL_WHY" >"$VM_ACCEL_CACHE.$$" &&
		mv "$VM_ACCEL_CACHE.$$" "$VM_ACCEL_CACHE"
	return 0
}

vm_accel() {
	vm_accel_init
	echo "$VM_ACCEL"
}

vm_accel_line() {
	vm_accel_init
	echo "accel: $VM_ACCEL ($VM_ACCEL_WHY)"
}

# Boot KVER with the host's / read-only and OUT writable at the same path,
# and run "tools/vm/guest-run.sh MODE OUT" from this work tree in the guest.
# The debug kernel's modules are not in the host's /lib/modules: init.sh
# binds them there (vmmods=).
# Serial console: OUT/console.log. Returns QEMU's status as
# vm_qemu_watched does (124: timed out, 125: dead), and writes what went
# wrong to OUT/vm-failure.
vm_boot() {
	local kver=$1 out=$2 mode=$3 img cmdline rc mods=
	out=$(cd "$out" && pwd -P)
	# (Physical: init.sh resolves it before the chroot.)
	if vm_debug_kernel "$kver"; then
		mods=$(cd "$(vm_modroot "$kver")/lib/modules" && pwd -P) ||
			vm_die "no modules for $kver"
	fi
	case "$VM_TOP$out$mods" in
	*[[:space:]]*) vm_die "paths with whitespace cannot go on a kernel command line: $VM_TOP, $out, $mods" ;;
	esac
	img=$(vm_initramfs "$kver") || vm_die "initramfs for $kver failed"
	cmdline="console=ttyS0 panic=-1 panic_on_warn=0 softlockup_panic=0"
	# A soft lockup also shows where the other vCPUs are (NMI backtraces).
	cmdline+=" softlockup_all_cpu_backtrace=1"
	cmdline+=" vmrepo=$VM_TOP vmout=$out vmmode=$mode${mods:+ vmmods=$mods}"
	# guest-run.sh's per-test limit, if set here.
	[ -z "${VHNET_TEST_TIMEOUT:-}" ] || cmdline+=" vmtesttimeout=$VHNET_TEST_TIMEOUT"
	rm -f "$out/console.log" "$out/vm-failure" "$out/monitor.log" "$out/monitor".*
	# A monitor on fifos, for vm_cpu_dump should the VM hang.
	mkfifo "$out/monitor.in" "$out/monitor.out" || vm_die "mkfifo in $out"
	cat "$out/monitor.out" >"$out/monitor.log" &
	local cat_pid=$!
	vm_accel_init
	local accel=$VM_ACCEL
	[ "$VM_ACCEL" != tcg ] || accel=tcg,thread=$VM_TCG_THREAD
	VM_QEMU_MON=$out/monitor \
	vm_qemu_watched "$VM_TIMEOUT" "$VM_SILENCE" "$out/qemu.log" "$out/console.log" \
		-machine q35 -accel "$accel" -cpu "$VM_CPU" \
		-smp "$VM_SMP" -m "$VM_MEM" \
		-nographic -monitor none -serial "file:$out/console.log" \
		-chardev "pipe,id=mon0,path=$out/monitor" -mon chardev=mon0,mode=readline \
		-no-reboot -nic none -d cpu_reset -D "$out/qemu-reset.log" \
		-kernel "$(vm_kimage "$kver")" -initrd "$img" -append "$cmdline" \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		-virtfs "local,path=$out,mount_tag=vmout,security_model=none,multidevs=remap"
	rc=$?
	# (A QEMU that never opened the fifo leaves cat waiting for a writer.)
	kill "$cat_pid" 2>/dev/null
	wait "$cat_pid" 2>/dev/null
	rm -f "$out/monitor.in" "$out/monitor.out"
	local where
	if [ -n "$VM_QEMU_WHY" ]; then
		where=$(vm_cpu_where "$out/monitor.log" "$out"/results/kallsyms*)
		vm_cpu_stacks "$out/monitor.log" "$out"/results/kallsyms* >"$out/vm-stacks.txt"
		echo "$VM_QEMU_WHY${where:+ [vCPUs: $where]}" >"$out/vm-failure"
	elif [ "$rc" = 0 ] && ! grep -aq 'reboot: Power down' "$out/console.log"; then
		# -no-reboot: a reset (a panic, a triple fault) ends QEMU as a
		# power-off does; "-d cpu_reset" logs a triple fault as such.
		if grep -q '^Triple fault' "$out/qemu-reset.log" 2>/dev/null; then
			echo "the VM reset itself instead of powering off: a triple fault (QEMU's log: qemu-reset.log)" >"$out/vm-failure"
		else
			echo "the VM reset itself instead of powering off (a panic?)" >"$out/vm-failure"
		fi
	fi
	return $rc
}

# Print every line of the given logs that shows a kernel problem.
vm_log_problems() {
	local f found=0
	for f in "$@"; do
		[ -f "$f" ] || continue
		if grep -qaE "$VM_BAD_RE" "$f"; then
			grep -aE "$VM_BAD_RE" "$f" | sed "s|^|  $f: |"
			found=1
		fi
	done
	[ "$found" = 0 ]
}

# The first oops of a console log: when, what, where, and which modules
# were loaded (none: vhnet cannot have been involved).
vm_first_oops() {
	awk '
		{ sub(/\r$/, "") }
		/(Oops|BUG|general protection|Kernel panic)/ && !t {
			t = $0; sub(/^\[ *[0-9.]+\] /, "", t)
			s = $0; sub(/^\[ */, "", s); sub(/\].*/, "", s)
		}
		t && /RIP: / && !r { r = $0; sub(/.*RIP: [0-9]+:/, "", r) }
		t && /Modules linked in:/ && !m {
			m = $0; sub(/.*Modules linked in: */, "", m)
			if (m == "") m = "none"
		}
		END {
			if (t) printf "%s at %s s in %s, modules: %s\n", t, s, r, m
		}' "$1"
}

# The first kernel problem of a console log, if it is an int3 trap whose
# code bytes show no int3 (0xcc) just before the trapping RIP, outside
# vhnet: the CPU ran a breakpoint that is no longer in memory, the
# temporary int3 of a completed text_poke_bp() run from stale translated
# code by the outer QEMU's TCG (testing.rst). Nothing a module does makes
# a correct CPU do that. Prints "int3 at T s in RIP (code B <X>)".
vm_stale_int3() {	# CONSOLE
	awk -v bad="$VM_BAD_RE" '
		{ sub(/\r$/, "") }
		!h && /int3: [0-9a-f]+ \[#[0-9]+\]/ {
			h = 1; t = $0; sub(/^\[ */, "", t); sub(/\].*/, "", t)
			next
		}
		!h && $0 ~ bad { exit }
		h && /RIP: / && r == "" { r = $0; sub(/.*RIP: [0-9]+:/, "", r) }
		h && /Code: / {
			for (i = 2; i <= NF; i++)
				if ($i ~ /^<[0-9a-f][0-9a-f]>$/ && $(i - 1) ~ /^[0-9a-f][0-9a-f]$/)
					c = $(i - 1) " " $i
			exit
		}
		END {
			if (c == "" || c ~ /^cc / || r == "" || r ~ /\[vhnet\]/)
				exit 1
			printf "int3 at %s s in %s (code %s)\n", t, r, c
		}' "$1"
}

# vm_lockup_in_call OUT: if the first kernel problem in OUT/console.log
# is a soft lockup whose RIP is in smp_call_function_many_cond,
# smp_call_function_single or csd_lock_wait (a vCPU waiting for another
# to run its cross-call), prints "T CPU SYM": when the lockup began, the
# waiting CPU's number and where it waited; else fails.
vm_lockup_in_call() {	# OUT
	[ -s "$1/monitor.log" ] || return 1
	tr -d '\r' <"$1/console.log" | awk -v bad="$VM_BAD_RE" '
		$0 ~ bad && !p { p = $0; next }
		p && /RIP: / { sub(/.*RIP: [0-9]+:/, ""); print p "\t" $1; exit }
		p && /(Oops|Kernel panic|Call Trace|soft lockup)/ { exit }' | awk -F'\t' '
		$1 ~ /soft lockup - CPU#[0-9]+ stuck for [0-9]+s/ &&
		$2 ~ /^(smp_call_function_many_cond|smp_call_function_single|csd_lock_wait)\+/ {
			t = $1; sub(/^\[ */, "", t); sub(/\].*/, "", t)
			c = $1; sub(/.*CPU#/, "", c); sub(/ .*/, "", c)
			d = $1; sub(/.*stuck for /, "", d); sub(/s.*/, "", d)
			printf "%s %s %s\n", t - d, c, $2
			found = 1
		}
		END { exit !found }'
}

# vm_lost_ipi OUT: whether the test VM in OUT (console.log, monitor.log
# from vm_cpu_dump) was killed waiting in a cross-call (vm_lockup_in_call)
# that a halted vCPU never took: in every register dump the monitor gave,
# every other vCPU is halted (HLT=1) with interrupts enabled (IF, 0x200 in
# RFL): a CPU like that takes an IPI whatever the kernel or a module did,
# so the emulator lost it. Prints "lost IPI at T s: CPU#N waited in SYM".
vm_lost_ipi() {	# OUT
	local out=$1 t cpu sym
	read -r t cpu sym < <(vm_lockup_in_call "$out") || return 1
	tr -d '\r' <"$out/monitor.log" | awk -v stuck="CPU#$cpu" "$VM_AWK_FUNCS"'
		/^CPU#[0-9]+/ { c = $1; next }
		/^RIP=/ && c != "" {
			if (c == stuck) { next }
			rfl = tolower($2); sub(/rfl=/, "", rfl)
			halted = $0 ~ /HLT=1/ && int(hex(rfl) / 512) % 2 == 1
			n++; if (!halted) bad++
		}
		END { exit !(n > 0 && !bad) }' || return 1
	echo "lost IPI at $t s: CPU#$cpu waited in $sym, the other vCPUs halted with interrupts on"
}

# Where a vCPU trapping on int3 again and again can be: the int3 entry,
# handlers and return path, and the return thunks they go through.
VM_INT3_PATH_RE='int3|^(asm_)?exc_|kprobe|^error_(entry|return)$|^restore_regs_and_return_to_kernel$|^native_iret$|^(irqentry|ct|rcu)_nmi_|^bsearch$|^patch_cmp$|^notify_die$|notifier_call_chain$|^_*x86_return_thunk$|^srso_|^retbleed_|^entry_untrain_ret$|^_*x86_indirect_thunk|^sync_regs$'

# vm_int3_loop OUT: whether the test VM in OUT (console.log, monitor.log
# from vm_cpu_dump, results/kallsyms*) was killed waiting in a cross-call
# (vm_lockup_in_call) that the other vCPU never took because it trapped,
# again and again, on an int3 that is no longer in memory. On a trap at
# such a place the kernel backs up over the vanished int3 and returns
# (kprobe_int3_handler), and a correct CPU then runs what memory holds;
# one that runs stale translated code traps again, for ever. Evidence:
# in every register dump, the last one taken with the VM stopped
# included, each other vCPU is in the int3 path (VM_INT3_PATH_RE) or at
# the trapping place; in the stopped VM its stack holds an exception
# frame whose RIP R is kernel text outside vhnet, the last dump is in the
# int3 path or at R, and memory holds no int3 (0xcc) at R - 1 or R.
# The silent form: no lockup report, no kernel problem in the console at
# all, and every vCPU trapping so (with interrupts off, none is left to
# report); the time is then the console's last line. Prints "int3 loop
# at T s: ...".
vm_int3_loop() {	# OUT
	local out=$1 t cpu sym f syms=() loop
	if ! read -r t cpu sym < <(vm_lockup_in_call "$out"); then
		[ -s "$out/monitor.log" ] &&
			vm_log_problems "$out/console.log" >/dev/null &&
			t=$(vm_console_end "$out/console.log") || return 1
		cpu='' sym=''
	fi
	for f in "$out"/results/kallsyms*; do [ ! -f "$f" ] || syms+=("$f"); done
	loop=$(tr -d '\r' <"$out/monitor.log" | sed 's/\x1b\[[0-9]*[A-Z]//g' |
		awk -v stuck="$cpu" -v re="$VM_INT3_PATH_RE" "$VM_AWK_FUNCS"'
		function near(x, r) {	# x is r - 1 or r
			return substr(x, 1, 8) == substr(r, 1, 8) &&
				hex(substr(r, 9)) - hex(substr(x, 9)) <= 1 &&
				hex(substr(r, 9)) - hex(substr(x, 9)) >= 0
		}
		function inpath(x,   w) {
			w = sym(x); sub(/\+.*/, "", w)
			return w != "" && w ~ re
		}
		FILENAME != "-" { load(); next }
		{ mon_line() }
		/^CPU#[0-9]+/ { rc = substr($1, 5); next }
		/^RIP=/ && rc != "" { rip[rc, ++nr[rc]] = tolower(substr($1, 5)) }
		END {
			mon_end()
			for (c = 0; c < 4096; c++) {
				if (!(c in nr) || c "" == stuck) continue
				others++
				if (!(c in f) || f[c] == "" || !(c in code)) continue
				split(f[c], fr, " "); r = fr[1]
				nb = split(code[c], b, " ")
				if (nb < 2 || b[1] == "cc" || b[2] == "cc") continue
				w = sym(r)
				last = rip[c, nr[c]]
				if (w == "" || w ~ /\[vhnet\]/ || (!inpath(last) && !near(last, r))) continue
				good = 1
				for (i = 1; i <= nr[c]; i++)
					if (!inpath(rip[c, i]) && !near(rip[c, i], r)) good = 0
				if (!good) continue
				loops++
				msg = msg (msg == "" ? "" : "; ") sprintf("CPU#%s trapped again and again at %s (%s), whose bytes hold no int3 (%s), interrupts %s there",
					c, r, w, code[c], int(hex(fr[2]) / 512) % 2 ? "on" : "off")
			}
			if (others && loops == others) print msg
			else exit 1
		}' "${syms[@]}" -) || return 1
	if [ -n "$cpu" ]; then
		echo "int3 loop at $t s: $loop, while CPU#$cpu waited in $sym"
	else
		echo "int3 loop at $t s (the console's last line): $loop; every vCPU, none left to report it"
	fi
}

# vm_console_end CONSOLE: the time of the console's last timestamped line
# (a kernel message's "[ T]" or guest-run.sh's "vm: [Ts]").
vm_console_end() {	# CONSOLE
	tr -d '\r' <"$1" | awk '
		/^\[ *[0-9]+\.[0-9]+\]/ { x = $0; sub(/^\[ */, "", x); sub(/\].*/, "", x) }
		/^vm: \[[0-9.]+s\]/ { x = $0; sub(/^vm: \[/, "", x); sub(/s\].*/, "", x) }
		x != "" && (t == "" || x + 0 > t + 0) { t = x }
		END { if (t == "") exit 1; print t }'
}

# vm_rcu_stall OUT: if the first kernel problem in OUT/console.log comes
# with (or after) an RCU stall report, prints "T REF CPUS": when it was
# reported, the CPU that detected it and the stalled CPUs (0,1); else fails.
vm_rcu_stall() {	# OUT
	[ -s "$1/monitor.log" ] || return 1
	tr -d '\r' <"$1/console.log" | awk -v bad="$VM_BAD_RE" '
		!t && /rcu: INFO: rcu_[a-z]+ detected stalls/ {
			t = $0; sub(/^\[ */, "", t); sub(/\].*/, "", t)
			next
		}
		!t && $0 ~ bad { exit 1 }
		t && /rcu:[ \t]+[0-9]+-/ { x = $0; sub(/.*rcu:[ \t]+/, "", x); sub(/-.*/, "", x); l = l (l == "" ? "" : ",") x }
		t && /detected by [0-9]+,/ { r = $0; sub(/.*detected by /, "", r); sub(/,.*/, "", r); exit }
		END { if (t == "" || l == "" || r == "") exit 1; print t, r, l }'
}

# vm_ipi_in_l2 OUT: whether the test VM in OUT (console.log, monitor.log,
# results/kallsyms*) died because a vCPU stayed in a nested guest: an
# interrupt for the test VM's kernel, a timer tick or another CPU's
# cross-call, must end a nested guest's run (KVM intercepts them all), so
# a vCPU that never comes out is the emulator's doing. Its first kernel
# problem is a soft lockup waiting in a cross-call (vm_lockup_in_call) or
# an RCU stall report (vm_rcu_stall: the stalled vCPU took no tick), and,
# in every register dump, every other vCPU (the stalled ones) has a RIP
# that is not the kernel's or a module's (kallsyms), a CR4 that is not the
# waiting (detecting) vCPU's (the kernel sets the same on every CPU; TSD
# and PCE, set per task, aside) and EFER.SVME on (only a vCPU that runs
# KVM guests has it). Prints "cross-call lost in a nested guest at T s:
# ..." or "RCU stall in a nested guest at T s: ...".
vm_ipi_in_l2() {	# OUT
	local out=$1 t cpu sym f syms=() held cands='' what
	if read -r t cpu sym < <(vm_lockup_in_call "$out"); then
		what="cross-call lost in a nested guest" sym="waited in $sym"
	elif read -r t cpu cands < <(vm_rcu_stall "$out"); then
		what="RCU stall in a nested guest" sym="reported it"
	else
		return 1
	fi
	for f in "$out"/results/kallsyms*; do [ ! -f "$f" ] || syms+=("$f"); done
	held=$(tr -d '\r' <"$out/monitor.log" | sed 's/\x1b\[[0-9]*[A-Z]//g' |
		awk -v stuck="$cpu" -v cands=",$cands," "$VM_AWK_FUNCS"'
		function cr4key(x,   v) {
			v = hex(x)
			return v - (int(v / 4) % 2) * 4 - (int(v / 256) % 2) * 256
		}
		FILENAME != "-" { load(); next }
		/^CPU#[0-9]+/ {
			c = substr($1, 5); cpus[c] = 1
			if (c + 0 <= prev + 0 || !d) d++
			prev = c
			next
		}
		/^RIP=/ && c != "" { rip[d, c] = tolower(substr($1, 5)) }
		/^CR0=/ && c != "" { x = $0; sub(/.*CR4=/, "", x); cr4[d, c] = tolower(x) }
		/^EFER=/ && c != "" { x = tolower($1); sub(/efer=/, "", x); svme[d, c] = int(hex(x) / 4096) % 2 }
		END {
			if (!d || !(stuck in cpus)) exit 1
			for (c = 0; c < 4096; c++) {
				if (!(c in cpus) || c "" == stuck || (cands != ",," && index(cands, "," c ",") == 0))
					continue
				for (i = 1; i <= d; i++)
					if (rip[i, c] == "" || sym(rip[i, c]) != "" || cr4[i, c] == "" ||
					    cr4[i, stuck] == "" || cr4key(cr4[i, c]) == cr4key(cr4[i, stuck]) || !svme[i, c])
						exit 1
				msg = msg (msg == "" ? "" : "; ") sprintf("CPU#%s in a nested guest in all %d dumps (RIP %s, not the kernel'"'"'s or a module'"'"'s; CR4 %s, the kernel'"'"'s %s; EFER.SVME on)",
					c, d, rip[d, c], cr4[d, c], cr4[d, stuck])
			}
			if (msg == "") exit 1
			print msg
		}' "${syms[@]}" -) || return 1
	echo "$what at $t s: $held, while CPU#$cpu $sym"
}

# vm_nested_triple_fault OUT: whether the test VM in OUT reset in a
# triple fault (OUT/qemu-reset.log) while it ran nested guests (kvm_amd
# (6.1: kvm) had enabled nested virtualization), its kernel having reported no
# problem. Linux reports a double fault on a stack of its own before a
# triple fault could follow, so one that comes silently means the CPU
# state was lost: TCG's emulated SVM, restoring the host state at a
# #VMEXIT, is where that happens (seen at a nested guest's boot).
# Prints "triple fault while nested guests ran at T s" (T: the console's
# last line).
vm_nested_triple_fault() {	# OUT
	local out=$1 t
	grep -q '^Triple fault' "$out/qemu-reset.log" 2>/dev/null || return 1
	grep -aqE 'kvm(_amd)?: Nested Virtualization enabled' "$out/console.log" || return 1
	vm_log_problems "$out/console.log" >/dev/null || return 1
	t=$(vm_console_end "$out/console.log") || return 1
	echo "triple fault while nested guests ran at $t s (the console's last line), no kernel problem reported before it"
}

# vm_stack_guard_entry CONSOLE: whether the console's first kernel
# problem is a kernel stack overflow in the exception entry code
# (error_entry, asm_exc_*) of a QEMU thread while nested KVM guests ran:
# an exception that kept recurring on its own entry path, the CPU state
# lost around a #VMEXIT by the emulated SVM (seen on 6.1 and 6.12, each
# time in a nested guest's QEMU). Prints "stack guard page hit in RIP of
# COMM at T s, nested guests running".
vm_stack_guard_entry() {	# CONSOLE
	grep -aqE 'kvm(_amd)?: Nested Virtualization enabled' "$1" 2>/dev/null || return 1
	tr -d '\r' <"$1" | awk -v re="$VM_BAD_RE" '
		!first && $0 ~ re {
			first = 1
			if ($0 !~ /BUG: TASK stack guard page was hit/) { bad = 1; exit }
			t = $0; sub(/^\[ */, "", t); sub(/\].*/, "", t)
			next
		}
		first && comm == "" && /Comm: / { comm = $0; sub(/.*Comm: /, "", comm); sub(/ .*/, "", comm) }
		first && rip == "" && /RIP: 0010:/ { rip = $0; sub(/.*RIP: 0010:/, "", rip); sub(/ .*/, "", rip) }
		END {
			if (bad || !first || comm !~ /^qemu-system/ ||
			    rip !~ /^(error_entry|asm_exc_[a-z_]+)\+/)
				exit 1
			printf "stack guard page hit in %s of %s at %s s, nested guests running\n", rip, comm, t
		}'
}

# A test VM (OUT: console.log, results/) that died of vm_stale_int3,
# vm_lost_ipi, vm_int3_loop, vm_ipi_in_l2, vm_nested_triple_fault or
# vm_stack_guard_entry
# may boot again only if nothing had failed by then: no setup failure,
# and every test that ended
# before the flaw (guest-run.sh's "vm: [Ts] NAME exited with status R"
# lines) exited 0 with no failed case. What ran after it, the test it
# interrupted included, is the flaw's doing. Prints the flaw.
vm_flaw_retry_ok() {	# OUT
	local out=$1 sig
	sig=$(vm_stale_int3 "$out/console.log") || sig=$(vm_lost_ipi "$out") ||
		sig=$(vm_int3_loop "$out") || sig=$(vm_ipi_in_l2 "$out") ||
		sig=$(vm_nested_triple_fault "$out") ||
		sig=$(vm_stack_guard_entry "$out/console.log") || return 1
	[ ! -s "$out/results/setup-failures" ] || return 1
	[ "$(vm_flaw_ended "$out" "$sig")" = "$(vm_flaw_passed "$out" "$sig")" ] || return 1
	echo "$sig"
}

# vm_flaw_ended OUT SIG: the tests that ended before the flaw SIG
# ("... at T s...", from vm_flaw_retry_ok), one a line.
vm_flaw_ended() {	# OUT SIG
	local t=${2#* at }
	t=${t%% s*}
	tr -d '\r' <"$1/console.log" |
		sed -n 's/^vm: \[\([0-9.]*\)s\] \([A-Za-z0-9_]*\) \(exited with status\|is stuck in\).*/\1 \2/p' |
		awk -v t="$t" '$1 + 0 < t + 0 { print $2 }'
}

# vm_flaw_passed OUT SIG: of those, the ones that passed (all of them,
# when vm_flaw_retry_ok allowed the retry).
vm_flaw_passed() {	# OUT SIG
	local name
	while read -r name; do
		[ "$(cat "$1/results/$name.rc" 2>/dev/null)" = 0 ] &&
			! grep -q '^not ok' "$1/results/$name.tap" 2>/dev/null &&
			echo "$name"
	done < <(vm_flaw_ended "$1" "$2")
}
