#!/bin/bash
# link(2): link counts, one inode behind every name (mode, owner, size
# through any name), ctime of the file and the parent's times, hard links to
# symlinks, and the errors (ENAMETOOLONG ENOENT ENOTDIR EACCES ELOOP EEXIST
# EPERM for a directory).
source "$(dirname "${BASH_SOURCE[0]}")/misc.sh"

expect 0 mkdir $n3 0755
cd $n3
expect 0 create $n0 0644
expect regular,0644,1 lstat $n0 type,mode,nlink
expect 0 link $n0 $n1
expect regular,0644,2 lstat $n0 type,mode,nlink
expect regular,0644,2 lstat $n1 type,mode,nlink
expect 0 link $n1 $n2
expect 3 lstat $n0 nlink
expect 3 lstat $n2 nlink
i=$(get $n0 ino)
expect "$i" lstat $n1 ino
expect "$i" lstat $n2 ino
expect 0 chmod $n1 0201
expect 0 chown $n1 65534 65533
expect 0201,65534,65533 lstat $n0 mode,uid,gid
expect 0201,65534,65533 lstat $n2 mode,uid,gid
expect 0 truncate $n2 1234
expect 1234 lstat $n0 size
expect 0 unlink $n0
expect ENOENT lstat $n0 type
expect 0201,2 lstat $n1 mode,nlink
expect 0 unlink $n2
expect 1 lstat $n1 nlink
expect 0 unlink $n1
cd ..
expect 0 rmdir $n3

# Times: link moves the file's ctime and the new parent's ctime and mtime,
# not the file's mtime.
expect 0 create $n0 0644
tchange ctime $n0 0 link $n0 $n1
expect 0 unlink $n1
tsame mtime $n0 0 link $n0 $n1
expect 0 unlink $n1
expect 0 mkdir $n2 0755
tchange ctime,mtime $n2 0 link $n0 $n2/$n1
expect 2 lstat $n2/$n1 nlink
expect 0 unlink $n2/$n1
tchange ctime,mtime $n2 EEXIST link $n0 $n2/..
expect 0 rmdir $n2
# A failed link changes neither.
tchange ctime $n0 ENOENT link $n0 $n3/$n1
expect 0 unlink $n0

# A hard link to a symlink links the symlink itself.
expect 0 symlink $n3 $n0
expect 0 link $n0 $n1
expect symlink,2 lstat $n1 type,nlink
expect $n3 readlink $n1
expect 0 unlink $n0
expect symlink,1 lstat $n1 type,nlink
expect 0 unlink $n1

# The new link in another directory, made by a non-root user.
expect 0 mkdir $n2 0777
expect 0 -u $U -g $G create $n2/$n0 0644
expect 0 -u $U -g $G link $n2/$n0 $n2/$n1
expect $U,$G,2 lstat $n2/$n1 uid,gid,nlink
expect 0 unlink $n2/$n0
expect 0 unlink $n2/$n1
expect 0 rmdir $n2

# EPERM: a directory.
expect 0 mkdir $n0 0755
expect EPERM link $n0 $n1
expect ENOENT lstat $n1 type
expect 0 rmdir $n0

# EEXIST: any existing destination.
expect 0 create $n0 0644
for type in regular dir symlink; do
	create_file $type $n1
	expect EEXIST link $n0 $n1
	remove $n1
done
expect 0 symlink $n2 $n1
expect EEXIST link $n0 $n1
expect 1 lstat $n0 nlink
expect 0 unlink $n1
expect 0 unlink $n0

# ENAMETOOLONG.
expect 0 create $name255 0644
expect 0 link $name255 $n0
expect 2 lstat $n0 nlink
expect 0 unlink $name255
expect 0 link $n0 $name255
expect 0 unlink $n0
expect ENAMETOOLONG link $name255 $name256
expect ENAMETOOLONG link $name256 $n0
expect ENAMETOOLONG link $name255 $path4096
expect 0 unlink $name255

# ENOENT: a missing source, a missing destination directory.
expect ENOENT link $n0 $n1
expect 0 create $n0 0644
expect ENOENT link $n0 $n2/$n1
expect ENOENT link $n2/$n0 $n1
expect 0 symlink $n2 $n1
expect ENOENT link $n1/x $n3
expect 0 unlink $n1
expect 0 unlink $n0

# ENOTDIR.
expect 0 create $n0 0644
expect ENOTDIR link $n0/test $n1
expect 0 create $n1 0644
expect ENOTDIR link $n1 $n0/test
expect 0 unlink $n1
expect 0 unlink $n0

# EACCES: search permission on either side; write permission on the new
# link's directory.
expect 0 mkdir $n0 0755
expect 0 chown $n0 $U $G
expect 0 mkdir $n1 0755
expect 0 chown $n1 $U $G
expect 0 -u $U -g $G create $n0/$n2 0644
expect 0 -u $U -g $G link $n0/$n2 $n1/$n3
expect 0 -u $U -g $G unlink $n1/$n3
expect 0 chmod $n0 0644
expect EACCES -u $U -g $G link $n0/$n2 $n1/$n3
expect 0 chmod $n0 0755
expect 0 chmod $n1 0644
expect EACCES -u $U -g $G link $n0/$n2 $n1/$n3
expect 0 chmod $n1 0555
expect EACCES -u $U -g $G link $n0/$n2 $n1/$n3
expect 0 chmod $n1 0755
expect 1 lstat $n0/$n2 nlink
expect 0 unlink $n0/$n2
expect 0 rmdir $n0
expect 0 rmdir $n1

# ELOOP.
expect 0 symlink $n0 $n1
expect 0 symlink $n1 $n0
expect ELOOP link $n0/test $n2
expect ELOOP link $n1/test $n2
expect 0 create $n3 0644
expect ELOOP link $n3 $n0/test
expect 0 unlink $n3
expect 0 unlink $n0
expect 0 unlink $n1

done_testing
