#!/bin/bash
# ddb_cost.sh ITEMFS BENCH [RUNS [N]]: what the DynamoDB-API backend costs
# against the LMDB store and a plain directory (docs/benchmarks.md), in one
# run, taking turns: a directory on the root disk (/var/tmp), itemfs on a
# fresh LMDB store there, and itemfs on a fresh table of a dynalite on
# 127.0.0.1 (tests/ddb/with-dynalite.sh starts it). Phases on N 1-KiB items
# in 10 tables: create (ends with a stat -f: the batch commit), overwrite,
# warm cat of every item, ls -lR, tar c | cat, cold cat after a remount,
# rm -rf. Prints each run's seconds, then the medians and the ratios
# directory/itemfs (1.0: as fast as the directory; 0.1: ten times slower).
#
# dynalite is a Node.js server doing the work of a DynamoDB node on the same
# 2 cores as the daemon: its numbers show what the backend asks of a server
# (round trips, bytes), not what a DynamoDB cluster would answer.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 ITEMFS BENCH [RUNS [N]]" >&2; exit 2; }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -z "${ITEMFS_TEST_DDB_ENDPOINT:-}" ]; then
	exec "$HERE/../ddb/with-dynalite.sh" "$0" "$@"
fi
ITEMFS=$1 BENCH=$2 RUNS=${3:-5} N=${4:-2000}
M=$(mktemp -d /tmp/itemfs-ddb-cost.XXXXXX)
OUT=$M.results
: >"$OUT"
trap 'mountpoint -q "$M/mnt" && fusermount3 -u "$M/mnt"; rm -rf "$M" /var/tmp/ddb-cost-dir /var/tmp/ddb-cost-store' EXIT
mkdir "$M/mnt"
now() { date +%s.%N; }

# setup KIND RUN: makes $DIR the place the phases work in.
setup() {
	case "$1" in
	dir)
		rm -rf /var/tmp/ddb-cost-dir
		mkdir /var/tmp/ddb-cost-dir
		DIR=/var/tmp/ddb-cost-dir
		;;
	lmdb)
		rm -rf /var/tmp/ddb-cost-store
		STORE=/var/tmp/ddb-cost-store
		"$ITEMFS" mount "$STORE" "$M/mnt"
		DIR=$M/mnt
		;;
	ddb)
		STORE=dynamodb+http://${ITEMFS_TEST_DDB_ENDPOINT#http://}/cost-$2-$RANDOM
		"$ITEMFS" mount "$STORE" "$M/mnt"
		DIR=$M/mnt
		;;
	esac
}
remount() {
	if [ "$1" = dir ]; then
		sync
		echo 3 >/proc/sys/vm/drop_caches
	else
		fusermount3 -u "$M/mnt"
		sleep 0.3
		"$ITEMFS" mount "$STORE" "$M/mnt"
	fi
}

for r in $(seq 1 "$RUNS"); do
	for kind in dir lmdb ddb; do
		setup "$kind" "$r"
		line="$r $kind"
		phase() {
			local name=$1 t0
			shift
			t0=$(now)
			"$@" >/dev/null
			stat -f "$DIR" >/dev/null
			line+=$(printf ' %s=%.3f' "$name" "$(echo "$(now) - $t0" | bc)")
		}
		phase create "$BENCH" create "$DIR" 0 "$N"
		phase overwrite "$BENCH" overwrite "$DIR" "$N"
		phase cat_warm "$BENCH" cat "$DIR"
		phase ls_l ls -lR "$DIR"
		phase tar sh -c "tar -C '$DIR' -cf - . | cat"
		remount "$kind"
		phase cat_cold "$BENCH" cat "$DIR"
		phase rm sh -c "rm -rf '$DIR'/t*"
		[ "$kind" = dir ] || fusermount3 -u "$M/mnt"
		echo "$line" | tee -a "$OUT"
	done
done

echo
echo "medians over $RUNS runs, N=$N 1-KiB items (seconds; ratio = dir / itemfs)"
awk '
{ for (i = 3; i <= NF; i++) { split($i, kv, "="); v[$2, kv[1], ++n[$2, kv[1]]] = kv[2]; names[kv[1]] = i } }
function median(k, p,   m, a, j, t) {
	m = n[k, p]
	for (j = 1; j <= m; j++) a[j] = v[k, p, j]
	for (j = 1; j <= m; j++) for (t = j + 1; t <= m; t++) if (a[t] < a[j]) { x = a[j]; a[j] = a[t]; a[t] = x }
	return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
}
END {
	printf "%-10s %8s %8s %8s %10s %10s\n", "phase", "dir", "lmdb", "ddb", "dir/lmdb", "dir/ddb"
	split("create overwrite cat_warm ls_l tar cat_cold rm", order, " ")
	for (i = 1; i <= 7; i++) {
		p = order[i]; d = median("dir", p); l = median("lmdb", p); y = median("ddb", p)
		printf "%-10s %8.3f %8.3f %8.3f %10.2f %10.3f\n", p, d, l, y, l ? d / l : 0, y ? d / y : 0
	}
}' "$OUT"
