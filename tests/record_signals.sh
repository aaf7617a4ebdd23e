#!/bin/sh
# REQUIRES: fuse, jq, pgrep
# record_signals.sh - `faultline record` on its unhappy paths: the workload
# fails, leaves daemons behind, or is interrupted; faultline-fs is killed;
# bad usage.  Each keeps a readable trace, leaves no mount behind (lib.sh
# fails the test if one is left under the work dir) and leaves nothing of
# the workload running (its processes write their pids to $PIDS; see
# none_left in lib.sh).
. "$top_srcdir/tests/lib.sh"
require_fuse
require_cmd jq pgrep

# Waits up to 10 s for file $1 to exist.
wait_for() {
	i=0
	while [ ! -e "$1" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	[ -e "$1" ] || fail "timed out waiting for $1"
}

readable() {
	"$FL" show --json "$1" >"$WORK/show.json" 2>"$WORK/show.err"
	jq -e ".valid_records >= $2" "$WORK/show.json" >/dev/null ||
		fail "trace $1 is not readable with >= $2 records: $(cat "$WORK/show.err")"
}

# 1. A failing workload: exit 1, trace kept.
expect_exit 1 "$FL" record -o "$WORK/t1" -- sh -c 'echo x > f; exit 5'
readable "$WORK/t1" 2
jq -e '.workload.exit_status == 5 and .status == "complete"' "$WORK/t1/meta.json" >/dev/null ||
	fail "meta.json lacks the workload's exit status"

# 2. Daemons left behind holding the mount, one in a new session: stopped,
#    unmounted.  Each writes its own pid ($0 is $PIDS); the workload exits
#    only once both have, so both surely run when it does.
"$FL" record -o "$WORK/t2" -- sh -c '
	echo held > f.held
	(sh -c "echo \$\$ > \"\$1\"; exec sleep 300" sh "$0/d1" <f.held >/dev/null 2>&1 &)
	setsid sh -c "cd . && echo \$\$ > \"\$1\" && exec sleep 300" sh "$0/d2" \
		</dev/null >/dev/null 2>&1 &
	i=0
	while { [ ! -s "$0/d1" ] || [ ! -s "$0/d2" ]; } && [ $i -lt 1000 ]; do
		sleep 0.01; i=$((i + 1))
	done
	echo done > done' "$PIDS" || fail "record with a leftover daemon exited $?"
readable "$WORK/t2" 2
none_left "record's leftover daemons" "$PIDS/d1" "$PIDS/d2"

# 3. SIGTERM to record mid-workload: exit 3, trace kept, status interrupted.
"$FL" record -o "$WORK/t3" -- sh -c 'echo a > before; echo "step 1" > .faultline-ctl
	echo $$ > "$1"; touch "$0"; exec sleep 300' "$WORK/started3" "$PIDS/workload3" &
rec=$!
wait_for "$WORK/started3"
kill -TERM $rec
wait $rec
rc=$?
[ $rc -eq 3 ] || fail "interrupted record exited $rc, want 3"
readable "$WORK/t3" 3
jq -e '.status == "interrupted"' "$WORK/t3/meta.json" >/dev/null || fail "meta.json does not say interrupted"
jq -e '[.records[] | select(.op == "mark")][0].text == "step 1"' "$WORK/show.json" >/dev/null ||
	fail "mark before the interruption is missing"
none_left "interrupted workload" "$PIDS/workload3"

# 4. faultline-fs killed with SIGKILL mid-workload: record says so, exit 3,
#    the valid prefix is readable, nothing stays mounted.
"$FL" record -o "$WORK/t4" -- sh -c 'echo a > before; echo "m" > .faultline-ctl
	echo $$ > "$1"; touch "$0"
	while :; do echo more >> log 2>/dev/null || exit 9; done' "$WORK/started4" "$PIDS/workload4" \
	2>"$WORK/rec4.err" &
rec=$!
wait_for "$WORK/started4"
# Our record's own child, not any faultline-fs on the machine.
fs=$(pgrep -P "$rec" -x faultline-fs) || fail "faultline-fs is not a child of record ($rec)"
case $fs in
"" | *[!0-9]*) fail "want one faultline-fs under record ($rec), got: $fs" ;;
esac
kill -KILL "$fs"
wait $rec
rc=$?
[ $rc -eq 3 ] || fail "record with a killed recorder exited $rc, want 3"
grep -q "faultline-fs died" "$WORK/rec4.err" || fail "record did not say the recorder died"
"$FL" show --json "$WORK/t4" >"$WORK/show.json" 2>/dev/null
jq -e '.valid_records >= 3' "$WORK/show.json" >/dev/null || fail "killed recorder left no readable prefix"
none_left "workload of a killed recorder" "$PIDS/workload4"

# 5. Bad usage and bad places: exit 2, nothing mounted.
expect_exit 2 "$FL" record -o "$WORK/t5"
mkdir "$WORK/notatrace" && echo precious >"$WORK/notatrace/file"
expect_exit 2 "$FL" record -o "$WORK/notatrace" -- true
[ "$(cat "$WORK/notatrace/file")" = precious ] || fail "record clobbered a directory that is not a trace"
expect_exit 2 "$FL" record -o "$WORK/t6" --setup 'exit 3' -- true
expect_exit 1 "$FL" record -o "$WORK/t7" -- /nonexistent/program

# 6. Re-recording over an old trace replaces it.
expect_exit 0 "$FL" record -o "$WORK/t1" -- sh -c 'echo y > g'
jq -e '.workload.exit_status == 0' "$WORK/t1/meta.json" >/dev/null || fail "old trace not replaced"
exit 0
