#!/bin/bash
# unlink(2): the name goes, the link count of the rest drops and their
# ctime moves, the parent's times, an open file outlives its name, symlinks
# are removed themselves, the sticky-directory rule, and the errors
# (ENAMETOOLONG ENOENT ENOTDIR EACCES ELOOP EISDIR EPERM).
source "$(dirname "${BASH_SOURCE[0]}")/misc.sh"

for type in regular symlink; do
	create_file $type $n0
	expect 0 unlink $n0
	expect ENOENT lstat $n0 type
done
expect 0 create $n0 0644
expect 0 symlink $n0 $n1
expect 0 unlink $n1
expect regular lstat $n0 type
expect 0 unlink $n0

# Link counts and times.
expect 0 mkdir $n2 0755
expect 0 create $n2/$n0 0644
expect 0 link $n2/$n0 $n2/$n1
tchange ctime,mtime $n2 0 unlink $n2/$n0
expect 1 lstat $n2/$n1 nlink
expect 0 link $n2/$n1 $n2/$n0
tchange ctime $n2/$n1 0 unlink $n2/$n0
tsame mtime $n2/$n1 0 link $n2/$n1 $n2/$n0
tsame mtime $n2/$n1 0 unlink $n2/$n0
tchange ctime,mtime $n2 ENOENT unlink $n2/$n0
expect 0 unlink $n2/$n1
expect 0 rmdir $n2

# An open file outlives its name.
expect 0 create $n0 0644
expect 0 open $n0 O_RDWR : unlink $n0 : fstat 0 nlink
expect ENOENT lstat $n0 type
expect 0 create $n0 0644
expect 1 open $n0 O_RDWR : link $n0 $n1 : unlink $n0 : fstat 0 nlink
expect 0 unlink $n1
expect 0 -u $U -g $G open . O_RDONLY
expect 0 create $n0 0644
expect regular,0644 open $n0 O_RDWR : unlink $n0 : write 0 data : fstat 0 type,mode
expect ENOENT lstat $n0 type

# EISDIR: unlink of a directory (Linux).
expect 0 mkdir $n0 0755
expect EISDIR unlink $n0
expect dir lstat $n0 type
expect 0 rmdir $n0

# Sticky directories: only the file's owner, the directory's owner or root
# may remove a file.
expect 0 mkdir $n2 0755
expect 0 chown $n2 65533 65533
expect 0 chmod $n2 01777
for type in regular symlink; do
	# the owner of the file
	create_file $type $n2/$n0 0644 $U $G
	expect 0 -u $U -g $G unlink $n2/$n0
	# the owner of the directory
	create_file $type $n2/$n0 0644 $U $G
	expect 0 -u 65533 -g 65533 unlink $n2/$n0
	# root
	create_file $type $n2/$n0 0644 $U $G
	expect 0 unlink $n2/$n0
	# anyone else
	create_file $type $n2/$n0 0644 $U $G
	expect EPERM -u 65532 -g 65532 unlink $n2/$n0
	expect $U lstat $n2/$n0 uid
	expect 0 unlink $n2/$n0
done
# The same directory without the sticky bit: write permission is enough.
expect 0 chmod $n2 0777
create_file regular $n2/$n0 0644 $U $G
expect 0 -u 65532 -g 65532 unlink $n2/$n0
expect 0 rmdir $n2

# ENAMETOOLONG.
expect 0 create $name255 0644
expect 0 unlink $name255
expect ENOENT lstat $name255 type
expect ENAMETOOLONG unlink $name256
expect ENAMETOOLONG unlink $path4096

# ENOENT, ENOTDIR.
expect 0 mkdir $n0 0755
expect ENOENT unlink $n0/$n1
expect ENOENT unlink $n1/$n0
expect 0 rmdir $n0
expect 0 create $n0 0644
expect ENOTDIR unlink $n0/test
expect 0 symlink $n0 $n1
expect ENOTDIR unlink $n1/test
expect 0 unlink $n1
expect 0 unlink $n0

# EACCES: search and write permission on the parent.
expect 0 mkdir $n1 0755
expect 0 chown $n1 $U $G
expect 0 -u $U -g $G create $n1/$n2 0644
expect 0 chmod $n1 0644
expect EACCES -u $U -g $G unlink $n1/$n2
expect 0 chmod $n1 0555
expect EACCES -u $U -g $G unlink $n1/$n2
expect 0 chmod $n1 0755
expect EACCES -u 65533 -g 65533 unlink $n1/$n2
expect regular lstat $n1/$n2 type
expect 0 -u $U -g $G unlink $n1/$n2
expect 0 rmdir $n1

# ELOOP.
expect 0 symlink $n0 $n1
expect 0 symlink $n1 $n0
expect ELOOP unlink $n0/test
expect ELOOP unlink $n1/test
expect 0 unlink $n0
expect 0 unlink $n1

done_testing
