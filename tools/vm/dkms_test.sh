#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# dkms_test.sh [--keep | --purge]: TAP test of the vhnet-dkms package
# (make deb) on this host, as root. It changes the host: it installs and
# purges the package (and apt-get installs dkms and the build deps).
#
#   --keep   purges what an earlier run left, builds the package, installs
#            it with apt-get and checks it: DKMS built and installed vhnet
#            for every kernel with headers (/lib/modules/*/build), at
#            VHNET_VERSION, parameters described, the udev rule, the
#            modprobe.d example and the docs in place, a kernel installed
#            later gets vhnet too, and so do the others when one of them
#            runs. Leaves it installed, and lists each kernel's DKMS-built
#            module as "KVER PATH" lines in $VHNET_DKMS_KO (default
#            build/dkms_test/ko.txt) and as "# ko KVER PATH" lines (on
#            6.12 a .ko.xz, as that kernel's own modules are).
#   --purge  apt-get purge vhnet-dkms, then checks that nothing is left.
#   (none)   --keep, then --purge.
#
# Logs: build/dkms_test/. About 80 s with dkms and the build deps
# installed.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd -P)
build=${VHNET_BUILD:-$top/build}
logs=$build/dkms_test
ko_list=${VHNET_DKMS_KO:-$logs/ko.txt}
pkg=vhnet-dkms
export DEBIAN_FRONTEND=noninteractive

keep=0 purge=0
case ${1:-} in
--keep) keep=1 ;;
--purge) purge=1 ;;
'') keep=1 purge=1 ;;
*) echo "usage: $0 [--keep | --purge]" >&2; exit 2 ;;
esac
if [ "$(id -u)" != 0 ]; then
	echo "dkms_test: needs root (installs and purges $pkg)" >&2
	exit 2
fi
mkdir -p "$logs" && cd "$top" || exit 1

# shellcheck source=tools/vm/tap.sh
. "$top/tools/vm/tap.sh"
# Its cases read "ok N - ...".
ok() { result "$1" "- $2"; }
# The last lines of a log, as TAP comments.
diag_log() { tail -"${2:-15}" "$1" | sed 's/^/#   /'; }

version=$(sed -n 's/^#define[[:space:]]\+VHNET_VERSION[[:space:]]\+"\([^"]*\)".*/\1/p' \
	"$top/drivers/vhnet/vhnet.h")
# What DKMS builds for: every kernel whose build tree has include/ (the
# test of dkms's postinst and kernel hooks).
kernels=()
for d in /lib/modules/*/build; do
	[ -e "$d/include" ] || continue
	d=${d%/build}
	kernels+=("${d#/lib/modules/}")
done

pkg_status() { dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null; }
dkms_of() { dkms status -m vhnet 2>/dev/null; }

# Every trace of the package, one a line; nothing when it is all gone.
leftovers() {
	local s f k
	s=$(pkg_status)
	[ -z "$s" ] || [ "$s" = not-installed ] || echo "dpkg: $pkg is $s"
	for f in /usr/src/vhnet-* /var/lib/dkms/vhnet /usr/share/doc/$pkg \
		{/lib,/usr/lib,/etc}/udev/rules.d/60-vhnet.rules /etc/modprobe.d/vhnet*; do
		[ -e "$f" ] && echo "file: $(readlink -f "$f")"
	done | sort -u
	find /lib/modules -name 'vhnet.ko*' 2>/dev/null | sed 's/^/module: /'
	for k in "${kernels[@]}"; do
		modinfo -k "$k" -n vhnet >/dev/null 2>&1 && echo "modinfo -k $k: vhnet"
	done
	dkms_of | sed 's/^/dkms: /'
}

# Purges the package and whatever an interrupted run left in DKMS. A
# DKMS tree whose sources are gone is past dkms remove (and dkms status):
# its files go by hand.
purge_all() {
	local s v f k
	s=$(pkg_status)
	if [ -n "$s" ] && [ "$s" != not-installed ]; then
		apt-get purge -y -q "$pkg" </dev/null >>"$logs/purge.log" 2>&1 ||
			dpkg --purge --force-remove-reinstreq "$pkg" >>"$logs/purge.log" 2>&1
	fi
	for v in $( {
		dkms_of | sed -n 's|^vhnet/\([^,:]*\).*|\1|p'
		for f in /var/lib/dkms/vhnet/*/source; do
			[ -L "$f" ] && basename "$(dirname "$f")"
		done
	} | sort -u); do
		dkms remove -m vhnet -v "$v" --all >>"$logs/purge.log" 2>&1
	done
	[ -e /var/lib/dkms/vhnet ] || return 0
	for f in /lib/modules/*/updates/dkms/vhnet.ko*; do
		[ -e "$f" ] || continue
		rm -f "$f"
		k=${f#/lib/modules/}
		depmod "${k%%/*}"
	done
	rm -rf /var/lib/dkms/vhnet
}

planned=0
[ $keep = 0 ] || planned=$((planned + 14 + 5 * ${#kernels[@]}))
[ $purge = 0 ] || planned=$((planned + 7))
echo "TAP version 13"
echo "1..$planned"
diag "vhnet $version; kernels with headers: ${kernels[*]:-none}"

# --- install ----------------------------------------------------------------
if [ $keep = 1 ]; then
	: >"$logs/purge.log"
	left=$(leftovers)
	if [ -n "$left" ]; then
		diag "left from an earlier run, purging:" "$left"
		purge_all
		left=$(leftovers)
	fi
	[ -z "$left" ]
	ok $? "no $pkg, vhnet DKMS tree or vhnet module left from an earlier run"
	[ -z "$left" ] || diag "$left"

	[ ${#kernels[@]} -gt 0 ] && [ -n "$version" ]
	ok $? "VHNET_VERSION ($version) and at least one kernel with headers (${#kernels[@]})"

	t0=$SECONDS
	deb=$build/deb/${pkg}_${version}_all.deb
	make -C "$top" deb BUILD="$build" >"$logs/make-deb.log" 2>&1 && [ -f "$deb" ]
	ok $? "make deb builds ${deb#"$top"/} ($((SECONDS - t0)) s)"
	[ -f "$deb" ] || diag_log "$logs/make-deb.log"

	# The package's fields, and only sources in /usr/src (no objects of
	# a build in the work tree).
	f=$(dpkg-deb -f "$deb" Package Version Architecture 2>/dev/null | tr '\n' ' ')
	[ "$f" = "Package: $pkg Version: $version Architecture: all " ] &&
		dpkg-deb -f "$deb" Depends | grep -qE '(^|, )dkms( |,|$)' &&
		! dpkg-deb -c "$deb" | grep -qE '\.(o|ko|cmd|mod|mod\.c|symvers)$'
	ok $? "the package: $pkg $version, Architecture all, Depends dkms, no build products"

	if command -v lintian >/dev/null; then
		lintian --fail-on error,warning "$deb" >"$logs/lintian.log" 2>&1
		rc=$?
		ok $rc "lintian: no errors, no warnings"
		[ $rc = 0 ] || grep -v 'root privileges' "$logs/lintian.log" | head -10 | sed 's/^/# /'
	else
		ok 0 "lintian # SKIP lintian is not installed"
	fi

	t0=$SECONDS
	# dkms comes from the archive: fresh lists if it is not there yet.
	{
		dpkg-query -W -f='${db:Status-Status}' dkms 2>/dev/null | grep -qx installed ||
			apt-get update -q
		apt-get install -y -q "$deb"
	} </dev/null >"$logs/install.log" 2>&1
	ok $? "apt-get install $(basename "$deb") ($((SECONDS - t0)) s)"
	diag "$(grep -m1 '^Building for' "$logs/install.log")"

	[ "$(pkg_status)" = installed ] &&
		[ "$(dpkg-query -W -f='${Version}' "$pkg")" = "$version" ]
	ok $? "dpkg: $pkg $version installed"

	# The complete module source set, as in this tree, and dkms.conf.
	src=/usr/src/vhnet-$version
	missing=()
	for f in Kbuild Makefile drivers/vhnet/*.[ch] include/uapi/linux/vhnet.h; do
		cmp -s "$top/$f" "$src/$f" || missing+=("$f")
	done
	grep -qx "PACKAGE_VERSION=\"$version\"" "$src/dkms.conf" || missing+=("dkms.conf version")
	grep -qx 'AUTOINSTALL="yes"' "$src/dkms.conf" || missing+=("dkms.conf AUTOINSTALL")
	[ ${#missing[@]} = 0 ]
	ok $? "$src: Kbuild, Makefile, drivers/, include/ as in the tree; dkms.conf: $version, AUTOINSTALL"
	[ ${#missing[@]} = 0 ] || diag "missing or different: ${missing[*]}"

	: >"$ko_list"
	for k in "${kernels[@]}"; do
		st=$(dkms status -m vhnet -v "$version" -k "$k" 2>/dev/null)
		[[ $st == *": installed"* ]]
		ok $? "$k: dkms status: ${st:-nothing}"

		file=$(modinfo -k "$k" -n vhnet 2>/dev/null)
		mv=$(modinfo -k "$k" -F version vhnet 2>/dev/null)
		vm=$(modinfo -k "$k" -F vermagic vhnet 2>/dev/null)
		[[ $file == /lib/modules/$k/updates/dkms/vhnet.ko* ]] &&
			[ "$mv" = "$version" ] && [[ $vm == "$k "* ]]
		ok $? "$k: modinfo: ${file:-no module}, version ${mv:-none}, its vermagic"
		[ -n "$file" ] && echo "$k $file" >>"$ko_list"

		# A parameter without MODULE_PARM_DESC shows as "name: (type)".
		nparm=0 bare=()
		while IFS=: read -r name _; do
			nparm=$((nparm + 1))
			modinfo -k "$k" -F parm vhnet | grep -q "^$name:[^ ]" || bare+=("$name")
		done < <(modinfo -k "$k" -F parmtype vhnet 2>/dev/null)
		[ "$nparm" -gt 0 ] && [ ${#bare[@]} = 0 ]
		ok $? "$k: every parameter has a description ($nparm, ${#bare[@]} without)"
		[ ${#bare[@]} = 0 ] || diag "without a description: ${bare[*]}"

		# What modprobe and the udev rule's static_node (modules.devname)
		# load is this module.
		[ "$(modprobe -S "$k" --show-depends vhnet 2>/dev/null | tail -1)" = "insmod $file " ] &&
			grep -q '^vhnet vhnet c10:250$' "/lib/modules/$k/modules.devname"
		ok $? "$k: modprobe loads it; modules.devname has /dev/vhnet (c10:250)"

		mlog=/var/lib/dkms/vhnet/$version/$k/$(uname -m)/log/make.log
		[ -f "$mlog" ] && ! grep -qiE '(warning|error):' "$mlog"
		ok $? "$k: no compiler warning in DKMS's make.log"
		[ -f "$mlog" ] && grep -iE '(warning|error):' "$mlog" | head -5 | sed 's/^/# /'
	done

	rule=/lib/udev/rules.d/60-vhnet.rules
	cmp -s "$top/dist/udev/60-vhnet.rules" "$rule"
	ok $? "udev rule $rule"

	doc=/usr/share/doc/$pkg
	ex=$doc/examples/vhnet-vhost-net.conf
	cmp -s "$top/dist/modprobe.d/vhnet-vhost-net.conf" "$ex" &&
		! grep -v '^#' "$ex" | grep -q '[^[:space:]]' &&
		! ls /etc/modprobe.d/vhnet* >/dev/null 2>&1
	ok $? "modprobe.d example $ex, all commented, none in /etc/modprobe.d"

	missing=()
	for f in README Documentation/*.rst; do
		f=$doc/$(basename "$f")
		[ -f "$f" ] || [ -f "$f.gz" ] || missing+=("$f")
	done
	[ -f "$doc/copyright" ] || missing+=("$doc/copyright")
	[ ${#missing[@]} = 0 ]
	ok $? "docs: README, Documentation/*.rst and copyright in $doc"
	[ ${#missing[@]} = 0 ] || diag "missing: ${missing[*]}"

	# A kernel installed later: its package runs the kernel hooks, and
	# dkms's builds vhnet for it (AUTOINSTALL). Played on the first
	# kernel: its module removed first, then the hook.
	k=${kernels[0]:-none}
	t0=$SECONDS
	dkms remove -m vhnet -v "$version" -k "$k" >"$logs/hook.log" 2>&1
	! modinfo -k "$k" -n vhnet >/dev/null 2>&1 &&
		/etc/kernel/postinst.d/dkms "$k" >>"$logs/hook.log" 2>&1 &&
		[[ $(dkms status -m vhnet -v "$version" -k "$k" 2>/dev/null) == *": installed"* ]] &&
		[ "$(modinfo -k "$k" -F version vhnet 2>/dev/null)" = "$version" ]
	ok $? "$k installed later: the kernel hook /etc/kernel/postinst.d/dkms builds and installs vhnet ($((SECONDS - t0)) s)"

	# A host that runs one of its kernels: DKMS's own postinst step builds
	# for that one (and a newer one) only, the package's for every other
	# kernel with headers. Played by running the postinst again with the
	# last kernel as the running one (uname -r).
	if [ ${#kernels[@]} -gt 1 ]; then
		k=${kernels[-1]}
		t0=$SECONDS
		mkdir -p "$logs/bin"
		# shellcheck disable=SC2016  # the stand-in's own $1 and $@
		printf '#!/bin/sh\n[ "$1" = -r ] && echo %s && exit 0\nexec /bin/uname "$@"\n' \
			"$k" >"$logs/bin/uname"
		chmod 755 "$logs/bin/uname"
		PATH=$logs/bin:$PATH "/var/lib/dpkg/info/$pkg.postinst" configure "$version" \
			</dev/null >"$logs/postinst.log" 2>&1 &&
			grep -qx "Building for $k" "$logs/postinst.log"
		rc=$?
		for k in "${kernels[@]}"; do
			[[ $(dkms status -m vhnet -v "$version" -k "$k" 2>/dev/null) == *": installed"* ]] ||
				rc=1
		done
		ok $rc "running ${kernels[-1]}: DKMS's postinst builds for it, the package's for the other kernels ($((SECONDS - t0)) s)"
	else
		ok 0 "running one kernel, the postinst builds for the others # SKIP one kernel with headers"
	fi

	[ -s "$ko_list" ] && [ "$(wc -l <"$ko_list")" = ${#kernels[@]} ]
	ok $? "each kernel's module listed in $ko_list"
	while read -r k file; do
		diag "ko $k $file"
	done <"$ko_list"
fi

# --- purge ------------------------------------------------------------------
if [ $purge = 1 ]; then
	t0=$SECONDS
	apt-get purge -y -q "$pkg" </dev/null >"$logs/purge.log" 2>&1
	ok $? "apt-get purge $pkg ($((SECONDS - t0)) s)"
	rm -f "$ko_list"
	left=$(leftovers)

	s=$(pkg_status)
	{ [ -z "$s" ] || [ "$s" = not-installed ]; } && ! dpkg -l "$pkg" >/dev/null 2>&1
	ok $? "dpkg: $pkg not installed (${s:-unknown to dpkg})"
	! grep -q '^file: /usr/src/' <<<"$left"
	ok $? "no /usr/src/vhnet-*"
	! grep -qE '^(file: /var/lib/dkms/|dkms: )' <<<"$left"
	ok $? "no /var/lib/dkms/vhnet; dkms status lists no vhnet"
	! grep -qE '^(module|modinfo)' <<<"$left"
	ok $? "no vhnet.ko* under /lib/modules; modinfo finds none on any kernel"
	! grep -qE '^file: .*/(udev|modprobe\.d)/' <<<"$left"
	ok $? "no udev rule, no modprobe.d file"
	! grep -q "^file: /usr/share/doc/" <<<"$left"
	ok $? "no /usr/share/doc/$pkg"
	[ -z "$left" ] || diag "left:" "$left"
fi

[ "$n" = "$planned" ] || { diag "ran $n of $planned tests"; failed=$((failed + 1)); }
if [ $failed = 0 ]; then
	diag "all $n passed"
else
	diag "$failed of $n failed"
	exit 1
fi
