#!/bin/bash
# Secondary index views (docs/dynamodb.md, "Secondary indexes"): mkdir
# .itemfs/index/TABLE/ATTR declares an index of TABLE on user.ATTR; the
# view lists one directory per value and one symlink per item, and follows
# every change of the items in the same commit: new values, removexattr,
# rm, mv inside and between tables, a table removed. Through the real
# mount with ls, find -L, readlink, cat; bad input with exact errnos;
# across a remount and in a second mount; `itemfs check` clean; tar of the
# mount leaves .itemfs out; expired items are not listed.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# listing DIR: the names in DIR, one line, space-separated, in listing order
listing() { ls -f -- "$1" | grep -vx '\.\|\.\.' | tr '\n' ' ' || true; }
check_clean() {
	"$ITEMFS" check "$STORE" | grep -q ': clean$' || fail "$1: $("$ITEMFS" check "$STORE")"
}
commit() { stat -f "$1" >/dev/null; }

start_itemfs
mkdir "$MNT/users" "$MNT/users/sub" "$MNT/other"
U=$MNT/users
I=$MNT/.itemfs/index/users/color
printf alice >"$U/alice"
printf bob >"$U/bob"
printf carol >"$U/sub/carol"
printf dave >"$U/dave" # no colour
setfattr -n user.color -v red "$U/alice"
setfattr -n user.color -v blue "$U/bob"
setfattr -n user.color -v red "$U/sub/carol"

step "the index directory lists the tables; no index yet"
assert_eq "index stats streams txn " "$(listing "$MNT/.itemfs")"
assert_eq "other users" "$(ls "$MNT/.itemfs/index" | tr '\n' ' ' | sed 's/ $//')"
assert_eq "" "$(listing "$MNT/.itemfs/index/users")"
assert_absent "$I"

step "mkdir declares and builds it over the existing items (sub-directories too)"
mkdir "$I"
assert_eq "color " "$(listing "$MNT/.itemfs/index/users")"
assert_eq "blue red " "$(listing "$I")"
assert_eq "alice sub%2Fcarol " "$(listing "$I/red")"
assert_eq "../../../../../users/alice" "$(readlink "$I/red/alice")"
assert_eq "../../../../../users/sub/carol" "$(readlink "$I/red/sub%2Fcarol")"
assert_eq "alicecarol" "$(cat "$I"/red/*)"
assert_eq "lrwxrwxrwx 26" "$(stat -c '%A %s' "$I/red/alice")"
assert_eq "dr-xr-xr-x" "$(stat -c '%A' "$I/red")"
got=$(cd "$MNT/.itemfs/index" && find -L . -type f | sort | tr '\n' ' ')
assert_eq "./users/color/blue/bob ./users/color/red/alice ./users/color/red/sub%2Fcarol " "$got"

step "a new value moves the item; removexattr and rm drop it"
setfattr -n user.color -v blue "$U/alice"
assert_eq "alice bob " "$(listing "$I/blue")"
assert_eq "sub%2Fcarol " "$(listing "$I/red")"
setfattr -x user.color "$U/bob"
assert_eq "alice " "$(listing "$I/blue")"
rm "$U/sub/carol"
assert_eq "blue " "$(listing "$I")"
assert_absent "$I/red"

step "mv updates the link; a move to another table leaves the index"
mv "$U/alice" "$U/sub/alice2"
assert_eq "sub%2Falice2 " "$(listing "$I/blue")"
assert_eq "alice" "$(cat "$I/blue/sub%2Falice2")"
assert_absent "$I/blue/alice"
mv "$U/sub/alice2" "$MNT/other/alice"
assert_eq "" "$(listing "$I")"
mv "$MNT/other/alice" "$U/alice"
assert_eq "alice " "$(listing "$I/blue")"

step "values are escaped: / % NUL-free, . and .., empty"
printf e >"$U/e1"
printf e >"$U/e2"
printf e >"$U/e3"
setfattr -n user.color -v 'a/b%' "$U/e1"
setfattr -n user.color -v '..' "$U/e2"
setfattr -n user.color -v '' "$U/e3"
assert_eq "% %2E%2E a%2Fb%25 blue " "$(listing "$I")"
assert_eq "e1 " "$(listing "$I/a%2Fb%25")"
assert_eq "e2 " "$(listing "$I/%2E%2E")"
assert_eq "e3 " "$(listing "$I/%")"
assert_absent "$I/a%2fb%25" # one spelling per value
rm "$U/e1" "$U/e2" "$U/e3"

step "bad input: exact errnos, nothing changes"
expect_fail 1 "No such file or directory" mkdir "$MNT/.itemfs/index/nope/color"
expect_fail 1 "Invalid argument" mkdir "$MNT/.itemfs/index/users/itemfs.x"
expect_fail 1 "File exists" mkdir "$I"
expect_fail 1 "Operation not permitted" mkdir "$MNT/.itemfs/index/newtable"
expect_fail 1 "Operation not permitted" mkdir "$I/blue/x"
expect_fail 1 "Operation not permitted" touch "$I/x"
expect_fail 1 "Operation not permitted" rm "$I/blue/alice"
expect_fail 1 "Operation not permitted" ln -s x "$I/blue/y"
expect_fail 1 "Operation not permitted" mv "$I/blue/alice" "$I/blue/z"
expect_fail 1 "Operation not permitted" rmdir "$I/blue"
expect_fail 1 "No such file or directory" rmdir "$MNT/.itemfs/index/users/size"
expect_fail 1 "Argument list too long" \
	setfattr -n user.color -v "$(head -c 241 /dev/zero | tr '\0' v)" "$U/alice"
run_ok setfattr -n user.color -v "$(head -c 240 /dev/zero | tr '\0' v)" "$U/dave"
assert_eq "blue $(head -c 240 /dev/zero | tr '\0' v) " "$(listing "$I")"
setfattr -x user.color "$U/dave"
assert_eq "blue" "$(getfattr --only-values -n user.color "$U/alice")"
assert_eq "alice " "$(listing "$I/blue")"

step "across a remount, check clean, counters"
commit "$MNT"
check_clean "after the changes"
restart_itemfs
assert_eq "alice " "$(listing "$I/blue")"
assert_eq "alice" "$(cat "$I/blue/alice")"
assert_gt "$(counter index.lookups)" 0 index.lookups
assert_gt "$(counter index.listings)" 0 index.listings
"$ITEMFS" stats "$MNT" | grep -q '^index: [0-9]* lookups, [0-9]* listings' ||
	fail "itemfs stats: no index line: $("$ITEMFS" stats "$MNT")"

step "a second mount sees the index and its changes"
start_b -o cache_ttl=0.2
assert_eq "alice " "$(listing "$MNT2/.itemfs/index/users/color/blue")"
setfattr -n user.color -v green "$U/alice"
commit "$MNT"
wait_for "B sees green" 5000 test -L "$MNT2/.itemfs/index/users/color/green/alice" >/dev/null
assert_absent "$MNT2/.itemfs/index/users/color/blue"
mkdir "$MNT2/.itemfs/index/other/color"
commit "$MNT2"
wait_for "A sees B's index" 5000 test -d "$MNT/.itemfs/index/other/color" >/dev/null
stop_b

step "tar of the mount leaves .itemfs out"
tar -C "$MNT" -cf "$T/m.tar" .
if tar -tf "$T/m.tar" | grep -q itemfs; then
	fail "tar holds .itemfs: $(tar -tf "$T/m.tar" | grep itemfs | head -3)"
fi

step "expired items are not listed"
printf x >"$U/gone"
setfattr -n user.color -v green "$U/gone"
assert_eq "alice gone " "$(listing "$I/green")"
setfattr -n user.itemfs.expires -v 1 "$U/gone" 2>/dev/null ||
	setfattr -n user.itemfs.expires -v "$(($(date +%s) - 1))" "$U/gone"
assert_eq "alice " "$(listing "$I/green")"

step "rmdir drops the index; a removed table drops its indexes"
rmdir "$I"
assert_absent "$I"
assert_eq "" "$(listing "$MNT/.itemfs/index/users")"
rmdir "$MNT/.itemfs/index/other/color"
mkdir "$MNT/.itemfs/index/other/size"
rmdir "$MNT/other"
mkdir "$MNT/other"
assert_eq "" "$(listing "$MNT/.itemfs/index/other")"
commit "$MNT"
check_clean "at the end"
stop_itemfs
check_clean "after unmount"
