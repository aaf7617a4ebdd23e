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
. "$top_srcdir/tests/servers.sh"
require_fuse
require_cmd redis-server redis-cli stdbuf
S="$top_srcdir/scenarios/servers/redis.sh"
FAULTLINE=$FL
export FAULTLINE

sh "$S" always 3 "$WORK/always" >"$WORK/always.out" 2>"$WORK/always.err"
rc=$?
cat "$WORK/always.out"
[ $rc -eq 0 ] || fail "appendfsync always lost acknowledged writes or did not run (exit $rc): $(cut -c1-300 "$WORK/always.out" "$WORK/always.err")"
server_holds always always
[ "$(ls -d "$WORK"/always/trace/epoch-* | wc -l)" -ge 4 ] || fail "fewer than 4 epochs"
for e in "$WORK"/always/trace/epoch-*; do
	"$FL" show "$e" >/dev/null || fail "$e does not read as a trace"
done

sh "$S" everysec 3 "$WORK/everysec" >"$WORK/everysec.out" 2>"$WORK/everysec.err"
rc=$?
cut -c1-200 "$WORK/everysec.out"
[ $rc -eq 1 ] || fail "appendfsync everysec: expected lost writes (exit 1), got exit $rc: $(cut -c1-300 "$WORK/everysec.err")"
server_loss_replays everysec everysec
grep -q " $WORK/" /proc/mounts && fail "a mount is left behind: $(grep " $WORK/" /proc/mounts)"
exit 0
