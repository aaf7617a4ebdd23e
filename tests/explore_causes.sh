#!/bin/sh
# REQUIRES: fuse, jq
# explore_causes.sh - one real bug that fails in many states is reported
# as one cause: a minimal state (ddmin from "everything in flight
# persisted") that still fails, in words, listed first in the summary,
# the JSON and the JUnit report; and that minimal state, replayed, fails.
. "$top_srcdir/tests/lib.sh"
require_fuse
require_cmd jq
A="$top_builddir/tests/applog"

"$FL" record -o "$WORK/t" -- "$A" append 20 --late-sync >/dev/null 2>&1 || hard_error "record failed"
"$FL" explore "$WORK/t" --check "$A check" --mode bounded:2 --no-progress \
	--json "$WORK/r.json" --junit "$WORK/r.xml" >"$WORK/out" 2>&1
[ $? -eq 1 ] || fail "explore should find the bug: $(head -5 "$WORK/out")"
jq -e '.states.failed >= 50' "$WORK/r.json" >/dev/null || fail "want many failing states: $(jq -c .states "$WORK/r.json")"
jq -e '.causes | length == 1' "$WORK/r.json" >/dev/null ||
	fail "want one cause, got: $(jq -c '[.causes[] | {id, n: (.states | length)}]' "$WORK/r.json")"
jq -e '.causes[0] as $c | ($c.states | length) == (.failures | length) and
       ([.failures[] | .cause == $c.id] | all)' "$WORK/r.json" >/dev/null ||
	fail "the cause does not cover every failing state"
jq -e '.causes[0].words | test("commit [0-9]+ lost") and test("nothing else needed")' \
	"$WORK/r.json" >/dev/null || fail "cause words: $(jq -r '.causes[0].words' "$WORK/r.json")"
sed -n 2,3p "$WORK/out" | grep -q '^CAUSE ' || fail "the summary does not start with the cause"
grep -q 'classname="faultline.posix.causes"' "$WORK/r.xml" || fail "JUnit lacks the cause"
id=$(jq -r '.causes[0].id' "$WORK/r.json")
"$FL" replay "$WORK/t" "$id" --into "$WORK/min" --check "$A check" >"$WORK/replay.out" 2>&1
[ $? -eq 1 ] || fail "the minimal state $id does not fail when replayed: $(cat "$WORK/replay.out")"
# Minimal: at most one op lost or torn is needed for this bug.
[ "$(echo "$id" | tr -cd '-' | wc -c)" -le 1 ] || fail "cause $id is not minimal"
exit 0
