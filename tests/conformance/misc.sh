# misc.sh - sourced by each conformance script (*.t): the TAP helpers. A
# script runs as root inside a fresh, empty directory (its cwd) made by
# test_conformance.sh, prints "ok N - ARGS" or "not ok N - ARGS: expected
# X got Y" per assertion and, at the end (done_testing), the plan "1..N".
# It must leave its directory empty.
#
# Environment: FSTEST, the fstest binary (see fstest.c for its calls).

: "${FSTEST:?FSTEST must name the fstest binary}"
export LC_ALL=C
ntest=0

# Fixed names, so that an assertion's text is the same on every run (the
# runner matches expected failures by it).
n0=fstest_n0
n1=fstest_n1
n2=fstest_n2
n3=fstest_n3
name255=$(printf '%0255d' 0 | tr 0 x)
name256=${name255}y
# A path of PATH_MAX (4096) bytes: too long for any call.
path4096=$(printf '%04095d' 0 | tr 0 z)/
path4096=${path4096:0:4096}

# The Linux nobody, and ids no account has.
U=65534
G=65534

# desc ARGS...: sets DESC to the assertion's text: its fstest arguments,
# long ones shortened (no subshell: forks are what the suite's time goes to).
desc() {
	local a
	DESC=
	for a in "$@"; do
		if [ "${#a}" -gt 48 ]; then
			a="${a:0:12}...(${#a} bytes)"
		fi
		DESC+="${DESC:+ }$a"
	done
}

# result ARGS...: what fstest ARGS prints.
result() {
	"$FSTEST" "$@" 2>&1
}

# ok_if DESC STATUS [DETAIL]: one TAP line; STATUS 0 is "ok".
ok_if() {
	ntest=$((ntest + 1))
	if [ "$2" -eq 0 ]; then
		echo "ok $ntest - $1"
	else
		echo "not ok $ntest - $1: ${3:-failed}"
	fi
}

# expect EXPECTED ARGS...: fstest ARGS must print EXPECTED, an extended
# regular expression matched against the whole output ("ENOTEMPTY|EEXIST").
expect() {
	local e=$1 r
	shift
	r=$("$FSTEST" "$@" 2>&1)
	desc "$@"
	if [[ $r =~ ^($e)$ ]]; then
		ok_if "$DESC" 0
	else
		ok_if "$DESC" 1 "expected $e got $r"
	fi
}

# check DESC TEST-ARGS...: an assertion made by test(1).
check() {
	local d=$1
	shift
	if test "$@"; then
		ok_if "$d" 0
	else
		ok_if "$d" 1 "test $* is false"
	fi
}

# get PATH FIELD [lstat|stat]: prints one stat field of PATH (lstat by
# default).
get() {
	"$FSTEST" "${3:-lstat}" "$1" "$2" 2>&1
}

# nap: long enough for any clock (coarse kernel ticks included) to move.
nap() {
	sleep 0.01
}

# fields PATH FIELDS: sets the array FIELDS to the times FIELDS
# (ctime,mtime) of PATH (lstat) in ns, with one fstest run.
fields() {
	local r
	r=$("$FSTEST" lstat "$1" "${2//,/_ns,}_ns" 2>&1)
	IFS=, read -ra FIELDS <<<"$r"
}

# times_around HOW FIELDS PATH EXPECTED ARGS...: expect EXPECTED ARGS and
# check the comma-separated time FIELDS (ctime, mtime, atime) of PATH
# (lstat) around it: with HOW=change they must move forward if EXPECTED is
# 0 and stay the same otherwise; with HOW=same they must stay the same.
times_around() {
	local how=$1 fields=$2 path=$3 e=$4 i before=() after=()
	shift 4
	IFS=, read -ra flist <<<"$fields"
	fields "$path" "$fields"
	before=("${FIELDS[@]}")
	nap
	expect "$e" "$@"
	fields "$path" "$fields"
	after=("${FIELDS[@]}")
	desc "$@"
	for i in "${!flist[@]}"; do
		if [ "$how" = change ] && [ "$e" = 0 ]; then
			check "$DESC updates ${flist[i]} of $path" \
				"${after[i]}" -gt "${before[i]}"
		else
			check "$DESC keeps ${flist[i]} of $path" \
				"${after[i]}" = "${before[i]}"
		fi
	done
}

# tchange FIELDS PATH EXPECTED ARGS...: the times move if the call succeeds.
tchange() { times_around change "$@"; }

# tsame FIELDS PATH EXPECTED ARGS...: the times stay, even if it succeeds.
tsame() { times_around same "$@"; }

# create_file TYPE NAME [MODE [UID GID]]: makes NAME of TYPE (regular, dir,
# symlink; the symlink points to "test") with MODE, owned by UID:GID.
create_file() {
	local type=$1 name=$2 mode=${3:-} r
	case "$type" in
	regular) r=$("$FSTEST" create "$name" "${mode:-0644}") ;;
	dir) r=$("$FSTEST" mkdir "$name" "${mode:-0755}") ;;
	symlink) r=$("$FSTEST" symlink test "$name") ;;
	*) echo "create_file: unknown type $type" >&2; return 1 ;;
	esac
	if [ "$r" != 0 ]; then
		echo "# create_file $type $name: $r" >&2
		return 1
	fi
	if [ -n "$mode" ] && [ "$type" != symlink ]; then
		r=$("$FSTEST" chmod "$name" "$mode")
	fi
	if [ $# -ge 5 ]; then
		r=$("$FSTEST" lchown "$name" "$4" "$5")
	fi
}

# remove NAME...: removes each NAME, whatever it is.
remove() {
	rm -rf -- "$@"
}

# done_testing: the plan.
done_testing() {
	echo "1..$ntest"
}
