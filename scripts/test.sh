#!/usr/bin/env bash
# Builds itscale and runs every test: the full suite (unit + statistical + CLI + install checks),
# then the unit suites again under AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
its_ensure_packages

jobs=$(nproc)
echo "== build (RelWithDebInfo)" >&2
cmake -S . -B build/test -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/test -j"$jobs" >/dev/null
echo "== tests" >&2
ctest --test-dir build/test -j"$jobs" --output-on-failure --timeout 900

echo "== build (ASan + UBSan)" >&2
cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DITS_SANITIZE=ON -DITS_BUILD_BENCH=OFF >/dev/null
cmake --build build/asan -j"$jobs" >/dev/null
echo "== tests under ASan + UBSan (unit label)" >&2
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build/asan -j"$jobs" -L unit --output-on-failure --timeout 900
