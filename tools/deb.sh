#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# deb.sh: builds the vhnet-dkms Debian package (make deb) into
# $VHNET_BUILD/deb/ (default build/deb/): vhnet-dkms_VERSION_all.deb.
#
# VERSION is VHNET_VERSION from drivers/vhnet/vhnet.h, the module's
# MODULE_VERSION: the package's version, /usr/src/vhnet-VERSION and
# PACKAGE_VERSION in the installed dkms.conf all follow it. The module
# sources, dist/ and the docs are copied into build/deb/vhnet-VERSION/
# with dist/debian/ as its debian/, and dpkg-buildpackage runs there.
# Needs dpkg-dev, debhelper and dh-dkms (make deb installs them); not root.
# The maintainer is DEBFULLNAME <DEBEMAIL> if set, else the last commit's
# author. Log: build/deb/build.log.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd -P)
out=${VHNET_BUILD:-$top/build}/deb
die() { printf 'deb: error: %s\n' "$*" >&2; exit 1; }

version=$(sed -n 's/^#define[[:space:]]\+VHNET_VERSION[[:space:]]\+"\([^"]*\)".*/\1/p' \
	"$top/drivers/vhnet/vhnet.h")
[[ $version =~ ^[0-9][0-9A-Za-z.+~]*$ ]] ||
	die "no usable VHNET_VERSION in drivers/vhnet/vhnet.h (\"$version\")"
for t in dpkg-buildpackage dh dh_dkms; do
	command -v "$t" >/dev/null || die "$t is missing (tools/vm/deps.sh --deb)"
done

stage=$out/vhnet-$version
rm -rf "$out"
mkdir -p "$stage/dist" "$stage/Documentation" || die "cannot create $stage"
cd "$top" || exit 1
if ! { cp -R Kbuild Makefile dkms.conf README drivers include "$stage/" &&
	cp -R dist/udev dist/modprobe.d "$stage/dist/" &&
	cp Documentation/*.rst "$stage/Documentation/" &&
	cp -R dist/debian "$stage/debian"; }; then
	die "copying the sources failed"
fi
# Objects of a build in the work tree must not go into the package.
find "$stage" \( -name '*.o' -o -name '*.ko' -o -name '*.ko.*' -o -name '.*.cmd' \
	-o -name '*.mod' -o -name '*.mod.c' -o -name '*.a' -o -name '*.order' \
	-o -name '*.symvers' -o -name '.*.d' \) -delete

if [ -n "${DEBEMAIL:-}" ]; then
	maint="${DEBFULLNAME:-The vhnet developers} <$DEBEMAIL>"
else
	maint=$(git -C "$top" log -1 --format='%an <%ae>' 2>/dev/null) ||
		maint=''
	[ -n "$maint" ] || maint='The vhnet developers <vhnet@localhost>'
fi
commit=$(git -C "$top" describe --always --dirty --abbrev=12 2>/dev/null) ||
	commit=''
# The changelog's date, hence the files' timestamps: the commit's, so a
# rebuild of the same commit gives the same package.
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$top" log -1 --format=%ct 2>/dev/null)} ||
	epoch=''
[ -n "$epoch" ] || epoch=$(date +%s)
control=$(<"$stage/debian/control")
printf '%s\n' "${control//@MAINTAINER@/$maint}" >"$stage/debian/control"
{
	printf 'vhnet (%s) unstable; urgency=medium\n\n' "$version"
	printf '  * vhnet %s, from VHNET_VERSION in drivers/vhnet/vhnet.h.\n' "$version"
	[ -z "$commit" ] || printf '  * Built from commit %s.\n' "$commit"
	printf '\n'
	printf ' -- %s  %s\n' "$maint" "$(LC_ALL=C date -R -u -d "@$epoch")"
} >"$stage/debian/changelog"

log=$out/build.log
printf 'deb: building vhnet-dkms %s (log: %s)\n' "$version" "$log"
(cd "$stage" && dpkg-buildpackage -b --no-sign) >"$log" 2>&1 || {
	tail -30 "$log" >&2
	die "dpkg-buildpackage failed (log: $log)"
}
deb=$out/vhnet-dkms_${version}_all.deb
[ -f "$deb" ] || die "dpkg-buildpackage made no $deb"
printf 'deb: %s\n' "$deb"
