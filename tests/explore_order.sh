#!/bin/sh
# REQUIRES: jq
# explore_order.sh - --order spread visits the crash points in another
# order (16, then 256 spread over the trace, then the rest, each pass from
# the start of the trace) but generates the same states: on synthetic
# traces (tests/tracegen), across modes, models and tear kinds, the set of
# (id, key, marks) it lists equals the plain sweep's, and so does the set
# of unique keys.  A checked run gives the same counts, coverage and
# failing keys.  With --max-causes 1 (spread by default there) each
# failure it reports is a state the sweep lists under the same id and key,
# and the report says the order and honest coverage.
. "$top_srcdir/tests/lib.sh"
require_cmd jq

TG="$top_builddir/tests/tracegen"
[ -x "$TG" ] || hard_error "$TG is not built"

# listing T ORDER ARGS...: the states, as sorted "id key marks" lines,
# and the sorted unique keys in $WORK/u.ORDER.
listing() {
	t=$1 order=$2
	shift 2
	"$FL" states "$t" --order "$order" "$@" -o "$WORK/l.$order" 2>"$WORK/err.$order" ||
		fail "states $t --order $order $*: exit $?: $(cat "$WORK/err.$order")"
	grep -v '^#' "$WORK/l.$order" | awk '{ print $1, $2, $3 }' | LC_ALL=C sort >"$WORK/s.$order"
	awk '$4 == "unique" { print $2 }' "$WORK/l.$order" | LC_ALL=C sort >"$WORK/u.$order"
}

set -- "--mode omit-one" "--mode prefix" "--mode bounded:2 --tear old,new,zero" \
	"--mode exhaustive --tear old,new" "--mode omit-one --tear old,new,garbage"
nmodes=$#
models="posix ext4-ordered strict"
s=1
compared=0
# Seeds 1-20: short traces (up to about 80 crash points: two passes), every
# mode; 21-24: long ones (over 256 crash points: all three passes).
while [ "$s" -le 24 ]; do
	T="$WORK/t$s"
	if [ "$s" -le 20 ]; then
		ops=$((20 + s * 3))
		i=$(( (s % nmodes) + 1 ))
		eval "args=\${$i}"
	else
		ops=320
		args="--mode omit-one --tear old,new,zero"
		[ $((s % 2)) -eq 0 ] || args="--mode prefix"
	fi
	"$TG" "$s" "$T" --ops "$ops" || hard_error "tracegen $s: exit $?"
	model=$(echo "$models" | cut -d' ' -f$(( (s % 3) + 1 )))
	# shellcheck disable=SC2086
	listing "$T" sweep --model "$model" $args
	# shellcheck disable=SC2086
	listing "$T" spread --model "$model" $args
	[ -s "$WORK/s.sweep" ] || fail "seed $s: no states listed"
	cmp -s "$WORK/s.sweep" "$WORK/s.spread" ||
		fail "seed $s ($model $args): the two orders generate different states: $(diff "$WORK/s.sweep" "$WORK/s.spread" | head -5)"
	cmp -s "$WORK/u.sweep" "$WORK/u.spread" ||
		fail "seed $s ($model $args): different unique keys: $(diff "$WORK/u.sweep" "$WORK/u.spread" | head -5)"
	# crash points with a state: enough for the passes this seed is for
	ncp=$(sed 's/^\(c[0-9]*\).*/\1/' "$WORK/s.sweep" | sort -u | wc -l)
	[ "$s" -le 20 ] && want=17 || want=257
	[ "$ncp" -ge "$want" ] || hard_error "seed $s: only $ncp crash points (want $want or more)"
	compared=$((compared + 1))
	[ "$s" -eq 20 ] || rm -rf "$T"
	s=$((s + 1))
done
[ "$compared" -eq 24 ] || fail "compared $compared traces, not 24"

# A checked run: a checker that fails every state holding an empty file.
T="$WORK/t20"
CHK='! find . -type f -empty | grep -q .'
for order in sweep spread; do
	"$FL" explore "$T" --order "$order" --mode omit-one --tear old,new --check "$CHK" \
		--no-progress --json "$WORK/r.$order.json" >"$WORK/r.$order.out" 2>&1
	rc=$?
	[ $rc -le 1 ] || fail "explore --order $order: exit $rc: $(head -c 1500 "$WORK/r.$order.out")"
done
jq -e '.states.failed > 0 and .states.passed > 0' "$WORK/r.sweep.json" >/dev/null ||
	hard_error "the empty-file checker does not split trace 20's states: $(jq -c .states "$WORK/r.sweep.json")"
for f in '.states' '.coverage' '[.failures[].content_key] | sort'; do
	[ "$(jq -c "$f" "$WORK/r.sweep.json")" = "$(jq -c "$f" "$WORK/r.spread.json")" ] ||
		fail "checked run: $f differs: $(jq -c "$f" "$WORK/r.sweep.json") vs $(jq -c "$f" "$WORK/r.spread.json")"
done
jq -e '.note | contains("--order spread")' "$WORK/r.spread.json" >/dev/null ||
	fail "the spread report does not say its order: $(jq -c .note "$WORK/r.spread.json")"

# --max-causes 1 spreads by default; what it reports are real states.
listing "$T" sweep --mode omit-one --tear old,new
"$FL" explore "$T" --mode omit-one --tear old,new --check "$CHK" --max-causes 1 \
	--no-progress --json "$WORK/m.json" >"$WORK/m.out" 2>&1
[ $? -eq 1 ] || fail "--max-causes 1: exit not 1: $(head -c 1500 "$WORK/m.out")"
jq -e '(.note | contains("--order spread") and contains("--max-causes 1: stopped")) and
	.coverage > 0 and .coverage < 1 and (.causes | length) >= 1' "$WORK/m.json" >/dev/null ||
	fail "--max-causes 1: report: $(jq -c '{note, coverage, causes: (.causes | length)}' "$WORK/m.json")"
jq -r '.failures[] | "\(.id) \(.content_key)"' "$WORK/m.json" >"$WORK/m.fail"
[ -s "$WORK/m.fail" ] || fail "--max-causes 1: no failure listed"
while read -r id key; do
	grep -q "^$id $key " "$WORK/s.sweep" ||
		fail "--max-causes 1: failure $id (key $key) is not a state the sweep lists so"
done <"$WORK/m.fail"

# Usage.
"$FL" explore "$T" --check true --order sideways 2>"$WORK/usage.err"
rc=$?
[ $rc -eq 2 ] && [ "$(wc -l <"$WORK/usage.err")" -eq 1 ] && grep -q -- "--order" "$WORK/usage.err" ||
	fail "--order sideways: exit $rc: $(cat "$WORK/usage.err")"
exit 0
