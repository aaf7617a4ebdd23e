#!/bin/sh
# REQUIRES: fuse, jq, timeout
# check_server.sh - warm checkers (explore --check-server).  walkv's
# checker as a fork server (faultline_checker.h) gives exactly the per-state
# verdicts of `walkv check` run per state, on a correct and a buggy
# recording.  Servers that misbehave on one state (hang past --timeout,
# exit, reply garbage) fail that state only, as the protocol says, and the
# states after it are still checked by a fresh server.  Nothing is left
# running.  Durations are never asserted: `timeout` bounds each run only
# so that a faultline waiting on a dead server fails instead of hanging.
. "$top_srcdir/tests/lib.sh"
require_fuse
require_cmd jq timeout

WALKV="$top_builddir/scenarios/engines/walkv"
P="$PIDS"

# record NAME ARGS...: records walkv run ARGS as $WORK/NAME.trace.
record() {
	name=$1
	shift
	"$FL" record -o "$WORK/$name.trace" --setup "$WALKV init" -- "$WALKV" run "$@" \
		>"$WORK/$name.rec" 2>&1 || hard_error "record $name exited $?: $(cat "$WORK/$name.rec")"
}

# explore WANT_EXIT NAME TRACE ARGS...: explore under a 60 s bound.
explore() {
	want=$1 name=$2 trace=$3
	shift 3
	timeout 60 "$FL" explore "$WORK/$trace.trace" --no-progress --json "$WORK/$name.json" "$@" \
		>"$WORK/$name.out" 2>&1
	rc=$?
	[ $rc -ne 124 ] || { kill_ours "$P"/*; fail "$name: explore did not finish in 60 s (killed:$killed)"; }
	[ $rc -eq "$want" ] || fail "$name: exit $rc, want $want: $(head -c 2000 "$WORK/$name.out")"
	jq -e '.states.checked > 0 and .states.checked == .states.passed + .states.failed and
	       .states.failed == (.failures | length)' "$WORK/$name.json" >/dev/null ||
		fail "$name: report: $(head -c 2000 "$WORK/$name.json")"
}

# verdicts NAME: each failing state's id and what the report says of it.
verdicts() {
	jq -c '[.failures[] | {id, exit_status, signal, timed_out, output}] | sort_by(.id)' \
		"$WORK/$1.json"
}

# ---- the same verdicts, state by state, as the per-state checker ----
record good 20
record bug 20 --bug early-ack
for t in good bug; do
	[ $t = good ] && want=0 || want=1
	explore $want $t.check $t --check "$WALKV check" -j 2
	explore $want $t.server $t --check-server "$WALKV check-server" -j 2
	jq -c .states "$WORK/$t.check.json" >"$WORK/$t.check.states"
	jq -c .states "$WORK/$t.server.json" >"$WORK/$t.server.states"
	cmp -s "$WORK/$t.check.states" "$WORK/$t.server.states" ||
		fail "$t: counts differ: $(cat "$WORK/$t.check.states") vs $(cat "$WORK/$t.server.states")"
	[ "$(verdicts $t.check)" = "$(verdicts $t.server)" ] ||
		fail "$t: per-state verdicts differ: $(verdicts $t.check | head -c 1500) vs $(verdicts $t.server | head -c 1500)"
done
jq -e '.states.failed > 10' "$WORK/bug.server.json" >/dev/null ||
	fail "the buggy walkv was not caught: $(jq -c .states "$WORK/bug.server.json")"

# ---- replay --check-server: a failing id replays to a failure, a passing
# one to a pass, through the same server as through the per-state checker ----
fid=$(jq -r '.failures[0].id' "$WORK/bug.server.json")
pid=$(awk '$4 == "unique" { print $1; exit }' "$("$FL" states "$WORK/bug.trace" -o "$WORK/bug.states" \
	>/dev/null 2>&1; echo "$WORK/bug.states")")
[ -n "$pid" ] || hard_error "no state listed for the buggy trace"
for id in "$fid" "$pid"; do
	rm -rf "$WORK/rs" "$WORK/rc"
	timeout 60 "$FL" replay "$WORK/bug.trace" "$id" --into "$WORK/rs" \
		--check-server "$WALKV check-server" >"$WORK/rs.out" 2>&1
	rs=$?
	timeout 60 "$FL" replay "$WORK/bug.trace" "$id" --into "$WORK/rc" \
		--check "$WALKV check" >"$WORK/rc.out" 2>&1
	rc=$?
	[ $rs -eq $rc ] && [ $rs -le 1 ] ||
		fail "replay $id: --check-server exit $rs, --check exit $rc: $(cat "$WORK/rs.out")"
	[ "$id" != "$fid" ] || [ $rs -eq 1 ] || fail "replay of failing $id passed: $(cat "$WORK/rs.out")"
done
"$FL" replay "$WORK/bug.trace" "$fid" --check true --check-server true 2>"$WORK/usage.err"
rc=$?
[ $rc -eq 2 ] && grep -q -- "--check-server" "$WORK/usage.err" ||
	fail "replay --check with --check-server: exit $rc: $(cat "$WORK/usage.err")"

# ---- servers that misbehave on one state: a shell server says ok to the
# rest, and on state $BAD hangs, exits, or replies garbage ----
"$FL" states "$WORK/good.trace" -o "$WORK/good.states" >/dev/null 2>&1 ||
	hard_error "states failed"
BAD=$(awk '$4 == "unique" { n++; if (n == 5) print $1 }' "$WORK/good.states")
[ -n "$BAD" ] || hard_error "no fifth unique state: $(head -5 "$WORK/good.states")"
# server WHAT: a server that does WHAT on state $BAD; it writes its pid
# (and a hang its sleep's pid) to $P so none_left can see them.
server() {
	cat <<EOF
echo \$\$ >>'$P/server'
tab=\$(printf '\\t')
while IFS=\$tab read -r dir id marks; do
	[ -d "\$dir" ] && [ -r "\$marks" ] || { echo "fail bad request: \$dir \$id \$marks"; continue; }
	if [ "\$id" = '$BAD' ]; then
		$1
	fi
	echo ok
done
EOF
}
server 'sh -c '\''echo $$ >>"$0"; exec sleep 30'\'' '"'$P/hang'" >"$WORK/hang.sh"
server 'echo "dying on $id" >&2; exit 3' >"$WORK/exit.sh"
server 'echo "hello world"; continue' >"$WORK/garbage.sh"

# checked NAME: every state but $BAD passed, and $BAD failed.
one_failed() {
	jq -e --arg bad "$BAD" '.states.failed == 1 and .failures[0].id == $bad' \
		"$WORK/$1.json" >/dev/null || fail "$1: not just $BAD failed: $(head -c 2000 "$WORK/$1.json")"
	jq -e '.states.checked == input.states.checked' "$WORK/$1.json" "$WORK/good.check.json" \
		>/dev/null || fail "$1: not every state was checked"
}

explore 1 hang good --check-server "sh $WORK/hang.sh" --timeout 1 -j 2
one_failed hang
jq -e '.failures[0] | .timed_out == true and .exit_status == null and .signal == null' \
	"$WORK/hang.json" >/dev/null || fail "hang: $(jq -c '.failures[0]' "$WORK/hang.json")"
grep -q "timed out" "$WORK/hang.out" || fail "hang: the summary does not say 'timed out'"
none_left "a hung server's sleep" "$P/hang"

explore 1 exit good --check-server "sh $WORK/exit.sh" -j 2
one_failed exit
jq -e --arg bad "$BAD" '.failures[0] | .exit_status == 3 and .timed_out == false and
	(.output | contains("dying on " + $bad) and contains("checker server died (exit 3)"))' \
	"$WORK/exit.json" >/dev/null || fail "exit: $(jq -c '.failures[0]' "$WORK/exit.json")"

explore 1 garbage good --check-server "sh $WORK/garbage.sh" -j 1
one_failed garbage
jq -e '.failures[0] | .exit_status == null and .signal == null and .timed_out == false and
	(.output | contains("replied \"hello world\""))' \
	"$WORK/garbage.json" >/dev/null || fail "garbage: $(jq -c '.failures[0]' "$WORK/garbage.json")"

# A server that never answers: every state fails, none hangs the run.
"$FL" record -o "$WORK/tiny.trace" -- sh -c 'printf a > x' >"$WORK/tiny.rec" 2>&1 ||
	hard_error "record tiny exited $?: $(cat "$WORK/tiny.rec")"
explore 1 mute tiny --check-server "while read -r l; do :; done" --timeout 0.2 -j 2
jq -e '.states.passed == 0 and ([.failures[] | .timed_out] | all)' "$WORK/mute.json" >/dev/null ||
	fail "mute: $(jq -c '.failures[0]' "$WORK/mute.json")"
# One that closes its stdout: each state fails at once, as that.
explore 1 closed tiny --check-server "exec cat >/dev/null" -j 2
jq -e '.states.passed == 0 and ([.failures[] | .exit_status == null and .signal == null and
	(.output | contains("closed its stdout"))] | all)' "$WORK/closed.json" >/dev/null ||
	fail "closed: $(jq -c '.failures[0]' "$WORK/closed.json")"

# Every server ran in its process group and went with it.
none_left "servers" "$P/server"

# ---- usage ----
"$FL" explore "$WORK/good.trace" --check true --check-server true 2>"$WORK/usage.err"
rc=$?
[ $rc -eq 2 ] && [ "$(wc -l <"$WORK/usage.err")" -eq 1 ] &&
	grep -q -- "--check-server" "$WORK/usage.err" ||
	fail "--check with --check-server: exit $rc: $(cat "$WORK/usage.err")"
exit 0
