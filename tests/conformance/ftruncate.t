#!/bin/bash
# ftruncate(2): growing and shrinking an open file, ctime and mtime, a
# descriptor's rights decided at open (not by the mode afterwards), and the
# errors (EINVAL for a descriptor not open for writing, a directory, a
# negative length).
source "$(dirname "${BASH_SOURCE[0]}")/misc.sh"

expect 0 create $n0 0644
expect 345678 open $n0 O_RDWR : ftruncate 0 345678 : fstat 0 size
expect 345678 lstat $n0 size
expect 567 open $n0 O_WRONLY : ftruncate 0 567 : fstat 0 size
expect 567 lstat $n0 size
expect 0 open $n0 O_RDWR : ftruncate 0 0 : close 0
expect 0 lstat $n0 size
tchange ctime,mtime $n0 0 open $n0 O_RDWR : ftruncate 0 123 : close 0
expect 123 stat $n0 size
tchange ctime,mtime $n0 0 open $n0 O_WRONLY : ftruncate 0 12 : close 0
expect 12 stat $n0 size
expect 0 unlink $n0

# Written data, then a truncate on the same descriptor.
expect 0 create $n0 0644
expect 3 open $n0 O_RDWR : write 0 abcdefghij : ftruncate 0 3 : fstat 0 size
expect 3 stat $n0 size
expect 20 open $n0 O_RDWR : write 0 abcdefghij : ftruncate 0 20 : fstat 0 size
expect 20 stat $n0 size
expect 0 unlink $n0

# The descriptor's rights come from the open: a mode of 0 afterwards, or
# another owner, does not matter.
expect 0 create $n0 0644
expect 0 chown $n0 $U $G
expect 0 -u $U -g $G open $n0 O_RDWR : chmod $n0 0 : ftruncate 0 1234 : close 0
expect 1234,0000 stat $n0 size,mode
expect 0 chmod $n0 0644
expect 0 -u $U -g $G open $n0 O_WRONLY : chmod $n0 0444 : ftruncate 0 123 : close 0
expect 123,0444 stat $n0 size,mode
expect 0 chmod $n0 0666
expect 0 chown $n0 0 0
expect 0 -u $U -g $G open $n0 O_RDWR : ftruncate 0 99 : close 0
expect 99 stat $n0 size
expect 0 unlink $n0

# EINVAL: not open for writing, a directory, a negative length.
expect 0 create $n0 0644
expect 0 truncate $n0 10
expect EINVAL open $n0 O_RDONLY : ftruncate 0 123
expect EINVAL open $n0 O_RDWR : ftruncate 0 -1
expect 10 stat $n0 size
tchange ctime,mtime $n0 EINVAL open $n0 O_RDONLY : ftruncate 0 0
expect 0 unlink $n0
expect 0 mkdir $n0 0755
expect EINVAL open $n0 O_RDONLY : ftruncate 0 123
expect 0 rmdir $n0

# set-uid/set-gid: cleared by a non-owner's ftruncate.
for mode in 04777 02777 06777; do
	expect 0 create $n0 $mode
	expect 0777 -u $U -g $G open $n0 O_RDWR : ftruncate 0 5 : fstat 0 mode
	expect 0777 stat $n0 mode
	expect 0 unlink $n0
done

done_testing
