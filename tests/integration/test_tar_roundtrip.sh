#!/bin/bash
# Backups with stock tools keep everything: a tree of 10,000 items (treegen:
# sizes from empty to exactly the item limit, with and without xattrs; odd
# and 255-byte names; empty dirs; symlinks; hard links within and across
# tables; setgid, sticky and 0700 dirs; owners; nanosecond mtimes; user.*
# xattrs) goes
#  (a) disk -> mount with tar (POSIX format, xattrs);
#  (b) mount -> archive with tar, which must print nothing (no "file changed
#      as we read it"), then archive -> a fresh second store and -> disk;
#  (c) disk -> mount and mount -> disk with rsync -aHAX, after which a second
#      rsync finds nothing to transfer (--itemize-changes prints nothing).
# After each copy the copy equals the source: bytes, symlink targets, type,
# mode, owner, size, link count, mtime to the nanosecond, hard-link groups,
# user.* xattrs (treecmp.sh).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/treecmp.sh"
: "${TREEGEN:?TREEGEN must name the treegen binary}"

# TAR_ITEMS sets the tree's size. The sanitizer build runs a small tree: it
# looks for memory errors, which the paths exercise whatever the count, and
# 5,000 items took 335 s there, 1,000 64 s (CI's budget is 20 minutes for everything).
N=${TAR_ITEMS:-10000}
if [ -z "${TAR_ITEMS:-}" ] && [ -n "$ASAN_BUILD" ]; then
	N=500
	echo "itemfs is built with AddressSanitizer: $N items instead of 10000"
fi
# meson test sets MALLOC_PERTURB_, and glibc then fills every malloc()ed
# block: each request's nested LMDB transaction allocates about 3 MiB (its
# dirty and free page lists), which makes the daemon ten times slower (57 s
# instead of 5 s for one tar -x of the tree). This test is about volume, not
# heap hygiene (the ASan build and the other tests keep that watch).
unset MALLOC_PERTURB_
SRC=$T/src
XATTR_TAR=(--format=posix --xattrs --xattrs-include='user.*')
# One item is dated 2100: tar -x would warn that it is in the future.
UNTAR=(tar "${XATTR_TAR[@]}" --warning=no-timestamp -xpf)
SECONDS=0

# new_store NAME: mount a fresh, empty store $T/NAME on $MNT.
new_store() {
	[ -z "$ITEMFS_PID" ] || stop_itemfs
	STORE=$T/$1
	start_itemfs
}

# quiet WHAT CMD...: CMD must succeed and print nothing on stderr.
quiet() {
	local what=$1 rc=0
	shift
	"$@" 2>"$T/stderr" || rc=$?
	[ "$rc" -eq 0 ] || fail "$what: exit $rc: $(head -n 20 "$T/stderr")"
	[ ! -s "$T/stderr" ] || fail "$what printed on stderr: $(head -n 20 "$T/stderr")"
}

# rsync_nothing_to_do FROM TO: a second rsync -aHAX finds nothing to change.
rsync_nothing_to_do() {
	local out
	out=$(rsync -aHAX --inplace --itemize-changes "$1" "$2" 2>&1) ||
		fail "second rsync $1 $2: $out"
	[ -z "$out" ] || fail "second rsync $1 $2 transferred or changed:
$(printf '%s\n' "$out" | head -n 20)"
}

step "generate the source tree on the local disk ($N items)"
mkdir "$SRC"
"$TREEGEN" "$SRC" "$N"
echo "  ${SECONDS}s"

step "(a) tar: disk -> mount"
new_store store-a
quiet "tar -c of the disk tree" tar "${XATTR_TAR[@]}" -cpf "$T/src.tar" -C "$SRC" .
quiet "tar -x into the mount" "${UNTAR[@]}" "$T/src.tar" -C "$MNT"
echo "  ${SECONDS}s"
same_tree "$SRC" "$MNT" "tar disk -> mount"
echo "  ${SECONDS}s"

step "(b) tar: mount -> archive, without a warning"
quiet "tar -c of the mount" tar "${XATTR_TAR[@]}" -cpf "$T/x.tar" -C "$MNT" .
echo "  ${SECONDS}s"

step "(b) the archive -> a fresh store"
new_store store-b
quiet "tar -x of the mount's archive into a fresh mount" \
	"${UNTAR[@]}" "$T/x.tar" -C "$MNT"
same_tree "$SRC" "$MNT" "tar mount -> archive -> second store"
echo "  ${SECONDS}s"

step "(b) the archive -> disk"
mkdir "$T/from-tar"
quiet "tar -x of the mount's archive onto the disk" \
	"${UNTAR[@]}" "$T/x.tar" -C "$T/from-tar"
same_tree "$SRC" "$T/from-tar" "tar mount -> archive -> disk"
echo "  ${SECONDS}s"

# --inplace: rsync otherwise writes each file under a temporary name
# (.NAME.XXXXXX) and renames it; the name counts towards the item limit, so
# an item at the limit only fits under its own name (README, Limits).
step "(c) rsync -aHAX: disk -> mount"
new_store store-c
quiet "rsync disk -> mount" rsync -aHAX --inplace "$SRC/" "$MNT/"
same_tree "$SRC" "$MNT" "rsync disk -> mount"
rsync_nothing_to_do "$SRC/" "$MNT/"
echo "  ${SECONDS}s"

step "(c) rsync -aHAX: mount -> disk"
quiet "rsync mount -> disk" rsync -aHAX "$MNT/" "$T/from-rsync/"
same_tree "$SRC" "$T/from-rsync" "rsync mount -> disk"
rsync_nothing_to_do "$MNT/" "$T/from-rsync/"
echo "  ${SECONDS}s"

step "the copies in the stores survive a remount"
stop_itemfs
STORE=$T/store-a
start_itemfs
same_tree "$SRC" "$MNT" "tar copy after remount"
stop_itemfs

echo "PASS (${SECONDS}s)"
