#!/bin/sh
# REQUIRES: fuse, jq
# explore_causes_img.sh - the cause search builds each candidate state on
# the crash point's image (explore_causes_img.c), and every such state is
# the state `faultline replay` builds: with FAULTLINE_VERIFY_CAUSES=1 each
# candidate is also built from the bare base and the two trees (bytes,
# names, modes, owners, mtimes, xattrs) must have one content key.  Run
# over bundled buggy scenarios of every cause kind the engines show (lost
# acknowledged data, torn writes, names not durable, failures with nothing
# lost), once with --max-causes (the search during the sweep, when later
# failures are not known yet); the verdicts and causes must be the ones
# the scenarios expect, and verifying must not change them.
. "$top_srcdir/tests/lib.sh"
require_fuse
require_cmd jq
FAULTLINE_SCENARIO_BUILDDIR="$top_builddir/scenarios"
export FAULTLINE_SCENARIO_BUILDDIR
S="$top_srcdir/scenarios"

# verified NAME [OPTION...]: runs scenario NAME verifying every candidate.
verified() {
	name=$1
	shift
	FAULTLINE_VERIFY_CAUSES=1 "$FL" run "$S/$name.ini" --no-progress \
		--json "$WORK/$name.json" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
	rc=$?
	! grep -q "internal error" "$WORK/$name.err" ||
		fail "$name: a candidate differs from its build from the base: $(grep "internal error" "$WORK/$name.err" | head -n 3)"
	[ $rc -eq 0 ] || fail "$name: exit $rc (verdict differs from expect?): $(tail -n 5 "$WORK/$name.out" "$WORK/$name.err")"
	n=$(sed -n 's/.*cause search: \([0-9]*\) candidate states verified.*/\1/p' "$WORK/$name.err")
	[ -n "$n" ] && [ "$n" -gt 0 ] ||
		fail "$name: no candidate state was verified: $(cat "$WORK/$name.err")"
	# every candidate built is verified: those checked, and those an
	# earlier check of the same state answered
	runs=$(jq '.cause_search.runs + .cause_search.answered' "$WORK/$name.json")
	[ "$n" -eq "$runs" ] || fail "$name: $n candidates verified, $runs checker runs and answers"
}

for sc in walkv-early-ack walkv-no-dirsync-posix walkv-ckpt-nosync cowtree-nosync \
	mmapstore-naive; do
	verified "$sc"
done
verified walkv-early-ack --max-causes 1

# Verifying changes nothing: the same causes, ids and words without it.
"$FL" run "$S/cowtree-nosync.ini" --no-progress --json "$WORK/plain.json" >/dev/null 2>&1
want=$(jq -c '[.causes[] | [.id, .kind, .words]]' "$WORK/cowtree-nosync.json")
got=$(jq -c '[.causes[] | [.id, .kind, .words]]' "$WORK/plain.json")
[ "$want" = "$got" ] || fail "causes differ with and without verifying: $want vs $got"
exit 0
