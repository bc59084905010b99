#!/bin/bash
# Kill test (docs/durability.md): rounds of a writer storm against a fresh
# store, the daemon killed with SIGKILL at a random moment, then:
#  (a) `itemfs check` of the store exits 0 (when itemfs has check);
#  (b)-(d) remounted, every item is one complete version of its worker's
#      naming, and each worker's items and xattrs are the state after a
#      prefix of its operations holding everything an fsync acknowledged
#      (its own, and whatever returned before any acknowledged fsync began)
#      and everything that returned more than commit_interval + margin
#      before the kill (stormverify states the rule exactly).
# One round in ten runs with no fsync at all and lasts 0.4-0.9 s longer than
# the loss window, so that the bounded window alone decides what must survive.
#
# KILL_ROUNDS (default 20; 10 for an ASan daemon: CI's budget) sets the
# number of rounds; soak.sh runs this script with many more (1000).
source "$(dirname "${BASH_SOURCE[0]}")/crashlib.sh"

ROUNDS=${KILL_ROUNDS:-$([ -n "$ASAN_BUILD" ] && echo 10 || echo 20)}
RD=$T/round
lost_total=0
nosync_rounds=0
start=$SECONDS

# kill_round N: one round; on a violation keeps the files and fails.
kill_round() {
	local n=$1 pct delay seed k lost
	seed=$((CRASH_SEED * 1000 + n))
	if ((n % 10 == 0)); then
		pct=0
		delay=$(rand_between $((WINDOW_NS / 1000000 + 400)) $((WINDOW_NS / 1000000 + 900)))
		nosync_rounds=$((nosync_rounds + 1))
	else
		local pcts=(1 5 20 50)
		pct=${pcts[RANDOM % 4]}
		# 0.2-2 s, more often short: 200 + 1800 u^2 ms
		local u=$((RANDOM % 1000))
		delay=$((200 + 1800 * u * u / 1000000))
	fi
	rm -rf "$RD" "$STORE"
	mkdir -p "$RD/logs"
	start_itemfs "${MOUNT_OPTS[@]}"
	if ! "$STORM" run "$MNT" "$RD/logs" --seed "$seed" --fsync-pct "$pct" \
		--signal-pid "$ITEMFS_PID" --signal KILL --after-ms "$delay" >"$RD/storm.out" 2>&1; then
		cat "$RD/storm.out" >&2
		keep_round "$RD" "round $n"
		fail "round $n: the storm failed"
	fi
	reap_daemon 137
	cp "$STORE/data.mdb" "$RD/crashed-data.mdb"
	if ! check_store "$STORE"; then
		cp -a "$STORE" "$RD/store"
		keep_round "$RD" "round $n"
		fail "round $n (seed $seed, fsync $pct%, kill after $delay ms): itemfs check" \
			"found problems in the killed store (above)"
	fi
	start_itemfs "${MOUNT_OPTS[@]}"
	k=$(run_time "$RD/logs" K)
	if ! run_verify "$RD/verify.out" "$RD/logs" --window "$WINDOW_NS" --window-end "$k" -v; then
		keep_round "$RD" "round $n"
		fail "round $n (seed $seed, fsync $pct%, kill after $delay ms): the store after" \
			"the kill breaks the contract (above); crashed-data.mdb is the store as the" \
			"kill left it"
	fi
	stop_itemfs
	lost=$(sed -n 's/^stormverify: .* \([0-9]*\) unsynced steps lost.*/\1/p' "$RD/verify.out")
	lost_total=$((lost_total + ${lost:-0}))
	echo "round $n: fsync $pct%, kill after $delay ms: $(tail -n 1 "$RD/verify.out")"
}

step "$ROUNDS kill rounds (window $((WINDOW_NS / 1000000)) ms)"
for ((r = 1; r <= ROUNDS; r++)); do
	kill_round "$r"
done
echo "kill: $ROUNDS rounds ($nosync_rounds without fsync) in $((SECONDS - start)) s;" \
	"$lost_total unsynced steps were lost to kills (allowed)"
