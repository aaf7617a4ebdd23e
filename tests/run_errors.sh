#!/bin/sh
# REQUIRES: nothing (fails before recording)
# run_errors.sh - a bad scenario gets "FILE:LINE: reason" (or "FILE:
# reason") on one line and exit 2, before anything is recorded.
. "$top_srcdir/tests/lib.sh"

# bad NAME EXPECTED_TEXT: write $WORK/NAME.ini from stdin, run it.
bad() {
	cat >"$WORK/$1.ini"
	"$FL" run "$WORK/$1.ini" >"$WORK/$1.out" 2>"$WORK/$1.err"
	rc=$?
	[ $rc -eq 2 ] || fail "$1: exit $rc, want 2: $(cat "$WORK/$1.err")"
	[ "$(wc -l <"$WORK/$1.err")" -eq 1 ] || fail "$1: stderr is not one line: $(cat "$WORK/$1.err")"
	grep -qF "$2" "$WORK/$1.err" || fail "$1: '$2' not in: $(cat "$WORK/$1.err")"
	ls "$WORK" | grep -q faultline-run && fail "$1: left a work directory"
	return 0
}

bad unknown-key "unknown-key.ini:4: unknown key 'modle'" <<'E'
[scenario]
workload = true
check = true
modle = posix
E
bad no-check "no-check.ini: missing 'check'" <<'E'
[scenario]
workload = true
E
bad no-workload "missing 'workload'" <<'E'
[scenario]
check = true
E
bad bad-model "bad-model.ini:4: unknown model 'ext5'" <<'E'
[scenario]
workload = true
check = true
model = ext5
E
bad bad-mode "bad-mode.ini:3: bad mode 'bounded:x'" <<'E'
[scenario]
workload = true
mode = bounded:x
check = true
E
bad bad-expect "bad-expect.ini:2: expect must be pass or fail" <<'E'
[scenario]
expect = maybe
workload = true
check = true
E
bad bad-calls "bad-calls.ini:4: calls must be yes or no, not 'maybe'" <<'E'
[scenario]
workload = true
check = true
calls = maybe
E
bad calls-twice "calls-twice.ini:5: 'calls' given twice" <<'E'
[scenario]
workload = true
check = true
calls = yes
calls = no
E
bad bad-number "bad-number.ini:4: sector: value out of range" <<'E'
[scenario]
workload = true
check = true
sector = -5
E
bad bad-section "bad-section.ini:2: unknown section [scenarios]" <<'E'
[scenarios]
workload = true
E
bad twice "twice.ini:3: 'workload' given twice" <<'E'
[scenario]
workload = true
workload = false
check = true
E
bad both-checks "both-checks.ini:4: 'check' or 'check-server' given twice" <<'E'
[scenario]
workload = true
check = true
check-server = true
E
bad bad-cause "bad-cause.ini:5: unknown cause kind 'torn'" <<'E'
[scenario]
workload = true
check = true
expect = fail
causes = torn-write, torn
E
bad cause-pass "cause-pass.ini: 'causes' needs expect = fail" <<'E'
[scenario]
workload = true
check = true
causes = torn-write
E
bad not-ini "not-ini.ini:2: not an INI line" <<'E'
[scenario]
this is not a key value line
E
expect_exit 2 "$FL" run "$WORK/missing.ini"
expect_exit 2 "$FL" run
exit 0
