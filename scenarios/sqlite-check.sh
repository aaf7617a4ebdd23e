#!/bin/sh
# sqlite-check.sh - the quickstart's checker: SQLite recovers the crash
# state (opening the database replays or discards its WAL), the database
# passes PRAGMA integrity_check, and every commit the workload marked as
# acknowledged is there.
set -u
out=$(sqlite3 demo.db "PRAGMA integrity_check;" 2>&1) || { echo "sqlite3 failed: $out"; exit 1; }
[ "$out" = ok ] || { echo "integrity_check: $out"; exit 1; }
while read -r word n; do
	[ "$word" = commit ] || continue
	got=$(sqlite3 demo.db "SELECT count(*) FROM kv WHERE k = $n;" 2>&1)
	[ "$got" = 1 ] || { echo "commit $n lost (acknowledged, not in the database)"; exit 1; }
done <"$FAULTLINE_MARKS"
exit 0
