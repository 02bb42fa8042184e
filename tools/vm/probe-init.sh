#!/bin/busybox sh
# shellcheck shell=dash
# SPDX-License-Identifier: GPL-2.0
# /init of the KVM probe (vm_kvm_probe in lib.sh): if the kernel got this
# far under KVM, say so and power off.
/bin/busybox echo "vhnet-kvm-probe: ok"
/bin/busybox poweroff -f
