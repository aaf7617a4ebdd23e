#!/bin/sh
# REQUIRES: fuse for the recordings (the synthetic traces need none)
# explain_sweep.sh - `faultline explain` (one sweep over the trace) says,
# byte for byte, what `faultline explain --reference` (the first
# algorithm: a rescan of the trace per file and moment) says: the text,
# --json and --html, under every model, at several --page and --block
# sizes (pages smaller than, equal to and not dividing the block), on
#   1. EXPLAIN_SEEDS (default 40) synthetic traces from tests/tracegen,
#      of 5 to 154 ops;
#   2. a recording of every bundled scenario's workload (after its setup)
#      and of workload_ops (every op faultline records); the SQLite ones
#      only where sqlite3 is installed.
. "$top_srcdir/tests/lib.sh"
require_cmd cmp
TG="$top_builddir/tests/tracegen"
SEEDS=${EXPLAIN_SEEDS:-40}

# same TRACE: both classifiers agree on TRACE in every configuration.
same() {
	for model in posix ext4-ordered strict; do
		for size in "" "--page 512" "--page 512 --block 4096" "--block 16384" \
			"--page 1024 --block 3000"; do
			# shellcheck disable=SC2086
			"$FL" explain "$1" --model $model $size --json "$WORK/s.json" \
				--html "$WORK/s.html" >"$WORK/s.txt" 2>&1
			rs=$?
			# shellcheck disable=SC2086
			"$FL" explain "$1" --model $model $size --json "$WORK/r.json" \
				--html "$WORK/r.html" --reference >"$WORK/r.txt" 2>&1
			rr=$?
			what="$(basename "$1") --model $model $size"
			[ $rs -eq 0 ] && [ $rr -eq 0 ] || fail "$what: exit $rs, reference $rr"
			for out in txt json html; do
				cmp -s "$WORK/s.$out" "$WORK/r.$out" ||
					fail "$what: the $out differs: $(diff "$WORK/r.$out" "$WORK/s.$out" | head -5)"
			done
			compared=$((compared + 1))
		done
	done
}
compared=0

# 1. synthetic traces
[ -x "$TG" ] || hard_error "$TG is not built"
s=1
while [ "$s" -le "$SEEDS" ]; do
	"$TG" "$s" "$WORK/t$s" --ops $((5 + s * 37 % 150)) >/dev/null || fail "tracegen $s failed"
	same "$WORK/t$s"
	rm -rf "$WORK/t$s"
	s=$((s + 1))
done
echo "synthetic: $SEEDS traces, $compared configurations alike"

# 2. recordings of the bundled scenarios
require_fuse
SC="$top_srcdir/scenarios"
for ini in "$SC"/*.ini; do
	n=$(basename "$ini" .ini)
	case $n in
	sqlite-*) command -v sqlite3 >/dev/null 2>&1 || { echo "$n: no sqlite3, left out"; continue; } ;;
	esac
	# The scenario's ./paths, made absolute (engines are built, scripts are sources).
	abs() {
		sed -n "s/^$1 *= *//p" "$ini" |
			sed -e "s#\(^\| \)\./engines/#\1$top_builddir/scenarios/engines/#g" \
			    -e "s#\(^\| \)\./#\1$SC/#g"
	}
	setup=$(abs setup)
	(cd "$WORK" && "$FL" record -o "$WORK/rec-$n" --setup "${setup:-true}" -- \
		sh -c "$(abs workload)") >"$WORK/rec-$n.log" 2>&1 ||
		[ -f "$WORK/rec-$n/meta.json" ] || fail "recording $n failed: $(tail -3 "$WORK/rec-$n.log")"
	same "$WORK/rec-$n"
done
"$FL" record -o "$WORK/rec-ops" -- "$top_builddir/tests/workload_ops" >"$WORK/rec-ops.log" 2>&1 ||
	fail "recording workload_ops failed: $(tail -3 "$WORK/rec-ops.log")"
same "$WORK/rec-ops"
echo "in all: $compared configurations alike"
exit 0
