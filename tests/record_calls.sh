#!/bin/sh
# REQUIRES: fuse, jq
# record_calls.sh - record --calls: an engine whose only barrier is sync()
# or syncfs() (scenarios/engines/synconly.c, dynamic and static, the barrier issued as
# a raw syscall from the thread itself, another thread or a child) gets a
# syncfs record after each commit's write and before its mark, so posix
# exploration passes it; without --calls, or when the barrier is a syncfs()
# of another file system or missing, the same engine is caught.  The
# workload's exit status and death by signal read the same with and
# without --calls, and an interrupted traced workload leaves nothing
# running.  Every op is joined to the call that made it (the calls log):
# a write to its write(), a sync barrier to the sync() of the thread that
# made it, mapped pages the kernel wrote back to the msync that forced them.
. "$top_srcdir/tests/lib.sh"
require_fuse
require_cmd jq readelf
# In a sanitizer build the engines' write() goes through ASan's interceptor,
# whose frames need a frame pointer the notification does not show: the
# walk stops there, and the site of an intercepted call is the runtime's.
# Calls it does not intercept (open, fsync, sync) keep the engine's site.
WSITE='in [a-z_]+\(\) walkv\.c:[0-9]+'
if ldd "$top_builddir/scenarios/engines/walkv" 2>/dev/null | grep -q libasan; then
	WSITE='in [a-z_]+\(\)'
fi

# steps TRACE: the trace's ops in order, one word each (create, syncfs, mark...).
steps() {
	"$FL" show --json "$1" >"$WORK/show.json" || fail "show $1"
	jq -r '[.records[] | select(.op == "create" or .op == "syncfs" or .op == "mark") | .op]
	       | join(" ")' "$WORK/show.json"
}

# case BIN MODE CALLS WANT_SYNCFS WANT_EXPLORE
case_() {
	bin=$1 mode=$2 calls=$3 want_n=$4 want_rc=$5
	S="$top_builddir/tests/$bin"
	[ "$bin" = synconly ] && S="$top_builddir/scenarios/engines/synconly"
	t="$WORK/$bin-$mode$calls"
	# shellcheck disable=SC2086
	"$FL" record -o "$t" $calls -- "$S" run "$mode" 3 >"$WORK/rec.out" 2>&1 ||
		fail "$bin $mode $calls: record exited $?: $(cat "$WORK/rec.out")"
	got=$(steps "$t")
	if [ "$want_n" -eq 3 ]; then
		[ "$got" = "create syncfs mark create syncfs mark create syncfs mark" ] ||
			fail "$bin $mode $calls: the trace's steps are '$got'"
		# Each syncfs comes after its file's write, and names a process of the workload.
		jq -e '[.records[] | select(.op == "syncfs") | .pid > 0] | all' "$WORK/show.json" >/dev/null ||
			fail "$bin $mode: a syncfs record without the caller's pid"
		jq -e '[.records | to_entries[] | select(.value.op == "syncfs") | .key] as $s |
		       [.records | to_entries[] | select(.value.op == "write") | .key] as $w |
		       [range(0; 3) | $w[.] < $s[.]] | all' "$WORK/show.json" >/dev/null ||
			fail "$bin $mode: a syncfs record before its commit's write"
	else
		[ "$got" = "create mark create mark create mark" ] ||
			fail "$bin $mode $calls: the trace's steps are '$got', want no syncfs"
	fi
	"$FL" explore "$t" --model posix --check "$S check" >"$WORK/ex.out" 2>&1
	rc=$?
	[ $rc -eq "$want_rc" ] ||
		fail "$bin $mode $calls: explore exited $rc, want $want_rc: $(tail -5 "$WORK/ex.out")"
}

for bin in synconly synconly-static; do
	for mode in sync syncfs thread fork; do
		case_ $bin $mode --calls 3 0
	done
	case_ $bin syncfs-outside --calls 0 1
	case_ $bin none --calls 0 1
	case_ $bin sync "" 0 1
done
# (a static binary has no program interpreter)
readelf -l "$top_builddir/tests/synconly-static" >"$WORK/elf" 2>&1 || hard_error "readelf"
grep -q INTERP "$WORK/elf" && fail "synconly-static is not a static binary"

# ---- each op joined to the call that made it ----
# joins: with seccomp user notification (the default) and with ptrace alone.
joins() {
	S="$top_builddir/scenarios/engines/synconly"
	"$FL" record -o "$WORK/j" --calls -- "$S" run thread 2 >/dev/null 2>&1 || fail "record thread"
	"$FL" show --json "$WORK/j" >"$WORK/j.json" || fail "show j"
	# The sync came from another thread: its record has that thread's pid, and
	# joins that thread's sync().
	jq -e '[.records[] | select(.op == "syncfs") | .call.syscall == "sync" and .call.tid == .pid
	        and .call.result == 0 and .call.entry_ns <= .time_ns and .time_ns <= .call.exit_ns]
	        | length == 2 and all' "$WORK/j.json" >/dev/null ||
		fail "syncfs records do not join their sync(): $(jq -c '[.records[] | select(.op == "syncfs")]' "$WORK/j.json")"
	jq -e '[.records[] | select(.op == "write") | .call.syscall == "write" and
	        .call.entry_ns <= .time_ns and .call.exit_ns == 0] | length == 2 and all' \
		"$WORK/j.json" >/dev/null || fail "writes do not join their write()"
	jq -e '[.records[] | select(.op == "create") | .call.syscall | IN("openat", "open", "creat")]
	        | length == 2 and all' "$WORK/j.json" >/dev/null || fail "creates do not join their open"
	jq -e '[.records[] | select(.op == "mark") | .call.syscall == "write"] | all' "$WORK/j.json" \
		>/dev/null || fail "marks do not join the write to the control file"
	# ... and where it was made: the engine's function and line (built with -g).
	"$FL" show "$WORK/j" | grep -q 'syncfs .*<- sync() = 0 in sync_thread() synconly\.c:[0-9]*' ||
		fail "show's text does not name the sync and its site: $("$FL" show "$WORK/j" | grep syncfs)"
	"$FL" show "$WORK/j" | grep -q 'create .*<- open[a-z]*(.*) in run() synconly\.c:[0-9]*' ||
		fail "show's text does not name the create's call and its site"
	"$FL" show "$WORK/j" | grep -q 'write .*<- write(3, \.\.\., 4096) in ' ||
		fail "show's text does not name the write"
	# Mapped pages written back by the kernel (pid 0) join the msync that forced them.
	M="$top_builddir/scenarios/engines/mmapstore"
	"$FL" record -o "$WORK/m" --calls --setup "$M init" -- "$M" run 2 >/dev/null 2>&1 || fail "record mmapstore"
	"$FL" show --json "$WORK/m" >"$WORK/m.json" || fail "show m"
	# (The pages captured from the mapping at each call come as writes flagged
	# early, made by the thread at whose call they were captured: record_maps.sh.)
	jq -e '[.records[] | select(.op == "write" and (.flags | index("early")) == null)
	        | .pid == 0 and .call.syscall == "msync"] | length > 0 and all' "$WORK/m.json" >/dev/null ||
		fail "writeback does not join its msync: $(jq -c '[.records[] | select(.op == "write") | .call]' "$WORK/m.json")"
	jq -e '[.records[] | select(.op == "write" and (.flags | index("early")) != null)
	        | .pid > 0 and (.call.text | startswith("page stored before "))] | length > 0 and all' \
		"$WORK/m.json" >/dev/null ||
		fail "captured pages do not join the call they were captured at: $(jq -c '[.records[] | select(.op == "write") | .call]' "$WORK/m.json")"
}
joins
export FAULTLINE_CALLS_PTRACE=1
joins
unset FAULTLINE_CALLS_PTRACE
export FAULTLINE_CALLS_NOPERF=1
joins
unset FAULTLINE_CALLS_NOPERF

# faultline-fs joins the calls that make requests, with no stop (fusefs/fs_calls.c):
# a call is one line of the calls log however many records it makes (a 3 MiB
# write() carried by several WRITEs; an open that creates; a write of two lines
# to the control file), a call outside the mount is no line at all, and the
# pages an fsync() (not an msync) forced out of a mapping join that fsync.
# Both ways faultline-fs finds the call: the kernel's samples of the calls'
# entries (where tracefs and the right to trace are: root here), and
# /proc/TID/syscall (FAULTLINE_CALLS_NOPERF=1, or where sampling cannot be had).
W="$top_builddir/tests/workload_ops"
OSITE='in write_all\(\) workload_ops\.c:[0-9]+'
if ldd "$W" 2>/dev/null | grep -q libasan; then
	OSITE='in [a-z_]+\(\)' # the interceptor's frame (see WSITE above)
fi
fsside() {
	way=$1
	rm -rf "$WORK/fsside" "$WORK/f"
	mkdir "$WORK/fsside"
	# shellcheck disable=SC2086 # $way is one assignment, or none
	(cd "$WORK/fsside" && env FAULTLINE_CALLS_STATS=1 $way "$FL" record -o "$WORK/f" --calls -- "$W" calls) \
		>"$WORK/f.out" 2>&1 || fail "record workload_ops calls ($way): $(cat "$WORK/f.out")"
	stats=$(sed -n 's/^faultline-fs: calls: \([0-9]*\) found from the kernel.s samples, \([0-9]*\) read from .proc$/\1 \2/p' \
		"$WORK/f.out")
	[ -n "$stats" ] || fail "faultline-fs did not say how it found the calls: $(cat "$WORK/f.out")"
	# shellcheck disable=SC2086 # two numbers
	set -- $stats
	if [ -n "$way" ]; then
		[ "$1" -eq 0 ] && [ "$2" -gt 0 ] || fail "$way: $1 calls sampled, $2 read"
	elif [ "$(id -u)" -eq 0 ] && [ -r /sys/kernel/tracing/events/raw_syscalls/sys_enter/id ]; then
		[ "$1" -gt 0 ] && [ "$2" -eq 0 ] || fail "sampling: $1 calls sampled, $2 read from /proc"
	else
		echo "# no tracefs or not root: calls read from /proc ($1 sampled, $2 read)"
	fi
	"$FL" show --json "$WORK/f" >"$WORK/f.json" || fail "show f"
	jq -e '[.records[] | select(.op == "write" and .path == "/big")] as $w
	       | ($w | length) > 1 and ([$w[] | .len] | add) == 3145728
	       and ([$w[] | .call.entry_ns] | unique | length) == 1
	       and ([$w[] | .call.syscall == "write" and (.call.text | test("^write\\(3, \\.\\.\\., 3145728\\) " + $site))]
	            | all)' \
		--arg site "$OSITE" "$WORK/f.json" >/dev/null ||
		fail "$way: a 3 MiB write() is not one call: $(jq -c '[.records[] | select(.path == "/big") | {op, len, call}]' "$WORK/f.json")"
	[ "$(awk '$2 == 1 && $8 == "300000"' "$WORK/f/calls" | wc -l)" -eq 1 ] ||
		fail "$way: the 3 MiB write() is not one line of the calls log: $(cat "$WORK/f/calls")"
	jq -e '[.records[] | select(.path == "/mf" and (.op == "create" or .op == "open")) | .call.entry_ns]
	       | length == 2 and (unique | length) == 1' "$WORK/f.json" >/dev/null ||
		fail "$way: an open that creates is not one call"
	jq -e '[.records[] | select(.op == "mark" and (.text == "step two" or .text == "lines"))
	       | .call.entry_ns] | length == 2 and (unique | length) == 1' "$WORK/f.json" >/dev/null ||
		fail "$way: a write of two lines to the control file is not one call: $(jq -c '[.records[] | select(.op == "mark") | {text, call}]' "$WORK/f.json")"
	! awk '$2 == 1 && $8 == "3039"' "$WORK/f/calls" | grep -q . ||
		fail "$way: a write() to /dev/null, outside the mount, is in the calls log"
	jq -e '[.records[] | select(.op == "write" and .path == "/mf" and (.flags | index("early")) == null)
	        | .pid == 0 and .call.syscall == "fsync" and .call.entry_ns <= .time_ns]
	       | length > 0 and all' "$WORK/f.json" >/dev/null ||
		fail "$way: pages an fsync() wrote back do not join it: $(jq -c '[.records[] | select(.path == "/mf") | {op, pid, call}]' "$WORK/f.json")"
	# Every op that changes a state, and every mark, joins a call.
	jq -e '[.records[] | select(.op != "flush" and .op != "release") | has("call")] | all' \
		"$WORK/f.json" >/dev/null ||
		fail "$way: an op joins no call: $(jq -c '[.records[] | select(has("call") | not)]' "$WORK/f.json")"
}
fsside ""
fsside FAULTLINE_CALLS_NOPERF=1

# Only root and the mount's user may ask faultline-fs to sample a process or
# to follow a mapping: another user's mark goes in, its "\001perf" is refused.
if command -v setpriv >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
	"$FL" record -o "$WORK/u" --calls --allow-other -- sh -c '
		chmod 755 .
		setpriv --reuid=65534 --regid=65534 --clear-groups sh -c "
			echo other-user >.faultline-ctl || exit 3
			printf \"\\001perf 1\\n\" >.faultline-ctl 2>/dev/null && exit 4
			printf \"\\001map 1 4096 4096 0 x\\n\" >.faultline-ctl 2>/dev/null && exit 5
			exit 0"' >"$WORK/u.out" 2>&1 ||
		fail "another user's control lines: $(cat "$WORK/u.out")"
	"$FL" show "$WORK/u" | grep -q 'mark .*other-user' || fail "another user's mark is not recorded"
else
	echo "# not root or no setpriv: another user's control lines not tried"
fi

# A static binary's calls have their sites too (its own code has line numbers).
"$FL" show "$WORK/synconly-static-sync--calls" | grep -q 'write .* in run() synconly\.c:[0-9]*' ||
	fail "no call site in the static binary's trace: $("$FL" show "$WORK/synconly-static-sync--calls" | grep write)"

# A failure's explanation and its cause name the calls and their sites: the lost write by
# the engine's write(), the crash at its mark by the write to the control file.
W="$top_builddir/scenarios/engines/walkv"
"$FL" record -o "$WORK/w" --calls --setup "$W init --bug early-ack" -- "$W" run 3 --bug early-ack \
	>/dev/null 2>&1 || fail "record walkv"
"$FL" explore "$WORK/w" --model posix --check "$W check --bug early-ack" --max-causes 1 \
	--json "$WORK/w.json" >/dev/null 2>&1
[ $? -eq 1 ] || fail "walkv early-ack under --calls is not caught"
jq -e --arg site "$WSITE" '.failures[0].explanation | test("lost op [0-9]+ \\(write /wal.log @[0-9]+\\+[0-9]+\\) from (p)?write(64)?\\([0-9]+, ..., [0-9]+\\) " + $site)' \
	"$WORK/w.json" >/dev/null || fail "the explanation does not name the write call: $(jq -r '.failures[0].explanation' "$WORK/w.json")"
jq -e --arg site "$WSITE" '[.failures[] | select(.cause_words) | .cause_words | test("by (p)?write(64)?\\(.* " + $site)] | any' \
	"$WORK/w.json" >/dev/null || fail "the cause does not name the write call"

# explain names each moment's call: the JSON's call, the page's moments.
"$FL" explain "$WORK/w" --model posix --json "$WORK/wx.json" --html "$WORK/wx.html" >/dev/null ||
	fail "explain the --calls trace"
jq -e '[.files[0].moments[] | select(.at | startswith("after")) | .call |
        test("^f(data)?sync\\([0-9]+\\) in [a-z_]+\\(\\) walkv\\.c:[0-9]+")] | length > 0 and all' \
	"$WORK/wx.json" >/dev/null || fail "explain's moments do not name their calls: $(jq -c '[.files[0].moments[] | .call]' "$WORK/wx.json")"
grep -q '<td class="call">fdatasync([0-9]*) in [a-z_]*() walkv\.c:[0-9]*' "$WORK/wx.html" ||
	fail "explain's page does not name the calls"
"$FL" explain "$WORK/synconly-sync" --json "$WORK/nx.json" >/dev/null || fail "explain without calls"
jq -e '[.files[].moments[] | has("call")] | any | not' "$WORK/nx.json" >/dev/null ||
	fail "explain names calls of a trace recorded without --calls"

# A trace recorded without --calls has no call to show; a cut log is read to its last whole line.
"$FL" show --json "$WORK/synconly-sync" | jq -e '[.records[] | has("call")] | any | not' >/dev/null ||
	fail "a trace without --calls shows calls"
n=$(wc -l <"$WORK/j/calls")
head -c $(($(wc -c <"$WORK/j/calls") - 5)) "$WORK/j/calls" >"$WORK/cut" && mv "$WORK/cut" "$WORK/j/calls"
"$FL" show --json "$WORK/j" >"$WORK/j2.json" || fail "show with a cut calls log"
[ "$n" -gt 1 ] || fail "the calls log has $n lines"

# The workload's end reads the same either way.
for calls in "" --calls; do
	# shellcheck disable=SC2086
	"$FL" record -o "$WORK/x$calls" $calls -- sh -c 'exit 7' >/dev/null 2>&1
	[ $? -eq 1 ] || fail "record $calls of a failing workload: not exit 1"
	jq -e '.workload == {"exit_status": 7, "signal": null}' "$WORK/x$calls/meta.json" >/dev/null ||
		fail "record $calls: workload $(jq -c .workload "$WORK/x$calls/meta.json")"
	# shellcheck disable=SC2086
	"$FL" record -o "$WORK/k$calls" $calls -- sh -c 'kill -SEGV $$' >/dev/null 2>&1
	jq -e '.workload == {"exit_status": null, "signal": 11}' "$WORK/k$calls/meta.json" >/dev/null ||
		fail "record $calls: killed workload reads $(jq -c .workload "$WORK/k$calls/meta.json")"
done
jq -e '.calls == true' "$WORK/x--calls/meta.json" >/dev/null || fail "meta.json does not say calls"

# Interrupted: record stops the tracer, and the tracer's end ends the workload.
"$FL" record -o "$WORK/i" --calls -- sh -c 'echo $$ > "$1"; touch "$0"; exec sleep 300' \
	"$WORK/started" "$PIDS/sleeper" >/dev/null 2>&1 &
rec=$!
i=0
while [ ! -e "$WORK/started" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -e "$WORK/started" ] || fail "the traced workload never started"
kill -TERM $rec
wait $rec
[ $? -eq 3 ] || fail "interrupted record --calls: not exit 3"
none_left "the traced workload" "$PIDS/sleeper"
exit 0
