#!/bin/bash
# itemfs mount --snapshot serves one point in time, the moment it mounted,
# for its whole life, while another mount keeps writing the same store; a
# tar of it is a consistent backup.
#
# The consistency check needs a state that is consistent in every commit
# the writer's mount makes. Commits group requests (docs/design.md, group
# commit), so a commit can fall between any two requests: a transfer that
# rewrites two account items one after the other would leave a committed
# state in which the money left one account and has not reached the other.
# So the accounts live in one directory, bank/v (100 items - 20 under ASan - acct-NNN holding
# integers, total 100,000, plus an item `seq`, the number of transfers
# applied), and every transfer builds the next state beside it and swaps it
# in with ONE request:
#   cp -al bank/v bank/next            (hard links: the 98 unchanged accounts)
#   rm bank/next/{acct-A,acct-B,seq}   (new inodes, not the shared ones)
#   write acct-A, acct-B, seq          (the new balances, seq + 1)
#   renameat2(bank/next, bank/v, RENAME_EXCHANGE)   <- the transfer, atomic
#   rm -rf bank/next                   (the old state)
# A rename is one store transaction, so every committed state has in bank/v
# a whole state after some number of transfers: the sum is exact in every
# commit, and bank/v equals the writer's journal replayed up to bank/v/seq.
# (bank/next, half built, is in the snapshots too; it is not counted.)
#
# Checked: the snapshot's bank/v sums to 100,000 and equals the journal
# replayed to its seq; the snapshot's whole tree (listing, metadata,
# contents) stays identical over several seconds while the writer goes on,
# and so do two tars of it; the live mount has moved on; the archive's
# accounts sum to 100,000; five more snapshots (two under ASan) taken at random moments
# (one with -o snapshot) are consistent too; writes into a snapshot fail
# with EROFS; a snapshot mount exits 0 on fusermount3 -u; --snapshot of a
# missing store exits 1 naming it, and creates nothing.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ACCOUNTS=100
[ -z "$ASAN_BUILD" ] || ACCOUNTS=20 # CI's budget: a transfer copies them all
TOTAL=100000
SNAP=$T/snap
SNAP_PID=
JOURNAL=$T/journal
mkdir "$SNAP"
EXTRA_MOUNTS+=("$SNAP")

# forget_pid PID: PID (exited) is no longer one for the exit trap to kill.
forget_pid() {
	local p keep=()
	for p in "${BG_PIDS[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	BG_PIDS=("${keep[@]}")
}

# start_snapshot [OPTS...]: itemfs mount --snapshot $STORE $SNAP in the
# foreground (default: --snapshot), returns once mounted.
start_snapshot() {
	local i
	if [ $# -eq 0 ]; then
		set -- --snapshot
	fi
	"$ITEMFS" mount "$@" "$STORE" "$SNAP" -f >>"$T/snap.log" 2>&1 &
	SNAP_PID=$!
	BG_PIDS+=("$SNAP_PID")
	for ((i = 0; i < 400; i++)); do
		mountpoint -q "$SNAP" && return 0
		running "$SNAP_PID" || fail "itemfs mount $* exited: $(cat "$T/snap.log")"
		sleep 0.05
	done
	fail "snapshot not mounted after 20 s: $(cat "$T/snap.log")"
}

# stop_snapshot: fusermount3 -u; the daemon must exit 0 within 20 s.
stop_snapshot() {
	local out rc=0
	out=$(fusermount3 -u "$SNAP" 2>&1) || fail "fusermount3 -u $SNAP: $out"
	wait_exit "$SNAP_PID" || fail "snapshot daemon did not exit 20 s after unmount"
	wait "$SNAP_PID" || rc=$?
	assert_eq 0 "$rc" "exit status of the snapshot daemon after fusermount3 -u (log: $(cat "$T/snap.log"))"
	forget_pid "$SNAP_PID"
	SNAP_PID=
	sanitizer_reports || fail "sanitizer reports from itemfs (above)"
}

# writer: transfers between random accounts until $T/stop exists; each
# transfer is journaled ("SEQ A B AMOUNT") just before its exchange.
writer() {
	local -a bal
	local seq=0 a b amt i out
	cd "$MNT/bank"
	for ((i = 0; i < ACCOUNTS; i++)); do
		bal[i]=$((TOTAL / ACCOUNTS))
	done
	RANDOM=7
	while [ ! -e "$T/stop" ]; do
		a=$((RANDOM % ACCOUNTS))
		b=$(((a + 1 + RANDOM % (ACCOUNTS - 1)) % ACCOUNTS))
		amt=$((1 + RANDOM % 500))
		bal[a]=$((bal[a] - amt))
		bal[b]=$((bal[b] + amt))
		seq=$((seq + 1))
		cp -al v next
		rm "next/$(printf 'acct-%03d' "$a")" "next/$(printf 'acct-%03d' "$b")" next/seq
		printf '%d\n' "${bal[a]}" >"next/$(printf 'acct-%03d' "$a")"
		printf '%d\n' "${bal[b]}" >"next/$(printf 'acct-%03d' "$b")"
		printf '%d\n' "$seq" >next/seq
		# Journaled before the exchange: a snapshot sees state $seq once the
		# exchange is committed, which can be long before the writer would
		# have got past `rm -rf next` to journal it after.
		printf '%d %d %d %d\n' "$seq" "$a" "$b" "$amt" >>"$JOURNAL"
		out=$("$HELPER" rename next v exchange)
		[ "$out" = OK ] || { echo "writer: exchange: $out" >&2; exit 1; }
		rm -rf next
	done
}

# transfers: how many transfers the writer has journaled.
transfers() {
	wc -l <"$JOURNAL"
}

# wait_transfers N: until the journal holds at least N transfers (60 s max).
wait_transfers() {
	local i
	for ((i = 0; i < 1200; i++)); do
		[ "$(transfers)" -ge "$1" ] && return 0
		running "$WRITER_PID" || fail "the writer died: $(cat "$T/writer.err")"
		sleep 0.05
	done
	fail "the writer made only $(transfers) transfers in 60 s, expected $1"
}

# balances DIR: "acct-NNN VALUE" lines of the accounts in DIR.
balances() {
	(cd "$1" && grep -H '' acct-*) | tr ':' ' '
}

# expected_balances SEQ: the journal replayed up to transfer SEQ.
expected_balances() {
	awk -v n="$ACCOUNTS" -v each=$((TOTAL / ACCOUNTS)) -v upto="$1" '
		$1 <= upto { bal[$2] -= $4; bal[$3] += $4 }
		END { for (i = 0; i < n; i++) printf "acct-%03d %d\n", i, each + bal[i] }' "$JOURNAL"
}

# check_state DIR WHAT: DIR (a bank/v) sums to TOTAL and is the journal
# replayed to its seq; prints the seq.
check_state() {
	local seq sum out
	seq=$(cat "$1/seq")
	sum=$(balances "$1" | awk '{ s += $2 } END { print s }')
	assert_eq "$ACCOUNTS" "$(balances "$1" | wc -l)" "$2: number of accounts"
	assert_eq "$TOTAL" "$sum" "$2: sum of the accounts at transfer $seq"
	out=$(diff <(expected_balances "$seq") <(balances "$1")) ||
		fail "$2: accounts differ from the journal replayed to transfer $seq:
$out"
	echo "$seq"
}

# fingerprint DIR: every entry's metadata (ctime and inode too) and every
# file's content hash.
fingerprint() {
	(
		cd "$1"
		find . -printf '%p %y %m %U %G %s %n %T@ %C@ %i %l\n' | sort
		find . -type f -print0 | sort -z | xargs -0 md5sum
	)
}

step "a bank of $ACCOUNTS accounts summing to $TOTAL"
start_itemfs
mkdir -p "$MNT/bank/v"
for ((i = 0; i < ACCOUNTS; i++)); do
	printf '%d\n' $((TOTAL / ACCOUNTS)) >"$MNT/bank/v/$(printf 'acct-%03d' "$i")"
done
printf '0\n' >"$MNT/bank/v/seq"
: >"$JOURNAL"
# two items of 300,000 bytes with the same bytes, read side by side below
mkdir "$MNT/big"
head -c 300000 /dev/urandom >"$T/big"
cp "$T/big" "$MNT/big/a"
cp "$T/big" "$MNT/big/b"
sync "$MNT/bank" # an fsync of the directory commits (sync -f, syncfs, never reaches FUSE)

step "the writer transfers between accounts"
writer 2>"$T/writer.err" &
WRITER_PID=$!
BG_PIDS+=("$WRITER_PID")
wait_transfers 20
sleep 1.5 # at least one group commit with transfers in it (commit_interval=1)

step "mount a snapshot while the writer goes on"
start_snapshot

# snap_counter KEY: KEY's value in the snapshot mount's .itemfs/stats.
snap_counter() {
	awk -v k="$1" '$1 == k { print $2 }' "$SNAP/.itemfs/stats"
}

step "the kernel opens the snapshot's files itself: reads by inode are right"
# cmp reads the two items in turns: the daemon loads one, then the other,
# for each request (ops_file.c, file_by_inode())
cmp "$SNAP/big/a" "$SNAP/big/b" || fail "cmp of two equal 300,000-byte items in the snapshot"
cmp "$T/big" "$SNAP/big/a" || fail "big/a in the snapshot differs from what was written"
seq1=$(check_state "$SNAP/bank/v" "snapshot")
assert_gt "$seq1" 0 "transfers in the snapshot"
echo "  the snapshot holds transfer $seq1; the writer has journaled $(transfers)"
fp1=$(fingerprint "$SNAP")
out=$(tar --format=posix --xattrs -cpf "$T/snap1.tar" -C "$SNAP" . 2>&1) ||
	fail "tar of the snapshot: $out"
assert_eq "" "$out" "tar of the snapshot's messages"

step "the snapshot does not move while the writer goes on"
before=$(transfers)
sleep 3
wait_transfers $((before + 20))
sleep 1.5 # and the live mount committed them
fp2=$(fingerprint "$SNAP")
out=$(diff <(printf '%s\n' "$fp1") <(printf '%s\n' "$fp2")) ||
	fail "the snapshot changed while it was mounted:
$(printf '%s\n' "$out" | head -n 20)"
out=$(tar --format=posix --xattrs -cpf "$T/snap2.tar" -C "$SNAP" . 2>&1) ||
	fail "second tar of the snapshot: $out"
assert_eq "" "$out" "second tar of the snapshot's messages"
mkdir "$T/x1" "$T/x2"
tar -xpf "$T/snap1.tar" -C "$T/x1"
tar -xpf "$T/snap2.tar" -C "$T/x2"
out=$(diff -r --no-dereference "$T/x1" "$T/x2") || fail "the two tars of the snapshot differ: $out"

step "the live mount has moved on"
live=$(cat "$MNT/bank/v/seq")
assert_gt "$live" "$seq1" "live transfer count against the snapshot's"
if diff -q <(balances "$SNAP/bank/v") <(balances "$MNT/bank/v") >/dev/null; then
	fail "the live accounts still equal the snapshot's after $((live - seq1)) transfers"
fi

step "the archive's accounts sum to $TOTAL"
assert_eq "$seq1" "$(check_state "$T/x1/bank/v" "archive of the snapshot")" \
	"transfer count in the archive"

step "writes into the snapshot fail with EROFS"
expect_fail 1 "Read-only file system" sh_c 'echo x >"$1"' "$SNAP/bank/new"
expect_fail 1 "Read-only file system" sh_c 'echo x >"$1"' "$SNAP/bank/v/acct-000"
expect_fail 1 "Read-only file system" mkdir "$SNAP/newtable"
expect_fail 1 "Read-only file system" rm "$SNAP/bank/v/acct-001"
expect_fail 1 "Read-only file system" mv "$SNAP/bank/v/acct-002" "$SNAP/bank/v/moved"
expect_fail 1 "Read-only file system" chmod 600 "$SNAP/bank/v/acct-003"
expect_fail 1 "Read-only file system" touch "$SNAP/bank/v/acct-004"
expect_fail 1 "Read-only file system" setfattr -n user.x -v 1 "$SNAP/bank/v/acct-005"
expect_fail 1 "Read-only file system" ln "$SNAP/bank/v/acct-006" "$SNAP/bank/v/link"
out=$(diff <(printf '%s\n' "$fp1") <(fingerprint "$SNAP")) ||
	fail "the snapshot changed after the refused writes: $out"

step "no open, close or read of a cached item reaches the snapshot's daemon"
assert_eq 0 "$(snap_counter files.open_cached)" "opens through the page cache the daemon saw"
assert_eq 0 "$(snap_counter files.open_direct)" "direct opens the daemon saw"
r0=$(snap_counter files.reads_by_inode)
assert_gt "$r0" 0 "reads by inode after the fingerprints and tars"
for i in 1 2 3; do
	cat "$SNAP/bank/v/acct-007" "$SNAP/big/a" >/dev/null
done
assert_eq "$r0" "$(snap_counter files.reads_by_inode)" "reads by inode after 3 more cats of read items"
out=$("$ITEMFS" stats "$SNAP") || fail "itemfs stats of the snapshot: $out"
case "$out" in
*" reads of files the kernel opened itself"*) ;;
*) fail "itemfs stats of the snapshot: no line on reads by inode: $out" ;;
esac
snapstream=$(tr -d '\0' <"$SNAP/.itemfs/streams/bank")
[ -n "$snapstream" ] || fail "the snapshot's change stream of bank is empty"
livestream=$(tr -d '\0' <"$MNT/.itemfs/streams/bank")
case "$livestream" in
"$snapstream"*) ;;
*) fail "the snapshot's stream of bank ($(printf '%s\n' "$snapstream" | wc -l) lines) is not where the live one begins" ;;
esac

step "the snapshot mount exits 0 on fusermount3 -u"
stop_snapshot

ROUNDS=${SNAPSHOT_ROUNDS:-$([ -n "$ASAN_BUILD" ] && echo 2 || echo 5)}
step "$ROUNDS more snapshots at random moments are consistent"
for ((round = 1; round <= ROUNDS; round++)); do
	before=$(transfers)
	wait_transfers $((before + 5 + RANDOM % 20))
	if [ "$round" -eq 3 ]; then
		start_snapshot -o snapshot
	else
		start_snapshot
	fi
	seq=$(check_state "$SNAP/bank/v" "snapshot $round")
	half=no
	[ -e "$SNAP/bank/next" ] && half=yes
	echo "  snapshot $round: transfer $seq (a half-built next state in it: $half)"
	stop_snapshot
done

step "stop the writer; the live mount is consistent too"
touch "$T/stop"
rc=0
wait "$WRITER_PID" || rc=$?
forget_pid "$WRITER_PID"
assert_eq 0 "$rc" "writer exit status (stderr: $(cat "$T/writer.err"))"
assert_eq "$(transfers)" "$(check_state "$MNT/bank/v" "live mount")" "live transfer count"
echo "  $(transfers) transfers in all"
stop_itemfs

step "--snapshot of a missing store exits 1, names it, creates nothing"
rc=0
err=$("$ITEMFS" mount --snapshot "$T/no-such-store" "$SNAP" 2>&1) || rc=$?
assert_eq 1 "$rc" "exit status of --snapshot on a missing store (output: $err)"
case "$err" in
*"$T/no-such-store"*) ;;
*) fail "--snapshot on a missing store: the message does not name it: $err" ;;
esac
assert_absent "$T/no-such-store"
mountpoint -q "$SNAP" && fail "$SNAP is mounted after a failed --snapshot"

echo "PASS"
