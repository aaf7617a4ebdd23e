#!/bin/sh
# REQUIRES: clang with libFuzzer (Debian clang, libclang-rt-14-dev)
# fuzz_smoke.sh - a short, fixed-length libFuzzer run of the trace reader
# and the scenario parser, with ASan and UBSan, from the seed corpora in
# tests/fuzz/.  Long runs: the same binaries with -max_total_time=N.
. "$top_srcdir/tests/lib.sh"
require_cmd clang
S="$top_srcdir/src"
CFLAGS="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_GNU_SOURCE -iquote $S -iquote $top_builddir"
# shellcheck disable=SC2086
clang $CFLAGS -include "$top_builddir/config.h" -o "$WORK/fuzz_trace" "$top_srcdir/tests/fuzz/fuzz_trace.c" \
	"$S/trace.c" "$S/names.c" "$S/fl_error.c" -lxxhash 2>"$WORK/cc.err" ||
	skip "clang cannot build a libFuzzer target here: $(head -3 "$WORK/cc.err")"
# shellcheck disable=SC2086
# The scenario parser links the whole library: its sources, as Makefile.am
# lists them, and its libraries, as configure found them (FAULTLINE_LIB_LIBS).
LIB=""
for f in $(sed -n '/^src_libfaultline_a_SOURCES/,/NULL/p' "$top_srcdir/Makefile.am" |
	grep -o 'src/[a-z_]*\.c'); do
	LIB="$LIB $top_srcdir/$f"
done
[ -n "$LIB" ] || hard_error "no library sources found in Makefile.am"
# shellcheck disable=SC2086
clang $CFLAGS -include "$top_builddir/config.h" -o "$WORK/fuzz_scenario" "$top_srcdir/tests/fuzz/fuzz_scenario.c" \
	$LIB ${FAULTLINE_LIB_LIBS:?FAULTLINE_LIB_LIBS is unset: run under make check} -lpthread 2>"$WORK/cc.err" || fail "fuzz_scenario does not build: $(head -5 "$WORK/cc.err")"
for t in trace scenario; do
	mkdir "$WORK/new-$t"
	"$WORK/fuzz_$t" -runs=4000 -seed=1 "$WORK/new-$t" "$top_srcdir/tests/fuzz/$t-corpus" \
		>"$WORK/$t.log" 2>&1 || fail "fuzz_$t found a crash: $(grep -m3 -E 'ERROR|runtime error' "$WORK/$t.log")"
done
exit 0
