#!/bin/sh
# REQUIRES: fuse, jq
# record_uring.sh - a liburing program under record --calls
# (scenarios/engines/uringwal.c: per commit, a write and an fdatasync
# submitted in one io_uring_enter, then the commit is marked).
#  - Every write and fdatasync the ring's workers made is joined to its SQE
#    and to the io_uring_enter that submitted it (show --json: call.sqe).
#  - Unlinked, the bug is caught on every recording, whichever order the
#    workers happened to run the two SQEs in: the explorer takes the sync
#    as free to run first.  Without the calls log the same trace is caught
#    exactly when some commit's sync was recorded before its write - by
#    luck; the test checks that relation too, so it knows what made the
#    difference.
#  - Linked (IOSQE_IO_LINK) and drained (IOSQE_IO_DRAIN), the sync covers
#    the write and every recording passes.
. "$top_srcdir/tests/lib.sh"
require_fuse
require_cmd jq
E="$top_builddir/scenarios/engines/uringwal"
N=5

# joined TRACE: every write/fsync of wal.log has an SQE of the right opcode
# and an io_uring_enter; prints how many commits have the sync recorded first.
joined() {
	"$FL" show --json "$1" >"$WORK/show.json" || fail "show $1"
	jq -e --argjson n "$N" '[.records[] | select((.op == "write" or .op == "fsync") and .call.sqe != null)]
	       | length == 2 * $n' "$WORK/show.json" >/dev/null ||
		fail "$1: not every write and sync of the $N commits is joined to an SQE: $(jq -c '[.records[] | {op, pid, call}]' "$WORK/show.json")"
	jq -e '[.records[] | select(.call.sqe != null)
	        | (.call.syscall == "io_uring_enter") and
	          ((.op == "write" and .call.sqe.opcode == "WRITE") or
	           (.op == "fsync" and .call.sqe.opcode == "FSYNC" and .call.sqe.rw_flags == 1))] | all' \
		"$WORK/show.json" >/dev/null || fail "$1: an op joined to the wrong SQE"
	jq -e '[.records[] | select(.call.sqe != null and .op == "write")
	        | .call.text | test("^WRITE\\(fd [0-9]+, @[0-9]+\\).* submitted by io_uring_enter\\(.*\\) in [a-z_]+\\(\\) uringwal\\.c:[0-9]+")]
	       | all' "$WORK/show.json" >/dev/null ||
		fail "$1: a write's call does not name the SQE and the engine's line: $(jq -r '.records[] | select(.op == "write") | .call.text' "$WORK/show.json" | head -2)"
	# Per submission (its entry time): is the sync recorded before the write?
	jq '[.records[] | select(.call.sqe != null) | {e: .call.entry_ns, op}] | group_by(.e)
	    | map(select(.[0].op == "fsync")) | length' "$WORK/show.json"
}

# Unlinked: ten recordings, each caught.  The async ones (the write sent
# to a worker at once) are often recorded write first: the order that hides
# the bug from a trace read in recorded order.
sync_first=0 write_first=0
for run in "unlinked 5" "unlinked 5" "async 1" "async 1" "async 1" "async 1" "async 1" \
	"async 1" "async 1" "async 1"; do
	set -- $run
	mode=$1 N=$2
	t="$WORK/$mode-$sync_first-$write_first"
	"$FL" record -o "$t" --calls -- "$E" run "$mode" "$N" >"$WORK/rec.out" 2>&1 ||
		fail "record $run: $(cat "$WORK/rec.out")"
	early=$(joined "$t") || exit 1
	if [ "$early" -gt 0 ]; then sync_first=$((sync_first + 1)); else write_first=$((write_first + 1)); fi
	"$FL" explore "$t" --model posix --check "$E check" --json "$WORK/ex.json" >"$WORK/ex.out" 2>&1
	rc=$?
	[ $rc -eq 1 ] || fail "$run ($early syncs recorded first): explore exited $rc, want 1: $(tail -3 "$WORK/ex.out")"
	jq -e '[.causes[].kind] | index("acknowledged-commit-lost")' "$WORK/ex.json" >/dev/null ||
		fail "$run: no acknowledged-commit-lost cause: $(jq -c '[.causes[].kind]' "$WORK/ex.json")"
	grep -q 'lost op [0-9]* (write /wal.log @[0-9]*+512) from WRITE(fd [0-9]*, @[0-9]*) submitted by io_uring_enter' "$WORK/ex.out" ||
		fail "$run: the failure does not name the lost write's SQE: $(grep -m1 FAIL "$WORK/ex.out")"
	# The same trace in recorded order only (no calls log): caught iff some sync was recorded first.
	mv "$t/calls" "$t/calls.off"
	"$FL" explore "$t" --model posix --check "$E check" >"$WORK/ex2.out" 2>&1
	rc=$?
	want=0
	[ "$early" -gt 0 ] && want=1
	[ $rc -eq $want ] ||
		fail "$run without its calls log: explore exited $rc, want $want ($early syncs recorded first)"
done
# How many recordings only the rule caught (their order hid the bug) varies from run to run.
echo "unlinked: $sync_first recordings had a sync recorded before its write; $write_first had none, and were caught only because the submission was read"
N=5

for mode in linked drain; do
	i=1
	while [ $i -le 2 ]; do
		t="$WORK/$mode-$i"
		"$FL" record -o "$t" --calls -- "$E" run $mode $N >"$WORK/rec.out" 2>&1 ||
			fail "record $mode: $(cat "$WORK/rec.out")"
		early=$(joined "$t") || exit 1
		[ "$early" -eq 0 ] || fail "$mode recording $i: $early syncs recorded before their write"
		for model in posix ext4-ordered strict; do
			"$FL" explore "$t" --model $model --check "$E check" >"$WORK/ex.out" 2>&1 ||
				fail "$mode recording $i, $model: explore exited $?: $(tail -3 "$WORK/ex.out")"
		done
		i=$((i + 1))
	done
done
exit 0
