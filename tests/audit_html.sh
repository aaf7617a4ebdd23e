#!/bin/sh
# REQUIRES: fuse, jq, xmllint, chromium (headless)
# audit_html.sh - faultline audit --html, read back the way a browser reads
# it: headless Chromium loads the page and dumps the document it built,
# and the assertions run on that document.  The matrix must be the JSON's
# cell for cell; each failing cell must link to a section holding its
# causes (the JSON's, in order); the verdict must link to the failing cell
# it cites; and the replay command printed for each cause, run as a user
# would paste it, must rebuild a state that fails its check.  The page
# lives in a directory whose name holds a space and a quote, and the
# checker prints markup, so quoting and escaping are tested too.
. "$top_srcdir/tests/lib.sh"
require_fuse
require_cmd jq
require_cmd xmllint
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || skip "chromium is not installed"
SC="$top_srcdir/scenarios"
E="$top_builddir/scenarios/engines"
export FAULTLINE_SCENARIO_BUILDDIR="$top_builddir/scenarios"
PATH="$top_builddir/src:$PATH" # the page's replay commands call faultline
export PATH

# dom PAGE OUT: the document Chromium builds from PAGE.
dom() {
	timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-quic \
		--no-first-run --disable-background-networking --disable-component-update \
		--disable-sync --user-data-dir="$WORK/profile" --dump-dom "file://$1" \
		>"$2" 2>/dev/null
	[ -s "$2" ] || hard_error "chromium dumped no document for $1"
}
x() { xmllint --html --xpath "$1" "$2" 2>/dev/null; }

# check_page JSON DOM: the page's matrix, links and causes against the JSON.
check_page() {
	j=$1 d=$2
	[ "$(x 'count(//table[@class="matrix"]/tbody/tr/td)' "$d")" = 18 ] ||
		fail "the page's matrix does not have 18 cells"
	[ "$(x 'count(//script)' "$d")" = 0 ] || fail "the page holds a script element"
	i=0
	while [ $i -lt 18 ]; do
		ord=$(jq -r ".cells[$i].ordering" "$j")
		dev=$(jq -r ".cells[$i].device" "$j")
		holds=$(jq -r ".cells[$i].holds" "$j")
		td="//td[@data-ordering='$ord' and @data-device='$dev']"
		cls=$(x "string($td/@class)" "$d")
		case "$holds $cls" in
		"true pass"*) ;;
		"false fail"*)
			[ "$(x "string($td/a/@href)" "$d")" = "#cell-$ord-$dev" ] ||
				fail "$ord/$dev: the failing cell does not link to its section"
			sec="//section[@id='cell-$ord-$dev']"
			jq -r ".cells[$i].causes[:20][] | .kind // \"\"" "$j" >"$WORK/kinds"
			got=$(x "count($sec//li[@class='cause'])" "$d")
			[ "$got" -eq "$(wc -l <"$WORK/kinds")" ] ||
				fail "$ord/$dev: $got causes on the page, $(wc -l <"$WORK/kinds") in the JSON"
			k=1
			while read -r kind; do
				[ "$(x "string(($sec//li[@class='cause'])[$k]//b[@class='kind'])" "$d")" = "$kind" ] ||
					fail "$ord/$dev: cause $k is not '$kind'"
				k=$((k + 1))
			done <"$WORK/kinds"
			;;
		*) fail "$ord/$dev: holds=$holds in the JSON, class '$cls' on the page" ;;
		esac
		i=$((i + 1))
	done
	# The verdict links to a failing cell, and says what the JSON says.
	v=$(x 'string(//p[@id="verdict"]/a/@href)' "$d")
	[ -n "$v" ] && [ "$(x "count(//section[@id='${v#\#}'])" "$d")" = 1 ] ||
		fail "the verdict links to '$v', not to a failing cell's section"
	[ "$(x 'string(//p[@id="verdict"])' "$d")" = "$(jq -r .verdict "$j")" ] ||
		fail "the page's verdict is not the JSON's"
	[ "$(x 'count(//td[contains(@class,"claimed")])' "$d")" = 1 ] ||
		fail "the claimed cell is not marked once"
}

# replay_all DOM: runs the first replay command of each failing cell's
# section, pasted into sh; each must rebuild its state and fail the check.
replay_all() {
	n=$(x 'count(//section)' "$1")
	[ "$n" -gt 0 ] || fail "no failing cell to replay"
	s=1
	while [ "$s" -le "$n" ]; do
		cmd=$(x "string((//section)[$s]//pre[@class='replay'])" "$1")
		rm -rf "$WORK/rp" && mkdir "$WORK/rp"
		(cd "$WORK/rp" && sh -c "$cmd") >"$WORK/rp.out" 2>&1
		rc=$?
		[ $rc -eq 1 ] || fail "replay from the page: exit $rc, want 1 (the state fails): $cmd: $(head -c 800 "$WORK/rp.out")"
		[ -d "$WORK/rp/replayed" ] || fail "replay from the page built nothing: $cmd"
		s=$((s + 1))
	done
}

D="$WORK/o'dd dir"
mkdir -p "$D" || hard_error "mkdir"

# ---- a scenario: one small O_DSYNC meta-page write, no checksum ----
"$FL" audit "$SC/cowtree-meta-dsync-nocrc.ini" --no-progress --html "$D/p.html" \
	--json "$D/p.json" >"$WORK/p.out" 2>&1
rc=$?
[ $rc -eq 1 ] || fail "audit: exit $rc, want 1: $(head -c 1500 "$WORK/p.out")"
[ -d "$D/p.trace" ] || fail "the scenario's recording was not kept beside the page"
jq -e --arg t "$D/p.trace" '.recording == $t' "$D/p.json" >/dev/null ||
	fail "JSON recording: $(jq -c .recording "$D/p.json")"
dom "$D/p.html" "$WORK/p.dom"
check_page "$D/p.json" "$WORK/p.dom"
replay_all "$WORK/p.dom"

# ---- the kept trace, with a checker that prints markup ----
cat >"$D/check it.sh" <<EOF
#!/bin/sh
echo '<script>alert(1)</script> & "quoted" <b>'
exec "$E/cowtree" check --bug meta-nocrc
EOF
chmod +x "$D/check it.sh"
"$FL" audit "$D/p.trace" --check "\"$D/check it.sh\"" --claims posix,sector-atomic --no-progress \
	--html "$WORK/q.html" --json "$WORK/q.json" >"$WORK/q.out" 2>&1
rc=$?
[ $rc -eq 0 ] || fail "audit --claims posix,sector-atomic: exit $rc, want 0: $(head -c 1500 "$WORK/q.out")"
[ ! -e "$WORK/q.trace" ] || fail "auditing a TRACE made a copy of it"
dom "$WORK/q.html" "$WORK/q.dom"
check_page "$WORK/q.json" "$WORK/q.dom"
x 'string((//pre[@class="output"])[1])' "$WORK/q.dom" |
	grep -qF '<script>alert(1)</script> & "quoted" <b>' ||
	fail "the checker's output is not shown as text"
[ "$(x 'string(//td[contains(@class,"claimed")]/@data-device)' "$WORK/q.dom")" = sector-atomic ] ||
	fail "the claimed cell is not posix/sector-atomic"
replay_all "$WORK/q.dom"

# ---- the picture is not blank ----
"$browser" --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
	--disable-component-update --disable-sync --user-data-dir="$WORK/profile" \
	--window-size=1000,800 --screenshot="$WORK/q.png" "file://$WORK/q.html" >/dev/null 2>&1
printf '<html><body></body></html>' >"$WORK/blank.html"
"$browser" --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
	--disable-component-update --disable-sync --user-data-dir="$WORK/profile" \
	--window-size=1000,800 --screenshot="$WORK/blank.png" "file://$WORK/blank.html" >/dev/null 2>&1
[ -s "$WORK/q.png" ] && [ "$(stat -c %s "$WORK/q.png")" -gt $(($(stat -c %s "$WORK/blank.png") * 3)) ] ||
	fail "the rendered page looks blank"

# ---- usage ----
"$FL" audit "$D/p.trace" --check true --keep-trace "$WORK/k" 2>"$WORK/u.err"
rc=$?
[ $rc -eq 2 ] && [ "$(wc -l <"$WORK/u.err")" -eq 1 ] || fail "--keep-trace with a TRACE: exit $rc"
exit 0
