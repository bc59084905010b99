#!/bin/bash
# chown(2) and lchown(2): owners of every type, -1 for "unchanged", symlink
# following, ctime, who may change what (EPERM), set-uid/set-gid clearing,
# and the errors (ENAMETOOLONG ENOENT ENOTDIR EACCES ELOOP).
source "$(dirname "${BASH_SOURCE[0]}")/misc.sh"

for type in regular dir symlink; do
	create_file $type $n0
	expect 0 lchown $n0 123 456
	expect 123,456 lstat $n0 uid,gid
	expect 0 lchown $n0 -1 789
	expect 123,789 lstat $n0 uid,gid
	expect 0 lchown $n0 321 -1
	expect 321,789 lstat $n0 uid,gid
	expect 0 lchown $n0 -1 -1
	expect 321,789 lstat $n0 uid,gid
	tchange ctime $n0 0 lchown $n0 $U $G
	expect $U,$G lstat $n0 uid,gid
	tsame mtime $n0 0 lchown $n0 $U 65533
	# The owner may give the file to one of its own groups ...
	tchange ctime $n0 0 -u $U -g 65532,65531 lchown $n0 -1 65531
	expect $U,65531 lstat $n0 uid,gid
	expect 0 -u $U -g 65531,65532 lchown $n0 $U 65532
	expect $U,65532 lstat $n0 uid,gid
	# ... but not to a group it is not in, nor to another user.
	tchange ctime $n0 EPERM -u $U -g 65532 lchown $n0 -1 65530
	expect EPERM -u $U -g 65532 lchown $n0 65533 -1
	expect EPERM -u $U -g 65532 lchown $n0 65533 65532
	expect $U,65532 lstat $n0 uid,gid
	# A non-owner may change nothing, not even to the current values.
	expect EPERM -u 65533 -g 65532 lchown $n0 -1 65532
	expect EPERM -u 65533 -g 65533 lchown $n0 65533 65533
	expect $U,65532 lstat $n0 uid,gid
	remove $n0
done

# chown follows symlinks, lchown does not.
expect 0 create $n0 0644
expect 0 symlink $n0 $n1
expect 0 chown $n1 123 456
expect 123,456 stat $n1 uid,gid
expect 123,456 lstat $n0 uid,gid
expect 0,0 lstat $n1 uid,gid
expect 0 lchown $n1 789 987
expect 789,987 lstat $n1 uid,gid
expect 123,456 stat $n0 uid,gid
expect 0 unlink $n1
expect 0 unlink $n0

# A chown of a regular file by a non-root owner clears set-uid and set-gid
# (pjdfstest chown/00.t), as does root's on Linux; a failed one does not.
expect 0 create $n0 0644
expect 0 chown $n0 $U 65533
expect 0 chmod $n0 06555
expect 06555 stat $n0 mode
expect 0 -u $U -g 65533,65532 chown $n0 $U 65532
expect 0555,$U,65532 stat $n0 mode,uid,gid
expect 0 chmod $n0 06555
expect 0 -u $U -g 65533,65532 chown $n0 -1 65533
expect 0555,$U,65533 stat $n0 mode,uid,gid
expect 0 chmod $n0 06555
expect EPERM -u $U -g 65533 chown $n0 -1 65530
expect 06555 stat $n0 mode
expect 0 chown $n0 65530 65531
expect 0555,65530,65531 stat $n0 mode,uid,gid
expect 0 chmod $n0 04755
expect 0 chown $n0 0 0
expect 0755,0,0 stat $n0 mode,uid,gid
expect 0 unlink $n0
# A set-gid file without group-exec keeps it (not an executable).
expect 0 create $n0 02644
expect 0 chown $n0 65530 65531
expect 02644,65530,65531 stat $n0 mode,uid,gid
expect 0 unlink $n0
# Directories keep theirs.
expect 0 mkdir $n0 0755
expect 0 chown $n0 $U $G
expect 0 chmod $n0 06755
expect 0 -u $U -g $G,65532 chown $n0 -1 65532
expect 06755,$U,65532 stat $n0 mode,uid,gid
expect 0 chown $n0 65530 65531
expect 06755,65530,65531 stat $n0 mode,uid,gid
expect 0 rmdir $n0

# ENAMETOOLONG.
expect 0 create $name255 0644
expect 0 chown $name255 65534 65534
expect 65534,65534 stat $name255 uid,gid
expect 0 unlink $name255
expect ENAMETOOLONG chown $name256 65533 65533
expect ENAMETOOLONG lchown $name256 65533 65533
expect ENAMETOOLONG chown $path4096 65533 65533

# ENOENT.
expect 0 mkdir $n0 0755
expect ENOENT chown $n0/$n1 65534 65534
expect ENOENT lchown $n0/$n1 65534 65534
expect ENOENT chown $n1/$n0 65534 65534
expect 0 symlink $n1 $n2
expect ENOENT chown $n2 65534 65534
expect 0 lchown $n2 65534 65534
expect 0 unlink $n2
expect 0 rmdir $n0

# ENOTDIR.
expect 0 create $n0 0644
expect ENOTDIR chown $n0/test 65534 65534
expect ENOTDIR lchown $n0/test 65534 65534
expect 0 unlink $n0

# EACCES: search permission.
expect 0 mkdir $n1 0755
expect 0 chown $n1 $U $G
expect 0 -u $U -g $G create $n1/$n2 0644
expect 0 -u $U -g $G chown $n1/$n2 -1 $G
expect 0 chmod $n1 0644
expect EACCES -u $U -g $G chown $n1/$n2 -1 $G
expect EACCES -u $U -g $G lchown $n1/$n2 -1 $G
expect 0 chmod $n1 0755
expect 0 unlink $n1/$n2
expect 0 rmdir $n1

# ELOOP.
expect 0 symlink $n0 $n1
expect 0 symlink $n1 $n0
expect ELOOP chown $n0 65534 65534
expect ELOOP chown $n0/test 65534 65534
expect ELOOP lchown $n1/test 65534 65534
expect 0 unlink $n0
expect 0 unlink $n1

done_testing
