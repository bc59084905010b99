#!/bin/bash
# -o busy_poll (fs/session.c): after a request the daemon polls /dev/fuse
# without blocking for up to busy_poll microseconds, then sleeps. Whatever
# the setting, requests are answered, the batch commits at its deadline on
# an idle mount, and an idle daemon uses no CPU.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# cpu_ticks PID: the process's user + system time, in clock ticks.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

step "bad busy_poll values are refused, naming the option"
for bad in soon -1 1000001 1.5 ""; do
	expect_fail 2 "bad value '$bad' for mount option busy_poll: give microseconds from 0 (off) to 1000000, e.g. busy_poll=100" \
		"$ITEMFS" mount "$STORE" "$MNT" -o "busy_poll=$bad"
done

TICK=$(getconf CLK_TCK)
for bp in 0 100 1000000; do
	step "busy_poll=$bp: 300 items written and read back byte for byte"
	start_itemfs -o busy_poll=$bp
	mkdir "$MNT/t"
	for i in $(seq 1 300); do printf 'item %d\n' "$i" >"$MNT/t/i$i"; done
	for i in $(seq 1 300); do
		[ "$(cat "$MNT/t/i$i")" = "item $i" ] || fail "busy_poll=$bp: t/i$i reads '$(cat "$MNT/t/i$i")'"
	done
	assert_eq 300 "$(ls "$MNT/t" | wc -l)" "busy_poll=$bp: entries of t"

	step "busy_poll=$bp: an idle mount's batch commits at its deadline (1 s)"
	printf late >"$MNT/t/late"
	sleep 2.5
	assert_eq late "$(committed t/late)" "busy_poll=$bp: store content 2.5 s after the write"

	step "busy_poll=$bp: the idle daemon uses no CPU (2 s after its poll window)"
	pid=$(daemon_pid)
	[ -n "$pid" ] || fail "no daemon for $MNT"
	sleep $((bp / 1000000 + 1))
	before=$(cpu_ticks "$pid")
	sleep 2
	used=$(($(cpu_ticks "$pid") - before))
	# 2 s of spinning would be 2 * TICK ticks; allow 5 % of it
	[ "$used" -le $((TICK / 10)) ] ||
		fail "busy_poll=$bp: the idle daemon used $used CPU ticks in 2 s (of $TICK a second; at most $((TICK / 10)))"
	stop_itemfs
	rm -rf "$STORE"
done

step "busy_poll=1000000 (a second): a busy client keeps the daemon polling, and each reply still comes at once"
start_itemfs -o busy_poll=1000000
mkdir "$MNT/t"
start=$(now_ms)
for i in $(seq 1 200); do printf x >"$MNT/t/j$i"; done
elapsed=$(($(now_ms) - start))
# 200 creates wait for no poll window: well under a second each (a create
# that waited for the window would take 200 s)
[ "$elapsed" -lt 20000 ] || fail "200 creates with busy_poll=1000000 took $elapsed ms"
stop_itemfs
echo "1 passed, 0 failed"
