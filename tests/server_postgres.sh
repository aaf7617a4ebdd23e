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
. "$top_srcdir/tests/servers.sh"
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
server_holds fsync=on on

sh "$S" off 3 "$WORK/off" >"$WORK/off.out" 2>"$WORK/off.err"
rc=$?
cut -c1-160 "$WORK/off.out"
[ $rc -eq 1 ] || fail "fsync=off: expected lost commits (exit 1), got exit $rc: $(cut -c1-300 "$WORK/off.err")"
server_loss_replays fsync=off off
grep -q " $WORK/" /proc/mounts && fail "a mount is left behind: $(grep " $WORK/" /proc/mounts)"
exit 0
