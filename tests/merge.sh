#!/bin/sh
# REQUIRES: jq, xmllint (no mount)
# merge.sh - `faultline merge` of hand-written shard reports: the merged
# counts, failure order and exit code; then shards that do not belong
# together (other model, missing, duplicate, overlapping, garbage) are
# refused with exit 2 and a one-line reason naming the file.
. "$top_srcdir/tests/lib.sh"
require_cmd jq xmllint

# shard K N CHECKED PASSED FAILED SKIPPED ELAPSED FAILURES [MODEL]: one shard's report.
shard() {
	cat <<EOF
{
  "faultline": "0.1.0",
  "trace": "runs/wal.trace",
  "model": "${9:-posix}",
  "mode": "omit-one",
  "states": {"generated": 40, "unique": 30, "checked": $3, "passed": $4,
             "failed": $5, "skipped": $6},
  "coverage": 1.0,
  "elapsed_s": $7,
  "failures": [$8],
  "mechanism": "reflink (xfs)",
  "note": null,
  "shard": {"k": $1, "n": $2}
}
EOF
}

# failure ID CRASH_AFTER EXIT_STATUS OUTPUT: one entry of "failures".
failure() {
	cat <<EOF
{"id": "$1", "crash_after": $2, "explanation": "op $2 write wal@0+512 lost",
 "exit_status": $3, "signal": null, "timed_out": false, "output": "$4",
 "content_key": "$(printf '%016x' "$2")"}
EOF
}

S="$WORK/s"
mkdir "$S"
shard 1 3 10 9 1 0 1.25 "$(failure c20-d3 20 1 'bad crc <7>')" >"$S/1.json"
shard 2 3 10 8 2 0 3.5 "$(failure c20-a 20 1 ''), $(failure c5 5 2 'x\ny')" >"$S/2.json"
shard 3 3 9 9 0 1 2.0 "" >"$S/3.json"

# one_line_error WANT CMD...: exit 2 and exactly one stderr line holding WANT.
one_line_error() {
	want=$1
	shift
	"$@" >"$WORK/out" 2>"$WORK/err"
	rc=$?
	[ "$rc" -eq 2 ] || fail "$*: exit $rc, want 2 ($(cat "$WORK/err"))"
	[ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "$*: stderr is not one line: $(cat "$WORK/err")"
	grep -qF -- "$want" "$WORK/err" || fail "$*: '$want' not in: $(cat "$WORK/err")"
}

# ---- the shards merge into the unsharded report ----
"$FL" merge "$S/3.json" "$S/1.json" "$S/2.json" --json "$WORK/m.json" \
	--junit "$WORK/m.xml" >"$WORK/summary" 2>"$WORK/err"
rc=$?
[ "$rc" -eq 1 ] || fail "merge with failures: exit $rc, want 1 ($(cat "$WORK/err"))"
jq -e '.states == {"generated": 40, "unique": 30, "checked": 29, "passed": 26,
		   "failed": 3, "skipped": 1}
	and .coverage > 0.9666 and .coverage < 0.9667
	and .elapsed_s == 3.5 and .shard == null and .note == null
	and .model == "posix" and .mode == "omit-one" and .trace == "runs/wal.trace"
	and .mechanism == "reflink (xfs)"
	and ([.failures[].id] == ["c5", "c20-a", "c20-d3"])
	and .failures[0].output == "x\ny" and .failures[0].exit_status == 2
	and .failures[2].output == "bad crc <7>" and .failures[1].signal == null
	and .failures[0].content_key == "0000000000000005"' "$WORK/m.json" >/dev/null ||
	fail "merged JSON: $(cat "$WORK/m.json")"
grep -q "^faultline: posix/omit-one on runs/wal.trace: 40 states generated, 30 unique, 29 checked: 26 passed, 3 failed, 1 skipped (coverage 96.6%, 3.5 s: 11 generated/s, 8 checked/s, reflink (xfs))$" \
	"$WORK/summary" || fail "summary line: $(cat "$WORK/summary")"
[ "$(grep -c '^FAIL ' "$WORK/summary")" -eq 3 ] || fail "summary failures: $(cat "$WORK/summary")"
grep -A1 '^FAIL c5  crash during op 5: op 5 write wal@0+512 lost$' "$WORK/summary" | grep -q '^    checker exit 2: x$' || fail "summary of c5: $(cat "$WORK/summary")"
grep -q '<testsuite name="faultline posix omit-one" tests="8" failures="6"' "$WORK/m.xml" ||
	fail "JUnit: $(cat "$WORK/m.xml")"
grep -q 'bad crc &lt;7&gt;' "$WORK/m.xml" || fail "JUnit output not escaped"
xmllint --noout "$WORK/m.xml" || fail "JUnit is not well-formed XML"

# A merged (unsharded) report merged alone is reprinted unchanged.
"$FL" merge "$WORK/m.json" --json "$WORK/again.json" >/dev/null 2>&1
rc=$?
[ "$rc" -eq 1 ] || fail "remerge: exit $rc, want 1"
cmp -s "$WORK/m.json" "$WORK/again.json" || fail "remerge changed the report"

# Passing shards: exit 0; --json - puts the report alone on stdout.
shard 1 2 5 5 0 0 1 "" >"$S/p1.json"
shard 2 2 4 4 0 0 1 "" >"$S/p2.json"
"$FL" merge --json - "$S/p1.json" "$S/p2.json" >"$WORK/out" 2>"$WORK/err" ||
	fail "passing shards: exit $? ($(cat "$WORK/err"))"
jq -e '.states.checked == 9 and .coverage == 0.3 and .failures == []' "$WORK/out" >/dev/null ||
	fail "passing shards JSON: $(cat "$WORK/out")"
grep -q '^faultline: posix/omit-one on runs/wal.trace: .* 9 checked: 9 passed, 0 failed (coverage 30.0%, 1.0 s' \
	"$WORK/err" || fail "summary with --json -: $(cat "$WORK/err")"

# ---- shards that do not belong together ----
shard 2 3 10 10 0 0 1 "" ext4-ordered >"$S/other-model.json"
one_line_error "$S/other-model.json: model \"ext4-ordered\" differs from \"posix\"" \
	"$FL" merge "$S/1.json" "$S/other-model.json" "$S/3.json"
one_line_error "shard 2/3 is missing" "$FL" merge "$S/1.json" "$S/3.json"
one_line_error "$S/2.json: shard 2/3 is also given by $S/2.json" \
	"$FL" merge "$S/1.json" "$S/2.json" "$S/2.json" "$S/3.json"
shard 3 3 9 8 1 0 1 "$(failure c20-a 20 1 'again')" >"$S/overlap.json"
one_line_error "state c20-a is also reported by $S/2.json" \
	"$FL" merge "$S/1.json" "$S/2.json" "$S/overlap.json"
shard 2 4 10 10 0 0 1 "" >"$S/of4.json"
one_line_error "$S/of4.json: shard count 4 differs from 3" \
	"$FL" merge "$S/1.json" "$S/of4.json" "$S/3.json"
sed 's/"generated": 40/"generated": 41/' "$S/3.json" >"$S/gen.json"
one_line_error "$S/gen.json: states generated 41 differs from 40" \
	"$FL" merge "$S/1.json" "$S/2.json" "$S/gen.json"
one_line_error "$WORK/m.json: not a shard report" \
	"$FL" merge "$S/1.json" "$WORK/m.json"

# ---- files that are not reports ----
printf 'SQLite format 3\000garbage' >"$S/garbage.json"
one_line_error "$S/garbage.json: not JSON" "$FL" merge "$S/1.json" "$S/garbage.json"
: >"$S/empty.json"
one_line_error "$S/empty.json: empty file" "$FL" merge "$S/empty.json"
echo '{"faultline": "0.1.0", "trace": "t"}' >"$S/partial.json"
one_line_error "$S/partial.json: missing field \"model\"" "$FL" merge "$S/partial.json"
sed 's/"unique": 30/"unique": "30"/' "$S/1.json" >"$S/type.json"
one_line_error "$S/type.json: field \"states.unique\" is not a non-negative integer" \
	"$FL" merge "$S/type.json" "$S/2.json" "$S/3.json"
one_line_error "$S/nope.json: cannot open" "$FL" merge "$S/nope.json"

# ---- usage and output errors ----
expect_exit 2 "$FL" merge 2>/dev/null
expect_exit 2 "$FL" merge --bogus "$S/1.json" 2>/dev/null
expect_exit 0 "$FL" merge --help >/dev/null
"$FL" merge "$S/p1.json" "$S/p2.json" --json "$WORK/no/such/dir/m.json" >/dev/null 2>"$WORK/err"
rc=$?
[ "$rc" -eq 3 ] || fail "unwritable --json: exit $rc, want 3"
grep -q "cannot write" "$WORK/err" || fail "unwritable --json: $(cat "$WORK/err")"
exit 0
