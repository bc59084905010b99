#!/bin/bash
# Group commit, seen from outside the mount: a change that was not fsynced
# reaches the store (where another process sees it) within commit_interval;
# fsync and fsyncdir (coreutils `sync FILE` calls fsync(2) on FILE) make
# it durable at once; SIGTERM and SIGINT commit
# everything before the daemon exits; a kill -9 loses at most the
# uncommitted batch, whole, and never what fsync acknowledged.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

step "bad commit_interval values are refused, naming the option"
expect_fail 2 "bad value 'soon' for mount option commit_interval: give seconds from 0 to 3600, e.g. commit_interval=1" \
	"$ITEMFS" mount "$STORE" "$MNT" -o commit_interval=soon
expect_fail 2 "bad value '-1' for mount option commit_interval: give seconds from 0 to 3600, e.g. commit_interval=1" \
	"$ITEMFS" mount "$STORE" "$MNT" -o commit_interval=-1

step "a change is in the store within commit_interval (2 s), not before it is due"
start_itemfs -o commit_interval=2
mkdir "$MNT/t"
printf one >"$MNT/t/a"
sleep 0.3
assert_eq "<absent>" "$(committed t/a)" "store content 0.3 s after the write (batch not yet due)"
sleep 2.2
assert_eq one "$(committed t/a)" "store content 2.5 s after the write"

step "fsync makes a change durable at once"
printf two >"$MNT/t/b"
sync "$MNT/t/b" || fail "sync (fsync) of $MNT/t/b failed"
assert_eq two "$(committed t/b)" "store content right after fsync"

step "fsyncdir too (an unlink)"
rm "$MNT/t/a"
sync "$MNT/t" || fail "sync (fsync) of the directory failed"
assert_eq "<absent>" "$(committed t/a)" "store content after unlink + fsyncdir"
stop_itemfs

for sig in TERM INT; do
	step "SIG$sig commits everything before the daemon exits"
	start_itemfs -o commit_interval=3600
	printf "by-$sig" >"$MNT/t/s"
	kill -"$sig" "$ITEMFS_PID"
	wait_exit "$ITEMFS_PID" 10 || fail "itemfs still running 10 s after SIG$sig"
	wait "$ITEMFS_PID" || true
	ITEMFS_PID=
	mountpoint -q "$MNT" && fusermount3 -u "$MNT"
	assert_eq "by-$sig" "$(committed t/s)" "store content after SIG$sig"
done

step "kill -9 loses the uncommitted batch whole, keeps what fsync acknowledged"
start_itemfs -o commit_interval=3600
printf kept >"$MNT/t/k"
sync "$MNT/t/k" || fail "sync (fsync) of $MNT/t/k failed"
printf lost >"$MNT/t/l"
mv "$MNT/t/k" "$MNT/t/k2"
kill_itemfs
assert_eq kept "$(committed t/k)" "the fsynced item after kill -9"
assert_eq "<absent>" "$(committed t/l)" "an item of the lost batch"
assert_eq "<absent>" "$(committed t/k2)" "the rename of the lost batch"
echo "1 passed, 0 failed"
