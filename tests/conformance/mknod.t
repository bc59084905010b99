#!/bin/bash
# mknod(2), mkfifo(3), bind(2) of a unix socket: the special files. itemfs
# refuses FIFOs, sockets and device nodes with EPERM by design (an item is
# data): those assertions are listed in expected-failures. mknod of a regular
# file works everywhere.
source "$(dirname "${BASH_SOURCE[0]}")/misc.sh"

expect 0 mknod $n0 f 0640 0 0
expect regular,0640,0 lstat $n0 type,mode,size
expect 0 unlink $n0
expect EEXIST mknod $n1 f 0640 0 0 : mknod $n1 f 0640 0 0
expect 0 unlink $n1

# Each special type: made, typed, given a mode, an owner and a link,
# renamed, removed.
for spec in "fifo mkfifo sp_fifo 0644" "char mknod sp_char c 0644 1 3" \
	"block mknod sp_block b 0644 7 0" "socket bind sp_socket"; do
	set -- $spec
	type=$1 name=$3
	shift
	expect 0 "$@"
	expect $type lstat $name type
	expect 0 chmod $name 0601
	expect 0601 lstat $name mode
	expect 0 chown $name $U $G
	expect $U,$G lstat $name uid,gid
	expect 0 link $name ${name}2
	expect 2 lstat ${name}2 nlink
	expect 0 unlink ${name}2
	expect 0 rename $name ${name}3
	expect 0 unlink ${name}3
	expect ENOENT lstat ${name}3 type
done

done_testing
