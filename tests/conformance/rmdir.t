#!/bin/bash
# rmdir(2): removal, the parent's times, non-empty directories, ".", the
# sticky-directory rule, and the errors (ENAMETOOLONG ENOENT ENOTDIR EACCES
# ELOOP ENOTEMPTY/EEXIST EINVAL EPERM).
source "$(dirname "${BASH_SOURCE[0]}")/misc.sh"

expect 0 mkdir $n0 0755
expect dir lstat $n0 type
expect 0 rmdir $n0
expect ENOENT lstat $n0 type
expect 0 mkdir $n0 0755
tchange ctime,mtime . 0 rmdir $n0
expect 0 mkdir $n0 0755
expect 0 mkdir $n0/$n1 0755
tchange ctime,mtime $n0 0 rmdir $n0/$n1
tchange ctime,mtime $n0 ENOENT rmdir $n0/$n1
expect 0 rmdir $n0

# ENOTEMPTY (or EEXIST): anything inside.
expect 0 mkdir $n0 0755
for type in regular dir symlink; do
	create_file $type $n0/$n1
	expect "ENOTEMPTY|EEXIST" rmdir $n0
	expect dir lstat $n0 type
	remove $n0/$n1
done
expect 0 rmdir $n0

# ENOTDIR: a non-directory, as the object or as a component.
for type in regular symlink; do
	create_file $type $n0
	expect ENOTDIR rmdir $n0
	remove $n0
done
expect 0 create $n0 0644
expect ENOTDIR rmdir $n0/test
expect 0 unlink $n0
for type in regular dir; do
	create_file $type $n0
	expect 0 symlink $n0 $n3
	expect ENOTDIR rmdir $n3
	expect 0 unlink $n3
	remove $n0
done
expect 0 mkdir $n0 0755
expect 0 symlink $n0 $n1
expect ENOTDIR rmdir $n1
expect dir lstat $n0 type
expect 0 unlink $n1
expect 0 rmdir $n0

# EINVAL for ".", ENOTEMPTY (or EEXIST) for "..".
expect 0 mkdir $n0 0755
expect 0 mkdir $n0/$n1 0755
expect EINVAL rmdir $n0/$n1/.
expect "ENOTEMPTY|EEXIST" rmdir $n0/$n1/..
expect dir lstat $n0/$n1 type
expect 0 rmdir $n0/$n1
expect 0 rmdir $n0

# Sticky directories: only the directory's owner, its parent's owner or
# root may remove it.
expect 0 mkdir $n2 0755
expect 0 chown $n2 65533 65533
expect 0 chmod $n2 01777
expect 0 mkdir $n2/$n0 0755
expect 0 chown $n2/$n0 $U $G
expect 0 -u $U -g $G rmdir $n2/$n0
expect 0 mkdir $n2/$n0 0755
expect 0 chown $n2/$n0 $U $G
expect 0 -u 65533 -g 65533 rmdir $n2/$n0
expect 0 mkdir $n2/$n0 0755
expect 0 chown $n2/$n0 $U $G
tchange ctime,mtime $n2 EPERM -u 65532 -g 65532 rmdir $n2/$n0
expect dir lstat $n2/$n0 type
expect 0 rmdir $n2/$n0
expect 0 chmod $n2 0777
expect 0 mkdir $n2/$n0 0755
expect 0 chown $n2/$n0 $U $G
expect 0 -u 65532 -g 65532 rmdir $n2/$n0
expect 0 rmdir $n2

# ENAMETOOLONG.
expect 0 mkdir $name255 0755
expect 0 rmdir $name255
expect ENOENT lstat $name255 type
expect ENAMETOOLONG rmdir $name256
expect ENAMETOOLONG rmdir $path4096

# ENOENT.
expect ENOENT rmdir $n0
expect 0 mkdir $n0 0755
expect ENOENT rmdir $n0/$n1
expect ENOENT rmdir $n1/$n0
expect 0 rmdir $n0

# EACCES: search and write permission on the parent.
expect 0 mkdir $n1 0755
expect 0 chown $n1 $U $G
expect 0 -u $U -g $G mkdir $n1/$n2 0755
expect 0 chmod $n1 0644
expect EACCES -u $U -g $G rmdir $n1/$n2
expect 0 chmod $n1 0555
expect EACCES -u $U -g $G rmdir $n1/$n2
expect 0 chmod $n1 0755
expect EACCES -u 65533 -g 65533 rmdir $n1/$n2
expect dir lstat $n1/$n2 type
expect 0 -u $U -g $G rmdir $n1/$n2
expect 0 rmdir $n1

# ELOOP.
expect 0 symlink $n0 $n1
expect 0 symlink $n1 $n0
expect ELOOP rmdir $n0/test
expect ELOOP rmdir $n1/test
expect 0 unlink $n0
expect 0 unlink $n1

done_testing
