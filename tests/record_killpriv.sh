#!/bin/sh
# REQUIRES: fuse, root, jq, setpriv
# record_killpriv.sh - set-ID bits behave under faultline-fs as on the
# kernel's own file systems.  faultline-fs negotiates HANDLE_KILLPRIV_V2
# below libfuse (fusefs/fs_wire.c), which spares a round trip per write
# but leaves clearing set-ID bits to the file system: a write, truncate
# or O_TRUNC open by a user without CAP_FSETID clears S_ISUID (and
# S_ISGID when group-executable or the user is not in the file's group),
# root's do not, chown always does.  The
# same script runs natively and recorded; the modes must match, and the
# trace must hold each clearing as a SETATTR, so crash states show it.
. "$top_srcdir/tests/lib.sh"
require_fuse
require_cmd jq setpriv
[ "$(id -u)" -eq 0 ] || skip "needs root to act as another user"

# As nobody: write w and g, truncate t, open o with O_TRUNC.  As root:
# write r, chown c.  g is setgid without group execute, in a group nobody
# is not in: cleared all the same.
SCRIPT='
chmod 777 .
for f in w t o r c; do echo data >$f; chmod 6777 $f; done
echo data >g; chmod 6767 g
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups sh -c "$1"; }
as_nobody "echo more >>w" && as_nobody "echo more >>g" &&
	as_nobody "truncate -s 1 t" && as_nobody ": >o" &&
	echo more >>r && chown 65534 c
'
modes() { (cd "$1" && stat -c '%n %a' w g t o r c); }

mkdir "$WORK/native"
(cd "$WORK/native" && sh -c "$SCRIPT") || hard_error "the script fails natively"
"$FL" record -o "$WORK/t" --keep-final --allow-other -- sh -c "$SCRIPT" ||
	fail "record exited $?"
modes "$WORK/native" >"$WORK/native.modes"
modes "$WORK/t/final" >"$WORK/t.modes"
diff -u "$WORK/native.modes" "$WORK/t.modes" ||
	fail "set-ID bits under the mount differ from the kernel's own"
grep -qx "w 777" "$WORK/t.modes" && grep -qx "g 767" "$WORK/t.modes" &&
	grep -qx "r 6777" "$WORK/t.modes" ||
	fail "the native run itself did not clear set-ID bits as expected: $(cat "$WORK/t.modes")"

# Each clearing is in the trace: a setattr of mode 0777 (w, t, o, c) or
# 0767 (g), after the chmod to 06777/06767.
"$FL" show --json "$WORK/t" >"$WORK/t.json" || fail "show exited $?"
for f in w t o c g; do
	want=511
	[ "$f" = g ] && want=503
	jq -e --arg p "/$f" --argjson m "$want" '[.records[] | select(.op == "setattr" and .path == $p)]
		| (.[-1].mode % 4096) == $m' "$WORK/t.json" >/dev/null ||
		fail "no setattr clearing set-ID bits of $f in the trace: $(jq -c --arg p "/$f" \
			'[.records[] | select(.path == $p) | {op, mode}]' "$WORK/t.json")"
done
exit 0
