#!/usr/bin/env bash
# The fashion benchmark: every sampler on Fashion-MNIST (task fashion) at NFE budgets, K seeds,
# into bench/results/fashion: curves.json / curves.csv / curves.svg (+ curves.png rendered with
# rsvg-convert), one grid-SAMPLER.png per sampler (a row per budget, a column per seed: each
# run's best sample), share.csv (the library's share of the time at one budget, from each
# result's time split) and run.txt (command, commit, machine, wall time).
#
#   bench/fashion/run.sh
#
# Environment:
#   BUILD=DIR      Release build folder (default: build-curves-rel); configured and built if needed
#   OUT=DIR        results folder (default: bench/results/fashion)
#   SEEDS=K        seeds per point (default 16)
#   NFE=list       budgets (default 50,100,200,500,1000,2000)
#   SAMPLERS=list  samplers (default: every registered one)
#   TARGET=C       the class the verifier rewards (default: the task's, 3 = Dress)
#   WEIGHTS=DIR    weight folder (default: the build's cache, trained on first use, ~15 min)
#   SHARE_NFE=N    budget of the time-split runs (default 500; 0: no time-split runs)
#   NICE=N         niceness (default 10)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. scripts/deps.sh
its_ensure_packages
build=${BUILD:-build-curves-rel}
out=${OUT:-bench/results/fashion}
seeds=${SEEDS:-16}
nfe=${NFE:-50,100,200,500,1000,2000}
share_nfe=${SHARE_NFE:-500}
niceness=${NICE:-10}
case $share_nfe in
'' | *[!0-9]*)
    echo "run.sh: SHARE_NFE must be a whole number of NFE (0: no time-split runs), got '$share_nfe'" >&2
    exit 2
    ;;
esac

if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
if ! grep -q '^CMAKE_BUILD_TYPE:STRING=Release$' "$build/CMakeCache.txt"; then
    echo "run.sh: $build is not a Release build (timings and run length assume one)" >&2
    exit 2
fi
nice -n "$niceness" cmake --build "$build" -j"$(nproc)" --target itscale_cli >/dev/null
cli="$build/examples/itscale/itscale"
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src include examples 2>/dev/null || echo ' (with local changes)')"
all_samplers=$("$cli" samplers | awk '/^[a-z_]+ / && !/^run / {print $1}' | paste -sd, -)
samplers=${SAMPLERS:-$all_samplers}

task=(--task fashion)
[ -n "${TARGET:-}" ] && task+=(--set "task.target=$TARGET")
[ -n "${WEIGHTS:-}" ] && task+=(--set "task.weights=$WEIGHTS")
overrides=""
for var in BUILD OUT SEEDS NFE SAMPLERS TARGET WEIGHTS SHARE_NFE NICE; do
    [ -n "${!var:-}" ] && overrides+="$var=${!var} "
done

mkdir -p "$out"
cmd=("$cli" bench "${task[@]}" --samplers "$samplers" --nfe "$nfe" --seeds "$seeds" --seed 0
     --out "$out")
t0=$SECONDS
nice -n "$niceness" "${cmd[@]}" | tee "$out/table.txt"
wall=$((SECONDS - t0))
if command -v rsvg-convert >/dev/null; then
    rsvg-convert -w 1400 "$out/curves.svg" -o "$out/curves.png"
fi

# The library's share of the time of one run per sampler (seed 0) at SHARE_NFE (0: none).
if [ "$share_nfe" -gt 0 ]; then
    {
        echo "sampler,nfe_used,total_s,model_s,verifier_s,library_s,library_share"
        IFS=, read -ra list <<<"$samplers"
        for s in "${list[@]}"; do
            if ! j=$(nice -n "$niceness" "$cli" run "${task[@]}" --sampler "$s" --nfe "$share_nfe" \
                --seed 0 --json 2>"$out/share.err"); then
                echo "run.sh: the share run of $s at $share_nfe NFE failed: $(cat "$out/share.err")" >&2
                echo "$s,,,,,,"
                continue
            fi
            python3 -c '
import json, sys
d = json.load(sys.stdin); t = d["time"]
print("%s,%d,%.4f,%.4f,%.4f,%.5f,%.5f" % (d["sampler"], d["usage"]["nfe"], t["total_s"],
      t["model_s"], t["verifier_s"], t["library_s"], t["library_s"] / t["total_s"]))' <<<"$j"
        done
    } >"$out/share.csv"
    rm -f "$out/share.err"
fi

machine() {
    local cpu simd
    cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
    simd=$(grep -o -m1 -w 'avx512f' /proc/cpuinfo >/dev/null && echo AVX-512 || echo AVX2)
    echo "$(uname -srm), ${cpu:-unknown CPU} ($simd), $(nproc) cores available"
}
{
    printf 'command: %sbench/fashion/run.sh\n' "$overrides"
    printf 'expands to: %s\n' "${cmd[*]#"$root/"}"
    printf 'commit: %s\n' "$commit"
    printf 'machine: %s\n' "$(machine)"
    printf 'build: %s, Release, %s\n' "$build" \
        "$(awk -F= '/^CMAKE_C_COMPILER:/ {print $2}' "$build/CMakeCache.txt")"
    printf 'date: %s\n' "$(date -u +%Y-%m-%dT%H:%MZ)"
    printf 'wall time: %d s (niceness %s, shared machine)\n' "$wall" "$niceness"
} >"$out/run.txt"
echo "run.sh: wrote $out" >&2
