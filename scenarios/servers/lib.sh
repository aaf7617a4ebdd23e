# scenarios/servers/lib.sh - what the server harnesses here share; sourced
# by them.  W is the harness's work directory, FAULTLINE the command and
# MODEL the persistence model.

# mount_up [OPTION...]: faultline mount serves W/backing at W/mnt,
# recording into W/trace, as a daemon (its pid in W/mount.pid); exits 3
# when it does not come up.
mount_up() {
	"$FAULTLINE" mount "$W/mnt" --backing "$W/backing" --trace "$W/trace" --model "$MODEL" \
		--daemon --pid-file "$W/mount.pid" "$@" 2>"$W/mount.err" ||
		{ cat "$W/mount.err" >&2; exit 3; }
}

# mount_down: stops the mount, and waits (5 s at most) until it is gone.
mount_down() {
	[ -f "$W/mount.pid" ] && kill "$(cat "$W/mount.pid")" 2>/dev/null
	i=0
	while grep -q " $W/mnt " /proc/mounts && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
}

# power_cut ROUND: faultline crash --kill, everything unsynced lost, the
# round as the seed; sets id (the state's) and replay (the command that
# rebuilds it).  Exits 3 when the crash failed.
power_cut() {
	"$FAULTLINE" crash "$W/mnt" --kill --how lose-unsynced --seed "$1" >"$W/crash.out" ||
		{ cat "$W/crash.out" >&2; exit 3; }
	id=$(sed -n 's/.*: state \(.*\)$/\1/p' "$W/crash.out")
	replay=$(sed -n 's/.*replay with: //p' "$W/crash.out")
}

# last_ack DEFAULT: the last number the client loop printed in W/acks (the
# last value acknowledged), or DEFAULT when it printed none.
last_ack() {
	a=$(grep -E '^[0-9]+$' "$W/acks" | tail -n 1)
	echo "${a:-$1}"
}
