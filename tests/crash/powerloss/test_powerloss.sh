#!/bin/bash
# Power-loss test (docs/durability.md). Each session records, with the
# iolog shim LD_PRELOADed into the daemon, every write and sync the daemon
# makes to a new store's data.mdb while the writer storm runs, then unmounts.
# From that log crashimg builds the data files a power loss at a random
# instant could have left (synced writes kept, unsynced ones kept, dropped
# or torn at random), and each image must pass:
#  - `itemfs check` exits 0 (when itemfs has check);
#  - mounted read-only, stormverify: every item one complete version, and
#    every change acknowledged before the instant (the storm's acks,
#    CLOCK_MONOTONIC like the log), or returned more than commit_interval +
#    margin before it, is there.
# Images at the log's end (a power loss right after the clean unmount) must
# hold every operation that returned: unmount committed and synced it all.
# Guards against passing vacuously:
#  - the log is complete: all of it applied in order equals the real file;
#  - negative control: images missing one synced page write of the last
#    commit (which a real disk never loses) must be caught, by check or the
#    verifier (or a crash of the daemon reading them), at least once.
#
# POWERLOSS_IMAGES (default 60; 21 for an ASan daemon: CI's budget;
# more for a longer run) images in all,
# spread over the sessions; POWERLOSS_NEGATIVE (default 10) wrong images.
source "$(dirname "${BASH_SOURCE[0]}")/../crashlib.sh"

: "${IOLOG:?IOLOG must name the iolog shim (libiolog.so)}"
: "${CRASHIMG:?CRASHIMG must name the crashimg binary}"

IMAGES=${POWERLOSS_IMAGES:-$([ -n "$ASAN_BUILD" ] && echo 21 || echo 60)}
NEGATIVE=${POWERLOSS_NEGATIVE:-10}
END_IMAGES=3 # per session
# Session settings: fsync percentage of the storm (0: only the commit
# interval and the unmount make anything durable).
SESSION_FSYNC=(20 0 50)
NSESS=${#SESSION_FSYNC[@]}

PRELOAD=$IOLOG
if [ -n "$ASAN_BUILD" ]; then
	# ASan insists on being first in the process's library list.
	PRELOAD="$(ldd "$ITEMFS" | awk '/libasan/ { print $3; exit }') $IOLOG"
fi

REAL_STORE=$STORE
start=$SECONDS
images_done=0
negative_caught=0
negative_tried=0

# record SESSION: runs the storm on a fresh store with the shim; leaves
# the log in $T/sSESSION/io.log and the storm's logs in $T/sSESSION/logs.
record() {
	local s=$1 sd=$T/s$1 out
	mkdir -p "$sd/logs"
	STORE=$REAL_STORE
	rm -rf "$STORE"
	IOLOG_TARGET=$STORE/data.mdb IOLOG_FILE=$sd/io.log LD_PRELOAD=$PRELOAD \
		start_itemfs "${MOUNT_OPTS[@]}"
	run_ok "$STORM" run "$MNT" "$sd/logs" --seed $((CRASH_SEED * 1000 + 900 + s)) \
		--fsync-pct "${SESSION_FSYNC[s]}" --max-rec 16384 --max-item 65536 --duration-ms 2500
	stop_itemfs
	out=$("$CRASHIMG" "$sd/io.log" "$sd/final" --final) || fail "crashimg --final: $out"
	cmp -s "$sd/final/data.mdb" "$STORE/data.mdb" ||
		fail "session $s: the log applied in full differs from the real data.mdb: the" \
			"shim missed writes, so the images would mean nothing"
	rm -rf "$sd/final"
	echo "session $s (fsync ${SESSION_FSYNC[s]}%): $("$CRASHIMG" "$sd/io.log" --stats)"
}

# verify_image SD IMG LINE [--all-done]: check and verify one image; LINE
# is crashimg's description of it. Returns 1 on a violation.
verify_image() {
	local sd=$1 img=$2 line=$3 lo hi rc=0
	shift 3
	lo=$(sed -n 's/.* t_lo=\([0-9inf]*\).*/\1/p' <<<"$line")
	hi=$(sed -n 's/.* t_hi=\([0-9inf]*\).*/\1/p' <<<"$line")
	check_store "$img" || return 1
	STORE=$img
	start_itemfs -o ro
	run_verify "$sd/verify.out" "$sd/logs" --acks-before "$lo" --intents-before "$hi" \
		--window "$WINDOW_NS" --window-end "$lo" "$@" || rc=1
	stop_itemfs
	STORE=$REAL_STORE
	return "$rc"
}

# positive SESSION N [end]: N images of the session, each must pass.
positive() {
	local s=$1 n=$2 end=${3:-} sd=$T/s$1 after i line seed extra=()
	after=$(run_time "$sd/logs" B)
	[ -n "$end" ] && extra=(--pos end)
	for ((i = 0; i < n; i++)); do
		seed=$((CRASH_SEED * 100000 + s * 10000 + images_done))
		rm -rf "$sd/img"
		line=$("$CRASHIMG" "$sd/io.log" "$sd/img" --seed "$seed" --after-ns "$after" \
			"${extra[@]}") || fail "crashimg: $line"
		if ! verify_image "$sd" "$sd/img" "$line" ${end:+--all-done}; then
			keep_round "$sd" "session $s image seed $seed"
			fail "power loss at $line (crashimg seed $seed) left a store that breaks the" \
				"contract (above); reproduce with: crashimg io.log DIR --seed $seed" \
				"--after-ns $after ${extra[*]}"
		fi
		images_done=$((images_done + 1))
	done
}

# negative SESSION N: N deliberately wrong images, each missing one synced
# page write of the last commit before its instant; counts those caught.
negative() {
	local s=$1 n=$2 sd=$T/s$1 after i line seed how
	after=$(run_time "$sd/logs" B)
	for ((i = 0; i < n; i++)); do
		seed=$((CRASH_SEED * 100000 + 90000 + i))
		rm -rf "$sd/neg"
		line=$("$CRASHIMG" "$sd/io.log" "$sd/neg" --seed "$seed" --after-ns "$after" \
			--drop-synced 1) || fail "crashimg: $line"
		case "$line" in
		*" dropped_synced=0 "*)
			echo "negative image $i: no commit before the instant; skipped"
			continue
			;;
		esac
		negative_tried=$((negative_tried + 1))
		# A wrong store may crash the daemon or check's guarded child: their
		# reports go elsewhere. All three variables: ASan parses LSAN_OPTIONS
		# after ASAN_OPTIONS, and its log_path (lib.sh's) would win.
		how=$(ASAN_OPTIONS="${ASAN_OPTIONS:-}:log_path=$T/neg-san" \
			UBSAN_OPTIONS="${UBSAN_OPTIONS:-}:log_path=$T/neg-san" \
			LSAN_OPTIONS="${LSAN_OPTIONS:-}:log_path=$T/neg-san" \
			neg_try "$sd" "$line")
		[ -n "$how" ] && negative_caught=$((negative_caught + 1))
		echo "negative image $i (${line%% durable=*}): ${how:-passed (not caught)}"
	done
	rm -f "$T"/neg-san*
}

# neg_try SD LINE: checks and verifies a wrong image without failing the
# test; prints what noticed it (nothing when nothing did).
neg_try() {
	local sd=$1 line=$2 lo hi pid i rc=0
	lo=$(sed -n 's/.* t_lo=\([0-9inf]*\).*/\1/p' <<<"$line")
	hi=$(sed -n 's/.* t_hi=\([0-9inf]*\).*/\1/p' <<<"$line")
	if [ -n "$HAVE_CHECK" ]; then
		timeout -s KILL 60 "$ITEMFS" check "$sd/neg" >"$sd/neg.out" 2>&1 || rc=$?
		if [ "$rc" -gt 128 ]; then
			echo "itemfs check died of signal $((rc - 128)) (it should exit 1 on a damaged store)"
			return
		elif [ "$rc" -ne 0 ]; then
			echo "itemfs check exit $rc"
			return
		fi
	fi
	"$ITEMFS" mount "$sd/neg" "$MNT" -o ro -f >>"$T/neg.log" 2>&1 &
	pid=$!
	for ((i = 0; i < 200; i++)); do
		mountpoint -q "$MNT" && break
		running "$pid" || break
		sleep 0.05
	done
	if mountpoint -q "$MNT"; then
		timeout -s KILL 60 "$STORMVERIFY" "$MNT" "$sd/logs" --acks-before "$lo" \
			--intents-before "$hi" --window "$WINDOW_NS" --window-end "$lo" \
			>"$sd/neg.out" 2>&1 || rc=$?
		[ "$rc" -ne 0 ] && echo "stormverify: $(grep -m 1 VIOLATION "$sd/neg.out")"
	else
		echo "the mount failed"
		rc=1
	fi
	unmount_any
	wait_exit "$pid" 5 || true
	kill -KILL "$pid" 2>/dev/null || true
	i=0
	wait "$pid" 2>/dev/null || i=$?
	[ "$rc" -eq 0 ] && [ "$i" -ne 0 ] && echo "the daemon exited $i"
	return 0
}

per_session=$(((IMAGES - NSESS * END_IMAGES) / NSESS))
for ((s = 0; s < NSESS; s++)); do
	step "session $s: record"
	record "$s"
	step "session $s: $per_session images at random instants, $END_IMAGES after the unmount"
	positive "$s" "$per_session"
	positive "$s" "$END_IMAGES" end
	if ((s == 0)); then
		step "negative control: $NEGATIVE images with synced writes dropped"
		negative "$s" "$NEGATIVE"
		((negative_caught > 0)) ||
			fail "none of $negative_tried images built wrong (a synced write dropped) was" \
				"caught: the simulation or the verifier cannot fail"
	fi
	rm -f "$T/s$s/io.log"
done
echo "powerloss: $images_done images passed, $negative_caught of $negative_tried wrong images" \
	"caught, in $((SECONDS - start)) s"
