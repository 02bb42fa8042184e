# SPDX-License-Identifier: GPL-2.0
# TAP for the shell tests (sourced): result STATUS DESCRIPTION prints the
# next case, "ok N ..." for status 0, else "not ok N ..."; n counts the
# cases, failed the failures. diag prints its arguments as comments.
# shellcheck shell=bash
n=0 failed=0
result() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n $2"
	else
		echo "not ok $n $2"
		failed=$((failed + 1))
	fi
}
diag() { printf '# %s\n' "$@"; }
