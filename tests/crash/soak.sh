#!/bin/bash
# soak.sh - the long crash run (docs/durability.md), not a registered test:
#   tests/crash/soak.sh [BUILD_DIR]
# runs the kill test with ROUNDS rounds (default 1000) against the binaries
# of BUILD_DIR (default: build), and then, if POWERLOSS_IMAGES is set, the
# power-loss test with that many crash images. CRASH_SEED, CRASH_MARGIN_MS
# and CRASH_KEEP work as in the tests. Needs root and /dev/fuse.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(cd "${1:-build}" && pwd)

export ITEMFS=$build/fs/itemfs
export HELPER=$build/tests/integration/itest_helper
export STORM=$build/tests/crash/storm
export STORMVERIFY=$build/tests/crash/stormverify
export IOLOG=$build/tests/crash/libiolog.so
export CRASHIMG=$build/tests/crash/crashimg
for f in "$ITEMFS" "$HELPER" "$STORM" "$STORMVERIFY" "$IOLOG" "$CRASHIMG"; do
	if [ ! -e "$f" ]; then
		echo "soak.sh: $f is missing; build first: meson compile -C $build" >&2
		exit 2
	fi
done

KILL_ROUNDS=${ROUNDS:-1000} bash "$here/test_kill.sh"
if [ -n "${POWERLOSS_IMAGES:-}" ]; then
	bash "$here/powerloss/test_powerloss.sh"
fi
