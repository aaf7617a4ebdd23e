# tests/lib.sh - shared by the shell integration tests (sourced, not run).
#
# Gives each test a private work directory (also its TMPDIR, so faultline's
# mount points land inside it), removes it on exit, and fails the test if
# any FUSE mount is left beneath it.  Exit codes follow automake: 0 pass,
# 1 fail, 77 skip, 99 harness error.
#
# A test looks only at processes it started, never machine-wide by name
# (pgrep -f, pkill -f would see other users' processes): each process of
# interest writes its own pid to a file in $PIDS (echo $$ >> $PIDS/NAME
# before exec), and every process the test starts inherits
# FL_TEST_WORK=$WORK (faultline passes the environment on to workloads
# and checkers), so a pid is acted on only while it still belongs to this
# test, not after the kernel has given the number to someone else.  On
# exit, any of them still running is killed and fails the test.
set -u

: "${top_builddir:?run through make check}" "${top_srcdir:?run through make check}"
FL="$top_builddir/src/faultline"
FAULTLINE_FS="$top_builddir/fusefs/faultline-fs"
export FAULTLINE_FS

WORK=$(mktemp -d "${TMPDIR:-/tmp}/faultline-test.XXXXXX") || exit 99
TMPDIR="$WORK"
FL_TEST_WORK="$WORK"
export TMPDIR FL_TEST_WORK
PIDS="$WORK/pids"

# Prints the mounts whose mount point lies beneath $WORK: FUSE mounts, and
# the tmpfs or loop XFS scratch an explore mounts in its work directory
# (TMPDIR is $WORK).
leftover_mounts() {
	awk -v w="$WORK" 'index($2, w) == 1 { print $2 }' /proc/mounts
}

# is_ours PID: true if PID is alive and one of this test's processes.  A
# zombie (its environment is gone) counts as dead.
is_ours() {
	kill -0 "$1" 2>/dev/null &&
		tr '\0' '\n' 2>/dev/null <"/proc/$1/environ" | grep -qxF "FL_TEST_WORK=$WORK"
}

# kill_ours FILE...: SIGKILLs each pid listed in the FILEs (one a line)
# that is still one of this test's processes; sets $killed to those pids.
kill_ours() {
	killed=""
	for f in "$@"; do
		[ -f "$f" ] || continue
		while read -r pid || [ -n "$pid" ]; do
			case $pid in
			"" | *[!0-9]*) continue ;; # none_left says so
			esac
			if is_ours "$pid"; then
				kill -KILL "$pid" 2>/dev/null
				killed="$killed $pid"
			fi
		done <"$f"
	done
}

# gone PID...: waits (up to 10 s) until each PID has exited, so nothing
# still writes into a directory about to be removed.
gone() {
	for pid in "$@"; do
		n=0
		while kill -0 "$pid" 2>/dev/null && [ "$n" -lt 100 ]; do
			wait "$pid" 2>/dev/null || sleep 0.1
			n=$((n + 1))
		done
	done
}

# term_wait PID...: SIGTERM to each PID (this test's), then waits up to
# 20 s until none is left.
term_wait() {
	kill "$@" 2>/dev/null
	n=0
	while [ "$n" -lt 200 ]; do
		left=0
		for pid in "$@"; do kill -0 "$pid" 2>/dev/null && left=1; done
		[ "$left" -eq 0 ] && return 0
		sleep 0.1
		n=$((n + 1))
	done
}

# Extra directories (outside $WORK) a test made; removed on exit after its
# processes are gone.
LIB_EXTRA_DIRS=""

lib_cleanup() {
	rc=$?
	kill_ours "$PIDS"/*
	if [ -n "$killed" ]; then
		echo "FAIL: still running at exit (killed):$killed" >&2
		[ "$rc" -eq 0 ] && rc=1
		# shellcheck disable=SC2086
		gone $killed
	fi
	left=$(leftover_mounts)
	if [ -n "$left" ]; then
		echo "FAIL: mount left behind: $left" >&2
		for m in $left; do umount -l "$m" 2>/dev/null || fusermount3 -uz "$m"; done
		[ "$rc" -eq 0 ] && rc=1
	fi
	# shellcheck disable=SC2086
	[ -z "$LIB_EXTRA_DIRS" ] || rm -rf $LIB_EXTRA_DIRS
	rm -rf "$WORK"
	exit "$rc"
}
trap lib_cleanup EXIT
trap 'exit 99' INT TERM HUP
mkdir "$PIDS" || exit 99

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

# none_left WHAT FILE...: the processes whose pids the FILEs list are all
# gone.  A FILE missing or empty fails the test too: its process never
# started, so there was nothing to check.  A survivor, and only it, is
# killed, then the test fails.
none_left() {
	what=$1
	shift
	for f in "$@"; do
		[ -s "$f" ] || fail "$what: no pid in $f: the process never started"
		grep -qvx '[0-9][0-9]*' "$f" && hard_error "$what: $f holds more than pids: $(cat "$f")"
	done
	kill_ours "$@"
	[ -z "$killed" ] || fail "$what: left running:$killed"
}
