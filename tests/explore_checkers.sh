#!/bin/sh
# REQUIRES: fuse, jq, timeout
# explore_checkers.sh - checkers that misbehave: one that outlives its
# --timeout, daemons that outlive their checker (one holding the output
# pipe, some in a new session), one killed by a signal, one printing
# without end.  Each is reported as the checker contract says, explore
# never waits on what it should have killed, and nothing is left running.
# Durations are never asserted: each run gets a generous `timeout` bound
# that only an explore ignoring --timeout or waiting on a daemon exceeds.
. "$top_srcdir/tests/lib.sh"
require_fuse
require_cmd jq timeout

T="$WORK/tiny.trace"
"$FL" record -o "$T" -- sh -c 'printf a > x' >"$WORK/rec.out" 2>&1 ||
	hard_error "record exited $?: $(cat "$WORK/rec.out")"
# The sleeps write their own pids to $P/NAME.STATE_ID (lib.sh's $PIDS), so
# the test looks only at processes it started (none_left, lib.sh).
P="$PIDS"
SLOW="echo \$\$ >>'$P/slow.'\"\$FAULTLINE_STATE_ID\"; exec sleep 30"

# daemon NAME: a command line that starts a 60 s daemon writing its pid.
daemon() {
	echo "sh -c 'echo \$\$ >>\"\$0\"; exec sleep 60' '$P/$1.'\"\$FAULTLINE_STATE_ID\""
}

# await NAME: a command line waiting (at most 10 s) for that daemon's pid,
# so the daemon surely runs when its checker exits; it passes only if the
# pid came, so a passing state is one whose daemon really started.
await() {
	f="'$P/$1.'\"\$FAULTLINE_STATE_ID\""
	echo "i=0; while [ ! -s $f ] && [ \$i -lt 1000 ]; do sleep 0.01; i=\$((i + 1)); done; [ -s $f ]"
}

# explore_bounded WANT_EXIT NAME CHECK ARGS...: explore under a 25 s bound,
# which only a run that waits for a 30 s or 60 s sleep exceeds.
explore_bounded() {
	want=$1 name=$2 check=$3
	shift 3
	timeout 25 "$FL" explore "$T" --check "$check" --no-progress \
		--json "$WORK/$name.json" "$@" >"$WORK/$name.out" 2>&1
	rc=$?
	[ $rc -ne 124 ] || { kill_ours "$P"/*; fail "$name: explore did not finish in 25 s (killed:$killed)"; }
	[ $rc -eq "$want" ] || fail "$name: exit $rc, want $want: $(head -c 2000 "$WORK/$name.out")"
	jq -e '.states.checked > 0 and .states.checked == .states.passed + .states.failed and
	       .states.failed == (.failures | length)' "$WORK/$name.json" >/dev/null ||
		fail "$name: report: $(head -c 2000 "$WORK/$name.json")"
}

# ---- a checker past its --timeout: every state fails as timed out ----
explore_bounded 1 timeout "$SLOW" --timeout 1 -j 2
jq -e '.states.passed == 0 and
       ([.failures[] | .timed_out == true and .exit_status == null and .signal == null] | all)' \
	"$WORK/timeout.json" >/dev/null || fail "timeouts: $(cat "$WORK/timeout.json")"
grep -q "timed out" "$WORK/timeout.out" || fail "the summary does not say 'timed out'"
none_left "timed-out checkers" "$P"/slow.*

# ---- daemons outliving their checker: the checker's verdict stands ----
# 1: a double fork that keeps the output pipe open.
explore_bounded 0 daemon1 "($(daemon daemon1) &); $(await daemon1)"
# 2: a new session, output elsewhere.
explore_bounded 0 daemon2 "setsid $(daemon daemon2) >/dev/null 2>&1 & $(await daemon2)"
# 3: a new session that keeps the output pipe open.
explore_bounded 0 daemon3 "setsid $(daemon daemon3) & $(await daemon3)"
for n in 1 2 3; do
	# Every state passed, so each checker's daemon started; all are gone.
	jq -e '.failures == [] and .states.passed == .states.checked' "$WORK/daemon$n.json" >/dev/null ||
		fail "daemon checker $n: $(cat "$WORK/daemon$n.json")"
	none_left "daemon checker $n" "$P"/daemon$n.*
done

# ---- a checker killed by a signal: signal 11, no exit status ----
explore_bounded 1 segv 'kill -SEGV $$'
jq -e '.states.passed == 0 and
       ([.failures[] | .signal == 11 and .exit_status == null and .timed_out == false] | all)' \
	"$WORK/segv.json" >/dev/null || fail "signal: $(cat "$WORK/segv.json")"

# ---- endless output: bounded in the report, the timeout still applies ----
explore_bounded 1 yes 'yes' --timeout 1 -j 2
jq -e '([.failures[] | .timed_out == true and (.output | utf8bytelength) > 0 and
                      (.output | utf8bytelength) < 200000] | all)' \
	"$WORK/yes.json" >/dev/null || fail "endless output: $(head -c 2000 "$WORK/yes.json")"
nf=$(jq '.failures | length' "$WORK/yes.json")
[ "$(wc -c <"$WORK/yes.json")" -lt $((nf * 200000 + 100000)) ] ||
	fail "endless output: the report is $(wc -c <"$WORK/yes.json") bytes for $nf failures"
[ "$(wc -c <"$WORK/yes.out")" -lt $((nf * 200000 + 100000)) ] ||
	fail "endless output: the summary is $(wc -c <"$WORK/yes.out") bytes"
exit 0
