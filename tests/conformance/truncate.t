#!/bin/bash
# truncate(2): growing and shrinking, ctime and mtime, permission on the file
# and its path, and the errors (ENAMETOOLONG ENOENT ENOTDIR EACCES ELOOP
# EISDIR EINVAL).
source "$(dirname "${BASH_SOURCE[0]}")/misc.sh"

expect 0 create $n0 0644
expect 0 truncate $n0 345678
expect 345678 lstat $n0 size
expect 0 truncate $n0 567
expect 567 lstat $n0 size
expect 0 truncate $n0 0
expect 0 lstat $n0 size
tchange ctime,mtime $n0 0 truncate $n0 123
expect 123 stat $n0 size
tchange ctime,mtime $n0 0 truncate $n0 12
expect 12 stat $n0 size
tsame atime $n0 0 truncate $n0 100
expect 0 unlink $n0

# Through a symlink: the target changes.
expect 0 create $n0 0644
expect 0 symlink $n0 $n1
expect 0 truncate $n1 4096
expect 4096 stat $n0 size
expect 0 unlink $n1
expect 0 unlink $n0

# Write permission on the file is what counts.
expect 0 create $n0 0644
expect 0 chown $n0 $U $G
expect 0 -u $U -g $G truncate $n0 10
expect 10 stat $n0 size
expect 0 chmod $n0 0444
tchange ctime,mtime $n0 EACCES -u $U -g $G truncate $n0 20
expect 10 stat $n0 size
expect 0 chmod $n0 0646
expect 0 chown $n0 0 0
expect 0 -u $U -g $G truncate $n0 30
expect 0 chmod $n0 0664
expect 0 chown $n0 0 $G
expect 0 -u $U -g $G truncate $n0 40
expect EACCES -u $U -g 65533 truncate $n0 50
expect 40 stat $n0 size
expect 0 unlink $n0

# EISDIR, EINVAL.
expect 0 mkdir $n0 0755
expect EISDIR truncate $n0 123
expect 0 rmdir $n0
expect 0 create $n0 0644
expect EINVAL truncate $n0 -1
expect 0 lstat $n0 size
expect 0 unlink $n0

# ENAMETOOLONG.
expect 0 create $name255 0644
expect 0 truncate $name255 123
expect 123 stat $name255 size
expect 0 unlink $name255
expect ENAMETOOLONG truncate $name256 123
expect ENAMETOOLONG truncate $path4096 123

# ENOENT, ENOTDIR.
expect 0 mkdir $n0 0755
expect ENOENT truncate $n0/$n1 123
expect ENOENT truncate $n1/$n0 123
expect 0 symlink $n1 $n2
expect ENOENT truncate $n2 123
expect 0 unlink $n2
expect 0 rmdir $n0
expect 0 create $n0 0644
expect ENOTDIR truncate $n0/test 123
expect 0 unlink $n0

# EACCES: search permission.
expect 0 mkdir $n1 0755
expect 0 chown $n1 $U $G
expect 0 -u $U -g $G create $n1/$n2 0644
expect 0 -u $U -g $G truncate $n1/$n2 123
expect 0 chmod $n1 0644
expect EACCES -u $U -g $G truncate $n1/$n2 1234
expect 0 chmod $n1 0755
expect 123 stat $n1/$n2 size
expect 0 unlink $n1/$n2
expect 0 rmdir $n1

# ELOOP.
expect 0 symlink $n0 $n1
expect 0 symlink $n1 $n0
expect ELOOP truncate $n0 123
expect ELOOP truncate $n1/test 123
expect 0 unlink $n0
expect 0 unlink $n1

done_testing
