#!/bin/sh
# scenarios/servers/postgres.sh - PostgreSQL crashed while it commits.
#
#   postgres.sh FSYNC ROUNDS WORKDIR
#
# FSYNC is PostgreSQL's fsync setting (on or off).  The cluster is made
# (initdb, unrecorded) in WORKDIR/backing; one faultline mount
# (--allow-other: the server runs as the postgres user) serves it at
# WORKDIR/mnt, and the server keeps its data there.  Each round:
#   1. the server starts on the mount and recovers from what the last
#      crash left (a power cut leaves no process behind, so a lock file
#      the killed server left is stale and removed first, as a reboot
#      would);
#   2. one psql session inserts 1, 2, 3, ... into t, one autocommitted
#      INSERT ... RETURNING each, printing each value once the commit is
#      acknowledged, for 1 to 2 seconds;
#   3. faultline crash --kill --how lose-unsynced cuts the power (the
#      round is the seed);
#   4. the server starts again: every value acknowledged before the cut
#      must be in t.
# Prints one line per round and, for each round that lost acknowledged
# commits (or could not start again), "lost: ROUND ... state ID replay:
# CMD".  MODEL (environment) is the mount's model, default ext4-ordered.
# Exit 0 none lost, 1 some lost, 3 could not run (no PostgreSQL, not
# root, the mount or the first start failed).
set -u
FSYNC=$1 ROUNDS=$2 W=$3
FAULTLINE=${FAULTLINE:-faultline}
MODEL=${MODEL:-ext4-ordered}
. "$(dirname "$0")/lib.sh"
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$BIN/postgres" ] || { echo "postgres.sh: PostgreSQL is not installed" >&2; exit 3; }
[ "$(id -u)" -eq 0 ] && id postgres >/dev/null 2>&1 ||
	{ echo "postgres.sh: needs root and the postgres user" >&2; exit 3; }
PORT=$(( 20000 + ($$ + 7) % 20000 ))
mkdir -p "$W/mnt" "$W/backing" "$W/sock" || exit 3
chmod 755 "$W" "$W/mnt"
chown postgres "$W/backing" "$W/sock"
LPID=

as_pg() { su postgres -s /bin/sh -c "$1"; }
sql() { as_pg "'$BIN/psql' -h '$W/sock' -p $PORT -d postgres -qAt -c \"$1\"" 2>/dev/null; }
pgctl() { as_pg "'$BIN/pg_ctl' -D '$W/mnt/data' -l '$W/sock/pg.log' $1" >/dev/null 2>&1; }

cleanup() {
	[ -n "$LPID" ] && kill "$LPID" 2>/dev/null
	pgctl "-m immediate stop"
	mount_down
}
trap cleanup EXIT
trap 'exit 3' INT TERM

as_pg "'$BIN/initdb' -D '$W/backing/data' -A trust -U postgres --no-sync" >"$W/initdb.log" 2>&1 ||
	{ cat "$W/initdb.log" >&2; exit 3; }
mount_up --allow-other

# Starts the server on the mount; false if it does not come up.
start_pg() {
	rm -f "$W/mnt/data/postmaster.pid" "$W/sock/.s.PGSQL.$PORT" "$W/sock/.s.PGSQL.$PORT.lock"
	pgctl "-w -t 60 -o '-p $PORT -k $W/sock -c listen_addresses= -c fsync=$FSYNC' start"
}

start_pg || { echo "postgres.sh: the server did not start" >&2; tail -5 "$W/sock/pg.log" >&2; exit 3; }
lost=0
r=1
while [ $r -le "$ROUNDS" ]; do
	# (a crash may have lost the table itself: then it starts again)
	sql "CREATE TABLE IF NOT EXISTS t (v integer PRIMARY KEY)" >/dev/null
	before=$(sql "SELECT coalesce(max(v), 0) FROM t")
	before=${before:-0}
	seq $((before + 1)) $((before + 10000000)) | sed 's/.*/INSERT INTO t VALUES (&) RETURNING v;/' |
		as_pg "stdbuf -oL '$BIN/psql' -h '$W/sock' -p $PORT -d postgres -qAt -v ON_ERROR_STOP=1" \
			>"$W/acks" 2>/dev/null &
	LPID=$!
	sleep "1.$(( (r * 37) % 10 ))"
	power_cut "$r"
	wait "$LPID" 2>/dev/null
	LPID=
	acked=$(last_ack "$before")
	if ! start_pg; then
		echo "round $r: acked $acked, the server does not start again (state $id)"
		echo "lost: $r acked $acked recovered none state $id replay: $replay"
		lost=$((lost + 1))
		break
	fi
	have=$(sql "SELECT count(*) FROM t WHERE v <= $acked")
	echo "round $r: rows $before -> acked $acked, recovered ${have:-0} of them (state $id)"
	if [ "${have:-0}" -lt "$acked" ]; then
		echo "lost: $r acked $acked recovered ${have:-0} state $id replay: $replay"
		lost=$((lost + 1))
	fi
	r=$((r + 1))
done
[ $lost -eq 0 ]
