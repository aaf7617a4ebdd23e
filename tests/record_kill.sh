#!/bin/sh
# REQUIRES: fuse, jq, pgrep
# record_kill.sh - the recorder's durability promise, tested by killing it.
# A writer appends a line to a file, fsyncs it, marks, and only then logs
# the mark's number outside the mount: the program was told all three are
# durable.  faultline-fs is SIGKILLed at random instants (a fixed seed,
# so a failure replays); every time, each logged mark must be in the trace
# with the write and the fsync before it, the trace must read cleanly to
# its last whole record, and show must say what the recording kept.
. "$top_srcdir/tests/lib.sh"
require_fuse
require_cmd jq pgrep

ROUNDS=${KILL_ROUNDS:-12}
seed=20261207
# Next pseudo-random delay in milliseconds, 0..799 (a fixed LCG: same every run).
next_delay() {
	seed=$(( (seed * 1103515245 + 12345) % 2147483648 ))
	echo $(( seed / 65536 % 800 ))
}

WRITER='i=0
while :; do
	i=$((i + 1))
	printf "rec %08d\n" $i >>log || exit 9
	sync log || exit 9
	echo "m$i" >.faultline-ctl || exit 9
	echo $i >>"$0"
done'

r=1
while [ "$r" -le "$ROUNDS" ]; do
	ack=$WORK/ack.$r
	: >"$ack"
	"$FL" record -o "$WORK/t$r" -- sh -c "$WRITER" "$ack" >/dev/null 2>"$WORK/rec$r.err" &
	rec=$!
	i=0
	while [ ! -s "$ack" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
	[ -s "$ack" ] || fail "round $r: the writer never got going: $(cat "$WORK/rec$r.err")"
	ms=$(next_delay)
	sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
	fs=$(pgrep -P "$rec" -x faultline-fs) || fail "round $r: no faultline-fs under record ($rec)"
	kill -KILL "$fs"
	wait "$rec"
	rc=$?
	[ $rc -eq 3 ] || fail "round $r: record with a killed recorder exited $rc, want 3"
	acked=$(tail -n 1 "$ack")
	"$FL" show --json "$WORK/t$r" >"$WORK/show$r.json" 2>"$WORK/show$r.err" ||
		fail "round $r: the trace does not read cleanly: $(cat "$WORK/show$r.err")"
	# Every mark m1..mN in order, each after N writes and N fsyncs of log.
	bad=$(jq --argjson acked "$acked" '
		[.records[] | select(.op == "write" or .op == "fsync" or .op == "mark")]
		| reduce .[] as $x ({w: 0, f: 0, m: 0, bad: []};
			if $x.op == "write" then .w += 1
			elif $x.op == "fsync" then .f += 1
			else .m += 1 | (($x.text | ltrimstr("m") | tonumber) as $i
				| if $i != .m or .w < $i or .f < $i then .bad += [$i] else . end)
			end)
		| if .m < $acked then .bad + ["only \(.m) marks for \($acked) acknowledged"] else .bad end' \
		"$WORK/show$r.json")
	[ "$bad" = "[]" ] || fail "round $r (killed after ${ms} ms, $acked acknowledged): $bad"
	jq -e '.recording.status == "recorder-failed" and .recording.kept == .valid_records
		and .recording.last_promise > 0' "$WORK/show$r.json" >/dev/null ||
		fail "round $r: show --json does not say what was kept: $(jq -c .recording "$WORK/show$r.json")"
	grep -q "records kept" "$WORK/show$r.err" ||
		fail "round $r: show does not say the recording did not finish"
	r=$((r + 1))
done
exit 0
