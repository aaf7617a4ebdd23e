#!/bin/sh
# REQUIRES: fuse, make
# install.sh - `make install` gives a faultline that works away from the
# build tree: the programs, manual pages and bash completion, every
# bundled scenario with its scripts and README, the engines (and so their
# checkers) under libexec, and a relative link that makes a scenario's
# ./engines/X resolve.  The installed faultline then runs an installed
# scenario from / with nothing pointing at the build tree: a correct
# engine passes, a buggy one fails as its scenario expects (exit 0 both).
# DESTDIR leaves the paths compiled into the programs alone, so a staged
# copy stands for the real one.
. "$top_srcdir/tests/lib.sh"
require_cmd "${MAKE:-make}"
D="$WORK/dest"

# The test's own make: not a part of the make running the tests.
MAKEFLAGS='' MFLAGS='' "${MAKE:-make}" -C "$top_builddir" install DESTDIR="$D" \
	>"$WORK/install.log" 2>&1 || fail "make install: $(tail -5 "$WORK/install.log")"

# installed NAME PATTERN: the one file (or link) below $D whose path matches PATTERN.
installed() {
	found=$(find "$D" -path "$2" \( -type f -o -type l \))
	[ -n "$found" ] || fail "make install installs no $1 ($2)"
	[ "$(echo "$found" | wc -l)" -eq 1 ] || fail "make install installs $1 twice: $found"
	echo "$found"
}
fl=$(installed faultline '*/bin/faultline') || exit 1
installed faultline-fs '*/bin/faultline-fs' >/dev/null || exit 1
installed faultline.1 '*/man1/faultline.1' >/dev/null || exit 1
installed faultline-fs.8 '*/man8/faultline-fs.8' >/dev/null || exit 1
installed faultline_checker.h '*/include/faultline_checker.h' >/dev/null || exit 1
if [ -n "$(sed -n 's/^bashcompletiondir = *//p' "$top_builddir/Makefile")" ]; then
	installed "faultline's completion" '*/completions/faultline' >/dev/null || exit 1
	installed "faultline-fs's completion" '*/completions/faultline-fs' >/dev/null || exit 1
fi

# ---- the corpus: every scenario, its scripts, the engines through the link ----
S=$(dirname "$(installed walkv.ini '*/faultline/scenarios/walkv.ini')") || exit 1
for f in "$top_srcdir"/scenarios/*.ini "$top_srcdir"/scenarios/*.sh "$top_srcdir"/scenarios/README; do
	cmp -s "$f" "$S/${f##*/}" || fail "make install does not install scenarios/${f##*/} as it is"
done
[ -L "$S/engines" ] || fail "$S/engines is not a link to the installed engines"
case $(readlink "$S/engines") in
/*) fail "$S/engines links to an absolute path, $(readlink "$S/engines"), outside a DESTDIR copy" ;;
esac
for src in "$top_srcdir"/scenarios/engines/*.c; do
	e=$(basename "$src" .c)
	[ -x "$S/engines/$e" ] || fail "the scenarios' engines/$e is not an installed program"
	installed "engine $e" "*/libexec/faultline/engines/$e" >/dev/null || exit 1
done
[ -z "$(find "$S/" -type f -perm -u+x ! -name '*.sh')" ] ||
	fail "programs installed under share: $(find "$S/" -type f -perm -u+x ! -name '*.sh')"

# ---- the installed faultline runs an installed scenario from / ----
require_fuse
unset FAULTLINE_FS FAULTLINE_SCENARIO_BUILDDIR # it finds faultline-fs beside itself
cd / || hard_error "cannot enter /"
for sc in walkv walkv-nocrc; do
	"$fl" run "$S/$sc.ini" --no-progress >"$WORK/$sc.out" 2>&1
	rc=$?
	[ $rc -eq 0 ] || fail "installed faultline run $sc.ini: exit $rc: $(tail -5 "$WORK/$sc.out")"
	grep -q "^scenario $sc: \(PASS\|FAIL\) (expected " "$WORK/$sc.out" ||
		fail "installed faultline run $sc.ini gave no verdict: $(tail -3 "$WORK/$sc.out")"
done
grep -q "^scenario walkv-nocrc: FAIL (expected fail)" "$WORK/walkv-nocrc.out" ||
	fail "walkv-nocrc did not fail as expected: $(tail -3 "$WORK/walkv-nocrc.out")"
exit 0
