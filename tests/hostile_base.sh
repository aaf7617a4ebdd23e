#!/bin/sh
# REQUIRES: fuse
# hostile_base.sh - a shared trace is untrusted: when its base snapshot
# has a symlink where the BASE records say a directory is, explore and
# replay refuse it (exit 2, one line) instead of reading through the link:
# the base check (verify.c) names it before the materializer's own guard
# is reached.
. "$top_srcdir/tests/lib.sh"
require_fuse

"$FL" record -o "$WORK/t" --setup 'mkdir d && echo mine > d/passwd' -- sh -c 'echo x > y' \
	>/dev/null 2>&1 || hard_error "record failed"
"$FL" replay "$WORK/t" c1 --into "$WORK/ok" >/dev/null || fail "a sound trace does not replay"
[ "$(cat "$WORK/ok/d/passwd")" = mine ] || fail "the sound replay lost d/passwd"

# The attack: d becomes a link to a directory outside the trace.
mkdir "$WORK/outside" && echo secret >"$WORK/outside/passwd"
rm -rf "$WORK/t/base/d" && ln -s "$WORK/outside" "$WORK/t/base/d"
"$FL" replay "$WORK/t" c1 --into "$WORK/bad" >/dev/null 2>"$WORK/err"
rc=$?
[ $rc -eq 2 ] || fail "replay of a hostile base: exit $rc, want 2: $(cat "$WORK/err")"
[ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "not one line: $(cat "$WORK/err")"
grep -q "base/d is a symlink, the trace recorded a directory" "$WORK/err" ||
	fail "reason: $(cat "$WORK/err")"
grep -rqs secret "$WORK/bad" && fail "the state holds a file from outside the trace"
"$FL" explore "$WORK/t" --check true --no-progress >/dev/null 2>"$WORK/err"
rc=$?
[ $rc -eq 2 ] || fail "explore of a hostile base: exit $rc, want 2: $(cat "$WORK/err")"
exit 0
