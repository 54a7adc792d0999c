#!/bin/sh
# Time and peak memory against NFE and dim, allocations per run (bench_scaling), from one command.
# Usage: bench/scaling/run_scaling.sh [BUILD_DIR] [extra bench_scaling options]
# (defaults: build-bench-rel, --dim 4096 --batch 8 --reps 7 as in bench/results/scaling.txt)
set -eu
build=${1:-build-bench-rel}
[ $# -ge 1 ] && shift 1
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ ! -x "$build/bench/scaling/bench_scaling" ]; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build" -j"$(nproc)" --target bench_scaling >/dev/null
fi
[ $# -gt 0 ] || set -- --dim 4096 --batch 8 --reps 7
uname -srm
exec "$build/bench/scaling/bench_scaling" "$@"
