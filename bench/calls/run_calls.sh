#!/bin/sh
# Model calls per sampler: every sampler on the gmm task at NFE 500 (`itscale run --nfe`, which
# sizes each method through the cost API) with a model that takes at most 64 rows per call, as a
# GPU model would. For a GPU model a call costs about the same up to its batch limit, so the
# number of calls is the latency. Prints a Markdown table: NFE spent, model calls, rows per call.
# rbf is also run with speculative 4 (no cap, params.nfe 500: speculation needs headroom).
# Usage: bench/calls/run_calls.sh ITSCALE_BINARY [NFE] [MAX_BATCH]
set -eu
bin=${1:?usage: run_calls.sh ITSCALE_BINARY [NFE] [MAX_BATCH]}
nfe=${2:-500}
mb=${3:-64}
py=${PYTHON:-python3}
row() { # label, then itscale run arguments
    label=$1
    shift
    "$bin" run --task gmm --set task.max_batch="$mb" --json "$@" | "$py" -c '
import json, sys
d = json.load(sys.stdin)
u = d["usage"]
print("| %s | %d | %d | %.1f |" % (sys.argv[1], u["nfe"], u["model_calls"],
                                   u["nfe"] / max(u["model_calls"], 1)))' "$label"
}
echo "gmm task, NFE $nfe, max_batch $mb, defaults otherwise"
echo
echo "| sampler | NFE | model calls | rows per call |"
echo "|---|---|---|---|"
for s in $("$bin" samplers | awk '/^run parameters/ {exit} /^[a-z_]+ / {print $1}'); do
    row "$s" --sampler "$s" --nfe "$nfe"
done
row "rbf, speculative 4 (no cap)" --sampler rbf --set params.speculative=4 --set params.nfe="$nfe"
