#!/bin/bash
# The consistency contract (docs/consistency.md) with two mounts of one
# store, each its own daemon: A ($MNT) writes, B ($MNT2) reads.
#  - a write through A is visible through B within B's cache_ttl (plus
#    A's commit_interval, plus slack);
#  - immediately after fsync on B's descriptor, and on an O_DIRECT open;
#  - never half written;
#  - a delete through A leaves B's listing after the TTL, or at once after
#    fsyncdir on B;
#  - consistent_reads: every stat and open is strong;
#  - the counters: itemfs stats (human, --json) and the hidden
#    .itemfs/stats, which readdir never lists; the cache stays in cache_size;
#  - the daemon holds at most max_inodes inodes: the kernel forgets the
#    least recently looked up, and looks them up again, losing nothing.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Items of the cache-churn and max_inodes steps: fewer in a sanitizer build
# (CI's budget), still several times cache_size and max_inodes.
BIG=300 MANY=1500
[ -z "$ASAN_BUILD" ] || BIG=200 MANY=600 # 200 x 8 KiB: still above the 1M cache

# A commits within commit_interval=0.2; B's cache may lag by cache_ttl=1.
start_itemfs -o commit_interval=0.2
start_b -o cache_ttl=1
mkdir "$MNT/t"
printf 'one' >"$MNT/t/x"
"$HELPER" fsync "$MNT/t/x" >/dev/null

step "a write through A becomes visible through B within cache_ttl"
wait_for "B sees the table" 3000 test -e "$MNT2/t/x" >/dev/null
assert_eq one "$(cat "$MNT2/t/x")" "B reads the first version"
assert_eq 3 "$(st %s "$MNT2/t/x")" "B's size of the first version"
printf 'second version' >"$MNT/t/x"
b_sees_second() { [ "$(cat "$MNT2/t/x")" = "second version" ] && [ "$(st %s "$MNT2/t/x")" = 14 ]; }
took=$(wait_for "B sees A's new version (content and size)" 2500 b_sees_second)
echo "B saw the new version after $took ms (bound: commit 200 + ttl 1000 + slack)"

step "a name created through A appears in B (negative entries expire)"
assert_absent "$MNT2/t/new"
ls "$MNT2/t" >/dev/null
printf 'fresh' >"$MNT/t/new"
took=$(wait_for "B sees the new name" 2500 test -e "$MNT2/t/new")
echo "B saw the new name after $took ms"
assert_eq fresh "$(cat "$MNT2/t/new")" "B reads the new item"

step "a create through B of names A made while B held them absent"
# B's kernel may still take the names for absent and send creates: B's
# daemon finds them taken, undoes the requests, then opens A's item (no
# O_EXCL) or says EEXIST (O_EXCL). A's items lose nothing either way.
mkdir "$MNT/late"
"$HELPER" fsync "$MNT/late" >/dev/null
wait_for "B sees the table late" 2500 test -d "$MNT2/late" >/dev/null
assert_absent "$MNT2/late/a"
assert_absent "$MNT2/late/b"
printf 'from A;' >"$MNT/late/a"
printf 'from A' >"$MNT/late/b"
"$HELPER" fsync "$MNT/late/a" >/dev/null
printf 'from B' >>"$MNT2/late/a"
hx EEXIST open "$MNT2/late/b" wronly,creat,excl
assert_eq "from A;from B" "$(cat "$MNT2/late/a")" "B's append to A's new item"
assert_eq "from A" "$(cat "$MNT2/late/b")" "A's item after B's O_EXCL create"
"$HELPER" fsync "$MNT2/late/a" >/dev/null
wait_for "A reads B's append" 2500 sh -c "[ \"\$(cat '$MNT/late/a')\" = 'from A;from B' ]" >/dev/null

step "fsync on B's descriptor forces a strongly consistent read"
readhold_open "$MNT2/t/x"
readhold_do read "second version" "B's descriptor before the change"
printf 'third, longer version' >"$MNT/t/x"
assert_eq OK "$("$HELPER" fsync "$MNT/t/x")" "fsync through A (commits)"
readhold_do read "second version" "B's open descriptor keeps reading its version, whole"
readhold_do fsync OK "fsync of B's read-only descriptor"
readhold_do read "third, longer version" "B's descriptor right after its fsync"
readhold_close

step "an O_DIRECT open reads strongly"
printf 'fourth' >"$MNT/t/x"
"$HELPER" fsync "$MNT/t/x" >/dev/null
assert_eq fourth "$(dd if="$MNT2/t/x" iflag=direct bs=64k status=none)" "O_DIRECT read through B right after A's commit"

step "a delete through A leaves B's listing at once after fsyncdir on B"
for n in d1 d2; do printf "$n" >"$MNT/t/$n"; done
"$HELPER" fsync "$MNT/t" >/dev/null
wait_for "B lists d1 and d2" 2500 sh -c "ls '$MNT2/t' | grep -qx d2" >/dev/null
ls "$MNT2/t" >/dev/null
rm "$MNT/t/d1"
assert_eq OK "$("$HELPER" fsync "$MNT/t")" "fsyncdir through A (commits the delete)"
assert_eq OK "$("$HELPER" fsync "$MNT2/t")" "fsyncdir through B"
assert_eq "d2 new x" "$(ls "$MNT2/t" | tr '\n' ' ' | sed 's/ $//')" "B's listing right after its fsyncdir"

step "... and after the TTL without one"
rm "$MNT/t/d2"
"$HELPER" fsync "$MNT/t" >/dev/null
took=$(wait_for "B's listing drops d2" 2500 sh -c "! ls '$MNT2/t' | grep -qx d2")
echo "B's listing dropped d2 after $took ms"
took=$(wait_for "B's stat of d2 fails" 2500 sh -c "! stat '$MNT2/t/d2' >/dev/null 2>&1")

step "readers through B never see an item half written by A"
stop_itemfs
start_itemfs -o commit_interval=0
head -c 300000 /dev/zero | tr '\0' A >"$T/A"
head -c 250000 /dev/zero | tr '\0' B >"$T/B"
cp "$T/A" "$MNT/t/v"
wait_for "B sees v" 2500 test -s "$MNT2/t/v" >/dev/null
(
	for i in $(seq 1 60); do
		cp "$T/B" "$MNT/t/v"
		cp "$T/A" "$MNT/t/v"
	done
) &
writer=$!
BG_PIDS+=($!)
whole_reads_during "$writer" "$MNT2/t/v" "$T/A" "$T/B"
reads=$READS
wait "$writer" || fail "the writer failed"
echo "$reads whole reads through B during 120 rewrites through A"
stop_b

step "consistent_reads: stat and open through B are strong"
start_b -o consistent_reads,cache_ttl=60
assert_eq 300000 "$(st %s "$MNT2/t/v")" "B's first stat"
cp "$T/B" "$MNT/t/v" # commit_interval=0: committed when cp returns
assert_eq 250000 "$(st %s "$MNT2/t/v")" "B's stat right after A's write"
cmp -s "$T/B" "$MNT2/t/v" || fail "B's read right after A's write is not the new version"
printf 'x' >"$MNT/t/cr"
assert_eq x "$(cat "$MNT2/t/cr")" "a name A just created, through B"
rm "$MNT/t/cr"
assert_absent "$MNT2/t/cr"
stop_b

step "a long cache_ttl really caches: B's stat lags until fsync"
start_b -o cache_ttl=30
assert_eq 250000 "$(st %s "$MNT2/t/v")" "B's stat fills its caches"
cp "$T/A" "$MNT/t/v"
assert_eq 250000 "$(st %s "$MNT2/t/v")" "B's stat within its cache_ttl of 30 s (cached)"
"$HELPER" fsync "$MNT2/t/v" >/dev/null
assert_eq 300000 "$(st %s "$MNT2/t/v")" "B's stat right after fsync through B"
stop_b

step "the hidden .itemfs/stats and itemfs stats"
for i in $(seq 1 20); do printf "item $i" >"$MNT/t/s$i"; done
for i in $(seq 1 20); do cat "$MNT/t/s$i" >/dev/null; done
for i in $(seq 1 20); do cat "$MNT/t/s$i" >/dev/null; done
assert_absent "$MNT/.itemfs/nothing"
ls -a "$MNT" | grep -q itemfs && fail "readdir of the mount lists .itemfs: $(ls -a "$MNT")"
tar -C "$MNT" -cf - . | tar -tf - | grep -q itemfs && fail "tar of the mount picked up .itemfs"
assert_eq "-r--r--r--" "$(st %A "$MNT/.itemfs/stats")" "mode of .itemfs/stats"
grep -q '^page.hits [1-9]' "$MNT/.itemfs/stats" || fail "page.hits did not count: $(cat "$MNT/.itemfs/stats")"
grep -q '^attr.hits [1-9]' "$MNT/.itemfs/stats" || fail "attr.hits did not count"
expect_fail 2 "Permission denied" sh -c "echo x > '$MNT/.itemfs/stats'"
expect_fail 1 "Operation not permitted" mkdir "$MNT/.itemfs/sub"
expect_fail 1 "File exists" mkdir "$MNT/.itemfs"
expect_fail 1 "Operation not permitted" mv "$MNT/t" "$MNT/.itemfs/t"
out=$("$ITEMFS" stats "$MNT") || fail "itemfs stats $MNT: exit $?"
echo "$out" | grep -q '^pages ' || fail "itemfs stats: no pages row: $out"
echo "$out" | grep -q '^negative entries ' || fail "itemfs stats: no negative entries row: $out"
json=$("$ITEMFS" stats "$MNT" --json) || fail "itemfs stats --json: exit $?"
case "$json" in
'{"page":{"hits":'[1-9]*'"attr":{"hits":'*'"listing":{'*'"negative":{'*'"cache":{"budget":67108864,'*'}}') ;;
*) fail "itemfs stats --json: unexpected shape: $json" ;;
esac
rc=0
err=$("$ITEMFS" stats "$T" 2>&1) || rc=$?
assert_eq 1 "$rc" "exit of itemfs stats on a directory that is no mount"
case "$err" in *"is $T an itemfs mount?"*) ;; *) fail "itemfs stats $T: unhelpful error: $err" ;; esac
rc=0
err=$("$ITEMFS" stats 2>&1) || rc=$?
assert_eq 2 "$rc" "exit of itemfs stats without a mountpoint"
case "$err" in "usage: itemfs stats MOUNTPOINT [--json]"*) ;; *) fail "itemfs stats: $err" ;; esac

step "the cache stays within cache_size under churn"
restart_itemfs -o cache_size=1M
head -c 8192 /dev/urandom >"$T/r8k"
for i in $(seq 1 "$BIG"); do cp "$T/r8k" "$MNT/t/big$i"; done
for pass in 1 2; do
	for i in $(seq 1 "$BIG"); do cat "$MNT/t/big$i" >/dev/null; done
done
bytes=$(counter cache.bytes)
budget=$(counter cache.budget)
evictions=$(counter page.evictions)
assert_eq 1048576 "$budget" "cache.budget with cache_size=1M"
[ "$bytes" -le "$budget" ] || fail "cache.bytes $bytes exceeds the budget $budget"
assert_gt "$evictions" 0 "page evictions after reading 2.4 MB through a 1 MiB cache"
cmp -s "$T/r8k" "$MNT/t/big1" || fail "content of an item after eviction"
stop_itemfs

step "at most max_inodes inodes in the daemon; the kernel forgets the rest, nothing is lost"
start_itemfs -o max_inodes=200
mkdir "$MNT/many" "$MNT/many/sub"
for i in $(seq 1 "$MANY"); do printf 'item %d\n' "$i" >"$MNT/many/i$i"; done
echo "in a subdirectory" >"$MNT/many/sub/deep"
exec 7<"$MNT/many/i1" # open: never forgotten while open
before=$(ls -lR --time-style=full-iso "$MNT/many")
for i in $(seq 1 "$MANY"); do
	got=$(cat "$MNT/many/i$i")
	[ "$got" = "item $i" ] || fail "many/i$i reads '$got' after the kernel forgot it"
done
assert_eq "in a subdirectory" "$(cat "$MNT/many/sub/deep")" "many/sub/deep"
assert_eq "$before" "$(ls -lR --time-style=full-iso "$MNT/many")" \
	"ls -lR after the kernel forgot inodes and looked them up again"
read -r got <&7
assert_eq "item 1" "$got" "many/i1 read through a descriptor held open throughout"
exec 7<&-
assert_eq 200 "$(counter inodes.max)" "inodes.max with max_inodes=200"
assert_gt "$(counter inodes.trimmed)" $((MANY - 200)) "inodes trimmed while $MANY items were created, listed and read"
# The kernel's FORGETs come asynchronously: give them a moment.
for ((i = 0; i < 50; i++)); do
	known=$(counter inodes.known)
	[ "$known" -le 200 ] && break
	sleep 0.1
done
[ "$known" -le 200 ] || fail "the daemon holds $known inodes with max_inodes=200"
stop_itemfs
