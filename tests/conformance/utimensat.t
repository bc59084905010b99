#!/bin/bash
# utimensat(2): exact times with nanoseconds, UTIME_NOW, UTIME_OMIT,
# AT_SYMLINK_NOFOLLOW, times before 1970 and after 2038, ctime, who may set
# what (EACCES EPERM), EINVAL for bad nanoseconds, and the path errors
# (ENAMETOOLONG ENOENT ENOTDIR EACCES ELOOP).
source "$(dirname "${BASH_SOURCE[0]}")/misc.sh"

for type in regular dir; do
	create_file $type $n0
	expect 0 utimensat $n0 1900000000 123456789 1950000000 987654321
	expect 1900000000,123456789,1950000000,987654321 stat $n0 atime,atime_nsec,mtime,mtime_nsec
	# UTIME_OMIT keeps one, UTIME_NOW sets it to now.
	expect 0 utimensat $n0 1000000000 1 0 UTIME_OMIT
	expect 1000000000,1,1950000000,987654321 stat $n0 atime,atime_nsec,mtime,mtime_nsec
	expect 0 utimensat $n0 0 UTIME_OMIT 1100000000 999999999
	expect 1000000000,1,1100000000,999999999 stat $n0 atime,atime_nsec,mtime,mtime_nsec
	tsame atime,mtime,ctime $n0 0 utimensat $n0 0 UTIME_OMIT 0 UTIME_OMIT
	tchange ctime $n0 0 utimensat $n0 1 0 2 0
	expect 1,2 stat $n0 atime,mtime
	t0=$(date +%s)
	expect 0 utimensat $n0 0 UTIME_NOW 0 UTIME_NOW
	t1=$(date +%s)
	a=$(get $n0 atime)
	m=$(get $n0 mtime)
	check "UTIME_NOW sets atime to now ($type)" "$a" -ge "$t0" -a "$a" -le "$t1"
	check "UTIME_NOW sets mtime to now ($type)" "$m" -ge "$t0" -a "$m" -le "$t1"
	expect 0 utimensat $n0 5 0 6 0
	expect 0 utimensat $n0 0 UTIME_NOW 0 UTIME_OMIT
	check "UTIME_NOW for atime only ($type)" "$(get $n0 atime)" -ge "$t0"
	expect 6 stat $n0 mtime
	# Before 1970, after 2038.
	expect 0 utimensat $n0 -1 0 -100000 500
	expect -1,-100000,500 stat $n0 atime,mtime,mtime_nsec
	expect 0 utimensat $n0 4294967296 0 9999999999 42
	expect 4294967296,9999999999,42 stat $n0 atime,mtime,mtime_nsec
	remove $n0
done

# Through a symlink: the target's times; with AT_SYMLINK_NOFOLLOW: the
# symlink's own.
expect 0 create $n0 0644
expect 0 symlink $n0 $n1
expect 0 utimensat $n0 1000000000 0 1000000000 0
expect 0 utimensat $n1 1900000000 7 1950000000 8
expect 1900000000,7,1950000000,8 stat $n0 atime,atime_nsec,mtime,mtime_nsec
expect 0 utimensat $n1 1200000000 3 1300000000 4 AT_SYMLINK_NOFOLLOW
expect 1200000000,3,1300000000,4 lstat $n1 atime,atime_nsec,mtime,mtime_nsec
expect 1900000000,7,1950000000,8 stat $n0 atime,atime_nsec,mtime,mtime_nsec
expect 0 unlink $n1
expect 0 unlink $n0

# Who may: the owner and root set any time; a non-owner with write
# permission only UTIME_NOW for both; anyone else nothing.
expect 0 create $n0 0644
expect 0 chown $n0 $U $G
expect 0 -u $U -g $G utimensat $n0 1900000000 0 1950000000 0
expect 1900000000,1950000000 stat $n0 atime,mtime
expect 0 -u $U -g $G utimensat $n0 0 UTIME_NOW 0 UTIME_NOW
expect 0 utimensat $n0 1800000000 0 1850000000 0
expect 1800000000,1850000000 stat $n0 atime,mtime
tchange ctime $n0 EPERM -u 65533 -g 65533 utimensat $n0 1900000000 0 1950000000 0
expect EACCES -u 65533 -g 65533 utimensat $n0 0 UTIME_NOW 0 UTIME_NOW
expect 1800000000,1850000000 stat $n0 atime,mtime
expect 0 chmod $n0 0666
expect 0 -u 65533 -g 65533 utimensat $n0 0 UTIME_NOW 0 UTIME_NOW
expect EPERM -u 65533 -g 65533 utimensat $n0 1900000000 0 1950000000 0
expect EPERM -u 65533 -g 65533 utimensat $n0 0 UTIME_NOW 1950000000 0
expect EPERM -u 65533 -g 65533 utimensat $n0 0 UTIME_OMIT 0 UTIME_NOW
expect 0 chmod $n0 0646
expect 0 chown $n0 0 $G
expect EACCES -u 65533 -g $G utimensat $n0 0 UTIME_NOW 0 UTIME_NOW
expect 0 -u 65533 -g 65533 utimensat $n0 0 UTIME_NOW 0 UTIME_NOW
expect 0 unlink $n0

# EINVAL: nanoseconds out of range.
expect 0 create $n0 0644
expect 0 utimensat $n0 10 0 20 0
expect EINVAL utimensat $n0 1 1000000000 2 0
expect EINVAL utimensat $n0 1 0 2 -1
expect 10,20 stat $n0 atime,mtime
expect 0 unlink $n0

# ENAMETOOLONG.
expect 0 create $name255 0644
expect 0 utimensat $name255 1 0 2 0
expect 1,2 stat $name255 atime,mtime
expect 0 unlink $name255
expect ENAMETOOLONG utimensat $name256 1 0 2 0
expect ENAMETOOLONG utimensat $path4096 1 0 2 0

# ENOENT, ENOTDIR.
expect ENOENT utimensat $n0 1 0 2 0
expect ENOENT utimensat $n0/$n1 1 0 2 0
expect 0 symlink $n1 $n0
expect ENOENT utimensat $n0 1 0 2 0
expect 0 utimensat $n0 1 0 2 0 AT_SYMLINK_NOFOLLOW
expect 1,2 lstat $n0 atime,mtime
expect 0 unlink $n0
expect 0 create $n0 0644
expect ENOTDIR utimensat $n0/test 1 0 2 0
expect 0 unlink $n0

# EACCES: search permission.
expect 0 mkdir $n1 0755
expect 0 chown $n1 $U $G
expect 0 -u $U -g $G create $n1/$n2 0644
expect 0 -u $U -g $G utimensat $n1/$n2 1 0 2 0
expect 0 chmod $n1 0644
expect EACCES -u $U -g $G utimensat $n1/$n2 3 0 4 0
expect 0 chmod $n1 0755
expect 1,2 stat $n1/$n2 atime,mtime
expect 0 unlink $n1/$n2
expect 0 rmdir $n1

# ELOOP.
expect 0 symlink $n0 $n1
expect 0 symlink $n1 $n0
expect ELOOP utimensat $n0 1 0 2 0
expect ELOOP utimensat $n1/test 1 0 2 0
expect 0 utimensat $n0 1 0 2 0 AT_SYMLINK_NOFOLLOW
expect 0 unlink $n0
expect 0 unlink $n1

done_testing
