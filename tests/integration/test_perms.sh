#!/bin/bash
# Ownership and permissions: new items belong to the caller's uid/gid (or
# to a setgid directory's group, and new subdirectories inherit setgid);
# with -o allow_other, non-root callers get exactly the access the modes
# allow (EACCES / EPERM otherwise).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
start_itemfs -o allow_other
D=$MNT/t

mkdir "$D"
mkdir "$D/open" "$D/closed" "$D/private"
chmod 777 "$D/open"
chmod 755 "$D/closed"
chmod 700 "$D/private"
printf 'root data' >"$D/rootfile"
printf 'secret' >"$D/private/secret"
printf 'shared' >"$D/open/shared"
chmod 666 "$D/open/shared"

step "new items belong to the caller"
as 1000 2000 touch "$D/open/f1000"
as 1000 2000 mkdir "$D/open/d1000"
as 1000 2000 ln -s target "$D/open/l1000"
assert_eq "1000 2000 644" "$(st '%u %g %a' "$D/open/f1000")" "file made by uid 1000 gid 2000"
assert_eq "1000 2000 755" "$(st '%u %g %a' "$D/open/d1000")" "dir made by uid 1000 gid 2000"
assert_eq "1000 2000" "$(st '%u %g' "$D/open/l1000")" "symlink made by uid 1000 gid 2000"
assert_eq "0 0" "$(st '%u %g' "$D/rootfile")" "file made by root"

step "reading and writing as nobody: modes are enforced"
assert_eq "root data" "$(nobody cat "$D/rootfile")" "nobody reads a 0644 file"
expect_fail 1 "Permission denied" nobody bash -c 'printf x >> "$1"' bash "$D/rootfile"
expect_fail 1 "Permission denied" nobody truncate -s 0 "$D/rootfile"
expect_fail 1 "Permission denied" nobody touch "$D/closed/new"
expect_fail 1 "Permission denied" nobody mkdir "$D/closed/newdir"
expect_fail 1 "Permission denied" nobody rm -f "$D/rootfile"
expect_fail 2 "Permission denied" nobody ls "$D/private"
expect_fail 1 "Permission denied" nobody cat "$D/private/secret"
expect_fail 1 "Permission denied" nobody mkdir "$MNT/nobodys-table"
assert_eq "root data" "$(cat "$D/rootfile")" "root's file after nobody's attempts"
chmod 600 "$D/rootfile"
expect_fail 1 "Permission denied" nobody cat "$D/rootfile"

step "writing in a 0777 directory as nobody works"
run_ok nobody bash -c 'printf mine > "$1"' bash "$D/open/nobodys"
assert_eq "65534 65534 mine" "$(st '%u %g' "$D/open/nobodys") $(cat "$D/open/nobodys")" "nobody's new file"
run_ok nobody bash -c 'printf " more" >> "$1"' bash "$D/open/shared"
assert_eq "shared more" "$(cat "$D/open/shared")" "0666 file written by nobody"
run_ok nobody chmod 600 "$D/open/nobodys"
assert_eq 600 "$(st %a "$D/open/nobodys")" "mode after nobody's chmod of its file"

step "only the owner may chmod or set times; only root may chown"
expect_fail 1 "Operation not permitted" nobody chmod 777 "$D/open/shared"
expect_fail 1 "Operation not permitted" nobody chown 65534 "$D/open/shared"
expect_fail 1 "Operation not permitted" nobody chown 0 "$D/open/nobodys"
expect_fail 1 "Operation not permitted" nobody touch -d '2001-01-01' "$D/open/shared"
run_ok nobody touch "$D/open/shared"
expect_fail 1 "Permission denied" nobody setfattr -n user.x -v 1 "$D/rootfile"
run_ok nobody setfattr -n user.x -v 1 "$D/open/nobodys"
chown 1234:5678 "$D/open/nobodys"
assert_eq "1234 5678" "$(st '%u %g' "$D/open/nobodys")" "owner after root's chown"

step "a setgid directory gives its group to new files and setgid to new dirs"
mkdir "$D/sg"
chgrp 4242 "$D/sg"
chmod 2777 "$D/sg"
touch "$D/sg/rootfile"
mkdir "$D/sg/rootdir"
nobody touch "$D/sg/nobodyfile"
nobody mkdir "$D/sg/nobodydir"
assert_eq "0 4242" "$(st '%u %g' "$D/sg/rootfile")" "root's file in a setgid dir"
assert_eq "0 4242 2755" "$(st '%u %g %a' "$D/sg/rootdir")" "root's dir in a setgid dir"
assert_eq "65534 4242" "$(st '%u %g' "$D/sg/nobodyfile")" "nobody's file in a setgid dir"
assert_eq "65534 4242 2755" "$(st '%u %g %a' "$D/sg/nobodydir")" "nobody's dir in a setgid dir"
touch "$D/sg/rootdir/grandchild"
assert_eq 4242 "$(st %g "$D/sg/rootdir/grandchild")" "file in an inherited setgid dir"

step "sticky directory: others' files cannot be removed"
mkdir "$D/sticky"
chmod 1777 "$D/sticky"
as 1000 1000 touch "$D/sticky/owned-by-1000"
expect_fail 1 "Operation not permitted" nobody rm -f "$D/sticky/owned-by-1000"
assert_exists "$D/sticky/owned-by-1000"
run_ok as 1000 1000 rm "$D/sticky/owned-by-1000"

step "set-user-ID and set-group-ID bits: cleared by writes, truncation and chown"
# As ext4 and tmpfs do (pjdfstest chmod/12.t, chown/00.t): a write or a
# truncation by a caller without CAP_FSETID clears S_ISUID, and S_ISGID when
# group execute is set; a chown, by root too, clears them; root's writes
# keep them. Each case is checked on the mount before and after a remount.
P=$D/open/priv
suid() { # MODE: recreate $P with MODE, mode 777 directory, owned by root
	rm -f "$P"
	printf 'data' >"$P"
	chmod "$1" "$P"
}
suid 06777
nobody bash -c 'printf x >> "$1"' bash "$P"
assert_eq 777 "$(st %a "$P")" "06777 file after a write by nobody"
assert_eq datax "$(cat "$P")" "its data"
suid 06777
nobody bash -c 'exec 3<>"$1"; printf y >&3; stat -L -c %a /dev/fd/3' bash "$P" >"$T/fstat"
assert_eq 777 "$(cat "$T/fstat")" "fstat through the writer's descriptor before close"
suid 06777
nobody truncate -s 1 "$P"
assert_eq "777 1" "$(st '%a %s' "$P")" "06777 file after truncate by nobody"
suid 06777
nobody bash -c ': > "$1"' bash "$P"
assert_eq "777 0" "$(st '%a %s' "$P")" "06777 file after open(O_TRUNC) by nobody"
suid 02767
nobody bash -c 'printf x >> "$1"' bash "$P"
assert_eq 767 "$(st %a "$P")" "S_ISGID without group execute, written by one not in the group"
suid 02767
as 65534 0 bash -c 'printf x >> "$1"' bash "$P"
assert_eq 2767 "$(st %a "$P")" "S_ISGID without group execute, written by one in the group"
suid 02757
nobody bash -c 'printf x >> "$1"' bash "$P"
assert_eq 757 "$(st %a "$P")" "S_ISGID with group execute after a write by nobody"
suid 06777
printf z >>"$P"
assert_eq 6777 "$(st %a "$P")" "root's write keeps the bits"
chown 65534 "$P"
assert_eq 777 "$(st %a "$P")" "root's chown clears S_ISUID and S_ISGID|S_IXGRP"
suid 02745
chown 0:0 "$P"
assert_eq 2745 "$(st %a "$P")" "root's chown keeps S_ISGID without group execute"
suid 04755
ctime0=$(st %Z.%z "$P")
sleep 0.01
chown 65534:65534 "$P"
nobody chmod 04755 "$P"
nobody bash -c 'printf x >> "$1"' bash "$P"
assert_eq 755 "$(st %a "$P")" "the owner's own write clears S_ISUID (no CAP_FSETID)"
assert_ne "$ctime0" "$(st %Z.%z "$P")" "ctime"
suid 06777
restart_itemfs -o allow_other
nobody bash -c 'printf x >> "$1"' bash "$P"
restart_itemfs -o allow_other
assert_eq "777 datax" "$(st %a "$P") $(cat "$P")" "cleared bits after a remount"
rm -f "$P"

step "ownership survives a remount"
restart_itemfs -o allow_other
assert_eq "65534 4242 2755" "$(st '%u %g %a' "$D/sg/nobodydir")" "setgid dir after remount"
assert_eq "1000 2000 644" "$(st '%u %g %a' "$D/open/f1000")" "file of uid 1000 after remount"
expect_fail 1 "Permission denied" nobody cat "$D/rootfile"
stop_itemfs

echo "PASS"
