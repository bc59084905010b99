#!/bin/bash
# streams_cost.sh BASE_ITEMFS ITEMFS BENCH [RUNS [N]]: the cost of change
# streams (docs/benchmarks.md): an itemfs built before them (BASE_ITEMFS,
# e.g. commit c7b2e2f) against one with them, taking turns on fresh stores in /var/tmp: create N 1-KiB
# items in 10 tables, overwrite all N (-e 1), setfattr on N/10, rm -rf; each
# phase ends with a stat -f (the batch commit) and is timed by wall clock
# and by the daemon's CPU time (utime+stime, /proc/PID/stat).
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 BASE_ITEMFS ITEMFS BENCH [RUNS [N]]" >&2; exit 2; }
BENCH=$3 RUNS=${4:-7} N=${5:-10000}
declare -A BIN=([base]=$1 [stream]=$2)
M=$(mktemp -d /tmp/itemfs-streams-cost.XXXXXX)
TCK=$(getconf CLK_TCK)
cpu() { awk -v t="$TCK" '{ printf "%.3f", ($14 + $15) / t }' /proc/$PID/stat; }
now() { date +%s.%N; }
for r in $(seq 1 "$RUNS"); do
	for v in base stream; do
		S=/var/tmp/sb-store-$v; rm -rf "$S"
		"${BIN[$v]}" mount "$S" $M
		PID=$(pgrep -f "itemfs mount $S $M" | head -1)
		out="$r $v"
		phase() {
			local name=$1 t0 c0; shift
			t0=$(now); c0=$(cpu)
			"$@" >/dev/null
			stat -f $M >/dev/null
			out+=$(printf ' %s %.3f/%.3f' "$name" "$(echo "$(now) - $t0" | bc)" "$(echo "$(cpu) - $c0" | bc)")
		}
		phase create $BENCH create $M 0 "$N"
		phase overwrite $BENCH overwrite $M "$N" -e 1
		phase setxattr sh -c "for i in \$(seq 0 10 $((N - 1))); do setfattr -n user.k -v \$i $M/t\$((i % 10))/item\$(printf %08d \$i); done"
		phase rm rm -rf $M/t0 $M/t1 $M/t2 $M/t3 $M/t4 $M/t5 $M/t6 $M/t7 $M/t8 $M/t9
		fusermount3 -u $M
		sleep 0.5
		echo "$out"
	done
done
