#!/bin/sh
# REQUIRES: fuse, root (loop mount), mkfs.xfs, xfs_io, jq
# record_eio.sh - when the backing file system fails (an XFS image shut
# down under the recorder), the workload gets EIO through the mount and
# the trace records the failed operations with their errno.
. "$top_srcdir/tests/lib.sh"
require_fuse
require_cmd jq mkfs.xfs xfs_io
[ "$(id -u)" -eq 0 ] || skip "needs root to loop-mount an XFS image"
truncate -s 300m "$WORK/xfs.img"
mkfs.xfs -q "$WORK/xfs.img" || hard_error "mkfs.xfs failed"
mkdir "$WORK/x"
mount -o loop "$WORK/xfs.img" "$WORK/x" || skip "cannot loop-mount"
trap 'st=$?; umount -l "$WORK/x" 2>/dev/null; (exit $st); lib_cleanup' EXIT

# The workload writes and keeps the file open, waits for the test to shut
# the file system down, then writes through the open file and tries a new
# one.
OUT="$WORK" "$FL" record -o "$WORK/t" --backing "$WORK/x" -- sh -c '
	exec 3>>f; echo before >&3 && touch "$OUT/ready"
	while [ ! -e "$OUT/go" ]; do sleep 0.05; done
	(echo after >&3) 2>"$OUT/f.err"; echo "f $?" >"$OUT/rc"
	(echo new > g) 2>"$OUT/g.err"; echo "g $?" >>"$OUT/rc"; exit 0' >/dev/null 2>"$WORK/rec.err" &
rec=$!
i=0
while [ ! -e "$WORK/ready" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
[ -e "$WORK/ready" ] || { kill $rec; hard_error "the workload never started"; }
xfs_io -x -c "shutdown" "$WORK/x" || { kill $rec; skip "xfs_io cannot shut the file system down"; }
touch "$WORK/go"
wait $rec
grep -q "Input/output error" "$WORK/g.err" "$WORK/f.err" ||
	fail "the workload did not see EIO: $(cat "$WORK/g.err" "$WORK/f.err" "$WORK/rc")"
"$FL" show --json "$WORK/t" >"$WORK/t.json" 2>/dev/null
jq -e '[.records[] | select(.op == "write" and .errno == "EIO")] | length >= 1' "$WORK/t.json" >/dev/null ||
	fail "no failed op with EIO in the trace: $(jq -c '[.records[] | select(.result < 0) | {op, errno}]' "$WORK/t.json")"
exit 0
