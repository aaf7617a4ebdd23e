#!/bin/sh
# REQUIRES: fuse, fio, jq
# fio_verify.sh - data integrity through the mount: fio writes with
# crc32c verification (psync and mmap engines, two jobs each, O_DIRECT
# too) under faultline record; zero verify errors, and the recorder keeps
# a wholly valid trace of it.
. "$top_srcdir/tests/lib.sh"
require_fuse
require_cmd fio jq

cat >"$WORK/wl.sh" <<'E'
set -e
for engine in psync mmap; do
	fio --name=$engine --directory=. --rw=randwrite --bs=4k --size=4m \
		--verify=crc32c --do_verify=1 --ioengine=$engine --numjobs=2 \
		--output-format=json >"$OUT/$engine.json"
done
fio --name=direct --directory=. --rw=randrw --bs=4k --size=2m --direct=1 \
	--verify=crc32c --ioengine=psync --numjobs=2 --output-format=json >"$OUT/direct.json"
E
OUT="$WORK" "$FL" record -o "$WORK/t" -- sh "$WORK/wl.sh" 2>"$WORK/rec.err" ||
	fail "fio under faultline record failed: $(tail -5 "$WORK/rec.err")"
for j in psync mmap direct; do
	# Two jobs each (all of an empty list would be true).
	jq -e '(.jobs | length) == 2 and ([.jobs[] | .error == 0] | all)' "$WORK/$j.json" >/dev/null ||
		fail "fio $j: want 2 jobs without errors: $(jq -c '[.jobs[].error]' "$WORK/$j.json")"
done
"$FL" show --json "$WORK/t" >"$WORK/t.json" || fail "show: exit $?"
jq -e '.error == null and ([.records[] | select(.op == "write")] | length) > 1000' \
	"$WORK/t.json" >/dev/null || fail "trace is not whole or lacks the writes"
jq -e '[.records[] | select(.op == "write" and (.flags | index("writepage")))] | length > 0' \
	"$WORK/t.json" >/dev/null || fail "the mmap engine's writeback is not in the trace"
jq -e '[.records[] | select(.op == "write" and (.flags | index("direct")))] | length > 0' \
	"$WORK/t.json" >/dev/null || fail "O_DIRECT writes are not marked direct"
exit 0
