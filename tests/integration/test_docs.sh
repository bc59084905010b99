#!/bin/bash
# The operator's documentation against the program: the man pages render
# without a groff warning and carry the version; every command and -o option
# that `itemfs help` lists, and every option itemfs ignores for mount(8), is
# in itemfs(1) (and the options in mount.itemfs(8) and docs/operating.md);
# `meson install` installs the binary, both helpers, the three man pages
# and the examples, and the installed pages open with man(1).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
: "${MANPAGES:?MANPAGES must name the build directory of the man pages}"
: "${SRCDIR:?SRCDIR must name the source tree}"
: "${BUILDDIR:?BUILDDIR must name the build tree}"
: "${ITEMFS_BIN:?ITEMFS_BIN must name where itemfs is installed}"

MAN1=$MANPAGES/itemfs.1
MAN8=$MANPAGES/mount.itemfs.8
OPERATING=$SRCDIR/docs/operating.md

step "the man pages render without warnings and carry the version"
command -v groff >/dev/null || fail "groff is needed to check the man pages (apt-get install groff-base)"
for page in "$MAN1" "$MAN8"; do
	[ -s "$page" ] || fail "$page was not built"
	out=$(groff -man -Tutf8 -ww -z "$page" 2>&1) || fail "groff failed on $page: $out"
	assert_eq "" "$out" "groff's warnings about $page"
	grep -q "^\.TH .* \"itemfs $ITEMFS_VERSION\"" "$page" || fail "$page: no 'itemfs $ITEMFS_VERSION' in its .TH line"
	grep -q '@[A-Z]*@' "$page" && fail "$page: a placeholder was left: $(grep '@[A-Z]*@' "$page")"
done
assert_eq ".so man8/mount.itemfs.8" "$(cat "$SRCDIR/docs/mount.fuse.itemfs.8")" "the mount.fuse.itemfs(8) alias"

help=$("$ITEMFS" help)

step "every command of 'itemfs help' is in itemfs(1): synopsis, commands, exit status"
commands=$(printf '%s\n' "$help" | sed -n 's/^\(usage:\|      \) itemfs \([a-z]*\).*/\2/p' | sort -u)
assert_eq "backup check help mount restore stats txn version" "$(echo $commands)" "commands in itemfs help"
exit_section=$(sed -n '/^\.SH EXIT STATUS/,/^\.SH /p' "$MAN1")
for c in $commands; do
	grep -q "^\.SY \"itemfs $c" "$MAN1" || fail "itemfs(1) has no synopsis of itemfs $c"
	grep -q "^\.BI\? \"\?$c\b" "$MAN1" || fail "itemfs(1) does not describe itemfs $c"
	printf '%s\n' "$exit_section" | grep -q "^\.BR\? .*\b$c\b" || fail "itemfs(1): no exit status for itemfs $c"
done

step "every -o option of 'itemfs help' is in itemfs(1), mount.itemfs(8) and docs/operating.md"
opts=$(printf '%s\n' "$help" | sed -n 's/^  -o \([a-z_]*\).*/\1/p' | sort -u)
assert_eq "allow_other busy_poll cache_size cache_ttl commit_interval consistent_reads ddb_credentials ddb_poll ddb_profile ddb_region ddb_strong ddb_transactions debug default_permissions idle_poll log_level max_inodes noatime ro stream_keep stream_max" \
	"$(echo $opts)" "-o options in itemfs help"
for o in $opts snapshot; do
	grep -q "^\.BI\? $o\(=\| \|$\)" "$MAN1" || fail "itemfs(1) has no entry for -o $o"
	grep -qw -- "$o" "$MAN8" || fail "mount.itemfs(8) does not name -o $o"
	grep -q "\`$o" "$OPERATING" || fail "docs/operating.md does not name -o $o"
done
for f in -f -d -s --snapshot; do
	printf '%s\n' "$help" | grep -q -- "^  $f[ ,]" || fail "itemfs help does not list $f"
	grep -q "^\.B \\\\$f\$" "$MAN1" || grep -q "^\.B \\\\-\\\\-${f#--}\$" "$MAN1" ||
		fail "itemfs(1) has no entry for $f"
done

step "every option itemfs ignores for mount(8) is named in itemfs(1) and accepted"
ignored=$(sed -n '/ignored_opts\[\] = {/,/NULL/p' "$SRCDIR/fs/options.c" | grep -o '"[^"]*"' | tr -d '"')
[ "$(echo "$ignored" | wc -w)" -gt 20 ] || fail "could not read the ignored options from fs/options.c: $ignored"
for o in $ignored x-anything=1 comment=text; do
	case "$o" in
	x-*) grep -q '^\.BR x\\-\* ,$' "$MAN1" || fail "itemfs(1) does not name x-*" ;;
	comment=*) grep -q '^\.BR comment= \.$' "$MAN1" || fail "itemfs(1) does not name comment=" ;;
	*) grep -q "^\.BR $o [,.]\$" "$MAN1" || fail "itemfs(1) does not name the ignored option $o" ;;
	esac
done
start_itemfs -o "$(echo $ignored x-anything=1 comment=text | tr ' ' ',')"
stop_itemfs

step "meson install: the binary, the helpers, the man pages, the examples"
command -v meson >/dev/null || fail "meson is not on PATH"
out=$(meson install -C "$BUILDDIR" --no-rebuild --destdir "$T/inst" 2>&1) || fail "meson install failed: $out"
(cd "$T/inst" && find . -type f -o -type l | sed 's#^\.##' | sort) >"$T/installed"
# expect SUFFIX: exactly one installed file ends with SUFFIX; prints its path.
expect() {
	local n
	n=$(grep -c -- "$1\$" "$T/installed" || true)
	[ "$n" -eq 1 ] || fail "installed files ending in $1: $n, not 1: $(cat "$T/installed")"
	grep -- "$1\$" "$T/installed"
}
assert_eq "$ITEMFS_BIN" "$(expect /itemfs)" "where itemfs is installed"
h1=$(expect /mount.itemfs)
h2=$(expect /mount.fuse.itemfs)
assert_eq "$(dirname "$h1")" "$(dirname "$h2")" "directories of the two helpers"
man1=$(expect /man1/itemfs.1)
expect /man8/mount.itemfs.8 >/dev/null
expect /man8/mount.fuse.itemfs.8 >/dev/null
expect /examples/fstab.example >/dev/null
expect /examples/mnt-itemfs.mount >/dev/null
assert_eq 8 "$(wc -l <"$T/installed")" "number of installed files: $(cat "$T/installed")"
cmp -s "$T/inst$man1" "$MAN1" || fail "the installed itemfs.1 differs from the built one"
for h in "$h1" "$h2"; do
	[ -x "$T/inst$h" ] || fail "$h is not executable"
	"$T/inst$h" -h | grep -q "usage: ${h##*/} STORE_DIR MOUNTPOINT" || fail "$h -h"
done
version=$("$T/inst$ITEMFS_BIN" version) || fail "the installed itemfs does not run"
case "$version" in "itemfs $ITEMFS_VERSION "*) ;; *) fail "installed itemfs version: $version" ;; esac
if command -v man >/dev/null; then
	mandir=$T/inst$(dirname "$(dirname "$man1")")
	out=$(MANWIDTH=80 man --manpath="$mandir" mount.fuse.itemfs 2>&1 | sed 's/.\x08//g') || fail "man mount.fuse.itemfs: $out"
	case "$out" in *"mount.itemfs, mount.fuse.itemfs - mount an itemfs store"*) ;; *) fail "man mount.fuse.itemfs: $out" ;; esac
	out=$(MANWIDTH=80 man --manpath="$mandir" 1 itemfs 2>&1 | sed 's/.\x08//g') || fail "man itemfs: $out"
	case "$out" in *"ITEMFS(1)"*"itemfs mount STORE_DIR MOUNTPOINT"*) ;; *) fail "man itemfs: $out" ;; esac
else
	echo "man is not installed: not opening the installed pages with it"
fi

step "README.md links docs/operating.md"
grep -q '](docs/operating.md)' "$SRCDIR/README.md" || fail "README.md does not link docs/operating.md"

echo "PASS"
