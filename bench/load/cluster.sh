#!/usr/bin/env bash
# Cluster benchmarks on loopback (examples/server/cluster/run.sh: HAProxy + Prometheus; every
# process started is stopped again):
#   scale-out: served throughput at the p95 SLA with 1, 2 and 4 replicas
#   cache:     key-cache hit ratio and p95 with consistent hashing against round robin
# Cluster figures (served, cache hits/misses) come from Prometheus' HTTP API; latency
# percentiles from the client.
#
# The model cost is EMULATED: --nfe-cost-us sleeps that long per model row, the way a GPU call
# looks from the CPU's side (a wait, not CPU work). That is what makes 4 replicas meaningful on a
# 2-core machine: the replicas' workers wait concurrently, and only the HTTP, JSON, HAProxy and
# sampler bookkeeping use the cores. The key preparation in the cache table is real CPU work.
#
#   bench/load/cluster.sh [BUILD_DIR] [scale|cache|all]     (about 5 minutes for all)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build/dev}
what=${2:-all}
server="$build/examples/server/itscale-server"
load="$build/examples/server/its-cluster-load"
run="$root/examples/server/cluster/run.sh"
[ -x "$server" ] && [ -x "$load" ] || { echo "build first: cmake --build $build" >&2; exit 2; }
sla=500
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
simd=$(grep -o -m1 -w 'avx512f' /proc/cpuinfo >/dev/null && echo "AVX-512" || echo "AVX2")
echo "machine: $cpu ($simd available), $(nproc) cores; haproxy $(haproxy -v | head -1 | awk '{print $3}'), prometheus $(prometheus --version 2>&1 | head -1 | awk '{print $3}')"

field() { sed -n "s/^RESULT .*\b$2=\([^ ]*\).*/\1/p" <<<"$1"; }

if [ "$what" = scale ] || [ "$what" = all ]; then
    # standard profile (best_of_n 4 x 20 steps = 80 NFE, 20 model calls of 4 rows); 1 ms per
    # row emulated: 80 ms a request, 2 workers a replica, so about 25 requests/s a replica.
    # Governor off: the table measures capacity for a fixed workload.
    cost=1000
    echo
    echo "scale-out: profile standard (80 NFE), emulated ${cost} us per NFE row, 2 workers a"
    echo "replica, governor off, balance leastconn + agent weights; 8 s per offered rate; SLA p95 ${sla} ms"
    printf "%-9s %9s %9s %9s %9s %7s\n" replicas "offered/s" "served/s" "p95 ms" "p99 ms" refused
    declare -A best
    for n in 1 2 4; do
        out=$("$run" --replicas "$n" --balance leastconn --server "$server" \
            --server-args "--workers 2 --nfe-cost-us $cost --no-governor --queue 256 --sla-ms $sla" -- \
            bash -c "for f in 0.6 0.8 0.9 1.0 1.1; do
                       r=\$(python3 -c \"print(round($n * 25 * \$f, 1))\")
                       \"$load\" load --rate \$r --seconds 8 --profile standard --sla-ms $sla || exit 1
                     done" 2>/dev/null | grep '^RESULT')
        best[$n]=0
        while read -r line; do
            rate=$(field "$line" rate); thr=$(field "$line" thr); p95=$(field "$line" p95)
            p99=$(field "$line" p99)
            refused=$(( $(field "$line" r429) + $(field "$line" r503) + $(field "$line" other) ))
            printf "%-9s %9s %9s %9s %9s %7s\n" "$n" "$rate" "$thr" "$p95" "$p99" "$refused"
            if python3 -c "import sys; sys.exit(0 if float('$p95') <= $sla and $refused == 0 else 1)"; then
                best[$n]=$(python3 -c "print(max(float('${best[$n]}'), float('$thr')))")
            fi
        done <<<"$out"
    done
    echo
    echo "throughput at p95 <= ${sla} ms (highest served/s among the offered rates that met it):"
    for n in 1 2 4; do
        python3 -c "b1=float('${best[1]}'); b=float('${best[$n]}'); print(f'  {$n} replica(s): {b:7.1f} req/s  ({b/b1 if b1 else float(\"nan\"):.2f}x one replica)')"
    done
fi

if [ "$what" = cache ] || [ "$what" = all ]; then
    # light profile (20 NFE of 1 row, 1 ms each emulated: 20 ms), 12 keys, 4 prepared keys per
    # worker, 3 replicas x 2 workers; a key's preparation builds its mixture and calibrates the
    # verifier on 20000 exact samples (real CPU work, timed by the server)
    echo
    echo "cache: 3 replicas x 2 workers, key cache 4 per worker, 12 keys drawn uniformly,"
    echo "profile light (20 NFE, 1 ms per NFE row emulated), 20 req/s for 15 s; preparation ="
    echo "the key's mixture + verifier calibration on 20000 exact samples (real CPU work)"
    printf "%-12s %9s %9s %9s %9s %9s %12s\n" balance "hit ratio" hits misses "p50 ms" "p95 ms" "prep ms/miss"
    for b in hash roundrobin; do
        line=$("$run" --replicas 3 --balance "$b" --server "$server" \
            --server-args "--workers 2 --nfe-cost-us 1000 --key-cache 4 --prep-draws 20000 --sla-ms $sla" -- \
            bash -c "\"$load\" load --rate 20 --seconds 15 --keys 12 --profile light --sla-ms $sla &&
                     curl -fsS \"\$ITS_PROM_URL/api/v1/query\" --data-urlencode \
                       'query=sum(itscale_key_cache_prepare_seconds_total) / sum(itscale_key_cache_misses_total)' |
                       sed -n 's/.*\"value\":\[[0-9.]*,\"\([^\"]*\)\"\].*/PREP \1/p'" 2>/dev/null | grep -E '^(RESULT|PREP)')
        r=$(grep '^RESULT' <<<"$line")
        prep=$(sed -n 's/^PREP //p' <<<"$line")
        printf "%-12s %9s %9s %9s %9s %9s %12.1f\n" "$([ "$b" = hash ] && echo consistent || echo "$b")" \
            "$(field "$r" hit_ratio)" "$(field "$r" hits)" "$(field "$r" misses)" \
            "$(field "$r" p50)" "$(field "$r" p95)" "$(python3 -c "print(1e3*float('${prep:-nan}'))")"
    done
fi
