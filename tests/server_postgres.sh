#!/bin/sh
# REQUIRES: fuse, postgresql, root
# server_postgres.sh - faultline mount and crash under PostgreSQL
# (scenarios/servers/postgres.sh): one psql session of autocommitted
# INSERTs, three power cuts per setting, under ext4-ordered.
#  - fsync=on: a commit is acknowledged once its WAL is flushed, so no
#    crash may lose one (and the server recovers every time);
#  - fsync=off: nothing is flushed, so the crashes must catch acknowledged
#    commits lost; the first such state replays (faultline replay) byte
#    for byte to what the backing directory was rewritten to.
. "$top_srcdir/tests/lib.sh"
require_fuse
require_cmd su stdbuf
[ "$(id -u)" -eq 0 ] || skip "PostgreSQL runs as the postgres user: needs root"
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || skip "PostgreSQL is not installed"
id postgres >/dev/null 2>&1 || skip "no postgres user"
S="$top_srcdir/scenarios/servers/postgres.sh"
FAULTLINE=$FL
export FAULTLINE
chmod 755 "$WORK" # the server, as postgres, reaches its files below it

sh "$S" on 3 "$WORK/on" >"$WORK/on.out" 2>"$WORK/on.err"
rc=$?
cut -c1-160 "$WORK/on.out"
[ $rc -eq 0 ] || fail "fsync=on lost acknowledged commits or did not run (exit $rc): $(cut -c1-300 "$WORK/on.out" "$WORK/on.err")"
[ "$(grep -c '^round ' "$WORK/on.out")" -eq 3 ] || fail "fsync=on: not three rounds"
awk '/^round / { if ($7 + 0 <= $4 + 0) bad = 1 } END { exit bad }' "$WORK/on.out" ||
	fail "fsync=on: a round acknowledged no commit"
[ "$(wc -l <"$WORK/on/trace/crashes")" -eq 3 ] || fail "fsync=on: TRACE/crashes lacks a crash"

sh "$S" off 3 "$WORK/off" >"$WORK/off.out" 2>"$WORK/off.err"
rc=$?
cut -c1-160 "$WORK/off.out"
[ $rc -eq 1 ] || fail "fsync=off: expected lost commits (exit 1), got exit $rc: $(cut -c1-300 "$WORK/off.err")"
line=$(grep '^lost: ' "$WORK/off.out" | head -n 1)
round=$(echo "$line" | awk '{ print $2 }')
id=$(echo "$line" | awk '{ print $8 }')
[ -n "$id" ] || fail "fsync=off: no state id in: $(echo "$line" | cut -c1-200)"
[ "${line#*replay: }" = "faultline replay $WORK/off/trace/epoch-$round $id" ] ||
	fail "fsync=off: the loss does not name its replay"
"$FL" replay "$WORK/off/trace/epoch-$round" "$id" --into "$WORK/replayed" >/dev/null ||
	fail "fsync=off: state $id does not replay"
diff -r "$WORK/replayed" "$WORK/off/trace/epoch-$((round + 1))/base" >/dev/null ||
	fail "fsync=off: the replayed state differs from the one the crash left"
grep -q " $WORK/" /proc/mounts && fail "a mount is left behind: $(grep " $WORK/" /proc/mounts)"
exit 0
