#!/bin/bash
# The top level of a mount is the list of tables: mkdir creates one, rmdir
# deletes an empty one, rm -rf deletes one with its items, ls lists them in
# byte order. Nothing but directories may live there: regular files,
# symlinks, hard links, device nodes and FIFOs are refused with EPERM.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
start_itemfs

step "a new store has no tables"
assert_eq "" "$(ls -A "$MNT")" "ls of a new mount"
assert_eq "directory 2" "$(st '%F %h' "$MNT")" "type and nlink of the top level"

step "mkdir creates tables; ls lists them in byte order"
for t in users Orders 2024-log _tmp zeta événements; do
	mkdir "$MNT/$t"
done
assert_eq "$(printf '%s\n' users Orders 2024-log _tmp zeta événements | sort)" \
	"$(ls_f "$MNT")" "ls -f of the top level"
assert_eq "$(printf '%s\n' users Orders 2024-log _tmp zeta événements | sort)" "$(ls "$MNT")" "ls"
assert_eq "directory 755 0 0" "$(st '%F %a %u %g' "$MNT/users")" "a new table"
assert_eq 8 "$(st %h "$MNT")" "nlink of the top level with 6 tables"
expect_fail 1 "File exists" mkdir "$MNT/users"

step "rmdir deletes an empty table"
rmdir "$MNT/zeta"
assert_absent "$MNT/zeta"
assert_eq 7 "$(st %h "$MNT")" "nlink of the top level after rmdir"

step "rmdir of a table with items: ENOTEMPTY, nothing lost"
printf 'alice' >"$MNT/users/alice"
expect_fail 1 "Directory not empty" rmdir "$MNT/users"
assert_eq alice "$(cat "$MNT/users/alice")" "item of the table rmdir refused to delete"

step "rm -rf deletes a table with its items (many, nested)"
mkdir -p "$MNT/Orders/2024/01" "$MNT/Orders/2024/02"
for i in $(seq 1 300); do
	printf 'order %d' "$i" >"$MNT/Orders/2024/0$((i % 2 + 1))/order-$i"
done
head -c 300000 /dev/urandom >"$MNT/Orders/big"
ln -s 2024/01 "$MNT/Orders/latest"
assert_eq 301 "$(find "$MNT/Orders" -type f | wc -l)" "items written to Orders"
run_ok rm -rf "$MNT/Orders"
assert_absent "$MNT/Orders"
assert_eq "$(printf '%s\n' users 2024-log _tmp événements | sort)" "$(ls "$MNT")" "tables after rm -rf Orders"
mkdir "$MNT/Orders"
assert_eq "" "$(ls -A "$MNT/Orders")" "a re-created table is empty"

step "a regular file at the top level: EPERM"
expect_fail 1 "Operation not permitted" touch "$MNT/file"
expect_fail 1 "Operation not permitted" sh_c 'printf x > "$1"' "$MNT/file"
hx EPERM open "$MNT/file" wronly,creat,excl
hx EPERM mknod "$MNT/file" reg
assert_absent "$MNT/file"

step "a symlink, hard link, FIFO or device at the top level: EPERM"
expect_fail 1 "Operation not permitted" ln -s users "$MNT/link"
expect_fail 1 "Operation not permitted" ln "$MNT/users/alice" "$MNT/hardlink"
expect_fail 1 "Operation not permitted" mkfifo "$MNT/fifo"
hx EPERM mknod "$MNT/sock" sock
hx EPERM mknod "$MNT/chr" chr
assert_eq 1 "$(st %h "$MNT/users/alice")" "nlink of the item a refused hard link named"

step "moving an item to the top level: EPERM, the item stays"
hx EPERM rename "$MNT/users/alice" "$MNT/alice"
assert_eq alice "$(cat "$MNT/users/alice")" "item after the refused move"
assert_eq "$(printf '%s\n' Orders users 2024-log _tmp événements | sort)" "$(ls "$MNT")" "tables after the refused creations"

step "tables survive a remount"
restart_itemfs
assert_eq "$(printf '%s\n' Orders users 2024-log _tmp événements | sort)" "$(ls "$MNT")" "tables after remount"
assert_eq alice "$(cat "$MNT/users/alice")" "item after remount"
stop_itemfs

echo "PASS"
