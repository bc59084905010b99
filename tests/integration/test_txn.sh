#!/bin/bash
# Multi-item transactions (docs/dynamodb.md, "Transactions"): a manifest of
# mv/rm/check actions written to MNT/.itemfs/txn (or given to `itemfs
# txn`) is applied as one store transaction, across tables: all of it or,
# with the errno and a line naming each failed action, none of it.
# Conditions (a token or "absent" on the line, user.itemfs.if_version on
# the staged file) are checked inside it (ECANCELED). It is durable when
# the call returns (kill -9 right after loses nothing), and a kill -9 in
# the middle of a stream of transactions leaves each whole or absent. The
# kernel's caches of this mount follow before the call returns: a reader
# never sees a later item of a transaction older than an earlier one, and
# a shell writing the next staged file through a name the transaction
# moved writes a new file. Actions are checked against the opener's
# permissions.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tok() { getfattr --absolute-names --only-values -n user.itemfs.version -- "$1"; }
# txn MANIFEST-TEXT: itemfs txn through stdin; must succeed.
txn() {
	local out rc=0
	out=$(printf '%s' "$1" | "$ITEMFS" txn "$MNT" - 2>&1) || rc=$?
	[ "$rc" -eq 0 ] || fail "itemfs txn of <<$1>>: exit $rc: $out"
}
# txn_fails RC TEXT MANIFEST-TEXT: itemfs txn must exit RC with TEXT in its stderr.
txn_fails() {
	local want_rc=$1 text=$2 out rc=0
	out=$(printf '%s' "$3" | "$ITEMFS" txn "$MNT" - 2>&1) || rc=$?
	[ "$rc" -eq "$want_rc" ] || fail "itemfs txn of <<$3>>: expected exit $want_rc, got $rc: $out"
	case "$out" in
	*"$text"*) ;;
	*) fail "itemfs txn of <<$3>>: expected '$text' in: $out" ;;
	esac
	TXN_OUT=$out
}
# state: every item of the tables with its content, one per line.
state() {
	(cd "$MNT" && find users stock orders -type f -printf '%p=' -exec cat {} \; -printf '\n' | sort)
}
commit() { stat -f "$MNT" >/dev/null; } # statfs commits the pending batch

start_itemfs -o allow_other
mkdir "$MNT/users" "$MNT/stock" "$MNT/orders"
printf a1 >"$MNT/users/alice"
printf b1 >"$MNT/users/bob"
printf 7 >"$MNT/stock/widget"
printf o17 >"$MNT/orders/17"

step "mv, rm and check across three tables apply together"
ta=$(tok "$MNT/users/alice")
tw=$(tok "$MNT/stock/widget")
printf a2 >"$MNT/users/.alice.new"
printf 6 >"$MNT/stock/.widget.new"
before_applied=$(counter txn.applied)
txn "mv users/.alice.new users/alice $ta
# a comment, and an empty line

mv stock/.widget.new stock/widget $tw
rm orders/17 $(tok "$MNT/orders/17")
check users/bob $(tok "$MNT/users/bob")
check users/nobody absent
"
assert_eq "stock/widget=6
users/alice=a2
users/bob=b1" "$(state)" "items after the transaction"
assert_eq "alice bob" "$(ls -A "$MNT/users" | tr '\n' ' ' | sed 's/ $//')" "users: the staged name is gone"
assert_eq "" "$(ls -A "$MNT/orders")" "orders: 17 removed"
assert_eq $((before_applied + 1)) "$(counter txn.applied)" "txn.applied"
"$ITEMFS" stats "$MNT" | grep -qx "transactions: 1 applied (5 actions), 0 canceled by a condition, 0 failed otherwise" ||
	fail "itemfs stats: no transactions line: $("$ITEMFS" stats "$MNT")"

step "one failed condition cancels everything, and every failed one is reported"
printf a3 >"$MNT/users/.alice.new"
printf b3 >"$MNT/users/.bob.new"
before=$(state)
tb=$(tok "$MNT/users/bob")
txn_fails 1 "Operation canceled" "mv users/.alice.new users/alice $ta
mv users/.bob.new users/bob $tb
check stock/widget absent
rm users/bob-never
"
assert_eq "itemfs txn: nothing was applied: Operation canceled" "$(printf '%s\n' "$TXN_OUT" | head -n 1)" \
	"the first line of the report"
printf '%s\n' "$TXN_OUT" | grep -qxF "itemfs txn: ECANCELED line 1: mv users/.alice.new users/alice: users/alice is $(tok "$MNT/users/alice"), not $ta" ||
	fail "the first failed condition is not reported: $TXN_OUT"
printf '%s\n' "$TXN_OUT" | grep -qxF "itemfs txn: ECANCELED line 3: check stock/widget: stock/widget exists (condition absent)" ||
	fail "the second failed condition is not reported: $TXN_OUT"
printf '%s\n' "$TXN_OUT" | grep -qxF "itemfs txn: ENOENT line 4: rm users/bob-never: no such item" ||
	fail "the missing item after the failed conditions is not reported: $TXN_OUT"
assert_eq "$before" "$(state)" "items after the canceled transaction (staged files included)"
assert_eq "$tb" "$(tok "$MNT/users/bob")" "bob's token after the canceled transaction"

step "the staged file's user.itemfs.if_version conditions it, and is removed when it applies"
setfattr -n user.itemfs.if_version -v "$ta" "$MNT/users/.alice.new"
txn_fails 1 "ECANCELED line 1: mv users/.alice.new users/alice: users/alice does not satisfy" \
	"mv users/.alice.new users/alice"
assert_eq a3 "$(cat "$MNT/users/.alice.new")" "the staged file after the refused condition"
setfattr -n user.itemfs.if_version -v "$(tok "$MNT/users/alice")" "$MNT/users/.alice.new"
txn_fails 1 "EINVAL line 2: mv users/.bob.new users/bob: \"absent-not\" is not a condition" \
	"mv users/.alice.new users/alice
mv users/.bob.new users/bob absent-not
"
assert_eq a2 "$(cat "$MNT/users/alice")" "alice after the bad condition on another line"
txn "mv users/.alice.new users/alice"
assert_eq a3 "$(cat "$MNT/users/alice")" "alice after the conditional mv"
assert_eq "" "$(getfattr --absolute-names -d -m - "$MNT/users/alice" 2>/dev/null | grep -v '^#' | grep . || true)" \
	"xattrs of alice (the condition is gone)"
expect_fail 1 "No such attribute" getfattr --absolute-names -n user.itemfs.if_version "$MNT/users/alice"

step "bad manifests and actions: the errno, the line, nothing changed"
before=$(state)
txn_fails 1 "EINVAL line 1: unknown action \"cp\"" "cp users/alice users/x"
txn_fails 1 "EINVAL line 2: expected \"mv SRC DST [COND]\"" "check users/alice absent-x
mv users/.bob.new"
txn_fails 1 "EINVAL line 1: path \"/users/alice\" must be relative" "rm /users/alice"
txn_fails 1 "EINVAL line 1: path \"users/../x\" has a . or .. component" "rm users/../x"
txn_fails 1 "EINVAL line 1: path \"users//x\" has an empty component" "rm users//x"
txn_fails 1 "EINVAL line 1: bad escape" 'rm users/a\q'
txn_fails 1 "EINVAL line 2: users/bob is named twice (at line 1)" "rm users/bob
mv users/.bob.new users/bob"
txn_fails 1 "EINVAL line 3: nothing may follow the commit line" "rm users/bob
commit
rm users/alice"
txn_fails 1 "EINVAL line 1: rm users/bob: the condition absent never holds for an item to remove" "rm users/bob absent"
txn_fails 1 "ENOENT line 1: mv users/.nope users/x: users/.nope: no such file" "mv users/.nope users/x"
txn_fails 1 "ENOENT line 1: rm tables-nope/x: tables-nope: no such directory" "rm tables-nope/x"
txn_fails 1 "ECANCELED line 1: check users/gone: users/gone does not exist (condition 1:1)" "check users/gone 1:1"
mkdir "$MNT/users/sub"
txn_fails 1 "EISDIR line 1: rm users/sub: a directory, not an item" "rm users/sub"
txn_fails 1 "EISDIR line 1: mv users/sub users/x: users/sub is a directory" "mv users/sub users/x"
txn_fails 1 "EISDIR line 1: mv users/.bob.new users/sub: users/sub is a directory" "mv users/.bob.new users/sub"
txn_fails 1 "EPERM line 1: mv users/.bob.new toplevel: the top level holds tables only" "mv users/.bob.new toplevel"
txn_fails 1 "ENOTDIR line 1: mv users/.bob.new users/alice/x: users/alice is not a directory" \
	"mv users/.bob.new users/alice/x"
rmdir "$MNT/users/sub"
ln -s . "$MNT/users/self"
txn_fails 1 "ENOTDIR line 1: rm users/self/alice: users/self is not a directory" "rm users/self/alice"
txn "mv users/self users/self2"
assert_eq . "$(readlink "$MNT/users/self2")" "a symlink moved by a transaction"
rm "$MNT/users/self2"
many=$(for i in $(seq 1 101); do echo "check users/n$i absent"; done)
txn_fails 1 "E2BIG line 101: more than 100 actions" "$many"
for i in $(seq 1 11); do head -c 400000 /dev/zero >"$MNT/users/.big$i"; done
big=$(for i in $(seq 1 11); do echo "mv users/.big$i users/big$i"; done)
txn_fails 1 "E2BIG line 11: mv users/.big11 users/big11: the items put exceed 4 MiB" "$big"
rm "$MNT/users/.big11"
txn "$(for i in $(seq 1 10); do echo "mv users/.big$i users/big$i"; done)"
assert_eq 400000 "$(st %s "$MNT/users/big10")" "size of a big item after 10 x 400 kB in one transaction"
rm "$MNT"/users/big*
head -c 1100000 /dev/zero | tr '\0' '#' >"$T/huge"
printf 'check users/x absent\n' >"$T/part0"
sh_c 'cat "$1" > "$2"' "$T/huge" "$MNT/.itemfs/txn" 2>"$T/err" && fail "a 1.1 MB manifest was taken"
grep -q "File too large" "$T/err" || fail "a 1.1 MB manifest: $(cat "$T/err")"
expect_fail 2 "File too large (a manifest is at most 1 MiB)" "$ITEMFS" txn "$MNT" "$T/huge"
expect_fail 2 "No such file or directory; is $T an itemfs mount?" "$ITEMFS" txn "$T" "$T/part0"
expect_fail 2 "cannot read the manifest $T/absent: No such file or directory" "$ITEMFS" txn "$MNT" "$T/absent"
assert_eq "$before" "$(state)" "items after all the refused transactions"

step "an expired item (user.itemfs.expires) is absent to a transaction"
printf old >"$MNT/users/exp"
setfattr -n user.itemfs.expires -v 1 "$MNT/users/exp" # 1970: expired at once
txn "check users/exp absent"
txn_fails 1 "ENOENT line 1: rm users/exp: no such item" "rm users/exp"
printf new >"$MNT/users/.exp"
txn "mv users/.exp users/exp absent"
assert_eq new "$(cat "$MNT/users/exp")" "the item put over the expired one"
rm "$MNT/users/exp"

step "odd names through escapes"
printf sp >"$MNT/users/.new one"
txn 'mv users/.new\sone users/with\ space\tand\x2dtab'
assert_eq sp "$(cat "$MNT/users/with space	and-tab")" "the item with a space and a tab in its name"
printf nl >"$MNT/users/.nl"
txn 'mv users/.nl users/line\nbreak\\'
assert_eq nl "$(cat "$MNT/users/line
break\\")" "the item with a newline and a backslash in its name"

step "written by shell tools: applied at the close after a commit line, never in part"
printf x1 >"$MNT/users/.x"
printf 'mv users/.x users/x\n' >"$T/part1"
cat "$T/part1" >"$MNT/.itemfs/txn"
assert_absent "$MNT/users/x"
for ((i = 0; i < 100; i++)); do # the release that logs it comes after close returns
	grep -q "closed without a commit line or fsync: its manifest (20 bytes) was not applied" "$LOG" &&
		break
	sleep 0.02
done
grep -q "closed without a commit line or fsync: its manifest (20 bytes) was not applied" "$LOG" ||
	fail "no log line for the manifest without commit"
{
	cat "$T/part1" # cat's close: no commit line yet, nothing applied
	ls -A "$MNT/users" >"$T/mid"
	printf 'commit\n'
} >"$MNT/.itemfs/txn"
grep -qx .x "$T/mid" || fail "the manifest was applied in part before its commit line: $(cat "$T/mid")"
assert_eq x1 "$(cat "$MNT/users/x")" "x after the commit line"
assert_absent "$MNT/users/.x"
printf 'rm users/x-none\ncommit\n' >"$T/m2"
expect_fail 1 "write error: No such file or directory" sh_c 'cat "$1" > "$2"' "$T/m2" "$MNT/.itemfs/txn"

step "durable when it returns: kill -9 right after loses nothing"
stop_itemfs
start_itemfs -o allow_other,commit_interval=30
printf d1 >"$MNT/users/.d"
commit
txn "mv users/.d users/durable"
kill_itemfs
start_itemfs -o allow_other
assert_eq d1 "$(cat "$MNT/users/durable")" "the item a transaction put, after kill -9"
assert_absent "$MNT/users/.d"

step "permissions are the opener's"
mkdir -m 0755 "$MNT/priv"
printf root >"$MNT/priv/item"
printf staged >"$MNT/priv/.staged"
mkdir -m 1777 "$MNT/shared"
printf root >"$MNT/shared/rootitem"
nobody bash -c 'printf mine > "$1"' bash "$MNT/shared/.mine"
out=$(printf 'rm priv/item\n' | nobody "$ITEMFS" txn "$MNT" - 2>&1) && fail "nobody removed priv/item"
case "$out" in *"EACCES line 1: rm priv/item: no write permission on its directory"*) ;;
*) fail "nobody's rm priv/item: $out" ;; esac
out=$(printf 'rm shared/rootitem\n' | nobody "$ITEMFS" txn "$MNT" - 2>&1) && fail "nobody removed a sticky dir's item"
case "$out" in *"EPERM line 1: rm shared/rootitem: its directory is sticky"*) ;;
*) fail "nobody's rm shared/rootitem: $out" ;; esac
out=$(printf 'mv shared/.mine shared/rootitem\n' | nobody "$ITEMFS" txn "$MNT" - 2>&1) && fail "nobody replaced root's item"
case "$out" in *"EPERM line 1: mv shared/.mine shared/rootitem"*) ;; *) fail "nobody's mv: $out" ;; esac
chmod 0700 "$MNT/priv"
out=$(printf 'check priv/item absent\n' | nobody "$ITEMFS" txn "$MNT" - 2>&1) && fail "nobody searched priv"
case "$out" in *"EACCES line 1: check priv/item: no search permission"*) ;; *) fail "nobody's check: $out" ;; esac
chmod 0755 "$MNT/priv"
chmod 0600 "$MNT/priv/item"
out=$(printf 'check priv/item %s\n' "$(tok "$MNT/priv/item")" | nobody "$ITEMFS" txn "$MNT" - 2>&1) &&
	fail "nobody read the version of a 0600 item"
case "$out" in *"EACCES line 1: check priv/item: no read permission on priv/item"*) ;; *) fail "$out" ;; esac
printf 'mv shared/.mine shared/nobodys\n' | nobody "$ITEMFS" txn "$MNT" - || fail "nobody's own mv in a sticky dir"
assert_eq "mine 65534" "$(cat "$MNT/shared/nobodys") $(st %u "$MNT/shared/nobodys")" "nobody's item"
assert_eq "root" "$(cat "$MNT/priv/item")" "priv/item"

step "readers of this mount and of a consistent_reads mount never see part of one"
echo 0 >"$MNT/users/alice"
echo 0 >"$MNT/users/bob"
commit
start_b -o consistent_reads
ROUNDS=${TXN_ROUNDS:-300}
(
	for ((i = 1; i <= ROUNDS; i++)); do
		echo "$i" >"$MNT/users/.a" || exit 1
		echo "$i" >"$MNT/users/.b" || exit 1
		printf 'mv users/.a users/alice\nmv users/.b users/bob\n' | "$ITEMFS" txn "$MNT" - || exit 1
	done
) &
W=$!
# reader DIR: reads alice, then bob, until the writer ends; bob must be >= alice.
reader() {
	local d=$1 a b n=0
	while kill -0 "$W" 2>/dev/null; do
		read -r a <"$d/alice" || { echo "read of $d/alice failed"; return 1; }
		read -r b <"$d/bob" || { echo "read of $d/bob failed"; return 1; }
		((b >= a)) || { echo "read $n: alice $a, then bob $b"; return 1; }
		n=$((n + 1))
	done
	echo "$n"
}
reader "$MNT/users" >"$T/r1" &
R1=$!
reader "$MNT2/users" >"$T/r2" &
R2=$!
# The readers spin, and so do the two daemons' busy polling while they
# answer them: on 2 CPUs the writer, and each `itemfs txn` it starts, got
# a fair share only, and a run once took 253 s instead of 10. Below the
# writer, they still read whenever it waits.
renice -n 10 -p "$R1" "$R2" >/dev/null
wait "$W" || fail "the writer of $ROUNDS transactions failed"
wait "$R1" || fail "reader of this mount: $(cat "$T/r1")"
wait "$R2" || fail "reader of mount B: $(cat "$T/r2")"
echo "$ROUNDS transactions; $(cat "$T/r1") reads here, $(cat "$T/r2") through B, none saw part of one"
assert_eq "$ROUNDS $ROUNDS" "$(cat "$MNT/users/alice") $(cat "$MNT/users/bob")" "alice and bob at the end"
assert_eq "$ROUNDS $ROUNDS" "$(cat "$MNT2/users/alice") $(cat "$MNT2/users/bob")" "alice and bob through B"
stop_b

step "kill -9 in a stream of transfers: each transaction whole or absent"
# 10 accounts of 100; every transaction moves 1..9 from one to another.
for i in $(seq 0 9); do echo 100 >"$MNT/stock/acct$i"; done
commit
for round in 1 2 3; do
	(
		set +e
		n=0
		while :; do
			f=$((RANDOM % 10)) t=$(((RANDOM % 9 + 1 + f) % 10)) amt=$((RANDOM % 9 + 1))
			read -r fv <"$MNT/stock/acct$f" || exit 0
			read -r tv <"$MNT/stock/acct$t" || exit 0
			echo $((fv - amt)) >"$MNT/stock/.f" 2>/dev/null || exit 0
			echo $((tv + amt)) >"$MNT/stock/.t" 2>/dev/null || exit 0
			printf 'mv stock/.f stock/acct%s\nmv stock/.t stock/acct%s\n' "$f" "$t" |
				"$ITEMFS" txn "$MNT" - 2>/dev/null || exit 0
			n=$((n + 1))
			echo "$n" >"$T/transfers"
		done
	) &
	W=$!
	sleep "1.$((RANDOM % 9))"
	kill_itemfs
	wait "$W" 2>/dev/null || true
	"$ITEMFS" check "$STORE" | grep -q ': clean$' || fail "check after kill -9: $("$ITEMFS" check "$STORE")"
	start_itemfs -o allow_other
	sum=0
	for i in $(seq 0 9); do
		v=$(cat "$MNT/stock/acct$i")
		sum=$((sum + v))
	done
	assert_eq 1000 "$sum" "the accounts' sum after kill -9 number $round"
	echo "kill $round: after $(cat "$T/transfers" 2>/dev/null || echo 0) transfers; sum 1000"
	rm -f "$MNT/stock/.f" "$MNT/stock/.t"
done
echo "3 kills: the accounts sum to 1000 each time"

stop_itemfs
run_ok "$ITEMFS" check "$STORE"
echo "all passed"
