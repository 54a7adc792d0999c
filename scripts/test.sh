#!/usr/bin/env bash
# Builds itscale and runs every test: the full suite (unit + statistical + CLI + install checks,
# the fuzz corpus replay among the unit tests), the unit and statistical suites again under
# AddressSanitizer + UndefinedBehaviorSanitizer, the threaded suites under ThreadSanitizer, the
# core suites under valgrind memcheck, and the Python package's tests (pytest).
# ITS_FUZZ_SECONDS=N (default 0) also builds the libFuzzer targets with clang and runs each for
# N seconds from its corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
its_ensure_packages

jobs=$(nproc)
phase_start=$SECONDS
phase_name=""
declare -a phase_log=()
phase() {
    if [ -n "$phase_name" ]; then
        phase_log+=("$(printf '%-34s %5ds' "$phase_name" $((SECONDS - phase_start)))")
    fi
    phase_name="$1"
    phase_start=$SECONDS
    [ -n "$1" ] && echo "== $1" >&2
    return 0
}
report() {
    phase ""
    echo "== phase times" >&2
    printf '   %s\n' "${phase_log[@]}" >&2
    echo "   total $SECONDS s" >&2
}
trap report EXIT

phase "build (RelWithDebInfo)"
cmake -S . -B build/test -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/test -j"$jobs" >/dev/null
phase "tests"
ctest --test-dir build/test -j"$jobs" --output-on-failure --timeout 900

# The Python package, installed into a fresh virtual environment over Debian's python3-torch,
# numpy and cffi (offline: built in pip's isolated environment by the package's own backend,
# python/_build/itscale_build.py, which needs nothing from an index), tested against this build's
# library and command line. pytest's exit status 5 (nothing collected) is a failure too.
phase "Python package (pytest)"
pyenv=build/test/pyvenv
rm -rf "$pyenv"
/usr/bin/python3 -m venv --system-site-packages "$pyenv"
"$pyenv/bin/pip" install --quiet --no-index ./python
pyrc=0
ITSCALE_LIBRARY="$PWD/build/test/libitscale.so.0" ITSCALE_CLI="$PWD/build/test/examples/itscale/itscale" \
    "$pyenv/bin/python" -m pytest -q -p no:cacheprovider python/tests || pyrc=$?
if [ "$pyrc" -eq 5 ]; then
    echo "pytest collected no tests from python/tests" >&2
    exit 1
elif [ "$pyrc" -ne 0 ]; then
    exit "$pyrc"
fi

phase "build (ASan + UBSan)"
cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DITS_SANITIZE=ON -DITS_BUILD_BENCH=OFF >/dev/null
cmake --build build/asan -j"$jobs" >/dev/null
phase "tests under ASan + UBSan (unit, stat)"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build/asan -j"$jobs" -L "unit|stat" --output-on-failure --timeout 900

# ThreadSanitizer: the suites that run threads (tests/test_threads*.c, label "threads"), the
# concurrent model calls (test_eval_waves) and the scheduler's.
phase "build (TSan)"
cmake -S . -B build/tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DITS_TSAN=ON -DITS_BUILD_BENCH=OFF \
    >/dev/null
tsan_targets=()
for f in tests/test_threads*.c tests/test_eval_waves.c tests/test_sched.c; do
    [ -f "$f" ] && tsan_targets+=("$(basename "$f" .c)")
done
cmake --build build/tsan -j"$jobs" --target "${tsan_targets[@]}" >/dev/null
phase "tests under TSan"
tsan_re="^($(IFS='|'; echo "${tsan_targets[*]}"))\$"
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
    ctest --test-dir build/tsan -R "$tsan_re" --output-on-failure --timeout 900

# valgrind memcheck on the core suites (the RelWithDebInfo binaries, no sanitizer runtime).
phase "valgrind memcheck (core suites)"
for t in test_api test_engine test_dynamics test_rng test_latent_cache; do
    bin=build/test/tests/$t
    [ -x "$bin" ] || { echo "missing $bin" >&2; exit 1; }
    echo "   valgrind $t" >&2
    valgrind --quiet --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
        "$bin" >/dev/null
done

# The fuzz corpus replay (also part of the unit label above), on its own so its time shows.
phase "fuzz corpus replay (ASan)"
ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build/asan -L fuzz --output-on-failure --timeout 300

if [ "${ITS_FUZZ_SECONDS:-0}" -gt 0 ]; then
    phase "libFuzzer (${ITS_FUZZ_SECONDS}s per target)"
    CC=clang cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DITS_FUZZ=ON \
        -DITS_BUILD_BENCH=OFF >/dev/null
    cmake --build build/fuzz -j"$jobs" --target fuzz_config fuzz_result_json fuzz_sched_params \
        fuzz_weights fuzz_idx fuzz_request >/dev/null
    # every target tests/fuzz/CMakeLists.txt defines; the JSON ones with the JSON dictionary
    for t in config result_json sched_params weights idx request; do
        corpus=tests/fuzz/corpus/$t
        dict=-dict=tests/fuzz/config.dict
        case "$t" in weights | idx) dict="" ;; esac
        [ "$t" = result_json ] && corpus="tests/fuzz/corpus/config tests/fuzz/corpus/result"
        [ "$t" = sched_params ] && corpus=tests/fuzz/corpus/sched
        work=build/fuzz/work/$t
        mkdir -p "$work"
        # shellcheck disable=SC2086
        build/fuzz/tests/fuzz/fuzz_$t -max_total_time="$ITS_FUZZ_SECONDS" -timeout=20 \
            $dict -artifact_prefix=build/fuzz/work/$t- "$work" $corpus \
            2>&1 | tail -n 3
    done
fi
