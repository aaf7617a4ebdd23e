#!/bin/sh
# REQUIRES: fuse
# explore_signal.sh - a SIGTERM, SIGINT or SIGHUP to explore, states or
# audit while checkers run ends them cleanly: the checkers are killed, the
# private tmpfs scratch is unmounted and the work directory removed, and
# the command dies of the signal it got (so a caller sees it was stopped).
# Nothing of it is left in /proc/mounts or in TMPDIR.
. "$top_srcdir/tests/lib.sh"
require_fuse

"$FL" record -o "$WORK/t" -- sh -c 'for i in 1 2 3 4 5 6; do echo $i >>f; done' \
	>"$WORK/rec.out" 2>&1 || hard_error "record: exit $?: $(cat "$WORK/rec.out")"
mkdir "$WORK/tmp"
# The checker notes its pid, then sleeps: a run stopped now has checkers up.
CHK="echo \$\$ >>'$WORK/checkers'; echo \$\$ >'$PIDS/chk.'\$\$; exec sleep 60"

# stop SIG CMD ARGS...: starts faultline CMD ARGS in the background, waits
# for a checker, sends SIG, and checks what is left.
stop() {
	sig=$1
	shift
	: >"$WORK/checkers"
	TMPDIR="$WORK/tmp" "$FL" "$@" >"$WORK/out" 2>&1 &
	pid=$!
	echo "$pid" >"$PIDS/fl"
	i=0
	while [ ! -s "$WORK/checkers" ] && [ $i -lt 600 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -s "$WORK/checkers" ] || fail "$*: no checker started: $(cat "$WORK/out")"
	kill -"$sig" "$pid"
	wait "$pid"
	rc=$?
	want=$((128 + $(kill -l "$sig")))
	[ $rc -eq $want ] || fail "$* stopped by SIG$sig: exit $rc, want $want: $(cat "$WORK/out")"
	grep -q "stopped by signal" "$WORK/out" || fail "$*: does not say it was stopped: $(cat "$WORK/out")"
	grep -q "$WORK" /proc/mounts && fail "$* left a mount: $(grep "$WORK" /proc/mounts)"
	left=$(ls "$WORK/tmp")
	[ -z "$left" ] || fail "$* left in TMPDIR: $left"
	for p in $(cat "$WORK/checkers"); do
		kill -0 "$p" 2>/dev/null && fail "$*: checker $p still runs after SIG$sig"
	done
}

stop TERM explore "$WORK/t" --check "$CHK" -j 2 --no-progress
stop INT explore "$WORK/t" --check "$CHK" -j 1 --no-progress --scratch dir
stop HUP audit "$WORK/t" --check "$CHK" -j 2 --no-progress
exit 0
