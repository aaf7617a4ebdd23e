#!/bin/sh
# REQUIRES: fuse, redis-server
# server_redis.sh - faultline mount and crash under a real server
# (scenarios/servers/redis.sh): Redis with appendonly yes, a client loop
# counting acknowledged INCRs, three power cuts each, under ext4-ordered.
#  - appendfsync always: Redis fsyncs before it answers, so no crash may
#    lose an acknowledged write;
#  - appendfsync everysec: about a second of acknowledged writes is
#    unsynced at any instant, so the crashes must catch some lost; the
#    state of the first one replays (faultline replay) byte for byte to
#    what the backing directory was rewritten to.
# Every crash leaves an epoch that reads as a whole trace, and no mount
# is left behind.
. "$top_srcdir/tests/lib.sh"
require_fuse
require_cmd redis-server redis-cli stdbuf
S="$top_srcdir/scenarios/servers/redis.sh"
FAULTLINE=$FL
export FAULTLINE

sh "$S" always 3 "$WORK/always" >"$WORK/always.out" 2>"$WORK/always.err"
rc=$?
cat "$WORK/always.out"
[ $rc -eq 0 ] || fail "appendfsync always lost acknowledged writes or did not run (exit $rc): $(cut -c1-300 "$WORK/always.out" "$WORK/always.err")"
[ "$(grep -c '^round ' "$WORK/always.out")" -eq 3 ] || fail "always: not three rounds"
# The rounds did serve: each acknowledged writes, and the counter grew.
awk '/^round / { if ($7 + 0 <= $4 + 0) bad = 1 } END { exit bad }' "$WORK/always.out" ||
	fail "always: a round acknowledged no write"
[ "$(wc -l <"$WORK/always/trace/crashes")" -eq 3 ] || fail "always: TRACE/crashes lacks a crash"
for e in 1 2 3 4; do
	"$FL" show "$WORK/always/trace/epoch-$e" >/dev/null || fail "epoch $e does not read as a trace"
done

sh "$S" everysec 3 "$WORK/everysec" >"$WORK/everysec.out" 2>"$WORK/everysec.err"
rc=$?
cut -c1-200 "$WORK/everysec.out"
[ $rc -eq 1 ] || fail "appendfsync everysec: expected lost writes (exit 1), got exit $rc: $(cut -c1-300 "$WORK/everysec.err")"
line=$(grep '^lost: ' "$WORK/everysec.out" | head -n 1)
round=$(echo "$line" | awk '{ print $2 }')
id=$(echo "$line" | awk '{ print $8 }')
[ -n "$id" ] || fail "everysec: no state id in: $line"
[ "${line#*replay: }" = "faultline replay $WORK/everysec/trace/epoch-$round $id" ] ||
	fail "everysec: the loss does not name its replay: $(echo "$line" | cut -c1-300)"
"$FL" replay "$WORK/everysec/trace/epoch-$round" "$id" --into "$WORK/replayed" >/dev/null ||
	fail "everysec: state $id does not replay"
diff -r "$WORK/replayed" "$WORK/everysec/trace/epoch-$((round + 1))/base" >/dev/null ||
	fail "everysec: the replayed state differs from the one the crash left"
grep -q " $WORK/" /proc/mounts && fail "a mount is left behind: $(grep " $WORK/" /proc/mounts)"
exit 0
