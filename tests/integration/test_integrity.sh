#!/bin/bash
# Checksums: an item whose stored bytes (or stored hash) were corrupted on
# disk is never returned: reading it fails with EIO and the daemon logs a
# line naming the table and the item. Other items stay readable, and the
# damaged item can still be deleted or replaced.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
start_itemfs
mkdir -p "$MNT/ledger/2024" "$MNT/other"
head -c 20000 /dev/urandom >"$T/victim"
head -c 3000 /dev/urandom >"$T/hashvictim"
head -c 5000 /dev/urandom >"$T/bystander"
cp "$T/victim" "$MNT/ledger/2024/victim.bin"
cp "$T/hashvictim" "$MNT/ledger/hashvictim.bin"
cp "$T/bystander" "$MNT/ledger/2024/bystander.bin"
cp "$T/bystander" "$MNT/other/bystander.bin"
ino=$(st %i "$MNT/ledger/2024/victim.bin")
hino=$(st %i "$MNT/ledger/hashvictim.bin")
stop_itemfs

step "flip one data byte of victim.bin (inode $ino) and one hash byte of hashvictim.bin (inode $hino)"
# The stored value is the 8-byte hash, then the data.
out=$("$HELPER" flip "$STORE" "$ino" $((8 + 12345)) 2>&1) || fail "flip a data byte: $out"
out=$("$HELPER" flip "$STORE" "$hino" 0 2>&1) || fail "flip a hash byte: $out"
: >"$LOG"
start_itemfs

step "reading a corrupted item: EIO, and a log line naming table and item"
expect_fail 1 "Input/output error" cat "$MNT/ledger/2024/victim.bin"
expect_fail 1 "Input/output error" cp "$MNT/ledger/2024/victim.bin" "$T/copy"
grep 'ledger' "$LOG" | grep -q 'victim\.bin' ||
	fail "no log line names the table 'ledger' and the item 'victim.bin'; log: $(cat "$LOG")"
expect_fail 1 "Input/output error" cat "$MNT/ledger/hashvictim.bin"
grep 'ledger' "$LOG" | grep -q 'hashvictim\.bin' ||
	fail "no log line names the table 'ledger' and the item 'hashvictim.bin'; log: $(cat "$LOG")"
step "reading it again still fails (nothing cached the bad bytes)"
expect_fail 1 "Input/output error" cat "$MNT/ledger/2024/victim.bin"

step "other items are intact"
assert_cmp "$T/bystander" "$MNT/ledger/2024/bystander.bin"
assert_cmp "$T/bystander" "$MNT/other/bystander.bin"
assert_eq 20000 "$(st %s "$MNT/ledger/2024/victim.bin")" "stat of the corrupted item"

step "a corrupted item can be replaced and deleted"
run_ok sh_c 'printf replaced > "$1"' "$MNT/ledger/hashvictim.bin"
assert_eq replaced "$(cat "$MNT/ledger/hashvictim.bin")" "replaced item"
run_ok rm "$MNT/ledger/2024/victim.bin"
assert_absent "$MNT/ledger/2024/victim.bin"
restart_itemfs
assert_eq replaced "$(cat "$MNT/ledger/hashvictim.bin")" "replaced item after remount"
assert_absent "$MNT/ledger/2024/victim.bin"
assert_cmp "$T/bystander" "$MNT/ledger/2024/bystander.bin"
stop_itemfs

echo "PASS"
