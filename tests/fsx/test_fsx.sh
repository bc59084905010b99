#!/bin/bash
# itemfs-fsx (fsx.c) over a fresh mount: random reads, writes, truncations
# and mapped reads of one item, checked byte for byte against a model, with
# close+reopen (each close commits a new item version) and fsync, over
# several seeds, without mmap and with MAP_PRIVATE mapped reads. Writers
# are served with direct I/O, and the kernel refuses MAP_SHARED of such a
# file (ENODEV; libfuse 3.14 cannot ask for FUSE_DIRECT_IO_ALLOW_MMAP), so
# mapped writes are only checked to fail that way, or to work.
#
# Environment: FSX (the itemfs-fsx binary); FSX_OPS, ops per run (default
# FSX_CI_OPS, which meson.build sets: 20000, or 2500 in a sanitizer build);
# FSX_SEEDS (default "1 2"); FSX_CLOSE / FSX_FSYNC, close+reopen / fsync in
# 1 of N ops (defaults 100 / 500). The long run by hand (about 5 minutes):
#   FSX_OPS=100000 FSX_SEEDS="1 2 3 4" meson test -C BUILD fsx -v -t 10
source "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"
: "${FSX:?FSX must name the itemfs-fsx binary}"
OPS=${FSX_OPS:-${FSX_CI_OPS:-20000}}
SEEDS=${FSX_SEEDS:-1 2}
CLOSE_P=${FSX_CLOSE:-100}
FSYNC_P=${FSX_FSYNC:-500}

start_itemfs

# run_fsx NAME ARGS...: itemfs-fsx ARGS on $MNT/NAME/f (a 1-byte name, so
# that -l 409600 is the item limit's 409599 bytes of data); must pass.
run_fsx() {
	local dir=$MNT/$1 rc=0 out
	shift
	mkdir "$dir"
	step "itemfs-fsx -l 409600 $* $dir/f"
	out=$("$FSX" -l 409600 "$@" "$dir/f" 2>&1) || rc=$?
	[ "$rc" -eq 0 ] || fail "itemfs-fsx $* exited $rc:"$'\n'"$out"
	echo "$out"
}

for seed in $SEEDS; do
	run_fsx "plain$seed" -N "$OPS" -S "$seed" -R -W -c "$CLOSE_P" -f "$FSYNC_P"
	run_fsx "mmap$seed" -N "$OPS" -S "$seed" -p -W -c "$CLOSE_P" -f "$FSYNC_P"
done

step "MAP_SHARED mapped writes: they work, or mmap is refused with ENODEV"
mkdir "$MNT/shared"
rc=0
out=$("$FSX" -q -R -N 2000 -S 7 "$MNT/shared/f" 2>&1) || rc=$?
case "$rc:$out" in
0:*) echo "MAP_SHARED mmap of a writer's file works now: run fsx with mapped writes" ;;
3:*"PROT_READ|PROT_WRITE, MAP_SHARED"*"No such device (ENODEV)"*) echo "$out" ;;
*) fail "itemfs-fsx with mapped writes: exit $rc: $out" ;;
esac

step "the last run's final version survives a remount"
cp "$MNT/mmap${SEEDS##* }/f" "$T/final"
restart_itemfs
assert_cmp "$T/final" "$MNT/mmap${SEEDS##* }/f"
stop_itemfs
