#!/bin/sh
# REQUIRES: fuse, jq
# explore_dsync.sh - a meta page updated by one small O_DSYNC write, with a
# recovery that trusts it not to tear (cowtree --bug meta-nocrc
# --meta-dsync), must fail under posix in the default mode and in
# exhaustive (the write may tear during it and during the FSYNC that
# completes it), and must pass with --tear old,new (a device whose sector
# writes are atomic: the 24-byte write is old or new).  The correct engine
# (checksummed double meta) passes either way.  explain calls the meta
# page may-tear until that FSYNC completes, durable after it.
. "$top_srcdir/tests/lib.sh"
require_fuse
require_cmd jq
E="$top_builddir/scenarios/engines"

rec() { # rec NAME BUG...
	n=$1
	shift
	"$FL" record -o "$WORK/$n" --setup "$E/cowtree init $* --meta-dsync" -- \
		"$E/cowtree" run 3 "$@" --meta-dsync >"$WORK/$n.rec" 2>&1 ||
		hard_error "record $n: $(tail -3 "$WORK/$n.rec")"
}
rec nocrc --bug meta-nocrc
rec good

# The meta write is a [dsync] WRITE followed by its FSYNC (datasync), same pid.
"$FL" show "$WORK/nocrc" --json | jq -e '[.records[] | select(.op == "write" and .off == 0 and .len == 24)]
	| length == 3' >/dev/null || fail "three 24-byte meta writes expected"

explore() { # explore WANT_EXIT TRACE CHECK_ARGS EXPLORE_ARGS...
	want=$1 t=$2 c=$3
	shift 3
	"$FL" explore "$WORK/$t" --check "$E/cowtree check $c" --no-progress --json "$WORK/r.json" "$@" \
		>"$WORK/ex.out" 2>&1
	got=$?
	[ "$got" -eq "$want" ] || fail "$t $*: exit $got, want $want: $(tail -5 "$WORK/ex.out")"
}
for mode in omit-one exhaustive; do
	explore 1 nocrc "--bug meta-nocrc" --model posix --mode "$mode"
	# what failed is a torn meta write: a tear of a 24-byte write at offset 0
	jq -e '[.failures[] | select(.explanation | test("torn op [0-9]+ \\(write /tree.db @0\\+24\\)"))]
		| length > 0' "$WORK/r.json" >/dev/null ||
		fail "$mode: no failure names the torn meta write: $(jq -c '.failures[0]' "$WORK/r.json")"
	# ... including a crash during its FSYNC, not only during the write
	jq -e '[.failures[] | select(.explanation | test("^crash during op [0-9]+ \\(fsync"))
		| select(.explanation | test("torn op"))] | length > 0' "$WORK/r.json" >/dev/null ||
		fail "$mode: no torn meta write during its fsync"
	explore 0 nocrc "--bug meta-nocrc" --model posix --mode "$mode" --tear old,new
	explore 0 good "" --model posix --mode "$mode"
done

# explain: during the meta write's FSYNC the meta page may tear; after it, it is durable.
"$FL" explain "$WORK/nocrc" --model posix --json "$WORK/x.json" >/dev/null || fail "explain exited $?"
jq -e '[.files[] | select(.path == "/tree.db") | .moments[] | select(.at | test("^before op [0-9]+ fsync"))
	| .pages[0]] | any(. == "may-tear")' "$WORK/x.json" >/dev/null ||
	fail "explain: page 0 is never may-tear before an fsync completes"
jq -e '[.files[] | select(.path == "/tree.db") | .moments[-1].pages[0]] == ["durable"]' \
	"$WORK/x.json" >/dev/null || fail "explain: page 0 not durable at the end"
exit 0
