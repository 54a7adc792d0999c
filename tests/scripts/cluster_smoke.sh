#!/usr/bin/env bash
# Cluster smoke test (loopback, bounded, self-stopping): 3 replicas behind HAProxy with
# Prometheus, started and stopped by examples/server/cluster/run.sh.
#  1. the key-cache hit ratio (from Prometheus) under consistent hashing on the affinity key is
#     above round robin's at the same offered load;
#  2. one replica killed with SIGKILL under load: 0 requests lost, every answer (the retried ones
#     included) bit-identical to the same request re-run directly on a surviving replica.
# The replicas run with --no-governor: with the governor on, a replica under pressure fits a
# request to the NFE its load allows (the answer's profile and nfe_budget say what ran), so an
# answer is a function of (config, seed, key) and of the load it met; a re-run on an idle replica
# (or on a slower machine, e.g. under sanitizers) need not be fitted the same way. Without it the
# configuration is the request's alone, which is what the bit-identity check needs.
# usage: cluster_smoke.sh ITSCALE-SERVER ITS-CLUSTER-LOAD     (exit 77: haproxy/prometheus missing)
set -euo pipefail
server=$1
load=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
run="$here/../../examples/server/cluster/run.sh"
for t in haproxy prometheus curl python3; do
    command -v "$t" >/dev/null || { echo "cluster_smoke: $t not installed: skipped"; exit 77; }
done
out=$(mktemp -d /tmp/itscale-smoke.XXXXXX)
trap 'rm -rf "$out"' EXIT
# 12 keys over 3 replicas x 2 workers, 4 prepared keys per worker: under round robin every
# worker sees all 12 keys (LRU hit ratio about 4/12); under consistent hashing a replica sees
# about 4 (nearly every request after the first per worker is a hit)
args="--workers 2 --nfe-cost-us 200 --key-cache 4 --prep-draws 20000 --no-governor"
load_args="load --rate 40 --seconds 3 --keys 12 --profile light"

"$run" --replicas 3 --balance roundrobin --server "$server" --server-args "$args" -- \
    "$load" $load_args >"$out/rr.txt"
cat "$out/rr.txt"
"$run" --replicas 3 --balance hash --server "$server" --server-args "$args" -- \
    bash -c "\"$load\" $load_args >\"$out/hash.txt\" &&
             \"$load\" failover --requests 60 --concurrency 6 --keys 12 >\"$out/failover.txt\""
cat "$out/hash.txt" "$out/failover.txt"

field() { sed -n "s/^RESULT .*\b$2=\([^ ]*\).*/\1/p" "$1"; }
rr=$(field "$out/rr.txt" hit_ratio)
hash=$(field "$out/hash.txt" hit_ratio)
echo "key-cache hit ratio: consistent hashing $hash, round robin $rr"
python3 -c "import sys; h, r = float(sys.argv[1]), float(sys.argv[2]); sys.exit(0 if h > r else 1)" "$hash" "$rr" ||
    { echo "FAIL: consistent hashing's hit ratio is not above round robin's"; exit 1; }
[ "$(field "$out/failover.txt" lost)" = 0 ] || { echo "FAIL: requests lost"; exit 1; }
[ "$(field "$out/failover.txt" different)" = 0 ] || { echo "FAIL: answers differ"; exit 1; }
[ "$(field "$out/failover.txt" killed)" = 1 ] || { echo "FAIL: no replica was killed"; exit 1; }
# the victim had a request running when it was killed, so HAProxy replayed at least one request
# elsewhere (its counters, read from Prometheus); the comparison above covered its answer
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) + float(sys.argv[2]) >= 1 else 1)" \
    "$(field "$out/failover.txt" retries)" "$(field "$out/failover.txt" redispatches)" ||
    { echo "FAIL: HAProxy reports no retry or redispatch"; exit 1; }
echo "cluster smoke: passed"
