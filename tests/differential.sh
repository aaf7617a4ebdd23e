#!/bin/sh
# REQUIRES: fuse
# differential.sh - the explorer proven against the reference enumerator
# (tests/difftest: every model, every mode, state set by state set, plus
# disk keys, replay, the states faultline crash draws, and folding's
# later crash points) on three kinds
# of trace:
#   1. seeded synthetic traces (tests/tracegen): FAULTLINE_DIFF_SEEDS of
#      them (default 200) of FAULTLINE_DIFF_OPS ops (8), starting at seed
#      FAULTLINE_DIFF_FIRST (1); a quarter with pages captured from shared
#      mappings (--early), a quarter with io_uring submissions (--uring);
# replaying every FAULTLINE_DIFF_REPLAY_EVERY-th state (5).
#   2. every bundled engine's recording, and workload_ops' (every op
#      faultline records), cut to small windows (tests/tracecut);
#   3. the op sequences of FAULTLINE_DIFF_REAL (16) of those seeds run for
#      real under `faultline record` (tracegen --setup / --run: the
#      kernel's own ordering, split writes and FSYNCs); as root only (the
#      sequences chown), else this part is skipped and the test says so.
# scripts/differential runs the long version.
. "$top_srcdir/tests/lib.sh"
require_fuse
B="$top_builddir/tests"
E="$top_builddir/scenarios/engines"
SEEDS=${FAULTLINE_DIFF_SEEDS:-200}
FIRST=${FAULTLINE_DIFF_FIRST:-1}
OPS=${FAULTLINE_DIFF_OPS:-8}
REPLAY_EVERY=${FAULTLINE_DIFF_REPLAY_EVERY:-5}
REAL=${FAULTLINE_DIFF_REAL:-16}
# States are built on tmpfs when there is one: they are many and small.
[ -d /dev/shm ] && [ -w /dev/shm ] && SCRATCH=$(mktemp -d /dev/shm/faultline-diff.XXXXXX) ||
	SCRATCH="$WORK/scratch"
mkdir -p "$SCRATCH"
LIB_EXTRA_DIRS="$SCRATCH"

# difftest NAME TRACE...: starts the comparison in the background (its
# pid in $PIDS/NAME, so an early failure ends it), output in $WORK/NAME.out.
difftest() {
	name=$1
	shift
	TMPDIR="$SCRATCH" "$B/difftest" --quiet --replay-every "$REPLAY_EVERY" "$@" \
		>"$WORK/$name.out" 2>&1 &
	echo $! >"$PIDS/$name"
}

# verdict NAME: waits for it; fails the test on any violation.
verdict() {
	wait "$(cat "$PIDS/$1")"
	rc=$?
	rm -f "$PIDS/$1"
	tail -n 1 "$WORK/$1.out"
	[ $rc -eq 0 ] || fail "$1 (exit $rc): $(grep -m 10 -E '^(VIOLATION|ERROR)' "$WORK/$1.out")"
	grep -q ' 0 violations, 0 errors$' "$WORK/$1.out" || fail "$1: no summary"
	grep -qE ' [1-9][0-9]* crash draws,' "$WORK/$1.out" || fail "$1: no faultline crash state was drawn"
	grep -qE ' [1-9][0-9]* fold points, [1-9][0-9]* folded ops,' "$WORK/$1.out" ||
		fail "$1: no fold was compared, or none folded anything"
}

# 1. synthetic traces, in two halves (two cores)
mkdir "$WORK/gen" "$WORK/gen/a" "$WORK/gen/b"
seed=$FIRST
while [ "$seed" -lt $((FIRST + SEEDS)) ]; do
	half=$([ $((seed % 2)) -eq 0 ] && echo a || echo b)
	# a quarter carry pages captured from mappings, a quarter io_uring submissions
	case $((seed % 4)) in
	1) kind=--early ;;
	2) kind=--uring ;;
	*) kind="" ;;
	esac
	# shellcheck disable=SC2086
	"$B/tracegen" "$seed" "$WORK/gen/$half/$seed" --ops "$OPS" $kind >/dev/null ||
		fail "tracegen $seed failed"
	seed=$((seed + 1))
done
difftest synthetic-a "$WORK"/gen/a/*
difftest synthetic-b "$WORK"/gen/b/*

# 2. real engines' recordings, cut to windows of 12 records
record() { # record NAME SETUP CMD...
	n=$1
	s=$2
	shift 2
	(cd "$WORK" && "$FL" record -o "$WORK/rec-$n" --setup "$s" -- "$@") >/dev/null 2>&1 ||
		fail "recording $n failed"
}
record walkv "$E/walkv init" "$E/walkv" run 6
record mmapstore "$E/mmapstore init" "$E/mmapstore" run 3
record cowtree "$E/cowtree init" "$E/cowtree" run 3
record cowtree-dsync "$E/cowtree init --meta-dsync" "$E/cowtree" run 3 --meta-dsync
record ops true "$B/workload_ops"
cuts=""
for n in walkv mmapstore cowtree cowtree-dsync ops; do
	last=$(jq -r .records "$WORK/rec-$n/meta.json")
	from=1
	while [ "$from" -lt "$last" ]; do
		"$B/tracecut" "$WORK/rec-$n" "$from" $((from + 11)) "$WORK/cut-$n-$from" ||
			fail "tracecut $n $from failed"
		cuts="$cuts $WORK/cut-$n-$from"
		from=$((from + 9))
	done
done
verdict synthetic-a
# shellcheck disable=SC2086
difftest engines $cuts

# 3. the same random op sequences, for real
[ "$(id -u)" -eq 0 ] || { verdict synthetic-b; verdict engines; skip "part 3 needs root"; }
i=0
while [ $i -lt "$REAL" ]; do
	seed=$((FIRST + i))
	"$FL" record -o "$WORK/real-$seed" --setup "$B/tracegen $seed --setup --ops $OPS" \
		-- "$B/tracegen" "$seed" --run --ops "$OPS" >"$WORK/real-$seed.log" 2>&1 ||
		fail "recording tracegen $seed --run failed: $(tail -3 "$WORK/real-$seed.log")"
	i=$((i + 1))
done
verdict synthetic-b
difftest real "$WORK"/real-*[0-9]
verdict engines
verdict real
exit 0
