#!/bin/bash
# run.sh - the itemfs benchmark (docs/benchmarks.md). Runs the same
# workloads, in the same run, on an itemfs mount of a fresh store, a plain
# directory on the root disk, a tmpfs, and libfuse's example passthrough_ll
# over a tmpfs (the FUSE ceiling), then prints the medians over --runs runs
# with the ratios itemfs/disk and itemfs/passthrough, and writes raw.csv,
# summary.csv, report.txt and (with gnuplot) ratios.png into the results
# directory. The workloads themselves are the C driver bench.c; this script
# mounts, remounts, drops caches, times tar and rm, and takes the medians.
#
# Needs root and /dev/fuse (else exit 77, meson's SKIP). It drops the page
# cache (/proc/sys/vm/drop_caches) for the cold phases: on a shared machine,
# other users feel it, and their load shows in the numbers (see the load
# average in the header).
set -euo pipefail
export LC_ALL=C TZ=UTC
umask 022

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PT_EXAMPLES=${PT_EXAMPLES:-/usr/share/doc/libfuse3-dev/examples} # libfuse's examples (override: env)

usage() {
	cat <<EOF
usage: $0 --itemfs PATH [--bench PATH] [--quick | --full] [--runs N]
          [--out DIR] [--dir DIR] [--commit-interval S]

  --itemfs PATH   the itemfs executable (build/fs/itemfs)
  --bench PATH    the driver (build/tests/bench/itemfs-bench); default: next
                  to --itemfs in its build tree, else built from bench.c
  --quick         small sizes (files N=2,000; scaling 2k and 10k): ~1.5 min a run
  --full          adds the 1,000,000-item scaling point (~2 h in all; ~5 GB of disk, as much RAM)
  --runs N        runs of everything; medians are taken over them (default 3)
  --out DIR       results go to DIR/<date-time>/ (default ./bench-results)
  --dir DIR       where the disk column and the itemfs store live (default
                  /var/tmp; its file system is the "disk" column)
  --commit-interval S   itemfs -o commit_interval (default 1, itemfs's default)
EOF
	exit 2
}

ITEMFS='' BENCH='' QUICK='' FULL='' RUNS=3 OUT_BASE=./bench-results DISK_BASE=/var/tmp CI_SECS=1
while [ $# -gt 0 ]; do
	case "$1" in
	--itemfs) ITEMFS=${2:?}; shift 2 ;;
	--bench) BENCH=${2:?}; shift 2 ;;
	--quick) QUICK=1; shift ;;
	--full) FULL=1; shift ;;
	--runs) RUNS=${2:?}; shift 2 ;;
	--out) OUT_BASE=${2:?}; shift 2 ;;
	--dir) DISK_BASE=${2:?}; shift 2 ;;
	--commit-interval) CI_SECS=${2:?}; shift 2 ;;
	-h | --help) usage ;;
	*) echo "run.sh: unknown argument '$1'" >&2; usage ;;
	esac
done
[ -n "$ITEMFS" ] || usage
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --runs wants a positive integer" >&2; exit 2; }
if [ -n "$QUICK" ] && [ -n "$FULL" ]; then
	echo "run.sh: --quick and --full exclude each other" >&2
	exit 2
fi
[ -x "$ITEMFS" ] || { echo "run.sh: $ITEMFS is not an executable" >&2; exit 2; }
ITEMFS=$(readlink -f "$ITEMFS")

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: the benchmark must run as root (it mounts tmpfs and drops caches)"
	exit 77
fi
if [ ! -c /dev/fuse ] || ! (exec 9<>/dev/fuse) 2>/dev/null; then
	echo "SKIP: /dev/fuse is missing or cannot be opened"
	exit 77
fi

# ---- sizes ---------------------------------------------------------------
if [ -n "$QUICK" ]; then
	MODE=quick
	FILES_NS=(2000)      # the file-tree workloads, one fresh target per N
	MIX_N=2000           # items of the YCSB and latency workloads
	SAMPLES=1000         # latency samples per operation
	PAIRS=500            # two-item updates (pairs-rename, pairs-txn)
	YCSB_SECS=2          # per YCSB run
	SCALE_NS=(2000 10000)
	STAT_SAMPLES=2000    # lstat calls per scaling point
else
	MODE=default
	FILES_NS=(20000 100000)
	MIX_N=10000
	SAMPLES=5000
	PAIRS=2000
	YCSB_SECS=5
	SCALE_NS=(10000 100000)
	STAT_SAMPLES=10000
	if [ -n "$FULL" ]; then
		MODE=full
		SCALE_NS+=(1000000)
	fi
fi
TABLES=10
BIG_COUNT=200
BIG_SIZE=400000

# ---- work directory, results, cleanup -------------------------------------
mkdir -p "$DISK_BASE"
W=$(mktemp -d "$DISK_BASE/itemfs-bench.XXXXXX")
OUT=$OUT_BASE/$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
RAW=$OUT/raw.csv
SUMMARY=$OUT/summary.csv
REPORT=$OUT/report.txt
echo "run,target,workload,unit,value,wall_s,ops,note" >"$RAW"
: >"$REPORT"

ITEMFS_PID='' PT_PID='' STORE=''
IMNT=$W/itemfs-mnt PT_SRC=$W/pt-src PT_MNT=$W/pt-mnt TMPFS=$W/tmpfs
mkdir -p "$IMNT" "$PT_SRC" "$PT_MNT" "$TMPFS"

# say TEXT...: prints TEXT and keeps it in report.txt.
say() {
	printf '%s\n' "$*" | tee -a "$REPORT"
}

die() {
	echo "run.sh: $*" >&2
	exit 1
}

running() {
	local state
	state=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null) || return 1
	[ -n "$state" ] && [ "$state" != Z ]
}

cleanup() {
	local rc=$? m i busy=0
	set +e
	cd /
	for m in "$IMNT" "$PT_MNT"; do
		mountpoint -q "$m" && { fusermount3 -u "$m" 2>/dev/null || umount -l "$m"; }
	done
	for i in $ITEMFS_PID $PT_PID; do
		for _ in $(seq 100); do running "$i" || break; sleep 0.05; done
		running "$i" && { echo "run.sh: daemon $i still running; killing it" >&2; kill -KILL "$i"; }
	done
	for m in "$PT_SRC" "$TMPFS"; do
		mountpoint -q "$m" && { umount "$m" || umount -l "$m"; }
	done
	for m in "$IMNT" "$PT_MNT" "$PT_SRC" "$TMPFS"; do
		mountpoint -q "$m" && busy=1
	done
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
		for m in "$W"/itemfs.log "$W"/pt.log; do
			[ -s "$m" ] && { echo "--- last lines of $m:" >&2; tail -n 20 "$m" >&2; }
		done
	fi
	if [ "$busy" -eq 0 ]; then
		rm -rf "$W"
	else
		echo "run.sh: not removing $W: something is still mounted in it" >&2
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# ---- the driver and passthrough_ll ----------------------------------------
if [ -z "$BENCH" ]; then
	cand=$(dirname "$ITEMFS")/../tests/bench/itemfs-bench
	if [ -x "$cand" ]; then
		BENCH=$cand
	else
		BENCH=$W/itemfs-bench
		cc -std=gnu11 -O2 -D_GNU_SOURCE -o "$BENCH" "$HERE/bench.c" -lm -pthread ||
			die "cannot build the driver from $HERE/bench.c"
	fi
fi
BENCH=$(readlink -f "$BENCH")

PT='' PT_NOTE=''
if [ -f "$PT_EXAMPLES/passthrough_ll.c" ]; then
	mkdir -p "$W/ptbuild"
	cp "$PT_EXAMPLES/passthrough_ll.c" "$PT_EXAMPLES"/*.h "$W/ptbuild/"
	# shellcheck disable=SC2046 # pkg-config's words are separate flags
	if cc -O2 -o "$W/ptbuild/passthrough_ll" "$W/ptbuild/passthrough_ll.c" \
		$(pkg-config --cflags --libs fuse3) 2>"$W/ptbuild/cc.log"; then
		PT=$W/ptbuild/passthrough_ll
	else
		PT_NOTE="passthrough column skipped: $PT_EXAMPLES/passthrough_ll.c did not build ($(head -n 1 "$W/ptbuild/cc.log"))"
	fi
else
	PT_NOTE="passthrough column skipped: $PT_EXAMPLES/passthrough_ll.c is absent (package libfuse3-dev ships it)"
fi

# passthrough_ll keeps one O_PATH descriptor per inode the kernel knows, so
# it fails with EMFILE past the descriptor limit: its column stops short.
NOFILE=$(ulimit -n)
PT_MAX_INODES=$((NOFILE - 500))

# ---- the machine ----------------------------------------------------------
DISK_DEV=$(df --output=source "$W" | tail -n 1 | tr -d ' ')
DISK_FS=$(df --output=fstype "$W" | tail -n 1 | tr -d ' ')
DISK_NOTE=
if [ "$DISK_FS" = ext4 ]; then
	if ls -d /proc/fs/jbd2/"$(basename "$DISK_DEV")"-* >/dev/null 2>&1; then
		DISK_NOTE=", journal"
	else
		DISK_NOTE=", no journal"
	fi
fi
TARGETS=(itemfs disk tmpfs)
[ -n "$PT" ] && TARGETS+=(pt)
declare -A LABEL=([itemfs]=itemfs [disk]=$DISK_FS [tmpfs]=tmpfs [pt]=passthrough)

say "itemfs benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), mode $MODE, $RUNS run(s)"
say "machine: $(nproc) cores ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)), $(awk '/MemTotal/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r), disk $DISK_FS$DISK_NOTE ($DISK_DEV, $DISK_BASE)"
say "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine shows in the numbers)"
say "itemfs: $ITEMFS ($("$ITEMFS" version 2>&1 | head -n 1)), -o commit_interval=$CI_SECS"
if [ -n "$PT" ]; then
	say "passthrough: libfuse $(pkg-config --modversion fuse3) example passthrough_ll -s -o cache=always over a tmpfs (fd limit $NOFILE: at most $PT_MAX_INODES inodes)"
else
	say "$PT_NOTE"
fi
say "sizes: files N=${FILES_NS[*]} (1 KiB items in $TABLES tables; + $BIG_COUNT of $BIG_SIZE bytes); mix N=$MIX_N, ${YCSB_SECS}s per YCSB run, $SAMPLES latency samples; scaling N=${SCALE_NS[*]}"

# ---- targets ---------------------------------------------------------------
SEQ=0

# wait_mounted MNT PID LOG: waits up to 20 s for MNT to be a mountpoint
# while PID lives.
wait_mounted() {
	local i
	for ((i = 0; i < 400; i++)); do
		mountpoint -q "$1" && return 0
		running "$2" || die "the daemon for $1 exited before mounting; log: $(tail -n 5 "$3")"
		sleep 0.05
	done
	die "$1 not mounted after 20 s"
}

# stop_daemon MNT PID: unmounts MNT and waits (up to 60 s) for PID to exit.
stop_daemon() {
	local i
	fusermount3 -u "$1" || die "fusermount3 -u $1 failed"
	for ((i = 0; i < 1200; i++)); do
		running "$2" || break
		sleep 0.05
	done
	running "$2" && die "daemon $2 did not exit 60 s after unmounting $1"
	wait "$2" || die "the daemon for $1 exited with status $?"
}

itemfs_start() {
	"$ITEMFS" mount "$STORE" "$IMNT" -f -o "commit_interval=$CI_SECS" >>"$W/itemfs.log" 2>&1 &
	ITEMFS_PID=$!
	wait_mounted "$IMNT" "$ITEMFS_PID" "$W/itemfs.log"
}
itemfs_stop() {
	stop_daemon "$IMNT" "$ITEMFS_PID"
	ITEMFS_PID=
}
pt_start() {
	"$PT" -f -s -o cache=always -o source="$PT_SRC" "$PT_MNT" >>"$W/pt.log" 2>&1 &
	PT_PID=$!
	wait_mounted "$PT_MNT" "$PT_PID" "$W/pt.log"
}
pt_stop() {
	stop_daemon "$PT_MNT" "$PT_PID"
	PT_PID=
}

# drop_caches: writes dirty data, then drops the page, dentry and inode caches.
drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

# settle: lets the disk finish what earlier phases left (ext4 without a
# journal creates at a swinging rate right after mass deletes).
settle() {
	sync
	sleep 2
}

# target_up T: a fresh, empty instance of target T; sets ROOT (where the
# workload runs) and DPID (the FUSE daemon, or empty).
target_up() {
	SEQ=$((SEQ + 1))
	DPID=
	case "$1" in
	itemfs)
		STORE=$W/store.$SEQ
		itemfs_start
		ROOT=$IMNT DPID=$ITEMFS_PID ;;
	disk)
		ROOT=$W/disk.$SEQ
		mkdir "$ROOT" ;;
	tmpfs)
		mount -t tmpfs -o mode=755 itemfs-bench "$TMPFS"
		ROOT=$TMPFS ;;
	pt)
		mount -t tmpfs -o mode=755 itemfs-bench-src "$PT_SRC"
		pt_start
		ROOT=$PT_MNT DPID=$PT_PID ;;
	esac
}

# target_cold T: remounts T (FUSE targets) and drops the caches, so the next
# phase starts cold. A tmpfs keeps its files in memory: it has no cold.
target_cold() {
	sync
	case "$1" in
	itemfs) itemfs_stop; drop_caches; itemfs_start; DPID=$ITEMFS_PID ;;
	pt) pt_stop; drop_caches; pt_start; DPID=$PT_PID ;;
	*) drop_caches ;;
	esac
}

# target_down T: unmounts and deletes the instance target_up made.
target_down() {
	case "$1" in
	itemfs) itemfs_stop; rm -rf "$STORE" ;;
	disk) rm -rf "$ROOT" ;;
	tmpfs) umount "$TMPFS" ;;
	pt) pt_stop; umount "$PT_SRC" ;;
	esac
}

# ---- recording --------------------------------------------------------------
RUN=0

# record T WORKLOAD UNIT VALUE WALL OPS [NOTE]: one measurement into raw.csv.
record() {
	echo "$RUN,$1,$2,$3,$4,$5,$6,${7:-}" >>"$RAW"
	printf '  run %d %-11s %-18s %12s %-5s %9.3f s %9s ops%s\n' "$RUN" "${LABEL[$1]}" "$2" \
		"$4" "$3" "$5" "$6" "${7:+  ($7)}"
}

# field LINE KEY: the value of KEY=... in a RESULT line.
field() {
	local w
	for w in $1; do
		case "$w" in "$2"=*) echo "${w#*=}"; return 0 ;; esac
	done
	die "no $2= in: $1"
}

# drv ARGS...: runs the driver; prints its RESULT lines (fails the run if it fails).
drv() {
	local out
	out=$("$BENCH" "$@") || die "bench $* failed (see above)"
	printf '%s\n' "$out"
}

# rate T WORKLOAD RESULT_LINE [NOTE]: records ops/s and wall time of a driver phase.
rate() {
	local ops secs
	ops=$(field "$3" ops) secs=$(field "$3" secs)
	record "$1" "$2" ops/s "$(awk -v o="$ops" -v s="$secs" 'BEGIN { printf "%.1f", o / s }')" \
		"$secs" "$ops" "${4:-}"
}

# timed T WORKLOAD OPS NOTE CMD...: runs a shell pipeline CMD, records ops/s.
timed() {
	local t=$1 wl=$2 ops=$3 note=$4 t0 t1
	shift 4
	t0=$EPOCHREALTIME
	"$@"
	t1=$EPOCHREALTIME
	rate "$t" "$wl" "RESULT x ops=$ops secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')" "$note"
}

# k N: N written short (2000 -> 2k, 1000000 -> 1M), for workload names.
k() {
	if (($1 >= 1000000 && $1 % 1000000 == 0)); then echo "$(($1 / 1000000))M"
	elif (($1 >= 1000 && $1 % 1000 == 0)); then echo "$(($1 / 1000))k"
	else echo "$1"; fi
}

tar_all() {
	tar -cf - -C "$1" . | cat >/dev/null
}
rm_all() {
	rm -rf "${1:?}"/*
}

# rss_mib PID [FIELD]: FIELD (default VmRSS) of /proc/PID/status, in MiB.
# VmRSS counts the pages of files the process maps (LMDB's map: the page
# cache's own pages) as well as its own; RssAnon is its own memory alone.
rss_mib() {
	awk -v f="${2:-VmRSS}:" '$1 == f { printf "%.1f", $2 / 1024 }' "/proc/$1/status"
}

# ---- workload groups -----------------------------------------------------------

# group_files T N: the file-tree workloads on a fresh T with N 1-KiB items.
group_files() {
	local t=$1 n=$2 tag note='' line big
	tag=@$(k "$n")
	if [ "$t" = pt ]; then
		local cap=$(((PT_MAX_INODES - BIG_COUNT - 100) / 1000 * 1000))
		if ((n > cap)); then
			if ((cap * 10 < n * 9)); then
				echo "  run $RUN passthrough: files$tag skipped (fd limit $NOFILE)"
				return 0
			fi
			n=$cap
			note="passthrough N=$(k "$n") (fd limit)"
		fi
	fi
	settle
	target_up "$t"
	line=$(drv create "$ROOT" 0 "$n" -t "$TABLES")
	rate "$t" "create$tag" "$line" "$note"
	line=$(drv ls "$ROOT")
	[ "$(field "$line" ops)" -eq $((n + TABLES)) ] || die "ls saw $(field "$line" ops) entries, not $((n + TABLES))"
	rate "$t" "ls-l$tag" "$line" "$note"
	target_cold "$t"
	line=$(drv cat "$ROOT")
	[ "$(field "$line" bytes)" -eq $((n * 1024)) ] || die "cat read $(field "$line" bytes) bytes, not $((n * 1024))"
	rate "$t" "cat-cold$tag" "$line" "$note"
	rate "$t" "cat-warm$tag" "$(drv cat "$ROOT")" "$note"
	rate "$t" "ls-l-warm$tag" "$(drv ls "$ROOT")" "$note"
	rate "$t" "overwrite10%$tag" "$(drv overwrite "$ROOT" "$n" -e 10 -t "$TABLES")" "$note"
	rate "$t" "big-create$tag" "$(drv create "$ROOT" 0 "$BIG_COUNT" -s "$BIG_SIZE" -t 1 -p big)" "$note"
	big=$(drv cat "$ROOT/big0")
	[ "$(field "$big" bytes)" -eq $((BIG_COUNT * BIG_SIZE)) ] || die "big read $(field "$big" bytes) bytes"
	rate "$t" "big-read$tag" "$big" "$note"
	timed "$t" "tar$tag" $((n + BIG_COUNT)) "$note" tar_all "$ROOT"
	timed "$t" "rm-rf$tag" $((n + BIG_COUNT)) "$note" rm_all "$ROOT"
	target_down "$t"
}

# group_mix T: YCSB-B-like mix with 1 and 4 clients, then the latencies.
group_mix() {
	local t=$1 line lat name ops secs
	if [ "$t" = pt ] && ((MIX_N + SAMPLES + 100 > PT_MAX_INODES)); then
		echo "  run $RUN passthrough: mix skipped (fd limit $NOFILE)"
		return 0
	fi
	settle
	target_up "$t"
	drv create "$ROOT" 0 "$MIX_N" -t "$TABLES" >/dev/null
	settle
	rate "$t" ycsb-b-1thr "$(drv ycsb "$ROOT" "$MIX_N" -j 1 -d "$YCSB_SECS" -t "$TABLES")"
	rate "$t" ycsb-b-4thr "$(drv ycsb "$ROOT" "$MIX_N" -j 4 -d "$YCSB_SECS" -t "$TABLES")"
	lat=$(drv lat "$ROOT" "$MIX_N" -n "$SAMPLES" -t "$TABLES")
	while read -r line; do
		name=$(echo "$line" | cut -d' ' -f2)
		ops=$(field "$line" ops) secs=$(field "$line" secs)
		record "$t" "$name-p50" us "$(field "$line" p50_us)" "$secs" "$ops"
		record "$t" "$name-p99" us "$(field "$line" p99_us)" "$secs" "$ops"
	done <<<"$lat"
	# Durable updates of two items at once: rename both and fsync the
	# directory, as any program does; and on itemfs one transaction of two
	# mv (.itemfs/txn). The other columns have no transactions: their
	# pairs-txn row is the rename pair again, so that its ratio compares
	# itemfs's transaction with what a program does without one.
	rate "$t" pairs-rename "$(drv pairs "$ROOT" "$MIX_N" -n "$PAIRS" -t "$TABLES")"
	if [ "$t" = itemfs ]; then
		rate "$t" pairs-txn "$(drv pairs "$ROOT" "$MIX_N" -n "$PAIRS" -t "$TABLES" -x "$ROOT/.itemfs/txn")"
	else
		rate "$t" pairs-txn "$(drv pairs "$ROOT" "$MIX_N" -n "$PAIRS" -t "$TABLES")" \
			"rename pair + fsync (no transactions)"
	fi
	target_down "$t"
}

# group_scale T: fills one T to each of SCALE_NS in turn; at each N, the
# per-create cost over the last 10 % of the fill, the daemon's RSS, then
# (after a remount and drop_caches) the per-lstat cost of distinct items.
group_scale() {
	local t=$1 have=0 n mid line tag
	settle
	target_up "$t"
	for n in "${SCALE_NS[@]}"; do
		tag=@$(k "$n")
		if [ "$t" = pt ] && ((n + 100 > PT_MAX_INODES)); then
			echo "  run $RUN passthrough: scale$tag skipped (fd limit $NOFILE)"
			break
		fi
		# The 1M point's targets are itemfs's own (flat per-op cost, RSS):
		# the other columns would spend most of an hour deleting 1M files.
		if [ "$t" != itemfs ] && ((n > 100000)); then
			echo "  run $RUN ${LABEL[$t]}: scale$tag skipped (itemfs only past 100k)"
			break
		fi
		mid=$((n - n / 10))
		((mid > have)) && drv create "$ROOT" "$have" "$mid" -t "$TABLES" >/dev/null
		line=$(drv create "$ROOT" "$mid" "$n" -t "$TABLES")
		have=$n
		record "$t" "scale-create$tag" us \
			"$(awk -v o="$(field "$line" ops)" -v s="$(field "$line" secs)" 'BEGIN { printf "%.2f", s / o * 1e6 }')" \
			"$(field "$line" secs)" "$(field "$line" ops)"
		if [ -n "$DPID" ]; then
			record "$t" "rss$tag" MiB "$(rss_mib "$DPID")" 0 0
			record "$t" "rss-anon$tag" MiB "$(rss_mib "$DPID" RssAnon)" 0 0
		fi
		target_cold "$t"
		line=$(drv stat "$ROOT" "$n" -n "$STAT_SAMPLES" -t "$TABLES")
		record "$t" "scale-stat$tag" us "$(field "$line" mean_us)" "$(field "$line" secs)" "$(field "$line" ops)"
	done
	target_down "$t"
}

# ---- the runs --------------------------------------------------------------------
START=$EPOCHREALTIME
declare -A GROUP_SECS=()
for ((RUN = 1; RUN <= RUNS; RUN++)); do
	# Rotate the order of the columns from run to run, so that a slow
	# stretch of the machine does not always hit the same one.
	order=("${TARGETS[@]:$(((RUN - 1) % ${#TARGETS[@]}))}" "${TARGETS[@]:0:$(((RUN - 1) % ${#TARGETS[@]}))}")
	echo "=== run $RUN of $RUNS (order: ${order[*]})"
	for g in "${FILES_NS[@]}" mix scale; do
		for t in "${order[@]}"; do
			g0=$EPOCHREALTIME
			case "$g" in
			mix) group_mix "$t" ;;
			scale) group_scale "$t" ;;
			*) group_files "$t" "$g" ;;
			esac
			key="$g:$t"
			GROUP_SECS[$key]=$(awk -v a="${GROUP_SECS[$key]:-0}" -v b="$g0" -v c="$EPOCHREALTIME" \
				'BEGIN { printf "%.1f", a + c - b }')
		done
	done
done
ELAPSED=$(awk -v a="$START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')

# ---- medians, ratios, table, chart ----------------------------------------------
# summary.csv: per workload, the median (and min, max) per column, the
# median wall time per column, and the ratios (>1: itemfs better: faster
# for ops/s, lower for latencies and per-op costs; none for memory).
cols=$(printf '%s ' "${TARGETS[@]}")
labels=$(for t in "${TARGETS[@]}"; do printf '%s ' "${LABEL[$t]}"; done)
awk -F, -v cols="$cols" -v labels="$labels" '
function median(list,   v, n, i, j, x) {
	n = split(list, v, " ")
	for (i = 2; i <= n; i++) { x = v[i] + 0; for (j = i - 1; j >= 1 && v[j] + 0 > x; j--) v[j + 1] = v[j]; v[j + 1] = x }
	return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
function minmax(list, want,   v, n, i, r) {
	n = split(list, v, " "); r = v[1] + 0
	for (i = 2; i <= n; i++) if ((want == "min" && v[i] + 0 < r) || (want == "max" && v[i] + 0 > r)) r = v[i] + 0
	return r
}
function ratio(wl, other,   a, b) {
	if (!((wl SUBSEP "itemfs") in val) || !((wl SUBSEP other) in val)) return ""
	a = median(val[wl, "itemfs"]); b = median(val[wl, other])
	if (unit[wl] == "ops/s" && b > 0) return sprintf("%.3f", a / b)
	if (unit[wl] == "us" && a > 0) return sprintf("%.3f", b / a)
	return ""
}
NR == 1 { next }
{
	wl = $3
	if (!(wl in unit)) { order[++nw] = wl; unit[wl] = $4 }
	val[wl, $2] = val[wl, $2] " " $5
	wall[wl, $2] = wall[wl, $2] " " $6
	if ($8 != "" && !(wl in note)) note[wl] = $8
}
END {
	nc = split(cols, c, " "); split(labels, lab, " ")
	hdr = "workload,unit"
	for (i = 1; i <= nc; i++) hdr = hdr "," lab[i]
	hdr = hdr ",itemfs/" lab[2] ",itemfs/passthrough"
	for (i = 1; i <= nc; i++) hdr = hdr "," lab[i] "_min," lab[i] "_max," lab[i] "_wall_s"
	print hdr ",note"
	for (w = 1; w <= nw; w++) {
		wl = order[w]; line = wl "," unit[wl]
		for (i = 1; i <= nc; i++) line = line "," (((wl SUBSEP c[i]) in val) ? median(val[wl, c[i]]) : "")
		line = line "," ratio(wl, "disk") "," ratio(wl, "pt")
		for (i = 1; i <= nc; i++) {
			if ((wl SUBSEP c[i]) in val)
				line = line "," minmax(val[wl, c[i]], "min") "," minmax(val[wl, c[i]], "max") "," median(wall[wl, c[i]])
			else
				line = line ",,,"
		}
		print line "," note[wl]
	}
}' "$RAW" >"$SUMMARY"

# The table: medians per column and the ratios; then the wall times.
say ""
say "Medians of $RUNS run(s). ops/s: higher is better; us (latency, per-op cost): lower is better."
say "Ratios >1 mean itemfs is better (faster). Wall times and min/max are in $SUMMARY."
awk -F, -v nc="${#TARGETS[@]}" '
function fmt(x) { return x == "" ? "-" : x }
NR == 1 {
	printf "%-20s %-5s", "workload", "unit"
	for (i = 3; i < 3 + nc; i++) printf " %12s", $i
	printf " %13s %13s\n", $(3 + nc), "itemfs/pt"
	next
}
{
	printf "%-20s %-5s", $1, $2
	for (i = 3; i < 3 + nc; i++) printf " %12s", fmt($i)
	printf " %13s %13s", fmt($(3 + nc)), fmt($(4 + nc))
	n = split($0, all, ",")
	if (all[n] != "") printf "  %s", all[n]
	printf "\n"
}' "$SUMMARY" | tee -a "$REPORT"
[ -n "$PT_NOTE" ] && say "($PT_NOTE)"

say ""
say "Wall time of the throughput workloads (s, medians):"
awk -F, -v nc="${#TARGETS[@]}" '
NR == 1 {
	printf "%-20s", "workload"
	for (i = 3; i < 3 + nc; i++) printf " %12s", $i
	printf "\n"
	next
}
$2 == "ops/s" {
	printf "%-20s", $1
	for (i = 1; i <= nc; i++) { w = $(nc + 4 + 3 * i); printf " %12s", w == "" ? "-" : sprintf("%.3f", w) }
	printf "\n"
}' "$SUMMARY" | tee -a "$REPORT"

say ""
say "Time spent per workload group and column (all runs, with mounts and settling):"
for g in "${FILES_NS[@]}" mix scale; do
	line=$(printf '  %-8s' "$([[ "$g" =~ ^[0-9]+$ ]] && echo "files@$(k "$g")" || echo "$g")")
	for t in "${TARGETS[@]}"; do
		line+=$(printf ' %s %6ss' "${LABEL[$t]}" "${GROUP_SECS[$g:$t]:-0}")
	done
	say "$line"
done
say "total: ${ELAPSED}s"

if command -v gnuplot >/dev/null; then
	# The chart's data: the rows that have a ratio (not the RSS rows).
	ncol=${#TARGETS[@]}
	awk -F, -v a=$((ncol + 3)) -v b=$((ncol + 4)) 'NR > 1 && ($a != "" || $b != "")' \
		"$SUMMARY" >"$W/chart.csv"
	gnuplot <<EOF || say "gnuplot failed: no chart"
set terminal png size 1400,720 noenhanced
set output "$OUT/ratios.png"
set datafile separator ","
set title "itemfs relative to ${LABEL[disk]} and to passthrough_ll (>1: itemfs faster), medians of $RUNS run(s), mode $MODE"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set logscale y 10
set grid ytics
set xtics rotate by -60 scale 0 font ",9"
set key top right
set arrow from graph 0, first 1 to graph 1, first 1 nohead lc rgb "black" lw 1.5
plot "$W/chart.csv" using $((ncol + 3)):xtic(1) title "itemfs/${LABEL[disk]}"$([ -n "$PT" ] &&
	printf ', "" using %d title "itemfs/passthrough"' $((ncol + 4)))
EOF
	[ -f "$OUT/ratios.png" ] && say "chart: $OUT/ratios.png"
else
	say "gnuplot is not installed: no chart (apt-get install gnuplot-nox)"
fi
say "results: $OUT (raw.csv, summary.csv, report.txt)"
