#!/bin/sh
# REQUIRES: fuse, sqlite3, jq
# run_scenarios.sh - every bundled scenario (scenarios/*.ini) runs through
# `faultline run` and its verdict equals its expect: each correct engine
# passes, each buggy one is caught, and caught for exactly the kinds of
# cause its bug implies (each buggy scenario names them: causes = ...).
. "$top_srcdir/tests/lib.sh"
require_fuse
require_cmd sqlite3 jq
FAULTLINE_SCENARIO_BUILDDIR="$top_builddir/scenarios"
export FAULTLINE_SCENARIO_BUILDDIR

n=0
bad=""
for sc in "$top_srcdir"/scenarios/*.ini; do
	name=$(basename "$sc" .ini)
	"$FL" run "$sc" --no-progress >"$WORK/$name.out" 2>&1
	rc=$?
	n=$((n + 1))
	if [ $rc -ne 0 ]; then
		echo "---- $name (exit $rc)"
		tail -n 8 "$WORK/$name.out"
		bad="$bad $name"
	fi
	grep -q "^scenario $name: \(PASS\|FAIL\) (expected " "$WORK/$name.out" ||
		bad="$bad $name(no-verdict)"
	# A buggy engine must be caught with a reason, not just an exit code,
	# and for the causes its scenario names (faultline run compares them).
	if grep -q "^scenario $name: FAIL" "$WORK/$name.out"; then
		grep -q "^  first failure: crash during op" "$WORK/$name.out" ||
			bad="$bad $name(no-explanation)"
		want=$(sed -n 's/^causes *= *//p' "$sc")
		[ -n "$want" ] || bad="$bad $name(names-no-causes)"
		grep -qxF "  causes: $want" "$WORK/$name.out" || bad="$bad $name(causes)"
	fi
done
[ $n -ge 2 ] || hard_error "found only $n scenarios"
[ -z "$bad" ] || fail "scenarios whose verdict differs from expect:$bad"
exit 0
