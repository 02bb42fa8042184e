#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Extract the few files vhnet takes from Debian's linux-source-6.12 at build
# time (never committed): the kselftest harness and checkpatch.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=${KSRC_OUT:-${VHNET_BUILD:-$top/build}/ksrc}
tarball=
for f in /usr/src/linux-source-6.12*.tar.xz; do
	[ -e "$f" ] && { tarball=$f; break; }
done
[ -n "$tarball" ] || { echo "ksrc: linux-source-6.12 is not installed (make deps)" >&2; exit 1; }
stamp=$out/.stamp
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$tarball" ]; then
	exit 0
fi
rm -rf "$out"
mkdir -p "$out"
base=$(basename "$tarball" .tar.xz)
tar -xJf "$tarball" -C "$out" --strip-components=1 \
	"$base/tools/testing/selftests/kselftest_harness.h" \
	"$base/tools/testing/selftests/kselftest.h" \
	"$base/scripts/checkpatch.pl" \
	"$base/scripts/spelling.txt" \
	"$base/scripts/const_structs.checkpatch"
echo "$tarball" >"$stamp"
