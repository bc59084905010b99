#!/bin/bash
# Real tools round trip a tree through the mount: cp -a in, within and out,
# tar in and out, rsync -aHX in (twice, with changes) and out; diff -r,
# find -printf (modes, owners, sizes, link counts, mtimes to the
# nanosecond, symlink targets), getfattr, ls -l and stat agree with the
# original each time. The tree has nested dirs, sizes up to the item limit,
# symlinks, a hard link, odd modes and owners, and user.* xattrs.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
start_itemfs
SRC=$T/src

# xattrs DIR: the user.* xattrs of everything, by path.
xattrs() {
	(cd "$1" && find . -print0 | sort -z | xargs -0 getfattr -h -d -m '^user\.' -e hex --absolute-names)
}
# lsl DIR: ls -l lines of the non-directories, recursively (blanks
# squeezed: ls pads columns to the widest entry, directories included).
lsl() {
	(cd "$1" && ls -lnR --time-style=full-iso . | awk '$1 ~ /^[-l]/ { $1 = $1; print }')
}
# links DIR: which names share an inode: a group number and a path per line.
links() {
	(cd "$1" && find . ! -type d -links +1 -printf '%i\t%p\n' | sort -t "$(printf '\t')" -k2 |
		awk -F '\t' '{ if (!($1 in id)) id[$1] = ++n; print id[$1], $2 }')
}
# same_tree SRC COPY WHAT: the copy equals the source in every respect above.
same_tree() {
	local out
	out=$(diff -r --no-dereference "$1" "$2" 2>&1) || fail "$3: diff -r $1 $2: $out"
	out=$(diff <(meta "$1") <(meta "$2")) || fail "$3: metadata differs (< source, > copy):
$out"
	out=$(diff <(xattrs "$1") <(xattrs "$2")) || fail "$3: xattrs differ (< source, > copy):
$out"
	out=$(diff <(lsl "$1") <(lsl "$2")) || fail "$3: ls -l differs (< source, > copy):
$out"
	out=$(diff <(links "$1") <(links "$2")) || fail "$3: hard links differ (< source, > copy):
$out"
}

step "build the source tree on the local disk"
mkdir -p "$SRC/a/b/c/d" "$SRC/empty" "$SRC/with space/ü" "$SRC/sticky" "$SRC/sgid" "$SRC/private"
for n in 0 1 511 4096 4097 65536 100000 200001; do
	head -c "$n" /dev/urandom >"$SRC/a/size-$n"
done
head -c $((409600 - 3)) /dev/urandom >"$SRC/max"
# xmax is at the item limit: 4 (name) + data + 6 ("user.x") + 5 ("12345").
head -c $((409600 - 4 - 6 - 5)) /dev/urandom >"$SRC/xmax"
printf 'hello\n' >"$SRC/with space/ü/grüße.txt"
printf 'shared' >"$SRC/a/hl"
ln "$SRC/a/hl" "$SRC/a/b/c/hl2"
ln -s ../max "$SRC/a/rel"
ln -s /etc/hostname "$SRC/abs"
ln -s no/such/target "$SRC/a/b/dangling"
ln -s a/b "$SRC/dirlink"
printf '#!/bin/sh\n' >"$SRC/a/tool"
chmod 4755 "$SRC/a/tool"
chmod 444 "$SRC/a/size-1"
chmod 600 "$SRC/a/size-511"
chmod 1777 "$SRC/sticky"
chmod 2775 "$SRC/sgid"
chmod 700 "$SRC/private"
chown 1234:5678 "$SRC/a/size-4096" "$SRC/private"
chown -h 42:43 "$SRC/a/rel"
setfattr -n user.note -v "a note" "$SRC/a/size-4097"
setfattr -n user.bin -v 0x00010203 "$SRC/a/size-4097"
setfattr -n user.dir -v yes "$SRC/a/b"
setfattr -n user.x -v 12345 "$SRC/xmax"
i=0
while IFS= read -r -d '' p; do
	i=$((i + 1))
	touch -h -d "2011-11-11 11:11:11.$(printf '%09d' $((i * 7654321 % 1000000000)))" "$p"
done < <(find "$SRC" -depth -print0)

step "cp -a into the mount"
mkdir "$MNT/t1" "$MNT/t2" "$MNT/t3" "$MNT/t4"
run_ok cp -a "$SRC" "$MNT/t1/"
same_tree "$SRC" "$MNT/t1/src" "cp -a in"

step "stat agrees"
for f in max a/size-4096 a/tool a/rel "with space/ü/grüße.txt"; do
	assert_eq "$(cd "$SRC" && stat -c '%n %s %a %u %g %h %F %y' "$f")" \
		"$(cd "$MNT/t1/src" && stat -c '%n %s %a %u %g %h %F %y' "$f")" "stat of $f"
done

step "cp -a within the mount, across tables"
run_ok cp -a "$MNT/t1/src" "$MNT/t2/"
same_tree "$SRC" "$MNT/t2/src" "cp -a within"

step "cp -a out of the mount"
mkdir "$T/out"
run_ok cp -a "$MNT/t1/src" "$T/out/"
same_tree "$SRC" "$T/out/src" "cp -a out"

step "tar into the mount and back out"
run_ok tar --format=posix --xattrs --xattrs-include='user.*' -C "$T" -cf "$T/src.tar" src
run_ok tar --xattrs --xattrs-include='user.*' -C "$MNT/t3" -xpf "$T/src.tar"
same_tree "$SRC" "$MNT/t3/src" "tar x into the mount"
run_ok tar --format=posix --xattrs --xattrs-include='user.*' -C "$MNT/t3" -cf "$T/mnt.tar" src
mkdir "$T/tarout"
run_ok tar --xattrs --xattrs-include='user.*' -C "$T/tarout" -xpf "$T/mnt.tar"
same_tree "$SRC" "$T/tarout/src" "tar c from the mount"

step "rsync -aHX in, changes, rsync again, rsync out"
# --inplace: rsync's temporary name (.max.XXXXXX) is longer than the final
# one, and the name counts towards the item limit, so items at the limit
# can only be written under their own name.
run_ok rsync -aHX --inplace "$SRC/" "$MNT/t4/src/"
same_tree "$SRC" "$MNT/t4/src" "rsync in"
printf 'more' >>"$SRC/a/size-65536"
head -c 12345 /dev/urandom >"$SRC/a/size-4096"
rm "$SRC/a/size-100000"
printf 'new file' >"$SRC/with space/new"
chmod 640 "$SRC/max"
setfattr -n user.note -v "another note" "$SRC/a/size-4097"
touch -d '2012-12-12 12:12:12.121212121' "$SRC/a/size-65536" "$SRC/a/size-4096" "$SRC/with space/new" "$SRC/a" "$SRC/with space"
run_ok rsync -aHX --inplace --delete "$SRC/" "$MNT/t4/src/"
same_tree "$SRC" "$MNT/t4/src" "second rsync in"
run_ok rsync -aHX "$MNT/t4/src/" "$T/rsout/"
same_tree "$SRC" "$T/rsout" "rsync out"
# Without --inplace (temporary name, then rename over the old item), for
# the part of the tree below the limit.
run_ok rsync -aHX "$SRC/a/" "$MNT/t4/plain-a/"
same_tree "$SRC/a" "$MNT/t4/plain-a" "rsync without --inplace"
printf 'changed' >>"$SRC/a/size-511"
touch -d '2013-01-01 00:00:00.000000013' "$SRC/a/size-511"
run_ok rsync -aHX "$SRC/a/" "$MNT/t4/plain-a/"
same_tree "$SRC/a" "$MNT/t4/plain-a" "second rsync without --inplace"

step "the copies survive a remount"
restart_itemfs
same_tree "$T/rsout" "$MNT/t4/src" "rsync copy after remount"
same_tree "$SRC/a" "$MNT/t4/plain-a" "rsync copy without --inplace after remount"
same_tree "$T/out/src" "$MNT/t1/src" "cp -a copy after remount"
stop_itemfs

echo "PASS"
