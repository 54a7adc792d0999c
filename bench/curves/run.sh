#!/usr/bin/env bash
# Quality-vs-compute curves: every sampler on three task variants at NFE 50 .. 2000, written as
# curves.json / curves.csv / curves.svg (the `itscale bench` formats) plus run.txt (the exact
# command, commit, machine and wall time) under bench/results/<task>-<variant>/.
#
#   bench/curves/run.sh [VARIANT...]     VARIANT: gmm-dim2, gmm-dim256, digits (default: all)
#
# Environment:
#   BUILD=DIR        Release build folder (default: build-curves-rel); configured and built if needed
#   OUT=DIR          results folder (default: bench/results)
#   SEEDS=K          seeds per point (default 32; digits' diversity and Frechet distance pool
#                    the best sample of every seed, so they need more than a few)
#   NFE=list         budgets (default 50,100,200,500,1000,2000)
#   SAMPLERS=list    samplers (default: every registered one)
#   NICE=N           niceness (default 10); the runs share the machine with builds
#   DIGITS_WEIGHTS=DIR  digits weight folder (default: the build's cache, trained on first use)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
build=${BUILD:-build-curves-rel}
out=${OUT:-bench/results}
seeds=${SEEDS:-32}
nfe=${NFE:-50,100,200,500,1000,2000}
niceness=${NICE:-10}

if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
if ! grep -q '^CMAKE_BUILD_TYPE:STRING=Release$' "$build/CMakeCache.txt"; then
    echo "run.sh: $build is not a Release build (timings and run length assume one)" >&2
    exit 2
fi
nice -n "$niceness" cmake --build "$build" -j"$(nproc)" --target itscale_cli >/dev/null
cli="$build/examples/itscale/itscale"
# the tree the binary was built from (others may commit while the grid runs)
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src include examples 2>/dev/null || echo ' (with local changes)')"

all_samplers=$("$cli" samplers | awk '/^[a-z_]+ / && !/^run / {print $1}' | paste -sd, -)
samplers=${SAMPLERS:-$all_samplers}

# gmm dim 2: the default layout (task.seed 7) puts the target mean on three of the four common
# means (two coordinates give only four sign patterns), so nothing could ever "hit" it. Seed 2
# gives the target its own corner; a rarer (w 0.001), narrower (std 0.15) target with the graded
# reward log p(target|x) - 0.2 |x - mu_T|^2 (pull 0) keeps the low budgets apart. A narrower
# target (std <= 0.1) makes the reward so stiff that local_search's gradient step diverges.
gmm_dim2=(--task gmm --set task.dim=2 --set task.seed=2 --set task.w_target=0.001
          --set task.target_std=0.15 --set task.reward=graded --set task.pull=0)
# gmm dim 256: the task defaults (quadratic reward towards a point 30% of the way from the rare
# target to mode 0) in high dimension.
gmm_dim256=(--task gmm --set task.dim=256)
digits=(--task digits)
[ -n "${DIGITS_WEIGHTS:-}" ] && digits+=(--set "task.weights=$DIGITS_WEIGHTS")

# the settings given through the environment, for run.txt
overrides=""
for var in BUILD OUT SEEDS NFE SAMPLERS NICE DIGITS_WEIGHTS; do
    [ -n "${!var:-}" ] && overrides+="$var=${!var} "
done

machine() {
    local cpu
    cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
    echo "$(uname -srm), ${cpu:-unknown CPU}, $(nproc) cores available"
}

run_variant() {
    local name=$1 k=$2
    shift 2
    local dir="$out/$name"
    mkdir -p "$dir"
    local cmd=("$cli" bench "$@" --samplers "$samplers" --nfe "$nfe" --seeds "$k" --seed 0
               --out "$dir")
    echo "== $name" >&2
    local t0=$SECONDS
    nice -n "$niceness" "${cmd[@]}"
    local wall=$((SECONDS - t0))
    {
        printf 'command: %sbench/curves/run.sh %s\n' "$overrides" "$name"
        printf 'expands to: %s\n' "${cmd[*]#"$root/"}"
        printf 'commit: %s\n' "$commit"
        printf 'machine: %s\n' "$(machine)"
        printf 'build: %s, Release, %s\n' "$build" \
            "$(awk -F= '/^CMAKE_C_COMPILER:/ {print $2}' "$build/CMakeCache.txt")"
        printf 'date: %s\n' "$(date -u +%Y-%m-%dT%H:%MZ)"
        printf 'wall time: %d s (niceness %s, shared machine)\n' "$wall" "$niceness"
    } >"$dir/run.txt"
}

variants=("$@")
[ ${#variants[@]} -eq 0 ] && variants=(gmm-dim2 gmm-dim256 digits)
for v in "${variants[@]}"; do
    case $v in
    gmm-dim2) run_variant gmm-dim2 "$seeds" "${gmm_dim2[@]}" ;;
    gmm-dim256) run_variant gmm-dim256 "$seeds" "${gmm_dim256[@]}" ;;
    digits) run_variant digits "$seeds" "${digits[@]}" ;;
    *)
        echo "run.sh: unknown variant \"$v\" (expected gmm-dim2, gmm-dim256 or digits)" >&2
        exit 2
        ;;
    esac
done
