#!/bin/sh
# REQUIRES: fuse, root (a tmpfs mount), jq
# record_enospc.sh - when the backing file system fills up, the workload
# gets ENOSPC through the mount (not a hang, not a crash) and the trace
# records the failed write with its errno, whole and readable.
. "$top_srcdir/tests/lib.sh"
require_fuse
require_cmd jq
[ "$(id -u)" -eq 0 ] || skip "needs root to mount a small tmpfs"
mkdir "$WORK/small"
mount -t tmpfs -o size=1m tmpfs "$WORK/small" || skip "cannot mount tmpfs"
trap 'st=$?; umount "$WORK/small" 2>/dev/null; (exit $st); lib_cleanup' EXIT

OUT="$WORK/dd.out" "$FL" record -o "$WORK/t" --backing "$WORK/small" -- sh -c '
	dd if=/dev/zero of=big bs=64k count=64 status=none 2>"$OUT.err"
	echo "dd exit $?" >"$OUT"' >/dev/null 2>&1
rc=$?
[ $rc -eq 0 ] || fail "record exited $rc"
grep -qx "dd exit 1" "$WORK/dd.out" || fail "the workload did not see a failed write: $(cat "$WORK/dd.out")"
grep -q "No space left on device" "$WORK/dd.out.err" || fail "not ENOSPC: $(cat "$WORK/dd.out.err")"
"$FL" show --json "$WORK/t" >"$WORK/t.json" || fail "the trace is not wholly valid"
jq -e '[.records[] | select(.op == "write" and .errno == "ENOSPC" and .result == -28)] | length >= 1' \
	"$WORK/t.json" >/dev/null || fail "no failed write with ENOSPC in the trace"
jq -e '[.records[] | select(.op == "write" and .result > 0)] | length >= 1' \
	"$WORK/t.json" >/dev/null || fail "the writes that fit are missing"
exit 0
