#!/bin/bash
# The item size limit (409,600 bytes = name + data + every xattr name and
# value) and name lengths (255 bytes). A refused change leaves the item
# exactly as it was: a write, truncate, append or rename past the limit is
# all-or-nothing, including the O_TRUNC of the refused write.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
start_itemfs
mkdir "$MNT/t"
D=$MNT/t
MAX=409600

step "name 'f' (1 byte): 409,599 data bytes fit"
head -c $((MAX - 1)) /dev/urandom >"$T/max"
run_ok cp "$T/max" "$D/f"
assert_cmp "$T/max" "$D/f"
assert_eq $((MAX - 1)) "$(st %s "$D/f")" "size of the largest item"

step "409,600 data bytes: EFBIG, and the previous content is intact"
expect_fail 1 "File too large" sh_c 'head -c 409600 /dev/urandom > "$1"' "$D/f"
assert_cmp "$T/max" "$D/f"
head -c $MAX /dev/urandom >"$T/over"
expect_fail 1 "File too large" cp "$T/over" "$D/f"
assert_cmp "$T/max" "$D/f"
hx EFBIG write "$D/f" $MAX
assert_cmp "$T/max" "$D/f"
expect_fail 1 "File too large" sh_c 'head -c 1000000 /dev/urandom > "$1"' "$D/f"
assert_cmp "$T/max" "$D/f"

step "a refused overwrite of a small item leaves it intact (O_TRUNC not applied)"
printf 'small and precious' >"$D/s"
cp "$D/s" "$T/s"
expect_fail 1 "File too large" sh_c 'head -c 409600 /dev/urandom > "$1"' "$D/s"
assert_cmp "$T/s" "$D/s"
hx EFBIG write "$D/s" 500000
assert_cmp "$T/s" "$D/s"

step "appends and writes at an offset past the limit: EFBIG, intact"
expect_fail 1 "File too large" sh_c 'printf x >> "$1"' "$D/f"
assert_cmp "$T/max" "$D/f"
expect_fail 1 "File too large" sh_c 'printf x | dd of="$1" bs=1 seek=409599 conv=notrunc status=none' "$D/f"
assert_cmp "$T/max" "$D/f"
expect_fail 1 "File too large" sh_c 'head -c 409590 /dev/zero >> "$1"' "$D/s"
assert_cmp "$T/s" "$D/s"

step "the name counts: 10-byte name holds 409,590; 255-byte name 409,345"
hx OK write "$D/abcdefghij" $((MAX - 10))
assert_eq $((MAX - 10)) "$(st %s "$D/abcdefghij")" "size with a 10-byte name"
hx EFBIG write "$D/abcdefghij" $((MAX - 9))
assert_eq $((MAX - 10)) "$(st %s "$D/abcdefghij")" "size after a refused write"
n255=$(printf 'n%.0s' $(seq 1 255))
hx OK write "$D/$n255" $((MAX - 255))
hx EFBIG write "$D/$n255" $((MAX - 254))
assert_eq $((MAX - 255)) "$(st %s "$D/$n255")" "size with a 255-byte name"

step "truncate past the limit: EFBIG, unchanged"
head -c 100 /dev/urandom >"$T/g"
cp "$T/g" "$D/g"
run_ok truncate -s $((MAX - 1)) "$D/g"
{ cat "$T/g"; head -c $((MAX - 101)) /dev/zero; } >"$T/g.grown"
assert_cmp "$T/g.grown" "$D/g"
expect_fail 1 "File too large" truncate -s $MAX "$D/g"
assert_cmp "$T/g.grown" "$D/g"
expect_fail 1 "File too large" truncate -s 10G "$D/g"
assert_cmp "$T/g.grown" "$D/g"

step "a rename or hard link to a longer name past the limit: EFBIG"
hx EFBIG rename "$D/f" "$D/ff"
assert_absent "$D/ff"
assert_cmp "$T/max" "$D/f"
expect_fail 1 "File too large" ln "$D/f" "$D/longer-name"
assert_absent "$D/longer-name"
assert_eq 1 "$(st %h "$D/f")" "nlink after the refused link"
hx OK rename "$D/f" "$D/e"
assert_cmp "$T/max" "$D/e"

step "xattrs count: name + value"
head -c $((MAX - 10)) /dev/urandom >"$T/x"
cp "$T/x" "$D/x"
# 1 (name) + 409,590 (data) + 6 ("user.a") + 3 ("abc") = 409,600: fits.
run_ok setfattr -n user.a -v abc "$D/x"
assert_eq abc "$(getfattr --only-values -n user.a "$D/x")" "xattr at the limit"
expect_fail 1 "Argument list too long" setfattr -n user.a -v abcd "$D/x"
assert_eq abc "$(getfattr --only-values -n user.a "$D/x")" "xattr after a refused set"
expect_fail 1 "Argument list too long" setfattr -n user.b "$D/x"
assert_eq "user.a" "$(getfattr --absolute-names -m - "$D/x" | grep -v '^#' | grep .)" "xattr names after refused sets"
expect_fail 1 "File too large" sh_c 'printf y >> "$1"' "$D/x"
assert_cmp "$T/x" "$D/x"
run_ok setfattr -x user.a "$D/x"
run_ok sh_c 'printf 123456789 >> "$1"' "$D/x"
assert_eq $((MAX - 1)) "$(st %s "$D/x")" "size after the xattr was removed"

step "big xattr values add up"
touch "$D/v"
big=$(head -c 60000 /dev/zero | tr '\0' v)
for i in 1 2 3 4 5 6; do
	hx OK setxattr "$D/v" "user.big$i" "$big" none
done
# 1 + 6 * (9 + 60000) = 360,055; a seventh would make 420,064.
hx E2BIG setxattr "$D/v" user.big7 "$big" none
assert_eq 6 "$(getfattr --absolute-names -m - "$D/v" | grep -c '^user\.big')" "xattrs after the refused one"
hx EFBIG write "$D/v" 50000
hx OK write "$D/v" 49545
assert_eq 49545 "$(st %s "$D/v")" "data beside 6 big xattrs"

step "names: 255 bytes work, 256 get ENAMETOOLONG"
n256=${n255}x
assert_eq 255 "$(printf %s "$n255" | wc -c)" "length of n255"
touch "$D/short"
expect_fail 1 "File name too long" touch "$D/$n256"
expect_fail 1 "File name too long" mkdir "$D/$n256"
expect_fail 1 "File name too long" ln -s short "$D/$n256"
expect_fail 1 "File name too long" ln "$D/short" "$D/$n256"
hx ENAMETOOLONG rename "$D/short" "$D/$n256"
expect_fail 1 "File name too long" mkdir "$MNT/$n256"
expect_fail 1 "File name too long" stat "$D/$n256"
mkdir "$D/d$(printf 'd%.0s' $(seq 1 254))"
ln -s short "$D/l$(printf 'l%.0s' $(seq 1 254))"
mkdir "$MNT/$n255"
euro=$(printf '€%.0s' $(seq 1 85))
printf utf8 >"$D/$euro"
assert_eq utf8 "$(cat "$D/$euro")" "item with a 255-byte UTF-8 name"
expect_fail 1 "File name too long" touch "$D/${euro}a"
assert_eq 4 "$(ls "$D" | awk 'length($0) == 255' | wc -l)" "255-byte names listed"

step "names with spaces, UTF-8, newlines and punctuation"
mkdir "$D/names"
names=(' lead' 'trail ' 'a b  c' $'tab\there' $'new\nline' $'\nstarts' 'ünïcödé-日本語' '*?[]' "q'uo\"te" '-dash' 'back\slash' '#hash' '%percent' $'\x01ctl')
for n in "${names[@]}"; do
	printf '%s' "$n" >"$D/names/$n"
	mkdir "$D/names/dir$n"
done
for n in "${names[@]}"; do
	got=$(cat "$D/names/$n"; echo .)
	assert_eq "$n." "$got" "content of the item named '$n'"
	[ -d "$D/names/dir$n" ] || fail "directory 'dir$n' missing"
done
want=$( (printf '%s\0' "${names[@]}"; printf 'dir%s\0' "${names[@]}") | sort -z | tr '\0\n' '\n/')
got=$(find "$D/names" -mindepth 1 -maxdepth 1 -printf '%f\0' | tr '\0\n' '\n/')
assert_eq "$want" "$got" "find listing of the odd names (newlines shown as /)"

restart_itemfs
step "everything above survives a remount"
assert_cmp "$T/max" "$D/e"
assert_cmp "$T/s" "$D/s"
assert_cmp "$T/g.grown" "$D/g"
assert_eq utf8 "$(cat "$D/$euro")" "UTF-8 named item after remount"
assert_eq "$want" "$(find "$D/names" -mindepth 1 -maxdepth 1 -printf '%f\0' | tr '\0\n' '\n/')" \
	"odd names after remount"
stop_itemfs

echo "PASS"
