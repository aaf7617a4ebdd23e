#!/bin/sh
# REQUIRES: fuse, jq
# explore_log.sh - tests/applog, an append-only log with a CRC per record
# and fdatasync before each acknowledged commit, explored on its own
# recovery check.  The correct engine survives every state of every model
# (torn tails included: recovery truncates at the first bad CRC).  Two
# broken variants must be caught under posix: --late-sync acknowledges a
# commit before it is durable ("commit N lost"), and --no-crc cannot tell
# a torn tail from a record (recovery hands back bytes never written).
. "$top_srcdir/tests/lib.sh"
require_fuse
require_cmd jq

A="$top_builddir/tests/applog"
[ -x "$A" ] || hard_error "$A is not built"
N=20

record() {
	trace=$1
	shift
	"$FL" record -o "$trace" -- "$A" append $N "$@" >"$WORK/rec.out" 2>&1 ||
		hard_error "record applog append $N $*: exit $?: $(cat "$WORK/rec.out")"
	[ "$("$FL" show "$trace" | grep -c ' mark ')" -eq $N ] ||
		hard_error "the trace of applog append $N $* lacks its $N marks"
}

# explore_json WANT_EXIT OUT.json TRACE ARGS...: runs explore, checks the exit.
explore_json() {
	want=$1 out=$2 trace=$3
	shift 3
	"$FL" explore "$trace" --no-progress --json "$out" "$@" >"$WORK/explore.out" 2>&1
	rc=$?
	[ $rc -eq "$want" ] ||
		fail "explore $* on $trace: exit $rc, want $want: $(head -c 3000 "$WORK/explore.out")"
	jq -e '.states.checked > 0 and .states.checked == .states.passed + .states.failed and
	       .states.failed == (.failures | length) and .coverage == 1' "$out" >/dev/null ||
		fail "explore $* on $trace: inconsistent report: $(head -c 3000 "$out")"
}

# ---- the correct engine passes everywhere ----
record "$WORK/good.trace"
# Natively and on the final tree the log holds all N commits.
for i in $(seq 1 $N); do echo "commit $i"; done >"$WORK/all.marks"
mkdir "$WORK/native" && (cd "$WORK/native" && env -u FAULTLINE_MNT "$A" append $N && FAULTLINE_MARKS="$WORK/all.marks" "$A" check) ||
	hard_error "applog fails natively"
for model in posix ext4-ordered strict; do
	for mode in omit-one bounded:2; do
		explore_json 0 "$WORK/good.json" "$WORK/good.trace" \
			--check "$A check" --model "$model" --mode "$mode"
		jq -e '.failures == [] and .states.passed == .states.checked' "$WORK/good.json" >/dev/null ||
			fail "correct log under $model/$mode: $(head -c 3000 "$WORK/good.json")"
	done
done
# The checker really runs: a state with every commit acknowledged but the
# log gone fails it (so the passes above are not vacuous).
mkdir "$WORK/empty"
(cd "$WORK/empty" && FAULTLINE_MARKS="$WORK/all.marks" "$A" check >"$WORK/chk.out") &&
	fail "applog check passes an empty log with $N acknowledged commits"
grep -qx "commit 1 lost (log holds 0 records)" "$WORK/chk.out" ||
	fail "applog check output: $(cat "$WORK/chk.out")"

# ---- --late-sync: acknowledged before durable; posix loses a commit ----
record "$WORK/late.trace" --late-sync
explore_json 1 "$WORK/late.json" "$WORK/late.trace" --check "$A check" --model posix
# A state that only drops ops (no tear) and loses an acknowledged commit:
# the write of record N was in flight when "commit N" was acknowledged.
jq -e '[.failures[] | select((.id | test("^c[0-9]+(-d[0-9]+)+$")) and
                              (.output | test("^commit [0-9]+ lost")) and
                              .exit_status == 1)] | length > 0' "$WORK/late.json" >/dev/null ||
	fail "--late-sync: no failure loses an acknowledged commit: $(head -c 3000 "$WORK/late.json")"
# Each such failure's lost commit was acknowledged (the explanation's last mark
# is at least the lost one).
jq -r '.failures[] | select(.output | test("^commit [0-9]+ lost")) |
       [(.output | capture("^commit (?<n>[0-9]+) lost").n),
        (.explanation | capture("last \"commit (?<n>[0-9]+)\"").n // "0")] | @tsv' \
	"$WORK/late.json" >"$WORK/late.tsv" || fail "cannot read the --late-sync failures"
[ -s "$WORK/late.tsv" ] || fail "--late-sync: no 'commit N lost' failure"
while read -r lost acked; do
	[ "$lost" -le "$acked" ] || fail "--late-sync: commit $lost reported lost but only $acked acknowledged"
done <"$WORK/late.tsv"
# The summary on stdout says it in plain words too.
grep -q "commit [0-9]* lost" "$WORK/explore.out" || fail "summary lacks 'commit N lost'"

# ---- --no-crc: a torn tail is taken for a record under posix ----
record "$WORK/nocrc.trace" --no-crc
explore_json 1 "$WORK/nocrc.json" "$WORK/nocrc.trace" --check "$A check --no-crc" --model posix
jq -e '[.failures[] | select((.id | test("-t[0-9]+:")) and (.output | test("garbage")))] |
       length > 0' "$WORK/nocrc.json" >/dev/null ||
	fail "--no-crc: no torn state caught: $(head -c 3000 "$WORK/nocrc.json")"
exit 0
