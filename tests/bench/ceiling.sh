#!/bin/bash
# ceiling.sh ITEMFS BENCHDIR [RUNS [N]]: how close itemfs's read round trips
# are to the FUSE ceiling (docs/benchmarks.md). In one run, taking turns
# (the order rotates from run to run), on N 1-KiB items in 10 tables:
#   dir       a plain directory in /var/tmp (ext4 here)
#   null      nullfs (BENCHDIR/nullfs): a FUSE daemon that answers every
#             request at once from nothing, with itemfs's busy polling
#   itemfs    itemfs on a fresh store in /var/tmp, its defaults
#   snap      itemfs --snapshot of such a store: the kernel opens its files
#             without asking the daemon (docs/consistency.md)
#   null-0, itemfs-0   the same as null and itemfs with busy_poll=0 and
#             idle_poll=0 (a blocking read, as libfuse's loop, and CPUs
#             left to halt)
# Phases: the first cat of every item after the mount (the FUSE columns
# only: the kernel caches nothing yet; itemfs reads its store), then a warm
# cat (the median of 3 passes), then `tar -cf - | cat`, then N creates of
# new 1-KiB items (all but snap, which is read-only; nullfs's creates keep
# nothing). Prints each run's seconds, then medians and the ratios dir/X
# (1.0: as fast as the directory) and null/itemfs (1.0: itemfs at the
# ceiling).
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 ITEMFS BENCHDIR [RUNS [N]]" >&2; exit 2; }
ITEMFS=$1 BENCH=$2/itemfs-bench NULLFS=$2/nullfs RUNS=${3:-5} N=${4:-5000}
M=$(mktemp -d /tmp/itemfs-ceiling.XXXXXX)
DIR=/var/tmp/itemfs-ceiling-dir STORE=/var/tmp/itemfs-ceiling-store
trap 'mountpoint -q "$M/mnt" && fusermount3 -u "$M/mnt"; rm -rf "$M" "$DIR" "$STORE"' EXIT
mkdir "$M/mnt"
OUT=$M/results
: >"$OUT"
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc; }

# mounted: waits for $M/mnt to be a mount point.
mounted() {
	for _ in $(seq 100); do
		mountpoint -q "$M/mnt" && return 0
		sleep 0.05
	done
	echo "ceiling.sh: $M/mnt did not mount" >&2
	exit 1
}

# setup COLUMN: makes $WHERE hold the N items, mounted fresh (FUSE columns).
setup() {
	case "$1" in
	dir)
		rm -rf "$DIR"
		mkdir "$DIR"
		"$BENCH" create "$DIR" 0 "$N" >/dev/null
		sync
		WHERE=$DIR
		;;
	null | null-0)
		if [ "$1" = null ]; then
			"$NULLFS" "$M/mnt" "$N" 1024 100 20 & # itemfs's defaults
		else
			"$NULLFS" "$M/mnt" "$N" 1024 0 0 &
		fi
		mounted
		WHERE=$M/mnt
		;;
	itemfs | itemfs-0 | snap)
		rm -rf "$STORE"
		"$ITEMFS" mount "$STORE" "$M/mnt"
		for t in $(seq 0 9); do mkdir "$M/mnt/t$t"; done
		"$BENCH" create "$M/mnt" 0 "$N" >/dev/null
		fusermount3 -u "$M/mnt"
		case "$1" in
		itemfs) "$ITEMFS" mount "$STORE" "$M/mnt" ;;
		itemfs-0) "$ITEMFS" mount "$STORE" "$M/mnt" -o busy_poll=0,idle_poll=0 ;;
		snap) "$ITEMFS" mount --snapshot "$STORE" "$M/mnt" ;;
		esac
		WHERE=$M/mnt
		;;
	esac
}

teardown() {
	if [ "$WHERE" = "$M/mnt" ]; then
		fusermount3 -u "$M/mnt"
		wait
	fi
	rm -rf "$DIR" "$STORE"
}

# phase NAME COMMAND...: runs COMMAND, records its seconds.
phase() {
	local name=$1 t0
	shift
	t0=$(now)
	"$@" >/dev/null
	echo "$RUN $COL $name $(secs "$t0" "$(now)")" | tee -a "$OUT"
}

# warm: the median seconds of 3 warm passes of `itemfs-bench cat`.
warm() {
	for _ in 1 2 3; do
		"$BENCH" cat "$WHERE" | sed -n 's/.* secs=\([0-9.]*\).*/\1/p'
	done | sort -n | sed -n 2p
}

COLS=(dir null itemfs snap null-0 itemfs-0)
echo "ceiling.sh: $N items of 1 KiB, $RUNS runs; load average $(cut -d' ' -f1-3 /proc/loadavg)"
for RUN in $(seq 1 "$RUNS"); do
	for k in $(seq 0 $((${#COLS[@]} - 1))); do
		COL=${COLS[$(((k + RUN - 1) % ${#COLS[@]}))]}
		setup "$COL"
		sync
		sleep 1
		[ "$COL" = dir ] || phase first-cat "$BENCH" cat "$WHERE"
		echo "$RUN $COL warm-cat $(warm)" | tee -a "$OUT"
		phase tar sh -c "tar -cf - -C '$WHERE' . | cat"
		[ "$COL" = snap ] || phase create "$BENCH" create "$WHERE" "$N" $((2 * N))
		teardown
	done
done
echo "ceiling.sh: load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"

median() { # median COL PHASE
	awk -v c="$1" -v p="$2" '$2 == c && $3 == p { print $4 }' "$OUT" | sort -n |
		awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2); else print "-" }'
}
ratio() { [ "$1" = - ] || [ "$2" = - ] && echo - || echo "scale=3; $1 / $2" | bc; }

printf '\nmedians (s)   %9s %9s %9s %9s %9s %9s | dir/null dir/itemfs dir/snap null/itemfs null-0/itemfs-0\n' "${COLS[@]}"
for p in first-cat warm-cat tar create; do
	declare -A med=()
	for c in "${COLS[@]}"; do med[$c]=$(median "$c" "$p"); done
	printf '%-13s %9.4f %9.4f %9.4f %9.4f %9.4f %9.4f | %8s %10s %8s %11s %15s\n' "$p" \
		"${med[dir]/-/0}" "${med[null]}" "${med[itemfs]}" "${med[snap]/-/0}" "${med[null-0]}" "${med[itemfs-0]}" \
		"$(ratio "${med[dir]}" "${med[null]}")" "$(ratio "${med[dir]}" "${med[itemfs]}")" \
		"$(ratio "${med[dir]}" "${med[snap]}")" \
		"$(ratio "${med[null]}" "${med[itemfs]}")" "$(ratio "${med[null-0]}" "${med[itemfs-0]}")"
done
