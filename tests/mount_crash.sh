#!/bin/sh
# REQUIRES: fuse
# mount_crash.sh - faultline mount and faultline crash on known writes.
#  - lose-unsynced keeps exactly what a barrier covered: a file fsynced
#    (with its directory) keeps its bytes, an append after it is lost, a
#    file never synced vanishes; the backing directory holds that state,
#    `faultline replay` of the printed id rebuilds it byte for byte, and
#    the mount serves it again (a new epoch that reads as a trace);
#  - --kill ends a process whose cwd is in the mount, and only it;
#  - two mounts crash with one command and one seed, each into its own
#    epoch;
#  - bad requests: a directory nobody serves (exit 3), a trace directory
#    in use (exit 2), a second mount of one DIR (exit 3);
#  - SIGTERM ends the mount: unmounted, pid file removed, trace sealed.
. "$top_srcdir/tests/lib.sh"
require_fuse
require_cmd jq
cd "$WORK" || hard_error "cd $WORK"
mkdir m b m2 b2
printf 'base\n' >b/old

"$FL" mount m --backing b --trace t --daemon --pid-file pid 2>mount.err ||
	fail "mount: $(cat mount.err)"
[ -s pid ] || fail "no pid file"
cp pid "$PIDS/mount" # so that a failure ends it too (lib.sh)
grep -q " $WORK/m fuse" /proc/mounts || fail "m is not mounted"
# durable: written, fsynced (coreutils sync FILE), its directory fsynced
printf 'kept\n' >m/synced && sync m/synced && sync m || fail "the synced writes failed"
printf 'unsynced tail\n' >>m/synced
printf 'never synced\n' >m/never
(cd m && exec sleep 300) &
user=$!
sleep 300 &
bystander=$!
echo "$user $bystander" | tr ' ' '\n' >"$PIDS/sleepers"
sleep 0.3
"$FL" crash m --kill --seed 11 >crash.out 2>crash.err || fail "crash: $(cat crash.err)"
cat crash.out
wait $user 2>/dev/null
kill -0 $bystander 2>/dev/null || fail "--kill ended a process that does not use the mount"
kill $bystander
kill -0 $user 2>/dev/null && fail "--kill left the process in the mount"
id=$(sed -n 's/.*: state \(.*\)$/\1/p' crash.out)
grep -q "1 killed" crash.out || fail "crash does not say it killed one process: $(cat crash.out)"
[ "$(cat b/synced)" = kept ] || fail "the synced file is not as synced: $(cat b/synced)"
[ -e b/never ] && fail "a file no barrier covered survived lose-unsynced"
[ "$(cat b/old)" = base ] || fail "a base file changed"
[ "$(cat m/synced)" = kept ] || fail "the mount does not serve the crash state"
"$FL" replay t/epoch-1 "$id" --into replayed >/dev/null || fail "replay $id"
diff -r replayed b >/dev/null || fail "replay of $id differs from the backing directory"
grep -q "^epoch 1 id $id how lose-unsynced seed 11 model posix killed 1\$" t/crashes ||
	fail "t/crashes: $(cat t/crashes)"
"$FL" show t/epoch-1 | tail -n 1 | grep -q 'mark .*"faultline: power cut"' ||
	fail "epoch 1 does not end with the power cut"
echo more >m/after || fail "the mount does not serve after the crash"

# bad requests
"$FL" crash "$WORK" >/dev/null 2>err; [ $? -eq 3 ] || fail "crash of an unserved dir: not exit 3"
grep -q "not served by faultline mount" err || fail "unclear: $(cat err)"
"$FL" mount m2 --backing b2 --trace t >/dev/null 2>err; [ $? -eq 2 ] || fail "a used trace dir: not exit 2"
"$FL" mount m --backing b2 --trace t3 >/dev/null 2>err; [ $? -eq 3 ] || fail "m served twice: not exit 3"
grep -q "already served" err || fail "unclear: $(cat err)"

# two mounts, one power cut
"$FL" mount m2 --backing b2 --trace t2 --daemon --pid-file pid2 2>mount2.err ||
	fail "mount m2: $(cat mount2.err)"
cp pid2 "$PIDS/mount2"
echo x >m/x
echo y >m2/y
"$FL" crash m m2 --seed 3 --how model >both.out || fail "crash m m2: $(cat both.out)"
[ "$(grep -c ': state ' both.out)" -eq 2 ] || fail "not two states: $(cat both.out)"
grep -q "replay $WORK/t/epoch-2 " both.out || fail "m's epoch 2 not named"
grep -q "replay $WORK/t2/epoch-1 " both.out || fail "m2's epoch 1 not named"
for e in t/epoch-2 t2/epoch-1; do
	id=$(grep "replay $WORK/$e " both.out | awk '{ print $NF }')
	"$FL" replay "$e" "$id" --into "r-${e%%/*}" >/dev/null || fail "replay $e $id"
done
diff -r r-t b >/dev/null || fail "m's state does not replay"
diff -r r-t2 b2 >/dev/null || fail "m2's state does not replay"

# the end
mpid=$(cat pid)
kill "$mpid" "$(cat pid2)"
i=0
while kill -0 "$mpid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
grep -q " $WORK/" /proc/mounts && fail "a mount is left behind"
[ -e pid ] && fail "the pid file is left behind"
jq -e '.status == "complete" and .records > 0' t/epoch-3/meta.json >/dev/null ||
	fail "the last epoch is not sealed: $(cat t/epoch-3/meta.json)"
"$FL" show t/epoch-3 >/dev/null || fail "the last epoch does not read"
exit 0
