#!/bin/bash
# mount(8), umount(8), fstab and systemd units, through the mount helpers of
# this build (mount-helpers/): `mount -t fuse.itemfs` and `-t itemfs`, the
# options mount(8) adds, bad options (exit status and a message naming
# them), -f/-v/-s, the helper's exit statuses and how it finds itemfs, the
# fstab and systemd examples as shipped, setuid= and `user` mounts.
#
# mount(8) runs helpers only from /sbin, so for the test's duration
# /sbin/mount.itemfs and /sbin/mount.fuse.itemfs are the build's: symlinks
# made here (or, where such a file already exists, a bind mount over it),
# undone by the exit trap. The helpers run the itemfs next to them, which
# in the build tree is the build's itemfs (asserted below).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
: "${MOUNT_HELPERS:?MOUNT_HELPERS must name the build directory of the mount helpers}"
: "${EXAMPLES:?EXAMPLES must name the source directory of the fstab and systemd examples}"
: "${ITEMFS_BIN:?ITEMFS_BIN must name the path the helpers were configured to run}"

SBIN=$(readlink -f /sbin)
HELPERS=(mount.itemfs mount.fuse.itemfs)
MADE_LINKS=()
MADE_BINDS=()

undo_helpers() {
	local f
	for f in "${MADE_BINDS[@]}"; do
		umount "$f" 2>/dev/null || umount -l "$f"
	done
	for f in "${MADE_LINKS[@]}"; do
		rm -f "$f"
	done
}
# lib.sh's cleanup reads $? first: give it the test's status back.
trap 'st_=$?; undo_helpers; (exit $st_); cleanup' EXIT

step "the build's helpers stand in /sbin"
for h in "${HELPERS[@]}"; do
	[ -x "$MOUNT_HELPERS/$h" ] || fail "$MOUNT_HELPERS/$h was not built"
	if [ -e "$SBIN/$h" ] || [ -L "$SBIN/$h" ]; then
		mount --bind "$MOUNT_HELPERS/$h" "$SBIN/$h"
		MADE_BINDS+=("$SBIN/$h")
	else
		ln -s "$MOUNT_HELPERS/$h" "$SBIN/$h"
		MADE_LINKS+=("$SBIN/$h")
	fi
done

# mount_ok ARGS...: `mount ARGS` must exit 0 with $MNT mounted by the
# build's itemfs at that moment; sets ITEMFS_PID for stop_itemfs.
mount_ok() {
	local out rc=0
	out=$(mount "$@" 2>&1) || rc=$?
	[ "$rc" -eq 0 ] || fail "mount $*: exit $rc: $out"
	mountpoint -q "$MNT" || fail "mount $* returned 0 but $MNT is not mounted"
	ITEMFS_PID=$(daemon_pid "$MNT")
	ITEMFS_FG=
	[ -n "$ITEMFS_PID" ] || fail "mount $*: no daemon of the build's itemfs ($ITEMFS) serves $MNT"
}

# mount_fails STATUS ARGS... -- TEXT...: `mount ARGS` must exit STATUS with
# every TEXT in its output, and mount nothing on $MNT.
mount_fails() {
	local want=$1 args=() out rc=0 t
	shift
	while [ "$1" != -- ]; do
		args+=("$1")
		shift
	done
	shift
	out=$(mount "${args[@]}" 2>&1) || rc=$?
	assert_eq "$want" "$rc" "exit status of mount ${args[*]} (output: $out)"
	for t in "$@"; do
		case "$out" in
		*"$t"*) ;;
		*) fail "mount ${args[*]}: output should contain '$t', got: $out" ;;
		esac
	done
	if mountpoint -q "$MNT"; then
		fail "mount ${args[*]} failed but mounted something on $MNT"
	fi
}

# fs_of DIR: "FSTYPE SOURCE" of the mount on DIR, as the kernel lists it.
fs_of() { findmnt -n -o FSTYPE,SOURCE --mountpoint "$1"; }

step "mount -t fuse.itemfs creates the store, mounts, and umount unmounts"
assert_absent "$STORE"
mount_ok -t fuse.itemfs "$STORE" "$MNT" -o cache_ttl=2,commit_interval=1
assert_eq "fuse.itemfs $STORE" "$(fs_of "$MNT")" "the mount table's entry"
case ",$(findmnt -n -o OPTIONS --mountpoint "$MNT")," in
*,rw,*default_permissions*) ;;
*) fail "mount options of $MNT: $(findmnt -n -o OPTIONS --mountpoint "$MNT")" ;;
esac
tr '\0' ' ' <"/proc/$ITEMFS_PID/cmdline" | grep -qF -- "-o rw,cache_ttl=2,commit_interval=1" ||
	fail "the daemon did not get the options: $(tr '\0' ' ' <"/proc/$ITEMFS_PID/cmdline")"
mkdir "$MNT/t"
printf 'through mount(8)\n' >"$MNT/t/item"
assert_eq "through mount(8)" "$(cat "$MNT/t/item")" "item written through the mount"
stop_itemfs umount
mountpoint -q "$MNT" && fail "$MNT still mounted after umount"

step "mount -t itemfs -o ro: read-only, and the data is there"
mount_ok -t itemfs -o ro "$STORE" "$MNT"
assert_eq "fuse.itemfs $STORE" "$(fs_of "$MNT")" "entry of a mount -t itemfs"
case ",$(findmnt -n -o OPTIONS --mountpoint "$MNT")," in
*,ro,*) ;;
*) fail "mount -o ro: options of $MNT are $(findmnt -n -o OPTIONS --mountpoint "$MNT")" ;;
esac
assert_eq "through mount(8)" "$(cat "$MNT/t/item")" "item on the read-only mount"
expect_fail 1 "Read-only file system" touch "$MNT/t/new"
stop_itemfs umount

step "the options mount(8), fstab and systemd add are accepted"
mount_ok -t fuse.itemfs "$STORE" "$MNT" \
	-o rw,defaults,nofail,_netdev,noauto,nodev,nosuid,noexec,user,x-systemd.requires-mounts-for=/var,comment=hi,x-mine=1,log_level=info
assert_eq "through mount(8)" "$(cat "$MNT/t/item")" "item after a mount with mount(8)'s options"
stop_itemfs umount

step "bad options: exit 1 (bad usage), the option named, nothing mounted"
mount_fails 1 -t fuse.itemfs "$STORE" "$MNT" -o cache_ttl=soon -- \
	"bad value 'soon' for mount option cache_ttl"
mount_fails 1 -t fuse.itemfs "$STORE" "$MNT" -o ro,frobnicate -- \
	"unknown mount option 'frobnicate'"
mount_fails 1 -t itemfs "$STORE" "$MNT" -o log_level=loud -- \
	"bad value 'loud' for mount option log_level" "error, warning, notice, info, debug"
mount_fails 1 -t fuse.itemfs "$STORE" "$MNT" -o cache_size=12 -- "cache_size"
mount_fails 1 -t fuse.itemfs "$STORE" "$MNT" -o max_inodes=-5 -- \
	"bad value '-5' for mount option max_inodes" "max_inodes=131072"

step "mount failures: exit 32, the problem named"
mkdir "$T/full"
echo x >"$T/full/somefile"
rc=0
out=$(mount -t fuse.itemfs "$STORE" "$T/full" 2>&1) || rc=$?
assert_eq 32 "$rc" "exit status of a mount on a non-empty directory ($out)"
mountpoint -q "$T/full" && fail "mounted on the non-empty $T/full"
case "$out" in *"$T/full is not empty"*) ;; *) fail "non-empty mountpoint not named: $out" ;; esac
mkdir -p "$T/foreign"
echo precious >"$T/foreign/notes"
mount_fails 32 -t fuse.itemfs "$T/foreign" "$MNT" -- "not an itemfs store"
assert_eq precious "$(cat "$T/foreign/notes")" "foreign directory after the refused mount"

step "mount -s: unknown options are warned about, not fatal"
out=$(mount -s -t fuse.itemfs "$STORE" "$MNT" -o frobnicate,cache_ttl=1 2>&1) ||
	fail "mount -s with an unknown option failed: $out"
case "$out" in *"ignoring unknown mount option 'frobnicate'"*) ;; *) fail "mount -s: no warning: $out" ;; esac
ITEMFS_PID=$(daemon_pid "$MNT")
stop_itemfs umount

step "mount -f -v: says what would run, mounts nothing"
out=$(mount -f -v -t fuse.itemfs "$STORE" "$MNT" -o cache_ttl=3 2>&1) || fail "mount -fv failed: $out"
case "$out" in
*"mount.fuse.itemfs: would run $MOUNT_HELPERS/itemfs mount $STORE $MNT -o "*cache_ttl=3*) ;;
*) fail "mount -fv output: $out" ;;
esac
mountpoint -q "$MNT" && fail "mount -f mounted $MNT"

step "an fstab line: mount by mountpoint or by store, mount -a, noauto"
mkdir "$T/mnt-ro"
cat >"$T/fstab" <<EOF
# a comment, and a line for another type
tmpfs  $T/never  tmpfs  noauto  0 0
$STORE  $MNT  fuse.itemfs  defaults,cache_ttl=2,nofail  0 0
$STORE  $T/mnt-ro  fuse.itemfs  noauto,ro,log_level=warning  0 0
EOF
mount_ok -T "$T/fstab" "$MNT"
assert_eq "fuse.itemfs $STORE" "$(fs_of "$MNT")" "entry of the fstab mount"
printf 'fstab\n' >"$MNT/t/fstab"
stop_itemfs umount
mount_ok -T "$T/fstab" -a
mountpoint -q "$T/mnt-ro" && fail "mount -a mounted the noauto line"
mountpoint -q "$T/never" 2>/dev/null && fail "mount -a mounted a noauto tmpfs"
out=$(mount -T "$T/fstab" "$T/mnt-ro" 2>&1) || fail "mount of the noauto line: $out"
EXTRA_MOUNTS+=("$T/mnt-ro")
ro_pid=$(daemon_pid "$T/mnt-ro")
[ -n "$ro_pid" ] || fail "no daemon serves $T/mnt-ro"
assert_eq "fstab" "$(cat "$T/mnt-ro/t/fstab")" "item through the read-only fstab mount"
expect_fail 1 "Read-only file system" touch "$T/mnt-ro/t/new"
umount "$T/mnt-ro"
stop_itemfs umount
wait_exit "$ro_pid" || fail "the daemon of $T/mnt-ro did not exit after umount"

step "the shipped fstab example, with its paths moved into the test's directory"
line=$(grep -v '^#' "$EXAMPLES/fstab.example" | grep fuse.itemfs | head -n 1)
[ -n "$line" ] || fail "no fuse.itemfs line in $EXAMPLES/fstab.example"
mkdir -p "$T/var/lib/itemfs"
printf '%s\n' "$line" | sed "s#/var/lib/itemfs#$T/var/lib/itemfs#g; s#/mnt/itemfs#$MNT#g" >"$T/fstab.example"
mount_ok -T "$T/fstab.example" "$MNT"
assert_eq "fuse.itemfs $T/var/lib/itemfs/demo" "$(fs_of "$MNT")" "entry of the example fstab line"
mkdir "$MNT/demo"
echo 'hello, itemfs' >"$MNT/demo/greeting"
stop_itemfs umount
if [ -x /lib/systemd/system-generators/systemd-fstab-generator ] && command -v systemd-analyze >/dev/null; then
	# What systemd makes of the line at boot, checked as systemd would load it.
	mkdir "$T/gen"
	SYSTEMD_FSTAB=$T/fstab.example SYSTEMD_PROC_CMDLINE='' \
		/lib/systemd/system-generators/systemd-fstab-generator "$T/gen" "$T/gen" "$T/gen" ||
		fail "systemd-fstab-generator failed on the example line"
	unit=$(systemd-escape --path --suffix=mount "$MNT")
	[ -f "$T/gen/$unit" ] || fail "systemd-fstab-generator made no $unit: $(ls -R "$T/gen")"
	grep -qx "Type=fuse.itemfs" "$T/gen/$unit" || fail "generated unit: $(cat "$T/gen/$unit")"
	[ -e "$T/gen/local-fs.target.requires/$unit" ] || [ -e "$T/gen/local-fs.target.wants/$unit" ] ||
		fail "the example line is not mounted at boot (by local-fs.target): $(ls -R "$T/gen")"
	out=$(systemd-analyze verify "$T/gen/$unit" 2>&1) || fail "systemd-analyze verify of the generated unit: $out"
else
	echo "systemd-fstab-generator or systemd-analyze missing: not checking what systemd makes of the fstab line"
fi

step "the shipped systemd unit: valid, and its mount command works"
unit_key() { sed -n "s/^$1=//p" "$EXAMPLES/mnt-itemfs.mount"; }
assert_eq "/var/lib/itemfs/demo /mnt/itemfs fuse.itemfs" "$(unit_key What) $(unit_key Where) $(unit_key Type)" \
	"What, Where and Type of mnt-itemfs.mount"
if command -v systemd-analyze >/dev/null; then
	mkdir "$T/unit"
	cp "$EXAMPLES/mnt-itemfs.mount" "$T/unit/"
	out=$(systemd-analyze verify --man=no "$T/unit/mnt-itemfs.mount" 2>&1) || fail "systemd-analyze verify mnt-itemfs.mount: $out"
	assert_eq "" "$out" "systemd-analyze verify's complaints about mnt-itemfs.mount"
else
	echo "systemd-analyze missing: not verifying mnt-itemfs.mount"
fi
# systemd mounts a unit by running: mount WHAT WHERE -t TYPE -o OPTIONS
mount_ok "$T/var/lib/itemfs/demo" "$MNT" -t "$(unit_key Type)" -o "$(unit_key Options)"
assert_eq "hello, itemfs" "$(cat "$MNT/demo/greeting")" "item through the unit's mount command"
stop_itemfs umount

step "the helper itself: usage, types, exit statuses"
H=$MOUNT_HELPERS/mount.fuse.itemfs
out=$("$H" -h) || fail "mount.fuse.itemfs -h exited $?"
case "$out" in *"usage: mount.fuse.itemfs STORE_DIR MOUNTPOINT"*) ;; *) fail "mount.fuse.itemfs -h: $out" ;; esac
rc=0
out=$("$H" "$STORE" 2>&1) || rc=$?
assert_eq 1 "$rc" "exit status without a MOUNTPOINT ($out)"
rc=0
out=$("$H" "$STORE" "$MNT" -t ext4 2>&1) || rc=$?
assert_eq 1 "$rc" "exit status for -t ext4 ($out)"
case "$out" in *"'ext4'"*) ;; *) fail "-t ext4 not named: $out" ;; esac
rc=0
out=$("$H" "$STORE" "$MNT" -x 2>&1) || rc=$?
assert_eq 1 "$rc" "exit status for an unknown flag ($out)"

# A copy of the helper with a stand-in itemfs beside it: the helper runs the
# itemfs beside it, with mount(8)'s options, and maps its exit status.
mkdir "$T/alone"
cp "$H" "$T/alone/"
cat >"$T/alone/itemfs" <<'EOF'
#!/bin/sh
printf '%s\n' "$*" >"${0%/*}/args"
exit "$(cat "${0%/*}/status")"
EOF
chmod +x "$T/alone/itemfs"
for pair in 0:0 1:32 2:1 3:32; do
	echo "${pair%%:*}" >"$T/alone/status"
	rc=0
	"$T/alone/mount.fuse.itemfs" /s /m -n -o rw,a=1 -o b -s >/dev/null 2>&1 || rc=$?
	assert_eq "${pair##*:}" "$rc" "helper's exit status when itemfs exits ${pair%%:*}"
	assert_eq "mount /s /m -s -o rw,a=1,b" "$(cat "$T/alone/args")" "arguments the helper gave itemfs"
done
echo 0 >"$T/alone/status"
run_ok "$T/alone/mount.fuse.itemfs" /s /m -o setuid=root,x
assert_eq "mount /s /m -o x" "$(cat "$T/alone/args")" "arguments after setuid= was taken out"
rc=0
out=$("$T/alone/mount.fuse.itemfs" /s /m -o setuid=no-such-user-here 2>&1) || rc=$?
assert_eq 1 "$rc" "exit status for setuid= of an unknown user ($out)"
case "$out" in *"setuid=no-such-user-here: no such user"*) ;; *) fail "unknown setuid= user: $out" ;; esac
rm "$T/alone/itemfs"
if [ ! -e "$ITEMFS_BIN" ]; then
	rc=0
	out=$(PATH=/nonexistent "$T/alone/mount.fuse.itemfs" /s /m 2>&1) || rc=$?
	assert_eq 2 "$rc" "exit status when no itemfs can be found ($out)"
	case "$out" in *"cannot run itemfs"*"$ITEMFS_BIN"*) ;; *) fail "missing itemfs: $out" ;; esac
else
	echo "$ITEMFS_BIN is installed: not testing the helper without an itemfs"
fi

step "setuid=USER and fstab 'user' mounts (in a private mount namespace)"
# Unprivileged FUSE mounts need a /dev/fuse others may open (Debian's is
# 0666; a container's may be 0600): the namespace gets its own /dev with one.
if unshare --mount true 2>/dev/null; then
	mkdir "$T/nb" "$T/nb/mnt" "$T/nb/store-dir"
	chown 65534:65534 "$T/nb/mnt" "$T/nb/store-dir"
	cat >"$T/nb/fstab" <<EOF
$T/nb/store-dir/store  $T/nb/mnt  fuse.itemfs  noauto,user,cache_ttl=1  0 0
EOF
	rc=0
	out=$(unshare --mount --propagation private bash -euo pipefail -c '
		T=$1
		nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }
		mount -t tmpfs -o mode=755 itemfs-test-dev /dev
		mknod -m 666 /dev/fuse c 10 229
		mknod -m 666 /dev/null c 1 3
		mount -t fuse.itemfs "$T/nb/store-dir/store" "$T/nb/mnt" -o setuid=nobody,cache_ttl=1
		echo "fstab $(findmnt -n -o FSTYPE,OPTIONS --mountpoint "$T/nb/mnt")"
		nobody mkdir "$T/nb/mnt/t"
		nobody sh -c "echo mine > \"\$1\"" sh "$T/nb/mnt/t/f"
		echo "owner $(nobody stat -c "%u:%g" "$T/nb/mnt/t/f") $(nobody cat "$T/nb/mnt/t/f")"
		echo "store $(stat -c "%u %a" "$T/nb/store-dir/store") $(stat -c "%u %a" "$T/nb/store-dir/store/data.mdb")"
		if ls "$T/nb/mnt" >/dev/null 2>&1; then echo "root got in"; else echo "root kept out"; fi
		umount "$T/nb/mnt"
		mount --bind "$T/nb/fstab" /etc/fstab
		nobody mount "$T/nb/mnt"
		echo "user mount $(nobody cat "$T/nb/mnt/t/f")"
		nobody umount "$T/nb/mnt"
		if mountpoint -q "$T/nb/mnt"; then echo "still mounted"; else echo "unmounted"; fi
	' bash "$T" 2>&1) || rc=$?
	[ "$rc" -eq 0 ] || fail "setuid=/user mounts: exit $rc: $out"
	case "$out" in *"user_id=65534,group_id=65534"*) ;; *) fail "setuid=nobody: the mount is not nobody's: $out" ;; esac
	case "$out" in *"owner 65534:65534 mine"*) ;; *) fail "setuid=nobody: $out" ;; esac
	case "$out" in *"store 65534 700 65534 600"*) ;; *) fail "setuid=nobody: the store is not nobody's, 0700/0600: $out" ;; esac
	case "$out" in *"root kept out"*) ;; *) fail "setuid=nobody without allow_other let root in: $out" ;; esac
	case "$out" in *"user mount mine"*"unmounted"*) ;; *) fail "fstab 'user' mount by nobody: $out" ;; esac
	# The namespace's daemons exit on their unmounts.
	for ((i = 0; i < 400; i++)); do
		[ -z "$(daemon_pid "$T/nb/mnt")" ] && break
		sleep 0.05
	done
	[ -z "$(daemon_pid "$T/nb/mnt")" ] || fail "nobody's itemfs did not exit after umount"
else
	echo "unshare --mount is not permitted here: not testing setuid= and user mounts"
fi

echo "PASS"
