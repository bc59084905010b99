# lib.sh - common setup for the itemfs integration tests; sourced by each
# test_*.sh. It checks that FUSE is usable (else exit 77, meson's SKIP),
# makes a fresh temp dir with a store path and an empty mountpoint, starts
# and stops the daemon, asserts, and cleans everything up from a trap.
#
# Environment (set by tests/integration/meson.build):
#   ITEMFS          the itemfs binary
#   HELPER          the itest_helper binary (syscalls shell tools lack)
#   ITEMFS_VERSION  the project version `itemfs version` must print
#
#   ITEMFS_TEST_BACKEND  "ddb": STORE is a fresh table on the DynamoDB-API
#                   server at ITEMFS_TEST_DDB_ENDPOINT (tests/ddb/with-dynalite.sh
#                   starts one) instead of a directory; the scripts that run on
#                   both backends use STORE only through itemfs mount.
#
# Variables a test may use: T (temp dir, on the local disk), STORE, MNT,
# LOG (the foreground daemon's stdout+stderr), ITEMFS_PID, BG_PIDS (add the
# pids of background processes that may hold files in the mount).
#
# The daemon's sanitizer reports (ASan/UBSan/LSan builds) go to $T/san.*
# through log_path, because a daemonized itemfs has no stderr; any report,
# or a sanitizer line in $LOG, fails the test at the next stop_itemfs and in
# the exit trap.

set -euo pipefail
export LC_ALL=C TZ=UTC
umask 022

: "${ITEMFS:?ITEMFS must name the itemfs binary}"
: "${HELPER:?HELPER must name the itest_helper binary}"

# ---- trees ----------------------------------------------------------------

# meta DIR: everything but atime and directory sizes, by path.
meta() {
	(
		cd "$1"
		{
			find . -type d -printf '%p %y %m %U %G %n %T@\n'
			find . ! -type d -printf '%p %y %m %U %G %s %n %T@ %l\n'
		} | sort
	)
}

# ---- assertions ----------------------------------------------------------

# fail MESSAGE: prints where the test failed and what was wrong; exits 1.
fail() {
	local i
	echo "FAIL: $*" >&2
	for ((i = 1; i < ${#FUNCNAME[@]}; i++)); do
		echo "  at ${BASH_SOURCE[i]##*/}:${BASH_LINENO[i - 1]} ${FUNCNAME[i]}" >&2
	done
	exit 1
}

# step TEXT: logs what the test does next (shown with --print-errorlogs).
step() {
	echo "--- $*"
}

# assert_eq EXPECTED GOT [WHAT]
assert_eq() {
	if [ "$1" != "$2" ]; then
		fail "${3:-value}: expected '$1', got '$2'"
	fi
}

# assert_ne UNEXPECTED GOT [WHAT]
assert_ne() {
	if [ "$1" = "$2" ]; then
		fail "${3:-value}: expected anything but '$1'"
	fi
}

# counter KEY: the value of KEY in the mount's .itemfs/stats (cache.bytes, files.open_direct, ...)
counter() {
	awk -v k="$1" '$1 == k { print $2 }' "$MNT/.itemfs/stats"
}

# assert_gt A B [WHAT]: integer A > B
assert_gt() {
	if ! [ "$1" -gt "$2" ]; then
		fail "${3:-value}: expected $1 > $2"
	fi
}

# assert_cmp EXPECTED_FILE GOT_FILE: byte-for-byte equal.
assert_cmp() {
	local out
	if ! out=$(cmp -- "$1" "$2" 2>&1); then
		fail "content of $2 differs from $1: $out"
	fi
}

# assert_exists PATH / assert_absent PATH (no symlink following).
assert_exists() {
	[ -e "$1" ] || [ -L "$1" ] || fail "$1 should exist"
}
assert_absent() {
	if [ -e "$1" ] || [ -L "$1" ]; then
		fail "$1 should not exist"
	fi
}

# run_ok CMD...: CMD must succeed; on failure shows its output.
run_ok() {
	local out rc=0
	out=$("$@" 2>&1) || rc=$?
	if [ "$rc" -ne 0 ]; then
		fail "$*: expected success, got exit $rc: $out"
	fi
}

# expect_fail STATUS TEXT CMD...: CMD must exit with STATUS and its stderr
# must contain ": TEXT" (the strerror text, as tools print it after the path).
expect_fail() {
	local want_rc=$1 text=$2 err rc=0
	shift 2
	err=$("$@" 2>&1 >/dev/null) || rc=$?
	if [ "$rc" -eq 0 ]; then
		fail "$*: expected exit $want_rc with '$text', but it succeeded"
	fi
	case "$err" in
	*": $text"*) ;;
	*) fail "$*: expected error '$text', got (exit $rc): $err" ;;
	esac
	if [ "$rc" -ne "$want_rc" ]; then
		fail "$*: expected exit $want_rc, got $rc: $err"
	fi
}

# sh_c SCRIPT ARGS...: runs SCRIPT in bash with ARGS as $1...; for
# redirections under expect_fail/run_ok (sh_c 'head -c 9 /dev/zero > "$1"' P).
# bash reports a failed redirection or printf write with exit 1 and the
# strerror text; it does not check close(), so `printf x >> F` only fails if
# the write itself fails.
sh_c() {
	local script=$1
	shift
	bash -c "$script" bash "$@"
}

# hx RESULT ARGS...: runs "$HELPER" ARGS and asserts that it printed RESULT
# ("OK" with exit 0, or an errno name such as EEXIST with exit 1).
hx() {
	local want=$1 got rc=0 want_rc=1
	shift
	got=$("$HELPER" "$@" 2>&1) || rc=$?
	[ "$want" = OK ] && want_rc=0
	if [ "$got" != "$want" ] || [ "$rc" -ne "$want_rc" ]; then
		fail "itest_helper $*: expected $want, got '$got' (exit $rc)"
	fi
}

# st FORMAT PATH: stat -c FORMAT PATH.
st() { stat -c "$1" -- "$2"; }

# ls_f DIR: the names in DIR in the order the filesystem lists them (ls -f:
# readdir order, unsorted), without . and ..
ls_f() {
	local out
	out=$(ls -f -- "$1") || return 1
	printf '%s\n' "$out" | grep -vx '\.\|\.\.' || true
}

# ---- environment ---------------------------------------------------------

if [ ! -c /dev/fuse ] || ! (exec 9<>/dev/fuse) 2>/dev/null; then
	echo "SKIP: /dev/fuse is missing or cannot be opened"
	exit 77
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "FAIL: the integration tests must run as root (they chown, mount tmpfs," \
		"and act as other users); run: sudo meson test -C BUILD" >&2
	exit 1
fi

T=$(mktemp -d /tmp/itemfs-it.XXXXXX)
chmod 755 "$T" # other users (test_perms.sh) must reach $MNT
STORE=$T/store
if [ "${ITEMFS_TEST_BACKEND:-lmdb}" = ddb ]; then
	: "${ITEMFS_TEST_DDB_ENDPOINT:?run the ddb tests under tests/ddb/with-dynalite.sh}"
	STORE=dynamodb+http://${ITEMFS_TEST_DDB_ENDPOINT#http://}/${T##*/}
fi
MNT=$T/mnt
LOG=$T/itemfs.log
ITEMFS_PID=
ITEMFS_FG=
EXTRA_MOUNTS=()
BG_PIDS=() # helper processes a test started; killed by the exit trap
mkdir "$MNT"
: >"$LOG"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$T/san"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$T/san"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}log_path=$T/san"
# ASAN_BUILD is 1 when the daemon is a sanitizer build (6-8 times slower):
# tests that repeat a workload for volume run it fewer times there, to keep
# CI (both passes) within its 20 minutes; the paths run are the same.
ASAN_BUILD=
if [ -n "${ITEMFS:-}" ] && ldd "$ITEMFS" 2>/dev/null | grep asan >/dev/null; then # not -q: see tests/crash/crashlib.sh
	ASAN_BUILD=1
fi

# ---- the daemon ----------------------------------------------------------

# sanitizer_reports: prints any sanitizer report and returns 1 if there is one.
sanitizer_reports() {
	local found=0 f
	for f in "$T"/san.*; do
		[ -e "$f" ] || continue
		echo "sanitizer report $f:" >&2
		cat "$f" >&2
		found=1
	done
	if grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$LOG" >&2; then
		found=1
	fi
	return $((found == 0 ? 0 : 1))
}

# running PID: PID is alive and not a zombie (a daemon's exit status goes to
# init, which may reap it late).
running() {
	local state
	state=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null) || return 1
	[ -n "$state" ] && [ "$state" != Z ]
}

# wait_exit PID [SECONDS]: waits up to SECONDS (default 20) for PID to exit;
# returns 1 if it is still running then.
wait_exit() {
	local i
	for ((i = 0; i < ${2:-20} * 20; i++)); do
		running "$1" || return 0
		sleep 0.05
	done
	! running "$1"
}

# wait_mounted PID: waits up to 20 s for $MNT to become a mountpoint while
# PID (the daemon) lives.
wait_mounted() {
	local pid=$1 i
	for ((i = 0; i < 400; i++)); do
		mountpoint -q "$MNT" && return 0
		if ! running "$pid"; then
			fail "itemfs exited before the mount was ready; log: $(cat "$LOG")"
		fi
		sleep 0.05
	done
	fail "$MNT not mounted after 20 s; log: $(cat "$LOG")"
}

# start_itemfs [OPTS...]: runs `itemfs mount $STORE $MNT OPTS -f` in the
# background, output appended to $LOG, and returns once $MNT is mounted.
start_itemfs() {
	[ -z "$ITEMFS_PID" ] || fail "start_itemfs: itemfs already running"
	"$ITEMFS" mount "$STORE" "$MNT" "$@" -f >>"$LOG" 2>&1 &
	ITEMFS_PID=$!
	ITEMFS_FG=1
	wait_mounted "$ITEMFS_PID"
}

# daemon_pid [DIR]: the pid of the build's itemfs process serving DIR
# (default $MNT; found by its command line, which holds the unique DIR), or
# nothing.
daemon_pid() {
	local d dir=${1:-$MNT}
	for d in /proc/[0-9]*; do
		if [ "$(readlink "$d/exe" 2>/dev/null)" = "$(readlink -f "$ITEMFS")" ] &&
			tr '\0' '\n' <"$d/cmdline" 2>/dev/null | grep -qxF -- "$dir"; then
			echo "${d#/proc/}"
			return 0
		fi
	done
}

# whole_reads_during WRITER_PID PATH A B: cats PATH until the process
# WRITER_PID (rewriting PATH with the contents of files A and B in turn)
# ends, at least once; every read must be A or B whole. Sets READS to the
# number of reads (not a command substitution: fail must end the test);
# fails naming what a mixed read held.
whole_reads_during() {
	local writer=$1 path=$2 a=$3 b=$4 reads=0 err
	while kill -0 "$writer" 2>/dev/null || [ "$reads" -eq 0 ]; do
		err=$(cat "$path" 2>&1 >"$T/seen") || fail "read $reads of $path failed: $err"
		if ! cmp -s "$T/seen" "$a" && ! cmp -s "$T/seen" "$b"; then
			fail "read $reads of $path saw neither version whole" \
				"(A: $(wc -c <"$a") bytes, B: $(wc -c <"$b") bytes):" \
				"$(wc -c <"$T/seen") bytes: $(tr -cd A <"$T/seen" | wc -c) 'A'," \
				"$(tr -cd B <"$T/seen" | wc -c) 'B', $(tr -cd '\0' <"$T/seen" | wc -c) NUL"
		fi
		reads=$((reads + 1))
	done
	READS=$reads
}

# start_itemfs_daemon [OPTS...]: `itemfs mount $STORE $MNT OPTS` (daemon
# mode). It must exit 0 with the mount ready at that moment.
start_itemfs_daemon() {
	local rc=0
	[ -z "$ITEMFS_PID" ] || fail "start_itemfs_daemon: itemfs already running"
	"$ITEMFS" mount "$STORE" "$MNT" "$@" >>"$LOG" 2>&1 || rc=$?
	[ "$rc" -eq 0 ] || fail "itemfs mount $STORE $MNT $*: exit $rc: $(cat "$LOG")"
	mountpoint -q "$MNT" || fail "itemfs mount returned 0 but $MNT is not mounted yet"
	ITEMFS_PID=$(daemon_pid)
	ITEMFS_FG=
	[ -n "$ITEMFS_PID" ] || fail "itemfs mount returned 0 but no daemon serves $MNT"
}

# stop_itemfs [umount]: unmounts $MNT (fusermount3 -u, or umount), waits up
# to 20 s for the daemon to exit, and asserts that it exited 0 (foreground
# daemon) and left no sanitizer report.
stop_itemfs() {
	local how=${1:-fusermount3} rc=0 out
	[ -n "$ITEMFS_PID" ] || fail "stop_itemfs: itemfs is not running"
	if [ "$how" = umount ]; then
		out=$(umount "$MNT" 2>&1) || fail "umount $MNT: $out"
	else
		out=$(fusermount3 -u "$MNT" 2>&1) || fail "fusermount3 -u $MNT: $out"
	fi
	wait_exit "$ITEMFS_PID" || fail "itemfs did not exit 20 s after unmount"
	if [ -n "$ITEMFS_FG" ]; then
		wait "$ITEMFS_PID" || rc=$?
	fi
	ITEMFS_PID=
	sanitizer_reports || fail "sanitizer reports from itemfs (above)"
	[ "$rc" -eq 0 ] || fail "itemfs exited with status $rc after unmount; log: $(cat "$LOG")"
}

# kill_itemfs: kill -9 of the daemon (a crash), and the dead mount's lazy unmount.
kill_itemfs() {
	kill -9 "$ITEMFS_PID"
	wait "$ITEMFS_PID" 2>/dev/null || true
	ITEMFS_PID=
	fusermount3 -uz "$MNT" 2>/dev/null || umount -l "$MNT"
}

# restart_itemfs [OPTS...]: stop_itemfs, then start_itemfs OPTS.
restart_itemfs() {
	stop_itemfs
	start_itemfs "$@"
}

# ---- other users ---------------------------------------------------------

# as UID GID CMD...: runs CMD with that user and group and no supplementary
# groups (the mount needs -o allow_other for them to get in).
as() {
	local uid=$1 gid=$2
	shift 2
	setpriv --reuid="$uid" --regid="$gid" --clear-groups -- "$@"
}
nobody() { as 65534 65534 "$@"; }

# mount_fails MOUNT_ARGS... -- TEXT...: `itemfs mount MOUNT_ARGS` must exit 1
# with every TEXT in its stderr, and mount nothing on $MNT.
mount_fails() {
	local args=() err rc=0 t before
	before=$(grep -c " $MNT " /proc/self/mountinfo || true)
	while [ "$1" != -- ]; do
		args+=("$1")
		shift
	done
	shift
	err=$("$ITEMFS" mount "${args[@]}" 2>&1 >/dev/null) || rc=$?
	assert_eq 1 "$rc" "exit status of itemfs mount ${args[*]} (stderr: $err)"
	for t in "$@"; do
		case "$err" in
		*"$t"*) ;;
		*) fail "itemfs mount ${args[*]}: stderr should contain '$t', got: $err" ;;
		esac
	done
	if [ "$(grep -c " $MNT " /proc/self/mountinfo || true)" != "$before" ]; then
		fail "itemfs mount ${args[*]} failed but mounted something on $MNT"
	fi
}

# ---- one reader's descriptor (itest_helper readhold) -------------------------

# readhold_open PATH: starts a reader holding PATH open (one at a time),
# talking through descriptors 7 and 8.
readhold_open() {
	local line
	mkfifo "$T/rh.in" "$T/rh.out"
	"$HELPER" readhold "$1" <"$T/rh.in" >"$T/rh.out" &
	RH_PID=$!
	BG_PIDS+=($!)
	exec 7>"$T/rh.in" 8<"$T/rh.out"
	read -r -t 20 -u 8 line || fail "readhold $1: no answer"
	assert_eq ready "$line" "readhold opening $1"
}

# readhold_do read|fsync EXPECTED WHAT: the reader reads its descriptor
# whole (or fsyncs it: OK or an errno name) and must answer EXPECTED.
readhold_do() {
	local line
	echo "$1" >&7
	read -r -t 20 -u 8 line || fail "readhold: no answer to $1 ($3)"
	assert_eq "$2" "$line" "$3"
}

# readhold_close: closes the reader's descriptor; it must exit 0.
readhold_close() {
	local line
	echo close >&7
	read -r -t 20 -u 8 line || true
	exec 7>&- 8<&-
	wait "$RH_PID" || fail "readhold exited with $?"
	rm -f "$T/rh.in" "$T/rh.out"
}

# ---- a second mount of the same store ---------------------------------------

MNT2=$T/mnt2
B_PID=

# start_extra DIR STORE OPTS...: one more mount of STORE on DIR (made if
# absent; its own daemon, in the foreground, logging to $LOG, stopped by
# the exit trap); sets EXTRA_PID and returns once it is mounted.
start_extra() {
	local dir=$1 store=$2 i
	shift 2
	mkdir -p "$dir"
	"$ITEMFS" mount "$store" "$dir" "$@" -f >>"$LOG" 2>&1 &
	EXTRA_PID=$!
	BG_PIDS+=($!)
	EXTRA_MOUNTS+=("$dir")
	for ((i = 0; i < 400; i++)); do
		mountpoint -q "$dir" && return 0
		running "$EXTRA_PID" || fail "mount of $store on $dir exited at start; log: $(cat "$LOG")"
		sleep 0.05
	done
	fail "mount on $dir not ready after 20 s"
}

# start_b OPTS...: the second mount, B, of the same store on $MNT2 (its own
# daemon, in the foreground, logging to $LOG); returns once it is mounted.
# STORE_B, when set, is the store B mounts instead of $STORE (the same
# store reached another way, e.g. through tests/ddb/stale-proxy.js).
start_b() {
	start_extra "$MNT2" "${STORE_B:-$STORE}" "$@"
	B_PID=$EXTRA_PID
}

# stop_b: unmounts B and asserts that its daemon exited 0.
stop_b() {
	local rc=0
	fusermount3 -u "$MNT2" || fail "fusermount3 -u $MNT2"
	wait "$B_PID" || rc=$?
	[ "$rc" -eq 0 ] || fail "mount B exited with $rc; log: $(cat "$LOG")"
	B_PID=
}

# committed PATH: what the store holds at PATH (TABLE/ITEM) now, as a
# second, read-only mount of $STORE sees it (it sees only what the first
# mount committed), or "<absent>".
committed() {
	local out ro=$T/committed-ro
	mkdir -p "$ro"
	"$ITEMFS" mount "$STORE" "$ro" -o ro >>"$LOG" 2>&1 || fail "read-only mount failed: $(cat "$LOG")"
	out=$(cat "$ro/$1" 2>/dev/null || echo "<absent>")
	fusermount3 -u "$ro" || fail "fusermount3 -u $ro"
	echo "$out"
}

now_ms() { date +%s%3N; }

# wait_for DESC MAX_MS COMMAND...: polls COMMAND every 20 ms until it
# succeeds, and prints how many ms that took; fails after MAX_MS.
wait_for() {
	local desc=$1 max=$2 t0
	shift 2
	t0=$(now_ms)
	until "$@"; do
		(($(now_ms) - t0 <= max)) || fail "$desc: not within $max ms"
		sleep 0.02
	done
	echo $(($(now_ms) - t0))
}

# ---- writers that hold a file open (itest_helper hold) -------------------

declare -A HOLDER_PID HOLDER_IN HOLDER_OUT

# hold ID PATH trunc|append|rdwr: starts writer ID holding PATH open.
hold() {
	local id=$1 path=$2 mode=$3 line fd
	mkfifo "$T/hold-$id.in" "$T/hold-$id.out"
	"$HELPER" hold "$path" "$mode" <"$T/hold-$id.in" >"$T/hold-$id.out" &
	HOLDER_PID[$id]=$!
	BG_PIDS+=($!)
	exec {fd}>"$T/hold-$id.in"
	HOLDER_IN[$id]=$fd
	exec {fd}<"$T/hold-$id.out"
	HOLDER_OUT[$id]=$fd
	read -r -t 20 -u "${HOLDER_OUT[$id]}" line || fail "writer $id: no answer from itest_helper hold $path $mode"
	assert_eq ready "$line" "writer $id opening $path ($mode)"
}

# hold_expect ID RESULT COMMAND: writer ID runs COMMAND (write TEXT, fsync,
# cond TOKEN, close), which must answer RESULT (OK or an errno name). After
# close the writer exits: with status 0 when its close answered OK.
hold_expect() {
	local id=$1 want=$2 line in out
	shift 2
	echo "$*" >&"${HOLDER_IN[$id]}"
	read -r -t 20 -u "${HOLDER_OUT[$id]}" line || fail "writer $id: no answer to '$*'"
	assert_eq "$want" "$line" "writer $id: $*"
	if [ "$1" = close ]; then
		if [ "$want" = OK ]; then
			wait "${HOLDER_PID[$id]}" || fail "writer $id exited with $?"
		else
			wait "${HOLDER_PID[$id]}" || true
		fi
		in=${HOLDER_IN[$id]}
		out=${HOLDER_OUT[$id]}
		exec {in}>&- {out}<&-
		rm -f "$T/hold-$id.in" "$T/hold-$id.out"
	fi
}

# hold_do ID COMMAND: hold_expect ID OK COMMAND.
hold_do() {
	local id=$1
	shift
	hold_expect "$id" OK "$@"
}

# mount_tmpfs DIR SIZE: a tmpfs unmounted by the exit trap (after itemfs).
mount_tmpfs() {
	mkdir -p "$1"
	mount -t tmpfs -o "size=$2" itemfs-test "$1"
	EXTRA_MOUNTS+=("$1")
}

cleanup() {
	local rc=$? i m busy=0
	set +e
	cd /
	exec 3>&- 4<&- 5<&- # descriptors tests hold in the mount would keep it busy
	for i in "${BG_PIDS[@]}"; do
		kill "$i" 2>/dev/null && wait "$i" 2>/dev/null
	done
	if mountpoint -q "$MNT"; then
		fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT"
	fi
	if [ -n "$ITEMFS_PID" ]; then
		if ! wait_exit "$ITEMFS_PID" 5; then
			echo "itemfs (pid $ITEMFS_PID) still running after unmount; killing it" >&2
			kill -KILL "$ITEMFS_PID"
			rc=1
		fi
	fi
	for ((i = ${#EXTRA_MOUNTS[@]} - 1; i >= 0; i--)); do
		m=${EXTRA_MOUNTS[i]}
		mountpoint -q "$m" && { umount "$m" || umount -l "$m"; }
	done
	if ! sanitizer_reports; then
		echo "FAIL: sanitizer reports from itemfs (above)" >&2
		rc=1
	fi
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -s "$LOG" ]; then
		echo "--- last lines of the itemfs log:" >&2
		tail -n 40 "$LOG" >&2
	fi
	for m in "$MNT" "${EXTRA_MOUNTS[@]}"; do
		mountpoint -q "$m" && busy=1
	done
	if [ "$busy" -eq 0 ]; then
		rm -rf "$T"
	else
		echo "not removing $T: something is still mounted in it" >&2
	fi
	exit "$rc"
}
trap cleanup EXIT
# A plain command of a test that fails ends the test (set -e): say which.
trap 'echo "FAIL: exit status $? from: $BASH_COMMAND (${BASH_SOURCE[0]:-$0}:$LINENO)" >&2' ERR
# meson stops a test that timed out with SIGTERM: clean up then too.
trap 'exit 143' TERM
trap 'exit 130' INT
