#!/bin/bash
# An item whose last name goes while the mount still holds it (a lookup a
# process is about to open, an open file) lives on, as POSIX says: an open
# racing a rename that replaces the name gets the old item, never ENOENT;
# an unlinked open file stays readable. The store lists such orphans, so
# after a crash the next mount frees them, and `itemfs check` accepts them.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

inodes() { # the store's inode count, from `itemfs check --json`
	local out
	out=$("$ITEMFS" check --json "$STORE") || fail "itemfs check $STORE: exit $?: $out"
	sed -n 's/.*"inodes": *\([0-9]*\).*/\1/p' <<<"$out"
}

start_itemfs
mkdir "$MNT/t"
D=$MNT/t

step "readers racing rename-over never see ENOENT (write-then-rename)"
printf v0 >"$D/f"
(
	for i in $(seq 1 400); do
		printf "v$i" >"$D/.f.tmp"
		mv "$D/.f.tmp" "$D/f"
	done
) &
writer=$!
BG_PIDS+=("$writer")
reads=0 errors=0
while kill -0 "$writer" 2>/dev/null; do
	if ! out=$(cat "$D/f" 2>&1); then
		errors=$((errors + 1))
		echo "read $reads failed: $out" >&2
	fi
	reads=$((reads + 1))
done
wait "$writer" || fail "the rename loop failed"
echo "$reads reads during 400 renames, $errors failed"
assert_eq 0 "$errors" "reads that failed while the name was replaced"
assert_eq v400 "$(cat "$D/f")" "content after the last rename"

step "an unlinked file stays readable through its descriptor, and is freed at close"
printf kept >"$D/g"
exec 4<"$D/g"
rm "$D/g"
assert_absent "$D/g"
assert_eq kept "$(cat <&4)" "read through the descriptor after unlink"
exec 4<&-
stop_itemfs
before=$(inodes)
"$ITEMFS" check "$STORE" >/dev/null || fail "itemfs check after a clean unmount: not clean"

step "after a crash, orphans are accepted by check and freed by the next mount"
start_itemfs
printf held >"$D/h"
exec 4<"$D/h"
rm "$D/h"
sync "$D" # commit the unlink: the store now lists h's inode as an orphan
kill -9 "$ITEMFS_PID"
wait "$ITEMFS_PID" 2>/dev/null || true
ITEMFS_PID=
exec 4<&-
fusermount3 -uz "$MNT" 2>/dev/null || umount -l "$MNT"
with_orphan=$(inodes)
assert_eq $((before + 1)) "$with_orphan" "inodes after the crash (the orphan is kept)"
start_itemfs
stop_itemfs
assert_eq "$before" "$(inodes)" "inodes after the next mount (the orphan is freed)"
grep -q "freed 1 items left unlinked by a crash" "$LOG" || fail "no log line for the reaped orphan: $(cat "$LOG")"
echo "1 passed, 0 failed"
