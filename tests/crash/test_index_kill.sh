#!/bin/bash
# Kill test of the secondary indexes (docs/dynamodb.md, "Secondary
# indexes"): rounds of a stream of setfattr, setfattr -x, mv and rm on an
# indexed table, the daemon killed with SIGKILL in the middle; then
# `itemfs check` must find the store clean (it compares every index entry
# with the items' attributes, both ways), and remounted, the index view
# must list exactly the items and values getfattr shows.
#
# INDEX_KILL_ROUNDS (default 6; 3 for an ASan daemon) sets the rounds.
source "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"

exec 2> >(grep --line-buffered -Ev '^[^ ]+: line [0-9]+: +[0-9]+ Killed ' >&2)
ASAN_BUILD=
ldd "$ITEMFS" 2>/dev/null | grep -q libasan && ASAN_BUILD=1
ROUNDS=${INDEX_KILL_ROUNDS:-$([ -n "$ASAN_BUILD" ] && echo 3 || echo 6)}
SEED=${CRASH_SEED:-$(((RANDOM << 15) | RANDOM))}
RANDOM=$SEED
echo "index kill test: seed $SEED (repeat with CRASH_SEED=$SEED)"
N=40

# writer: changes items of $MNT/t until the mount goes away.
writer() {
	set +e
	local i v
	while :; do
		i=$((RANDOM % N))
		case $((RANDOM % 8)) in
		0) setfattr -x user.color "$MNT/t/i$i" ;;
		1) mv "$MNT/t/i$i" "$MNT/t/sub/i$i" ;;
		2) mv "$MNT/t/sub/i$i" "$MNT/t/i$i" ;;
		3) rm -f "$MNT/t/i$i" ;;
		4) printf "%s" "$i" >"$MNT/t/i$i" ;;
		*) v=c$((RANDOM % 6)); setfattr -n user.color -v "$v" "$MNT/t/i$i" ;;
		esac
		mountpoint -q "$MNT" || break
	done 2>/dev/null
}

# expected: "VALUE/KEY" per item with a colour, from getfattr, sorted
expected() {
	(
		cd "$MNT/t"
		find . -type f -printf '%P\n' | while read -r f; do
			v=$(getfattr --only-values -n user.color -- "$f" 2>/dev/null) || continue
			echo "$v/${f//\//%2F}"
		done | sort
	)
}
# indexed: "VALUE/KEY" per link of the view, sorted, each link checked by readlink
indexed() {
	(
		cd "$MNT/.itemfs/index/t/color"
		for l in */*; do
			[ -L "$l" ] || continue
			t=$(readlink "$l")
			k=${l#*/}
			[ "$t" = "../../../../../t/${k//%2F//}" ] || echo "BAD LINK $l -> $t"
			echo "$l"
		done | sort
	)
}

for ((r = 1; r <= ROUNDS; r++)); do
	rm -rf "$STORE"
	ci=$([ $((r % 2)) = 0 ] && echo 0 || echo 0.2)
	start_itemfs -o "commit_interval=$ci"
	mkdir "$MNT/t" "$MNT/t/sub"
	for ((i = 0; i < N; i++)); do
		printf "%s" "$i" >"$MNT/t/i$i"
		setfattr -n user.color -v "c$((i % 6))" "$MNT/t/i$i"
	done
	mkdir "$MNT/.itemfs/index/t/color"
	writer &
	wpid=$!
	BG_PIDS+=("$wpid")
	sleep "0.$((2 + RANDOM % 8))"
	kill_itemfs
	wait "$wpid" 2>/dev/null || true
	out=$("$ITEMFS" check "$STORE" 2>&1) || fail "round $r (seed $SEED): itemfs check: $out"
	case "$out" in
	*": clean") ;;
	*) fail "round $r (seed $SEED): itemfs check: $out" ;;
	esac
	start_itemfs
	want=$(expected)
	got=$(indexed)
	[ -n "$want" ] || fail "round $r: no item has a colour after the kill"
	assert_eq "$want" "$got" "round $r (commit_interval $ci): the view against getfattr"
	stop_itemfs
	echo "round $r: commit_interval $ci, $(echo "$want" | wc -l) indexed items match"
done
