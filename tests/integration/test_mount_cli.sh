#!/bin/bash
# The itemfs command line: help, version, `itemfs mount` in daemon and
# foreground mode, and every startup error: each exits 1, names the problem
# on stderr, mounts nothing and leaves a foreign store directory untouched.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# snapshot DIR: names, types, sizes, modes, mtimes and contents under DIR.
snapshot() {
	(cd "$1" && find . -printf '%p %y %s %m %T@\n' | sort && find . -type f -exec md5sum {} + | sort)
}

step "help and version"
help=$("$ITEMFS" --help) || fail "itemfs --help exited $?"
case "$help" in *"itemfs mount"*) ;; *) fail "itemfs --help does not describe 'itemfs mount': $help" ;; esac
help2=$("$ITEMFS" help) || fail "itemfs help exited $?"
assert_eq "$help" "$help2" "itemfs help vs itemfs --help"
version=$("$ITEMFS" version) || fail "itemfs version exited $?"
case "$version" in *"${ITEMFS_VERSION:?}"*) ;; *) fail "itemfs version: expected $ITEMFS_VERSION in '$version'" ;; esac
fuse_mm=$(pkg-config --modversion fuse3 | cut -d. -f1,2)
case "$version" in *"(libfuse $fuse_mm, store format 1)"*) ;; *) fail "itemfs version: expected '(libfuse $fuse_mm, store format 1)' in '$version'" ;; esac
rc=0
err=$("$ITEMFS" frobnicate 2>&1 >/dev/null) || rc=$?
assert_ne 0 "$rc" "exit status of itemfs frobnicate"
case "$err" in *frobnicate*) ;; *) fail "itemfs frobnicate: stderr should name the command: $err" ;; esac
rc=0
err=$("$ITEMFS" mount "$STORE" "$MNT" -o no_such_option 2>&1 >/dev/null) || rc=$?
assert_ne 0 "$rc" "exit status of itemfs mount -o no_such_option"
case "$err" in *no_such_option*) ;; *) fail "unknown -o option not named: $err" ;; esac

step "missing mountpoint"
mount_fails "$STORE" "$T/nonexistent" -- "$T/nonexistent" "No such file or directory"

step "mountpoint not empty"
mkdir "$T/full"
echo x >"$T/full/somefile"
mount_fails "$STORE" "$T/full" -- "$T/full" "not empty"
mount_fails "$STORE" "$T/full" -f -- "$T/full" "not empty"
assert_eq x "$(cat "$T/full/somefile")" "content of the non-empty mountpoint"

step "mountpoint is not a directory"
echo x >"$T/afile"
mount_fails "$STORE" "$T/afile" -- "$T/afile" "not a directory"

step "store directory that is not an itemfs store is left untouched"
mkdir -p "$T/foreign/sub"
printf 'precious\n' >"$T/foreign/notes.txt"
head -c 5000 /dev/urandom >"$T/foreign/sub/blob"
touch -d '2001-02-03 04:05:06.123456789' "$T/foreign/notes.txt" "$T/foreign/sub/blob" "$T/foreign/sub" "$T/foreign"
before=$(snapshot "$T/foreign")
mount_fails "$T/foreign" "$MNT" -- "$T/foreign" "not an itemfs store"
mount_fails "$T/foreign" "$MNT" -f -- "$T/foreign" "not an itemfs store"
assert_eq "$before" "$(snapshot "$T/foreign")" "foreign store directory after the refused mounts"

step "store path that is a regular file"
mount_fails "$T/afile" "$MNT" -- "$T/afile"
assert_eq x "$(cat "$T/afile")" "content of the file given as store"

step "no /dev/fuse"
if unshare --mount true 2>/dev/null; then
	rc=0
	err=$(unshare --mount sh -c 'mount -t tmpfs nodev /dev && exec "$1" mount "$2" "$3"' \
		sh "$ITEMFS" "$T/store-nofuse" "$MNT" 2>&1 >/dev/null) || rc=$?
	assert_eq 1 "$rc" "exit status without /dev/fuse (stderr: $err)"
	case "$err" in *"/dev/fuse"*) ;; *) fail "without /dev/fuse the message should name /dev/fuse: $err" ;; esac
	mountpoint -q "$MNT" && fail "mounted without /dev/fuse"
else
	echo "unshare --mount is not permitted here; not testing the missing /dev/fuse case"
fi

step "daemon mode creates the store and returns with the mount ready"
assert_absent "$STORE"
start_itemfs_daemon
[ -d "$STORE" ] || fail "itemfs mount did not create the store directory $STORE"
assert_eq "" "$(ls -A "$MNT")" "listing of a new store"
mkdir "$MNT/tbl"
printf 'hello' >"$MNT/tbl/item"
[ "$(awk '{ print $4 }' "/proc/$ITEMFS_PID/stat")" != "$$" ] || fail "the daemon is still our child: it did not daemonize"
step "a second mount on the same mountpoint is refused"
mount_fails "$T/store2" "$MNT" -- "$MNT"
stop_itemfs umount

step "remount in daemon mode; fusermount3 -u"
start_itemfs_daemon
assert_eq hello "$(cat "$MNT/tbl/item")" "item after umount and remount"
stop_itemfs

step "an existing empty directory becomes a store"
mkdir "$T/emptystore"
STORE=$T/emptystore start_itemfs_daemon -o allow_other
mkdir "$MNT/t"
stop_itemfs
[ -n "$(ls -A "$T/emptystore")" ] || fail "no store was created in the empty directory $T/emptystore"

step "-o ro: reads work, writes fail with EROFS"
start_itemfs -o ro
assert_eq hello "$(cat "$MNT/tbl/item")" "item on a read-only mount"
expect_fail 1 "Read-only file system" mkdir "$MNT/newtable"
expect_fail 1 "Read-only file system" touch "$MNT/tbl/item2"
expect_fail 1 "Read-only file system" sh_c 'printf x >> "$1"' "$MNT/tbl/item"
stop_itemfs
start_itemfs
assert_eq hello "$(cat "$MNT/tbl/item")" "item after the read-only mount"
assert_absent "$MNT/tbl/item2"
stop_itemfs

echo "PASS"
