#!/bin/sh
# REQUIRES: fuse, jq
# explore_replay.sh - a state id alone rebuilds its state: replaying an id
# twice gives byte-identical trees (garbage sectors included) and the same
# content key; the replay of each failing id is the very state explore
# checked (--keep-failures) and gets the same verdict from replay --check;
# bad ids and an existing target directory are refused with exit 2 and
# one line.
. "$top_srcdir/tests/lib.sh"
require_fuse
require_cmd jq

T="$WORK/w.trace"
# A few writes (one spanning two sectors), a file whose data is fsynced
# but whose create is not (its directory never is), a create + rename,
# two marks.
"$FL" record -o "$T" --setup 'printf base > a && mkdir d' -- sh -c '
	printf "%0600d" 0 >> a
	printf synced | dd of=s conv=fsync status=none
	printf hello > b.tmp
	echo "commit 1" > "$FAULTLINE_MNT/.faultline-ctl"
	mv b.tmp b
	printf more >> a
	printf inner > d/c
	echo "commit 2" > "$FAULTLINE_MNT/.faultline-ctl"' >"$WORK/rec.out" 2>&1 ||
	hard_error "record exited $?: $(cat "$WORK/rec.out")"
# Once "commit 1" is acknowledged, s holds "synced" if it exists at all
# (its data was fsynced; its name may be lost, under posix).  Once
# "commit 2" is, b must hold "hello" (nothing synced it, so posix has
# states where it does not).
CHECK='{ ! grep -qx "commit 1" "$FAULTLINE_MARKS" || ! test -e s || test "$(cat s)" = synced; } &&
	{ ! grep -qx "commit 2" "$FAULTLINE_MARKS" || test "$(cat b 2>/dev/null)" = hello; }'

"$FL" explore "$T" --check "$CHECK" --model posix --no-progress --json "$WORK/r.json" \
	--keep-failures "$WORK/kept" >"$WORK/explore.out" 2>&1
rc=$?
[ $rc -eq 1 ] || fail "explore: exit $rc, want 1: $(head -c 2000 "$WORK/explore.out")"
jq -e '.states.passed > 0 and .states.failed > 0' "$WORK/r.json" >/dev/null ||
	fail "want passing and failing states: $(jq -c .states "$WORK/r.json")"

"$FL" show --json "$T" >"$WORK/show.json" || hard_error "show exited $?"
last=$(jq '.records[-1].seq' "$WORK/show.json")
# Failing ids: torn ones first (their garbage must be rebuilt identically), then others.
jq -r '[.failures[].id] | (map(select(test("-t"))) | .[:3]) + (map(select(test("-t") | not)) | .[:2]) | .[]' \
	"$WORK/r.json" >"$WORK/failing"
grep -q -- '-t[0-9]*:[0-9a-z]*g' "$WORK/failing" || fail "no failing state with a garbage sector: $(cat "$WORK/failing")"
[ "$(wc -l <"$WORK/failing")" -ge 3 ] || fail "too few failing ids: $(cat "$WORK/failing")"

# Every failing state, replayed, is the state explore kept (the checker
# only reads) and fails the checker again: its id says all there is.
jq -r '.failures[].id' "$WORK/r.json" >"$WORK/all-failing"
while read -r id; do
	[ -d "$WORK/kept/$id" ] || fail "--keep-failures did not keep $id"
	"$FL" replay "$T" "$id" --into "$WORK/again" --check "$CHECK" >"$WORK/again.out" 2>&1
	rc=$?
	diff -r --no-dereference "$WORK/kept/$id" "$WORK/again" >"$WORK/again.diff" 2>&1 ||
		fail "replay of $id differs from the state explore checked: $(head -5 "$WORK/again.diff")"
	[ $rc -eq 1 ] || fail "explore failed $id, replay --check exits $rc: $(cat "$WORK/again.out")"
	rm -rf "$WORK/again"
done <"$WORK/all-failing"

# content_key OUTPUT: the key replay printed.
content_key() {
	sed -n 's/^faultline: replay: state .* built in .* (content \([0-9a-f]\{16\}\), .*)$/\1/p' "$1"
}

# listing DIR: every entry's type, mode, size and link target.
listing() {
	(cd "$1" && find . -printf '%P %y %m %s %l\n' | sort)
}

# replay_twice ID WANT_CHECK_EXIT
replay_twice() {
	id=$1 want=$2 n=$((n + 1))
	for k in 1 2; do
		"$FL" replay "$T" "$id" --into "$WORK/rp$n.$k" >"$WORK/rp$n.$k.out" 2>&1 ||
			fail "replay $id (#$k): exit $?: $(cat "$WORK/rp$n.$k.out")"
	done
	diff -r --no-dereference "$WORK/rp$n.1" "$WORK/rp$n.2" >/dev/null ||
		fail "replaying $id twice gives different bytes"
	[ "$(listing "$WORK/rp$n.1")" = "$(listing "$WORK/rp$n.2")" ] ||
		fail "replaying $id twice gives different trees (types, modes, sizes)"
	k1=$(content_key "$WORK/rp$n.1.out")
	k2=$(content_key "$WORK/rp$n.2.out")
	[ -n "$k1" ] || fail "replay $id printed no content key: $(cat "$WORK/rp$n.1.out")"
	[ "$k1" = "$k2" ] || fail "replay $id: content keys differ: $k1 vs $k2"
	# The checker's verdict on replay is explore's.
	"$FL" replay "$T" "$id" --into "$WORK/rp$n.check" --check "$CHECK" >"$WORK/rp$n.check.out" 2>&1
	rc=$?
	[ $rc -eq "$want" ] || fail "replay $id --check: exit $rc, want $want: $(cat "$WORK/rp$n.check.out")"
}

n=0
echo "replaying: $(tr "\n" " " <"$WORK/failing") c$last c1"
while read -r id; do
	replay_twice "$id" 1
done <"$WORK/failing"
# The whole trace applied (the prefix at the last record) passes,
# and so does the bare base, before any op.
replay_twice "c$last" 0
replay_twice "c1" 0
[ "$(cat "$WORK/rp$((n - 1)).1/b")" = hello ] || fail "c$last: b does not hold hello"
[ "$(cat "$WORK/rp$((n - 1)).1/d/c")" = inner ] || fail "c$last: d/c does not hold inner"
[ "$(cat "$WORK/rp$((n - 1)).1/s")" = synced ] || fail "c$last: s does not hold synced"
[ -e "$WORK/rp$n.1/b" ] && fail "c1: b exists before the workload ran"
[ "$(cat "$WORK/rp$n.1/a")" = base ] || fail "c1: a is not the base"

# bad_input WHAT ARGS...: exit 2, exactly one line on stderr.
bad_input() {
	what=$1
	shift
	"$FL" replay "$@" >"$WORK/bad.out" 2>"$WORK/bad.err"
	rc=$?
	[ $rc -eq 2 ] || fail "$what: exit $rc, want 2: $(cat "$WORK/bad.err")"
	[ "$(wc -l <"$WORK/bad.err")" -eq 1 ] || fail "$what: stderr is not one line: $(cat "$WORK/bad.err")"
}
for id in c999999 garbage c5-t1:3x; do
	bad_input "id $id" "$T" "$id" --into "$WORK/bad.$n"
	[ -e "$WORK/bad.$n" ] && fail "id $id: left $WORK/bad.$n behind"
	n=$((n + 1))
done
# An existing directory is never replaced or filled.
mkdir "$WORK/exists" && echo precious >"$WORK/exists/keep"
bad_input "existing --into" "$T" "c$last" --into "$WORK/exists"
[ "$(ls "$WORK/exists")" = keep ] && [ "$(cat "$WORK/exists/keep")" = precious ] ||
	fail "replay into an existing directory changed it"
exit 0
