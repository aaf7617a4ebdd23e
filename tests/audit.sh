#!/bin/sh
# REQUIRES: fuse, jq
# audit.sh - faultline audit on the bundled engines: the whole matrix of
# each (3 orderings x 6 device assumptions, pass or fail per cell), the
# verdict it draws, and --claims as an exit code.  Each correct engine
# holds exactly where its design says (walkv: every ordering, tears, but
# not damage to a torn write's neighbouring sectors; mmapstore and cowtree
# likewise), and each buggy variant needs one assumption more.  A state
# is checked once however many cells hold it: a checker that logs what it
# saw never sees the same state (content and marks) twice.
. "$top_srcdir/tests/lib.sh"
require_fuse
require_cmd jq
SC="$top_srcdir/scenarios"
export FAULTLINE_SCENARIO_BUILDDIR="$top_builddir/scenarios"

# matrix JSON: the cells as "strict ext4-ordered posix" rows of P and F.
matrix() {
	jq -r '[.cells[] | if .holds then "P" else "F" end] | join("") |
		.[0:6] + " " + .[6:12] + " " + .[12:18]' "$1"
}

# audit NAME WANT_EXIT WANT_MATRIX WANT_ORDERING WANT_DEVICE: audits
# scenarios/NAME.ini and checks the matrix and what it says survives.
audit() {
	name=$1 want_rc=$2 want=$3 ord=$4 dev=$5
	"$FL" audit "$SC/$name.ini" --no-progress --json "$WORK/$name.json" >"$WORK/$name.out" 2>&1
	rc=$?
	[ $rc -eq "$want_rc" ] || fail "$name: exit $rc, want $want_rc: $(head -c 1500 "$WORK/$name.out")"
	got=$(matrix "$WORK/$name.json")
	[ "$got" = "$want" ] || fail "$name: matrix $got, want $want: $(head -c 3000 "$WORK/$name.out")"
	jq -e --arg o "$ord" --arg d "$dev" '(.survives.ordering // "none") == $o and
		(.survives.device // "none") == $d' "$WORK/$name.json" >/dev/null ||
		fail "$name: survives $(jq -c .survives "$WORK/$name.json"), want $ord/$dev"
	# The table says the same as the JSON.
	grep -q "^verdict: $(jq -r .verdict "$WORK/$name.json" | cut -c1-40)" "$WORK/$name.out" ||
		fail "$name: the table's verdict is not the JSON's"
}

# Correct engines: everything but damage beside a torn write.
audit walkv 1 "PPPPPP PPPPPP PPPPFF" posix torn
audit mmapstore 1 "PPPPFF PPPPFF PPPPFF" posix torn
audit cowtree 1 "PPPPFF PPPPFF PPPPFF" posix torn
# One more assumption each.
audit walkv-no-dirsync-posix 1 "PPPPPP PPPPPP FFFFFF" ext4-ordered block64k
audit walkv-nocrc 1 "PPPPPP PPPPPP FFFFFF" ext4-ordered block64k
audit walkv-early-ack 1 "PPPPPP FFFFFF FFFFFF" strict block64k
audit walkv-ckpt-nosync 1 "PPPPPP FFFFFF FFFFFF" strict block64k
audit cowtree-meta-nocrc 1 "PPPFFF PPPFFF PPPFFF" posix sector-atomic
audit cowtree-meta-before-sync 1 "PPPPFF FFFFFF FFFFFF" strict torn
audit mmapstore-naive 1 "FFFFFF FFFFFF FFFFFF" none none
# Commits by one small O_DSYNC write of its meta page: with a checksum it
# holds like cowtree; without, it needs the device to keep sectors whole.
audit cowtree-meta-dsync 1 "PPPPFF PPPPFF PPPPFF" posix torn
audit cowtree-meta-dsync-nocrc 1 "PPPFFF PPPFFF PPPFFF" posix sector-atomic

# The verdict in words names what is needed and why.
for n in cowtree-meta-nocrc cowtree-meta-dsync-nocrc; do
	jq -e '.verdict | startswith("needs sector-atomic writes (past it, torn: torn-write")' \
		"$WORK/$n.json" >/dev/null || fail "$n verdict: $(jq -r .verdict "$WORK/$n.json")"
done
jq -e '.verdict | contains("needs strict ordering") and contains("under ext4-ordered: acknowledged-commit-lost")' \
	"$WORK/walkv-early-ack.json" >/dev/null ||
	fail "walkv-early-ack verdict: $(jq -r .verdict "$WORK/walkv-early-ack.json")"
jq -e '.verdict | startswith("fails even with strict ordering and whole writes")' \
	"$WORK/mmapstore-naive.json" >/dev/null ||
	fail "mmapstore-naive verdict: $(jq -r .verdict "$WORK/mmapstore-naive.json")"
# Each failing cell names a cause and a state that replays.
jq -e '[.cells[] | select(.holds | not) | (.causes | length) > 0 and .example != null] | all' \
	"$WORK/walkv-early-ack.json" >/dev/null || fail "a failing cell without cause or example"

# ---- a trace and --claims; each state checked once ----
W="$top_builddir/scenarios/engines/walkv"
"$FL" record -o "$WORK/t" --setup "$W init" -- "$W" run 8 >"$WORK/rec.out" 2>&1 ||
	hard_error "record: $(cat "$WORK/rec.out")"
# The checker logs each state it sees (names, modes, bytes, and the marks),
# then checks it.
cat >"$WORK/logcheck.sh" <<EOF2
#!/bin/sh
{ find . -type f -printf '%p %m %T@ %s %U\n' | LC_ALL=C sort; find . -type f -exec md5sum {} + | LC_ALL=C sort;
  cat "\$FAULTLINE_MARKS"; } | md5sum >>'$WORK/seen'
exec "$W" check
EOF2
chmod +x "$WORK/logcheck.sh"
for claims in posix,torn strict,whole ext4-ordered,block64k; do
	: >"$WORK/seen"
	"$FL" audit "$WORK/t" --check "$WORK/logcheck.sh" --claims "$claims" --no-progress \
		--json "$WORK/c.json" >"$WORK/c.out" 2>&1
	[ $? -eq 0 ] || fail "walkv --claims $claims: not exit 0: $(head -c 1500 "$WORK/c.out")"
	dups=$(sort "$WORK/seen" | uniq -d | wc -l)
	[ "$dups" -eq 0 ] || fail "$dups states were checked more than once in one audit"
done
: >"$WORK/seen"
"$FL" audit "$WORK/t" --check "$WORK/logcheck.sh" --claims posix,block16k --no-progress \
	--json "$WORK/c.json" >"$WORK/c.out" 2>&1
[ $? -eq 1 ] || fail "walkv --claims posix,block16k: not exit 1: $(head -c 1500 "$WORK/c.out")"
jq -e '.claims == {"ordering": "posix", "device": "block16k", "holds": false} and
	.verdicts_reused > 0 and .checker_runs > 0' "$WORK/c.json" >/dev/null || fail "claims JSON: $(jq -c '{claims, checker_runs, verdicts_reused}' "$WORK/c.json")"
runs=$(jq .checker_runs "$WORK/c.json")
[ "$runs" -eq "$(wc -l <"$WORK/seen")" ] ||
	fail "checker_runs $runs, but the checker ran $(wc -l <"$WORK/seen") times"
[ "$(sort "$WORK/seen" | uniq -d | wc -l)" -eq 0 ] || fail "a state was checked twice"

# ---- usage ----
"$FL" audit "$WORK/t" --check true --claims posix,teflon 2>"$WORK/u.err"
rc=$?
[ $rc -eq 2 ] && [ "$(wc -l <"$WORK/u.err")" -eq 1 ] || fail "bad --claims: exit $rc: $(cat "$WORK/u.err")"
"$FL" audit "$WORK/t" 2>"$WORK/u.err"
[ $? -eq 2 ] || fail "audit without a checker: not exit 2"
"$FL" audit "$SC/walkv.ini" --check true 2>"$WORK/u.err"
[ $? -eq 2 ] || fail "audit SCENARIO --check: not exit 2"
exit 0
