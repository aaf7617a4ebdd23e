# tests/lib.sh - shared by the shell integration tests (sourced, not run).
#
# Gives each test a private work directory (also its TMPDIR, so faultline's
# mount points land inside it), removes it on exit, and fails the test if
# any FUSE mount is left beneath it.  Exit codes follow automake: 0 pass,
# 1 fail, 77 skip, 99 harness error.
set -u

: "${top_builddir:?run through make check}" "${top_srcdir:?run through make check}"
FL="$top_builddir/src/faultline"
FAULTLINE_FS="$top_builddir/fusefs/faultline-fs"
export FAULTLINE_FS

WORK=$(mktemp -d "${TMPDIR:-/tmp}/faultline-test.XXXXXX") || exit 99
TMPDIR="$WORK"
export TMPDIR

# Prints the FUSE mounts whose mount point lies beneath $WORK.
leftover_mounts() {
	awk -v w="$WORK" '$3 ~ /^fuse/ && index($2, w) == 1 { print $2 }' /proc/mounts
}

lib_cleanup() {
	rc=$?
	left=$(leftover_mounts)
	if [ -n "$left" ]; then
		echo "FAIL: FUSE mount left behind: $left" >&2
		for m in $left; do umount -l "$m" 2>/dev/null || fusermount3 -uz "$m"; done
		[ "$rc" -eq 0 ] && rc=1
	fi
	rm -rf "$WORK"
	exit "$rc"
}
trap lib_cleanup EXIT
trap 'exit 99' INT TERM HUP

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }
hard_error() { echo "ERROR: $*" >&2; exit 99; }

require_fuse() {
	[ -c /dev/fuse ] && [ -r /dev/fuse ] && [ -w /dev/fuse ] || skip "no usable /dev/fuse"
}

require_cmd() {
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "$c is not installed"
	done
}

# Runs a command expecting exit code $1: expect_exit 2 faultline show x
expect_exit() {
	want=$1
	shift
	"$@"
	got=$?
	[ "$got" -eq "$want" ] || fail "expected exit $want, got $got: $*"
}
