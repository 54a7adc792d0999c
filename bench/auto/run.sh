#!/usr/bin/env bash
# `auto` against every fixed method: tune a policy on tuning seeds, then measure every candidate,
# auto with the policy and auto's online mode on held-out seeds (itscale tune --eval-seeds), and
# write the tables and the figure (bench/auto/report.py) under bench/results/auto/.
#
#   bench/auto/run.sh [VARIANT...]     VARIANT: gmm-dim64, gmm-dim256, digits, fashion
#                                      (default: the first three)
#
# Environment:
#   BUILD=DIR        Release build folder (default: build/rel); configured and built if needed
#   OUT=DIR          results folder (default: bench/results/auto)
#   NFE=list         budgets tuned and measured (default 50,100,200,500,1000,2000)
#   SEEDS=K          tuning seeds per finalist (default 16; seeds 1000 .. 1000+K-1)
#   EVAL_SEEDS=K     held-out seeds (default 32; seeds EVAL_SEED .. EVAL_SEED+K-1)
#   EVAL_SEED=S      the first held-out seed (default 0, the bench's; another range gives a
#                    replicate on seeds neither the tuning nor an earlier evaluation saw)
#   NICE=N           niceness (default 10)
#   DIGITS_WEIGHTS=DIR  digits weight folder (default: the build's cache, trained on first use)
#   FASHION_WEIGHTS=DIR fashion weight folder (default: the build's cache, trained on first use, ~20 min)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
build=${BUILD:-build/rel}
out=${OUT:-bench/results/auto}
nfe=${NFE:-50,100,200,500,1000,2000}
seeds=${SEEDS:-16}
eval_seeds=${EVAL_SEEDS:-32}
eval_seed=${EVAL_SEED:-0}
niceness=${NICE:-10}

if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
if ! grep -q '^CMAKE_BUILD_TYPE:STRING=Release$' "$build/CMakeCache.txt"; then
    echo "run.sh: $build is not a Release build" >&2
    exit 2
fi
nice -n "$niceness" cmake --build "$build" -j"$(nproc)" --target itscale_cli >/dev/null
cli="$build/examples/itscale/itscale"
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src include examples 2>/dev/null || echo ' (with local changes)')"

digits=(--task digits)
[ -n "${DIGITS_WEIGHTS:-}" ] && digits+=(--set "task.weights=$DIGITS_WEIGHTS")
fashion=(--task fashion)
[ -n "${FASHION_WEIGHTS:-}" ] && fashion+=(--set "task.weights=$FASHION_WEIGHTS")

machine() {
    local cpu simd
    cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
    simd=$(grep -o -m1 -w 'avx512f' /proc/cpuinfo >/dev/null && echo "AVX-512 available" || echo "AVX2")
    echo "$(uname -srm), ${cpu:-unknown CPU}, $simd, $(nproc) cores available"
}

run_variant() {
    local name=$1
    shift
    local dir="$out/$name"
    mkdir -p "$dir"
    local cmd=("$cli" tune "$@" --nfe "$nfe" --seeds "$seeds" --seed 1000 --eval-seeds "$eval_seeds"
               --eval-seed "$eval_seed" --out "$dir")
    echo "== $name" >&2
    local t0=$SECONDS
    nice -n "$niceness" "${cmd[@]}" | tee "$dir/table.txt"
    local wall=$((SECONDS - t0))
    {
        printf 'command: bench/auto/run.sh %s\n' "$name"
        printf 'expands to: %s\n' "${cmd[*]#"$root/"}"
        printf 'commit: %s\n' "$commit"
        printf 'machine: %s\n' "$(machine)"
        printf 'date: %s\n' "$(date -u +%Y-%m-%dT%H:%MZ)"
        printf 'wall time: %d s (niceness %s, shared machine)\n' "$wall" "$niceness"
    } >"$dir/run.txt"
}

variants=("$@")
[ ${#variants[@]} -eq 0 ] && variants=(gmm-dim64 gmm-dim256 digits)
for v in "${variants[@]}"; do
    case $v in
    gmm-dim64) run_variant gmm-dim64 --task gmm --set task.dim=64 ;;
    gmm-dim256) run_variant gmm-dim256 --task gmm --set task.dim=256 ;;
    digits) run_variant digits "${digits[@]}" ;;
    fashion) run_variant fashion "${fashion[@]}" ;;
    *)
        echo "run.sh: unknown variant \"$v\" (expected gmm-dim64, gmm-dim256, digits or fashion)" >&2
        exit 2
        ;;
    esac
done
/usr/bin/python3 bench/auto/report.py "$out"
