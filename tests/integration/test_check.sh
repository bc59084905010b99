#!/bin/bash
# itemfs check: a store filled through the mount (cp -a of a tree, a hard
# link, symlinks, xattrs) checks clean with exact counts, in words and in
# JSON; the check also works while the store is mounted, and sees what the
# mount committed; an item whose stored data byte is flipped is named by
# its path (table/dir/item) with exit status 1; a directory that is not a
# store, or bad arguments, exit 2 with a message that says what to do.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# check ARGS...: runs `itemfs check ARGS`; sets OUT (stdout), ERR (stderr)
# and RC (the exit status). stderr is a file, not a terminal: no progress.
check() {
	RC=0
	OUT=$("$ITEMFS" check "$@" 2>"$T/check.err") || RC=$?
	ERR=$(cat "$T/check.err")
}

step "a tree outside the mount: 4 items (20015 bytes), 4 directories, 2 symlinks"
src=$T/src
mkdir -p "$src/ledger/2024" "$src/ledger/2025" "$src/other"
printf alpha >"$src/ledger/2024/a.txt"
head -c 20000 /dev/urandom >"$src/ledger/2024/victim.bin"
: >"$src/ledger/2025/empty"
printf 0123456789 >"$src/other/ten"
ln -s ../2024/a.txt "$src/ledger/2025/link"
ln -s victim.bin "$src/ledger/2024/vlink"

step "copy it in with cp -a; add a hard link and xattrs"
start_itemfs
cp -a "$src/ledger" "$src/other" "$MNT/"
ln "$MNT/ledger/2024/a.txt" "$MNT/other/a-hardlink"
setfattr -n user.color -v red "$MNT/ledger/2024/a.txt"
setfattr -n user.kind -v table "$MNT/ledger"
victim=$(st %i "$MNT/ledger/2024/victim.bin")
assert_cmp "$src/ledger/2024/victim.bin" "$MNT/ledger/2024/victim.bin"
stop_itemfs
store_abs=$(realpath "$STORE")

step "the clean store: exit 0, exact counts (root + 4 directories, 4 items, 2 symlinks)"
check "$STORE"
assert_eq 0 "$RC" "exit status of check on a clean store ($OUT $ERR)"
assert_eq "itemfs check: $store_abs: 11 inodes (4 items, 5 directories, 2 symlinks), 20.0 kB of item data: clean" \
	"$OUT" "summary"
assert_eq "" "$ERR" "stderr (not a terminal: no progress)"

step "--json: one object with the exact counts"
check "$STORE" --json
assert_eq 0 "$RC" "exit status of check --json"
assert_eq "{\"store\": \"$store_abs\", \"inodes\": 11, \"items\": 4, \"directories\": 5, \"symlinks\": 2, \"bytes\": 20015, \"problems\": [], \"clean\": true}" \
	"$OUT" "JSON report"
assert_eq 1 "$(printf '%s\n' "$OUT" | wc -l)" "lines of JSON"

step "--quiet on a clean store prints nothing"
check --quiet "$STORE"
assert_eq 0 "$RC" "exit status of check --quiet"
assert_eq "" "$OUT$ERR" "output of check --quiet"

step "while mounted: the check reads one snapshot of what the mount committed"
start_itemfs
printf 12345 >"$MNT/other/new"
sync "$MNT/other/new" || fail "sync (fsync) of $MNT/other/new failed"
check "$STORE"
assert_eq 0 "$RC" "exit status of check while mounted ($OUT $ERR)"
assert_eq "itemfs check: $store_abs: 12 inodes (5 items, 5 directories, 2 symlinks), 20.0 kB of item data: clean" \
	"$OUT" "summary while mounted"
check "$STORE" --json
assert_eq 0 "$RC" "exit status of check --json while mounted"
case "$OUT" in
*'"inodes": 12, "items": 5, "directories": 5, "symlinks": 2, "bytes": 20020, "problems": [], "clean": true}') ;;
*) fail "JSON while mounted: $OUT" ;;
esac
assert_eq 12345 "$(cat "$MNT/other/new")" "the mount still serves after a check"
assert_eq alpha "$(cat "$MNT/other/a-hardlink")" "hard link after a check"
stop_itemfs

step "flip one data byte of ledger/2024/victim.bin (inode $victim): exit 1, named by its path"
out=$("$HELPER" flip "$STORE" "$victim" $((8 + 4321)) 2>&1) || fail "flip a data byte: $out"
check "$STORE"
assert_eq 1 "$RC" "exit status of check on a damaged store"
assert_eq "ledger/2024/victim.bin (inode $victim): data checksum mismatch
itemfs check: $store_abs: 12 inodes (5 items, 5 directories, 2 symlinks), 20.0 kB of item data: 1 problem" \
	"$OUT" "report of a damaged store"
check "$STORE" --json
assert_eq 1 "$RC" "exit status of check --json on a damaged store"
assert_eq "{\"store\": \"$store_abs\", \"inodes\": 12, \"items\": 5, \"directories\": 5, \"symlinks\": 2, \"bytes\": 20020, \"problems\": [{\"ino\": $victim, \"path\": \"ledger/2024/victim.bin\", \"problem\": \"data checksum mismatch\"}], \"clean\": false}" \
	"$OUT" "JSON report of a damaged store"
check -q "$STORE"
assert_eq 1 "$RC" "exit status of check -q on a damaged store"
assert_eq "ledger/2024/victim.bin (inode $victim): data checksum mismatch" "$OUT" "check -q output"

step "a directory that is not a store: exit 2, naming the path and the fix"
mkdir "$T/notastore"
printf x >"$T/notastore/file"
before=$(ls -la "$T/notastore")
check "$T/notastore"
assert_eq 2 "$RC" "exit status of check on a non-store"
assert_eq "" "$OUT" "stdout of check on a non-store"
case "$ERR" in
*"itemfs check: $(realpath "$T")/notastore is not an itemfs store; give the STORE_DIR the store was mounted from"*) ;;
*) fail "message for a non-store: $ERR" ;;
esac
assert_eq "$before" "$(ls -la "$T/notastore")" "the non-store directory is untouched"
check "$T/absent"
assert_eq 2 "$RC" "exit status of check on a missing directory"
case "$ERR" in
*"$T/absent does not exist"*) ;;
*) fail "message for a missing directory: $ERR" ;;
esac

step "usage errors: exit 2"
check
assert_eq 2 "$RC" "exit status of check without STORE_DIR"
case "$ERR" in
*"usage: itemfs check STORE_DIR [--json] [--quiet]"*) ;;
*) fail "usage message: $ERR" ;;
esac
check "$STORE" --frobnicate
assert_eq 2 "$RC" "exit status of check with an unknown option"
case "$ERR" in
*"unknown option '--frobnicate'"*) ;;
*) fail "message for an unknown option: $ERR" ;;
esac

step "corrupt B-tree pages: exit 1 with a message, never a crash"
# LMDB abort()s on some damaged pages (Assertion 'IS_LEAF(mp)' failed in
# mdb_cursor_next, when a cursor steps onto a sibling that is not a leaf);
# the checker must report that as damage. Make a store whose directory
# B-tree has several leaves, then, one page at a time in a fresh copy, mark
# a leaf page holding these names a branch page (page header: pgno u64,
# pad u16, flags u16 at byte 10; P_BRANCH 0x01, P_LEAF 0x02). Freed
# copies of pages stay on disk and change nothing (exit 0); live ones must
# give exit 1 (or 2, "cannot open", for a page opening reads), and at least
# one must be the abort LMDB cannot survive.
DMG=$T/damaged
DMNT=$T/dmnt
mkdir -p "$DMNT"
"$ITEMFS" mount "$DMG" "$DMNT" -f >>"$LOG" 2>&1 &
dpid=$!
for ((i = 0; i < 400; i++)); do
	mountpoint -q "$DMNT" && break
	sleep 0.05
done
mountpoint -q "$DMNT" || fail "mount of $DMG failed: $(cat "$LOG")"
mkdir "$DMNT/t"
for i in $(seq 1 400); do : >"$DMNT/t/an-item-with-a-long-enough-name-$i"; done
fusermount3 -u "$DMNT"
wait "$dpid" || fail "the daemon of $DMG exited with status $?"
pages=$(($(stat -c %s "$DMG/data.mdb") / 4096))
tried=0 damaged=0 aborted=0
for ((p = 2; p < pages; p++)); do
	[ "$(od -An -tx1 -j $((p * 4096 + 10)) -N2 "$DMG/data.mdb" | tr -d ' ')" = 0200 ] || continue
	dd if="$DMG/data.mdb" bs=4096 skip=$p count=1 status=none | grep -aq an-item-with || continue
	rm -rf "$T/dmg1" && mkdir -m 0700 "$T/dmg1" && cp "$DMG/data.mdb" "$T/dmg1/"
	printf '\001\000' | dd of="$T/dmg1/data.mdb" bs=1 seek=$((p * 4096 + 10)) conv=notrunc status=none
	check "$T/dmg1"
	tried=$((tried + 1))
	case "$RC" in
	0) ;;
	1)
		damaged=$((damaged + 1))
		case "$ERR" in
		*"itemfs check: $T/dmg1: the store is damaged"*) ;;
		*) fail "page $p: message for a corrupt B-tree page: $ERR" ;;
		esac
		case "$ERR" in *"LMDB stopped on a corrupt page"*) aborted=$((aborted + 1)) ;; esac
		;;
	2) # damaged where opening reads (the main DB): refused, not crashed
		case "$ERR" in
		*"itemfs check: "*"cannot open"*) damaged=$((damaged + 1)) ;;
		*) fail "page $p: check exited 2 without saying it cannot open the store: $ERR" ;;
		esac
		;;
	*) fail "page $p: check exited $RC on a corrupt B-tree page (a crash?): $ERR" ;;
	esac
done
echo "$tried leaf pages tried: $damaged reported damaged, $aborted of them through LMDB's abort"
assert_gt "$damaged" 0 "corrupt pages reported"
assert_gt "$aborted" 0 "corrupt pages on which LMDB aborts, reported"

echo "PASS"
