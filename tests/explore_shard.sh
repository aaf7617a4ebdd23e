#!/bin/sh
# REQUIRES: fuse, jq
# explore_shard.sh - `explore --shard K/N` checks a deterministic slice:
# the N shards, merged, equal the unsharded run (counts and the failing
# states, with their explanations and verdicts), whatever -j each used;
# no state is checked by two shards.
. "$top_srcdir/tests/lib.sh"
require_fuse
require_cmd jq cmp

T="$WORK/r.trace"
# Three replace-by-rename without fsync: dozens of states, many failing under posix.
"$FL" record -o "$T" --setup 'for i in 1 2 3; do printf old > f$i; done' -- \
	sh -c 'for i in 1 2 3; do printf new$i > f$i.tmp && mv f$i.tmp f$i; done' \
	>"$WORK/rec.out" 2>&1 || hard_error "record exited $?: $(cat "$WORK/rec.out")"
CHECK='for i in 1 2 3; do printf old | cmp -s - f$i || printf new$i | cmp -s - f$i || exit 1; done'

# explore_rc WANT OUT ARGS...
explore_rc() {
	want=$1 out=$2
	shift 2
	"$FL" explore "$T" --check "$CHECK" --model posix --no-progress --json "$out" "$@" \
		>"$out.log" 2>&1
	rc=$?
	[ $rc -eq "$want" ] || fail "explore $*: exit $rc, want $want: $(head -c 2000 "$out.log")"
}

# Failures as comparable lines: id, crash point, verdict, explanation.
failures() {
	jq -r '.failures[] | [.id, .crash_after, .exit_status, .signal, .timed_out, .explanation] | @json' "$1" | sort
}

for mode in omit-one bounded:2 random:100; do
	d="$WORK/$mode"
	mkdir "$d"
	explore_rc 1 "$d/full.json" --mode "$mode" --seed 7 -j 1
	jq -e '.states.unique >= 24 and .states.failed > 0 and .states.passed > 0' "$d/full.json" >/dev/null ||
		fail "$mode: want a few dozen states, some failing: $(jq -c .states "$d/full.json")"
	for k in 1 2 3; do
		"$FL" explore "$T" --check "$CHECK" --model posix --no-progress --mode "$mode" --seed 7 \
			-j $k --shard $k/3 --json "$d/s$k.json" >"$d/s$k.log" 2>&1
		rc=$?
		want=$(jq 'if .states.failed > 0 then 1 else 0 end' "$d/s$k.json") ||
			fail "$mode shard $k/3: no report (exit $rc): $(cat "$d/s$k.log")"
		[ $rc -eq "$want" ] || fail "$mode shard $k/3: exit $rc with $(jq -c .states "$d/s$k.json")"
		jq -e --argjson k $k '.shard.k == $k and .shard.n == 3' "$d/s$k.json" >/dev/null ||
			fail "$mode shard $k/3: report does not name its shard"
	done
	# No state is checked twice, none is left out.
	jq -e -s '[.[].states.checked] | add' "$d"/s[123].json >"$d/sum" || fail "$mode: shard reports unreadable"
	[ "$(cat "$d/sum")" -eq "$(jq .states.checked "$d/full.json")" ] ||
		fail "$mode: shards checked $(cat "$d/sum") states, unsharded $(jq .states.checked "$d/full.json")"
	jq -r '.failures[].id' "$d"/s[123].json | sort | uniq -d >"$d/dups"
	[ -s "$d/dups" ] && fail "$mode: failures reported by two shards: $(cat "$d/dups")"

	"$FL" merge "$d/s1.json" "$d/s2.json" "$d/s3.json" --json "$d/merged.json" >"$d/merge.log" 2>&1
	rc=$?
	[ $rc -eq 1 ] || fail "$mode: merge exit $rc, want 1: $(cat "$d/merge.log")"
	for f in generated unique checked passed failed skipped; do
		a=$(jq ".states.$f" "$d/full.json")
		b=$(jq ".states.$f" "$d/merged.json")
		[ "$a" = "$b" ] || fail "$mode: states.$f: unsharded $a, merged $b"
	done
	jq -r '[.failures[].id] | sort | .[]' "$d/full.json" >"$d/full.ids"
	jq -r '[.failures[].id] | sort | .[]' "$d/merged.json" >"$d/merged.ids"
	cmp -s "$d/full.ids" "$d/merged.ids" ||
		fail "$mode: failing ids differ: $(diff "$d/full.ids" "$d/merged.ids" | head -20)"
	failures "$d/full.json" >"$d/full.f"
	failures "$d/merged.json" >"$d/merged.f"
	cmp -s "$d/full.f" "$d/merged.f" ||
		fail "$mode: failures differ: $(diff "$d/full.f" "$d/merged.f" | head -20)"
	jq -e '.model == "posix" and .shard == null and .coverage == 1' "$d/merged.json" >/dev/null ||
		fail "$mode: merged header: $(jq -c '{model, shard, coverage}' "$d/merged.json")"
done
exit 0
