#!/bin/bash
# Access control: the store's files are the owner's alone (0600 in a 0700
# directory, whatever the umask); without allow_other nobody but the
# mounting user gets into the mount; with it the kernel enforces modes and
# owners (default_permissions, always on); symlink targets are stored
# verbatim and never followed by the daemon, so nothing outside the store
# becomes reachable through it, and `..` at the mount's root is the
# mountpoint's parent, as for any filesystem.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

step "a new store is 0700, its files 0600, whatever the umask"
umask 000
start_itemfs
umask 022
mkdir "$MNT/t"
printf 'root only' >"$MNT/t/secret"
stop_itemfs
assert_eq "700 0 0" "$(st '%a %u %g' "$STORE")" "mode and owner of the new store directory"
for f in data.mdb lock.mdb; do
	assert_eq "600 0 0" "$(st '%a %u %g' "$STORE/$f")" "mode and owner of $f"
done
assert_eq "data.mdb lock.mdb" "$(ls "$STORE" | tr '\n' ' ' | sed 's/ $//')" "files of the store directory"
expect_fail 1 "Permission denied" nobody cat "$STORE/data.mdb"
expect_fail 2 "Permission denied" nobody ls "$STORE"

step "an existing empty directory made a store: its files are 0600"
mkdir -m 755 "$T/given"
umask 000
STORE=$T/given start_itemfs
umask 022
stop_itemfs
for f in data.mdb lock.mdb; do
	assert_eq 600 "$(st %a "$T/given/$f")" "mode of $f in a directory given as the store"
done
expect_fail 1 "Permission denied" nobody cat "$T/given/data.mdb"

step "allow_other is off by default: other users get EACCES, even on 0777 tables"
start_itemfs
chmod 777 "$MNT" "$MNT/t"
chmod 666 "$MNT/t/secret"
case ",$(findmnt -n -o OPTIONS --mountpoint "$MNT")," in
*,allow_other,*) fail "allow_other is on without -o allow_other" ;;
esac
expect_fail 2 "Permission denied" nobody ls "$MNT"
expect_fail 1 "Permission denied" nobody stat "$MNT/t"
expect_fail 1 "Permission denied" nobody cat "$MNT/t/secret"
expect_fail 1 "Permission denied" nobody touch "$MNT/t/new"
expect_fail 1 "Permission denied" as 1000 1000 cat "$MNT/t/secret"
assert_absent "$MNT/t/new"
assert_eq "root only" "$(cat "$MNT/t/secret")" "the mounting user reads it"
chmod 755 "$MNT" "$MNT/t"
chmod 600 "$MNT/t/secret"
stop_itemfs

step "with allow_other the kernel enforces modes and owners"
start_itemfs -o allow_other
case ",$(findmnt -n -o OPTIONS --mountpoint "$MNT")," in
*,default_permissions,*allow_other,* | *,allow_other,*default_permissions,*) ;;
*) fail "options of an allow_other mount: $(findmnt -n -o OPTIONS --mountpoint "$MNT")" ;;
esac
D=$MNT/t
assert_eq "0 0 600" "$(st '%u %g %a' "$D/secret")" "root's 0600 item"
assert_eq "0 0 755" "$(st '%u %g %a' "$MNT")" "the mount's root"
expect_fail 1 "Permission denied" nobody cat "$D/secret"
expect_fail 1 "Permission denied" nobody mkdir "$MNT/table-of-nobody"
expect_fail 1 "Permission denied" nobody touch "$D/new"
expect_fail 1 "Permission denied" nobody mv "$D/secret" "$D/stolen"
expect_fail 1 "Operation not permitted" nobody chmod 644 "$D/secret"
expect_fail 1 "Operation not permitted" nobody chown 65534 "$D/secret"
expect_fail 1 "Operation not permitted" nobody chgrp 65534 "$D/secret"
expect_fail 1 "Permission denied" nobody setfattr -n user.x -v 1 "$D/secret"
expect_fail 1 "Permission denied" nobody getfattr -n user.x "$D/secret"
if [ "$(cat /proc/sys/fs/protected_hardlinks 2>/dev/null)" = 1 ]; then
	chmod 1777 "$D"
	expect_fail 1 "Operation not permitted" nobody ln "$D/secret" "$D/link-to-secret"
	chmod 755 "$D"
fi
mkdir -m 777 "$MNT/open"
run_ok nobody sh -c 'printf mine > "$1"' sh "$MNT/open/mine"
assert_eq "65534 65534 644 mine" "$(st '%u %g %a' "$MNT/open/mine") $(cat "$MNT/open/mine")" \
	"nobody's item in a 0777 table"
run_ok nobody chmod 600 "$MNT/open/mine"
expect_fail 1 "Permission denied" as 1000 1000 cat "$MNT/open/mine"
expect_fail 1 "Operation not permitted" as 1000 1000 chmod 666 "$MNT/open/mine"
run_ok nobody mkdir "$MNT/open/sub"
expect_fail 1 "Permission denied" as 1000 1000 touch "$MNT/open/sub/x"
assert_eq "root only" "$(cat "$D/secret")" "root's item after the others' attempts"

step "symlink targets are stored verbatim, whatever they name"
targets=(
	/etc/shadow
	../../../../etc/passwd
	../../..
	"$STORE/data.mdb"
	'a b/../c'
	'/'
	'..'
	"$(printf 'x%.0s' {1..4000})"
	"$(printf 'line one\nline two')"
)
i=0
for tgt in "${targets[@]}"; do
	ln -s -- "$tgt" "$MNT/open/link$i"
	assert_eq "$tgt" "$(readlink -- "$MNT/open/link$i")" "target of link$i"
	i=$((i + 1))
done
stop_itemfs
start_itemfs -o allow_other
i=0
for tgt in "${targets[@]}"; do
	assert_eq "$tgt" "$(readlink -- "$MNT/open/link$i")" "target of link$i after a remount"
	i=$((i + 1))
done

step "the daemon never follows a symlink: the kernel resolves it, as the caller"
# link3 names the store's own data.mdb (0600 in a 0700 directory): the
# daemon could read it, but nobody cannot; the kernel resolves the link in
# the caller's name, on the host's filesystem.
expect_fail 1 "Permission denied" nobody cat "$MNT/open/link3"
cmp -s "$MNT/open/link3" "$STORE/data.mdb" || fail "root reading link3 should read the host's $STORE/data.mdb"
echo 'host file' >"$T/hostfile"
chmod 600 "$T/hostfile"
ln -s "$T/hostfile" "$MNT/open/to-host"
expect_fail 1 "Permission denied" nobody cat "$MNT/open/to-host"
assert_eq "host file" "$(cat "$MNT/open/to-host")" "root through a link to a host file"
# A relative target climbs from the link's own directory, through the
# mountpoint's parent, like on any filesystem.
ln -s ../../hostfile "$MNT/open/up"
assert_eq "host file" "$(cat "$MNT/open/up")" "root through ../../hostfile"
expect_fail 1 "Permission denied" nobody cat "$MNT/open/up"

step "'..' at the mount's root is the mountpoint's parent; nothing else leads out"
assert_eq "$(st %d:%i "$T")" "$(st %d:%i "$MNT/..")" "device:inode of $MNT/.."
assert_eq "$(st %d:%i "$T")" "$(st %d:%i "$MNT/open/../..")" "device:inode of $MNT/open/../.."
assert_ne "$(st %d "$T")" "$(st %d "$MNT/open")" "device of the mount vs its parent"
expect_fail 1 "Invalid cross-device link" ln "$T/hostfile" "$MNT/open/hardlink"
hx EXDEV rename "$T/hostfile" "$MNT/open/moved"
hx EXDEV rename "$MNT/open/mine" "$T/moved"
assert_exists "$T/hostfile"
assert_exists "$MNT/open/mine"
stop_itemfs

echo "PASS"
