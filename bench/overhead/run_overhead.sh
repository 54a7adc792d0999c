#!/bin/sh
# Runs bench_overhead and the PyTorch reference with the same thread count, then the ratios.
# Usage: bench/overhead/run_overhead.sh BUILD_DIR [THREADS] [extra bench_overhead options]
# PYTHON selects the interpreter that has torch (default: /usr/bin/python3, Debian's python3-torch).
set -eu
build=${1:?usage: run_overhead.sh BUILD_DIR [THREADS] [options]}
threads=${2:-1}
[ $# -ge 2 ] && shift 2 || shift 1
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-/usr/bin/python3}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
root=$(cd "$here/../.." && pwd)
# one command: configure and build a Release tree when it is missing, install Debian's torch
if [ ! -x "$build/bench/overhead/bench_overhead" ]; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build" -j"$(nproc)" --target bench_overhead >/dev/null
fi
if ! "$py" -c 'import torch' 2>/dev/null; then
    echo "run_overhead.sh: installing python3-torch (Debian) for the reference loop" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-torch >&2
fi
uname -srm
"$build/bench/overhead/bench_overhead" --threads "$threads" "$@" | tee "$out" | grep -v '^KV '
echo
"$py" "$here/overhead_torch.py" --ours "$out"
