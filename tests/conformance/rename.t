#!/bin/bash
# rename(2): the object keeps its inode, mode and links; replacing a file
# or an empty directory; hard links to one file; the times of the object and
# of both parents; the sticky-directory rule; and the errors (ENAMETOOLONG
# ENOENT ENOTDIR EISDIR ENOTEMPTY/EEXIST EINVAL EACCES ELOOP EPERM).
source "$(dirname "${BASH_SOURCE[0]}")/misc.sh"

expect 0 mkdir $n3 0755
for type in regular dir symlink; do
	create_file $type $n0 0741
	m=$(get $n0 mode)
	i=$(get $n0 ino)
	expect 0 rename $n0 $n1
	expect ENOENT lstat $n0 type
	expect "$type,$m,$i" lstat $n1 type,mode,ino
	expect 0 rename $n1 $n3/$n2
	expect "$type,$m,$i" lstat $n3/$n2 type,mode,ino
	expect ENOENT lstat $n1 type
	c=$(get $n3/$n2 ctime_ns)
	nap
	expect 0 rename $n3/$n2 $n0
	check "rename of a $type moves its ctime" "$(get $n0 ctime_ns)" -gt "$c"
	remove $n0
done
# A hard-linked file keeps its links; a symlink is renamed, not followed.
expect 0 create $n0 0644
expect 0 link $n0 $n1
expect 0 rename $n1 $n3/$n2
expect 2 lstat $n0 nlink
expect 2 lstat $n3/$n2 nlink
expect 0 unlink $n3/$n2
expect 0 symlink $n0 $n1
expect 0 rename $n1 $n2
expect regular lstat $n0 type
expect "$n0" readlink $n2
expect 0 unlink $n2
# Two links to one file: rename does nothing, both stay.
expect 0 link $n0 $n1
expect 0 rename $n0 $n1
expect 2 lstat $n0 nlink
expect 2 lstat $n1 nlink
expect 0 unlink $n1
# Onto itself.
expect 0 rename $n0 $n0
expect regular lstat $n0 type
expect 0 unlink $n0

# Both parents' ctime and mtime move; a failed rename moves neither.
expect 0 create $n0 0644
tchange ctime,mtime . 0 rename $n0 $n1
tchange ctime,mtime $n3 0 rename $n1 $n3/$n0
tchange ctime,mtime . 0 rename $n3/$n0 $n1
tchange ctime,mtime $n3 ENOENT rename $n3/$n0 $n3/$n2
expect 0 unlink $n1
expect 0 mkdir $n0 0755
tchange ctime,mtime $n3 0 rename $n0 $n3/$n1
expect 0 rename $n3/$n1 $n0
expect 0 rmdir $n0

# Replacing: the old destination goes (its other links stay, with a new
# ctime); a directory replaces an empty directory.
for type in regular symlink; do
	create_file $type $n0
	i=$(get $n0 ino)
	expect 0 create $n1 0644
	expect 0 link $n1 $n2
	tchange ctime $n2 0 rename $n0 $n1
	expect "$type,$i" lstat $n1 type,ino
	expect regular,1 lstat $n2 type,nlink
	expect ENOENT lstat $n0 type
	remove $n1 $n2
done
expect 0 mkdir $n0 0755
expect 0 mkdir $n1 0755
i=$(get $n0 ino)
expect 0 rename $n0 $n1
expect dir,$i lstat $n1 type,ino
expect ENOENT lstat $n0 type
expect 0 rmdir $n1

# EISDIR: a non-directory onto a directory; ENOTDIR: the reverse.
expect 0 mkdir $n0 0755
for type in regular symlink; do
	create_file $type $n1
	expect EISDIR rename $n1 $n0
	expect ENOTDIR rename $n0 $n1
	expect dir lstat $n0 type
	expect $type lstat $n1 type
	remove $n1
done
expect 0 rmdir $n0

# ENOTEMPTY (or EEXIST): onto a directory with anything in it.
expect 0 mkdir $n0 0755
expect 0 mkdir $n1 0755
for type in regular dir symlink; do
	create_file $type $n1/$n2
	expect "ENOTEMPTY|EEXIST" rename $n0 $n1
	expect dir lstat $n0 type
	remove $n1/$n2
done
expect 0 rmdir $n1
expect 0 rmdir $n0

# EINVAL: a directory into itself or its own sub-directory; "." and "..".
expect 0 mkdir $n0 0755
expect 0 mkdir $n0/$n1 0755
expect EINVAL rename $n0 $n0/$n1/$n2
expect EINVAL rename $n0 $n0/$n2
expect "EINVAL|ENOTEMPTY|EEXIST" rename $n0 $n0/$n1
expect "EINVAL|EBUSY" rename $n0/$n1/. $n2
expect "EINVAL|EBUSY" rename $n0/$n1/.. $n2
expect dir lstat $n0/$n1 type
expect 0 rmdir $n0/$n1
expect 0 rmdir $n0

# Sticky directories: to move or replace a name in one, the caller must own
# the object or the directory (or be root).
expect 0 mkdir $n2 0755
expect 0 chown $n2 65533 65533
expect 0 chmod $n2 01777
expect 0 mkdir $n3/$n2 0777
for type in regular dir symlink; do
	create_file $type $n2/$n0 0755 $U $G
	expect 0 -u $U -g $G rename $n2/$n0 $n2/$n1
	expect 0 -u 65533 -g 65533 rename $n2/$n1 $n2/$n0
	expect EPERM -u 65532 -g 65532 rename $n2/$n0 $n2/$n1
	expect EPERM -u 65532 -g 65532 rename $n2/$n0 $n3/$n2/$n1
	expect $type,$U lstat $n2/$n0 type,uid
	expect 0 rename $n2/$n0 $n2/$n1
	remove $n2/$n1
done
# A destination in a sticky directory, owned by someone else.
expect 0 -u 65532 -g 65532 create $n3/$n2/$n0 0644
create_file regular $n2/$n1 0644 $U $G
expect EPERM -u 65532 -g 65532 rename $n3/$n2/$n0 $n2/$n1
expect $U lstat $n2/$n1 uid
expect 0 chown $n2/$n1 65532 65532
expect 0 -u 65532 -g 65532 rename $n3/$n2/$n0 $n2/$n1
expect 0 unlink $n2/$n1
expect 0 rmdir $n2
expect 0 rmdir $n3/$n2

# ENAMETOOLONG.
expect 0 create $n0 0644
expect 0 rename $n0 $name255
expect regular lstat $name255 type
expect 0 rename $name255 $n0
expect ENAMETOOLONG rename $n0 $name256
expect ENAMETOOLONG rename $name256 $n0
expect ENAMETOOLONG rename $n0 $path4096
expect regular lstat $n0 type
expect 0 unlink $n0

# ENOENT.
expect ENOENT rename $n0 $n1
expect 0 create $n0 0644
expect ENOENT rename $n0 $n2/$n1
expect ENOENT rename $n2/$n0 $n1
expect 0 unlink $n0

# ENOTDIR: a non-directory as a component.
expect 0 create $n0 0644
expect ENOTDIR rename $n0/test $n1
expect 0 create $n1 0644
expect ENOTDIR rename $n1 $n0/test
expect 0 unlink $n1
expect 0 unlink $n0

# EACCES: search on either side, write on either parent; moving a
# directory to another parent needs write permission on it (its "..").
expect 0 mkdir $n0 0755
expect 0 chown $n0 $U $G
expect 0 mkdir $n1 0755
expect 0 chown $n1 $U $G
expect 0 -u $U -g $G create $n0/$n2 0644
expect 0 -u $U -g $G rename $n0/$n2 $n1/$n2
expect 0 -u $U -g $G rename $n1/$n2 $n0/$n2
for m in 0644 0555; do
	expect 0 chmod $n0 $m
	expect EACCES -u $U -g $G rename $n0/$n2 $n1/$n2
	expect 0 chmod $n0 0755
	expect 0 chmod $n1 $m
	expect EACCES -u $U -g $G rename $n0/$n2 $n1/$n2
	expect 0 chmod $n1 0755
done
expect EACCES -u 65533 -g 65533 rename $n0/$n2 $n1/$n2
expect regular lstat $n0/$n2 type
expect 0 unlink $n0/$n2
expect 0 -u $U -g $G mkdir $n0/$n2 0555
expect EACCES -u $U -g $G rename $n0/$n2 $n1/$n2
expect 0 -u $U -g $G rename $n0/$n2 $n0/$n3
expect 0 -u $U -g $G chmod $n0/$n3 0755
expect 0 -u $U -g $G rename $n0/$n3 $n1/$n2
expect 0 rmdir $n1/$n2
expect 0 rmdir $n0
expect 0 rmdir $n1

# ELOOP.
expect 0 symlink $n0 $n1
expect 0 symlink $n1 $n0
expect 0 create $n2 0644
expect ELOOP rename $n0/test $n2
expect ELOOP rename $n2 $n1/test
expect 0 rename $n0 $n3/$n0
expect 0 unlink $n3/$n0
expect 0 unlink $n1
expect 0 unlink $n2
expect 0 rmdir $n3

done_testing
