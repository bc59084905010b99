#!/bin/bash
# -o idle_poll=MS (fs/session.c): from a request until MS milliseconds after
# the last, the daemon holds a CPU wake-up latency request of 0 us through
# /dev/cpu_dma_latency, so idle CPUs poll instead of halting. Reading that
# file gives the machine's current limit: 0 while a hold stands, otherwise
# what it was before the mount. The hold is let go on an idle mount, at the
# unmount, and never taken with idle_poll=0; where the file cannot be
# written the daemon says so once and serves requests without it.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# qos_limit: the machine's CPU wake-up latency limit, in microseconds.
qos_limit() {
	od -An -t d4 -N4 /dev/cpu_dma_latency | tr -d ' '
}

BASE=$(qos_limit)
[ -n "$BASE" ] || fail "cannot read /dev/cpu_dma_latency"
[ "$BASE" -gt 0 ] || fail "another process holds a 0 us request on /dev/cpu_dma_latency" \
	"(limit $BASE before any mount): this test cannot tell itemfs's hold from it"

step "bad idle_poll values are refused, naming the option"
for bad in soon -1 60001 1.5 ""; do
	expect_fail 2 "bad value '$bad' for mount option idle_poll: give milliseconds from 0 (off) to 60000, e.g. idle_poll=20" \
		"$ITEMFS" mount "$STORE" "$MNT" -o "idle_poll=$bad"
done
assert_eq "$BASE" "$(qos_limit)" "limit after the refused mounts"

step "idle_poll=3000: a request takes the hold, which stands while requests come"
start_itemfs -o idle_poll=3000
mkdir "$MNT/t"
assert_eq 0 "$(qos_limit)" "limit right after a mkdir"
for i in $(seq 1 100); do printf 'item %d\n' "$i" >"$MNT/t/i$i"; done
assert_eq 0 "$(qos_limit)" "limit right after 100 creates"
assert_eq "item 77" "$(cat "$MNT/t/i77")" "t/i77"
assert_eq 1 "$(counter session.idle_poll_holds)" "holds taken (one, from the mount on, extended by every request)"

step "idle_poll=3000: an idle mount lets the hold go 3 s after its last request"
start=$(now_ms)
counter session.idle_poll_holds >/dev/null # a request: the hold runs 3 s from here
while [ "$(qos_limit)" = 0 ] && [ $(($(now_ms) - start)) -lt 10000 ]; do sleep 0.1; done
waited=$(($(now_ms) - start))
assert_eq "$BASE" "$(qos_limit)" "limit 10 s after the last request"
[ "$waited" -ge 2800 ] || fail "the hold was let go $waited ms after the last request, not 3 s"
[ "$waited" -le 4500 ] || fail "the hold was let go $waited ms after the last request, not 3 s"

step "idle_poll=3000: the next request takes it again; the unmount lets it go"
ls "$MNT/t" >/dev/null
assert_eq 0 "$(qos_limit)" "limit right after ls"
assert_eq 2 "$(counter session.idle_poll_holds)" "holds taken"
stop_itemfs
assert_eq "$BASE" "$(qos_limit)" "limit after the unmount"

step "the default (20 ms): held while busy, let go at once on an idle mount"
start_itemfs
for i in $(seq 1 100); do cat "$MNT/t/i$i" >/dev/null; done
sleep 0.5
assert_eq "$BASE" "$(qos_limit)" "limit 0.5 s after the last request"
holds=$(counter session.idle_poll_holds)
assert_gt "$holds" 0 "holds taken by 100 cats"
stop_itemfs

step "idle_poll=0: never held"
start_itemfs -o idle_poll=0
for i in $(seq 1 100); do
	cat "$MNT/t/i$i" >/dev/null
	[ "$(qos_limit)" = "$BASE" ] || fail "idle_poll=0: limit $(qos_limit) after cat of t/i$i"
done
assert_eq 0 "$(counter session.idle_poll_holds)" "holds taken with idle_poll=0"
stop_itemfs

step "/dev/cpu_dma_latency read-only (as to a daemon without root): one log line, requests served"
# A private mount namespace, where a read-only file stands in for the
# device; the mount and its checks live in it.
if ! unshare --mount true 2>/dev/null; then
	fail "unshare --mount does not work here: cannot hide /dev/cpu_dma_latency"
fi
: >"$T/qos-ro"
out=$(unshare --mount --propagation private bash -euo pipefail -c '
	ITEMFS=$1 STORE=$2 MNT=$3 RO=$4 LOG=$5
	mount --bind -o ro "$RO" /dev/cpu_dma_latency
	mount -o remount,bind,ro /dev/cpu_dma_latency
	"$ITEMFS" mount "$STORE" "$MNT" -o idle_poll=20 -f >>"$LOG" 2>&1 &
	pid=$!
	for _ in $(seq 200); do mountpoint -q "$MNT" && break; sleep 0.05; done
	for i in $(seq 1 50); do printf "again %d\n" "$i" >"$MNT/t/i$i"; done
	echo "read $(cat "$MNT/t/i42")"
	echo "holds $(awk "\$1 == \"session.idle_poll_holds\" { print \$2 }" "$MNT/.itemfs/stats")"
	fusermount3 -u "$MNT"
	wait "$pid"
	echo "exit $?"
' bash "$ITEMFS" "$STORE" "$MNT" "$T/qos-ro" "$LOG" 2>&1) || fail "the read-only run failed: $out; log: $(cat "$LOG")"
case "$out" in *"read again 42"*"holds 0"*"exit 0"*) ;; *) fail "read-only /dev/cpu_dma_latency: $out" ;; esac
lines=$(grep -c "cannot hold a CPU wake-up latency through /dev/cpu_dma_latency (Read-only file system): idle_poll is off" "$LOG" || true)
assert_eq 1 "$lines" "log lines about the hold (log: $(tail -5 "$LOG"))"
assert_eq "$BASE" "$(qos_limit)" "limit after the read-only run"
sanitizer_reports || fail "sanitizer reports from itemfs (above)"
echo "1 passed, 0 failed"
