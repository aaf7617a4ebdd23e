#!/bin/sh
# REQUIRES: fuse, jq, chromium (headless) for the picture
# explain.sh - the per-page map on a real recording: a file written and
# fsynced is durable afterwards and may tear before; its grown region may
# vanish until the fsync; under posix a file whose directory is never
# synced may vanish entirely, under ext4-ordered it is durable after its
# fsync.  The HTML report renders (headless Chromium) to a non-blank PNG.
. "$top_srcdir/tests/lib.sh"
require_fuse
require_cmd jq

"$FL" record -o "$WORK/t" --setup 'head -c 16384 /dev/zero > db && sync' -- sh -c '
	dd if=/dev/urandom of=db bs=4096 count=1 seek=1 conv=notrunc status=none
	dd if=/dev/urandom of=db bs=4096 count=2 seek=4 conv=notrunc status=none
	echo "commit 1" > "$FAULTLINE_MNT/.faultline-ctl"
	dd if=/dev/null of=db conv=notrunc,fsync status=none
	echo "commit 2" > "$FAULTLINE_MNT/.faultline-ctl"
	printf new > fresh && dd if=/dev/null of=fresh conv=notrunc,fsync status=none' \
	>/dev/null 2>&1 || hard_error "record failed"

"$FL" explain "$WORK/t" --model posix --json "$WORK/p.json" --html "$WORK/p.html" >"$WORK/p.txt" ||
	fail "explain exited $?"
# db at commit 1 (before its fsync): page 1, overwritten, may tear; pages 4-5
# grew the file and may vanish (the new size is not durable); 0, 2, 3 durable.
jq -e '.files[] | select(.path == "/db") | .moments[] | select(.at | startswith("mark \"commit 1\""))
       | .pages == ["durable","may-tear","durable","durable","may-vanish","may-vanish"]' \
	"$WORK/p.json" >/dev/null || fail "db at commit 1: $(jq -c '.files[] | select(.path == "/db") | .moments[] | select(.at | startswith("mark \"commit 1\""))' "$WORK/p.json")"
# ... and all durable at commit 2, after the fsync.
jq -e '.files[] | select(.path == "/db") | .moments[] | select(.at | startswith("mark \"commit 2\""))
       | .pages == ["durable","durable","durable","durable","durable","durable"]' \
	"$WORK/p.json" >/dev/null || fail "db not wholly durable at commit 2"
# fresh: its name is never made durable under posix, but its bytes were
# fsynced: if it survives, its page is whole.  ext4-ordered commits the
# name with the fsync.  Before its fsync, the page may vanish either way.
jq -e '.files[] | select(.path == "/fresh") | .moments[-1] | .name == "may-vanish" and
	.pages == ["durable"]' "$WORK/p.json" >/dev/null ||
	fail "posix: fresh at the end: $(jq -c '.files[] | select(.path == "/fresh") | .moments[-1]' "$WORK/p.json")"
grep -q '^  end.* name may-vanish pages 0 durable$' "$WORK/p.txt" ||
	fail "the text table does not say fresh's name may vanish: $(grep '^  end' "$WORK/p.txt")"
jq -e '.files[] | select(.path == "/db") | [.moments[].name] | all(. == "durable")' \
	"$WORK/p.json" >/dev/null || fail "db's name (in the base) is not durable throughout"
"$FL" explain "$WORK/t" --model ext4-ordered --json "$WORK/e.json" >/dev/null || fail "explain ext4"
jq -e '.files[] | select(.path == "/fresh") | .moments[-1] | .name == "durable" and
	.pages == ["durable"]' "$WORK/e.json" >/dev/null ||
	fail "ext4-ordered: fresh should be durable at the end"
for j in p e; do
	jq -e '.files[] | select(.path == "/fresh") | .moments[] | select(.at | startswith("before"))
	       | .pages == ["may-vanish"]' "$WORK/$j.json" >/dev/null ||
		fail "$j: fresh's page before its fsync: $(jq -c '.files[] | select(.path == "/fresh") | .moments' "$WORK/$j.json")"
done
grep -q "may-tear" "$WORK/p.txt" || fail "the text table lacks may-tear"
# The HTML: self-contained, one cell per page and moment, every class named.
grep -q '<script' "$WORK/p.html" && fail "the report carries a script"
grep -q 'http' "$WORK/p.html" && fail "the report reaches for the network"
cells=$(grep -o '<td class="may-tear"' "$WORK/p.html" | wc -l)
[ "$cells" -ge 2 ] || fail "the heat map shows $cells may-tear cells"

# The engines: naive mmapstore overwrites pages 0 (meta) and 2 (table) in
# place and grows the file: before the msync's barrier those may tear and
# the new page may vanish.  The correct one's meta page is durable once
# msynced (at the commit's mark).
M="$top_builddir/scenarios/engines/mmapstore"
"$FL" record -o "$WORK/naive" --setup "$M init" -- "$M" run 3 --bug naive >/dev/null 2>&1 ||
	hard_error "record naive mmapstore"
"$FL" explain "$WORK/naive" --model posix --json "$WORK/n.json" >/dev/null || fail "explain naive"
jq -e '.files[] | select(.path == "/store.db") | [.moments[] | select(.at | startswith("before"))][0]
       | .pages == ["may-tear","durable","may-tear","may-vanish"]' "$WORK/n.json" >/dev/null ||
	fail "naive mmapstore before its msync: $(jq -c '.files[0].moments[0]' "$WORK/n.json")"
"$FL" record -o "$WORK/good" --setup "$M init" -- "$M" run 3 >/dev/null 2>&1 ||
	hard_error "record mmapstore"
"$FL" explain "$WORK/good" --model posix --json "$WORK/g.json" >/dev/null || fail "explain good"
jq -e '.files[] | select(.path == "/store.db") | .moments[] | select(.at | startswith("mark \"commit 1\""))
       | .pages[0] == "durable"' "$WORK/g.json" >/dev/null ||
	fail "mmapstore: the committed meta page is not durable at its mark"
jq -e '[.files[] | select(.path == "/store.db") | .moments[] | select(.at | startswith("before"))
        | .pages[0]] | index("may-tear") != null' "$WORK/g.json" >/dev/null ||
	fail "mmapstore: the meta page never shows may-tear before its msync"

# The picture, when a browser is here to draw it.
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || skip "chromium is not installed: the HTML was checked, not rendered"
shot() {
	"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$WORK/profile" --window-size=900,700 --screenshot="$2" "$1" \
		>/dev/null 2>&1
}
printf '<html><body></body></html>' >"$WORK/blank.html"
shot "file://$WORK/blank.html" "$WORK/blank.png"
shot "file://$WORK/p.html" "$WORK/p.png"
[ -s "$WORK/p.png" ] || fail "chromium produced no screenshot"
b=$(stat -c %s "$WORK/blank.png")
p=$(stat -c %s "$WORK/p.png")
[ "$p" -gt $((b * 3)) ] || fail "the rendered report looks blank ($p bytes vs $b for a blank page)"
exit 0
