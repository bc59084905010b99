#!/bin/bash
# Extended attributes: user.* can be set, read back exactly (text, binary,
# empty), listed, replaced and removed, on files and directories, with the
# XATTR_CREATE/XATTR_REPLACE flags; other namespaces are refused with
# EOPNOTSUPP. (The size limit is in test_limits.sh, persistence in
# test_persist.sh.)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
start_itemfs
mkdir "$MNT/t"
D=$MNT/t
printf data >"$D/f"
mkdir "$D/dir"

# names PATH: the xattr names of PATH, one per line, in getfattr's order.
names() {
	getfattr --absolute-names -m - -- "$1" | grep -v '^#' | grep . || true
}

step "set and get exact values"
setfattr -n user.color -v blue "$D/f"
assert_eq blue "$(getfattr --only-values -n user.color "$D/f")" "user.color"
setfattr -n user.bin -v 0x00ff10807f0a "$D/f"
assert_eq "user.bin=0x00ff10807f0a" "$(getfattr --absolute-names -e hex -n user.bin "$D/f" | grep '^user')" "binary value"
getfattr --only-values -n user.bin "$D/f" >"$T/bin"
assert_cmp <(printf '\0\377\020\200\177\n') "$T/bin"
setfattr -n user.empty "$D/f"
assert_eq 0 "$(getfattr --only-values -n user.empty "$D/f" | wc -c)" "length of an empty value"
val=v$(head -c 30000 /dev/urandom | base64 -w0)
setfattr -n user.large -v "$val" "$D/f"
assert_eq "$val" "$(getfattr --only-values -n user.large "$D/f")" "40 KB value"
assert_eq data "$(cat "$D/f")" "data beside xattrs"

step "list"
assert_eq "$(printf '%s\n' user.bin user.color user.empty user.large)" "$(names "$D/f" | sort)" "xattr names"
assert_eq "$(printf '%s\n' user.bin user.color user.empty user.large)" \
	"$(getfattr --absolute-names -d "$D/f" | grep '^user' | cut -d= -f1 | sort)" "getfattr -d names"

step "replace"
setfattr -n user.color -v green "$D/f"
assert_eq green "$(getfattr --only-values -n user.color "$D/f")" "replaced value"
setfattr -n user.color -v g "$D/f"
assert_eq g "$(getfattr --only-values -n user.color "$D/f")" "value replaced by a shorter one"

step "XATTR_CREATE and XATTR_REPLACE"
hx EEXIST setxattr "$D/f" user.color x create
hx ENODATA setxattr "$D/f" user.nothing x replace
hx OK setxattr "$D/f" user.color red replace
hx OK setxattr "$D/f" user.fresh new create
assert_eq "red new" "$(getfattr --only-values -n user.color "$D/f") $(getfattr --only-values -n user.fresh "$D/f")" "values after flagged sets"

step "remove"
setfattr -x user.color "$D/f"
expect_fail 1 "No such attribute" getfattr -n user.color "$D/f"
expect_fail 1 "No such attribute" setfattr -x user.color "$D/f"
assert_eq "$(printf '%s\n' user.bin user.empty user.fresh user.large)" "$(names "$D/f" | sort)" "names after remove"
for n in user.bin user.empty user.fresh user.large; do
	setfattr -x "$n" "$D/f"
done
assert_eq "" "$(names "$D/f")" "names after removing all"

step "on directories"
setfattr -n user.dirattr -v onadir "$D/dir"
assert_eq onadir "$(getfattr --only-values -n user.dirattr "$D/dir")" "xattr of a directory"
setfattr -n user.table -v onatable "$MNT/t"
assert_eq onatable "$(getfattr --only-values -n user.table "$MNT/t")" "xattr of a table"

step "many xattrs"
for i in $(seq 1 100); do
	setfattr -n "user.k$i" -v "value-$i" "$D/dir"
done
assert_eq 101 "$(names "$D/dir" | wc -l)" "count of xattrs"
assert_eq value-77 "$(getfattr --only-values -n user.k77 "$D/dir")" "one of 100 xattrs"

step "other namespaces: EOPNOTSUPP"
expect_fail 1 "Operation not supported" setfattr -n trusted.x -v 1 "$D/f"
expect_fail 1 "Operation not supported" setfattr -n security.x -v 1 "$D/f"
expect_fail 1 "Operation not supported" setfattr -n nonamespace -v 1 "$D/f"
assert_eq "" "$(names "$D/f")" "names after refused sets"
expect_fail 1 "Operation not supported" getfattr -n security.selinux "$D/f"
expect_fail 1 "Operation not supported" getfattr -n system.posix_acl_access "$D/f"
expect_fail 1 "Operation not supported" getfattr -n trusted.x "$D/f"
expect_fail 1 "Operation not supported" setfattr -x security.x "$D/f"
expect_fail 1 "Invalid argument" setfattr -n user. -v 1 "$D/f"
# ls -l probes security.selinux and the ACL on each file until the first
# EOPNOTSUPP: two probes in all, however many files (it caches the answer).
for i in 1 2 3 4 5 6; do : >"$D/probe$i"; done
probes=$(strace -f -e trace=getxattr,lgetxattr -o "$T/ls.strace" ls -l "$D" >/dev/null &&
	grep -c 'getxattr(' "$T/ls.strace")
assert_eq 2 "$probes" "xattr probes of ls -l over 7 files"
rm -f "$D"/probe*

step "xattrs go with the item through rename and hard links"
setfattr -n user.travel -v along "$D/f"
mv "$D/f" "$D/dir/g"
ln "$D/dir/g" "$D/h"
assert_eq along "$(getfattr --only-values -n user.travel "$D/h")" "xattr through a hard link after mv"
setfattr -n user.travel -v changed "$D/h"
assert_eq changed "$(getfattr --only-values -n user.travel "$D/dir/g")" "xattr set through the other link"

stop_itemfs
echo "PASS"
