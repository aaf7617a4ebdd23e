#!/bin/sh
# REQUIRES: nothing (no mount)
# show_errors.sh - malformed traces get a one-line reason and exit 2, never
# a crash; a trace cut inside a record shows its valid prefix first.
. "$top_srcdir/tests/lib.sh"

hdr() { printf 'FLTRACE\000'; printf "$1"; printf '\020\000\000\000'; }

# one_line_error EXPECTED_TEXT FILE...: exit 2 with exactly one stderr line.
one_line_error() {
	want=$1
	shift
	"$FL" show "$@" >"$WORK/out" 2>"$WORK/err"
	rc=$?
	[ "$rc" -eq 2 ] || fail "show $*: exit $rc, want 2"
	[ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "show $*: stderr is not one line: $(cat "$WORK/err")"
	grep -q "$want" "$WORK/err" || fail "show $*: '$want' not in: $(cat "$WORK/err")"
}

hdr '\002\000\000\000' >"$WORK/empty"
"$FL" show "$WORK/empty" >"$WORK/out" || fail "empty trace: exit $?"
[ -s "$WORK/out" ] && fail "empty trace printed records"
"$FL" show --json "$WORK/empty" >"$WORK/empty.json" || fail "empty trace, --json: exit $?"
jq -e '.records == [] and .valid_records == 0 and .error == null' "$WORK/empty.json" >/dev/null ||
	fail "empty trace JSON: $(cat "$WORK/empty.json")"

hdr '\001\000\000\000' >"$WORK/v1"
one_line_error "format version 1" "$WORK/v1"
printf 'SQLite format 3\000 and more bytes' >"$WORK/garbage"
one_line_error "not a faultline trace" "$WORK/garbage"
: >"$WORK/zero"
one_line_error "not a faultline trace" "$WORK/zero"
one_line_error "cannot open" "$WORK/missing"
mkdir "$WORK/dir"
one_line_error "cannot open records" "$WORK/dir"

# A record cut short: the prefix (none here) and the reason.
{ hdr '\002\000\000\000'; printf '\100\000\000\000\001\002\003'; } >"$WORK/cut"
one_line_error "0 valid records" "$WORK/cut"
one_line_error "inside a record" "$WORK/cut"
# An impossible length field.
{ hdr '\002\000\000\000'; printf '\377\377\377\377\000\000\000\000'; } >"$WORK/huge"
one_line_error "impossible record length" "$WORK/huge"
"$FL" show --json "$WORK/huge" >"$WORK/huge.json" 2>/dev/null
rc=$?
[ $rc -eq 2 ] || fail "show --json of a bad trace: exit $rc, want 2"
jq -e '.valid_records == 0 and (.error | test("length"))' "$WORK/huge.json" >/dev/null ||
	fail "JSON of a bad trace does not carry the error: $(cat "$WORK/huge.json")"

# Usage errors.
expect_exit 2 "$FL" show
expect_exit 2 "$FL" show --bogus "$WORK/empty"
expect_exit 2 "$FL" nosuchcommand
expect_exit 2 "$FL" record
exit 0
