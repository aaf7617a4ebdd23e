#!/bin/sh
# REQUIRES: fuse, jq
# record_calls.sh - record --calls: an engine whose only barrier is sync()
# or syncfs() (tests/synconly.c, dynamic and static, the barrier issued as
# a raw syscall from the thread itself, another thread or a child) gets a
# syncfs record after each commit's write and before its mark, so posix
# exploration passes it; without --calls, or when the barrier is a syncfs()
# of another file system or missing, the same engine is caught.  The
# workload's exit status and death by signal read the same with and
# without --calls, and an interrupted traced workload leaves nothing
# running.
. "$top_srcdir/tests/lib.sh"
require_fuse
require_cmd jq readelf

# steps TRACE: the trace's ops in order, one word each (create, syncfs, mark...).
steps() {
	"$FL" show --json "$1" >"$WORK/show.json" || fail "show $1"
	jq -r '[.records[] | select(.op == "create" or .op == "syncfs" or .op == "mark") | .op]
	       | join(" ")' "$WORK/show.json"
}

# case BIN MODE CALLS WANT_SYNCFS WANT_EXPLORE
case_() {
	bin=$1 mode=$2 calls=$3 want_n=$4 want_rc=$5
	S="$top_builddir/tests/$bin"
	t="$WORK/$bin-$mode$calls"
	# shellcheck disable=SC2086
	"$FL" record -o "$t" $calls -- "$S" run "$mode" 3 >"$WORK/rec.out" 2>&1 ||
		fail "$bin $mode $calls: record exited $?: $(cat "$WORK/rec.out")"
	got=$(steps "$t")
	if [ "$want_n" -eq 3 ]; then
		[ "$got" = "create syncfs mark create syncfs mark create syncfs mark" ] ||
			fail "$bin $mode $calls: the trace's steps are '$got'"
		# Each syncfs comes after its file's write, and names a process of the workload.
		jq -e '[.records[] | select(.op == "syncfs") | .pid > 0] | all' "$WORK/show.json" >/dev/null ||
			fail "$bin $mode: a syncfs record without the caller's pid"
		jq -e '[.records | to_entries[] | select(.value.op == "syncfs") | .key] as $s |
		       [.records | to_entries[] | select(.value.op == "write") | .key] as $w |
		       [range(0; 3) | $w[.] < $s[.]] | all' "$WORK/show.json" >/dev/null ||
			fail "$bin $mode: a syncfs record before its commit's write"
	else
		[ "$got" = "create mark create mark create mark" ] ||
			fail "$bin $mode $calls: the trace's steps are '$got', want no syncfs"
	fi
	"$FL" explore "$t" --model posix --check "$S check" >"$WORK/ex.out" 2>&1
	rc=$?
	[ $rc -eq "$want_rc" ] ||
		fail "$bin $mode $calls: explore exited $rc, want $want_rc: $(tail -5 "$WORK/ex.out")"
}

for bin in synconly synconly-static; do
	for mode in sync syncfs thread fork; do
		case_ $bin $mode --calls 3 0
	done
	case_ $bin syncfs-outside --calls 0 1
	case_ $bin none --calls 0 1
	case_ $bin sync "" 0 1
done
# (a static binary has no program interpreter)
readelf -l "$top_builddir/tests/synconly-static" >"$WORK/elf" 2>&1 || hard_error "readelf"
grep -q INTERP "$WORK/elf" && fail "synconly-static is not a static binary"

# The workload's end reads the same either way.
for calls in "" --calls; do
	# shellcheck disable=SC2086
	"$FL" record -o "$WORK/x$calls" $calls -- sh -c 'exit 7' >/dev/null 2>&1
	[ $? -eq 1 ] || fail "record $calls of a failing workload: not exit 1"
	jq -e '.workload == {"exit_status": 7, "signal": null}' "$WORK/x$calls/meta.json" >/dev/null ||
		fail "record $calls: workload $(jq -c .workload "$WORK/x$calls/meta.json")"
	# shellcheck disable=SC2086
	"$FL" record -o "$WORK/k$calls" $calls -- sh -c 'kill -SEGV $$' >/dev/null 2>&1
	jq -e '.workload == {"exit_status": null, "signal": 11}' "$WORK/k$calls/meta.json" >/dev/null ||
		fail "record $calls: killed workload reads $(jq -c .workload "$WORK/k$calls/meta.json")"
done
jq -e '.calls == true' "$WORK/x--calls/meta.json" >/dev/null || fail "meta.json does not say calls"

# Interrupted: record stops the tracer, and the tracer's end ends the workload.
"$FL" record -o "$WORK/i" --calls -- sh -c 'echo $$ > "$1"; touch "$0"; exec sleep 300' \
	"$WORK/started" "$PIDS/sleeper" >/dev/null 2>&1 &
rec=$!
i=0
while [ ! -e "$WORK/started" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -e "$WORK/started" ] || fail "the traced workload never started"
kill -TERM $rec
wait $rec
[ $? -eq 3 ] || fail "interrupted record --calls: not exit 3"
none_left "the traced workload" "$PIDS/sleeper"
exit 0
