# servers.sh - the checks the tests of scenarios/servers/ share; sourced
# after lib.sh.  A harness run RUN works in $WORK/RUN and printed
# $WORK/RUN.out: one "round R: ... B -> acked A, ..." line per round, and
# "lost: R acked A recovered G state ID replay: CMD" per round that lost
# acknowledged work.

# The sanitizer build: libfuse's own leak of interrupts that servers'
# signals cause is not faultline's (tests/lsan-libfuse.supp says why).
LSAN_OPTIONS="suppressions=$top_srcdir/tests/lsan-libfuse.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export LSAN_OPTIONS

# server_holds NAME RUN: three rounds, each acknowledged something past
# what the one before left, and TRACE/crashes lists the three crashes.
server_holds() {
	[ "$(grep -c '^round ' "$WORK/$2.out")" -eq 3 ] || fail "$1: not three rounds"
	awk '/^round / { if ($7 + 0 <= $4 + 0) bad = 1 } END { exit bad }' "$WORK/$2.out" ||
		fail "$1: a round acknowledged nothing"
	[ "$(wc -l <"$WORK/$2/trace/crashes")" -eq 3 ] || fail "$1: TRACE/crashes lacks a crash"
}

# server_loss_replays NAME RUN: the first loss names its state and the
# command that replays it, and the replay is byte for byte the state the
# crash left (the next epoch's base).
server_loss_replays() {
	line=$(grep '^lost: ' "$WORK/$2.out" | head -n 1)
	round=$(echo "$line" | awk '{ print $2 }')
	id=$(echo "$line" | awk '{ print $8 }')
	[ -n "$id" ] || fail "$1: no state id in: $(echo "$line" | cut -c1-200)"
	# the epoch the round's crash ended (folds start epochs too)
	ep=$(sed -n "${round}p" "$WORK/$2/trace/crashes" | awk '{ print $2 }')
	[ "${line#*replay: }" = "faultline replay $WORK/$2/trace/epoch-$ep $id" ] ||
		fail "$1: the loss does not name its replay: $(echo "$line" | cut -c1-300)"
	"$FL" replay "$WORK/$2/trace/epoch-$ep" "$id" --into "$WORK/replayed" >/dev/null ||
		fail "$1: state $id does not replay"
	diff -r "$WORK/replayed" "$WORK/$2/trace/epoch-$((ep + 1))/base" >/dev/null ||
		fail "$1: the replayed state differs from the one the crash left"
}
