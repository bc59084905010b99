#!/bin/bash
# chmod(2): modes, following symlinks, ctime, and the errors
# (ENAMETOOLONG ENOENT ENOTDIR EACCES ELOOP EPERM), set-gid clearing by a
# non-member owner, and set-uid/set-gid clearing on write and truncate.
source "$(dirname "${BASH_SOURCE[0]}")/misc.sh"

# Modes of every type, through the name and through a symlink.
for type in regular dir; do
	create_file $type $n0
	for mode in 0111 0644 0700 0755 01777 04755 02755 06777 0000; do
		expect 0 chmod $n0 $mode
		expect $mode stat $n0 mode
	done
	expect 0 symlink $n0 $n1
	expect 0 chmod $n1 0701
	expect 0701 stat $n0 mode
	expect 0701 stat $n1 mode
	expect 0 unlink $n1
	tchange ctime $n0 0 chmod $n0 0755
	tsame mtime $n0 0 chmod $n0 0711
	# Failed chmod (not the owner) leaves ctime and mode alone.
	tchange ctime $n0 EPERM -u $U -g $G chmod $n0 0777
	expect 0711 stat $n0 mode
	remove $n0
done

# chmod through a symlink does not change the symlink's own mode.
expect 0 create $n0 0644
expect 0 symlink $n0 $n1
l=$(get $n1 mode)
expect 0 chmod $n1 0600
expect "$l" lstat $n1 mode
expect 0600 stat $n0 mode
expect 0 unlink $n1
expect 0 unlink $n0

# The owner may chmod, as may root; others may not.
expect 0 create $n0 0644
expect 0 chown $n0 $U $G
expect 0 -u $U -g $G chmod $n0 0600
expect 0600 stat $n0 mode
expect EPERM -u 65533 -g $G chmod $n0 0644
expect EPERM -u 65533 -g 65533 chmod $n0 0644
expect 0600 stat $n0 mode
expect 0 chmod $n0 0640
expect 0640 stat $n0 mode
# Linux lets a non-root owner set the sticky bit on a file.
expect 0 -u $U -g $G chmod $n0 01644
expect 01644 stat $n0 mode
expect 0 unlink $n0

# S_ISGID is cleared when a non-root owner chmods a file whose group is not
# among theirs; kept if it is.
expect 0 create $n0 0755
expect 0 chown $n0 65535 65535
expect 0 -u 65535 -g 65535 chmod $n0 02755
expect 02755 stat $n0 mode
expect 0 -u 65535 -g 65535 chmod $n0 0755
expect 0755 stat $n0 mode
expect 0 -u 65535 -g 65534 chmod $n0 02755
expect 0755 stat $n0 mode
expect 0 -u 65535 -g 65534,65535 chmod $n0 02755
expect 02755 stat $n0 mode
expect 0 -u 65535 -g 65534 chmod $n0 04755
expect 04755 stat $n0 mode
expect 0 unlink $n0
# root keeps it whatever its groups.
expect 0 create $n0 0755
expect 0 chown $n0 65535 65535
expect 0 -g 0 chmod $n0 02755
expect 02755 stat $n0 mode
expect 0 unlink $n0

# The same for a directory owned by a non-member: the bit is cleared too.
expect 0 mkdir $n0 0755
expect 0 chown $n0 65535 65535
expect 0 -u 65535 -g 65534 chmod $n0 02755
expect 0755 stat $n0 mode
expect 0 -u 65535 -g 65535 chmod $n0 03755
expect 03755 stat $n0 mode
expect 0 rmdir $n0

# ENAMETOOLONG: a name of 256 bytes (255 work), a path of PATH_MAX.
expect 0 create $name255 0644
expect 0 chmod $name255 0620
expect 0620 stat $name255 mode
expect 0 unlink $name255
expect ENAMETOOLONG chmod $name256 0620
expect ENAMETOOLONG chmod $path4096 0620

# ENOENT: a missing object, a missing component, a dangling symlink.
expect 0 mkdir $n0 0755
expect ENOENT chmod $n0/$n1 0644
expect ENOENT chmod $n1/$n0 0644
expect 0 symlink $n1 $n2
expect ENOENT chmod $n2 0644
expect 0 unlink $n2
expect 0 rmdir $n0

# ENOTDIR: a regular file (or a symlink to one) as a path component.
expect 0 create $n0 0644
expect ENOTDIR chmod $n0/test 0644
expect 0 symlink $n0 $n1
expect ENOTDIR chmod $n1/test 0644
expect 0 unlink $n1
expect 0 unlink $n0

# EACCES: no search permission on a path component.
expect 0 mkdir $n1 0755
expect 0 chown $n1 $U $G
expect 0 -u $U -g $G create $n1/$n2 0644
expect 0 -u $U -g $G chmod $n1/$n2 0642
expect 0642 -u $U -g $G stat $n1/$n2 mode
expect 0 chmod $n1 0644
expect EACCES -u $U -g $G chmod $n1/$n2 0620
expect 0 chmod $n1 0755
expect 0642 -u $U -g $G stat $n1/$n2 mode
expect 0 unlink $n1/$n2
expect 0 rmdir $n1

# ELOOP: a symlink loop, as the object and as a component.
expect 0 symlink $n0 $n1
expect 0 symlink $n1 $n0
expect ELOOP chmod $n0 0644
expect ELOOP chmod $n1/test 0644
expect 0 unlink $n0
expect 0 unlink $n1

# set-uid/set-gid: a write or a truncate by a non-owner (who has no
# CAP_FSETID) clears them (pjdfstest chmod/12.t, with truncate added).
for mode in 04777 02777 06777; do
	expect 0 create $n0 $mode
	expect 0777 -u $U -g $G open $n0 O_WRONLY : write 0 x : fstat 0 mode
	expect 0777 stat $n0 mode
	expect 0 unlink $n0
	expect 0 create $n0 $mode
	expect 0 -u $U -g $G truncate $n0 10
	expect 0777 stat $n0 mode
	expect 0 unlink $n0
done
# ... and by the owner too, when the owner is not root.
for mode in 04777 02777 06777; do
	expect 0 create $n0 $mode
	expect 0 chown $n0 $U $G
	expect 0 chmod $n0 $mode
	expect 0 -u $U -g $G open $n0 O_RDWR : write 0 x : close 0
	expect 0777 stat $n0 mode
	expect 0 unlink $n0
done
# root (CAP_FSETID) writes keep them.
expect 0 create $n0 06777
expect 0 open $n0 O_WRONLY : write 0 x : close 0
expect 06777 stat $n0 mode
expect 0 unlink $n0

done_testing
