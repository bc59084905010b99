#!/bin/bash
# itemfs backup and restore: a backup of a mounted store taken while a
# writer runs is one point in time (every file the writer renamed into
# place is whole, and the last one it recorded is there); restored into an
# empty directory it checks clean, and mounted it equals the source tree
# (diff -r, modes, owners, times to the nanosecond, xattrs, hard links) and
# the source mount (inode numbers, atime, ctime). Refusals exit 1 with a
# message naming the path and leave everything as it was: a non-empty
# STORE_DIR without --force, a mounted one even with --force, an existing
# FILE without --force, garbage, truncated and damaged backups, a full
# disk. --force replaces a store (byte for byte the backup); usage errors
# exit 2.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SRC=$T/src
BK=$T/b1.itemfs

# run ARGS...: runs `itemfs ARGS`; sets OUT (stdout), ERR (stderr) and RC.
# stderr is a file, not a terminal: no progress lines.
run() {
	RC=0
	OUT=$("$ITEMFS" "$@" 2>"$T/cmd.err") || RC=$?
	ERR=$(cat "$T/cmd.err")
}

# refused STATUS MESSAGE ARGS...: `itemfs ARGS` exits STATUS, prints
# nothing on stdout, and MESSAGE (exactly) on stderr.
refused() {
	local want_rc=$1 msg=$2
	shift 2
	run "$@"
	assert_eq "$want_rc" "$RC" "exit status of itemfs $* ($ERR)"
	assert_eq "" "$OUT" "stdout of itemfs $*"
	assert_eq "$msg" "$ERR" "message of itemfs $*"
}

# manifest DIR: type, mode, owner, size, nlink, inode, atime, mtime, ctime
# and symlink target of every path but the writer's.
manifest() {
	(cd "$1" && find . -path ./writer -prune -o -printf '%p|%y|%m|%U|%G|%s|%n|%i|%A@|%T@|%C@|%l\n' |
		sort)
}
# xattrs DIR: every xattr of everything but the writer's, by path.
xattrs() {
	(cd "$1" && find . -path ./writer -prune -o -print0 | sort -z |
		xargs -0 getfattr -h -d -m - -e hex --absolute-names)
}
# links DIR: which names share an inode: a group number and a path per line.
links() {
	(cd "$1" && find . ! -type d -links +1 -printf '%i\t%p\n' | sort -t "$(printf '\t')" -k2 |
		awk -F '\t' '{ if (!($1 in id)) id[$1] = ++n; print id[$1], $2 }')
}
# same_tree A B WHAT: B equals A in content, metadata, xattrs and links.
same_tree() {
	local out
	out=$(diff -r --no-dereference "$1" "$2" 2>&1) || fail "$3: diff -r $1 $2: $out"
	out=$(diff <(meta "$1") <(meta "$2")) || fail "$3: metadata differs (< $1, > $2):
$out"
	out=$(diff <(xattrs "$1") <(xattrs "$2")) || fail "$3: xattrs differ (< $1, > $2):
$out"
	out=$(diff <(links "$1") <(links "$2")) || fail "$3: hard links differ (< $1, > $2):
$out"
}
# leftovers: temporary files or directories the commands left in $T.
leftovers() {
	(cd "$T" && find . -maxdepth 1 \( -name '*.tmp-*' -o -name '*.restore-*' -o -name '*.old-*' \) |
		sort)
}

# r1_state: the directory $T/r1 and what it holds, times and bytes included.
r1_state() {
	stat -c '%n %a %U %G %.9Y' "$T/r1"
	ls -l --time-style=full-iso "$T/r1"
	md5sum "$T/r1/data.mdb"
}

# writer: renames whole files into $MNT/writer until killed: round N writes
# seq N N+300 to wN%40, then N to last (each through a temporary and mv).
writer() {
	local i=0
	while :; do
		i=$((i + 1))
		seq "$i" $((i + 300)) >"$MNT/writer/.w"
		mv "$MNT/writer/.w" "$MNT/writer/w$((i % 40))"
		echo "$i" >"$MNT/writer/.last"
		mv "$MNT/writer/.last" "$MNT/writer/last"
	done
}

step "a source tree: nested dirs, sizes up to the item limit, symlinks, hard links, odd modes and owners, xattrs, times"
mkdir -p "$SRC/a/b/c" "$SRC/empty" "$SRC/sticky" "$SRC/private"
for n in 0 1 4097 100000; do
	head -c "$n" /dev/urandom >"$SRC/a/size-$n"
done
head -c $((409600 - 3)) /dev/urandom >"$SRC/max"
printf 'shared' >"$SRC/a/hl"
ln "$SRC/a/hl" "$SRC/a/b/c/hl2"
ln -s ../max "$SRC/a/rel"
ln -s no/such/target "$SRC/a/b/dangling"
chmod 4755 "$SRC/a/size-1"
chmod 600 "$SRC/a/size-0"
chmod 1777 "$SRC/sticky"
chmod 700 "$SRC/private"
chown 1234:5678 "$SRC/a/size-4097" "$SRC/private"
chown -h 42:43 "$SRC/a/rel"
setfattr -n user.note -v "a note" "$SRC/a/size-4097"
setfattr -n user.bin -v 0x00010203 "$SRC/a/size-4097"
setfattr -n user.dir -v yes "$SRC/a/b"
i=0
while IFS= read -r -d '' p; do
	i=$((i + 1))
	touch -h -d "2011-11-11 11:11:11.$(printf '%09d' $((i * 7654321 % 1000000000)))" "$p"
done < <(find "$SRC" -depth -print0)

step "copy it into the mount; start a writer"
start_itemfs
mkdir "$MNT/t1" "$MNT/writer"
run_ok cp -a "$SRC" "$MNT/t1/"
same_tree "$SRC" "$MNT/t1/src" "cp -a into the mount"
victim=$(st %i "$MNT/t1/src/a/size-100000")
writer &
writer_pid=$!
BG_PIDS+=("$writer_pid")
for ((i = 0; i < 200; i++)); do
	n=$(cat "$MNT/writer/last" 2>/dev/null) || n=0
	[ "$n" -ge 20 ] && break
	sleep 0.05
done
[ "$n" -ge 20 ] || fail "the writer did not get to round 20 in 10 s"
sync "$MNT/writer" # commit its first rounds now, not within commit_interval

step "itemfs backup while mounted and written: exit 0, one summary line, FILE 0600"
run backup "$STORE" "$BK"
assert_eq 0 "$RC" "exit status of backup while mounted ($ERR)"
assert_eq "" "$ERR" "stderr of backup (not a terminal: no progress)"
[[ $OUT =~ ^"itemfs backup: $STORE -> $BK: "([0-9]+)" inodes, "[0-9.]+" "(kB|MB)" (compacted from "[0-9.]+" "(kB|MB)") in "[0-9]+\.[0-9]" s"$ ]] ||
	fail "backup summary: $OUT"
inodes=${BASH_REMATCH[1]}
assert_gt "$inodes" 20 "inodes in the backup"
running "$writer_pid" || fail "the writer stopped during the backup"
assert_eq 600 "$(st %a "$BK")" "mode of the backup"
assert_eq "" "$(leftovers)" "temporary files after backup"

step "backup --json: one object"
run backup "$STORE" "$T/b2.itemfs" --json
assert_eq 0 "$RC" "exit status of backup --json ($ERR)"
[[ $OUT =~ ^'{"store": "'"$STORE"'", "file": "'"$T/b2.itemfs"'", "bytes": '([0-9]+)', "inodes": '[0-9]+', "seconds": '[0-9]+\.[0-9]{3}'}'$ ]] ||
	fail "backup JSON: $OUT"
assert_eq "$(st %s "$T/b2.itemfs")" "${BASH_REMATCH[1]}" "bytes in the JSON"

step "stop the writer; remember the source mount"
kill "$writer_pid"
wait "$writer_pid" 2>/dev/null || true
manifest "$MNT" >"$T/manifest.src"
xattrs "$MNT" >"$T/xattrs.src"

step "backup to an existing FILE: refused without --force, FILE unchanged; replaced with it"
cp "$T/b2.itemfs" "$T/b2.orig"
refused 1 "itemfs backup: $T/b2.itemfs already exists; give --force to overwrite it" \
	backup "$STORE" "$T/b2.itemfs"
assert_cmp "$T/b2.orig" "$T/b2.itemfs"
run backup "$STORE" "$T/b2.itemfs" --force
assert_eq 0 "$RC" "exit status of backup --force ($ERR)"
assert_eq 600 "$(st %a "$T/b2.itemfs")" "mode of the replaced backup"
assert_eq "" "$(leftovers)" "temporary files after backup --force"
stop_itemfs
src_store=$STORE

step "restore into an empty directory: exit 0, checks clean, 0700/0600"
mkdir "$T/r1"
run restore "$BK" "$T/r1"
assert_eq 0 "$RC" "exit status of restore ($ERR)"
assert_eq "" "$ERR" "stderr of restore"
[[ $OUT =~ ^"itemfs restore: $BK -> $T/r1: $inodes inodes, "[0-9.]+" "(kB|MB)" in "[0-9]+\.[0-9]" s; check: clean"$ ]] ||
	fail "restore summary: $OUT"
assert_eq 700 "$(st %a "$T/r1")" "mode of the restored store directory"
assert_eq "data.mdb" "$(ls "$T/r1")" "files of the restored store"
assert_eq 600 "$(st %a "$T/r1/data.mdb")" "mode of the restored data.mdb"
assert_cmp "$BK" "$T/r1/data.mdb"
assert_eq "" "$(leftovers)" "temporary files after restore"
run check "$T/r1"
assert_eq 0 "$RC" "itemfs check of the restored store ($OUT $ERR)"
case "$OUT" in
*": $inodes inodes ("*" of item data: clean") ;;
*) fail "check of the restored store: $OUT" ;;
esac

step "mount the restored store: the source tree, the source mount, a point in time of the writer"
STORE=$T/r1
start_itemfs
same_tree "$SRC" "$MNT/t1/src" "the restored store"
out=$(diff "$T/manifest.src" <(manifest "$MNT")) || fail "manifest differs (< source mount, > restored):
$out"
out=$(diff "$T/xattrs.src" <(xattrs "$MNT")) || fail "xattrs differ (< source mount, > restored):
$out"
last=$(cat "$MNT/writer/last")
assert_gt "$last" 19 "the writer's last round in the backup"
assert_eq "$(seq "$last" $((last + 300)))" "$(cat "$MNT/writer/w$((last % 40))")" \
	"the file of the writer's last recorded round"
for f in "$MNT"/writer/w*; do
	first=$(head -n 1 "$f")
	[ "$(cat "$f")" = "$(seq "$first" $((first + 300)))" ] || fail "$f is not whole"
done

step "restore onto the mounted store: refused, with and without --force; the mount goes on"
msg="itemfs restore: $T/r1 is in use (mounted?); unmount it first"
refused 1 "$msg" restore "$BK" "$T/r1" --force
refused 1 "$msg" restore "$BK" "$T/r1"
assert_eq "shared" "$(cat "$MNT/t1/src/a/hl")" "a read after the refused restores"
assert_eq "" "$(leftovers)" "temporary files after the refused restores"
printf changed >"$MNT/t1/src/a/hl"
stop_itemfs
STORE=$src_store

step "restore into a non-empty directory: refused without --force; --force replaces only a store"
mkdir "$T/r2"
printf keep >"$T/r2/keep"
refused 1 "itemfs restore: $T/r2 is not empty; --force replaces it (the store in it is lost)" \
	restore "$BK" "$T/r2"
refused 1 "itemfs restore: $T/r2 holds 'keep', which is not part of an itemfs store; --force replaces only a store directory (data.mdb, lock.mdb): move 'keep' away first" \
	restore "$BK" "$T/r2" --force
assert_eq keep "$(ls "$T/r2")" "the non-empty directory after refusals"
assert_eq keep "$(cat "$T/r2/keep")" "its file"

step "restore --force over a store: replaced by the backup, byte for byte"
refused 1 "itemfs restore: $T/r1 is not empty; --force replaces it (the store in it is lost)" \
	restore "$BK" "$T/r1"
run restore "$BK" "$T/r1/" --force --json
assert_eq 0 "$RC" "exit status of restore --force ($ERR)"
assert_eq "{\"file\": \"$BK\", \"store\": \"$T/r1\", \"bytes\": $(st %s "$BK"), \"inodes\": $inodes, \"seconds\": ${OUT##*\"seconds\": }" \
	"$OUT" "restore JSON"
assert_cmp "$BK" "$T/r1/data.mdb"
assert_eq "data.mdb" "$(ls "$T/r1")" "files of the replaced store"
assert_eq 700 "$(st %a "$T/r1")" "mode of the replaced store directory"
assert_eq "" "$(leftovers)" "temporary files after restore --force"
STORE=$T/r1
start_itemfs
assert_eq "shared" "$(cat "$MNT/t1/src/a/hl")" "the change made after the backup is gone"
stop_itemfs
STORE=$src_store

step "root restores into a directory of another owner: the owner stays"
mkdir "$T/r3"
chown 1234:5678 "$T/r3"
run restore "$BK" "$T/r3"
assert_eq 0 "$RC" "exit status of restore into r3 ($ERR)"
assert_eq "1234:5678 1234:5678" "$(st %u:%g "$T/r3") $(st %u:%g "$T/r3/data.mdb")" "owners"

step "not a backup: garbage, an empty file, a truncated backup; STORE_DIR untouched"
head -c 100000 /dev/urandom >"$T/garbage"
: >"$T/empty"
head -c $(($(st %s "$BK") / 2)) "$BK" >"$T/half"
before=$(r1_state)
for f in garbage empty; do
	refused 1 "itemfs restore: $T/$f is not an itemfs backup (not an LMDB file holding an itemfs store); give a file written by \`itemfs backup\`; $T/r1 was not changed" \
		restore "$T/$f" "$T/r1" --force
	refused 1 "itemfs restore: $T/$f is not an itemfs backup (not an LMDB file holding an itemfs store); give a file written by \`itemfs backup\`; $T/r4 was not changed" \
		restore "$T/$f" "$T/r4"
done
run restore "$T/half" "$T/r1" --force
assert_eq 1 "$RC" "exit status of restoring a truncated backup"
case "$ERR" in
"itemfs restore: $T/half is not a usable backup (data.mdb is "*" bytes, but its pages reach "*" bytes: the file is truncated"*"); $T/r1 was not changed") ;;
*) fail "message for a truncated backup: $ERR" ;;
esac
refused 1 "itemfs restore: $T/r1 is not a regular file; give a file written by \`itemfs backup\`" \
	restore "$T/r1" "$T/r4"
assert_eq "$before" "$(r1_state)" "r1 after the refusals"
assert_absent "$T/r4"
assert_eq "" "$(leftovers)" "temporary files after the refusals"

step "a backup holding a damaged item: the check refuses it; STORE_DIR untouched"
run restore "$BK" "$T/dmg"
assert_eq 0 "$RC" "restore into dmg ($ERR)"
out=$("$HELPER" flip "$T/dmg" "$victim" $((8 + 4321)) 2>&1) || fail "flip a data byte: $out"
run backup "$T/dmg" "$T/dmg.itemfs"
assert_eq 0 "$RC" "backup of the damaged store ($ERR)"
refused 1 "itemfs restore: $T/dmg.itemfs: t1/src/a/size-100000 (inode $victim): data checksum mismatch
itemfs restore: $T/dmg.itemfs holds a damaged store (1 problem, above); $T/r4 was not changed" \
	restore "$T/dmg.itemfs" "$T/r4"
assert_absent "$T/r4"
assert_eq "" "$(leftovers)" "temporary files after the damaged backup"

step "a full disk: backup and restore fail, leave nothing behind"
mount_tmpfs "$T/small" 256k
refused 1 "itemfs backup: cannot back up $STORE to $T/small/b.itemfs: No space left on device; nothing was written" \
	backup "$STORE" "$T/small/b.itemfs"
run restore "$BK" "$T/small/r"
assert_eq 1 "$RC" "exit status of a restore onto a full disk"
case "$ERR" in
"itemfs restore: cannot copy $BK to $T/small/r.restore-"*"/data.mdb: No space left on device; $T/small/r was not changed") ;;
*) fail "message of a restore onto a full disk: $ERR" ;;
esac
assert_eq "" "$(ls -A "$T/small")" "the full disk after the failures"

step "backup of what is not a store; usage errors exit 2"
mkdir "$T/notastore"
printf x >"$T/notastore/file"
refused 1 "itemfs backup: $T/notastore: not an itemfs store (the directory holds other files and no data.mdb); nothing was changed
itemfs backup: $T/notastore is not an itemfs store; give the STORE_DIR the store was mounted from" \
	backup "$T/notastore" "$T/b3.itemfs"
assert_absent "$T/b3.itemfs"
run backup "$STORE"
assert_eq 2 "$RC" "exit status of backup without FILE"
case "$ERR" in
*"usage: itemfs backup STORE_DIR FILE [--force] [--json]"*) ;;
*) fail "backup usage: $ERR" ;;
esac
run restore "$BK" "$T/r5" --frobnicate
assert_eq 2 "$RC" "exit status of restore with an unknown option"
case "$ERR" in
"itemfs restore: unknown option '--frobnicate'"*"usage: itemfs restore FILE STORE_DIR [--force] [--json]"*) ;;
*) fail "restore usage: $ERR" ;;
esac
assert_absent "$T/r5"
run restore "$BK" .
assert_eq 2 "$RC" "exit status of restore into ."
run help
case "$OUT" in
*"itemfs backup STORE_DIR FILE [--force] [--json]"*"itemfs restore FILE STORE_DIR [--force] [--json]"*) ;;
*) fail "itemfs help: $OUT" ;;
esac

echo "PASS"
