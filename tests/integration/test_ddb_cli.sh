#!/bin/bash
# A dynamodb:// store from the command line: bad URLs, an unreachable
# endpoint and credentials files are refused with a message naming the
# problem and nothing mounted; what the backend lacks (streams, indexes,
# TTL, check, backup, snapshots) answers a precise error and changes
# nothing; df and stat of a mounted table. Runs only with
# ITEMFS_TEST_BACKEND=ddb (meson: suite ddb).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ "${ITEMFS_TEST_BACKEND:-}" = ddb ] || fail "test_ddb_cli.sh runs on the ddb backend only"
HOSTPORT=${ITEMFS_TEST_DDB_ENDPOINT#http://}

step "bad URLs name the problem and the form to give"
mount_fails "dynamodb+http://$HOSTPORT/ab" "$MNT" -- "dynamodb+http://$HOSTPORT/ab" "NAME 3 to 255 characters"
mount_fails "dynamodb+http://$HOSTPORT/" "$MNT" -- "dynamodb://HOST[:PORT]/NAME"
mount_fails "dynamodb+http:///name" "$MNT" -- "dynamodb://HOST[:PORT]/NAME"
mount_fails "dynamodb+http://$HOSTPORT/$(head -c 256 /dev/zero | tr '\0' a)" "$MNT" -- "NAME 3 to 255 characters"

step "an endpoint nobody listens on: the error, after the client's retries"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mount_fails "dynamodb+http://127.0.0.1:$port/nobody" "$MNT" -- "cannot open store dynamodb+http://127.0.0.1:$port/nobody" "is the endpoint reachable"

step "a read-only mount of a table that does not exist"
mount_fails "$STORE-missing" "$MNT" -o ro -- "no such DynamoDB table"

step "credentials files: a missing profile is named, a good one signs"
printf '[default]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = s3cr3t\n' >"$T/creds"
mount_fails "$STORE" "$MNT" -o ddb_credentials="$T/creds",ddb_profile=nosuch -- "profile nosuch" "$T/creds"
rc=0
err=$("$ITEMFS" mount "$STORE" "$MNT" -o ddb_credentials="$T/absent" 2>&1) || rc=$?
assert_eq 2 "$rc" "itemfs mount -o ddb_credentials=MISSING (a bad option value: usage)"
case "$err" in *"ddb_credentials=$T/absent: No such file or directory"*) ;; *) fail "missing credentials file: $err" ;; esac
start_itemfs -o ddb_credentials="$T/creds"
mkdir "$MNT/t"
printf 'hello' >"$MNT/t/item"
assert_eq hello "$(cat "$MNT/t/item")" "an item through a mount signing with the file's keys"
stop_itemfs

step "the mount: stat, df, ls"
start_itemfs
assert_eq "$STORE" "$(findmnt -n -o SOURCE "$MNT")" "the mount's source"
assert_eq "fuse.itemfs" "$(findmnt -n -o FSTYPE "$MNT")" "the mount's type"
head -c 100000 /dev/urandom >"$T/blob"
cp "$T/blob" "$MNT/t/blob"
assert_cmp "$T/blob" "$MNT/t/blob"
used=$(df -B1 --output=used "$MNT" | tail -1 | tr -d ' ')
assert_gt "$used" 90000 "df's used bytes with 100 kB stored (in whole blocks)"
assert_eq "blob item" "$(ls "$MNT/t" | tr '\n' ' ' | sed 's/ $//')" "ls of the table"

step "what the backend lacks answers EOPNOTSUPP and changes nothing"
expect_fail 1 "Operation not supported" setfattr -n user.itemfs.expires -v 2000000000 "$MNT/t/item"
assert_eq "" "$(getfattr --absolute-names -d -m - "$MNT/t/item" 2>/dev/null)" "xattrs of the item after the refused TTL"
expect_fail 1 "Operation not supported" cat "$MNT/.itemfs/streams/t"
expect_fail 1 "Operation not supported" mkdir "$MNT/.itemfs/index/t/kind"
assert_eq hello "$(cat "$MNT/t/item")" "the item after the refusals"

step "check, backup, restore and --snapshot refuse a URL, saying what to use"
rc=0
err=$("$ITEMFS" check "$STORE" 2>&1) || rc=$?
assert_eq 2 "$rc" "itemfs check of a URL"
case "$err" in *"works on LMDB store directories only"*"tar"*) ;; *) fail "itemfs check: $err" ;; esac
rc=0
err=$("$ITEMFS" backup "$STORE" "$T/backup.mdb" 2>&1) || rc=$?
assert_eq 1 "$rc" "itemfs backup of a URL"
case "$err" in *"works on LMDB store directories only"*) ;; *) fail "itemfs backup: $err" ;; esac
assert_absent "$T/backup.mdb"
rc=0
err=$("$ITEMFS" restore "$T/blob" "$STORE" 2>&1) || rc=$?
assert_eq 1 "$rc" "itemfs restore into a URL"
case "$err" in *"works on LMDB store directories only"*) ;; *) fail "itemfs restore: $err" ;; esac
mkdir "$T/snap"
rc=0
err=$("$ITEMFS" mount --snapshot "$STORE" "$T/snap" 2>&1) || rc=$?
assert_eq 1 "$rc" "itemfs mount --snapshot of a URL"
case "$err" in *"--snapshot needs a store that keeps snapshots"*) ;; *) fail "--snapshot: $err" ;; esac
mountpoint -q "$T/snap" && fail "--snapshot of a URL mounted something"
stop_itemfs
