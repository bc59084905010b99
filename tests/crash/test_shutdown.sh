#!/bin/bash
# Clean exits (docs/durability.md): unmount, SIGTERM and SIGINT commit
# everything before the daemon exits. Each round mounts a fresh store with a
# long commit interval (so only the exit can have committed what was not
# fsynced), runs the writer storm with no fsync at all, ends the daemon one
# of the three ways, and asserts: exit status 0, `itemfs check` exits 0, and
# every operation that returned is in the store, every item one complete
# version (stormverify --all-done).
#  - unmount: the storm ends first (fusermount3 -u refuses a busy mount);
#  - SIGTERM, SIGINT: sent while the storm is writing: an operation in
#    flight may or may not be there, but never a part of one (a file being
#    written and not yet closed is not a version).
# That the exit also syncs (survives a power loss right after it) is
# checked by the power-loss test, with images of the log's end.
source "$(dirname "${BASH_SOURCE[0]}")/crashlib.sh"

RD=$T/round
LONG_OPTS=("${MOUNT_OPTS[@]}")
if [ "${#MOUNT_OPTS[@]}" -gt 0 ]; then
	LONG_OPTS=(-o commit_interval=3600)
fi
ROUNDS=${SHUTDOWN_ROUNDS:-2}                 # per way of ending
read -ra WAYS <<<"${SHUTDOWN_WAYS:-umount TERM INT}" # a subset, to reproduce one

# shutdown_round N HOW: HOW is umount, TERM or INT.
shutdown_round() {
	local n=$1 how=$2 seed delay
	seed=$((CRASH_SEED * 1000 + 500 + n))
	rm -rf "$RD" "$STORE"
	mkdir -p "$RD/logs"
	start_itemfs "${LONG_OPTS[@]}"
	if [ "$how" = umount ]; then
		run_ok "$STORM" run "$MNT" "$RD/logs" --seed "$seed" --fsync-pct 0 --duration-ms 1000
		stop_itemfs
	else
		delay=$(rand_between 300 1200)
		run_ok "$STORM" run "$MNT" "$RD/logs" --seed "$seed" --fsync-pct 0 \
			--signal-pid "$ITEMFS_PID" --signal "$how" --after-ms "$delay"
		reap_daemon 0
		sanitizer_reports || fail "sanitizer reports from itemfs (above)"
	fi
	if ! check_store "$STORE"; then
		cp -a "$STORE" "$RD/store"
		keep_round "$RD" "$how round $n"
		fail "$how round $n: itemfs check found problems after a clean exit (above)"
	fi
	start_itemfs "${MOUNT_OPTS[@]}"
	if ! run_verify "$RD/verify.out" "$RD/logs" --all-done; then
		cp -a "$STORE" "$RD/store"
		keep_round "$RD" "$how round $n"
		fail "$how round $n (seed $seed): not everything acknowledged survived a clean" \
			"exit by $how, or an item is not a complete version (above)"
	fi
	stop_itemfs
	echo "$how round $n: $(tail -n 1 "$RD/verify.out")"
}

for ((r = 1; r <= ROUNDS; r++)); do
	for how in "${WAYS[@]}"; do
		shutdown_round "$r" "$how"
	done
done
