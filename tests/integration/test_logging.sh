#!/bin/bash
# Logging: stderr in the foreground as "itemfs: LEVEL: MESSAGE", syslog once
# daemonized (ident itemfs, facility daemon), filtered by -o log_level
# (default notice; -d means debug), and a bad level refused with a message
# naming the option and the accepted values.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# log_has TEXT / log_lacks TEXT: $LOG has (or has not) a line containing TEXT.
log_has() { grep -qF -- "$1" "$LOG" || fail "the log should contain '$1': $(cat "$LOG")"; }
log_lacks() {
	if grep -qF -- "$1" "$LOG"; then
		fail "the log should not contain '$1': $(cat "$LOG")"
	fi
}

step "a bad log_level: exit 2, the option and the accepted values named"
expect_fail 2 "bad value 'verbose' for mount option log_level: give one of error, warning, notice, info, debug, e.g. log_level=info" \
	"$ITEMFS" mount "$STORE" "$MNT" -o log_level=verbose
expect_fail 2 "bad value '' for mount option log_level" "$ITEMFS" mount "$STORE" "$MNT" -o log_level=
mountpoint -q "$MNT" && fail "mounted with a bad log_level"

step "foreground, default level notice: mount and unmount, no debug"
start_itemfs
stop_itemfs
log_has "itemfs: notice: serving $STORE on $MNT"
log_has "itemfs: notice: unmounted $MNT"
log_lacks "debug:"

step "log_level=warning: no notices"
: >"$LOG"
start_itemfs -o log_level=warning
stop_itemfs
log_lacks "serving"
log_lacks "notice:"

step "log_level=debug: the options in force too"
: >"$LOG"
start_itemfs -o log_level=debug,commit_interval=0.5,cache_ttl=3
stop_itemfs
log_has "itemfs: notice: serving $STORE on $MNT"
log_has "itemfs: debug: options: commit_interval=0.5 cache_size=67108864 cache_ttl=3"

step "-d: debug level and libfuse's trace of every request; a later log_level does not lower it"
: >"$LOG"
start_itemfs -d -o log_level=error
ls "$MNT" >/dev/null
stop_itemfs
log_has "itemfs: debug: options:"
log_has "opcode: OPENDIR"
log_has "itemfs: notice: unmounted $MNT"

step "a warning names the item and what happens to it"
: >"$LOG"
start_itemfs -o log_level=warning
mkdir "$MNT/t"
# A writer that holds the item open with data written and never closes it
# (a shell's `exec 3>F; printf >&3` would flush, and so commit, at once).
mkfifo "$T/hold.in" "$T/hold.out"
"$HELPER" hold "$MNT/t/unfinished" trunc <"$T/hold.in" >"$T/hold.out" &
BG_PIDS+=($!)
exec 4>"$T/hold.in" 5<"$T/hold.out"
read -r -t 20 -u 5 line || fail "no answer from itest_helper hold"
assert_eq ready "$line" "itest_helper hold"
echo "write never closed" >&4
read -r -t 20 -u 5 line || fail "no answer from itest_helper hold to write"
assert_eq OK "$line" "the held write"
# SIGTERM ends the daemon with the file still open for writing.
kill -TERM "$ITEMFS_PID"
rc=0
wait "$ITEMFS_PID" || rc=$?
ITEMFS_PID=
exec 4>&- 5<&-
assert_eq 0 "$rc" "exit status of the daemon after SIGTERM"
log_has "itemfs: warning: t/unfinished was still open for writing at exit"
log_has "the item keeps its last complete version"
mountpoint -q "$MNT" && umount "$MNT"

step "daemonized: to syslog, ident itemfs, facility daemon, filtered by level"
# A private mount namespace with its own /dev, whose /dev/log is a socket
# read by a small sink, so the test sees exactly what the daemon sends.
if ! unshare --mount true 2>/dev/null; then
	echo "unshare --mount is not permitted here: not testing syslog"
	echo "PASS"
	exit 0
fi
command -v python3 >/dev/null || fail "python3 (which meson needs) is missing"
cat >"$T/sink.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
open(sys.argv[2] + ".ready", "w").close()
with open(sys.argv[2], "ab", buffering=0) as out:
    while True:
        out.write(s.recv(65536) + b"\n")
EOF
rc=0
out=$(unshare --mount --propagation private bash -euo pipefail -c '
	T=$1 ITEMFS=$2 STORE=$3 MNT=$4
	mount -t tmpfs -o mode=755 itemfs-test-dev /dev
	mknod -m 666 /dev/fuse c 10 229
	mknod -m 666 /dev/null c 1 3
	python3 "$T/sink.py" /dev/log "$T/syslog" &
	sink=$!
	for i in $(seq 100); do [ -e "$T/syslog.ready" ] && break; sleep 0.05; done
	"$ITEMFS" mount "$STORE" "$MNT" -o log_level=info
	mkdir "$MNT/syslog-table"
	umount "$MNT"
	for i in $(seq 100); do grep -q unmounted "$T/syslog" 2>/dev/null && break; sleep 0.05; done
	"$ITEMFS" mount "$STORE" "$MNT" -o log_level=warning
	umount "$MNT"
	sleep 0.5
	kill "$sink"
' bash "$T" "$ITEMFS" "$STORE" "$MNT" 2>&1) || rc=$?
[ "$rc" -eq 0 ] || fail "the syslog run failed (exit $rc): $out"
[ -s "$T/syslog" ] || fail "nothing reached /dev/log"
# <29> is facility daemon (3 * 8) + priority notice (5).
grep -qE "^<29>.* itemfs\[[0-9]+\]: serving $STORE on $MNT\$" "$T/syslog" ||
	fail "no notice 'serving' with ident itemfs, facility daemon: $(cat "$T/syslog")"
grep -qE "^<29>.* itemfs\[[0-9]+\]: unmounted $MNT\$" "$T/syslog" ||
	fail "no notice 'unmounted': $(cat "$T/syslog")"
assert_eq 1 "$(grep -c "serving $STORE" "$T/syslog")" "'serving' messages (the log_level=warning mount sends none)"

echo "PASS"
