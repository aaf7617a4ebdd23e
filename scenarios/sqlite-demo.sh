#!/bin/sh
# sqlite-demo.sh - the quickstart's workload: SQLite in WAL mode with
# synchronous=FULL commits a few transactions in the current directory,
# marking each acknowledged commit in the trace.  SYNC=OFF in the
# environment turns synchronous off: commits are then acknowledged before
# they are durable, and the explorer must catch it.
set -eu
ctl="${FAULTLINE_MNT:-.}/.faultline-ctl"
sqlite3 demo.db "PRAGMA journal_mode=WAL; CREATE TABLE IF NOT EXISTS kv(k INTEGER PRIMARY KEY, v TEXT);" >/dev/null
for i in 1 2 3; do
	sqlite3 demo.db "PRAGMA synchronous=${SYNC:-FULL}; INSERT INTO kv VALUES($i, 'value $i');"
	echo "commit $i" > "$ctl"
done
