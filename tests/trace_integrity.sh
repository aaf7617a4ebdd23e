#!/bin/sh
# REQUIRES: fuse, jq, pgrep
# trace_integrity.sh - a damaged trace never passes a gate.  Every command
# that builds states holds a trace to its meta.json (status, record count,
# digest of the records file) and TRACE/base to the BASE records (names,
# types, sizes, content hashes) before building anything:
#   1. a sound trace (sparse, empty, symlinked and hard-linked base
#      entries) passes;
#   2. a complete trace with garbage in its records, cut inside a record,
#      cut at a record boundary, or edited consistently: exit 2, the
#      reason, --partial or not;
#   3. a killed recorder's trace: exit 2 without --partial; with it, the
#      valid prefix is explored and the summary, JSON, JUnit and merge say
#      so; replay, states and explain take --partial too;
#   4. base/ with an entry added, removed, rewritten (same size or not) or
#      a symlink retargeted: exit 2 naming the path;
#   5. a format 2 trace: exit 2 saying to record it again.
# Each case asserts the exit code and the one-line reason.
. "$top_srcdir/tests/lib.sh"
require_fuse
require_cmd jq pgrep

# refused WANT CMD...: CMD exits 2 with exactly one stderr line holding WANT.
refused() {
	want=$1
	shift
	"$@" >"$WORK/out" 2>"$WORK/err"
	rc=$?
	[ $rc -eq 2 ] || fail "$*: exit $rc, want 2: $(cat "$WORK/err")"
	[ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "$*: stderr is not one line: $(cat "$WORK/err")"
	grep -qF -- "$want" "$WORK/err" || fail "$*: '$want' not in: $(cat "$WORK/err")"
	! grep -q "states generated\|built in" "$WORK/out" || fail "$*: states were built: $(cat "$WORK/out")"
}

explore() { "$FL" explore "$@" --check true --no-progress -j 2; }

# offset TRACE N: byte offset of record N+1 (the end of record N) in TRACE/records.
offset() {
	off=16
	n=0
	while [ $n -lt "$2" ]; do
		len=$(od -An -tu4 -j "$off" -N4 "$1/records" | tr -d ' ')
		off=$((off + len))
		n=$((n + 1))
	done
	echo "$off"
}

# 1. A sound trace, its base holding every kind of entry.
"$FL" record -o "$WORK/t" --setup 'echo hi > a; mkdir d; ln -s ../a d/l; ln a h; : > empty
	truncate -s 20M sparse; printf x | dd of=sparse bs=1 seek=9000000 conv=notrunc 2>/dev/null' \
	-- sh -c 'echo one >> log; echo "commit 1" > .faultline-ctl; echo two >> log' \
	>/dev/null 2>&1 || hard_error "record failed"
jq -e '.status == "complete" and (.records_xxh3 | test("^[0-9a-f]{16}$")) and .records_bytes > 16' \
	"$WORK/t/meta.json" >/dev/null || fail "meta.json lacks the records digest: $(cat "$WORK/t/meta.json")"
records=$(jq .records "$WORK/t/meta.json")
explore "$WORK/t" --json "$WORK/t.json" >"$WORK/out" 2>&1 || fail "sound trace: exit $?: $(cat "$WORK/out")"
jq -e ".trace == \"$WORK/t\" and .trace_status.partial == false and
	.trace_status.records_valid == $records and .trace_status.reason == null" "$WORK/t.json" >/dev/null ||
	fail "sound trace's JSON: $(jq -c .trace_status "$WORK/t.json")"
grep -q "PARTIAL" "$WORK/out" && fail "a sound trace is called partial"
cp -a "$WORK/t" "$WORK/clean"

# 2. Damaged complete traces: refused by every command, --partial or not.
fresh() { rm -rf "$WORK/c" && cp -a "$WORK/clean" "$WORK/c"; }
fresh
printf 'GARBAGE!' | dd of="$WORK/c/records" bs=1 seek=200 conv=notrunc 2>/dev/null
refused "meta.json says the recording is complete, but only" explore "$WORK/c"
refused "records read: record " explore "$WORK/c" --partial
refused "meta.json says the recording is complete" "$FL" replay "$WORK/c" c1 --into "$WORK/st"
refused "meta.json says the recording is complete" "$FL" explain "$WORK/c"
refused "meta.json says the recording is complete" "$FL" states "$WORK/c"
refused "meta.json says the recording is complete" "$FL" states "$WORK/c" --reference
expect_exit 2 "$FL" show "$WORK/c" >/dev/null 2>&1

fresh
cut=$(offset "$WORK/c" 6)
truncate -s $((cut + 10)) "$WORK/c/records"
refused "only 6 of its $records records read: record 7 at byte $cut: file ends inside a record" \
	explore "$WORK/c"

fresh
truncate -s "$(offset "$WORK/c" 6)" "$WORK/c/records"
refused "meta.json promises $records records, the records file holds 6" explore "$WORK/c" --partial

fresh
jq '.records_xxh3 = "0123456789abcdef"' "$WORK/clean/meta.json" >"$WORK/c/meta.json"
refused "the records file does not match the checksum in meta.json" explore "$WORK/c"

fresh
jq 'del(.records_xxh3, .records_bytes)' "$WORK/clean/meta.json" >"$WORK/c/meta.json"
refused "keeps no checksum of the records (records_xxh3): record the trace again" explore "$WORK/c"

fresh
rm "$WORK/c/meta.json"
refused "cannot read meta.json" explore "$WORK/c"

# 3. A killed recorder: faultline-fs SIGKILLed mid-workload.
"$FL" record -o "$WORK/k" -- sh -c 'echo a > before; echo "m" > .faultline-ctl
	echo $$ > "$1"; touch "$0"
	while :; do echo more >> log 2>/dev/null || exit 9; sleep 0.2; done' "$WORK/started" "$PIDS/workload" \
	>/dev/null 2>&1 &
rec=$!
i=0
while [ ! -e "$WORK/started" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
fs=$(pgrep -P "$rec" -x faultline-fs) || fail "faultline-fs is not a child of record ($rec)"
case $fs in
"" | *[!0-9]*) fail "want one faultline-fs under record ($rec), got: $fs" ;;
esac
kill -KILL "$fs"
wait $rec
[ $? -eq 3 ] || fail "record with a killed recorder did not exit 3"
none_left "workload of a killed recorder" "$PIDS/workload"
jq -e '.status == "recorder-failed"' "$WORK/k/meta.json" >/dev/null || fail "meta.json: $(cat "$WORK/k/meta.json")"
valid=$(jq .records "$WORK/k/meta.json")

refused "the recorder died while recording (meta.json status \"recorder-failed\"); --partial explores its $valid valid records" \
	explore "$WORK/k" --mode prefix
refused "--partial explores its $valid valid records" "$FL" replay "$WORK/k" c1 --into "$WORK/st"
refused "--partial explores its $valid valid records" "$FL" explain "$WORK/k"
explore "$WORK/k" --mode prefix --partial --json "$WORK/k.json" --junit "$WORK/k.xml" \
	>"$WORK/out" 2>&1 || fail "--partial: exit $?: $(cat "$WORK/out")"
grep -q "^PARTIAL TRACE: only its $valid valid records were explored (--partial): the recorder died" \
	"$WORK/out" || fail "summary does not say partial: $(cat "$WORK/out")"
jq -e ".trace_status.partial == true and .trace_status.records_valid == $valid and
	(.trace_status.reason | test(\"recorder died\"))" "$WORK/k.json" >/dev/null ||
	fail "JSON does not say partial: $(jq -c .trace_status "$WORK/k.json")"
grep -q "<skipped message=\"partial trace: only its $valid valid records were explored" "$WORK/k.xml" ||
	fail "JUnit does not say partial: $(cat "$WORK/k.xml")"
grep -q 'skipped="1"' "$WORK/k.xml" || fail "JUnit does not count the skipped case"
"$FL" merge "$WORK/k.json" --json "$WORK/m.json" >"$WORK/out" 2>&1 || fail "merge: exit $?"
grep -q "^PARTIAL TRACE" "$WORK/out" || fail "merge's summary does not say partial: $(cat "$WORK/out")"
jq -e '.trace_status.partial == true' "$WORK/m.json" >/dev/null || fail "merge dropped trace_status"
"$FL" replay "$WORK/k" c1 --into "$WORK/st-ok" --partial >"$WORK/out" 2>&1 ||
	fail "replay --partial: exit $?: $(cat "$WORK/out")"
grep -q "^PARTIAL TRACE" "$WORK/out" || fail "replay does not say partial: $(cat "$WORK/out")"
"$FL" explain "$WORK/k" --partial >"$WORK/out" 2>&1 || fail "explain --partial: exit $?"
grep -q "^PARTIAL TRACE: only its $valid valid records are explained" "$WORK/out" ||
	fail "explain does not say partial: $(cat "$WORK/out")"
"$FL" states "$WORK/k" --partial -o "$WORK/states" 2>"$WORK/err" || fail "states --partial: exit $?"
grep -q "PARTIAL TRACE" "$WORK/err" || fail "states does not say partial: $(cat "$WORK/err")"
# Shards of a partial and a whole exploration do not merge.
for k in 1 2; do
	explore "$WORK/k" --mode prefix --partial --shard $k/2 --json "$WORK/s$k.json" >/dev/null 2>&1
done
jq '.trace_status = {"partial": false, "records_valid": 1, "reason": null}' "$WORK/s2.json" >"$WORK/s2x.json"
refused "trace status \"whole, 1 records read\" differs from \"partial, $valid records read\"" \
	"$FL" merge "$WORK/s1.json" "$WORK/s2x.json"
# The same trace as faultline record leaves it when killed itself.
jq '.status = "recording" | del(.records_xxh3, .records_bytes)' "$WORK/k/meta.json" >"$WORK/meta"
mv "$WORK/meta" "$WORK/k/meta.json"
refused "the recording never finished" explore "$WORK/k"

# 4. base/ edited after recording.
fresh
echo new >"$WORK/c/base/d/added"
refused "base/d/added was added after recording (the trace has no BASE record for it)" explore "$WORK/c"
fresh
rm "$WORK/c/base/empty"
refused "base/empty was removed after recording" explore "$WORK/c"
refused "base/empty was removed after recording" "$FL" replay "$WORK/c" c1 --into "$WORK/st"
fresh
printf 'HI\n' >"$WORK/c/base/a"
refused "base/a was rewritten after recording: its bytes differ from the recorded ones" explore "$WORK/c"
fresh
echo hello >"$WORK/c/base/a"
refused "base/a was rewritten after recording: it holds 6 bytes, the trace recorded 3" explore "$WORK/c"
fresh
printf y | dd of="$WORK/c/base/sparse" bs=1 seek=15000000 conv=notrunc 2>/dev/null
refused "base/sparse was rewritten after recording: its bytes differ" explore "$WORK/c"
fresh
ln -sf ../h "$WORK/c/base/d/l"
refused "base/d/l was rewritten after recording: the symlink points elsewhere" explore "$WORK/c"
[ -e "$WORK/st" ] && fail "a refused replay built a state"

# 5. An old trace: format 2 in the records header.
fresh
printf '\002' | dd of="$WORK/c/records" bs=1 seek=8 conv=notrunc 2>/dev/null
refused "trace format version 2 was recorded before faultline kept hashes" explore "$WORK/c"
exit 0
