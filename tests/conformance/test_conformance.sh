#!/bin/bash
# test_conformance.sh - the conformance suite: runs every *.t script of this
# directory (pjdfstest-style assertions about chmod, chown, ftruncate, link,
# mkdir, open, rename, rmdir, symlink, truncate, unlink, utimensat and the
# special files) as root, each inside a fresh directory, and counts the TAP
# results against expected-failures (the assertions itemfs fails by design:
# each is an expected failure, XFAIL; any other failure, or an expected
# failure that passes, fails the suite).
#
# Under meson (FSTEST, ITEMFS, HELPER set) it mounts a new store with
# -o allow_other and runs in a table of it. By hand, on any directory (to
# check the scripts themselves on tmpfs or ext4, where everything must pass):
#
#   FSTEST=BUILD/tests/conformance/fstest CONFORMANCE_DIR=/tmp/x \
#     bash tests/conformance/test_conformance.sh
#
# Optional: CONFORMANCE_EXPECTED=FILE applies an expected-failures file in
# that mode too (none by default); CONFORMANCE_TESTS="chmod rename" runs only
# those scripts; CONFORMANCE_TAP=1 prints every TAP line, not only failures.

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${FSTEST:?FSTEST must name the fstest binary (BUILD/tests/conformance/fstest)}"
FSTEST=$(readlink -f "$FSTEST")
export FSTEST

if [ -n "${CONFORMANCE_DIR:-}" ]; then
	set -uo pipefail
	export LC_ALL=C TZ=UTC
	if [ "$(id -u)" -ne 0 ]; then
		echo "FAIL: the conformance suite must run as root" >&2
		exit 1
	fi
	[ -d "$CONFORMANCE_DIR" ] || { echo "FAIL: $CONFORMANCE_DIR is not a directory" >&2; exit 1; }
	BASE=$(mktemp -d "$CONFORMANCE_DIR/conformance.XXXXXX")
	chmod 755 "$BASE"
	trap 'cd /; rm -rf "$BASE"' EXIT
	XFAIL_FILE=${CONFORMANCE_EXPECTED:-}
	echo "--- running on $CONFORMANCE_DIR ($(stat -f -c %T "$CONFORMANCE_DIR"))"
else
	source "$here/../integration/lib.sh"
	set +e # assertions are counted, not fatal
	trap - ERR
	start_itemfs -o allow_other
	# fstest switches to other users: in a sanitizer build it could not
	# write its reports into $T (root's, 0755), and LeakSanitizer cannot
	# run once it has changed credentials. Its reports (never the
	# daemon's, which keeps lib.sh's settings) go to a directory anyone
	# may write to, and fail the suite below.
	mkdir -m 1777 "$T/fstest-san"
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0:log_path=$T/fstest-san/san"
	export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$T/fstest-san/san"
	BASE=$MNT/conformance
	mkdir "$BASE"
	XFAIL_FILE=$here/expected-failures
	echo "--- running on a table of an itemfs mount ($MNT)"
fi

# The expected failures: "SCRIPT | ASSERTION | REASON" lines.
declare -A xfail_reason=() xfail_seen=()
if [ -n "$XFAIL_FILE" ]; then
	while IFS= read -r line; do
		case "$line" in '' | '#'*) continue ;; esac
		IFS='|' read -r x_script x_what x_reason <<<"$line"
		x_script=$(echo "$x_script" | sed 's/^ *//; s/ *$//')
		x_what=$(echo "$x_what" | sed 's/^ *//; s/ *$//')
		xfail_reason["$x_script: $x_what"]=$(echo "$x_reason" | sed 's/^ *//')
	done <"$XFAIL_FILE"
fi

if [ -n "${CONFORMANCE_TESTS:-}" ]; then
	scripts=()
	for s in $CONFORMANCE_TESTS; do scripts+=("$here/$s.t"); done
else
	scripts=("$here"/*.t)
fi

# The scripts run at once, each in its own directory (their time goes to
# process start-up and naps, not to the CPU); the results are read in order.
start=$SECONDS
OUTS=$(mktemp -d /tmp/conformance-out.XXXXXX)
pids=()
for script in "${scripts[@]}"; do
	name=${script##*/}
	dir=$BASE/${name%.t}
	mkdir "$dir"
	(cd "$dir" && exec bash "$script") >"$OUTS/$name" 2>&1 &
	pids+=($!)
done
for pid in "${pids[@]}"; do
	wait "$pid"
done

passed=0 failed=0 xfailed=0 skipped=0
for script in "${scripts[@]}"; do
	name=${script##*/}
	dir=$BASE/${name%.t}
	out=$(cat "$OUTS/$name")
	s_pass=0 s_fail=0 s_xfail=0 s_skip=0 results=0 plan=
	while IFS= read -r line; do
		case "$line" in
		"ok "* | "not ok "*)
			results=$((results + 1))
			what=${line#*ok [0-9]* - }
			what=${what%%: expected *}
			what=${what%%: test * is false}
			key="$name: $what"
			if [[ $line == *"# SKIP"* ]]; then
				s_skip=$((s_skip + 1))
			elif [ -n "${xfail_reason[$key]+x}" ]; then
				xfail_seen["$key"]=1
				if [[ $line == "ok "* ]]; then
					s_fail=$((s_fail + 1))
					echo "UNEXPECTED PASS $name: $line (listed as: ${xfail_reason[$key]})"
				else
					s_xfail=$((s_xfail + 1))
					[ -n "${CONFORMANCE_TAP:-}" ] && echo "XFAIL $name: $line"
				fi
			elif [[ $line == "ok "* ]]; then
				s_pass=$((s_pass + 1))
				[ -n "${CONFORMANCE_TAP:-}" ] && echo "$name: $line"
			else
				s_fail=$((s_fail + 1))
				echo "FAIL $name: $line"
			fi
			;;
		1..*) plan=${line#1..} ;;
		*) echo "$name: $line" ;; # diagnostics
		esac
	done <<<"$out"
	if [ "$plan" != "$results" ]; then
		echo "FAIL $name: plan '1..$plan' but $results results (the script died?)"
		s_fail=$((s_fail + 1))
	fi
	if [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
		echo "FAIL $name: left behind: $(ls -A "$dir" | head -c 200)"
		s_fail=$((s_fail + 1))
	fi
	rm -rf "$dir"
	printf '%-14s %4d passed, %d failed, %d expected failures%s\n' "$name" \
		"$s_pass" "$s_fail" "$s_xfail" "$([ "$s_skip" -gt 0 ] && echo ", $s_skip skipped")"
	passed=$((passed + s_pass)) failed=$((failed + s_fail))
	xfailed=$((xfailed + s_xfail)) skipped=$((skipped + s_skip))
done

rm -rf "$OUTS"

# An expected failure that never ran is stale: the list must stay exact.
if [ -z "${CONFORMANCE_TESTS:-}" ]; then
	for key in "${!xfail_reason[@]}"; do
		if [ -z "${xfail_seen[$key]+x}" ]; then
			echo "FAIL expected-failures: no such assertion ran: $key"
			failed=$((failed + 1))
		fi
	done
fi

# A sanitizer report from fstest itself (sanitizer builds only).
for f in "${T:-/nonexistent}"/fstest-san/san.*; do
	[ -e "$f" ] || continue
	echo "FAIL fstest sanitizer report $f:" && cat "$f"
	failed=$((failed + 1))
done

echo "--- $((SECONDS - start)) s; $xfailed expected failures (by design: $XFAIL_FILE)"
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
if [ -z "${CONFORMANCE_DIR:-}" ]; then
	stop_itemfs
fi
[ "$failed" -eq 0 ]
