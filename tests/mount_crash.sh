#!/bin/sh
# REQUIRES: fuse
# mount_crash.sh - faultline mount and faultline crash on known writes.
#  - lose-unsynced keeps exactly what a barrier covered: a file fsynced
#    (with its directory) keeps its bytes, an append after it is lost, a
#    file never synced vanishes; the backing directory holds that state,
#    `faultline replay` of the printed id rebuilds it byte for byte, and
#    the mount serves it again (a new epoch that reads as a trace);
#  - --kill ends a process whose cwd is in the mount, and only it; a user
#    other than root and the mount's may not crash it;
#  - two mounts crash with one command and one seed, each into its own
#    epoch;
#  - --when fsync:GLOB crashes as that fsync begins (it fails and is not
#    recorded), --when writes:N:GLOB once the Nth write is recorded (it
#    is never answered), a window that never comes times out (exit 3);
#  - a crash asked from inside, by "\001crash HOW SEED" written to the
#    control file, crashes as asked and replays; a bad one is refused;
#  - bad requests: a directory nobody serves (exit 3), a trace directory
#    in use (exit 2), a second mount of one DIR (exit 3);
#  - a trace that cannot be written fails the fsyncs it cannot hold, and
#    a crash of it draws no state (exit 3);
#  - SIGTERM ends the mount: unmounted, pid file removed, trace sealed.
. "$top_srcdir/tests/lib.sh"
require_fuse
require_cmd jq getfattr setfattr
cd "$WORK" || hard_error "cd $WORK"
# tree DIR: every entry below DIR with its type, mode, owner, mtime, size,
# content hash, the names each file has in the tree, and the xattrs
tree() {
	(cd "$1" && find . -mindepth 1 -printf '%p %y %m %U %G %T@ %s\n' | sort &&
		find . -type f -exec sha1sum {} + | sort &&
		find . -type f -printf '%i %p\n' | sort -k2 |
			awk '{ g[$1] = g[$1] " " $2 } END { for (i in g) print "names:" g[i] }' | sort &&
		getfattr -R -d -m - . 2>/dev/null)
}
mkdir m b m2 b2
printf 'base\n' >b/old
printf 'base\n' >b/mod  # appended, never synced: the crash takes it back to this
printf 'base\n' >b/kept # appended and synced: the state writes it
printf 'one inode\n' >b/h1 && ln b/h1 b/h2 # two names the epoch leaves alone
printf 'x\n' >b/xa && setfattr -n user.base -v 1 b/xa # an xattr the epoch leaves alone

"$FL" mount m --backing b --trace t --daemon --pid-file pid 2>mount.err ||
	fail "mount: $(cat mount.err)"
[ -s pid ] || fail "no pid file"
cp pid "$PIDS/mount" # so that a failure ends it too (lib.sh)
grep -q " $WORK/m fuse" /proc/mounts || fail "m is not mounted"
# durable: written, fsynced (coreutils sync FILE), its directory fsynced
printf 'kept\n' >m/synced && sync m/synced && sync m || fail "the synced writes failed"
printf 'unsynced tail\n' >>m/synced
printf 'lost\n' >>m/mod
printf 'more\n' >>m/kept && sync m/kept || fail "kept"
setfattr -n user.k -v 2 m/kept && sync m/kept || fail "an xattr on kept"
printf 'never synced\n' >m/never
(cd m && exec sleep 300) &
user=$!
sleep 300 &
bystander=$!
echo "$user $bystander" | tr ' ' '\n' >"$PIDS/sleepers"
# the user's cwd is in the mount before the crash looks for it
i=0
until [ "$(readlink "/proc/$user/cwd")" = "$WORK/m" ]; do
	i=$((i + 1)); [ $i -lt 500 ] || hard_error "the sleeper never entered the mount"; sleep 0.01
done
# only root and the mount's user may crash it
chmod 711 "$WORK" # (so that it can name the mount)
setpriv --reuid=65534 --regid=65534 --clear-groups "$FL" crash "$WORK/m" >/dev/null 2>err
[ $? -eq 3 ] && grep -q "permission denied" err || fail "another user crashed the mount: $(cat err)"
tree t/epoch-1/base >base1.before
"$FL" crash m --kill --seed 11 >crash.out 2>crash.err || fail "crash: $(cat crash.err)"
cat crash.out
wait $user
[ $? -eq 137 ] || fail "--kill did not SIGKILL the process in the mount"
kill -0 $bystander 2>/dev/null || fail "--kill ended a process that does not use the mount"
kill $bystander
id=$(sed -n 's/.*: state \(.*\)$/\1/p' crash.out)
grep -q "1 killed" crash.out || fail "crash does not say it killed one process: $(cat crash.out)"
[ "$(cat b/synced)" = kept ] || fail "the synced file is not as synced: $(cat b/synced)"
[ -e b/never ] && fail "a file no barrier covered survived lose-unsynced"
[ "$(cat b/old)" = base ] || fail "a base file changed"
[ "$(cat b/mod)" = base ] || fail "an unsynced append to a base file survived"
[ "$(printf 'base\nmore\n')" = "$(cat b/kept)" ] || fail "a synced append to a base file was lost"
[ "$(cat m/synced)" = kept ] || fail "the mount does not serve the crash state"
"$FL" replay t/epoch-1 "$id" --into replayed >/dev/null || fail "replay $id"
diff -r replayed b >/dev/null || fail "replay of $id differs from the backing directory"
# byte for byte and attribute for attribute: replay, the next base, the backing
tree replayed >tree.replayed
tree t/epoch-2/base >tree.base2
tree b >tree.backing
cmp -s tree.replayed tree.base2 || fail "epoch 2's base is not the replayed state: $(diff tree.replayed tree.base2 | head -5)"
cmp -s tree.replayed tree.backing || fail "the backing is not the replayed state: $(diff tree.replayed tree.backing | head -5)"
# the ended epoch's base is as it was (the next one shares its untouched files)
tree t/epoch-1/base | cmp -s - base1.before || fail "the crash changed epoch 1's base"
[ "$(stat -c %i t/epoch-1/base/old)" = "$(stat -c %i t/epoch-2/base/old)" ] ||
	fail "a file the epoch left alone was copied into the next base, not shared"
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

# armed FILE: waits until crash --when (its output in FILE) watches its window.
armed() {
	i=0
	until grep -q ': armed$' "$1"; do
		i=$((i + 1)); [ $i -lt 3000 ] || fail "crash --when never armed: $(cat "$1")"; sleep 0.01
	done
}

# --when fsync:GLOB: the crash comes as the wal's fsync begins; the fsync
# fails, is not in the trace, and the append it would have covered is lost
printf 'w1\n' >m/a.wal && sync m/a.wal && sync m || fail "a.wal"
"$FL" crash m --when 'fsync:*.wal' --timeout 60 --seed 1 >when.out 2>&1 &
cpid=$!
echo "$cpid" >"$PIDS/when"
armed when.out
printf 'other\n' >m/other.log && sync m/other.log || fail "a file the glob does not match was held"
printf 'w2\n' >>m/a.wal
sync m/a.wal 2>/dev/null && fail "the fsync that fired the trigger succeeded"
wait $cpid || fail "crash --when fsync: $(cat when.out)"
e=$(sed -n 's|.*replay with: faultline replay \(.*\) .*|\1|p' when.out)
[ "$(cat b/a.wal)" = w1 ] || fail "the write before the held fsync survived: $(cat b/a.wal)"
last=$("$FL" show "$e" | awk '$4 == "/a.wal" && ($3 == "write" || $3 == "fsync") { k = $3 } END { print k }')
[ "$last" = write ] || fail "the held fsync is in the trace after the last write ($last)"
"$FL" show "$e" | tail -n 1 | grep -q '"faultline: power cut"' || fail "$e: no end mark"

# --when writes:N:GLOB: after the third write to log, the fourth fails
"$FL" crash m --when 'writes:3:log' --timeout 60 --seed 2 >when2.out 2>&1 &
cpid=$!
echo "$cpid" >"$PIDS/when"
armed when2.out
ok=0
for i in 1 2 3; do echo "line $i" >>m/log 2>/dev/null && ok=$((ok + 1)); done
wait $cpid || fail "crash --when writes: $(cat when2.out)"
[ $ok -eq 2 ] || fail "writes answered before the crash: $ok, not 2 (the third is held)"
echo "line 4" >>m/log || fail "the mount does not serve after a --when crash"
e=$(sed -n 's|.*replay with: faultline replay \(.*\) .*|\1|p' when2.out)
[ "$("$FL" show "$e" | awk '$3 == "write" && $4 == "/log"' | wc -l)" -eq 3 ] ||
	fail "not three writes to log in $e"
"$FL" crash m --when 'fsync:nothing-matches' --timeout 1 >/dev/null 2>err
[ $? -eq 3 ] && grep -q "did not happen within 1 s" err || fail "--when timeout: $(cat err)"
"$FL" crash m m2 --when 'fsync:x' >/dev/null 2>&1; [ $? -eq 2 ] || fail "--when with two DIRs: not exit 2"

# a crash asked from inside the mount, by a line to its control file: the
# write fails (the power is cut under it), TRACE/crashes gets the crash,
# the state lost what no barrier covered and replays; a bad line is refused
printf 'inside\n' >m/inside && sync m/inside && sync m || fail "writing inside"
printf 'never synced\n' >m/lost-inside
n=$(wc -l <t/crashes)
printf '\001crash lose-unsynced 9\n' >m/.faultline-ctl 2>/dev/null &&
	fail "the write that asked for the crash succeeded"
i=0
until [ "$(wc -l <t/crashes)" -gt "$n" ]; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "no crash after the control line"; sleep 0.1
done
line=$(tail -n 1 t/crashes)
echo "$line" | grep -q " how lose-unsynced seed 9 " || fail "not the crash asked for: $line"
[ "$(cat m/inside)" = inside ] || fail "the crash asked inside lost a synced file"
[ -e m/lost-inside ] && fail "the crash asked inside kept a file no barrier covered"
e=$(echo "$line" | awk '{ print $2 }') cid=$(echo "$line" | awk '{ print $4 }')
"$FL" replay "t/epoch-$e" "$cid" --into replayed-inside >/dev/null || fail "replay $cid"
diff -r replayed-inside "t/epoch-$((e + 1))/base" >/dev/null || fail "the replay differs"
printf '\001crash sideways\n' >m/.faultline-ctl 2>err && fail "a bad crash line was taken"
grep -q "Invalid argument" err || fail "a bad crash line: $(cat err)"

# a trace that cannot be written: no barrier may succeed, and no crash
# state is drawn from what the trace lacks
mkdir full fm fb
mount -t tmpfs -o size=1m tmpfs full || hard_error "mount tmpfs"
"$FL" mount fm --backing fb --trace full/t --daemon --pid-file fpid 2>/dev/null ||
	fail "mount with the trace on a small tmpfs"
cp fpid "$PIDS/fmount"
head -c 3000000 /dev/zero >fm/big 2>/dev/null # more than the trace can hold
printf 'x\n' >fm/small
sync fm/small 2>/dev/null && fail "an fsync succeeded though the trace could not hold it"
"$FL" crash fm >/dev/null 2>err; [ $? -eq 3 ] || fail "a crash of a failed recording: not exit 3"
grep -q "faultline-fs failed" err || fail "unclear: $(cat err)"
fp=$(cat fpid 2>/dev/null)
[ -n "$fp" ] && kill "$fp" 2>/dev/null
i=0
while [ -n "$fp" ] && kill -0 "$fp" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
grep -q " $WORK/fm " /proc/mounts && fail "the failed mount is left behind"
umount full

# the end: SIGTERM seals the epoch being recorded
mpid=$(cat pid) mpid2=$(cat pid2)
last=$(ls -d t/epoch-* | sed 's/.*epoch-//' | sort -n | tail -n 1)
echo end >m/end
term_wait "$mpid" "$mpid2"
grep -q " $WORK/" /proc/mounts && fail "a mount is left behind"
[ -e pid ] && fail "the pid file is left behind"
jq -e '.status == "complete" and .records > 0' "t/epoch-$last/meta.json" >/dev/null ||
	fail "the last epoch is not sealed: $(cat "t/epoch-$last/meta.json")"
"$FL" show "t/epoch-$last" | grep -q 'create .*/end' || fail "epoch $last lacks its last write"
"$FL" show "t/epoch-$last" | tail -n 1 | grep -q '"faultline: power cut"' ||
	fail "epoch $last does not end with its end mark"
exit 0
