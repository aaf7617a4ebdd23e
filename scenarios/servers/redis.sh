#!/bin/sh
# scenarios/servers/redis.sh - Redis with appendonly, crashed while it serves.
#
#   redis.sh POLICY ROUNDS WORKDIR
#
# POLICY is Redis's appendfsync (always, everysec, no).  One faultline
# mount (faultline mount --daemon) serves WORKDIR/backing at WORKDIR/mnt;
# redis-server keeps its data there.  Each round:
#   1. redis-server starts on the mount (port from WORKDIR's free one) and
#      loads what the last crash left;
#   2. the client loop (redis-cli -r -1 INCR counter, one reply per line,
#      line-buffered) runs for 1 to 2 seconds: each number printed is a
#      value Redis acknowledged;
#   3. faultline crash --kill --how lose-unsynced cuts the power (and
#      kills redis-server), with the round as the seed;
#   4. redis-server starts again on the crash state: the counter must be at
#      least the last value acknowledged before the crash.
# Prints one line per round and, for every round that lost acknowledged
# writes, "lost: ROUND acked A recovered R state ID replay: CMD".
# MODEL (environment, default ext4-ordered) is the mount's persistence
# model.  Under posix, Redis 7 loses everything: it never fsyncs the
# directory that holds appendonlydir/ after making it, so the whole
# directory may vanish; ext4 commits that mkdir with the first fsync.
# Exit 0 no acknowledged write lost, 1 some lost, 3 could not run
# (redis-server missing, mount or server failed to start).
set -u
POLICY=$1 ROUNDS=$2 W=$3
FAULTLINE=${FAULTLINE:-faultline}
MODEL=${MODEL:-ext4-ordered}
. "$(dirname "$0")/lib.sh"
command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
	{ echo "redis.sh: redis-server and redis-cli are needed" >&2; exit 3; }
mkdir -p "$W/mnt" "$W/backing" || exit 3
PORT=$(( 20000 + $$ % 20000 ))
RPID= LPID=

cleanup() {
	[ -n "$LPID" ] && kill "$LPID" 2>/dev/null
	[ -n "$RPID" ] && kill -9 "$RPID" 2>/dev/null
	mount_down
}
trap cleanup EXIT
trap 'exit 3' INT TERM

mount_up

# Starts redis-server on the mount and waits until it answers (it has
# loaded its append-only file by then).
start_redis() {
	redis-server --port "$PORT" --bind 127.0.0.1 --dir "$W/mnt" --appendonly yes \
		--appendfsync "$POLICY" --save '' --daemonize no \
		--logfile "$W/redis.log" >/dev/null 2>&1 &
	RPID=$!
	i=0
	until [ "$(redis-cli -p "$PORT" ping 2>/dev/null)" = PONG ]; do
		i=$((i + 1))
		[ $i -lt 200 ] && kill -0 "$RPID" 2>/dev/null || {
			echo "redis.sh: redis-server did not start" >&2; tail -5 "$W/redis.log" >&2; exit 3; }
		sleep 0.05
	done
}

lost=0
r=1
while [ $r -le "$ROUNDS" ]; do
	start_redis
	before=$(redis-cli -p "$PORT" get counter)
	stdbuf -oL redis-cli -p "$PORT" -r -1 incr counter >"$W/acks" 2>/dev/null &
	LPID=$!
	sleep "1.$(( (r * 37) % 10 ))"
	power_cut "$r"
	wait "$RPID" 2>/dev/null
	RPID=
	kill "$LPID" 2>/dev/null
	wait "$LPID" 2>/dev/null
	LPID=
	acked=$(last_ack "")
	start_redis
	got=$(redis-cli -p "$PORT" get counter)
	echo "round $r: counter ${before:-0} -> acked ${acked:-0}, recovered ${got:-0} (state $id)"
	if [ "${got:-0}" -lt "${acked:-0}" ]; then
		echo "lost: $r acked $acked recovered ${got:-0} state $id replay: $replay"
		lost=$((lost + 1))
	fi
	kill -9 "$RPID" 2>/dev/null
	wait "$RPID" 2>/dev/null
	RPID=
	r=$((r + 1))
done
[ $lost -eq 0 ]
