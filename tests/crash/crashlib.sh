# crashlib.sh - common setup for the crash tests (docs/durability.md);
# sourced by test_kill.sh, test_shutdown.sh, powerloss/test_powerloss.sh and
# soak.sh. It sources the integration tests' lib.sh (FUSE check and exit 77,
# temp dir $T with $STORE and $MNT, start_itemfs/stop_itemfs, assertions,
# cleanup trap) and adds what a crash round needs.
#
# Environment (set by tests/crash/meson.build, or by soak.sh):
#   ITEMFS, HELPER      as for the integration tests
#   STORM, STORMVERIFY  the writer storm and its verifier
#   IOLOG, CRASHIMG     the power-loss shim and image builder (powerloss only)
#   CRASH_SEED          seed of the random choices (default: a random one,
#                       printed, so a failing run can be repeated)
#   CRASH_MARGIN_MS     slack added to commit_interval for the bounded loss
#                       window (default 500; 1500 under AddressSanitizer)
#   CRASH_KEEP          directory where a failed round's store and logs are
#                       kept (default /tmp)

source "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"

: "${STORM:?STORM must name the storm binary}"
: "${STORMVERIFY:?STORMVERIFY must name the stormverify binary}"

# bash reports each background job that a signal ended ("line N: PID Killed
# ..."): the daemons these tests kill on purpose. Keep stderr free of them.
exec 2> >(grep --line-buffered -Ev '^[^ ]+: line [0-9]+: +[0-9]+ Killed ' >&2)

CRASH_SEED=${CRASH_SEED:-$(((RANDOM << 15) | RANDOM))}
RANDOM=$CRASH_SEED
echo "crash tests: seed $CRASH_SEED (repeat with CRASH_SEED=$CRASH_SEED)"

# An AddressSanitizer build is several times slower: fewer, longer-margined rounds.
# (grep reads all of ldd's output: with grep -q, ldd could die of SIGPIPE
# after the match, and pipefail would make the test miss the ASan build.)
ASAN_BUILD=
if ldd "$ITEMFS" 2>/dev/null | grep libasan >/dev/null; then
	ASAN_BUILD=1
	echo "crash tests: the daemon is an ASan build; running fewer rounds"
fi
CRASH_MARGIN_MS=${CRASH_MARGIN_MS:-$([ -n "$ASAN_BUILD" ] && echo 1500 || echo 500)}

# The commit interval the tests mount with (the contract's default is 1 s).
COMMIT_INTERVAL=1
MOUNT_OPTS=()
if "$ITEMFS" help 2>&1 | grep -q commit_interval; then
	MOUNT_OPTS=(-o "commit_interval=$COMMIT_INTERVAL")
else
	echo "crash tests: this itemfs has no -o commit_interval; mounting with its default"
fi
# The bounded loss window, in ns: a change that returned this long before a
# crash must have survived it.
WINDOW_NS=$(((COMMIT_INTERVAL * 1000 + CRASH_MARGIN_MS) * 1000000))

HAVE_CHECK=
if "$ITEMFS" check --help >/dev/null 2>&1; then
	HAVE_CHECK=1
else
	echo "NOTICE: this itemfs has no 'check' command yet; the crash tests verify the" \
		"store through a mount only"
fi

# rand_between LO HI: a random integer in [LO, HI].
rand_between() {
	echo $(($1 + (RANDOM * 32768 + RANDOM) % ($2 - $1 + 1)))
}

# keep_round DIR WHAT: copies a failed round's files out of $T (which the
# exit trap removes) and says where they are.
keep_round() {
	local keep
	keep=$(mktemp -d "${CRASH_KEEP:-/tmp}/itemfs-crash-failure.XXXXXX")
	cp -a "$1"/. "$keep"/ 2>/dev/null || true
	cp "$LOG" "$keep/itemfs.log" 2>/dev/null || true
	echo "kept the failed round's store and logs in $keep ($2)" >&2
}

# check_store DIR: `itemfs check DIR` must exit 0 (when itemfs has check).
check_store() {
	local out rc=0
	[ -n "$HAVE_CHECK" ] || return 0
	out=$("$ITEMFS" check "$1" 2>&1) || rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "$out" >&2
		return 1
	fi
}

# run_verify OUT ARGS...: stormverify $MNT ARGS, its output in OUT; on a
# violation prints it and returns 1.
run_verify() {
	local out=$1 rc=0
	shift
	timeout -s KILL 120 "$STORMVERIFY" "$MNT" "$@" >"$out" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "stormverify $* exited $rc:" >&2
		head -n 60 "$out" >&2
		return 1
	fi
}

# run_time LOGDIR LETTER: the first time on a LETTER line of LOGDIR/run.log.
run_time() {
	awk -v l="$2" '$1 == l { print $2; exit }' "$1/run.log"
}

# unmount_any: unmounts $MNT if anything is mounted there, even a dead FUSE
# mount (on which `mountpoint` fails: stat gives ENOTCONN).
unmount_any() {
	if awk -v m="$MNT" '$2 == m { f = 1 } END { exit !f }' /proc/mounts; then
		fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" 2>/dev/null ||
			umount -l "$MNT"
	fi
}

# reap_daemon WANT: waits for the foreground daemon and asserts its exit
# status (137: killed by SIGKILL); then lazily unmounts what it left.
reap_daemon() {
	local rc=0
	wait_exit "$ITEMFS_PID" || fail "itemfs still running 20 s after the signal"
	wait "$ITEMFS_PID" || rc=$?
	ITEMFS_PID=
	unmount_any
	[ "$rc" -eq "$1" ] || fail "itemfs exited with status $rc, expected $1; log: $(tail -n 20 "$LOG")"
}
