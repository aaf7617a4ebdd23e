#!/bin/sh
# REQUIRES: valgrind
# valgrind_unit.sh - the unit tests under valgrind (memcheck, forked test
# processes followed): no invalid access, no use of uninitialised memory,
# no definite leak.  Complements the ASan/UBSan build CI runs.
. "$top_srcdir/tests/lib.sh"
require_cmd valgrind
valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite \
	"$top_builddir/tests/check_faultline" >"$WORK/vg.out" 2>&1
rc=$?
grep -q '^100%: Checks: ' "$WORK/vg.out" || fail "unit tests did not all pass under valgrind: $(grep -E ':[EF]:|Checks' "$WORK/vg.out" | head -5)"
[ $rc -eq 0 ] || fail "valgrind found errors (exit $rc): $(grep -m 10 -E '==[0-9]+== ' "$WORK/vg.out")"
exit 0
