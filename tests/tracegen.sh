#!/bin/sh
# REQUIRES: nothing (no mount)
# tracegen.sh - synthetic traces from tests/tracegen are what the reader
# and the materializer expect: the same seed gives byte-identical output;
# every trace of a sweep of seeds loads (`faultline show` exits 0); and
# replaying every op of a trace (`faultline replay TRACE c<last>`) builds
# exactly the tree the generator's own simulation ended with (names,
# bytes, symlink targets, hard links, permissions).  A bad command line
# and an existing OUTDIR are refused with exit 2.
#
# TRACEGEN_SEEDS (default 200) and TRACEGEN_REPLAYS (default 40) widen
# the sweeps (the generator was written against 2000 of each).
. "$top_srcdir/tests/lib.sh"

TG="$top_builddir/tests/tracegen"
[ -x "$TG" ] || hard_error "$TG is not built"
SEEDS=${TRACEGEN_SEEDS:-200}
REPLAYS=${TRACEGEN_REPLAYS:-40}

# Records in a trace: the "records" field of its meta.json.
records() {
	sed -n 's/^ *"records": *\([0-9]*\).*/\1/p' "$1/meta.json"
}

expect_exit 2 "$TG" 2>/dev/null
expect_exit 2 "$TG" x "$WORK/bad" 2>/dev/null
expect_exit 2 "$TG" 1 "$WORK/bad" --ops 0 2>/dev/null
mkdir "$WORK/taken"
expect_exit 2 "$TG" 1 "$WORK/taken" 2>/dev/null

for s in 1 77 4242; do
	"$TG" "$s" "$WORK/a$s" --expect-final "$WORK/fa$s" || fail "seed $s: exit $?"
	"$TG" "$s" "$WORK/b$s" --expect-final "$WORK/fb$s" || fail "seed $s: exit $?"
	diff -r --no-dereference "$WORK/a$s" "$WORK/b$s" >/dev/null &&
		diff -r --no-dereference "$WORK/fa$s" "$WORK/fb$s" >/dev/null ||
		fail "seed $s: two runs differ"
	rm -rf "$WORK/a$s" "$WORK/b$s" "$WORK/fa$s" "$WORK/fb$s"
done

s=1
while [ "$s" -le "$SEEDS" ]; do
	T="$WORK/t$s"
	"$TG" "$s" "$T" || fail "seed $s: tracegen exit $?"
	"$FL" show "$T" >/dev/null 2>"$WORK/err" ||
		fail "seed $s: show: $(cat "$WORK/err")"
	rm -rf "$T"
	s=$((s + 1))
done

# Permissions, types and link counts of every path below $1, sorted.
modes() {
	(cd "$1" && find . -printf '%p %M %n\n' | LC_ALL=C sort)
}

s=1
while [ "$s" -le "$REPLAYS" ]; do
	T="$WORK/t$s" F="$WORK/f$s" R="$WORK/r$s"
	ops=--ops=$((6 + s % 40))
	"$TG" "$s" "$T" "$ops" --expect-final "$F" || fail "seed $s: tracegen exit $?"
	"$FL" replay "$T" "c$(records "$T")" --into "$R" >"$WORK/out" 2>&1 ||
		fail "seed $s $ops: replay: $(cat "$WORK/out")"
	diff -r --no-dereference "$F" "$R" >"$WORK/diff" 2>&1 ||
		fail "seed $s $ops: replay differs from the simulation: $(head -5 "$WORK/diff")"
	modes "$F" >"$WORK/mf"
	modes "$R" >"$WORK/mr"
	diff "$WORK/mf" "$WORK/mr" >"$WORK/diff" ||
		fail "seed $s $ops: modes differ: $(head -5 "$WORK/diff")"
	rm -rf "$T" "$F" "$R"
	s=$((s + 1))
done
exit 0
