#!/bin/bash
# with-dynalite.sh [--transact] CMD [ARG...] - runs CMD beside a fresh
# dynalite (a DynamoDB-API server in Node.js, in memory) on 127.0.0.1, with
# ITEMFS_TEST_DDB_ENDPOINT=http://127.0.0.1:PORT in its environment, and
# stops the server after. CMD's exit status is this script's.
#
# --transact: the endpoint is tests/ddb/stale-proxy.js in front of dynalite,
# answering TransactWriteItems (which dynalite lacks) and passing the rest
# through, so that the TransactWriteItems commit path is the one tested.
#
# dynalite runs with dynalite-guard.js preloaded, so that a client killed in
# the middle of a request (test_ddb_kill.sh) does not take the server down.
#
# dynalite is an npm package: it is installed on first use into
# $ITEMFS_DYNALITE_DIR (default /var/cache/itemfs-tests/dynalite), under a
# lock so that parallel tests install it once. Without node and npm this
# fails with a message saying what to install (no skip: the backend's tests
# must run). Exit 77 (skip) only when CMD itself says so.
set -u
TRANSACT=
if [ "${1:-}" = --transact ]; then
	TRANSACT=1
	shift
fi
HERE=$(cd "$(dirname "$0")" && pwd)
DIR=${ITEMFS_DYNALITE_DIR:-/var/cache/itemfs-tests/dynalite}
VERSION=3.2.2
CLI=$DIR/node_modules/dynalite/cli.js

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "with-dynalite.sh: node and npm are needed (apt-get install nodejs npm)" >&2
	exit 1
fi
mkdir -p "$DIR"
(
	flock 9
	if [ ! -f "$CLI" ] || ! grep -q "\"version\": \"$VERSION\"" "$DIR/node_modules/dynalite/package.json"; then
		# leveldown (on-disk mode, a native addon) is optional and not
		# needed: the servers here keep their tables in memory.
		npm install --prefix "$DIR" --no-audit --no-fund --omit=optional \
			"dynalite@$VERSION" >"$DIR/npm.log" 2>&1 ||
			{ cat "$DIR/npm.log" >&2; echo "with-dynalite.sh: npm install dynalite@$VERSION failed" >&2; exit 1; }
	fi
) 9>"$DIR.lock" || exit 1

LOG=$(mktemp /tmp/dynalite.XXXXXX.log)
PLOG=$(mktemp /tmp/dynalite-proxy.XXXXXX.log)
PID= PROXY_PID=
cleanup() {
	[ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null && wait "$PROXY_PID" 2>/dev/null
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -f "$LOG" "$PLOG"
}
trap cleanup EXIT

# A free port: ask the kernel for one, then hand it to dynalite (a race with
# another process is retried).
for attempt in 1 2 3 4 5; do
	PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
		echo $((20000 + RANDOM % 20000)))
	node -r "$HERE/dynalite-guard.js" "$CLI" --host 127.0.0.1 --port "$PORT" --createTableMs 0 --deleteTableMs 0 \
		--updateTableMs 0 >"$LOG" 2>&1 &
	PID=$!
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
			break 2
		fi
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.05
	done
	kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; PID=
done
if [ -z "$PID" ]; then
	echo "with-dynalite.sh: dynalite did not start:" >&2
	cat "$LOG" >&2
	exit 1
fi
export ITEMFS_TEST_DDB_ENDPOINT=http://127.0.0.1:$PORT
if [ -n "$TRANSACT" ]; then
	node "$HERE/stale-proxy.js" 0 "$ITEMFS_TEST_DDB_ENDPOINT" 0 --transact >"$PLOG" 2>&1 &
	PROXY_PID=$!
	for _ in $(seq 100); do
		PPORT=$(awk '/^listening/ { print $2 }' "$PLOG")
		[ -n "$PPORT" ] && break
		sleep 0.05
	done
	if [ -z "${PPORT:-}" ]; then
		echo "with-dynalite.sh: stale-proxy.js did not start:" >&2
		cat "$PLOG" >&2
		exit 1
	fi
	export ITEMFS_TEST_DDB_ENDPOINT=http://127.0.0.1:$PPORT
	export ITEMFS_TEST_DDB_TRANSACT=1
fi
"$@"
rc=$?
# A server that died under the command is the cause of its failure, not the
# command: say so, with the server's last words.
if ! kill -0 "$PID" 2>/dev/null; then
	wait "$PID" 2>/dev/null
	echo "with-dynalite.sh: dynalite (pid $PID) died while the command ran (exit status $?); its log:" >&2
	tail -n 40 "$LOG" >&2
	PID=
	[ "$rc" -eq 0 ] && rc=1
fi
if [ -n "$PROXY_PID" ] && ! kill -0 "$PROXY_PID" 2>/dev/null; then
	echo "with-dynalite.sh: stale-proxy.js (pid $PROXY_PID) died while the command ran; its log:" >&2
	tail -n 40 "$PLOG" >&2
	PROXY_PID=
	[ "$rc" -eq 0 ] && rc=1
fi
if [ -n "$TRANSACT" ] && [ "$rc" -eq 0 ]; then
	# The point of --transact: commits went through TransactWriteItems.
	n=$(curl -s "$ITEMFS_TEST_DDB_ENDPOINT/stats" | sed -n 's/.*"transactions":\([0-9]*\).*/\1/p')
	if ! [ "${n:-0}" -gt 0 ]; then
		echo "with-dynalite.sh --transact: no TransactWriteItems reached the proxy" >&2
		rc=1
	else
		echo "with-dynalite.sh: $n commits went through TransactWriteItems"
	fi
fi
exit "$rc"
