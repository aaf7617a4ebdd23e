#!/bin/sh
# REQUIRES: fuse, jq
# record_maps.sh - pages stored through a shared mapping, captured at each
# watched call (record --calls), may reach the disk early
# (scenarios/engines/maplog.c: a log whose header page is mapped shared).
#  - header-first (the header stored before the log record is synced):
#    every recording has a captured page of hdr.db before the log's write,
#    joined to the pwrite it was captured at, holding the new count; posix
#    exploration finds a mapped-page-written-early cause whose words name
#    the engine's line.  Recorded without --calls, the same program passes:
#    the write-back FUSE sees comes after the log's fdatasync, so only the
#    captured pages catch it.
#    explain lists each capture and until which op it may persist.
#  - log-first passes with its pages captured, under every model; the
#    captures come after the log's fdatasync.
#  - msync-async (msync(MS_ASYNC) instead of MS_SYNC) is caught, and the
#    cause names the msync as no barrier.
#  - mmapstore (shadow paging, checksummed double meta) keeps passing with
#    its pages captured.
. "$top_srcdir/tests/lib.sh"
require_fuse
require_cmd jq
E="$top_builddir/scenarios/engines/maplog"
N=4
# Where the engine made a call: its function and line.  In a sanitizer
# build its pwrite goes through ASan's interceptor, whose frames the walk
# cannot pass (record_calls.sh says why): the site is then the runtime's.
SITE='[a-z_]+\(\) maplog\.c:[0-9]+'
if ldd "$E" 2>/dev/null | grep -q libasan; then
	SITE='[a-z_]+\(\)'
fi

i=1
while [ $i -le 3 ]; do
	t="$WORK/hf-$i"
	road=0 # the third recording takes the ptrace road (no user notification)
	[ $i -eq 3 ] && road=1
	FAULTLINE_CALLS_PTRACE=$road "$FL" record -o "$t" --calls --setup "$E init" -- "$E" run header-first $N >"$WORK/rec.out" 2>&1 ||
		fail "record header-first: $(cat "$WORK/rec.out")"
	"$FL" show --json "$t" >"$WORK/show.json" || fail "show $t"
	# Per commit: a captured hdr.db page, then the log's write, then its fdatasync.
	jq -e --argjson n $N '[.records[] | select(.path == "/hdr.db" or .path == "/log.db")
	        | select(.op == "write" or .op == "fsync")
	        | (if (.op == "write" and (.flags | type) == "array" and (.flags | index("early")) != null) then "E" elif .path == "/log.db" and .op == "write" then "W"
	           elif .path == "/log.db" then "S" else "" end)] | join("") | test("^(EWS){\($n)}$")' \
		"$WORK/show.json" >/dev/null ||
		fail "header-first $i: want a captured page before each log write: $(jq -c '[.records[] | [.seq, .op, .path, .flags]]' "$WORK/show.json")"
	jq -e --arg site "$SITE" '[.records[] | select((.op == "write" and (.flags | type) == "array" and (.flags | index("early")) != null))
	        | .call.text | test("^page stored before pwrite64\\(.*\\) in " + $site)] | all' \
		"$WORK/show.json" >/dev/null ||
		fail "header-first $i: a captured page is not joined to its pwrite: $(jq -r '.records[] | select((.op == "write" and (.flags | type) == "array" and (.flags | index("early")) != null)) | .call.text' "$WORK/show.json" | head -2)"
	# The captured page holds the header counting the commit about to be written.
	"$FL" show --json --data "$t" | jq -r '[.records[] | select((.op == "write" and (.flags | type) == "array" and (.flags | index("early")) != null)) | .data_hex[8:16]] | join(" ")' \
		>"$WORK/counts" || fail "show --data $t"
	[ "$(cat "$WORK/counts")" = "01000000 02000000 03000000 04000000" ] ||
		fail "header-first $i: the captured pages' counts are $(cat "$WORK/counts")"
	"$FL" explore "$t" --model posix --tear old,new --check "$E check" --json "$WORK/ex.json" >"$WORK/ex.out" 2>&1
	rc=$?
	[ $rc -eq 1 ] || fail "header-first $i: explore exited $rc, want 1: $(tail -3 "$WORK/ex.out")"
	jq -e '[.causes[].kind] | unique == ["mapped-page-written-early"]' "$WORK/ex.json" >/dev/null ||
		fail "header-first $i: causes $(jq -c '[.causes[].kind]' "$WORK/ex.json")"
	grep -qE "mapped page written back early: the page of /hdr.db @0, stored through a shared mapping before pwrite64\(.*\) in $SITE" "$WORK/ex.out" ||
		fail "header-first $i: the cause does not say where the page was stored: $(grep -m1 '^CAUSE' "$WORK/ex.out")"
	# explain lists each capture, where it was stored and until when it may persist.
	"$FL" explain "$t" --model posix >"$WORK/explain.out" 2>&1 || fail "explain $t: $(tail -2 "$WORK/explain.out")"
	[ "$(grep -cE "^  page 0 captured at op [0-9]+ \(page stored before pwrite64\(.*\) in $SITE.*\): may persist from then until op [0-9]+ completes\$" "$WORK/explain.out")" -eq $N ] ||
		fail "header-first $i: explain does not list the $N captures: $(grep captured "$WORK/explain.out")"
	"$FL" explain "$t" --model posix --json "$WORK/explain.json" >/dev/null 2>&1 || fail "explain --json $t"
	jq -e --argjson n $N '[.files[] | select(.path == "/hdr.db") | .captured[] | select(.first_page == 0 and .until != null and .until > .seq)] | length == $n' \
		"$WORK/explain.json" >/dev/null || fail "header-first $i: explain --json captured: $(jq -c '[.files[].captured]' "$WORK/explain.json")"
	i=$((i + 1))
done

# Without --calls: no captured page, and the bug goes unseen.
"$FL" record -o "$WORK/hf-plain" --setup "$E init" -- "$E" run header-first $N >"$WORK/rec.out" 2>&1 ||
	fail "record header-first without --calls: $(cat "$WORK/rec.out")"
"$FL" show --json "$WORK/hf-plain" | jq -e '[.records[] | select((.op == "write" and (.flags | type) == "array" and (.flags | index("early")) != null))] | length == 0' >/dev/null ||
	fail "a captured page without --calls"
"$FL" explore "$WORK/hf-plain" --model posix --tear old,new --check "$E check" >"$WORK/ex.out" 2>&1 ||
	fail "header-first without --calls: explore exited $?, want 0 (nothing shows the early write-back): $(tail -3 "$WORK/ex.out")"

# log-first: captured too, after the log's sync; passes under every model.
"$FL" record -o "$WORK/lf" --calls --setup "$E init" -- "$E" run log-first $N >"$WORK/rec.out" 2>&1 ||
	fail "record log-first: $(cat "$WORK/rec.out")"
"$FL" show --json "$WORK/lf" >"$WORK/show.json" || fail "show lf"
jq -e --argjson n $N '[.records[] | select(.path == "/hdr.db" or .path == "/log.db")
        | select(.op == "write" or .op == "fsync")
        | (if (.op == "write" and (.flags | type) == "array" and (.flags | index("early")) != null) then "E" elif .path == "/log.db" and .op == "write" then "W"
           elif .path == "/log.db" then "S" else "" end)] | join("") | test("^(WSE){\($n)}$")' \
	"$WORK/show.json" >/dev/null ||
	fail "log-first: want each captured page after the log's sync: $(jq -c '[.records[] | [.seq, .op, .path, .flags]]' "$WORK/show.json")"
for model in posix ext4-ordered strict; do
	"$FL" explore "$WORK/lf" --model $model --tear old,new --check "$E check" >"$WORK/ex.out" 2>&1 ||
		fail "log-first, $model: explore exited $?: $(grep -m2 -E '^(CAUSE|FAIL)' "$WORK/ex.out")"
done

# msync(MS_ASYNC) is no barrier: the lost header's cause says so, naming the call.
"$FL" record -o "$WORK/ma" --calls --setup "$E init" -- "$E" run msync-async $N >"$WORK/rec.out" 2>&1 ||
	fail "record msync-async: $(cat "$WORK/rec.out")"
"$FL" explore "$WORK/ma" --model posix --tear old,new --check "$E check" --json "$WORK/ex.json" >"$WORK/ex.out" 2>&1
rc=$?
[ $rc -eq 1 ] || fail "msync-async: explore exited $rc, want 1: $(tail -3 "$WORK/ex.out")"
jq -e '[.causes[].kind] | unique == ["acknowledged-commit-lost"]' "$WORK/ex.json" >/dev/null ||
	fail "msync-async: causes $(jq -c '[.causes[].kind]' "$WORK/ex.json")"
grep -qE "^CAUSE .*acknowledged commit lost: write of /hdr.db @0\+4096 by page stored before msync\(.*, 0x1\) in $SITE.* not synced before mark \"commit 1\"; msync\(.*, 0x1\) in $SITE.* came between, and is no barrier" "$WORK/ex.out" ||
	fail "msync-async: the cause does not name the msync as no barrier: $(grep -m1 '^CAUSE' "$WORK/ex.out")"

# mmapstore, correct, with its pages captured.
M="$top_builddir/scenarios/engines/mmapstore"
"$FL" record -o "$WORK/ms" --calls --setup "$M init" -- "$M" run 6 >"$WORK/rec.out" 2>&1 ||
	fail "record mmapstore: $(cat "$WORK/rec.out")"
"$FL" show --json "$WORK/ms" | jq -e '[.records[] | select((.op == "write" and (.flags | type) == "array" and (.flags | index("early")) != null))] | length > 0' >/dev/null ||
	fail "mmapstore: no page captured"
"$FL" explore "$WORK/ms" --model posix --check "$M check" >"$WORK/ex.out" 2>&1 ||
	fail "mmapstore with captured pages: explore exited $?: $(grep -m2 -E '^(CAUSE|FAIL)' "$WORK/ex.out")"
exit 0
