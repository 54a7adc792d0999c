#!/bin/sh
# The cost grid: time per NFE against dim (2 .. 1,048,576) and particles (1 .. 4,096) for
# best_of_n, fk_smc, beam and rbf (bench_scaling --grid), and its log-log plot with the memory
# bound (plot_scaling.py), into OUT/grid-PATH.{txt,csv,svg} where PATH is the SIMD path in use
# (ITS_SIMD caps it: ITS_SIMD=avx2 runs an AVX-512 machine on the AVX2 path).
# Usage: bench/scaling/run_grid.sh [BUILD_DIR] [OUT_DIR] [extra bench_scaling --grid options]
# (defaults: build-bench-rel, bench/results/scaling; about a minute on one core)
set -eu
build=${1:-build-bench-rel}
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${2:-$root/bench/results/scaling}
[ $# -ge 2 ] && shift 2 || { [ $# -ge 1 ] && shift 1; true; }
if [ ! -x "$build/bench/scaling/bench_scaling" ]; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build" -j"$(nproc)" --target bench_scaling >/dev/null
fi
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet HEAD -- src include bench/scaling 2>/dev/null || echo ', with local changes')"
{
    echo "\$ ${ITS_SIMD:+ITS_SIMD=$ITS_SIMD }bench/scaling/run_grid.sh $build $*  (commit $commit)"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    uname -srm
    "$build/bench/scaling/bench_scaling" --grid --csv "$tmp/grid.csv" "$@"
} > "$tmp/grid.txt"
path=$(sed -n 's/.*simd: best path [a-z0-9]*, in use \([a-z0-9]*\).*/\1/p' "$tmp/grid.txt")
cp "$tmp/grid.txt" "$out/grid-$path.txt"
cp "$tmp/grid.csv" "$out/grid-$path.csv"
python3 "$root/bench/scaling/plot_scaling.py" "$out/grid-$path.csv" "$out/grid-$path.svg"
echo "wrote $out/grid-$path.txt, .csv, .svg"
