#!/bin/busybox sh
# shellcheck shell=dash disable=SC2013  # word splitting is intended
# SPDX-License-Identifier: GPL-2.0
# /init of the vhnet test initramfs (see vm_initramfs in lib.sh): mount the
# host's / (9p tag hostroot, read-only) and the writable output directory
# (tag vmout) at its host path, then chroot into the host userland and run
#   <vmrepo>/tools/vm/guest-run.sh <vmmode> <vmout>
# vmmods=DIR: the kernel's modules are in the host's DIR/<uname -r>, not in
# its /lib/modules (the debug kernel); they are bound there.
# Everything after that is powered off, whatever happened.

/bin/busybox --install -s /bin
export PATH=/bin

say() { echo "vm-init: $*"; }

off() {
	sync
	poweroff -f
	echo o >/proc/sysrq-trigger
	sleep 5
	exit 1		# init exiting panics, and panic=-1 -no-reboot ends qemu
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

for m in $(cat /lib/vm/order); do
	insmod "/lib/vm/$m.ko" || say "cannot load $m"
done

repo='' out='' mode='' mods=''
for w in $(cat /proc/cmdline); do
	case $w in
	vmrepo=*) repo=${w#vmrepo=} ;;
	vmout=*)  out=${w#vmout=} ;;
	vmmode=*) mode=${w#vmmode=} ;;
	vmmods=*) mods=${w#vmmods=} ;;
	vmtesttimeout=*) export VHNET_TEST_TIMEOUT="${w#vmtesttimeout=}" ;;
	esac
done
if [ -z "$repo" ] || [ -z "$out" ] || [ -z "$mode" ]; then
	say "vmrepo=, vmout= and vmmode= are required"
	off
fi

r=/mnt/root
o9p=trans=virtio,version=9p2000.L,msize=512000
n=0
until mount -t 9p -o "$o9p,ro,cache=loose" hostroot $r; do
	n=$((n + 1))
	[ $n -lt 20 ] || { say "cannot mount the host root"; off; }
	sleep 0.5
done
# The guest gets fresh tmpfs on /tmp, /run and /var/tmp; the work tree may
# live under one of those on the host, so keep it visible through a bind.
mkdir -p /mnt/repo
mount --bind "$r$repo" /mnt/repo || { say "no $repo in the host root"; off; }
mount -t proc proc $r/proc
mount -t sysfs sysfs $r/sys
mount -t debugfs debugfs $r/sys/kernel/debug 2>/dev/null
mount -t devtmpfs devtmpfs $r/dev
mkdir -p $r/dev/pts $r/dev/shm
mount -t devpts devpts $r/dev/pts
mount -t tmpfs tmpfs $r/dev/shm
mount -t tmpfs tmpfs $r/tmp
mount -t tmpfs tmpfs $r/run
mount -t tmpfs tmpfs $r/var/tmp
mkdir -p "$r$repo" 2>/dev/null
mount --bind /mnt/repo "$r$repo" || { say "cannot bind $repo"; off; }
mkdir -p "$r$out" 2>/dev/null
mount -t 9p -o "$o9p" vmout "$r$out" || { say "cannot mount $out"; off; }
if [ -n "$mods" ]; then
	k=$(uname -r)
	{ mount -t tmpfs tmpfs $r/lib/modules && mkdir "$r/lib/modules/$k" &&
	  mount --bind "$r$mods/$k" "$r/lib/modules/$k"; } ||
		{ say "cannot bind $mods/$k to /lib/modules/$k"; off; }
fi

chroot $r /bin/bash "$repo/tools/vm/guest-run.sh" "$mode" "$out"
say "guest-run.sh exited with status $?"
umount "$r$out"
off
