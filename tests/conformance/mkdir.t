#!/bin/bash
# mkdir(2): mode and umask, owner and group, set-gid inheritance, times of
# the new directory and of its parent, and the errors (ENAMETOOLONG ENOENT
# ENOTDIR EACCES ELOOP EEXIST).
source "$(dirname "${BASH_SOURCE[0]}")/misc.sh"

expect 0 mkdir $n2 0777
for mode in 0755 0151 0000 0700 01777 0555; do
	expect 0 mkdir $n2/$n0 $mode
	expect dir,$mode lstat $n2/$n0 type,mode
	expect 0 rmdir $n2/$n0
done
# Linux drops set-uid and set-gid from mkdir's mode (a set-gid parent sets
# set-gid by itself).
expect 0 mkdir $n2/$n0 06755
expect dir,0755 lstat $n2/$n0 type,mode
expect 0 rmdir $n2/$n0
expect 0 -U 077 mkdir $n2/$n0 0777
expect 0700 lstat $n2/$n0 mode
expect 0 rmdir $n2/$n0
expect 0 -U 070 mkdir $n2/$n0 0777
expect 0707 lstat $n2/$n0 mode
expect 0 rmdir $n2/$n0
expect 0 -U 0501 mkdir $n2/$n0 0777
expect 0276 lstat $n2/$n0 mode
expect 0 rmdir $n2/$n0

# Owner and group.
expect 0 -u 65535 -g 65535 mkdir $n2/$n0 0755
expect 65535,65535 lstat $n2/$n0 uid,gid
expect 0 rmdir $n2/$n0
expect 0 -u 65535 -g 65534,65535 mkdir $n2/$n0 0755
expect 65535,65534 lstat $n2/$n0 uid,gid
expect 0 rmdir $n2/$n0
# A set-gid parent: the new directory takes its group and its set-gid bit.
expect 0 chown $n2 0 65533
expect 0 chmod $n2 02777
expect 0 -u 65535 -g 65535 mkdir $n2/$n0 0755
expect 65535,65533,02755 lstat $n2/$n0 uid,gid,mode
expect 0 -u 65535 -g 65535 mkdir $n2/$n0/$n1 0700
expect 65535,65533,02700 lstat $n2/$n0/$n1 uid,gid,mode
expect 0 rmdir $n2/$n0/$n1
expect 0 rmdir $n2/$n0
expect 0 chmod $n2 0777
expect 0 chown $n2 0 0

# Times: the new directory's three are equal; the parent's ctime and mtime
# move; an empty directory has 2 links.
tchange ctime,mtime $n2 0 mkdir $n2/$n0 0755
a=$(get $n2/$n0 atime_ns)
m=$(get $n2/$n0 mtime_ns)
c=$(get $n2/$n0 ctime_ns)
d=$(get $n2 mtime_ns)
check "new dir: atime = mtime" "$a" = "$m"
check "new dir: mtime = ctime" "$m" = "$c"
check "new dir: ctime = the parent's mtime" "$c" = "$d"
expect 2 lstat $n2/$n0 nlink
tsame ctime,mtime $n2 EEXIST mkdir $n2/$n0 0755
expect 0 rmdir $n2/$n0
expect 0 rmdir $n2

# ENAMETOOLONG.
expect 0 mkdir $name255 0755
expect dir lstat $name255 type
expect 0 rmdir $name255
expect ENAMETOOLONG mkdir $name256 0755
expect ENAMETOOLONG mkdir $path4096 0755

# ENOENT, ENOTDIR.
expect ENOENT mkdir $n0/$n1 0755
expect 0 symlink $n1 $n0
expect ENOENT mkdir $n0/$n2 0755
expect 0 unlink $n0
expect 0 create $n0 0644
expect ENOTDIR mkdir $n0/$n1 0755
expect 0 symlink $n0 $n1
expect ENOTDIR mkdir $n1/$n2 0755
expect 0 unlink $n1
expect 0 unlink $n0

# EACCES: search and write permission on the parent.
expect 0 mkdir $n1 0755
expect 0 chown $n1 $U $G
expect 0 -u $U -g $G mkdir $n1/$n2 0755
expect 0 -u $U -g $G rmdir $n1/$n2
expect 0 chmod $n1 0644
expect EACCES -u $U -g $G mkdir $n1/$n2 0755
expect 0 chmod $n1 0555
expect EACCES -u $U -g $G mkdir $n1/$n2 0755
expect 0 chmod $n1 0755
expect EACCES -u 65533 -g 65533 mkdir $n1/$n2 0755
expect ENOENT lstat $n1/$n2 type
expect 0 rmdir $n1

# ELOOP.
expect 0 symlink $n0 $n1
expect 0 symlink $n1 $n0
expect ELOOP mkdir $n0/test 0755
expect ELOOP mkdir $n1/test 0755
expect 0 unlink $n0
expect 0 unlink $n1

# EEXIST: any existing object, a dangling symlink included.
for type in regular dir symlink; do
	create_file $type $n0
	expect EEXIST mkdir $n0 0755
	remove $n0
done
expect 0 symlink $n1 $n0
expect EEXIST mkdir $n0 0755
expect ENOENT lstat $n1 type
expect 0 unlink $n0

done_testing
