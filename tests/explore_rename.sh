#!/bin/sh
# REQUIRES: fuse, jq
# explore_rename.sh - the classic replace-by-rename without any fsync:
# write f.tmp, rename it over f.  Under posix the rename may reach the
# disk before f.tmp's bytes (or without f.tmp's create), so a crash can
# leave f empty or missing, and explore must say so (exit 1).  Under
# strict every state is an ordered prefix, so f always holds "old" or
# "new" (exit 0).
. "$top_srcdir/tests/lib.sh"
require_fuse
require_cmd jq cmp

T="$WORK/rename.trace"
"$FL" record -o "$T" --setup 'printf old > f' -- sh -c 'printf new > f.tmp && mv f.tmp f' \
	2>"$WORK/rec.err" || hard_error "record exited $?: $(cat "$WORK/rec.err")"
# The checker: f exists and holds exactly "old" or exactly "new".
CHECK='printf old | cmp -s - f || printf new | cmp -s - f'

# ---- posix: exit 1, and some failing state leaves f empty or missing ----
"$FL" explore "$T" --check "$CHECK" --model posix --no-progress \
	--json "$WORK/posix.json" >"$WORK/posix.out" 2>&1
rc=$?
[ $rc -eq 1 ] || fail "posix: exit $rc, want 1: $(cat "$WORK/posix.out")"
jq -e '.model == "posix" and .states.failed > 0 and
       .states.failed == (.failures | length) and
       .states.checked == .states.passed + .states.failed and
       ([.failures[] | .exit_status != 0 and .signal == null and .timed_out == false] | all)' \
	"$WORK/posix.json" >/dev/null || fail "posix report: $(cat "$WORK/posix.json")"

# Rebuild each failing state and look at f: at least one must have lost
# it or its bytes, and none may hold "old" or "new" (they failed the check).
jq -r '.failures[].id' "$WORK/posix.json" >"$WORK/ids"
n=0
lost=0
while read -r id; do
	n=$((n + 1))
	d="$WORK/state.$n"
	"$FL" replay "$T" "$id" --into "$d" >"$WORK/replay.out" 2>&1 ||
		fail "replay $id exited $?: $(cat "$WORK/replay.out")"
	if [ ! -e "$d/f" ] || [ ! -s "$d/f" ]; then
		lost=$((lost + 1))
	elif (cd "$d" && sh -c "$CHECK"); then
		fail "failing state $id passes the checker on replay"
	fi
done <"$WORK/ids"
[ $n -gt 0 ] || fail "no failing ids in the posix report"
[ $lost -gt 0 ] || fail "no failing posix state leaves f empty or missing"
# The explanation names the rename that reached the disk first.
jq -e '[.failures[] | select(.explanation | test("rename"))] | length > 0' \
	"$WORK/posix.json" >/dev/null || fail "no explanation mentions the rename"

# ---- strict: ordered prefixes only, so the rename is safe ----
for mode in prefix omit-one bounded:2; do
	"$FL" explore "$T" --check "$CHECK" --model strict --mode "$mode" --no-progress \
		--json "$WORK/strict.json" >"$WORK/strict.out" 2>&1
	rc=$?
	[ $rc -eq 0 ] || fail "strict $mode: exit $rc, want 0: $(cat "$WORK/strict.out")"
	jq -e '.states.checked > 0 and .states.failed == 0 and .failures == []' \
		"$WORK/strict.json" >/dev/null || fail "strict $mode report: $(cat "$WORK/strict.json")"
done
exit 0
