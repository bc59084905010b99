#!/bin/bash
# symlink(2): the link and its target, owner, times of the link and of the
# parent, long targets, and the errors (ENAMETOOLONG ENOENT ENOTDIR EACCES
# ELOOP EEXIST).
source "$(dirname "${BASH_SOURCE[0]}")/misc.sh"

expect 0 create $n0 0644
expect 0 symlink $n0 $n1
expect symlink lstat $n1 type
expect regular,0644 stat $n1 type,mode
expect $n0 readlink $n1
expect 0 unlink $n0
expect ENOENT stat $n1 type
expect symlink lstat $n1 type
expect 0 unlink $n1
# Targets are kept as given: anything, dangling, absolute, with dots.
for target in /nonexistent/x ../../.. "a b/c" ./$n2 .. $name255 "$name255/$name255/$name255"; do
	expect 0 symlink "$target" $n0
	expect "$target" readlink $n0
	expect 0 unlink $n0
done
expect 0 symlink $n3 $n0
expect "${#n3}" lstat $n0 size
expect 0 unlink $n0

# Owner, group, times.
expect 0 mkdir $n2 0777
expect 0 -u 65535 -g 65535 symlink test $n2/$n0
expect 65535,65535 lstat $n2/$n0 uid,gid
expect 0 unlink $n2/$n0
tchange ctime,mtime $n2 0 symlink test $n2/$n0
a=$(get $n2/$n0 atime_ns)
m=$(get $n2/$n0 mtime_ns)
c=$(get $n2/$n0 ctime_ns)
d=$(get $n2 mtime_ns)
check "new symlink: atime = mtime" "$a" = "$m"
check "new symlink: mtime = ctime" "$m" = "$c"
check "new symlink: ctime = the parent's mtime" "$c" = "$d"
tchange ctime,mtime $n2 EEXIST symlink test2 $n2/$n0
expect test readlink $n2/$n0
expect 0 unlink $n2/$n0
expect 0 rmdir $n2

# ENAMETOOLONG: a name of 256 bytes, a target of PATH_MAX.
expect 0 symlink test $name255
expect test readlink $name255
expect 0 unlink $name255
expect ENAMETOOLONG symlink test $name256
expect ENAMETOOLONG symlink $path4096 $n0
expect ENAMETOOLONG symlink test $path4096
expect ENOENT lstat $n0 type

# ENOENT: a missing directory; an empty target.
expect ENOENT symlink test $n0/$n1
expect ENOENT symlink "" $n0
expect ENOENT lstat $n0 type

# ENOTDIR.
expect 0 create $n0 0644
expect ENOTDIR symlink test $n0/$n1
expect 0 unlink $n0

# EACCES: search and write permission on the parent.
expect 0 mkdir $n1 0755
expect 0 chown $n1 $U $G
expect 0 -u $U -g $G symlink test $n1/$n2
expect 0 unlink $n1/$n2
expect 0 chmod $n1 0644
expect EACCES -u $U -g $G symlink test $n1/$n2
expect 0 chmod $n1 0555
expect EACCES -u $U -g $G symlink test $n1/$n2
expect 0 chmod $n1 0755
expect EACCES -u 65533 -g 65533 symlink test $n1/$n2
expect ENOENT lstat $n1/$n2 type
expect 0 rmdir $n1

# ELOOP.
expect 0 symlink $n0 $n1
expect 0 symlink $n1 $n0
expect ELOOP symlink test $n0/test
expect ELOOP symlink test $n1/test
expect ELOOP stat $n0 type
expect 0 unlink $n0
expect 0 unlink $n1

# EEXIST.
for type in regular dir symlink; do
	create_file $type $n0
	expect EEXIST symlink test $n0
	remove $n0
done
expect 0 symlink $n1 $n0
expect EEXIST symlink test $n0
expect ENOENT lstat $n1 type
expect 0 unlink $n0

done_testing
