#!/bin/bash
# index_cost.sh - what a secondary index costs a durable attribute change
# (docs/benchmarks.md, "secondary indexes"). Each run makes a fresh store
# with table t of ITEMS items, each with user.color, then times N changes
# of user.color, each committed on its own (xattr-commit: setxattr + fsync
# of the table), once on a store without an index and once with
# `mkdir .itemfs/index/t/color`, the two taking turns (which one goes first
# alternates). Prints each run and the medians.
#
# usage: index_cost.sh ITEMFS XATTR_COMMIT [RUNS [ITEMS [N]]]
# Needs root and /dev/fuse. Stores live under /var/tmp (the disk column of
# docs/benchmarks.md).
set -euo pipefail
ITEMFS=${1:?usage: index_cost.sh ITEMFS XATTR_COMMIT [RUNS [ITEMS [N]]]}
DRIVER=${2:?usage: index_cost.sh ITEMFS XATTR_COMMIT [RUNS [ITEMS [N]]]}
RUNS=${3:-7}
ITEMS=${4:-1000}
N=${5:-2000}
T=$(mktemp -d /var/tmp/itemfs-index-cost.XXXXXX)
MNT=$T/mnt
PID=
cleanup() {
	mountpoint -q "$MNT" && fusermount3 -u "$MNT"
	[ -z "$PID" ] || wait "$PID" 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
mkdir "$MNT"

# one_run with|without: prints the seconds of the N changes
one_run() {
	rm -rf "$T/store"
	"$ITEMFS" mount "$T/store" "$MNT" -f >>"$T/log" 2>&1 &
	PID=$!
	for ((i = 0; i < 200; i++)); do mountpoint -q "$MNT" && break; sleep 0.05; done
	mkdir "$MNT/t"
	for ((i = 0; i < ITEMS; i++)); do
		printf 'item %d\n' "$i" >"$MNT/t/i$i"
	done
	[ "$1" = without ] || mkdir "$MNT/.itemfs/index/t/color"
	"$DRIVER" "$MNT/t" "$ITEMS" "$ITEMS" >/dev/null # every item gets its attribute
	"$DRIVER" "$MNT/t" "$ITEMS" "$N"
	[ "$1" = without ] || [ "$(ls "$MNT/.itemfs/index/t/color" | wc -l)" -ge 1 ]
	fusermount3 -u "$MNT"
	wait "$PID"
	PID=
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

echo "machine: $(nproc) cores ($(sed -n 's/^model name\t*: //p' /proc/cpuinfo | head -1))," \
	"load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$RUNS runs of $N committed setxattr on $ITEMS items"
: >"$T/without"
: >"$T/with"
for ((r = 1; r <= RUNS; r++)); do
	if ((r % 2)); then order="without with"; else order="with without"; fi
	for w in $order; do
		s=$(one_run "$w")
		echo "$s" >>"$T/$w"
		echo "run $r $w: $s s"
	done
done
a=$(median <"$T/without")
b=$(median <"$T/with")
echo "without index: median $a s ($(tr '\n' ' ' <"$T/without"))"
echo "with index:    median $b s ($(tr '\n' ' ' <"$T/with"))"
awk -v a="$a" -v b="$b" -v n="$N" 'BEGIN { printf "cost: %.3fx (%.0f vs %.0f changes/s)\n", b / a, n / a, n / b }'
