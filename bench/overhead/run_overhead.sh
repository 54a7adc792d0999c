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
uname -srm
"$build/bench/overhead/bench_overhead" --threads "$threads" "$@" | tee "$out" | grep -v '^KV '
echo
"$py" "$here/overhead_torch.py" --ours "$out"
