#!/bin/bash
# POSIX file operations inside a table: exact bytes at every size, nested
# directories listed in byte order, symlinks, hard links, chmod, chown,
# timestamps to the nanosecond, truncate, O_EXCL/O_TRUNC/O_APPEND, writes
# at offsets and past EOF, unlink of an open file, df, and the refused node
# types (FIFOs, sockets, devices).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
start_itemfs
mkdir "$MNT/t"
D=$MNT/t

# ns STAT_FORMAT PATH: a %.9X/%.9Y/%.9Z time as an integer of nanoseconds.
ns() {
	local v
	v=$(stat -c "$1" -- "$2")
	echo "${v/./}"
}

step "bytes written are the bytes read, at every size"
for n in 0 1 4095 4096 4097 65536 131073 300000 409590; do
	head -c "$n" /dev/urandom >"$T/src.$n"
	cp "$T/src.$n" "$D/f$n"
	assert_cmp "$T/src.$n" "$D/f$n"
	assert_eq "$n" "$(st %s "$D/f$n")" "size of f$n"
done
assert_cmp <(tail -c 1000 "$T/src.300000") <(tail -c 1000 "$D/f300000")
assert_cmp <(dd if="$T/src.300000" bs=1000 skip=77 count=3 status=none) \
	<(dd if="$D/f300000" bs=1000 skip=77 count=3 status=none)

step "new files and directories: owner, group and mode from caller and umask"
touch "$D/new"
assert_eq "regular empty file 644 0 0 1" "$(st '%F %a %u %g %h' "$D/new")" "new file"
(umask 077 && touch "$D/private" && mkdir "$D/privdir")
assert_eq "600" "$(st %a "$D/private")" "file created under umask 077"
assert_eq "directory 700 2" "$(st '%F %a %h' "$D/privdir")" "dir created under umask 077"
expect_fail 1 "File exists" mkdir "$D/privdir"

step "nested directories at any depth"
mkdir -p "$D/a/b/c/d/e/f/g/h"
printf deep >"$D/a/b/c/d/e/f/g/h/leaf"
assert_eq deep "$(cat "$D/a/b/c/d/e/f/g/h/leaf")" "deep leaf"
mkdir "$D/a/b2" "$D/a/b3"
assert_eq 5 "$(st %h "$D/a")" "nlink of a dir with 3 subdirs"
assert_eq "$(st %i "$D/a")" "$(st %i "$D/a/b/..")" "inode of a/b/.."
expect_fail 1 "Directory not empty" rmdir "$D/a/b/c/d/e/f/g"
expect_fail 1 "Not a directory" rmdir "$D/a/b/c/d/e/f/g/h/leaf"
expect_fail 1 "No such file or directory" rmdir "$D/a/nothing"
rmdir "$D/a/b3"
assert_eq 4 "$(st %h "$D/a")" "nlink after rmdir of a subdir"

step "directory listings are in byte order (ls -f, find)"
mkdir "$D/order"
names=(zeta Alpha alpha a-b a.b a_b a b 0 9lives ~tilde 'é' 'ä' 'Z' aa a0 'a-b-c' 'ab' 'B' '_u' 'x y z')
for n in "${names[@]}"; do
	if [ $((${#n} % 2)) -eq 0 ]; then mkdir "$D/order/$n"; else printf '%s' "$n" >"$D/order/$n"; fi
done
want=$(printf '%s\n' "${names[@]}" | sort)
assert_eq "$want" "$(ls_f "$D/order")" "ls -f order"
assert_eq "$want" "$(find "$D/order" -mindepth 1 -maxdepth 1 -printf '%f\n')" "find order"
step "a directory of 500 entries lists completely, in order"
mkdir "$D/many"
for i in $(seq 1 500 | shuf); do
	: >"$D/many/item-$i-$(printf '%*s' $((i % 40)) '' | tr ' ' x)"
done
want=$(ls_f "$D/many" | sort)
assert_eq 500 "$(printf '%s\n' "$want" | wc -l)" "entries of many/"
assert_eq "$want" "$(ls_f "$D/many")" "ls -f order of many/"

step "symlinks"
ln -s ../f1 "$D/a/rel"
ln -s "$D/f4096" "$D/abs"
ln -s does-not-exist "$D/dangling"
long=$(printf 'L%.0s' $(seq 1 1000))
ln -s "$long" "$D/longlink"
assert_eq "../f1" "$(readlink "$D/a/rel")" "relative symlink target"
assert_eq "symbolic link 5" "$(st '%F %s' "$D/a/rel")" "symlink type and size"
assert_eq "$D/f4096" "$(readlink "$D/abs")" "absolute symlink target"
assert_eq "$long" "$(readlink "$D/longlink")" "1000-byte symlink target"
assert_cmp "$T/src.1" "$D/a/rel"
assert_cmp "$T/src.4096" "$D/abs"
expect_fail 1 "No such file or directory" cat "$D/dangling"
expect_fail 1 "File exists" ln -s x "$D/abs"

step "hard links"
printf 'linked' >"$D/h1"
ln "$D/h1" "$D/a/h2"
ln "$D/h1" "$D/a/b/h3"
assert_eq 3 "$(st %h "$D/h1")" "nlink after two links"
assert_eq "$(st %i "$D/h1")" "$(st %i "$D/a/b/h3")" "inode of a hard link"
printf ' more' >>"$D/a/h2"
assert_eq "linked more" "$(cat "$D/h1")" "content through another link"
rm "$D/h1"
assert_eq 2 "$(st %h "$D/a/h2")" "nlink after rm of one link"
assert_eq "linked more" "$(cat "$D/a/b/h3")" "content after rm of one link"
expect_fail 1 "File exists" ln "$D/a/h2" "$D/a/b/h3"

step "chmod"
for m in 0 600 640 755 1777 2755 4755 6711; do
	chmod "$m" "$D/f1"
	assert_eq "$m" "$(st %a "$D/f1")" "mode after chmod $m"
done
chmod 700 "$D/privdir"
chmod 1777 "$D/privdir"
assert_eq 1777 "$(st %a "$D/privdir")" "dir mode after chmod 1777"
chmod 644 "$D/f1"

step "chown (as root)"
chown 1234:5678 "$D/f1"
assert_eq "1234 5678" "$(st '%u %g' "$D/f1")" "owner after chown"
chown 4242 "$D/f1"
assert_eq "4242 5678" "$(st '%u %g' "$D/f1")" "owner after chown uid only"
chgrp 99 "$D/privdir"
assert_eq "0 99" "$(st '%u %g' "$D/privdir")" "dir group after chgrp"
chown -h 777:888 "$D/a/rel"
assert_eq "777 888" "$(st '%u %g' "$D/a/rel")" "symlink owner after chown -h"
assert_eq "4242 5678" "$(st '%u %g' "$D/f1")" "target of the symlink after chown -h"

step "timestamps to the nanosecond"
touch -d '2001-02-03 04:05:06.123456789' "$D/f1"
assert_eq "2001-02-03 04:05:06.123456789 +0000" "$(st %y "$D/f1")" "mtime after touch -d"
assert_eq "2001-02-03 04:05:06.123456789 +0000" "$(st %x "$D/f1")" "atime after touch -d"
touch -m -d '1999-12-31 23:59:59.000000001' "$D/f1"
assert_eq "946684799.000000001" "$(st %.9Y "$D/f1")" "mtime after touch -m"
assert_eq "2001-02-03 04:05:06.123456789 +0000" "$(st %x "$D/f1")" "atime after touch -m"
touch -a -d '2030-06-07 08:09:10.999999999' "$D/f1"
assert_eq "1907050150.999999999" "$(st %.9X "$D/f1")" "atime after touch -a"
assert_eq "946684799.000000001" "$(st %.9Y "$D/f1")" "mtime after touch -a"
touch -h -d '2002-01-01 00:00:00.5' "$D/a/rel"
assert_eq "1009843200.500000000" "$(st %.9Y "$D/a/rel")" "symlink mtime after touch -h"
touch -d '2003-03-03 03:03:03.333333333' "$D/privdir"
assert_eq "1046660583.333333333" "$(st %.9Y "$D/privdir")" "dir mtime after touch -d"

step "ctime follows metadata changes; mtime and ctime follow writes"
c0=$(ns %.9Z "$D/f1")
sleep 0.05
chmod 600 "$D/f1"
c1=$(ns %.9Z "$D/f1")
assert_gt "$c1" "$c0" "ctime after chmod vs before"
before=$(date +%s%N)
printf 'new data' >"$D/f1"
after=$(date +%s%N)
m=$(ns %.9Y "$D/f1")
if [ "$m" -lt $((before - 1000000000)) ] || [ "$m" -gt $((after + 1000000000)) ]; then
	fail "mtime after a write is $m, expected within a second of [$before, $after]"
fi
assert_gt "$(ns %.9Z "$D/f1")" "$c1" "ctime after write vs after chmod"
assert_eq "1907050150.999999999" "$(st %.9X "$D/f1")" "atime after a write"

step "attributes seen while a writer is open are not kept past its commit"
# The kernel keeps attributes long; a stat during a write gets the pending
# version's times, and the commit at close sets ctime anew: after the close,
# stat must show what a fresh mount shows.
# The writer is a helper process: a shell's descriptor would be flushed (and
# the item committed) by every command that inherits it.
printf 'old' >"$D/pending"
coproc HOLD { "$HELPER" hold "$D/pending" trunc; }
# Copies of its pipes: bash unsets HOLD when the helper exits (after close).
exec {hold_out}<&"${HOLD[0]}" {hold_in}>&"${HOLD[1]}"
hold_pid=$HOLD_PID
read -r -t 20 -u "$hold_out" line && assert_eq ready "$line" "writer open"
echo "write abcd" >&"$hold_in"
read -r -t 20 -u "$hold_out" line && assert_eq OK "$line" "writer: write"
assert_eq 4 "$(st %s "$D/pending")" "size seen during the write"
sleep 0.05
echo close >&"$hold_in"
read -r -t 20 -u "$hold_out" line && assert_eq OK "$line" "writer: close"
exec {hold_out}<&- {hold_in}>&-
wait "$hold_pid" || true # reaped already if bash saw it exit
seen=$(st '%s %.9Y %.9Z' "$D/pending")
sync "$D"
restart_itemfs
assert_eq "$(st '%s %.9Y %.9Z' "$D/pending")" "$seen" "size, mtime, ctime after close vs after remount"

step "reads do not change atime (noatime)"
touch -a -d '2001-01-01 00:00:00.25' "$D/f65536"
cat "$D/f65536" >/dev/null
assert_eq "978307200.250000000" "$(st %.9X "$D/f65536")" "atime after a read"

step "truncate grows with zeros and shrinks"
head -c 100 /dev/urandom >"$T/tr"
cp "$T/tr" "$D/tr"
truncate -s 10000 "$D/tr"
{ cat "$T/tr"; head -c 9900 /dev/zero; } >"$T/tr.grown"
assert_eq 10000 "$(st %s "$D/tr")" "size after truncate -s 10000"
assert_cmp "$T/tr.grown" "$D/tr"
truncate -s 50 "$D/tr"
assert_cmp <(head -c 50 "$T/tr") "$D/tr"
truncate -s 0 "$D/tr"
assert_eq 0 "$(st %s "$D/tr")" "size after truncate -s 0"
truncate -s 300 "$D/tr"
assert_cmp <(head -c 300 /dev/zero) "$D/tr"

step "O_EXCL, O_TRUNC, O_APPEND"
hx EEXIST open "$D/f1" wronly,creat,excl
hx EEXIST open "$D/a" wronly,creat,excl
hx OK open "$D/excl" wronly,creat,excl
assert_eq "regular empty file" "$(st %F "$D/excl")" "file made by O_CREAT|O_EXCL"
printf 'abcdef' >"$D/o"
printf 'xy' >"$D/o"
assert_eq xy "$(cat "$D/o")" "content after O_TRUNC rewrite"
assert_eq 2 "$(st %s "$D/o")" "size after O_TRUNC rewrite"
printf 'z' >>"$D/o"
assert_eq xyz "$(cat "$D/o")" "content after append"
cat "$T/src.65536" >>"$D/o"
assert_cmp <(printf xyz; cat "$T/src.65536") "$D/o"
hx OK open "$D/o" wronly,trunc
assert_eq 0 "$(st %s "$D/o")" "size after open(O_TRUNC) and close"

step "writes at an offset and past EOF"
cp "$T/src.300000" "$T/patched"
cp "$T/src.300000" "$D/patched"
printf 'PATCH' | dd of="$T/patched" bs=1 seek=123457 conv=notrunc status=none
printf 'PATCH' | dd of="$D/patched" bs=1 seek=123457 conv=notrunc status=none
assert_cmp "$T/patched" "$D/patched"
printf abc >"$D/sparse"
printf Z | dd of="$D/sparse" bs=1 seek=10 conv=notrunc status=none
assert_cmp <(printf 'abc\0\0\0\0\0\0\0Z') "$D/sparse"

step "an unlinked file stays readable through an open descriptor"
printf keep >"$D/doomed"
exec 5<"$D/doomed"
rm "$D/doomed"
assert_absent "$D/doomed"
assert_eq keep "$(cat <&5)" "read from the fd of an unlinked file"
exec 5<&-

step "df shows a size, and used space grows with data"
read -r size0 used0 < <(df -B1 --output=size,used "$MNT" | tail -n 1)
assert_gt "$size0" 0 "df size"
for i in 1 2 3 4 5 6 7 8 9 10; do
	head -c 400000 /dev/urandom >"$D/df$i"
done
read -r size1 used1 < <(df -B1 --output=size,used "$MNT" | tail -n 1)
assert_gt "$used1" $((used0 + 2000000)) "df used after writing 4 MB (before: $used0)"
assert_gt "$size1" 0 "df size after writing"

step "FIFOs, sockets and devices: EPERM; mknod of a regular file works"
expect_fail 1 "Operation not permitted" mkfifo "$D/fifo"
expect_fail 1 "Operation not permitted" mknod "$D/fifo2" p
hx EPERM mknod "$D/sock" sock
hx EPERM mknod "$D/chr" chr
hx EPERM mknod "$D/blk" blk
assert_absent "$D/fifo"
assert_absent "$D/sock"
hx OK mknod "$D/regnode" reg
assert_eq "regular empty file 644" "$(st '%F %a' "$D/regnode")" "mknod S_IFREG"
printf node >"$D/regnode"
assert_eq node "$(cat "$D/regnode")" "content of a mknod'ed file"

stop_itemfs
echo "PASS"
