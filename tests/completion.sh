#!/bin/sh
# REQUIRES: bash
# completion.sh - the bash completion scripts (faultline --bash-completion,
# faultline-fs --bash-completion; installed from doc/bash-completion/)
# complete what --help describes: the subcommands, every option of every
# command, the words of --model, --mode, --tear, --order and --claims
# (each one the parser takes), and file names for files.  The completion
# function is driven as bash drives it, through COMP_WORDS and COMP_CWORD.
. "$top_srcdir/tests/lib.sh"
require_cmd bash
FS="$top_builddir/fusefs/faultline-fs"
D="$top_builddir/doc/bash-completion"

for pair in "$FL:faultline" "$FS:faultline-fs"; do
	prog=${pair%%:*} name=${pair#*:}
	"$prog" --bash-completion >"$WORK/$name.bash" || fail "$name --bash-completion: exit $?"
	cmp -s "$WORK/$name.bash" "$D/$name" ||
		fail "$D/$name is not what --bash-completion writes now (make rebuilds it)"
done

# The driver: sources SCRIPT, completes the last of WORDS as bash would,
# prints the candidates one a line, sorted.
cat >"$WORK/drive.bash" <<'EOF'
script=$1 prog=$2
shift 2
. "$script" || exit 99
fn=$(complete -p "$prog" 2>/dev/null | sed -n 's/.* -F \([^ ]*\) .*/\1/p')
[ -n "$fn" ] || { echo "$script registers no function for $prog" >&2; exit 99; }
COMP_WORDS=("$@")
COMP_CWORD=$(($# - 1))
COMP_LINE="$*"
COMP_POINT=${#COMP_LINE}
"$fn" "$prog" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
[ ${#COMPREPLY[@]} -eq 0 ] || printf '%s\n' "${COMPREPLY[@]}" | LC_ALL=C sort
EOF

# offered WORD...: what completing the last WORD of `faultline WORD...` offers, one a line.
offered() {
	bash "$WORK/drive.bash" "$WORK/faultline.bash" faultline faultline "$@" ||
		hard_error "the completion of 'faultline $*' did not run"
}
# expect WANT WORD...: completing `faultline WORD...` offers exactly WANT (space-separated).
expect() {
	want=$1
	shift
	got=$(offered "$@" | tr '\n' ' ')
	[ "${got% }" = "$want" ] || fail "faultline $*<TAB>: got '$got', want '$want'"
}
# options CMD: the long options `faultline CMD --help` describes.
options() {
	"$FL" "$1" --help | grep '^  -' | grep -o -- '--[a-zA-Z][a-zA-Z-]*' | sort -u
}

mkdir "$WORK/cwd" || hard_error "cannot make $WORK/cwd"
cd "$WORK/cwd" || hard_error "cannot enter $WORK/cwd" # file names come from here

# ---- subcommands, options, words ----
expect "explain explore" ex
expect "--keep-final" record --ke
expect "posix" explore t --model p
expect "bounded:" explore t --mode b
expect "bounded:" audit t --mode b
expect "bounded: exhaustive omit-one prefix" audit t --mode "" # audit takes no random:N
expect "old,garbage old,new old,zero old,zeros" explore t --tear old,
expect "sweep" explore t --order sw
expect "posix,page-atomic" audit t --claims posix,p # posix is listed already
expect "posix,block16k,strict" audit t --claims posix,block16k,st
expect "ext4-ordered" states t --model = e # --model=e: bash splits at the =
expect "" explore t --jobs ""                # a number: no file names either

# ---- file and directory names ----
mkdir tr.d && : >walkv.ini && : >wl.sh
expect "walkv.ini" run wa
expect "tr.d walkv.ini wl.sh" explore ""
expect "tr.d" explore t --workdir ""
expect "walkv.ini wl.sh" record --setup w
expect "walkv.ini wl.sh" record -o tr.d -- sh w
expect "walkv.ini" explore t --json = wa # --json=wa

# ---- every option each --help describes, and nothing else ----
cmds=$("$FL" --help | sed -n 's/^usage: faultline \([a-z]*\) .*/\1/p' | sort -u)
[ "$(echo "$cmds" | wc -w)" -ge 9 ] || hard_error "found only these commands: $cmds"
for cmd in $cmds; do
	[ "$cmd" = run ] && src=explore || src=$cmd # run passes explore's options on
	options "$src" >"$WORK/want" || fail "faultline $src --help: exit $?"
	offered "$cmd" -- >"$WORK/got"
	missing=$(comm -23 "$WORK/want" "$WORK/got" | tr '\n' ' ')
	extra=$(echo --help | comm -13 - "$WORK/got" | comm -13 "$WORK/want" - | tr '\n' ' ')
	[ -z "$missing" ] || fail "faultline $cmd --<TAB> lacks $missing"
	[ -z "$extra" ] || fail "faultline $cmd --<TAB> offers $extra, which $src --help does not describe"
done
"$FS" --help | grep '^  -' | grep -o -- '--[a-zA-Z][a-zA-Z-]*' | sort -u >"$WORK/want"
bash "$WORK/drive.bash" "$WORK/faultline-fs.bash" faultline-fs faultline-fs -- >"$WORK/got" ||
	hard_error "the completion of faultline-fs did not run"
missing=$(comm -23 "$WORK/want" "$WORK/got" | tr '\n' ' ')
[ -z "$missing" ] || fail "faultline-fs --<TAB> lacks $missing"

# ---- every word offered for an argument is one its parser takes ----
# (in an empty directory, so what is offered is words, not file names)
mkdir "$WORK/empty" || hard_error "cannot make $WORK/empty"
cd "$WORK/empty" || hard_error "cannot enter $WORK/empty"
for cmd in explore states explain audit; do
	case $cmd in
	explore | audit) chk="--check true" ;;
	*) chk="" ;;
	esac
	"$FL" "$cmd" --help | sed -n 's/^  .*\(--[a-z-]*\) [^ ,]*$/\1/p' >"$WORK/args"
	n=0
	while read -r opt; do
		offered "$cmd" t "$opt" "" >"$WORK/words"
		while read -r w; do
			case $w in *:) w=${w}1 ;; esac # bounded:K
			# shellcheck disable=SC2086
			"$FL" "$cmd" "$WORK/none" $chk "$opt" "$w" >/dev/null 2>"$WORK/err" </dev/null
			grep -q "cannot open it" "$WORK/err" ||
				fail "faultline $cmd $opt $w (offered) is refused: $(head -1 "$WORK/err")"
			n=$((n + 1))
		done <"$WORK/words"
	done <"$WORK/args"
	[ $n -ge 3 ] || fail "faultline $cmd: only $n argument words offered"
done
exit 0
