#!/bin/sh
# REQUIRES: fuse
# mount_fold.sh - faultline mount folds an epoch's settled history
# (--fold-size) while a writer keeps appending and fsyncing, under posix:
#  - folds happen (epoch N folded into epoch N+1), the folded epochs go,
#    and the epoch being recorded stays small while the log grows;
#  - the new base holds what was durable (the log, whose name was made
#    durable by an fsync of its directory), and a file never synced (its
#    create never durable) stays in the records, not the base;
#  - a crash after the folds (lose-unsynced) keeps every append the writer
#    was told is durable and nothing after, and loses the file never
#    synced; `faultline replay` of its id rebuilds that, byte for byte;
#  - a mount whose directory is never fsynced folds nothing and says which
#    op holds it;
#  - SIGTERM seals the last epoch, no mount is left.
. "$top_srcdir/tests/lib.sh"
require_fuse
require_cmd jq cmp
cd "$WORK" || hard_error "cd $WORK"
mkdir m b m2 b2
printf 'base\n' >b/old

"$FL" mount m --backing b --trace t --fold-size 1 --daemon --pid-file pid 2>mount.err ||
	fail "mount: $(cat mount.err)"
cp pid "$PIDS/mount"
: >m/log && sync m || fail "creating the log"
printf 'never synced\n' >m/held # its create is never durable under posix

# block I: 64 KiB of one letter, the Ith
block() { head -c 65536 /dev/zero | tr '\0' "$(printf "\\$(printf %o $((65 + $1 % 26)))")"; }
writer() {
	i=0
	while [ ! -e stop ]; do
		i=$((i + 1))
		block $i >>m/log && sync m/log || exit 1
		echo $i >acked.new && mv acked.new acked # what the writer was told is durable
	done
}
writer &
echo $! >"$PIDS/writer"
folds() { grep -c 'folded into epoch' t/mount.log; }
i=0
until [ "$(folds)" -ge 3 ]; do
	i=$((i + 1)); [ $i -lt 600 ] || fail "fewer than 3 folds in 60 s: $(cat t/mount.log)"
	sleep 0.1
done
touch stop
wait "$(cat "$PIDS/writer")" || fail "the writer failed"
acked=$(cat acked)
cat t/mount.log
[ "$acked" -ge 40 ] || fail "only $acked appends before 3 folds"

# what the writer appended after the last fold is folded at the next look
# (once a second) if it passed the threshold: wait for that, then crash
# (the epoch crashed is the one crash names)
live() { ls -d t/epoch-* | sed 's/.*epoch-//' | sort -n | tail -n 1; }
i=0
while [ "$(stat -c %s "t/epoch-$(live)/records")" -ge $((4 << 20)) ]; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "the last appends were never folded: $(cat t/mount.log)"
	sleep 0.1
done
printf 'unsynced tail' >>m/log
"$FL" crash m --how lose-unsynced >crash.out 2>crash.err || fail "crash: $(cat crash.err)"
id=$(sed -n 's/.*: state \(.*\)$/\1/p' crash.out)
cur=$(sed -n 's|.*faultline replay \(.*\)/epoch-\([0-9]*\) .*|\2|p' crash.out)
[ "$cur" -ge 4 ] || fail "epoch $cur crashed after 3 folds"
[ "$(ls -d t/epoch-* | sed 's/.*epoch-//' | sort -n | tr '\n' ' ')" = "$cur $((cur + 1)) " ] ||
	fail "folded epochs are left: $(ls t)"
size=$(stat -c %s "t/epoch-$cur/records")
[ "$size" -lt $((4 << 20)) ] || fail "epoch $cur holds $size bytes of records after folding"
[ "$(stat -c %s "t/epoch-$cur/base/log")" -ge $((65536 * 16)) ] ||
	fail "the folded base lacks the durable appends"
[ -e "t/epoch-$cur/base/held" ] && fail "a file never durable was folded into the base"
"$FL" show "t/epoch-$cur" | grep -q 'create .*/held' || fail "the never-durable create is not carried"
# each fold carries what is still in flight, not the log's appends
sed -n 's/.*folded into epoch [0-9]*: [1-9][0-9]* ops into its base, \([0-9]*\) carried;.*/\1/p' \
	t/mount.log | awk '{ n++; if ($1 > 40) bad = 1 } END { exit bad || n < 3 }' ||
	fail "a fold carried more than the ops in flight: $(cat t/mount.log)"
n=1
while [ $n -le "$acked" ]; do block $n; n=$((n + 1)); done >expected
cmp b/log expected || fail "the log after the crash is not the $acked acknowledged appends"
[ -e b/held ] && fail "a file never durable survived lose-unsynced"
[ "$(cat b/old)" = base ] || fail "a base file changed"
"$FL" replay "t/epoch-$cur" "$id" --into r >/dev/null 2>err || fail "replay: $(cat err)"
cmp r/log expected || fail "the replayed log differs"
[ -e r/held ] && fail "the replayed state has the never-durable file"
[ "$(cat m/log | wc -c)" -eq $((acked * 65536)) ] || fail "the mount does not serve the crash state"

# a directory never fsynced holds every fold back, and the mount says so
"$FL" mount m2 --backing b2 --trace t2 --fold-size 1 --daemon --pid-file pid2 2>mount2.err ||
	fail "mount m2: $(cat mount2.err)"
cp pid2 "$PIDS/mount2"
mkdir m2/d
n=0
while [ $n -lt 24 ]; do block $n >>m2/d/log && sync m2/d/log || fail "appending"; n=$((n + 1)); done
i=0
until grep -q 'nothing folds yet: mkdir /d (seq [0-9]*) is not durable under posix' t2/mount.log; do
	i=$((i + 1)); [ $i -lt 100 ] || fail "no word of what holds the fold: $(cat t2/mount.log)"
	sleep 0.1
done
[ -d t2/epoch-1 ] && [ ! -e t2/epoch-2 ] || fail "an epoch was folded past a never-durable mkdir"

# the end: SIGTERM seals the epoch being recorded
mpid=$(cat pid) mpid2=$(cat pid2)
term_wait "$mpid" "$mpid2"
grep -q " $WORK/" /proc/mounts && fail "a mount is left behind"
last=$(ls -d t/epoch-* | sed 's/.*epoch-//' | sort -n | tail -n 1)
jq -e '.status == "complete" and .records > 0' "t/epoch-$last/meta.json" >/dev/null ||
	fail "the last epoch is not sealed: $(cat "t/epoch-$last/meta.json")"
exit 0
