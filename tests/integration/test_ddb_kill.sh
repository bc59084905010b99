#!/bin/bash
# kill -9 of the daemon in the middle of commits to a DynamoDB-API store,
# twice: after each, a new mount reads every item whole (one version of it,
# never parts of two: its items span two records), its names are all
# there, and its first write (which waits out the dead mount's lease and
# applies any commit it left half done) leaves every item whole too.
# Runs only with ITEMFS_TEST_BACKEND=ddb (meson: suite ddb).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ "${ITEMFS_TEST_BACKEND:-}" = ddb ] || fail "test_ddb_kill.sh runs on the ddb backend only"
ITEMS=8 SIZE=300000 # two records an item (256 KiB each at most)

# content TEXT: SIZE bytes of TEXT lines (no pipe: pipefail and yes's SIGPIPE)
content() { head -c "$SIZE" < <(yes "$1"); }

# version_of FILE: the version an item holds, if it holds one whole; fails otherwise.
version_of() {
	local first v
	first=$(head -n 1 "$1") || return 1
	v=${first##* version }
	[ -n "$v" ] && cmp -s <(content "$first") "$1" || return 1
	echo "$v"
}

# check_all WHAT: every item is there, whole, and at least the version its
# last acknowledged rename put there.
check_all() {
	local i v acked
	for ((i = 0; i < ITEMS; i++)); do
		assert_exists "$MNT/t/f$i"
		v=$(version_of "$MNT/t/f$i") || fail "$1: $MNT/t/f$i is not one version whole: $(head -c 60 "$MNT/t/f$i" | tr '\n' '|')..., $(wc -c <"$MNT/t/f$i") bytes"
		acked=$(cat "$T/acked.$i")
		echo "f$i: version $v (last acknowledged: $acked)"
		[ "$v" -ge "$acked" ] || fail "$1: f$i holds version $v, older than version $acked, whose rename returned before the kill"
	done
}

# writer N: rewrites the items, versions N, N+1, ... (each by a rename
# over it), until the mount goes; $T/acked.I holds the last version of item
# I whose rename returned (with commit_interval=0: durable), $T/wrote the
# last of all.
writer() {
	local n=$1 i
	while :; do
		for ((i = 0; i < ITEMS; i++)); do
			content "item $i version $n" >"$MNT/t/.f$i" || return 0
			mv "$MNT/t/.f$i" "$MNT/t/f$i" || return 0
			echo "$n" >"$T/wrote"
			echo "$n" >"$T/acked.$i"
		done
		n=$((n + 1))
	done
}

start_itemfs -o commit_interval=0
mkdir "$MNT/t"
for ((i = 0; i < ITEMS; i++)); do
	content "item $i version 0" >"$MNT/t/f$i"
	echo 0 >"$T/acked.$i"
done
for round in 1 2; do
	step "round $round: kill -9 during commits"
	echo 0 >"$T/wrote"
	writer $((round * 1000)) 2>/dev/null &
	W=$!
	BG_PIDS+=($W)
	sleep 3
	kill_itemfs
	wait "$W" 2>/dev/null || true
	wrote=$(cat "$T/wrote")
	assert_gt "$wrote" $((round * 1000)) "the writer's last version (it must have written for the kill to hit commits)"
	start_itemfs -o commit_interval=0
	step "round $round: a new mount reads every item whole"
	check_all "after the kill"
	step "round $round: its first write finishes what the dead mount left"
	printf 'x' >"$MNT/t/probe$round"
	assert_eq OK "$("$HELPER" fsync "$MNT/t/probe$round")" "fsync of the first write"
	check_all "after the first write"
	rm -f "$MNT"/t/.f*
done
stop_itemfs
