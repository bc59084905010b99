#!/bin/bash
# docs/backup.md works as written: every ```sh and ```console block of it
# is run for real, with its paths moved into the test's temp dir
# (relocate), and the results are checked:
# - itemfs backup of the mounted store; verifying it (restore + check);
#   tar and rsync of a --snapshot mount, each equal to the live mount
#   (treecmp.sh: bytes, metadata to the nanosecond, hard links, xattrs);
#   the mirror follows changes on a second run;
# - the systemd units: systemd-analyze verify (or, where systemd-analyze is
#   missing, a line-level check, said in the log); `systemctl` is a
#   stand-in (no systemd runs here): enable is the real `systemctl --root`
#   (offline) when systemctl exists, start runs the unit's ExecStartPre=
#   and ExecStart= lines as systemd would (after its %% and $$ unescaping,
#   with its UMask=);
# - the cron.d line: 5 valid time fields, a user, a command without a bare
#   %; the command runs (after cron's \% unescaping); both scheduled jobs
#   write the day's backup and delete those older than 14 days only;
# - restoring one table from the backup file, the tar and the mirror, each
#   after damaging the live table: the table equals the backed-up one;
# - the console block of refusals prints exactly what the doc shows (exit
#   1 where it shows a message, 0 where it shows none); restoring the whole
#   store gives back exactly the backed-up tree; restore into an absent
#   directory; a tar into a fresh store equals it too;
# - at the end, every block of the doc has been run.
# The doc's example backup date (2026-11-21) stands for the day the test's
# backups are made.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/treecmp.sh"
: "${TREEGEN:?TREEGEN must name the treegen binary}"

DOC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../docs" && pwd)/backup.md
EXAMPLE_DATE=2026-11-21
TODAY=$(date +%F)
ROOT=$T/root # stands for / where the doc writes into /etc
SRC=$T/src
REF=$T/ref # the tree the backups hold (from the doc's tar), to compare against
STORE=$T/var/lib/itemfs/main
MNT=$T/mnt/itemfs
EXTRA_MOUNTS+=("$T/mnt/itemfs-snap" "$T/mnt/itemfs-restore" "$T/mnt/itemfs-new")
mkdir -p "$MNT" "$ROOT/etc/systemd/system" "$ROOT/etc/cron.d" "$T/var/lib/itemfs" \
	"$T/var/tmp" "$T/bin" "$T/doc"

# ---- running the doc ------------------------------------------------------

# relocate: the doc's paths (stdin) moved into $T (stdout).
relocate() {
	sed -e "s#/usr/local/bin/itemfs#$ITEMFS#g" \
		-e "s#/var/lib/itemfs#$T/var/lib/itemfs#g" \
		-e "s#/var/backups/itemfs#$T/var/backups/itemfs#g" \
		-e "s#/var/tmp/itemfs-#$T/var/tmp/itemfs-#g" \
		-e "s#/mnt/itemfs#$T/mnt/itemfs#g" \
		-e "s#/etc/#$ROOT/etc/#g" \
		-e "s#$EXAMPLE_DATE#$TODAY#g"
}

# The doc's blocks, one file each: $T/doc/NN.sh, $T/doc/NN.console.
awk -v dir="$T/doc" '
	/^```/ && !fence { fence = 1; lang = substr($0, 4)
		if (lang == "sh" || lang == "console") { f = sprintf("%s/%02d.%s", dir, ++n, lang); printf "" > f }
		else f = ""
		next }
	/^```/ && fence { fence = 0; if (f) close(f); f = ""; next }
	fence && f { print > f }' "$DOC"
[ -n "$(ls "$T/doc")" ] || fail "no sh or console blocks found in $DOC"

# doc_block KIND TEXT: the one KIND block of the doc holding the line TEXT.
doc_block() {
	local f found=()
	for f in "$T"/doc/*."$1"; do
		grep -qxF -- "$2" "$f" && found+=("$f")
	done
	[ "${#found[@]}" -eq 1 ] ||
		fail "docs/backup.md: ${#found[@]} $1 blocks hold the line '$2', expected 1"
	echo "${found[0]}"
}

# doc_sh LINE: runs the doc's sh block holding LINE, relocated, under
# bash -euo pipefail; it must succeed. Its output is in $T/doc/out, err.
doc_sh() {
	local f rc=0
	f=$(doc_block sh "$1")
	relocate <"$f" >"$f.run"
	bash -euo pipefail "$f.run" >"$T/doc/out" 2>"$T/doc/err" </dev/null || rc=$?
	[ "$rc" -eq 0 ] || fail "docs/backup.md block '$1' failed (exit $rc):
$(cat "$T/doc/err" "$T/doc/out" | head -n 20)"
	touch "$f.ran"
}

# doc_console LINE: runs the commands ("$ CMD" lines) of the doc's console
# block holding "$ LINE"; each must print exactly the lines the doc shows
# after it (stdout and stderr), and exit 1 if it shows any, else 0.
doc_console() {
	local f line cmd='' want='' have=0
	f=$(doc_block console "\$ $1")
	relocate <"$f" >"$f.run"
	while IFS= read -r line <&3; do
		if [ "${line:0:2}" = '$ ' ]; then
			[ "$have" -eq 0 ] || console_check "$cmd" "$want"
			cmd=${line:2}
			want=
			have=1
		else
			want+=$line$'\n'
		fi
	done 3<"$f.run"
	[ "$have" -eq 0 ] || console_check "$cmd" "$want"
	touch "$f.ran"
}

console_check() {
	local out rc=0
	out=$(bash -c "$1" 2>&1 </dev/null) || rc=$?
	assert_eq "${2%$'\n'}" "$out" "output of \`$1\` (docs/backup.md)"
	if [ -n "$2" ]; then
		assert_eq 1 "$rc" "exit status of \`$1\`"
	else
		assert_eq 0 "$rc" "exit status of \`$1\`"
	fi
}

# doc_inline TEXT: a command the doc's prose gives in `backquotes`; runs it.
doc_inline() {
	grep -qF -- "\`$1\`" "$DOC" || fail "docs/backup.md does not say \`$1\`"
	run_ok bash -c "$(printf '%s\n' "$1" | relocate)"
}

# reap_itemfs: the foreground itemfs of start_itemfs, unmounted by the doc,
# must exit 0 with no sanitizer report.
reap_itemfs() {
	local rc=0
	wait_exit "$ITEMFS_PID" || true # wait(1) below reports it either way
	wait "$ITEMFS_PID" || rc=$?
	ITEMFS_PID=
	assert_eq 0 "$rc" "exit status of itemfs after the doc's fusermount3 -u (log: $(cat "$LOG"))"
	sanitizer_reports || fail "sanitizer reports from itemfs (above)"
}

# old_backups: backup files dated 20 and 10 days ago; the scheduled jobs
# must delete the first only.
old_backups() {
	mkdir -p "$T/var/backups/itemfs"
	echo old >"$T/var/backups/itemfs/main-2000-01-01.itemfs"
	echo recent >"$T/var/backups/itemfs/main-2000-01-02.itemfs"
	touch -d '20 days ago' "$T/var/backups/itemfs/main-2000-01-01.itemfs"
	touch -d '10 days ago' "$T/var/backups/itemfs/main-2000-01-02.itemfs"
}

# scheduled_backup_ran WHAT OLD_INODE: the day's backup was written anew,
# is a clean backup of the live store, and rotation kept the recent one.
scheduled_backup_ran() {
	local f=$T/var/backups/itemfs/main-$TODAY.itemfs
	assert_exists "$f"
	assert_ne "$2" "$(st %i "$f")" "$1: inode of the day's backup (written anew)"
	assert_eq 600 "$(st %a "$f")" "$1: mode of the backup"
	assert_absent "$T/var/backups/itemfs/main-2000-01-01.itemfs"
	assert_exists "$T/var/backups/itemfs/main-2000-01-02.itemfs"
	run_ok "$ITEMFS" restore "$f" "$T/var/tmp/scheduled"
	run_ok "$ITEMFS" check "$T/var/tmp/scheduled"
	rm -r "$T/var/tmp/scheduled"
}

# damage_users: changes the live table users in every way a restore must undo.
damage_users() {
	rm -rf "$MNT/users/names"
	echo changed >"$MNT/users/limit/a"
	mkdir "$MNT/users/added"
	echo new >"$MNT/users/added/item"
	chmod 700 "$MNT/users/sgid"
	setfattr -n user.dir -v no "$MNT/users"
	if same_tree_quiet "$REF/users" "$MNT/users"; then
		fail "damage_users left users as it was"
	fi
}
same_tree_quiet() { (same_tree "$@") >/dev/null 2>&1; }

# ---- stand-ins for what the test machine may lack ---------------------------

ln -s "$ITEMFS" "$T/bin/itemfs"
REAL_SYSTEMCTL=$(command -v systemctl || true)
REAL_ANALYZE=$(command -v systemd-analyze || true)
[ -x "$REAL_SYSTEMCTL" ] || REAL_SYSTEMCTL=
[ -x "$REAL_ANALYZE" ] || REAL_ANALYZE=
cat >"$T/bin/systemctl" <<EOF
#!/bin/bash
# systemctl stand-in for test_backup_docs.sh: no systemd runs here.
set -euo pipefail
unit_dir=$ROOT/etc/systemd/system
case "\$*" in
daemon-reload) ;; # the stand-in reads the units when it needs them
"enable --now itemfs-backup.timer")
	if [ -n "$REAL_SYSTEMCTL" ]; then
		$REAL_SYSTEMCTL --root=$ROOT enable itemfs-backup.timer
	else
		grep -qx 'WantedBy=timers.target' "\$unit_dir/itemfs-backup.timer"
		echo "systemctl stand-in: no systemctl here; checked WantedBy= only" >&2
	fi ;;
"start itemfs-backup.service")
	# systemd: UMask=, then every ExecStartPre=, then every ExecStart=, in
	# order, each after "%%" -> "%" and "\$\$" -> "\$".
	u=\$(sed -n 's/^UMask=//p' "\$unit_dir/itemfs-backup.service")
	[ -z "\$u" ] || umask "\$u"
	for key in ExecStartPre ExecStart; do
		sed -n "s/^\$key=//p" "\$unit_dir/itemfs-backup.service" |
			sed -e 's/%%/%/g' -e 's/\\\$\\\$/\$/g' >"$T/doc/exec.\$key"
		while IFS= read -r line <&3; do
			bash -c "\$line" 3<&-
		done 3<"$T/doc/exec.\$key"
	done ;;
*) echo "systemctl stand-in: not expected here: \$*" >&2; exit 1 ;;
esac
EOF
chmod +x "$T/bin/systemctl"
if [ -z "$REAL_ANALYZE" ]; then
	echo "systemd-analyze is not installed: the units get a line-level check instead"
	cat >"$T/bin/systemd-analyze" <<'EOF'
#!/bin/bash
# systemd-analyze stand-in: `verify UNIT...` checks each line's shape, the
# sections and keys the doc's units need, and that Exec* programs exist.
set -euo pipefail
[ "$1" = verify ] || { echo "systemd-analyze stand-in: only verify" >&2; exit 1; }
shift
for u in "$@"; do
	bad=$(grep -nvE '^(\[(Unit|Service|Timer|Install)\]|[A-Z][A-Za-z]*=.*|#.*|)$' "$u" || true)
	[ -z "$bad" ] || { echo "$u: malformed lines: $bad" >&2; exit 1; }
	grep -qx '\[Unit\]' "$u" && grep -q '^Description=' "$u" || { echo "$u: no [Unit] Description=" >&2; exit 1; }
	case "$u" in
	*.service)
		grep -qx '\[Service\]' "$u" && grep -qx 'Type=oneshot' "$u" && grep -q '^ExecStart=/' "$u" ||
			{ echo "$u: no [Service] Type=oneshot ExecStart=/..." >&2; exit 1; }
		for p in $(sed -n 's/^Exec[A-Za-z]*=\([^ ]*\).*/\1/p' "$u"); do
			[ -x "$p" ] || { echo "$u: $p is not executable" >&2; exit 1; }
		done ;;
	*.timer)
		grep -qx '\[Timer\]' "$u" && grep -q '^OnCalendar=' "$u" && grep -qx '\[Install\]' "$u" &&
			grep -qx 'WantedBy=timers.target' "$u" ||
			{ echo "$u: no [Timer] OnCalendar= / [Install] WantedBy=timers.target" >&2; exit 1; }
		;;
	*) echo "$u: not a .service or .timer" >&2; exit 1 ;;
	esac
done
EOF
	chmod +x "$T/bin/systemd-analyze"
fi
export PATH=$T/bin:$PATH

# ---- the store the doc backs up ------------------------------------------

step "a mounted store with tables (treegen) and a table users"
mkdir "$SRC"
"$TREEGEN" "$SRC" "$([ -n "$ASAN_BUILD" ] && echo 300 || echo 1000)" >/dev/null
start_itemfs
tar --format=posix --xattrs --xattrs-include='user.*' -cpf "$T/src.tar" -C "$SRC" .
tar --xattrs --xattrs-include='user.*' --warning=no-timestamp -xpf "$T/src.tar" -C "$MNT"
cp -a "$SRC/odd table ü" "$MNT/users"
same_tree "$SRC/odd table ü" "$MNT/users" "setup: users"

step "doc: itemfs backup"
doc_sh 'itemfs backup /var/lib/itemfs/main /var/backups/itemfs/main-$(date +%F).itemfs'
BACKUP=$T/var/backups/itemfs/main-$TODAY.itemfs
assert_exists "$BACKUP"
assert_eq 600 "$(st %a "$BACKUP")" "mode of the backup file"
grep -q "^itemfs backup: $STORE -> $BACKUP: " "$T/doc/out" ||
	fail "itemfs backup's summary: $(cat "$T/doc/out")"

step "doc: verify the backup"
doc_sh "itemfs check /var/tmp/itemfs-verify"
grep -q 'clean' "$T/doc/out" || fail "itemfs check of the restored backup: $(cat "$T/doc/out")"
assert_absent "$T/var/tmp/itemfs-verify"

step "doc: tar of a snapshot mount (no warnings), equal to the live mount"
doc_sh "tar --format=posix --xattrs --xattrs-include='user.*' -cpf /var/backups/itemfs/main-\$(date +%F).tar -C /mnt/itemfs-snap ."
mountpoint -q "$T/mnt/itemfs-snap" && fail "the tar block left the snapshot mounted"
TARFILE=$T/var/backups/itemfs/main-$TODAY.tar
assert_exists "$TARFILE"
assert_eq "" "$(cat "$T/doc/err")" "stderr of the tar block"
mkdir "$REF"
tar --xattrs --xattrs-include='user.*' --warning=no-timestamp -xpf "$TARFILE" -C "$REF"
same_tree "$MNT" "$REF" "tar of the snapshot against the live mount"
doc_sh "tar -tf /var/backups/itemfs/main-2026-11-21.tar >/dev/null"

step "doc: rsync of a snapshot mount, equal to the live mount; it follows changes"
doc_sh "rsync -aHAX --modify-window=-1 --delete /mnt/itemfs-snap/ /var/backups/itemfs/main.mirror/"
MIRROR=$T/var/backups/itemfs/main.mirror
same_tree "$MNT" "$MIRROR" "rsync mirror against the live mount"
rm -rf "$MNT/t0/d000"
echo changed >"$MNT/t1/d001/f000201"
mkdir "$MNT/t0/new"
echo new >"$MNT/t0/new/item"
# rsync 3.5.0 (Debian 12's rsync here) with -H, -A or -X leaves a directory it
# creates with the time of the copy when the source's mtime is in the current
# second (disk to disk too): let the changes' second pass first.
sleep 1.1
doc_sh "rsync -aHAX --modify-window=-1 --delete /mnt/itemfs-snap/ /var/backups/itemfs/main.mirror/"
same_tree "$MNT" "$MIRROR" "rsync mirror after changes"
assert_absent "$MIRROR/t0/d000"

step "doc: restore the table users from the backup file"
damage_users
doc_sh "cp -a /mnt/itemfs-restore/users /mnt/itemfs/"
same_tree "$REF/users" "$MNT/users" "users restored from the backup file"
assert_absent "$MNT/users.old"
assert_absent "$T/var/tmp/itemfs-restore"
mountpoint -q "$T/mnt/itemfs-restore" && fail "the restore block left its mount"

step "doc: restore the table users from the tar"
damage_users
doc_sh "tar --xattrs --xattrs-include='user.*' -xpf /var/backups/itemfs/main-2026-11-21.tar -C /mnt/itemfs ./users"
same_tree "$REF/users" "$MNT/users" "users restored from the tar"
assert_absent "$MNT/users.old"

step "doc: restore the table users from the mirror"
damage_users
doc_sh "rsync -aHAX --modify-window=-1 --inplace --delete /var/backups/itemfs/main.mirror/users/ /mnt/itemfs/users/"
same_tree "$REF/users" "$MNT/users" "users restored from the mirror"

step "doc: what itemfs restore refuses (exact messages)"
echo "stays" >"$MNT/t2/marker" # the refused restores must not lose it
doc_console "fusermount3 -u /mnt/itemfs"
reap_itemfs
start_itemfs
assert_eq stays "$(cat "$MNT/t2/marker")" "an item after the refused restores"

step "doc: restore the whole store; it is the backed-up tree again"
old_pid=$ITEMFS_PID
doc_sh "itemfs restore --force /var/backups/itemfs/main-2026-11-21.itemfs /var/lib/itemfs/main"
reap_ok=0
wait "$old_pid" || reap_ok=$?
assert_eq 0 "$reap_ok" "exit status of the live itemfs unmounted by the doc"
ITEMFS_PID=$(daemon_pid)
ITEMFS_FG=
[ -n "$ITEMFS_PID" ] || fail "the doc's itemfs mount left no daemon serving $MNT"
same_tree "$REF" "$MNT" "the whole store restored from the backup file"
assert_absent "$MNT/t2/marker"
for d in "$T"/var/lib/itemfs/main.restore-* "$T"/var/lib/itemfs/main.old-*; do
	[ ! -e "$d" ] || fail "restore left $d behind"
done

step "doc: restore into an absent directory"
doc_sh "itemfs restore /var/backups/itemfs/main-2026-11-21.itemfs /var/lib/itemfs/main-copy"
run_ok "$ITEMFS" check "$T/var/lib/itemfs/main-copy"

step "doc: a tar into a fresh store"
doc_sh "itemfs mount /var/lib/itemfs/new /mnt/itemfs-new"
same_tree "$REF" "$T/mnt/itemfs-new" "the tar extracted into a fresh store"
doc_inline "fusermount3 -u /mnt/itemfs-new"

step "doc: the systemd units (verify, enable, start)"
doc_sh "cat >/etc/systemd/system/itemfs-backup.service <<'EOF'"
old_backups
old_ino=$(st %i "$BACKUP")
doc_sh "systemctl enable --now itemfs-backup.timer"
[ -z "$REAL_ANALYZE" ] || echo "  systemd-analyze verify: passed"
if [ -n "$REAL_SYSTEMCTL" ]; then
	assert_exists "$ROOT/etc/systemd/system/timers.target.wants/itemfs-backup.timer"
else
	echo "  systemctl is not installed: enable checked by grep only"
fi
scheduled_backup_ran "systemd" "$old_ino"

step "doc: the cron.d line"
doc_sh "cat >/etc/cron.d/itemfs-backup <<'EOF'"
mapfile -t cron < <(grep -v '^[[:space:]]*\(#\|$\)' "$ROOT/etc/cron.d/itemfs-backup")
assert_eq 1 "${#cron[@]}" "number of cron lines"
read -r c_min c_hour c_dom c_mon c_dow c_user c_cmd <<<"${cron[0]}"
field='(\*|[0-9]+(-[0-9]+)?)(/[0-9]+)?(,([0-9]+(-[0-9]+)?)(/[0-9]+)?)*'
for f in "$c_min" "$c_hour" "$c_dom" "$c_mon" "$c_dow"; do
	[[ $f =~ ^$field$ ]] || fail "cron time field '$f' is not valid"
done
[[ ! $c_min =~ ^[0-9]+$ ]] || ((c_min <= 59)) || fail "cron minute out of range: $c_min"
[[ ! $c_hour =~ ^[0-9]+$ ]] || ((c_hour <= 23)) || fail "cron hour out of range: $c_hour"
assert_eq root "$c_user" "cron.d user field"
if printf '%s' "$c_cmd" | grep -q '\(^\|[^\\]\)%'; then
	fail "the cron command has a bare %, which cron turns into a newline: $c_cmd"
fi
old_backups
old_ino=$(st %i "$BACKUP")
run_ok sh -c "$(printf '%s' "$c_cmd" | sed 's/\\%/%/g')"
scheduled_backup_ran "cron" "$old_ino"

step "every block of the doc ran"
for f in "$T"/doc/*.sh "$T"/doc/*.console; do
	[ -e "$f.ran" ] || fail "docs/backup.md block not run by this test:
$(cat "$f")"
done
stop_itemfs
echo "PASS"
