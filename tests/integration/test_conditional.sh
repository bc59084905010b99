#!/bin/bash
# Conditional writes (docs/dynamodb.md): every item's version token
# user.itemfs.version ("INO:VERSION", read-only, never listed, never
# copied), and user.itemfs.if_version, which makes a rename (stored on the
# staged file) or a descriptor's commit (set by the process that has the
# item open for writing) conditional on the token its writer read: a
# condition that no longer holds fails with ECANCELED and changes nothing.
# Two concurrent read-modify-write loops that retry on ECANCELED lose no
# increment: optimistic locking.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
start_itemfs
mkdir "$MNT/t"
D=$MNT/t

# tok PATH: the version token of PATH.
tok() {
	getfattr --absolute-names --only-values -n user.itemfs.version -- "$1"
}
# cond PATH VALUE: stages the condition VALUE on PATH.
cond() {
	setfattr -n user.itemfs.if_version -v "$2" -- "$1"
}
# names PATH: every listed xattr name of PATH, one per line.
names() {
	getfattr --absolute-names -m - -- "$1" | grep -v '^#' | grep . || true
}

step "the token is INO:VERSION and changes with every new version of the data"
printf one >"$D/a"
t1=$(tok "$D/a")
[[ $t1 =~ ^[1-9][0-9]*:[1-9][0-9]*$ ]] || fail "token of a: '$t1' is not INO:VERSION"
assert_eq "$(st %i "$D/a")" "${t1%%:*}" "inode number in the token"
assert_eq 0 "$(getfattr --absolute-names --only-values -n user.itemfs.version "$D/a" | tr -d '0-9:' | wc -c)" \
	"bytes of the token other than digits and the colon (no newline)"
printf two >"$D/a"
t2=$(tok "$D/a")
assert_eq "${t1%%:*}:$((${t1#*:} + 1))" "$t2" "token after a rewrite"
printf more >>"$D/a"
t3=$(tok "$D/a")
assert_eq "${t1%%:*}:$((${t1#*:} + 2))" "$t3" "token after an append"
truncate -s 2 "$D/a"
t4=$(tok "$D/a")
assert_eq "${t1%%:*}:$((${t1#*:} + 3))" "$t4" "token after truncate"
chmod 600 "$D/a"
touch -d @1000000000 "$D/a"
setfattr -n user.color -v red "$D/a"
assert_eq "$t4" "$(tok "$D/a")" "token after chmod, touch, setfattr (metadata only)"
assert_eq tw "$(cat "$D/a")" "content of a"

step "replacing an item by rename gives its name a different token (no ABA)"
printf one >"$D/b"
printf uno >"$D/b.new"
tb=$(tok "$D/b")
tn=$(tok "$D/b.new")
assert_eq "${tb#*:}" "${tn#*:}" "version numbers of two items written once (a bare version would be ABA)"
mv "$D/b.new" "$D/b"
assert_eq "$tn" "$(tok "$D/b")" "token at b after the rename: the new item's"
assert_ne "$tb" "$(tok "$D/b")" "token at b after the rename"

step "never listed, read-only, the user.itemfs. prefix reserved"
assert_eq user.color "$(names "$D/a")" "listed names of a (user.itemfs.version is not listed)"
assert_eq "" "$(names "$D/b")" "listed names of b"
expect_fail 1 "Operation not permitted" setfattr -n user.itemfs.version -v "$t4" "$D/a"
expect_fail 1 "Operation not permitted" setfattr -x user.itemfs.version "$D/a"
assert_eq "$t4" "$(tok "$D/a")" "token after the refused set"
expect_fail 1 "Invalid argument" setfattr -n user.itemfs.other -v 1 "$D/a"
expect_fail 1 "No such attribute" getfattr --absolute-names -n user.itemfs.other "$D/a"
expect_fail 1 "No such attribute" setfattr -x user.itemfs.other "$D/a"
for bad in '' 1 1: :1 1:0 0:1 01:2 1:02 ' 1:2' '1:2 ' 1:2:3 x:1 1:x ABSENT absent. \
	18446744073709551616:1; do
	expect_fail 1 "Invalid argument" setfattr -n user.itemfs.if_version -v "$bad" "$D/a"
done
hx OK setxattr "$D/a" user.itemfs.if_version 18446744073709551615:18446744073709551615 none
setfattr -x user.itemfs.if_version "$D/a"
mkdir "$D/dir"
expect_fail 1 "No such attribute" getfattr --absolute-names -n user.itemfs.version "$D/dir"
expect_fail 1 "Invalid argument" setfattr -n user.itemfs.if_version -v absent "$D/dir"
expect_fail 1 "No such attribute" getfattr --absolute-names -n user.itemfs.version "$MNT/.itemfs/stats"
ln -s a "$D/link"
expect_fail 1 "No such attribute" getfattr --absolute-names -h -n user.itemfs.version "$D/link"
assert_eq "$t4" "$(tok "$D/link")" "token through a symlink (followed)"
assert_eq user.color "$(names "$D/a")" "names after the refused sets"

step "conditional rename: the token still holds"
printf 'version 1' >"$D/item"
t=$(tok "$D/item")
printf 'version 2' >"$D/item.tmp"
cond "$D/item.tmp" "$t"
assert_eq "$t" "$(getfattr --absolute-names --only-values -n user.itemfs.if_version "$D/item.tmp")" "the staged condition"
assert_eq "" "$(names "$D/item.tmp")" "listed names of the staged file (the condition is not listed)"
ti=$(tok "$D/item.tmp")
mv "$D/item.tmp" "$D/item"
assert_eq 'version 2' "$(cat "$D/item")" "item after the conditional rename"
assert_absent "$D/item.tmp"
assert_eq "$ti" "$(tok "$D/item")" "token of item: the moved file's"
expect_fail 1 "No such attribute" getfattr --absolute-names -n user.itemfs.if_version "$D/item"
assert_eq "" "$(names "$D/item")" "listed names of the item"
assert_eq "" "$(getfattr --absolute-names -d -m - "$D/item" 2>&1)" "getfattr -d -m - of the item"

step "conditional rename: the token no longer holds: ECANCELED, nothing changes"
printf 'version 3' >"$D/item.tmp"
cond "$D/item.tmp" "$t" # the token of version 1, replaced above
cp -p "$D/item" "$T/item.before"
cp -p "$D/item.tmp" "$T/tmp.before"
expect_fail 1 "Operation canceled" mv "$D/item.tmp" "$D/item"
hx ECANCELED rename "$D/item.tmp" "$D/item" none
hx ECANCELED rename "$D/item.tmp" "$D/item.other" none # absent is not a token's item
assert_cmp "$T/item.before" "$D/item"
assert_cmp "$T/tmp.before" "$D/item.tmp"
assert_eq "$ti" "$(tok "$D/item")" "token of the item after the refused renames"
assert_eq "$t" "$(getfattr --absolute-names --only-values -n user.itemfs.if_version "$D/item.tmp")" \
	"the staged file keeps its condition"
assert_absent "$D/item.other"
step "... a condition on either side of RENAME_EXCHANGE: EINVAL"
hx EINVAL rename "$D/item.tmp" "$D/item" exchange
hx EINVAL rename "$D/item" "$D/item.tmp" exchange
assert_cmp "$T/item.before" "$D/item"
assert_cmp "$T/tmp.before" "$D/item.tmp"
step "... removing the condition makes it an ordinary rename again"
setfattr -x user.itemfs.if_version "$D/item.tmp"
mv "$D/item.tmp" "$D/item"
assert_eq 'version 3' "$(cat "$D/item")" "item after the unconditional rename"

step "put if absent: if_version=absent"
printf fresh >"$D/new.tmp"
cond "$D/new.tmp" absent
mv "$D/new.tmp" "$D/new"
assert_eq fresh "$(cat "$D/new")" "new after the absent-conditioned rename"
assert_eq "" "$(names "$D/new")" "listed names of new"
expect_fail 1 "No such attribute" getfattr --absolute-names -n user.itemfs.if_version "$D/new"
printf second >"$D/new.tmp"
cond "$D/new.tmp" absent
expect_fail 1 "Operation canceled" mv "$D/new.tmp" "$D/new"
assert_eq fresh "$(cat "$D/new")" "new after the refused rename"
assert_eq second "$(cat "$D/new.tmp")" "the staged file after the refused rename"
step "... and the put-if-absent system calls: O_EXCL, RENAME_NOREPLACE; mv -n does not fail"
hx EEXIST open "$D/new" wronly,creat,excl
hx EEXIST rename "$D/new.tmp" "$D/new" noreplace
assert_eq fresh "$(cat "$D/new")" "new after O_EXCL and RENAME_NOREPLACE"
setfattr -x user.itemfs.if_version "$D/new.tmp"
run_ok mv -n "$D/new.tmp" "$D/new"
assert_eq fresh "$(cat "$D/new")" "new after mv -n (skipped, exit 0)"
rm "$D/new.tmp"

step "ABA: A replaced by B by rename; a writer holding A's token fails"
printf 'A' >"$D/aba"
tA=$(tok "$D/aba")
printf 'B' >"$D/aba.b"
mv "$D/aba.b" "$D/aba" # B: a different item, with the same version number
assert_eq "${tA#*:}" "$(tok "$D/aba" | cut -d: -f2)" "version numbers of A and B"
printf 'A2' >"$D/aba.tmp"
cond "$D/aba.tmp" "$tA"
expect_fail 1 "Operation canceled" mv "$D/aba.tmp" "$D/aba"
assert_eq B "$(cat "$D/aba")" "aba after the writer of A's token"
rm "$D/aba.tmp"

step "conditional write through an open descriptor"
printf 'd1' >"$D/desc"
td=$(tok "$D/desc")
hx OK condwrite "$D/desc" "$td" d2
assert_eq d2 "$(cat "$D/desc")" "desc after a conditional write that holds"
assert_eq "" "$(names "$D/desc")" "listed names of desc (the condition was never stored)"
expect_fail 1 "No such attribute" getfattr --absolute-names -n user.itemfs.if_version "$D/desc"
td2=$(tok "$D/desc")
assert_ne "$td" "$td2" "token after the conditional write"
cp -p "$D/desc" "$T/desc.before"
hx ECANCELED condwrite "$D/desc" "$td" d3        # close(2) reports it
assert_cmp "$T/desc.before" "$D/desc"
hx ECANCELED condwrite "$D/desc" "$td" d3 fsync  # fsync(2) too
assert_cmp "$T/desc.before" "$D/desc"
hx ECANCELED condwrite "$D/desc" absent d3       # open, so it exists
assert_cmp "$T/desc.before" "$D/desc"
assert_eq "$td2" "$(tok "$D/desc")" "token after the canceled writes"
step "... the check is at commit: another writer commits in between"
hold w1 "$D/desc" rdwr
hold_expect w1 OK cond "$td2"
hold_expect w1 OK write XX
printf 'other' >"$D/desc" # another process's version, committed first
cp -p "$D/desc" "$T/desc.before"
hold_expect w1 ECANCELED fsync
assert_cmp "$T/desc.before" "$D/desc"
hold_expect w1 OK close # rolled back: nothing left to commit
assert_cmp "$T/desc.before" "$D/desc"
step "... the condition follows the descriptor's own commits"
t=$(tok "$D/desc")
hold w2 "$D/desc" trunc
hold_expect w2 OK cond "$t"
hold_expect w2 OK write one
hold_expect w2 OK fsync
assert_eq one "$(cat "$D/desc")" "desc after the first conditional fsync"
hold_expect w2 OK write two
hold_expect w2 OK fsync
assert_eq onetwo "$(cat "$D/desc")" "desc after the second conditional fsync"
printf 'intruder' >"$D/desc"
hold_expect w2 OK write three
hold_expect w2 ECANCELED close
assert_eq intruder "$(cat "$D/desc")" "desc after a commit that lost"
step "... a truncation alone (O_TRUNC, no write) is reported by close too"
t=$(tok "$D/desc")
printf 'changed' >"$D/desc"
hold w3 "$D/desc" trunc
hold_expect w3 OK cond "$t"
hold_expect w3 ECANCELED close
assert_eq changed "$(cat "$D/desc")" "desc after a conditional O_TRUNC that lost"
step "... the descriptor's item was replaced by rename (ABA through a descriptor)"
t=$(tok "$D/desc")
hold w4 "$D/desc" rdwr
hold_expect w4 OK cond "$t"
hold_expect w4 OK write X
printf 'replacement' >"$D/desc.new"
mv "$D/desc.new" "$D/desc"
hold_expect w4 ECANCELED close
assert_eq replacement "$(cat "$D/desc")" "desc after the writer of the replaced item"
step "... set by another process (setfattr), the condition is stored instead"
t=$(tok "$D/desc")
hold w5 "$D/desc" rdwr
cond "$D/desc" "$t" # setfattr: a process of its own, without the file open
hold_expect w5 OK write Y
hold_expect w5 OK close
assert_eq "Yeplacement" "$(cat "$D/desc")" "desc after an unconditioned writer"
assert_eq "$t" "$(getfattr --absolute-names --only-values -n user.itemfs.if_version "$D/desc")" "the stored condition"
setfattr -x user.itemfs.if_version "$D/desc"

step "cp -a, tar --xattrs and rsync -X carry neither the token nor a condition"
mkdir -p "$D/tree/sub"
printf 'x1' >"$D/tree/x1"
printf 'x2' >"$D/tree/sub/x2"
setfattr -n user.kept -v yes "$D/tree/x1"
printf 'staged' >"$D/tree/staged"
cond "$D/tree/staged" absent
run_ok cp -a "$D/tree" "$D/copy"
(cd "$D" && tar --xattrs --xattrs-include='*' -cf "$T/tree.tar" tree)
mkdir "$D/untar"
run_ok tar --xattrs --xattrs-include='*' -xf "$T/tree.tar" -C "$D/untar"
run_ok rsync -aX "$D/tree/" "$D/rsync/"
for c in copy untar/tree rsync; do
	assert_eq user.kept "$(names "$D/$c/x1")" "listed names of $c/x1"
	assert_eq yes "$(getfattr --absolute-names --only-values -n user.kept "$D/$c/x1")" "user.kept of $c/x1"
	assert_eq "" "$(names "$D/$c/staged")" "listed names of $c/staged"
	expect_fail 1 "No such attribute" getfattr --absolute-names -n user.itemfs.if_version "$D/$c/staged"
	assert_eq "$(st %i "$D/$c/sub/x2")" "$(tok "$D/$c/sub/x2" | cut -d: -f1)" \
		"token of $c/sub/x2: its own item's"
done
tar --xattrs --xattrs-include='*' -tvvf "$T/tree.tar" >"$T/tar.list"
grep -q '  x: 3 user.kept$' "$T/tar.list" || fail "the archive lacks user.kept: $(cat "$T/tar.list")"
if grep -q itemfs "$T/tar.list"; then
	fail "the archive holds user.itemfs.* attributes: $(grep itemfs "$T/tar.list")"
fi

step "after a remount an unchanged item has the same token, a staged condition is kept"
ta=$(tok "$D/a")
tx=$(tok "$D/tree/x1")
restart_itemfs
assert_eq "$ta" "$(tok "$D/a")" "token of a after the remount"
assert_eq "$tx" "$(tok "$D/tree/x1")" "token of tree/x1 after the remount"
assert_eq absent "$(getfattr --absolute-names --only-values -n user.itemfs.if_version "$D/tree/staged")" \
	"the staged condition after the remount"

step "two concurrent read-increment-conditional-rename loops, 50 increments each"
printf 0 >"$D/counter"
# incr ID: 50 increments of counter, each retried until its rename holds.
incr() {
	local id=$1 n=0 retries=0 t v err
	while [ "$n" -lt 50 ]; do
		t=$(tok "$D/counter")      # the token first,
		v=$(cat "$D/counter")      # then the data it vouches for
		printf '%d' $((v + 1)) >"$D/.counter.$id"
		cond "$D/.counter.$id" "$t"
		if err=$(mv "$D/.counter.$id" "$D/counter" 2>&1); then
			n=$((n + 1))
		else
			case "$err" in
			*": Operation canceled") retries=$((retries + 1)) ;;
			*) echo "updater $id: $err" >&2; return 1 ;;
			esac
		fi
	done
	echo "$retries" >"$T/retries.$id"
}
incr 1 &
p1=$!
BG_PIDS+=($p1)
incr 2 &
p2=$!
BG_PIDS+=($p2)
wait "$p1" || fail "updater 1 failed"
wait "$p2" || fail "updater 2 failed"
assert_eq 100 "$(cat "$D/counter")" "counter after 2 x 50 conditional increments"
echo "retries after ECANCELED: $(cat "$T/retries.1") and $(cat "$T/retries.2")"
assert_absent "$D/.counter.1"
assert_absent "$D/.counter.2"
assert_eq "" "$(names "$D/counter")" "listed names of counter"

stop_itemfs
