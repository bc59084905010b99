#!/bin/bash
# Persistence across unmount and remount: bytes, modes, owners, atime/mtime
# set to the nanosecond, ctime, xattrs, symlink targets, hard links (same
# inode number and nlink), inode numbers and the whole tree. Both unmount
# commands (fusermount3 -u and umount) must leave everything committed,
# including writes made just before them.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
start_itemfs

# manifest: every path's type, mode, owner, size, nlink, inode, atime,
# mtime, ctime (ns) and symlink target, in byte order.
manifest() {
	(cd "$MNT" && find . -printf '%p|%y|%m|%U|%G|%s|%n|%i|%A@|%T@|%C@|%l\n' | sort)
}
# contents: sha256 of every regular file, then every xattr (hex), by path.
contents() {
	(
		cd "$MNT"
		find . -type f -print0 | sort -z | xargs -0 sha256sum
		find . -print0 | sort -z | xargs -0 getfattr -h -d -m - -e hex --absolute-names
	)
}

step "build a tree"
mkdir "$MNT/t1" "$MNT/t2" "$MNT/empty-table"
cd "$MNT/t1"
mkdir -p docs/a/b/c bin tmpdir sgdir emptydir
printf 'read me\n' >docs/readme
head -c 70000 /dev/urandom >docs/a/b/c/deep
head -c $((409600 - 3)) /dev/urandom >bin/big
head -c 4096 /dev/urandom >bin/tool
: >zero
printf 'x' >noperm
for n in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
	head -c $((n * 997)) /dev/urandom >"docs/a/f$n"
done
printf 'linked' >hl1
ln hl1 docs/hl2
ln hl1 docs/a/b/hl3
ln -s docs/readme link
ln -s /etc/hostname "$MNT/t2/abs"
ln -s nowhere "$MNT/t2/dangling"
printf 'table two' >"$MNT/t2/item"
chmod 600 docs/readme
chmod 4755 bin/tool
chmod 1777 tmpdir
chmod 2775 sgdir
chmod 0 noperm
chmod 700 docs/a
chown 1234:5678 docs/readme
chown 1000:1000 docs
chown -h 42:43 link
chown 7:8 "$MNT/t2"
setfattr -n user.kind -v readme docs/readme
setfattr -n user.bin -v 0x0001fffe docs/readme
setfattr -n user.dir -v yes docs/a
setfattr -n user.table -v two "$MNT/t2"
setfattr -n user.empty bin/tool
touch -a -d '2001-02-03 04:05:06.123456789' docs/readme
touch -m -d '1999-12-31 23:59:59.987654321' docs/readme
touch -d '2010-10-10 10:10:10.000000001' bin/big docs/a/f7
touch -h -d '2005-05-05 05:05:05.555555555' link
touch -d '2020-02-02 02:02:02.202020202' docs/a/b/c docs/a/b
cd /
printf 'written just before the unmount' >"$MNT/t1/last"

step "unmount with fusermount3 -u, remount"
contents1=$(contents)
manifest1=$(manifest)
inodes1=$(printf '%s\n' "$manifest1" | cut -d'|' -f8 | sort -u)
restart_itemfs
assert_eq "$manifest1" "$(manifest)" "manifest after remount"
assert_eq "$contents1" "$(contents)" "contents and xattrs after remount"
assert_eq "written just before the unmount" "$(cat "$MNT/t1/last")" "the last write"
assert_eq "1999-12-31 23:59:59.987654321 +0000 2001-02-03 04:05:06.123456789 +0000" \
	"$(st '%y %x' "$MNT/t1/docs/readme")" "mtime and atime after remount"
assert_eq "600 1234 5678" "$(st '%a %u %g' "$MNT/t1/docs/readme")" "mode and owner after remount"
assert_eq "docs/readme" "$(readlink "$MNT/t1/link")" "symlink target after remount"
assert_eq "3 3 3" "$(st %h "$MNT/t1/hl1") $(st %h "$MNT/t1/docs/hl2") $(st %h "$MNT/t1/docs/a/b/hl3")" \
	"nlink of hard links after remount"
assert_eq "$(st %i "$MNT/t1/hl1")" "$(st %i "$MNT/t1/docs/a/b/hl3")" "inode of hard links after remount"

step "changes in a second session, then umount"
printf ' appended' >>"$MNT/t1/docs/a/b/hl3"
rm "$MNT/t1/docs/hl2"
mv "$MNT/t1/docs/a/f3" "$MNT/t2/f3"
rmdir "$MNT/t1/emptydir"
printf 'new' >"$MNT/t2/after"
ino=$(st %i "$MNT/t2/after")
if printf '%s\n' "$inodes1" | grep -qx "$ino"; then
	fail "a new item got inode $ino, which an existing item already has"
fi
setfattr -x user.kind "$MNT/t1/docs/readme"
chmod 640 "$MNT/t1/docs/readme"
contents2=$(contents)
manifest2=$(manifest)
stop_itemfs umount

step "remount in daemon mode"
start_itemfs_daemon
assert_eq "$manifest2" "$(manifest)" "manifest after the second remount"
assert_eq "$contents2" "$(contents)" "contents after the second remount"
assert_eq "linked appended" "$(cat "$MNT/t1/hl1")" "hard-linked item after the second remount"
assert_eq 2 "$(st %h "$MNT/t1/hl1")" "nlink after rm of one link and remount"
assert_absent "$MNT/t1/emptydir"
stop_itemfs

echo "PASS"
