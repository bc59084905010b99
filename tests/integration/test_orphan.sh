#!/bin/bash
# Orphans: an item whose last name goes while the mount still holds it is
# kept, as POSIX keeps it, until its last reference goes.
#  - An open racing `mv tmp name` (the usual atomic replace) gets the old
#    item or the new one, whole, and never ENOENT: 10,000 replacements under
#    4 readers (RACE_CYCLES: 500 in a sanitizer build; 25,107 ENOENT of
#    69,824 opens before orphans).
#  - An item unlinked while open stays readable, and fstat, fchmod and
#    futimens work through the descriptor; it is freed at close.
#  - After kill -9, `itemfs check` accepts the listed orphan, and the next
#    mount that has the store to itself frees it.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# inodes: the store's inode count, from itemfs check (mount or not).
inodes() {
	"$ITEMFS" check "$STORE" --json | sed -n 's/.*"inodes": *\([0-9]*\).*/\1/p'
}

# commit: statfs commits the mount's pending batch (syncfs does not reach FUSE 3.14).
commit() {
	stat -f "$MNT" >/dev/null
}

start_itemfs
mkdir "$MNT/t"

CYCLES=${RACE_CYCLES:-10000}
step "$CYCLES rename-over cycles with 4 readers: no ENOENT, no torn read"
out=$("$HELPER" renamerace "$MNT/t" "$CYCLES" 4) || fail "renamerace: $out"
echo "$out"
assert_eq "enoent=0 torn=0 other=0" "$(echo "$out" | grep -o 'enoent=.*')" "renamerace"
LAST=$(printf 'version %08d' "$CYCLES")
assert_eq "$LAST" "$(head -n 1 "$MNT/t/item")" "the last version"
commit
assert_eq 3 "$(inodes)" "inodes after the race (root, t, item): every replaced one freed"

step "unlinked while open: readable, fstat/fchmod/futimens work, freed at close"
printf 'still here' >"$MNT/t/u"
exec 7<"$MNT/t/u"
rm "$MNT/t/u"
assert_absent "$MNT/t/u"
assert_eq "still here" "$(cat <&7)" "read through the descriptor after unlink"
assert_eq "0 10" "$(stat -L -c '%h %s' /dev/fd/7)" "fstat: nlink 0, size"
# /dev/fd/7 names the open (unlinked) file itself: chmod, touch and stat
# through it reach the orphan, as fchmod, futimens and fstat would.
run_ok chmod 640 /dev/fd/7
run_ok touch -m -d @1700000000.987654321 /dev/fd/7
assert_eq "640 0 1700000000.987654321" "$(stat -L -c '%a %h %.9Y' /dev/fd/7)" "chmod, touch after unlink"
assert_eq "still here" "$(cat /dev/fd/7)" "open again through /dev/fd after unlink"
commit
assert_eq 4 "$(inodes)" "inodes while the unlinked item is open"
exec 7<&-
for ((i = 0; i < 100; i++)); do
	commit
	[ "$(inodes)" = 3 ] && break
	sleep 0.05
done
assert_eq 3 "$(inodes)" "inodes once it is closed and forgotten"

step "kill -9 with an orphan open: check accepts it, the next mount frees it"
printf 'held' >"$MNT/t/o"
sync "$MNT/t/o"
exec 7<"$MNT/t/o"
rm "$MNT/t/o"
commit
assert_eq 4 "$(inodes)" "inodes with the orphan"
kill -9 "$ITEMFS_PID"
wait "$ITEMFS_PID" 2>/dev/null || true
ITEMFS_PID=
exec 7<&-
fusermount3 -uz "$MNT" 2>/dev/null || umount -l "$MNT"
run_ok "$ITEMFS" check "$STORE"
"$ITEMFS" check "$STORE" | grep -q ': clean$' || fail "check after kill -9: $("$ITEMFS" check "$STORE")"
assert_eq 4 "$(inodes)" "inodes after kill -9: the orphan is still listed"
start_itemfs
assert_eq 3 "$(inodes)" "inodes after the next mount: the orphan is freed"
grep -q "freed 1 item a crash left unlinked" "$LOG" || fail "no log line for the reaped orphan"
assert_eq "$LAST" "$(head -n 1 "$MNT/t/item")" "the item after the remount"
stop_itemfs
run_ok "$ITEMFS" check "$STORE"
echo "3 passed, 0 failed"
