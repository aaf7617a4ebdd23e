#!/bin/sh
# REQUIRES: fuse, jq, timeout
# check_server.sh - warm checkers (explore --check-server).  walkv's
# checker as a fork server and as an in-process server (faultline_checker.h)
# gives exactly the per-state verdicts of `walkv check` run per state, on a
# correct and a buggy recording; a probe check that misbehaves (exits,
# aborts, returns out of range, prints on stdout) gets the same verdicts
# from both server forms.  Servers that misbehave on one state (hang past --timeout,
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

# explore WANT_EXIT NAME TRACE ARGS...: explore under a 300 s bound (a
# guard against a faultline that waits forever on a dead server, not a
# timing: a sanitizer build on a loaded machine takes minutes).
explore() {
	want=$1 name=$2 trace=$3
	shift 3
	timeout 300 "$FL" explore "$WORK/$trace.trace" --no-progress --json "$WORK/$name.json" "$@" \
		>"$WORK/$name.out" 2>&1
	rc=$?
	[ $rc -ne 124 ] || { kill_ours "$P"/*; fail "$name: explore did not finish in 300 s (killed:$killed)"; }
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
	explore $want $t.inproc $t --check-server "$WALKV check-server --in-process" -j 2
	jq -c .states "$WORK/$t.check.json" >"$WORK/$t.check.states"
	for s in server inproc; do
		jq -c .states "$WORK/$t.$s.json" >"$WORK/$t.$s.states"
		cmp -s "$WORK/$t.check.states" "$WORK/$t.$s.states" ||
			fail "$t.$s: counts differ: $(cat "$WORK/$t.check.states") vs $(cat "$WORK/$t.$s.states")"
		[ "$(verdicts $t.check)" = "$(verdicts $t.$s)" ] ||
			fail "$t.$s: per-state verdicts differ: $(verdicts $t.check | head -c 1500) vs $(verdicts $t.$s | head -c 1500)"
	done
done
jq -e '.states.failed > 10' "$WORK/bug.server.json" >/dev/null ||
	fail "the buggy walkv was not caught: $(jq -c .states "$WORK/bug.server.json")"

# ---- the two server forms on a check that misbehaves on purpose
# (tests/probe_checker.c: by the content of x it passes, returns 3, aborts,
# exits 4 or returns 261); `exec` so that an in-process server's death by
# a signal is seen as that signal, not as its shell's exit 128+N ----
PROBE="$top_builddir/tests/probe_checker"
"$FL" record -o "$WORK/probe.trace" -- sh -c ': >x; printf a >>x; printf b >>x; printf cd >>x' \
	>"$WORK/probe.rec" 2>&1 || hard_error "record probe exited $?: $(cat "$WORK/probe.rec")"
explore 1 probe.fork probe --check-server "exec $PROBE fork" -j 2
explore 1 probe.inproc probe --check-server "exec $PROBE in-process" -j 2
pv() { jq -c '[.failures[] | {id, exit_status, signal, timed_out}] | sort_by(.id)' "$WORK/$1.json"; }
[ "$(pv probe.fork)" = "$(pv probe.inproc)" ] ||
	fail "probe: fork and in-process verdicts differ: $(pv probe.fork) vs $(pv probe.inproc)"
# Every outcome the probe has occurred, and each state's output is its own
# probe line: printed on stdout, it never became a protocol reply.
jq -e '.states.passed >= 1 and ([.failures[] | (.exit_status // ("signal " + (.signal | tostring)))] |
	unique == [3, 4, 5, "signal 6"])' "$WORK/probe.inproc.json" >/dev/null ||
	fail "probe: not every outcome was seen: $(pv probe.inproc)"
for f in fork inproc; do
	jq -e '[.failures[] | .id as $id | .output | contains("probe " + $id + " cwd-ok\n")] | all' \
		"$WORK/probe.$f.json" >/dev/null ||
		fail "probe.$f: a state's output is not its own probe line: $(jq -c '[.failures[] | {id, output}]' "$WORK/probe.$f.json" | head -c 1500)"
done

# ---- replay --check-server: a failing id replays to a failure, a passing
# one to a pass, through the same server as through the per-state checker ----
fid=$(jq -r '.failures[0].id' "$WORK/bug.server.json")
pid=$(awk '$4 == "unique" { print $1; exit }' "$("$FL" states "$WORK/bug.trace" -o "$WORK/bug.states" \
	>/dev/null 2>&1; echo "$WORK/bug.states")")
[ -n "$pid" ] || hard_error "no state listed for the buggy trace"
for id in "$fid" "$pid"; do
	rm -rf "$WORK/rs" "$WORK/rc"
	timeout 300 "$FL" replay "$WORK/bug.trace" "$id" --into "$WORK/rs" \
		--check-server "$WALKV check-server" >"$WORK/rs.out" 2>&1
	rs=$?
	timeout 300 "$FL" replay "$WORK/bug.trace" "$id" --into "$WORK/rc" \
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
