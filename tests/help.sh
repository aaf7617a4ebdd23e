#!/bin/sh
# REQUIRES: groff
# help.sh - --help and the manual pages say the same thing, and say all of
# it: every long option a command's parser takes (its getopt table in the
# source) is described in that command's --help, and every option a --help
# describes is taken by the command (never "unrecognized option").  The
# pages faultline --man and faultline-fs --man write are the installed
# ones (doc/), render with groff without a warning, and hold every
# command.  Usage errors stay one line and exit 2.
. "$top_srcdir/tests/lib.sh"
require_cmd groff
FS="$top_builddir/fusefs/faultline-fs"
S="$top_srcdir/src"
cd "$WORK" || hard_error "cannot enter $WORK" # options are tried below: what they make stays here

# long_opts FILE: the long option names of FILE's getopt tables.
long_opts() {
	grep -o '{"[a-z][a-z-]*", *\(0\|1\|[a-z_]*argument\)' "$1" | sed 's/{"\([^"]*\)".*/\1/' | sort -u
}

# documented CMD: the long options CMD's --help describes (option lines only).
documented() {
	"$FL" "$1" --help | grep '^  -' | grep -o -- '--[a-zA-Z][a-zA-Z-]*' | sort -u
}
# described FILE OPT: FILE (a --help) has an option line for --OPT.
described() {
	grep '^  -' "$1" | grep -q -- "--$2\(\$\|[ ,=]\)"
}

# ---- source -> help: every option a parser takes is described ----
for pair in record:record.c show:show.c merge:merge.c explain:explain_cmd.c audit:audit_cmd.c; do
	cmd=${pair%%:*} file=${pair#*:}
	"$FL" "$cmd" --help >"$WORK/$cmd.help" || fail "$cmd --help: exit $?"
	for o in $(long_opts "$S/$file"); do
		case "$cmd:$o" in
		*:help | explain:reference) continue ;; # --help itself; a test-only rescan
		esac
		described "$WORK/$cmd.help" "$o" || fail "$cmd --help does not describe --$o"
	done
done
# explore_cmd.c's tables serve explore, states and replay.
"$FL" explore --help >"$WORK/ex.help" && "$FL" states --help >"$WORK/st.help" &&
	"$FL" replay --help >"$WORK/rp.help" || fail "explore/states/replay --help failed"
for o in $(long_opts "$S/explore_cmd.c"); do
	[ "$o" = help ] && continue
	described "$WORK/ex.help" "$o" || described "$WORK/st.help" "$o" ||
		described "$WORK/rp.help" "$o" || fail "no --help of explore, states or replay describes --$o"
done
"$FS" --help >"$WORK/fs.help" || fail "faultline-fs --help: exit $?"
for o in $(long_opts "$top_srcdir/fusefs/faultline-fs.c"); do
	described "$WORK/fs.help" "$o" || fail "faultline-fs --help does not describe --$o"
done

# ---- help -> parser: every option described is taken ----
for cmd in record show explore states replay merge explain audit; do
	for o in $(documented "$cmd"); do
		"$FL" "$cmd" "$o" x y >"$WORK/o.out" 2>&1 </dev/null
		grep -q -e "unrecognized option" -e "option not for this command" "$WORK/o.out" &&
			fail "$cmd --help describes $o, which $cmd refuses: $(head -2 "$WORK/o.out")"
	done
done
"$FL" run --help >"$WORK/run.help" || fail "run --help: exit $?"
grep -q "^usage: faultline run SCENARIO" "$WORK/run.help" || fail "run --help: $(head -3 "$WORK/run.help")"

# ---- the page: every command, every section, all of it in faultline(1) ----
"$FL" --help >"$WORK/all.help" || fail "faultline --help: exit $?"
for cmd in record show explore states replay merge run explain audit; do
	grep -q "^usage: faultline $cmd " "$WORK/all.help" || fail "faultline --help lacks $cmd's usage"
done
for sec in "EXIT STATUS" ENVIRONMENT CHECKERS EXAMPLES; do
	grep -q "^$sec\$" "$WORK/all.help" || fail "faultline --help lacks $sec"
done
for v in FAULTLINE_MNT FAULTLINE_STATE_DIR FAULTLINE_STATE_ID FAULTLINE_MARKS FAULTLINE_FS TMPDIR; do
	grep -q "$v" "$WORK/all.help" || fail "faultline --help does not name $v"
done

# ---- the manual pages are what --man writes, and render cleanly ----
for pair in "$FL:faultline.1" "$FS:faultline-fs.8"; do
	prog=${pair%%:*} page=${pair#*:}
	"$prog" --man >"$WORK/$page" || fail "$page: --man exit $?"
	cmp -s "$WORK/$page" "$top_builddir/doc/$page" ||
		fail "doc/$page is not what --man writes now (make rebuilds it)"
	groff -man -ww -z "$WORK/$page" 2>"$WORK/groff.err" || fail "groff $page: exit $?"
	[ ! -s "$WORK/groff.err" ] || fail "groff warns on $page: $(head -5 "$WORK/groff.err")"
done
LC_ALL=C groff -man -Tascii "$WORK/faultline.1" 2>/dev/null | sed 's/.\x08//g' >"$WORK/man.txt"
for cmd in record show explore states replay merge run explain audit; do
	grep -q "^   $cmd\$" "$WORK/man.txt" || fail "faultline(1) has no section for $cmd"
done
for o in $(documented explore); do
	grep -q -- "$o" "$WORK/man.txt" || fail "faultline(1) lacks explore's $o"
done

# ---- usage errors: one line, exit 2 ----
for args in "show" "replay onlytrace" "merge" "explain" "run" "record" "explore" "audit"; do
	# shellcheck disable=SC2086
	"$FL" $args >"$WORK/u.out" 2>"$WORK/u.err"
	rc=$?
	[ $rc -eq 2 ] && [ "$(wc -l <"$WORK/u.err")" -eq 1 ] ||
		fail "faultline $args: exit $rc, $(wc -l <"$WORK/u.err") lines: $(cat "$WORK/u.err")"
done
"$FS" >/dev/null 2>&1
[ $? -eq 2 ] || fail "faultline-fs without arguments: not exit 2"
exit 0
