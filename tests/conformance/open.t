#!/bin/bash
# open(2): O_CREAT (mode, umask, owner, group, times, the parent's times),
# O_TRUNC, O_EXCL, O_NOFOLLOW, O_DIRECTORY, the permission classes, and the
# errors (ENAMETOOLONG ENOENT ENOTDIR EACCES ELOOP EISDIR EEXIST).
source "$(dirname "${BASH_SOURCE[0]}")/misc.sh"

expect 0 mkdir $n2 0777
for mode in 0755 0151 0000 0644 01777 06755; do
	expect 0 open $n2/$n0 O_CREAT,O_WRONLY $mode
	expect regular,$mode lstat $n2/$n0 type,mode
	expect 0 unlink $n2/$n0
done
expect 0 -U 077 open $n2/$n0 O_CREAT,O_WRONLY 0777
expect 0700 lstat $n2/$n0 mode
expect 0 unlink $n2/$n0
expect 0 -U 070 open $n2/$n0 O_CREAT,O_WRONLY 0777
expect 0707 lstat $n2/$n0 mode
expect 0 unlink $n2/$n0
expect 0 -U 0501 open $n2/$n0 O_CREAT,O_WRONLY 0777
expect 0276 lstat $n2/$n0 mode
expect 0 unlink $n2/$n0

# Owner and group: the caller's effective ids.
expect 0 -u 65535 -g 65535 open $n2/$n0 O_CREAT,O_WRONLY 0644
expect 65535,65535 lstat $n2/$n0 uid,gid
expect 0 unlink $n2/$n0
expect 0 -u 65535 -g 65534,65535 open $n2/$n0 O_CREAT,O_WRONLY 0644
expect 65535,65534 lstat $n2/$n0 uid,gid
expect 0 unlink $n2/$n0
# ... or, in a set-gid directory, the directory's group.
expect 0 chown $n2 0 65533
expect 0 chmod $n2 02777
expect 0 -u 65535 -g 65535 open $n2/$n0 O_CREAT,O_WRONLY 0644
expect 65535,65533,0644 lstat $n2/$n0 uid,gid,mode
expect 0 unlink $n2/$n0
expect 0 chmod $n2 0777
expect 0 chown $n2 0 0

# A new file: its three times equal and the parent's ctime and mtime move.
tchange ctime,mtime $n2 0 open $n2/$n0 O_CREAT,O_WRONLY 0644
a=$(get $n2/$n0 atime_ns)
m=$(get $n2/$n0 mtime_ns)
c=$(get $n2/$n0 ctime_ns)
d=$(get $n2 mtime_ns)
check "new file: atime = mtime" "$a" = "$m"
check "new file: mtime = ctime" "$m" = "$c"
check "new file: ctime = the parent's mtime" "$c" = "$d"
# O_CREAT on an existing file changes nothing.
tsame ctime,mtime $n2/$n0 0 open $n2/$n0 O_CREAT,O_RDONLY 0755
tsame ctime,mtime $n2 0 open $n2/$n0 O_CREAT,O_WRONLY 0755
expect 0644 lstat $n2/$n0 mode
# O_TRUNC of a non-empty file sets the size to 0 and moves ctime and mtime.
expect 0 open $n2/$n0 O_WRONLY : write 0 something
expect 9 lstat $n2/$n0 size
tchange ctime,mtime $n2/$n0 0 open $n2/$n0 O_WRONLY,O_TRUNC
expect 0 lstat $n2/$n0 size
expect 0 open $n2/$n0 O_WRONLY : write 0 something
tchange ctime,mtime $n2/$n0 0 open $n2/$n0 O_RDWR,O_TRUNC,O_CREAT 0644
expect 0 lstat $n2/$n0 size
expect 0 unlink $n2/$n0

# A file created with mode 0 is writable through the new descriptor.
expect 0 -u $U -g $G open $n2/$n0 O_CREAT,O_RDWR 0 : write 0 data : close 0
expect 4,0000 lstat $n2/$n0 size,mode
expect EACCES -u $U -g $G open $n2/$n0 O_RDONLY
expect 0 unlink $n2/$n0
expect 0 rmdir $n2

# Permission classes: owner, group, other, each bit alone (pjdfstest
# open/06.t): the first class that matches decides.
expect 0 mkdir $n2 0777
expect 0 create $n2/$n0 0644
expect 0 chown $n2/$n0 $U $G
for spec in "0500 O_RDONLY O_RDWR" "0400 O_RDONLY O_WRONLY" "0200 O_WRONLY O_RDONLY" \
	"0050 O_RDONLY O_RDWR" "0040 O_RDONLY O_WRONLY" "0020 O_WRONLY O_RDONLY" \
	"0005 O_RDONLY O_RDWR" "0004 O_RDONLY O_WRONLY" "0002 O_WRONLY O_RDONLY"; do
	set -- $spec
	expect 0 chmod $n2/$n0 $1
	case $1 in
	0?00) who="-u $U -g $G" other="-u 65533 -g 65533" ;;
	00?0) who="-u 65533 -g $G" other="-u 65533 -g 65533" ;;
	*) who="-u 65533 -g 65533" other="-u $U -g $G" ;;
	esac
	expect 0 $who open $n2/$n0 $2
	expect EACCES $who open $n2/$n0 $3
	expect EACCES $other open $n2/$n0 $2
done
expect 0 chmod $n2/$n0 0070
expect EACCES -u $U -g $G open $n2/$n0 O_RDONLY
expect 0 -u 65533 -g $G open $n2/$n0 O_RDWR
expect 0 chmod $n2/$n0 0
expect 0 open $n2/$n0 O_RDWR
expect EACCES -u $U -g $G open $n2/$n0 O_RDWR,O_TRUNC
expect 0 chmod $n2/$n0 0444
expect EACCES -u $U -g $G open $n2/$n0 O_RDONLY,O_TRUNC
expect 0 unlink $n2/$n0
expect 0 rmdir $n2

# EACCES: search permission on a component; write permission on the parent
# for O_CREAT.
expect 0 mkdir $n1 0755
expect 0 chown $n1 $U $G
expect 0 -u $U -g $G create $n1/$n2 0644
expect 0 -u $U -g $G open $n1/$n2 O_RDONLY
expect 0 chmod $n1 0644
expect EACCES -u $U -g $G open $n1/$n2 O_RDONLY
expect EACCES -u $U -g $G open $n1/$n0 O_CREAT,O_WRONLY 0644
expect 0 chmod $n1 0555
expect EACCES -u $U -g $G open $n1/$n0 O_CREAT,O_WRONLY 0644
tchange ctime,mtime $n1 EACCES -u 65533 -g 65533 open $n1/$n0 O_CREAT,O_RDWR 0644
expect ENOENT lstat $n1/$n0 type
expect 0 -u $U -g $G open $n1/$n2 O_RDWR
expect 0 chmod $n1 0755
expect 0 unlink $n1/$n2
expect 0 rmdir $n1

# ENAMETOOLONG.
expect 0 open $name255 O_CREAT,O_WRONLY 0620
expect 0620 stat $name255 mode
expect 0 unlink $name255
expect ENAMETOOLONG open $name256 O_CREAT,O_WRONLY 0620
expect ENOENT lstat $name255 type
expect ENAMETOOLONG open $path4096 O_RDONLY

# ENOENT, ENOTDIR.
expect 0 mkdir $n0 0755
expect ENOENT open $n0/$n1 O_RDONLY
expect ENOENT open $n1/$n0 O_CREAT,O_WRONLY 0644
expect 0 symlink $n1 $n2
expect ENOENT open $n2 O_RDONLY
expect 0 open $n2 O_CREAT,O_WRONLY 0644
expect regular lstat $n1 type
expect 0 unlink $n1
expect 0 unlink $n2
expect 0 rmdir $n0
expect 0 create $n0 0644
expect ENOTDIR open $n0/test O_RDONLY
expect ENOTDIR open $n0/test O_CREAT,O_WRONLY 0644
expect ENOTDIR open $n0 O_RDONLY,O_DIRECTORY
expect 0 symlink $n0 $n1
expect ENOTDIR open $n1/test O_RDONLY
expect 0 unlink $n1
expect 0 unlink $n0

# ELOOP: a loop; O_NOFOLLOW on a symlink.
expect 0 symlink $n0 $n1
expect 0 symlink $n1 $n0
expect ELOOP open $n0 O_RDONLY
expect ELOOP open $n1/test O_RDONLY
expect ELOOP open $n0 O_CREAT,O_WRONLY 0644
expect 0 unlink $n0
expect 0 unlink $n1
expect 0 create $n0 0644
expect 0 symlink $n0 $n1
expect ELOOP open $n1 O_RDONLY,O_NOFOLLOW
expect 0 open $n0 O_RDONLY,O_NOFOLLOW
expect 0 unlink $n1
expect 0 unlink $n0

# EISDIR: a directory opened for writing.
expect 0 mkdir $n0 0755
expect 0 open $n0 O_RDONLY
expect 0 open $n0 O_RDONLY,O_DIRECTORY
expect EISDIR open $n0 O_WRONLY
expect EISDIR open $n0 O_RDWR
expect EISDIR open $n0 O_RDONLY,O_TRUNC
expect EISDIR open $n0 O_CREAT,O_WRONLY 0644
expect 0 rmdir $n0

# EEXIST: O_CREAT|O_EXCL on anything existing, a symlink included (even a
# dangling one: it is not followed).
for type in regular dir symlink; do
	create_file $type $n0
	expect EEXIST open $n0 O_CREAT,O_EXCL,O_WRONLY 0644
	remove $n0
done
expect 0 symlink $n1 $n0
expect EEXIST open $n0 O_CREAT,O_EXCL,O_WRONLY 0644
expect ENOENT lstat $n1 type
expect 0 unlink $n0

done_testing
