#!/bin/sh
# REQUIRES: fuse, jq, getfattr
# record_ops.sh - record tests/workload_ops on a real faultline-fs mount and
# check (1) the tree the workload left through the mount is byte-identical
# to the same workload run natively, and (2) the trace holds every step's
# operations in order, with the right arguments and bytes.
. "$top_srcdir/tests/lib.sh"
require_fuse
require_cmd jq getfattr

W="$top_builddir/tests/workload_ops"
SETUP='echo base > pre && mkdir sub && echo s > sub/x'

mkdir "$WORK/native" && (cd "$WORK/native" && sh -c "$SETUP" && "$W") ||
	hard_error "workload fails natively"
"$FL" record -o "$WORK/t" --keep-final --setup "$SETUP" -- "$W" ||
	fail "record exited $?"
diff -r --no-dereference "$WORK/native" "$WORK/t/final" ||
	fail "the tree written through the mount differs from the native run"
[ "$(stat -c %a "$WORK/t/final/a")" = 600 ] || fail "chmod did not reach the backing file"
[ "$(getfattr --absolute-names --only-values -n user.k "$WORK/t/final/a")" = v1 ] ||
	fail "xattr did not reach the backing file"
[ "$(cd "$WORK/t/base" && find . | sort | tr '\n' ' ')" = ". ./pre ./sub ./sub/x " ] ||
	fail "base snapshot is not the tree the setup made"

"$FL" show --json --data "$WORK/t" >"$WORK/t.json" || fail "show --json exited $?"
"$FL" show "$WORK/t" >"$WORK/t.txt" || fail "show exited $?"
jq -e '.valid_records == (.records | length) and .error == null' "$WORK/t.json" >/dev/null ||
	fail "trace not wholly valid"
jq -e '.status == "complete" and .workload.exit_status == 0' "$WORK/t/meta.json" >/dev/null ||
	fail "meta.json does not say complete"

expect_step() {
	jq -r --arg s "$1" -f "$top_srcdir/tests/steps.jq" "$WORK/t.json" >"$WORK/got.$1"
	diff -u - "$WORK/got.$1" || fail "step $1: trace differs from the expected ops"
}

# The base snapshot is announced first, parents before children.
jq -r '.records[] | select(.op == "base") | .path' "$WORK/t.json" >"$WORK/base.txt"
diff -u - "$WORK/base.txt" <<'E' || fail "base records"
/pre
/sub
/sub/x
E

expect_step create <<'E'
create /a
write /a off=0 len=5 data=68656c6c6f
write /a off=10 len=2 data=5859
E
expect_step append <<'E'
create /log
write /log off=0 len=5 [append] data=726563310a
write /log off=5 len=5 [append] data=726563320a
fsync /log datasync=true
E
expect_step dsync <<'E'
create /dsync
write /dsync off=0 len=512 [dsync] data=44*512
fsync /dsync datasync=true
E
expect_step mmap <<'E'
create /map
truncate /map size=16384 old=0 cause=ftruncate
write /map off=4096 len=4096 [writepage] data=4d*4096
fsync /map datasync=true
E
expect_step rename <<'E'
create /f
write /f off=0 len=3 data=6f6c64
create /f.tmp
write /f.tmp off=0 len=3 data=6e6577
rename /f.tmp -> /f replacing
E
expect_step fsyncdir <<'E'
mkdir /d
create /d/inner
write /d/inner off=0 len=1 data=78
fsyncdir /d datasync=false
E
expect_step fallocate <<'E'
create /fa
write /fa off=0 len=8192 data=46*8192
fallocate /fa off=0 len=4096 [keep_size,punch_hole]
fallocate /fa off=4096 len=100 [zero_range]
fallocate /fa off=8192 len=4096
E
expect_step truncate <<'E'
truncate /a size=3 old=12 cause=truncate
truncate /log size=0 old=10 cause=o_trunc
write /log off=0 len=4 data=6f766572
E
expect_step links <<'E'
link /a.link
symlink /a.sym -> a
unlink /a.link
mkdir /e
rmdir /e
rmdir /d = ENOTEMPTY
E
expect_step attrs <<'E'
setxattr /a user.k len=2
setxattr /fa user.gone len=1
removexattr /fa user.gone
setattr /a set=mode
setattr /a set=atime,mtime
E
expect_step exchange <<'E'
rename /f -> /dsync replacing [exchange]
E

# Marks are sequenced with the ops, in order, and hidden from listings.
jq -r '.records[] | select(.op == "mark") | .text' "$WORK/t.json" | tr '\n' ' ' |
	grep -qx 'step create step append step dsync step mmap step rename step fsyncdir step fallocate step truncate step links step attrs step exchange step end ' ||
	fail "marks missing or out of order"
[ -e "$WORK/t/final/.faultline-ctl" ] && fail ".faultline-ctl leaked into the backing dir"
# Every op a process asked for names it (the kernel sends release and mmap
# writeback on its own, with no process); every open file is released.
jq -e '[.records[] | select(.op != "base" and .op != "release" and
        (.flags | type != "array" or index("writepage") == null)) | .pid > 0] | all' \
	"$WORK/t.json" >/dev/null || fail "records without a pid"
jq -e '([.records[] | select(.op == "open")] | length) > 0 and
       ([.records[] | select(.op == "open")] | length) ==
       ([.records[] | select(.op == "release")] | length)' "$WORK/t.json" >/dev/null ||
	fail "opens and releases do not pair up"
jq -e '[.records[] | select(.op == "open" and .path == "/dsync")][0].flag_names | index("dsync")' \
	"$WORK/t.json" >/dev/null || fail "O_DSYNC open not recorded"
grep -q ' write .*/a .*@0+5' "$WORK/t.txt" || fail "text form lacks the first write"
exit 0
