#!/bin/bash
# Change streams (docs/dynamodb.md, "Change streams"): MOUNTPOINT/.itemfs/
# streams/TABLE is a read-only file with one JSON line per committed change
# of an item of TABLE (INSERT, MODIFY, REMOVE; key, version token, size,
# time, seq), in commit order, from every mount; tail -f follows it; it
# survives a remount and a kill -9 (exactly the records of the commits
# kept); it is trimmed by age (stream_keep) and size (stream_max), the
# trimmed range reading as a hole of NUL bytes; it goes with its table.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# commit [MNT]: statfs commits the mount's pending batch.
commit() { stat -f "${1:-$MNT}" >/dev/null; }
# events FILE: "EVENT KEY" per record (key_hex records as "EVENT hex:HEX").
events() {
	tr -d '\0' <"$1" | sed -E -e 's/.*"event":"([A-Z]+)","key":"(([^"\\]|\\.)*)".*/\1 \2/' \
		-e 's/.*"event":"([A-Z]+)","key_hex":"([0-9a-f]*)".*/\1 hex:\2/'
}
field() { sed -nE "s/.*\"$1\":\"?([^\",}]*)\"?[,}].*/\\1/p"; }
check_clean() {
	"$ITEMFS" check "$STORE" | grep -q ': clean$' || fail "$1: $("$ITEMFS" check "$STORE")"
}
S=$MNT/.itemfs/streams

step "bad options name the option and the fix; the mount does not start"
for bad in "stream_max=abc" "stream_max=-1" "stream_keep=0" "stream_keep=x"; do
	rc=0
	out=$("$ITEMFS" mount "$STORE" "$MNT" -o "$bad" -f 2>&1) || rc=$?
	[ "$rc" -ne 0 ] || fail "-o $bad: mounted"
	case "$out" in
	*"bad value '${bad#*=}' for mount option ${bad%%=*}: give"*"e.g. ${bad%%=*}="*) ;;
	*) fail "-o $bad: message: $out" ;;
	esac
	mountpoint -q "$MNT" && fail "-o $bad: $MNT is mounted"
done

start_itemfs -o allow_other
mkdir "$MNT/users" "$MNT/orders"

step "one file per table, read-only, listed in key order; none for .itemfs or a missing table"
assert_eq "orders users" "$(ls "$S" | tr '\n' ' ' | sed 's/ $//')" "ls .itemfs/streams"
assert_eq "-r--r--r-- 0" "$(st '%A %s' "$S/users")" "mode and size of a new stream"
expect_fail 1 "No such file or directory" cat "$S/nosuch"
expect_fail 1 "Permission denied" sh_c 'echo x >> "$1"' "$S/users"
expect_fail 1 "Permission denied" sh_c 'echo x > "$1"' "$S/users"
expect_fail 1 "Operation not permitted" rm "$S/users"
expect_fail 1 "Permission denied" touch "$S/users"
expect_fail 1 "Operation not permitted" touch -d @0 -c "$S/users"
expect_fail 1 "Operation not permitted" mkdir "$S/x"
expect_fail 1 "Operation not permitted" setfattr -n user.a -v 1 "$S/users"

step "each change of an item is one line: INSERT, MODIFY, REMOVE with its key"
echo hi >"$MNT/users/alice"
mkdir "$MNT/users/sub"
printf 12345 >"$MNT/users/sub/bob"
mv "$MNT/users/alice" "$MNT/users/carol"
setfattr -n user.colour -v blue "$MNT/users/carol"
chmod 600 "$MNT/users/carol"
touch -a "$MNT/users/carol" # an access time alone is no change
ln "$MNT/users/carol" "$MNT/users/carol2"
ln -s carol "$MNT/users/link"
rm "$MNT/users/sub/bob"
rm "$MNT/users/carol2"
want="INSERT alice
MODIFY alice
INSERT sub/bob
MODIFY sub/bob
REMOVE alice
INSERT carol
MODIFY carol
MODIFY carol
INSERT carol2
INSERT link
REMOVE sub/bob
REMOVE carol2"
assert_eq "$want" "$(events "$S/users")" "the events of users"
assert_eq "" "$(cat "$S/orders")" "the stream of a table nothing changed in"
# the exact shape of a line, with the item's own version token and size
tok=$(getfattr --only-values -n user.itemfs.version "$MNT/users/carol")
line=$(grep '"event":"INSERT","key":"carol"' "$S/users")
[[ "$line" =~ ^\{\"seq\":[0-9]+,\"time\":\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z\",\"event\":\"INSERT\",\"key\":\"carol\",\"version\":\"$tok\",\"size\":3\}$ ]] ||
	fail "the INSERT of carol: $line (token $tok)"
[[ "$(grep '"REMOVE","key":"sub/bob"' "$S/users")" =~ \"version\":\"[0-9]+:2\"\}$ ]] ||
	fail "a REMOVE carries the removed item's token and no size: $(grep REMOVE "$S/users")"
assert_eq "$(wc -c <"$S/users")" "$(st %s "$S/users")" "st_size is the stream's length"
seqs=$(field seq <"$S/users" | tr '\n' ' ')
assert_eq "1 2 3 4 5 5 6 7 8 9 10 11 " "$seqs" "seq: one per request, a rename's two lines share it"
assert_eq "$(date -u +%Y-%m-%d)" "$(tail -n1 "$S/users" | field time | cut -c1-10)" "the date of the last record"

step "keys: JSON escapes, and key_hex for a name that is not UTF-8"
: >"$MNT/orders/$(printf 'q"b\\s\tn')"
: >"$MNT/orders/$(printf 'caf\xc3\xa9')"
: >"$MNT/orders/$(printf 'bad\xff')"
want='INSERT q\"b\\s\tn
INSERT café
INSERT hex:626164ff'
assert_eq "$want" "$(events "$S/orders")" "escaped keys"

step "a transaction's changes share one seq; across tables, one per table"
printf o1 >"$MNT/orders/.o1"
printf u1 >"$MNT/users/.u1"
commit
before=$(tail -n1 "$S/users" | field seq)
printf 'mv orders/.o1 orders/o1\nmv users/.u1 users/u1\nrm users/link\n' | "$ITEMFS" txn "$MNT" - ||
	fail "itemfs txn"
assert_eq "REMOVE .u1
INSERT u1
REMOVE link" "$(tail -n3 "$S/users" | events /dev/stdin)" "the transaction's lines in users"
assert_eq "$((before + 1)) $((before + 1)) $((before + 1))" \
	"$(tail -n3 "$S/users" | field seq | tr '\n' ' ' | sed 's/ $//')" "their seq"
assert_eq "REMOVE .o1
INSERT o1" "$(tail -n2 "$S/orders" | events /dev/stdin)" "the transaction's lines in orders"

step "a directory's move: each item below leaves its old key and gets its new one"
mkdir -p "$MNT/users/d/e"
: >"$MNT/users/d/x"
: >"$MNT/users/d/e/y"
n0=$(wc -l <"$S/users")
mv "$MNT/users/d" "$MNT/users/dd"
assert_eq "REMOVE d/e/y
INSERT dd/e/y
REMOVE d/x
INSERT dd/x" "$(tail -n +$((n0 + 1)) "$S/users" | events /dev/stdin)" "moving users/d"
n0=$(wc -l <"$S/users")
m0=$(wc -l <"$S/orders")
mv "$MNT/users/dd" "$MNT/orders/dd"
assert_eq "REMOVE dd/e/y
REMOVE dd/x" "$(tail -n +$((n0 + 1)) "$S/users" | events /dev/stdin)" "users after moving dd to orders"
assert_eq "INSERT dd/e/y
INSERT dd/x" "$(tail -n +$((m0 + 1)) "$S/orders" | events /dev/stdin)" "orders after moving dd there"
n0=$(wc -l <"$S/orders")
mv "$MNT/orders" "$MNT/orders2" # a table keeps its stream and its keys
assert_eq "$n0" "$(wc -l <"$MNT/.itemfs/streams/orders2")" "the renamed table's stream"
assert_absent "$S/orders"
mv "$MNT/orders2" "$MNT/orders"
n0=$(wc -l <"$S/users")
hx OK rename "$MNT/users/carol" "$MNT/users/u1" exchange
assert_eq "MODIFY carol
MODIFY u1" "$(tail -n +$((n0 + 1)) "$S/users" | events /dev/stdin)" "an exchange"

step "a key past 4,095 bytes: ENAMETOOLONG, and nothing changes"
long=$(printf 'd%.0s' $(seq 1 250))
(
	cd "$MNT/users"
	for i in $(seq 1 16); do mkdir "$long" && cd "$long"; done
	: >short # 16 * 251 + 5 = 4021 bytes
	expect_fail 1 "File name too long" sh_c ': > "$1"' "$(printf 'k%.0s' $(seq 1 80))"
	[ ! -e "$(printf 'k%.0s' $(seq 1 80))" ] || fail "the refused item exists"
)
tail -n1 "$S/users" | grep -q '"INSERT","key":"dddd.*/short"' || fail "the deep item's INSERT"

step "tail -f follows changes, from this mount and from another"
start_b -o allow_other
tail -n0 -f "$S/users" >"$T/tailed" &
TAIL=$!
BG_PIDS+=($TAIL)
sleep 1.2 # tail's first poll
echo a >"$MNT/users/fromA"
printf b >"$MNT2/users/fromB"
commit "$MNT2"
wait_for "tail -f shows both changes" 10000 sh -c "grep -c '' '$T/tailed' | grep -qx 4" >/dev/null
kill "$TAIL"
assert_eq "INSERT fromA
MODIFY fromA
INSERT fromB
MODIFY fromB" "$(events "$T/tailed")" "what tail -f printed"
cmp "$S/users" "$MNT2/.itemfs/streams/users" || fail "the two mounts read different streams"
stop_b

step "a table's permissions: its stream is readable by whoever can read the table"
chmod 0750 "$MNT/users"
chown 0:0 "$MNT/users"
assert_eq "-r--r----- root" "$(st '%A %U' "$S/users")" "the stream of a 0750 table"
expect_fail 1 "Permission denied" nobody cat "$S/users"
chmod 0755 "$MNT/users"
nobody cat "$S/users" >/dev/null || fail "nobody reads the stream of a 0755 table"

step "it survives a remount, byte for byte"
cp "$S/users" "$T/users.before"
restart_itemfs
cmp "$S/users" "$T/users.before" || fail "the stream changed across a remount"
echo more >"$MNT/users/after"
assert_eq "$(($(field seq <"$T/users.before" | tail -n1) + 1))" \
	"$(tail -n2 "$S/users" | head -n1 | field seq)" "seq goes on after a remount"

step "the table goes, its stream goes; a new table of the name starts empty"
find "$MNT/orders" -mindepth 1 -delete
rmdir "$MNT/orders"
assert_absent "$S/orders"
mkdir "$MNT/orders"
assert_eq 0 "$(st %s "$S/orders")" "a new table's stream"

step "trimmed by size: old records read as NUL bytes, SEEK_DATA finds the first kept"
restart_itemfs -o stream_max=2K
for i in $(seq 1 40); do echo "$i" >"$MNT/orders/k$i"; done
commit
size=$(st %s "$S/orders")
lines=$(tr -d '\0' <"$S/orders" | grep -c '')
first=$("$HELPER" seek "$S/orders" data 0)
assert_gt "$first" 0 "the first byte kept"
# trimmed before each request's appends: past 2K by one request's record at most
assert_gt $((2048 + 200)) $((size - first)) "bytes kept by stream_max=2K"
[ "$(head -c "$first" "$S/orders" | tr -d '\0' | wc -c)" = 0 ] || fail "bytes below $first are not all NUL"
tail -c +$((first + 1)) "$S/orders" | head -c1 | grep -q '{' || fail "the first kept byte starts a record"
assert_eq "$size" "$("$HELPER" seek "$S/orders" hole "$first")" "SEEK_HOLE from the first kept"
assert_eq 0 "$("$HELPER" seek "$S/orders" hole 0)" "SEEK_HOLE in the trimmed range"
hx ENXIO seek "$S/orders" data "$size"
assert_eq '{"seq"' "$(tail -n 3 "$S/orders" | head -n1 | head -c6)" "tail -n 3 reads whole lines"
assert_eq 'MODIFY k40' "$(tail -n1 "$S/orders" | events /dev/stdin)" "the last record"
grep -q '^stream.trimmed [1-9]' "$MNT/.itemfs/stats" || fail "stream.trimmed: $(grep ^stream "$MNT/.itemfs/stats")"
"$ITEMFS" stats "$MNT" | grep -q "^streams: [0-9]* records written, [1-9][0-9]* trimmed, [0-9]* reads$" ||
	fail "itemfs stats: $("$ITEMFS" stats "$MNT" | grep streams)"
echo "stream_max=2K: $lines records kept of 80, from byte $first of $size"

step "trimmed by age: stream_keep=1 drops records older than a second at the next change"
restart_itemfs -o stream_keep=1
echo x >"$MNT/users/old"
commit
sleep 2.2
echo y >"$MNT/users/new"
commit
assert_eq "INSERT new
MODIFY new" "$(events "$S/users")" "what stream_keep=1 kept"

step "items of an item's expiry leave as REMOVEs"
restart_itemfs
: >"$MNT/users/ephemeral"
setfattr -n user.itemfs.expires -v $(($(date +%s) + 1)) "$MNT/users/ephemeral"
wait_for "the expired item's REMOVE" 8000 sh -c "tail -n1 '$S/users' | grep -q '\"REMOVE\",\"key\":\"ephemeral\"'" >/dev/null

check_clean "after the changes"

step "kill -9 in a stream of changes: the records are exactly those of the commits kept"
mkdir "$MNT/crash"
restart_itemfs -o commit_interval=0.2 # a few batches committed, the last one lost
rounds=${STREAM_KILL_ROUNDS:-3}
for round in $(seq 1 "$rounds"); do
	(
		set +e
		i=0
		while :; do
			i=$((i + 1))
			echo "$i" >"$MNT/crash/r$round-$i" 2>/dev/null || exit 0
			if ((i % 3 == 0)); then rm -f "$MNT/crash/r$round-$((i - 1))" 2>/dev/null || exit 0; fi
			if ((i % 5 == 0)); then mv "$MNT/crash/r$round-$i" "$MNT/crash/m$round-$i" 2>/dev/null || exit 0; fi
		done
	) &
	W=$!
	sleep "1.$((RANDOM % 9))"
	kill_itemfs
	wait "$W" 2>/dev/null || true
	check_clean "after kill -9 number $round"
	start_itemfs -o commit_interval=0.2
	# replaying the stream gives exactly the items present
	events "$S/crash" | awk '$1 == "REMOVE" { delete have[$2]; next } { have[$2] = 1 }
		END { for (k in have) print k }' | sort >"$T/replayed"
	(cd "$MNT/crash" && find . -type f | sed 's|^\./||' | sort) >"$T/present"
	diff "$T/replayed" "$T/present" >/dev/null ||
		fail "round $round: the stream replayed is not the table: $(diff "$T/replayed" "$T/present" | head)"
	echo "kill $round: $(wc -l <"$T/present") items, $(tr -d '\0' <"$S/crash" | grep -c '') records kept"
done

stop_itemfs
echo "PASS"
