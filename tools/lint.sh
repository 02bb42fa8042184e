#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# lint.sh: checkpatch --strict over every C source and header of ours,
# sparse (C=2) over the module built against each supported kernel, then
# the shell scripts through shellcheck.
# Exits non-zero on any finding. Logs: build/lint/.
set -uo pipefail
# shellcheck source=tools/vm/lib.sh
. "$(dirname "$0")/vm/lib.sh"
cd "$VM_TOP" || exit 1

"$VM_TOP/tools/ksrc.sh" || vm_die "tools/ksrc.sh failed"
findings=0

# --- checkpatch -----------------------------------------------------------
# Kernel code (module, UAPI headers) gets every check. Userspace code (fake
# guest, tools, examples, selftests) skips only the checks that ask for
# kernel-only APIs:
#   BIT_MACRO            BIT()/BIT_ULL() come from <linux/bits.h>, which is
#                        not exported to userspace
#   PREFER_KERNEL_TYPES  u8/u32/... are kernel-internal typedefs; userspace
#                        has <stdint.h> (and __u32 only at the UAPI boundary)
checkpatch() {	# WHAT IGNORE-LIST FILE...
	local what=$1 ignore=()
	[ -n "$2" ] && ignore=("--ignore=$2")
	shift 2
	[ $# -gt 0 ] || return 0
	vm_msg "lint: checkpatch --strict over $what ($# files)"
	"$VM_BUILD/ksrc/scripts/checkpatch.pl" --strict --no-tree --terse \
		--show-types "${ignore[@]}" -f "$@" || {
		vm_msg "lint: checkpatch FAILED ($what)"
		findings=$((findings + 1))
	}
}

shopt -s nullglob globstar
kfiles=()
for f in drivers/vhnet/*.[ch] include/uapi/**/*.h; do
	[ "$f" = drivers/vhnet/vhnet_trace.h ] || kfiles+=("$f")
done
ufiles=(tools/fakeguest/*.[ch] tools/vhnetstat/*.[ch] tools/examples/*.[ch]
	selftests/*.[ch])
shopt -u nullglob globstar
checkpatch "kernel code" "" "${kfiles[@]}"
# TRACE_EVENT()'s layout, as in the kernel's own include/trace/events/.
checkpatch "tracepoints" OPEN_ENDED_LINE,PARENTHESIS_ALIGNMENT \
	drivers/vhnet/vhnet_trace.h
checkpatch "userspace code" BIT_MACRO,PREFER_KERNEL_TYPES "${ufiles[@]}"

# --- sparse ---------------------------------------------------------------
# Built in a copy of the sources per kernel, as for the VM tests. Only
# reports about our files count; kernel headers are not ours to fix.
if ! command -v sparse >/dev/null; then
	vm_msg "lint: sparse is not installed (make deps)"
	findings=$((findings + 1))
else
	mapfile -t kernels < <(vm_kernels all)
	[ ${#kernels[@]} -gt 0 ] || { vm_msg "lint: no supported kernel installed"; findings=$((findings + 1)); }
	for k in "${kernels[@]}"; do
		dir=$VM_BUILD/lint/$k
		log=$dir/sparse.log
		vm_copy_src "$dir/src"
		vm_msg "lint: sparse against $k"
		if ! vm_kbuild "$k" "$dir/src" "$log" C=2; then
			vm_msg "lint: module build with C=2 FAILED for $k (log: $log)"
			findings=$((findings + 1))
		fi
		# The directory name has regex characters in it (6.12.117+deb12).
		prefix=$(printf '%s' "$dir/src/" | sed 's/[][\\.*^$+?(){}|]/\\&/g')
		ours="^$prefix(drivers|include)/[^:]*:"
		if grep -aE "$ours" "$log" | grep -qE ':[0-9]+(:[0-9]+)?: (warning|error):'; then
			grep -aE "$ours" "$log" | cut -c$((${#dir} + 6))-
			vm_msg "lint: sparse FAILED for $k (log: $log)"
			findings=$((findings + 1))
		fi
	done
fi

# --- shellcheck -----------------------------------------------------------
shopt -s nullglob
shfiles=(tools/*.sh tools/*/*.sh selftests/*.sh)
shopt -u nullglob
if ! command -v shellcheck >/dev/null; then
	vm_msg "lint: shellcheck is not installed (make deps)"
	findings=$((findings + 1))
else
	vm_msg "lint: shellcheck over ${#shfiles[@]} shell scripts"
	# -x: follow the "source=" directives (paths from the top).
	shellcheck -x "${shfiles[@]}" || {
		vm_msg "lint: shellcheck FAILED"
		findings=$((findings + 1))
	}
fi

if [ "$findings" -gt 0 ]; then
	vm_msg "lint: FAILED"
	exit 1
fi
vm_msg "lint: OK"
