#!/bin/sh
# REQUIRES: fuse, sqlite3, jq
# record_sqlite.sh - unmodified sqlite3 (WAL, synchronous=FULL) commits 300
# transactions under `faultline record`; the database left through the
# mount passes PRAGMA integrity_check and holds every row, and the trace
# holds the WAL writes, the barriers and one mark per acknowledged commit.
. "$top_srcdir/tests/lib.sh"
require_fuse
require_cmd sqlite3 jq

# One sqlite3 process per transaction: a commit is acknowledged when its
# process exits, and only then is it marked.
cat >"$WORK/wl.sh" <<'E'
set -e
sqlite3 db.sqlite "PRAGMA journal_mode=WAL; CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT);" >/dev/null
i=1
while [ $i -le 300 ]; do
	sqlite3 db.sqlite "PRAGMA synchronous=FULL; INSERT INTO t VALUES($i, printf('%0200d', $i));"
	echo "commit $i" >"$FAULTLINE_MNT/.faultline-ctl"
	i=$((i + 1))
done
E
"$FL" record -o "$WORK/t" --keep-final -- sh "$WORK/wl.sh" || fail "record exited $?"
db="$WORK/t/final/db.sqlite"
[ "$(sqlite3 "$db" 'PRAGMA integrity_check;')" = ok ] || fail "integrity_check failed"
[ "$(sqlite3 "$db" 'SELECT count(*), sum(k) FROM t;')" = "300|45150" ] || fail "rows missing"

"$FL" show --json "$WORK/t" >"$WORK/t.json" || fail "show exited $?"
jq -e '[.records[] | select(.op == "mark")] | length == 300' "$WORK/t.json" >/dev/null ||
	fail "expected 300 commit marks"
jq -e '[.records[] | select(.op == "fsync" and .path == "/db.sqlite-wal")] | length >= 300' \
	"$WORK/t.json" >/dev/null || fail "expected an fsync of the WAL per commit"
# Every commit mark comes after a WAL fsync that follows the previous mark.
jq -e '[foreach .records[] as $r ({synced: true, ok: true};
          if $r.op == "fsync" and $r.path == "/db.sqlite-wal" then .synced = true
          elif $r.op == "mark" then .ok = (.ok and .synced) | .synced = false
          else . end; .ok)] | all' "$WORK/t.json" >/dev/null ||
	fail "a commit was acknowledged without a WAL fsync before it"
# Trace size overhead: at most 1.1 x bytes written + 64 bytes per record.
written=$(jq '[.records[] | select(.op == "write") | .len] | add' "$WORK/t.json")
nrec=$(jq '.records | length' "$WORK/t.json")
size=$(stat -c %s "$WORK/t/records")
[ "$size" -le $((written * 11 / 10 + 64 * nrec + 16)) ] ||
	fail "trace is $size bytes for $written bytes written in $nrec records"
exit 0
