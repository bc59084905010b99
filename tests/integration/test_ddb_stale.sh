#!/bin/bash
# The consistency contract on the DynamoDB-API backend, against a server
# whose eventually consistent reads really lag: tests/ddb/stale-proxy.js
# answers a repeated eventual read from what it answered before, for LAG
# ms, while consistent reads and writes pass through. A ($MNT) talks to
# dynalite directly and writes; B ($MNT2) reads through the proxy.
#  - B's eventual reads are stale (the proxy works: else the rest proves
#    nothing);
#  - fsync on B's read-only descriptor makes it read A's latest commit;
#  - an O_DIRECT open and -o consistent_reads read strongly;
#  - with a lag of 1 s, B sees A's write within lag + ddb_poll + cache_ttl.
# Runs only with ITEMFS_TEST_BACKEND=ddb (meson: suite ddb).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ "${ITEMFS_TEST_BACKEND:-}" = ddb ] || fail "test_ddb_stale.sh runs on the ddb backend only"
PROXY=$SRCDIR/tests/ddb/stale-proxy.js
TABLE=${STORE##*/}

# start_proxy LAG_MS: a proxy in front of dynalite; prints its port.
start_proxy() {
	local out=$T/proxy.$1 port= i
	node "$PROXY" 0 "$ITEMFS_TEST_DDB_ENDPOINT" "$1" >"$out" 2>&1 &
	BG_PIDS+=($!)
	for ((i = 0; i < 200; i++)); do
		port=$(awk '/^listening/ { print $2 }' "$out")
		[ -n "$port" ] && break
		sleep 0.05
	done
	[ -n "$port" ] || fail "stale-proxy.js did not start: $(cat "$out")"
	echo "$port"
}
proxy_stat() { # proxy_stat PORT KEY
	curl -s "http://127.0.0.1:$1/stats" | sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p"
}

P_STALE=$(start_proxy 600000)
STORE_B=dynamodb+http://127.0.0.1:$P_STALE/$TABLE

start_itemfs -o commit_interval=0
mkdir "$MNT/t"
printf 'one' >"$MNT/t/x"
assert_eq OK "$("$HELPER" fsync "$MNT/t/x")" "fsync through A"
start_b -o cache_ttl=0.2,ddb_poll=0.2,ddb_strong=0.5

step "B reads the first version; A writes a second; B's eventual reads stay stale"
# B's reads are strong for ddb_strong after it first reads the commit
# counter, at mount: past that window its reads are eventual, and the
# proxy remembers what it answers them.
sleep 0.7
assert_eq one "$(cat "$MNT2/t/x")" "B's first read"
printf 'second version' >"$MNT/t/x"
assert_eq OK "$("$HELPER" fsync "$MNT/t/x")" "fsync through A (commits)"
sleep 1.5 # several of B's polls and cache_ttls: nothing but the proxy holds B back
assert_eq one "$(cat "$MNT2/t/x")" "B's read 1.5 s after A's commit (the proxy serves it stale)"
assert_gt "$(proxy_stat "$P_STALE" stale)" 0 "reads the proxy answered stale"

step "fsync on B's read-only descriptor forces a strongly consistent read"
readhold_open "$MNT2/t/x"
readhold_do read one "B's descriptor before its fsync (still stale)"
strong_before=$(proxy_stat "$P_STALE" strong)
readhold_do fsync OK "fsync of B's read-only descriptor"
readhold_do read "second version" "B's descriptor right after its fsync"
assert_gt "$(proxy_stat "$P_STALE" strong)" "$strong_before" "consistent reads B's fsync sent"
readhold_close

step "an O_DIRECT open through B reads strongly"
printf 'third' >"$MNT/t/x"
assert_eq OK "$("$HELPER" fsync "$MNT/t/x")" "fsync through A"
sleep 0.6 # past B's ddb_strong window of its last fsync
assert_eq third "$(dd if="$MNT2/t/x" iflag=direct bs=64k status=none)" "O_DIRECT read through B"

step "-o consistent_reads: every open through the stale proxy reads the latest commit"
start_extra "$T/mnt3" "$STORE_B" -o consistent_reads
printf 'fourth' >"$MNT/t/x"
assert_eq OK "$("$HELPER" fsync "$MNT/t/x")" "fsync through A"
assert_eq fourth "$(cat "$T/mnt3/t/x")" "consistent_reads mount right after A's commit"
printf 'new' >"$MNT/t/y"
assert_eq OK "$("$HELPER" fsync "$MNT/t/y")" "fsync through A"
assert_eq new "$(cat "$T/mnt3/t/y")" "a name A just made, through the consistent_reads mount"

step "with reads that lag 1 s, B sees A's writes within lag + ddb_poll + cache_ttl"
P_LAG=$(start_proxy 1000)
start_extra "$T/mnt4" "dynamodb+http://127.0.0.1:$P_LAG/$TABLE" -o cache_ttl=1,ddb_poll=1
assert_eq fourth "$(cat "$T/mnt4/t/x")" "the lagging mount's first read"
printf 'fifth' >"$MNT/t/x"
assert_eq OK "$("$HELPER" fsync "$MNT/t/x")" "fsync through A"
sees_fifth() { [ "$(cat "$T/mnt4/t/x")" = fifth ]; }
took=$(wait_for "the lagging mount sees A's write" 4500 sees_fifth)
echo "seen after $took ms (bound: lag 1000 + poll 1000 + cache_ttl 1000 + slack)"

stop_itemfs
