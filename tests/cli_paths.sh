#!/bin/sh
# REQUIRES: fuse, jq
# cli_paths.sh - commands are found where the user typed them, as with
# strace or valgrind: `record -- ./wl.sh`, `--setup ./init.sh`, `explore
# --check ./ck.sh` and `replay --check ./ck.sh` run the programs in the
# caller's directory although the workload runs in the mount and the
# checker in each state (and both keep that as their working directory).
# A ./word that names nothing in the caller's directory is left alone: a
# program the setup put in the base still runs from the mount.  A
# directory with a space in its name works.
. "$top_srcdir/tests/lib.sh"
require_fuse
require_cmd jq

D="$WORK/caller dir"
mkdir -p "$D/sub"
cat >"$D/wl.sh" <<'EOF2'
#!/bin/sh
# runs in the mount: its files are the trace's
[ -f from-setup ] || { echo "not in the base: $(pwd)" >&2; exit 9; }
echo one >data
echo "commit 1" >"$FAULTLINE_MNT/.faultline-ctl"
echo two >>data
EOF2
cat >"$D/sub/init.sh" <<'EOF2'
#!/bin/sh
echo setup >from-setup
printf '#!/bin/sh\necho inner >inner.out\n' >inner.sh
chmod +x inner.sh
EOF2
cat >"$D/ck.sh" <<'EOF2'
#!/bin/sh
# runs in the state: data must hold the acknowledged line
[ "$(pwd)" = "$FAULTLINE_STATE_DIR" ] || { echo "cwd $(pwd)"; exit 7; }
[ -f from-setup ] || { echo "no base"; exit 8; }
grep -q one data 2>/dev/null || exit 1
EOF2
chmod +x "$D/wl.sh" "$D/sub/init.sh" "$D/ck.sh"

cd "$D" || hard_error "cannot enter $D"
"$FL" record -o "$WORK/t" --setup "./sub/init.sh" -- ./wl.sh >"$WORK/rec.out" 2>&1 ||
	fail "record -- ./wl.sh: exit $?: $(cat "$WORK/rec.out")"
grep -q "^two" "$WORK/t/base/data" 2>/dev/null && fail "the workload ran in the base, not the mount"
"$FL" explore "$WORK/t" --check "./ck.sh" --no-progress --json "$WORK/r.json" >"$WORK/ex.out" 2>&1
[ $? -eq 1 ] || fail "explore --check ./ck.sh: want exit 1 (the unsynced line may be lost): $(cat "$WORK/ex.out")"
# Every failure is the checker's own verdict (grep's 1), never "not found"
# (127) or a wrong directory (7, 8).
jq -e '.states.passed > 0 and ([.failures[].exit_status] | unique) == [1]' "$WORK/r.json" >/dev/null ||
	fail "explore: the checker did not run as ./ck.sh from $D: $(jq -c '[.states, [.failures[] | {exit_status, output}][:3]]' "$WORK/r.json")"
fid=$(jq -r '.failures[0].id' "$WORK/r.json")
"$FL" replay "$WORK/t" "$fid" --into "$WORK/st" --check ./ck.sh >"$WORK/rp.out" 2>&1
[ $? -eq 1 ] || fail "replay --check ./ck.sh of failing $fid: $(cat "$WORK/rp.out")"

# ./inner.sh exists only in the base: it runs from the mount.
"$FL" record -o "$WORK/t2" --setup "./sub/init.sh" -- ./inner.sh >"$WORK/rec2.out" 2>&1 ||
	fail "record -- ./inner.sh (made by the setup): exit $?: $(cat "$WORK/rec2.out")"
"$FL" show "$WORK/t2" | grep -q "inner.out" || fail "inner.sh did not run in the mount: $("$FL" show "$WORK/t2" | head -20)"

# A program in neither place: a clear error, nothing left mounted.
"$FL" record -o "$WORK/t3" -- ./nowhere.sh >"$WORK/rec3.out" 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q "cannot run ./nowhere.sh" "$WORK/rec3.out" ||
	fail "record -- ./nowhere.sh: exit $rc: $(cat "$WORK/rec3.out")"
grep -q "$WORK" /proc/mounts && fail "a mount was left behind: $(grep "$WORK" /proc/mounts)"
exit 0
