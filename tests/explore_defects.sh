#!/bin/sh
# REQUIRES: fuse, jq, xmllint
# explore_defects.sh - one cause per defect.  cowtree run without its sync
# option (--bug nosync) and with one unchecked meta page (--bug
# meta-nocrc) has three defects: commits acknowledged with nothing durable
# (a lost meta page write: the store is consistent, acknowledged commits
# are missing), a torn meta page (the store cannot be opened), and pages
# that may be lost while the meta page naming them persists.  Each must be
# its own cause, with its own kind and a minimal id that replays to a
# failing state; causes are ordered by severity; every failing state is
# counted under exactly one cause; the summary, JSON, JUnit and a merge of
# the JSON agree; --max-causes stops at the first one.  The correct engine
# has no cause.
. "$top_srcdir/tests/lib.sh"
require_fuse
require_cmd jq xmllint
E="$top_builddir/scenarios/engines"

"$FL" record -o "$WORK/t" --setup "$E/cowtree init --bug meta-nocrc" -- \
	"$E/cowtree" run 4 --bug nosync --bug meta-nocrc >"$WORK/rec" 2>&1 ||
	hard_error "record: $(tail -3 "$WORK/rec")"
"$FL" explore "$WORK/t" --check "$E/cowtree check --bug meta-nocrc" --model posix \
	--mode omit-one --no-progress --json "$WORK/r.json" --junit "$WORK/r.xml" >"$WORK/out" 2>&1
[ $? -eq 1 ] || fail "explore should fail: $(head -5 "$WORK/out")"

# The kinds, each defect apart.
kinds=$(jq -r '[.causes[].kind] | unique | join(",")' "$WORK/r.json")
[ "$kinds" = "acknowledged-commit-lost,torn-write,unsynced-write-breaks-recovery" ] ||
	fail "cause kinds: $kinds ($(jq -c '[.causes[] | [.kind, .signature]]' "$WORK/r.json"))"
# Lost acknowledged commits: the meta page (the file's fixed area) lost, the
# state consistent without its marks.
jq -e '[.causes[] | select(.kind == "acknowledged-commit-lost" and
	.severity == "acknowledged data lost" and
	.signature == "lost write fixed area /tree.db" and
	(.words | test("^acknowledged commit lost: write of /tree.db @0\\+4096 not synced before mark \"commit [0-9]+\"")))]
	| length == 1' "$WORK/r.json" >/dev/null ||
	fail "no lost-acknowledged-commits cause: $(jq -c '.causes[0]' "$WORK/r.json")"
# The torn meta page, apart from the torn appended pages.
jq -e '[.causes[] | select(.kind == "torn-write" and .severity == "corrupt or unopenable" and
	.signature == "torn write fixed area /tree.db" and
	(.words | test("^torn write trusted: a 4096-byte overwrite at @0 of /tree.db may tear")))]
	| length == 1' "$WORK/r.json" >/dev/null || fail "no torn-meta-page cause"
jq -e '[.causes[] | select(.signature == "torn write append /tree.db")] | length == 1' \
	"$WORK/r.json" >/dev/null || fail "no torn-page cause"

# Most severe first: acknowledged data lost, then corrupt.
jq -e '[.causes[].severity] | .[0] == "acknowledged data lost" and
	(map(if . == "acknowledged data lost" then 1 else 2 end) | . == sort)' \
	"$WORK/r.json" >/dev/null || fail "causes out of order: $(jq -c '[.causes[].severity]' "$WORK/r.json")"

# Every failing state under exactly one cause; the counts add up.
jq -e '([.causes[].states | length] | add) == .states.failed and
	([.causes[].states[]] | unique | length) == .states.failed and
	(.failures | length) == .states.failed and
	(.causes | map({key: .id, value: .kind}) | from_entries) as $k |
	all(.failures[]; $k[.cause] == .cause_kind)' "$WORK/r.json" >/dev/null ||
	fail "causes do not partition the failing states"

# Each cause's minimal state replays to a failing state.
for id in $(jq -r '.causes[].id' "$WORK/r.json"); do
	"$FL" replay "$WORK/t" "$id" --into "$WORK/s" --check "$E/cowtree check --bug meta-nocrc" \
		>"$WORK/replay.out" 2>&1
	[ $? -eq 1 ] || fail "cause $id does not fail when replayed: $(cat "$WORK/replay.out")"
	rm -rf "$WORK/s"
done

# Every state under an "acknowledged data lost" cause is consistent once
# its marks are gone (recovery coped; only acknowledged data is missing):
# a torn meta page that leaves the store unopenable is never counted there.
for id in $(jq -r '.causes[] | select(.severity == "acknowledged data lost") | .states[]' "$WORK/r.json"); do
	"$FL" replay "$WORK/t" "$id" --into "$WORK/s" >/dev/null 2>&1 || hard_error "replay $id"
	(cd "$WORK/s" && FAULTLINE_MARKS=/dev/null FAULTLINE_STATE_DIR="$WORK/s" \
		"$E/cowtree" check --bug meta-nocrc) >"$WORK/nomarks.out" 2>&1 ||
		fail "$id is counted as acknowledged data lost but fails with no marks: $(cat "$WORK/nomarks.out")"
	rm -rf "$WORK/s"
done

# The summary, JUnit and a merge of the JSON say the same.
n=$(jq '.causes | length' "$WORK/r.json")
grep -q "^$n causes:" "$WORK/out" || fail "summary: $(sed -n 2p "$WORK/out")"
[ "$(grep -c '^CAUSE ' "$WORK/out")" -eq "$n" ] || fail "summary lists other causes"
sed -n 3p "$WORK/out" | grep -q '^CAUSE .* \[acknowledged-commit-lost, acknowledged data lost\]' ||
	fail "summary does not open with the acknowledged commits: $(sed -n 3p "$WORK/out")"
[ "$(xmllint --xpath 'count(//testcase[failure/@type="torn-write"])' "$WORK/r.xml")" -eq \
	"$(jq '[.causes[] | select(.kind == "torn-write")] | length' "$WORK/r.json")" ] ||
	fail "JUnit torn-write causes differ from the JSON"
[ "$(xmllint --xpath 'count(//testcase[contains(@classname, ".causes")])' "$WORK/r.xml")" -eq "$n" ] ||
	fail "JUnit: not one testcase per cause"
"$FL" merge "$WORK/r.json" --json "$WORK/m.json" >/dev/null 2>&1
jq -e --slurpfile a "$WORK/r.json" '[.causes[] | [.id, .kind, .severity, .signature, (.states | length)]]
	== [$a[0].causes[] | [.id, .kind, .severity, .signature, (.states | length)]]' \
	"$WORK/m.json" >/dev/null || fail "merge changed the causes"

# --max-causes 1: stop at the first confirmed cause, say so, and count honestly.
"$FL" explore "$WORK/t" --check "$E/cowtree check --bug meta-nocrc" --model posix \
	--mode omit-one --no-progress --max-causes 1 --json "$WORK/m1.json" >"$WORK/m1.out" 2>&1
[ $? -eq 1 ] || fail "--max-causes 1 should fail: $(head -3 "$WORK/m1.out")"
jq -e '(.causes | length) >= 1 and (.note | test("--max-causes 1: stopped")) and
	.coverage < 1 and .states.generated < $all' --argjson all "$(jq .states.generated "$WORK/r.json")" \
	"$WORK/m1.json" >/dev/null || fail "--max-causes 1: $(jq -c '{note, coverage, states}' "$WORK/m1.json")"
id=$(jq -r '.causes[0].id' "$WORK/m1.json")
"$FL" replay "$WORK/t" "$id" --into "$WORK/s1" --check "$E/cowtree check --bug meta-nocrc" >/dev/null 2>&1
[ $? -eq 1 ] || fail "--max-causes 1: its cause $id does not fail when replayed"
# A bound never reached changes nothing.
"$FL" explore "$WORK/t" --check "$E/cowtree check --bug meta-nocrc" --model posix \
	--mode omit-one --no-progress --max-causes 50 --json "$WORK/m50.json" >/dev/null 2>&1
jq -e --slurpfile a "$WORK/r.json" '[.causes[] | [.id, .kind, (.states | length)]] ==
	[$a[0].causes[] | [.id, .kind, (.states | length)]] and .states == $a[0].states' \
	"$WORK/m50.json" >/dev/null || fail "--max-causes 50 changed the causes"
expect_exit 2 "$FL" explore "$WORK/t" --check true --max-causes 0

# The correct engine: no cause.
"$FL" record -o "$WORK/good" --setup "$E/cowtree init" -- "$E/cowtree" run 4 >"$WORK/rec" 2>&1 ||
	hard_error "record good: $(tail -3 "$WORK/rec")"
"$FL" explore "$WORK/good" --check "$E/cowtree check" --model posix --mode omit-one \
	--no-progress --json "$WORK/g.json" >"$WORK/gout" 2>&1
[ $? -eq 0 ] || fail "the correct engine fails: $(head -5 "$WORK/gout")"
jq -e '.causes == []' "$WORK/g.json" >/dev/null || fail "the correct engine has causes"
exit 0
