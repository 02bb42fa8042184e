# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Shared shell functions for the vhnet VM tooling. Sourced (bash), never run.
#
#   vm_kernels quick|all        supported kernel versions, one a line
#   vm_copy_src DEST            fresh copy of the module sources into DEST
#   vm_kbuild KVER SRC LOG ARGS build SRC against KVER, log to LOG
#   vm_initramfs KVER           (cached) busybox initramfs that mounts 9p
#   vm_busybox_initramfs IMG INIT KVER MODULE...  the same, any /init
#   vm_boot KVER OUT MODE       boot KVER, run tools/vm/guest-run.sh MODE OUT
#   vm_log_problems FILE...     print kernel-problem lines; 1 if any
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

# Kernel log lines that mean something went wrong in the guest kernel.
# Our own scripts never print these words.
VM_BAD_RE='Oops|BUG:|WARNING:|general protection|soft lockup|hung task|blocked for more than|Call Trace|Kernel panic|kernel BUG|UBSAN:|refcount_t:|list_(add|del) corruption'

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
	*)	vm_die "vm_kernels: unknown set '$1'" ;;
	esac
	return 0
}

# A private copy per kernel so that two kernels never share object files,
# and a clean one each time so that W=1 sees every file compile.
vm_copy_src() {
	local dest=$1
	rm -rf "$dest"
	mkdir -p "$dest"
	cp -R "$VM_TOP/Kbuild" "$VM_TOP/drivers" "$dest/"
	# Objects someone built in place in the work tree must not leak in.
	find "$dest" \( -name '*.o' -o -name '*.ko' -o -name '.*.cmd' \
		-o -name '*.mod' -o -name '*.mod.c' \) -delete
}

vm_kbuild() {
	local kver=$1 src=$2 log=$3
	shift 3
	make -C "/lib/modules/$kver/build" M="$src" "$@" modules >"$log" 2>&1
}

# Module files (paths, dependency order, each once) that loading MODULE...
# on KVER needs; built-in ones are skipped.
vm_module_files() {
	local kver=$1 m
	shift
	for m in "$@"; do
		modprobe -S "$kver" --show-depends "$m" ||
			vm_die "cannot resolve module $m for $kver"
	done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }'
}

# vm_busybox_initramfs IMG INIT KVER MODULE...
# (Cached) gzipped initramfs IMG: busybox, INIT as /init, and KVER's
# MODULE... with their dependencies, uncompressed, in /lib/vm, their names
# in load order in /lib/vm/order.
vm_busybox_initramfs() {
	local img=$1 init=$2 kver=$3 stage mods key m base
	shift 3
	mods=$(vm_module_files "$kver" "$@") || return 1
	key=$( {
		cat "$init"
		ls -lL /bin/busybox
		for m in $mods; do ls -lL "$m"; done
	} | sha256sum | cut -d' ' -f1)
	if [ -f "$img" ] && [ "$(cat "$img.key" 2>/dev/null)" = "$key" ]; then
		return 0
	fi
	# Private staging names: a demo and a check may build this at once.
	stage=$(mktemp -d "$img.XXXXXX") || return 1
	mkdir -p "$stage"/{bin,dev,proc,sys,mnt/root,lib/vm}
	cp /bin/busybox "$stage/bin/busybox"
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

vm_accel() {
	if [ -w /dev/kvm ]; then echo kvm; else echo tcg; fi
}

# Boot KVER with the host's / read-only and OUT writable at the same path,
# and run "tools/vm/guest-run.sh MODE OUT" from this work tree in the guest.
# Serial console: OUT/console.log. Returns qemu's status (124: timed out).
vm_boot() {
	local kver=$1 out=$2 mode=$3 img cmdline
	out=$(cd "$out" && pwd -P)
	case "$VM_TOP$out" in
	*[[:space:]]*) vm_die "paths with whitespace cannot go on a kernel command line: $VM_TOP, $out" ;;
	esac
	img=$(vm_initramfs "$kver") || vm_die "initramfs for $kver failed"
	cmdline="console=ttyS0 panic=-1 panic_on_warn=0 softlockup_panic=0"
	cmdline+=" vmrepo=$VM_TOP vmout=$out vmmode=$mode"
	# guest-run.sh's per-test limit, if set here.
	[ -z "${VHNET_TEST_TIMEOUT:-}" ] || cmdline+=" vmtesttimeout=$VHNET_TEST_TIMEOUT"
	rm -f "$out/console.log"
	timeout -k 10 "$VM_TIMEOUT" qemu-system-x86_64 \
		-machine q35 -accel "$(vm_accel)" -cpu max \
		-smp "$VM_SMP" -m "$VM_MEM" \
		-nographic -monitor none -serial "file:$out/console.log" \
		-no-reboot -nic none \
		-kernel "/boot/vmlinuz-$kver" -initrd "$img" -append "$cmdline" \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		-virtfs "local,path=$out,mount_tag=vmout,security_model=none,multidevs=remap" \
		</dev/null >"$out/qemu.log" 2>&1
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
