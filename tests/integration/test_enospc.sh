#!/bin/bash
# Disk full: with the store on a 16 MiB tmpfs, writing items eventually
# fails with ENOSPC. Nothing already committed is lost: existing items read
# back exactly, deleting items works, a new write succeeds once space was
# freed, and everything is still there after a remount.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mount_tmpfs "$T/small" 16m
STORE=$T/small/store
start_itemfs
mkdir "$MNT/t"
mkdir "$T/blobs"

step "fill the store with 300 KB items until a write fails"
n=0
err=
for i in $(seq 1 100); do
	head -c 300000 /dev/urandom >"$T/blobs/$i"
	if ! err=$(cp "$T/blobs/$i" "$MNT/t/item$i" 2>&1); then
		n=$i
		break
	fi
done
[ "$n" -gt 0 ] || fail "100 items of 300 KB (30 MB) fit in a store on a 16 MiB tmpfs"
echo "item$n failed: $err"
case "$err" in
*": No space left on device"*) ;;
*) fail "writing item$n on a full disk: expected 'No space left on device', got: $err" ;;
esac
[ "$n" -gt 10 ] || fail "only $((n - 1)) items of 300 KB fit in 16 MiB"
mountpoint -q "$MNT" || fail "the mount is gone after ENOSPC"
running "$ITEMFS_PID" || fail "itemfs died after ENOSPC"

step "existing items read back exactly"
for ((i = 1; i < n; i++)); do
	assert_cmp "$T/blobs/$i" "$MNT/t/item$i"
done

step "another write still fails cleanly; the failed items leave nothing half-written"
expect_fail 1 "No space left on device" cp "$T/blobs/$n" "$MNT/t/again"
for f in "$MNT/t/item$n" "$MNT/t/again"; do
	if [ -e "$f" ] && [ "$(st %s "$f")" -ne 0 ]; then
		assert_cmp "$T/blobs/$n" "$f"
	fi
done

step "deleting items works on a full disk"
run_ok rm -f "$MNT/t/item$n" "$MNT/t/again"
for i in 1 2 3 4 5; do
	run_ok rm "$MNT/t/item$i"
	assert_absent "$MNT/t/item$i"
done

step "a new write succeeds after the deletes"
head -c 300000 /dev/urandom >"$T/blobs/new"
run_ok cp "$T/blobs/new" "$MNT/t/new"
assert_cmp "$T/blobs/new" "$MNT/t/new"
run_ok mkdir "$MNT/t/newdir"

step "after a remount, survivors, deletions and the new item are as left"
restart_itemfs
for ((i = 1; i < n; i++)); do
	if [ "$i" -le 5 ]; then
		assert_absent "$MNT/t/item$i"
	else
		assert_cmp "$T/blobs/$i" "$MNT/t/item$i"
	fi
done
assert_cmp "$T/blobs/new" "$MNT/t/new"
[ -d "$MNT/t/newdir" ] || fail "newdir missing after remount"
assert_absent "$MNT/t/item$n"
stop_itemfs

echo "PASS"
