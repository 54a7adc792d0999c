#!/bin/sh
# ThreadSanitizer check of the scheduler and the server built on it, in its own build folder:
#   tests/tsan_sched.sh [BUILD_DIR]    (default build-tsan)
# Fails on the first data race or lock-order inversion.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-"$src/build-tsan"}
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DITS_TSAN=ON -DITS_BUILD_EXAMPLES=ON \
  -DITS_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j2 --target test_sched
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
"$build/tests/test_sched"
if cmake --build "$build" --target help | grep server_test >/dev/null; then
  cmake --build "$build" -j2 --target server_test itscale-server
  "$build/tests/server_test" "$build/examples/server/itscale-server"
else
  echo "tsan: server_test not configured (libmicrohttpd missing): scheduler only"
fi
echo "tsan: no races reported"
