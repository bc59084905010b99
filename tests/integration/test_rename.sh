#!/bin/bash
# rename(2) and renameat2(2): within a directory, across directories and
# tables, replacing files and empty directories, moving whole directories,
# RENAME_NOREPLACE and RENAME_EXCHANGE, and the refusals (EINVAL for a
# directory into itself, ENOTEMPTY, EISDIR, ENOTDIR).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
start_itemfs
mkdir "$MNT/t1" "$MNT/t2"
A=$MNT/t1
B=$MNT/t2

step "mv within a directory keeps the inode and the bytes"
head -c 5000 /dev/urandom >"$T/x"
cp "$T/x" "$A/x"
ino=$(st %i "$A/x")
mv "$A/x" "$A/y"
assert_absent "$A/x"
assert_cmp "$T/x" "$A/y"
assert_eq "$ino" "$(st %i "$A/y")" "inode after mv"

step "rename over an existing file replaces it"
printf old >"$A/victim"
mv -f "$A/y" "$A/victim"
assert_cmp "$T/x" "$A/victim"
assert_eq "victim" "$(ls "$A")" "entries after the replacing rename"
assert_eq 1 "$(st %h "$A/victim")" "nlink after the replacing rename"

step "rename(2) across directories and tables (no EXDEV)"
mkdir -p "$A/d1/d2" "$B/e1"
hx OK rename "$A/victim" "$A/d1/d2/moved"
assert_cmp "$T/x" "$A/d1/d2/moved"
hx OK rename "$A/d1/d2/moved" "$B/e1/moved"
assert_cmp "$T/x" "$B/e1/moved"
assert_eq "$ino" "$(st %i "$B/e1/moved")" "inode after a move across tables"
assert_eq "" "$(ls "$A/d1/d2")" "source dir after the move"
mv "$B/e1/moved" "$A/back"
assert_cmp "$T/x" "$A/back"

step "moving a directory with its content across tables"
mkdir -p "$A/tree/sub/deeper"
printf one >"$A/tree/one"
printf two >"$A/tree/sub/two"
printf three >"$A/tree/sub/deeper/three"
ln -s sub/two "$A/tree/link"
na=$(st %h "$A")
nb=$(st %h "$B")
hx OK rename "$A/tree" "$B/tree"
assert_absent "$A/tree"
assert_eq "onetwothreetwo" \
	"$(cat "$B/tree/one" "$B/tree/sub/two" "$B/tree/sub/deeper/three" "$B/tree/link")" \
	"content of the moved tree"
assert_eq $((na - 1)) "$(st %h "$A")" "nlink of the table a directory left"
assert_eq $((nb + 1)) "$(st %h "$B")" "nlink of the table a directory entered"
assert_eq "$(st %i "$B")" "$(st %i "$B/tree/..")" "inode of .. in the moved directory"
mv "$B/tree" "$A/tree2"
assert_eq three "$(cat "$A/tree2/sub/deeper/three")" "content after mv of the dir back"
mv "$A/tree2/sub" "$A/tree2/sub-renamed"
assert_eq "link one sub-renamed" "$(ls "$A/tree2" | paste -sd ' ')" "dir after renaming a subdir"

step "renaming a directory over an empty one replaces it; over a non-empty one: ENOTEMPTY"
mkdir -p "$A/src/inner" "$A/empty" "$A/full"
printf keep >"$A/full/keep"
hx OK rename "$A/src" "$A/empty"
[ -d "$A/empty/inner" ] || fail "rename over an empty dir did not move the content"
assert_absent "$A/src"
hx ENOTEMPTY rename "$A/empty" "$A/full"
assert_eq keep "$(cat "$A/full/keep")" "content of the dir a rename could not replace"
[ -d "$A/empty/inner" ] || fail "a refused rename lost the source"
expect_fail 1 "Directory not empty" rmdir "$A/full"

mkdir -p "$A/src2/inner2" "$A/empty2"
mv -T "$A/src2" "$A/empty2"
[ -d "$A/empty2/inner2" ] || fail "mv -T over an empty dir did not move the content"
assert_absent "$A/src2"

step "type mismatches: EISDIR and ENOTDIR"
printf f >"$A/plain"
hx EISDIR rename "$A/plain" "$A/full"
hx ENOTDIR rename "$A/full" "$A/plain"
assert_eq f "$(cat "$A/plain")" "file after refused renames"

step "a directory into its own subdirectory: EINVAL"
hx EINVAL rename "$A/empty" "$A/empty/inner/self"
hx EINVAL rename "$A/tree2" "$A/tree2/sub-renamed/deeper/x"
[ -d "$A/empty/inner" ] || fail "a refused rename into itself damaged the tree"

step "rename onto itself and between links of one file change nothing"
hx OK rename "$A/plain" "$A/plain"
ln "$A/plain" "$A/plain2"
hx OK rename "$A/plain" "$A/plain2"
assert_eq 2 "$(st %h "$A/plain")" "nlink after rename between two links of one file"
assert_exists "$A/plain"
assert_exists "$A/plain2"

step "RENAME_NOREPLACE"
printf a >"$A/na"
printf b >"$A/nb"
hx EEXIST rename "$A/na" "$A/nb" noreplace
assert_eq "a b" "$(cat "$A/na") $(cat "$A/nb")" "files after a refused noreplace rename"
hx OK rename "$A/na" "$A/nc" noreplace
assert_absent "$A/na"
assert_eq a "$(cat "$A/nc")" "file after a noreplace rename"

step "RENAME_EXCHANGE of two files, of a file and a directory, across tables"
ia=$(st %i "$A/nc")
ib=$(st %i "$A/nb")
hx OK rename "$A/nc" "$A/nb" exchange
assert_eq "b a" "$(cat "$A/nc") $(cat "$A/nb")" "files after exchange"
assert_eq "$ib $ia" "$(st %i "$A/nc") $(st %i "$A/nb")" "inodes after exchange"
mkdir "$B/xdir"
printf inside >"$B/xdir/inner"
hx OK rename "$A/nb" "$B/xdir" exchange
assert_eq inside "$(cat "$A/nb/inner")" "directory after exchange with a file"
assert_eq a "$(cat "$B/xdir")" "file after exchange with a directory"
assert_eq "$(st %i "$A")" "$(st %i "$A/nb/..")" ".. of an exchanged directory"
hx ENOENT rename "$A/nb" "$A/absent" exchange
assert_eq inside "$(cat "$A/nb/inner")" "directory after a refused exchange"

step "renames survive a remount"
restart_itemfs
assert_eq inside "$(cat "$A/nb/inner")" "exchanged directory after remount"
assert_eq a "$(cat "$B/xdir")" "exchanged file after remount"
assert_cmp "$T/x" "$A/back"
assert_eq three "$(cat "$A/tree2/sub-renamed/deeper/three")" "moved tree after remount"
assert_eq "$(st %i "$A")" "$(st %i "$A/nb/..")" ".. of an exchanged directory after remount"
stop_itemfs

echo "PASS"
