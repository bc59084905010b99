#!/bin/bash
# Items change atomically (PutItem semantics): while one process has an
# item open for writing, every other opener sees the previous version,
# whole; the new version appears at close (or fsync), whole. Concurrent
# readers never see a mix of two versions. Readers use the page cache
# unless a writer of the item had to wait for page-cache readers lately.
#
# The writers are `itest_helper hold` processes, not `exec 3>file` in this
# shell: every command substitution forks a child that inherits fd 3 and
# closes it on exit, and each close of a descriptor sends FUSE a flush,
# which commits the file.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
start_itemfs
mkdir "$MNT/t"
D=$MNT/t

step "O_TRUNC and partial writes are invisible to other openers until close"
printf 'old version' >"$D/f"
hold w "$D/f" trunc
assert_eq "old version" "$(cat "$D/f")" "content seen by another process after the writer's O_TRUNC open"
hold_do w write part
assert_eq "old version" "$(cat "$D/f")" "content seen by another process during the write"
hold_do w write " two"
assert_eq "old version" "$(cat "$D/f")" "content seen by another process after a second write"
hold_do w close
assert_eq "part two" "$(cat "$D/f")" "content after the writer closed"
assert_eq 8 "$(st %s "$D/f")" "size after the writer closed"

step "appends too"
hold w "$D/f" append
hold_do w write " +tail"
assert_eq "part two" "$(cat "$D/f")" "content seen by another process during an append"
hold_do w close
assert_eq "part two +tail" "$(cat "$D/f")" "content after the appender closed"

step "an O_RDWR writer overwrites in place, invisibly until close"
hold w "$D/f" rdwr
hold_do w write PART
assert_eq "part two +tail" "$(cat "$D/f")" "content seen by another process during an O_RDWR write"
hold_do w close
assert_eq "PART two +tail" "$(cat "$D/f")" "content after the O_RDWR writer closed"

step "fsync publishes the new version before close"
printf 'before' >"$D/g"
hold w "$D/g" trunc
hold_do w write "after fsync"
assert_eq before "$(cat "$D/g")" "content before the writer's fsync"
hold_do w fsync
assert_eq "after fsync" "$(cat "$D/g")" "content seen by another process after the writer's fsync"
hold_do w close
assert_eq "after fsync" "$(cat "$D/g")" "content after close"

step "a new item is empty to others until its creator closes it"
hold w "$D/new" trunc
hold_do w write fresh
assert_exists "$D/new"
assert_eq "" "$(cat "$D/new")" "content of a new item while its creator writes"
hold_do w close
assert_eq fresh "$(cat "$D/new")" "content after the creator closed"

step "two writers: each version is whole; the last to close wins"
printf 'zero' >"$D/w"
hold a "$D/w" trunc
hold b "$D/w" trunc
hold_do a write "first writer"
hold_do b write second
assert_eq zero "$(cat "$D/w")" "content while two writers hold the file"
hold_do a close
assert_eq "first writer" "$(cat "$D/w")" "content after the first writer closed"
hold_do b close
assert_eq second "$(cat "$D/w")" "content after the second writer closed"

step "a reader that opened before a new version reads one version, whole"
printf 'version one' >"$D/r"
exec 4<"$D/r"
printf 'version two!' >"$D/r"
got=$(cat <&4)
exec 4<&-
case "$got" in
"version one" | "version two!") ;;
*) fail "read through a descriptor opened before the new version: expected 'version one' or 'version two!', got '$got'" ;;
esac
assert_eq "version two!" "$(cat "$D/r")" "a new opener sees the new version"

step "readers never see a mix of two versions"
head -c 300000 /dev/zero | tr '\0' A >"$T/A"
head -c 250000 /dev/zero | tr '\0' B >"$T/B"
cp "$T/A" "$D/v"
(
	for i in $(seq 1 150); do
		cp "$T/B" "$D/v"
		cp "$T/A" "$D/v"
	done
) &
writer=$!
BG_PIDS+=($!)
whole_reads_during "$writer" "$D/v" "$T/A" "$T/B"
reads=$READS
wait "$writer" || fail "the writer loop failed"
echo "$reads consistent reads during 300 rewrites"
assert_cmp "$T/A" "$D/v"

step "an item rewritten while no one reads it keeps the page cache; after a writer waited, direct I/O"
printf 'one' >"$D/pc"
printf 'two' >"$D/pc" # rewritten, no reader open: no writer waits
c0=$(counter files.open_cached) d0=$(counter files.open_direct)
for i in 1 2 3; do assert_eq two "$(cat "$D/pc")" "read $i of the rewritten item"; done
assert_eq $((c0 + 3)) "$(counter files.open_cached)" "page-cache opens of an item rewritten with no reader open"
assert_eq "$d0" "$(counter files.open_direct)" "direct opens of an item rewritten with no reader open"
exec 5<"$D/pc" # a page-cache reader, open while the next writer opens
(
	exec 5<&-
	printf 'three' >"$D/pc"
) &
writer=$!
BG_PIDS+=($!)
sleep 0.5
exec 5<&- # the writer, waiting for it, goes on
wait "$writer" || fail "the writer that waited for a reader failed"
d1=$(counter files.open_direct)
assert_eq three "$(cat "$D/pc")" "the item after the writer that waited"
assert_eq $((d1 + 1)) "$(counter files.open_direct)" "a reader right after a writer waited uses direct I/O"

step "after a writer waited a moment for a reader, the page cache again soon"
# The reader closes as soon as the writer is seen waiting: a wait of a few
# milliseconds, so readers use direct I/O for 100 times that, well under
# 3 s (5 s is for waits of 50 ms or more, as above).
printf 'one' >"$D/pc2"
w0=$(counter files.writer_waits)
exec 5<"$D/pc2"
(
	exec 5<&-
	printf 'two' >"$D/pc2"
) &
writer=$!
BG_PIDS+=($!)
for i in $(seq 1 2000); do
	[ "$(counter files.writer_waits)" -gt "$w0" ] && break
	sleep 0.002
done
exec 5<&-
assert_eq $((w0 + 1)) "$(counter files.writer_waits)" "writers that waited for a page-cache reader"
wait "$writer" || fail "the writer that waited for a reader failed"
sleep 3 # within the 5 s of a long wait, past the 100 times of a short one
c1=$(counter files.open_cached)
assert_eq two "$(cat "$D/pc2")" "the item after the writer that waited a moment"
assert_eq $((c1 + 1)) "$(counter files.open_cached)" "a reader 3 s after a writer waited a moment uses the page cache"

stop_itemfs
echo "PASS"
