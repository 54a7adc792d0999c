#!/usr/bin/env bash
# The main job: build itscale and run search on the built-in analytic task, printing and plotting
# verifier score against compute (NFE) for several samplers.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
its_ensure_packages

build=build/release
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DITS_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null

out=${ITS_DEMO_OUT:-out/demo}
mkdir -p "$out"
"$build/examples/itscale/itscale" bench --task gmm \
    --samplers none,best_of_n,beam,svdd,fk_smc,rbf \
    --nfe 50,100,200,500,1000,2000 --seeds 16 --out "$out"
echo
echo "curves: $out/curves.csv, $out/curves.json"
echo "plot:   $out/curves.svg"
