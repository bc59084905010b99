#!/bin/bash
# Item expiry (docs/dynamodb.md, "TTL"): user.itemfs.expires holds the
# second (since the epoch) from which an item is expired. From then on it
# is absent by name in every mount (stat, ls, cat, rm, ln see nothing; a
# create, mv or condition treats its name as free), a descriptor opened
# before reads on, and the daemon deletes it in the background (ttl.*
# counters, `itemfs check` clean, the inode gone). The attribute is an
# ordinary listed xattr: bad values are EINVAL, tar --xattrs carries it,
# removing it cancels the expiry. Two read-write mounts reaping one store
# delete each item once. A kill -9 loses neither the expiry nor the reclaim.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# until_second S: returns once the clock has reached second S.
until_second() {
	while (($(date +%s) < $1)); do sleep 0.05; done
}

# before_second S WHAT: fails if second S has come (the test was too slow to show WHAT).
before_second() {
	(($(date +%s) < $1)) || fail "too slow: second $1 came before $2 was checked"
}

expires() { setfattr -n user.itemfs.expires -v "$2" -- "$1"; }
names() { getfattr --absolute-names -m - -- "$1" | grep -v '^#' | grep . || true; }
inodes() { "$ITEMFS" check "$STORE" --json | sed -n 's/.*"inodes": *\([0-9]*\).*/\1/p'; }
# commit: statfs commits the mount's pending batch.
commit() { stat -f "$1" >/dev/null; }
counter_of() { sed -n "s/^$2 //p" "$1/.itemfs/stats"; }
check_clean() {
	"$ITEMFS" check "$STORE" | grep -q ': clean$' || fail "$1: $("$ITEMFS" check "$STORE")"
}
listed() { ls -a "$1" | grep -qx -- "$2"; }

start_itemfs
mkdir "$MNT/t"
D=$MNT/t

step "bad values are EINVAL and change nothing; only regular files take it"
printf data >"$D/v"
for bad in '' 0 01 -1 +1 ' 1' '1 ' 1x 1.5 0x10 9223372036854775808 99999999999999999999; do
	expect_fail 1 "Invalid argument" setfattr -n user.itemfs.expires -v "$bad" "$D/v"
done
expect_fail 1 "Invalid argument" setfattr -n user.itemfs.expires -v $'4000000000\n' "$D/v"
assert_eq "" "$(names "$D/v")" "attributes of v after the refused values"
mkdir "$D/dir"
expect_fail 1 "Invalid argument" setfattr -n user.itemfs.expires -v 4000000000 "$D/dir"
ln -s v "$D/link"
expect_fail 1 "Operation not permitted" setfattr -h -n user.itemfs.expires -v 4000000000 "$D/link"
hx OK setxattr "$D/v" user.itemfs.expires 9223372036854775807 create
hx EEXIST setxattr "$D/v" user.itemfs.expires 4000000000 create

step "an ordinary attribute: listed, read back, counted towards the item size"
expires "$D/v" 4000000000
assert_eq user.itemfs.expires "$(names "$D/v")" "listed attributes of v"
assert_eq 4000000000 "$(getfattr --absolute-names --only-values -n user.itemfs.expires "$D/v")" \
	"value of user.itemfs.expires"
# name (1) + data + "user.itemfs.expires" (19) + "4000000000" (10) <= 409,600
run_ok sh_c 'head -c 409570 /dev/zero >"$1"' "$D/v"
expect_fail 1 "File too large" sh_c 'head -c 409571 /dev/zero >"$1"' "$D/v"
assert_eq 409570 "$(st %s "$D/v")" "size of v at the limit"
printf data >"$D/v"
assert_eq data "$(cat "$D/v")" "v, expiring in 2096, is there"

step "removing the attribute before the time keeps the item"
t=$(($(date +%s) + 2))
printf kept >"$D/r"
expires "$D/r" "$t"
setfattr -x user.itemfs.expires "$D/r"
until_second $((t + 1))
assert_eq kept "$(cat "$D/r")" "r after its cancelled expiry"
assert_eq "" "$(names "$D/r")" "attributes of r"

step "an expiry in the past hides at once; name operations see the name as free"
past=$(($(date +%s) - 10))
printf gone >"$D/p"
expires "$D/p" "$past"
expect_fail 1 "No such file or directory" stat "$D/p"
expect_fail 1 "No such file or directory" cat "$D/p"
listed "$D" p && fail "ls lists the expired p"
for n in q m e l c k s; do
	printf "old $n" >"$D/$n"
	expires "$D/$n" "$past"
done
expect_fail 1 "No such file or directory" rm "$D/q"
expect_fail 1 "No such file or directory" ln "$D/l" "$D/l2"
expect_fail 1 "No such file or directory" setfattr -x user.itemfs.expires "$D/l"
printf new >"$D/m.tmp"
run_ok mv "$D/m.tmp" "$D/m"
assert_eq new "$(cat "$D/m")" "m after mv over its expired item"
assert_eq "" "$(names "$D/m")" "attributes of the new m"
run_ok sh_c 'set -o noclobber; printf fresh >"$1"' "$D/e"
assert_eq fresh "$(cat "$D/e")" "e after an O_EXCL create over its expired item"
printf staged >"$D/c.tmp"
setfattr -n user.itemfs.if_version -v absent "$D/c.tmp"
run_ok mv "$D/c.tmp" "$D/c"
assert_eq staged "$(cat "$D/c")" "c after a conditional put-if-absent over its expired item"
hx OK rename "$D/e" "$D/q" noreplace
assert_eq fresh "$(cat "$D/q")" "q after renameat2(RENAME_NOREPLACE) over its expired item"
run_ok ln "$D/v" "$D/k"
assert_eq data "$(cat "$D/k")" "k, a link to v made over its expired item"
run_ok mkdir "$D/s"
[ -d "$D/s" ] || fail "s is not a directory after a mkdir over its expired item"
wait_for "the expired items reclaimed" 5000 sh -c "[ \"\$(sed -n 's/^ttl.reclaimed //p' '$MNT/.itemfs/stats')\" -ge 2 ]" >/dev/null
commit "$MNT"
# root, t, v (also k), dir, link, r, m, c, q, s: p and l reclaimed, the replaced ones freed
wait_for "only the live inodes left" 5000 sh -c "[ \"\$('$ITEMFS' check '$STORE' --json | sed -n 's/.*\"inodes\": *\([0-9]*\).*/\1/p')\" = 10 ]" >/dev/null
check_clean "check after the reclaim"

step "names in two directories: hidden, left for the names' reuse, logged once"
mkdir "$D/d1" "$D/d2"
printf two >"$D/d1/h"
ln "$D/d1/h" "$D/d2/h2"
expires "$D/d1/h" "$past"
expect_fail 1 "No such file or directory" stat "$D/d1/h"
expect_fail 1 "No such file or directory" stat "$D/d2/h2"
wait_for "the reaper gives up on h" 5000 grep -q "expired, but has names outside directory" "$LOG" >/dev/null
commit "$MNT"
check_clean "check with the hidden hard links"
printf one >"$D/d1/h"
printf two >"$D/d2/h2"
assert_eq "one two" "$(cat "$D/d1/h") $(cat "$D/d2/h2")" "new items at both names"
commit "$MNT"
wait_for "the old item freed" 5000 sh -c "[ \"\$('$ITEMFS' check '$STORE' --json | sed -n 's/.*\"inodes\": *\([0-9]*\).*/\1/p')\" = 14 ]" >/dev/null
check_clean "check after reusing both names"
[ "$(grep -c "expired, but has names outside directory" "$LOG")" = 1 ] || fail "the give-up is not logged once"
stop_itemfs

step "a future expiry, seen by a second (read-only) mount; an open descriptor reads on"
start_itemfs
start_b -o ro -o cache_ttl=0.2
printf hello >"$D/a"
printf other >"$D/keep"
mkdir "$MNT/t2" # B does not list it after the expiry is set
printf early >"$MNT/t2/early"
commit "$MNT"
wait_for "B sees early" 3000 test -e "$MNT2/t2/early" >/dev/null
exec 9<"$MNT2/t2/early" # B's kernel caches this name for a day, before any expiry
t=$(($(date +%s) + 5))
expires "$D/a" "$t"
expires "$MNT/t2/early" "$t"
commit "$MNT"
# B's first lookup of a comes after B's cache_ttl: it knows the expiry, and
# its kernel gets an entry that ends then (see docs/dynamodb.md on names
# another mount's kernel cached before it learnt of an expiry).
sleep 0.5
wait_for "B sees the expiry" 3000 sh -c "[ \"\$(getfattr --absolute-names --only-values -n user.itemfs.expires '$MNT2/t/a' 2>/dev/null)\" = $t ]" >/dev/null
assert_eq hello "$(cat "$D/a")" "A's cat before the time"
assert_eq 5 "$(st %s "$D/a")" "A's stat before the time"
listed "$D" a || fail "A's ls does not list a before its time"
assert_eq hello "$(cat "$MNT2/t/a")" "B's cat before the time"
assert_eq 5 "$(st %s "$MNT2/t/a")" "B's stat before the time"
listed "$MNT2/t" a || fail "B's ls does not list a before its time"
exec 8<"$MNT2/t/a"
before_second "$t" "the item before its expiry"
inodes_with=$(inodes)
stop_itemfs # B alone, read-only: nothing reclaims it
until_second "$t"
expect_fail 1 "No such file or directory" stat "$MNT2/t/a"
expect_fail 1 "No such file or directory" cat "$MNT2/t/a"
listed "$MNT2/t" a && fail "B's ls lists the expired a"
listed "$MNT2/t" keep || fail "B's ls lost keep"
assert_eq hello "$(cat <&8)" "B's descriptor opened before the expiry"
exec 8<&-
# B's kernel still has the name of early from before B knew of its expiry,
# and B has it open: a stat by that name may be answered from the open file
# once, then the name is gone (docs/dynamodb.md).
wait_for "B's kernel forgets early" 2000 sh -c "! stat '$MNT2/t2/early' >/dev/null 2>&1" >/dev/null
expect_fail 1 "No such file or directory" stat "$MNT2/t2/early"
assert_eq early "$(cat <&9)" "B's descriptor of early, opened before its expiry was set"
exec 9<&-
assert_gt "$(counter_of "$MNT2" ttl.hidden)" 0 "B's ttl.hidden"
assert_eq 0 "$(counter_of "$MNT2" ttl.reclaimed)" "B's ttl.reclaimed (read-only)"
check_clean "check with the expired item pending"
assert_eq "$inodes_with" "$(inodes)" "inodes while nothing reclaims it"

step "the next read-write mount reclaims it"
start_itemfs
expect_fail 1 "No such file or directory" stat "$D/a"
wait_for "A reclaims a and early" 5000 sh -c "[ \"\$(sed -n 's/^ttl.reclaimed //p' '$MNT/.itemfs/stats')\" = 2 ]" >/dev/null
assert_eq 0 "$(counter_of "$MNT" ttl.pending)" "A's ttl.pending after the reclaim"
"$ITEMFS" stats "$MNT" | grep -qx "ttl: [0-9]* expired items hidden, 2 reclaimed, 0 pending" ||
	fail "itemfs stats: $("$ITEMFS" stats "$MNT" | grep ttl)"
"$ITEMFS" stats "$MNT" --json | grep -q '"ttl": *{[^}]*"reclaimed": *2' ||
	fail "itemfs stats --json: $("$ITEMFS" stats "$MNT" --json)"
commit "$MNT"
assert_eq $((inodes_with - 2)) "$(inodes)" "inodes after the reclaim (a and early)"
check_clean "check after the reclaim"
expect_fail 1 "No such file or directory" stat "$MNT2/t/a"
stop_b

step "tar --xattrs of the table into a fresh store keeps the expiry"
printf 'lives long' >"$D/long"
expires "$D/long" 4102444800
run_ok tar --format=posix --xattrs --xattrs-include='user.*' -cf "$T/t.tar" -C "$D" long v
stop_itemfs
STORE_A=$STORE
STORE=$T/store2
start_itemfs
mkdir "$MNT/u"
run_ok tar --format=posix --xattrs --xattrs-include='user.*' -xf "$T/t.tar" -C "$MNT/u"
assert_eq 4102444800 "$(getfattr --absolute-names --only-values -n user.itemfs.expires "$MNT/u/long")" \
	"expiry of the restored long"
assert_eq 4000000000 "$(getfattr --absolute-names --only-values -n user.itemfs.expires "$MNT/u/v")" \
	"expiry of the restored v"
assert_eq 'lives long' "$(cat "$MNT/u/long")" "restored long"
commit "$MNT"
check_clean "check of the restored store (its expiry index included)"
stop_itemfs
STORE=$STORE_A

step "two read-write mounts reap together: every item once, nothing else"
start_itemfs
start_b
mkdir "$D/many"
for i in $(seq 1 20); do printf "item $i" >"$D/many/i$i"; done
printf stays >"$D/many/stays"
commit "$MNT"
before=$(inodes)
t=$(($(date +%s) + 2))
for i in $(seq 1 20); do expires "$D/many/i$i" "$t"; done
commit "$MNT"
until_second "$t"
both() { echo $(($(counter_of "$MNT" ttl.reclaimed) + $(counter_of "$MNT2" ttl.reclaimed))); }
wait_for "20 items reclaimed by A and B together" 8000 sh -c "[ \$(( \$(sed -n 's/^ttl.reclaimed //p' '$MNT/.itemfs/stats') + \$(sed -n 's/^ttl.reclaimed //p' '$MNT2/.itemfs/stats') )) = 20 ]" >/dev/null
sleep 1.5 # a reaper that would delete something twice has had its chance
assert_eq 20 "$(both)" "items reclaimed by A and B"
assert_eq stays "$(cat "$MNT2/t/many/stays")" "the item without an expiry, through B"
assert_eq stays "$(ls "$D/many")" "A's listing of many"
commit "$MNT"
commit "$MNT2"
assert_eq $((before - 20)) "$(inodes)" "inodes after both mounts reaped"
check_clean "check after two reapers"
stop_b
stop_itemfs

step "kill -9 with an expiry set and an expired item pending: hidden, then reclaimed"
start_itemfs -o commit_interval=0
printf due >"$D/k0"
printf soon >"$D/k1"
printf late >"$D/k2"
t0=$(($(date +%s) + 2))
t=$((t0 + 2))
expires "$D/k0" "$t0"
expires "$D/k1" "$t"
expires "$D/k2" 4000000000
commit "$MNT"
before=$(inodes)
before_second "$t0" "stopping the daemon"
kill -STOP "$ITEMFS_PID" # k0 expires with nobody to reap it
until_second "$t0"
kill_itemfs
check_clean "check after kill -9"
assert_eq "$before" "$(inodes)" "inodes after kill -9: k0 still pending"
until_second "$t"
start_itemfs -o ro # no reaper: k0 and k1 must be hidden, not just gone
expect_fail 1 "No such file or directory" stat "$D/k0"
expect_fail 1 "No such file or directory" stat "$D/k1"
assert_eq late "$(cat "$D/k2")" "k2 after kill -9"
assert_eq 4000000000 "$(getfattr --absolute-names --only-values -n user.itemfs.expires "$D/k2")" \
	"k2's expiry after kill -9"
stop_itemfs
start_itemfs
wait_for "k0 and k1 reclaimed after the crash" 5000 sh -c "[ \"\$(sed -n 's/^ttl.reclaimed //p' '$MNT/.itemfs/stats')\" = 2 ]" >/dev/null
commit "$MNT"
assert_eq $((before - 2)) "$(inodes)" "inodes after the reclaim"
assert_eq late "$(cat "$D/k2")" "k2 after the reclaim"
stop_itemfs
check_clean "check at the end"
echo "ttl: all passed"
