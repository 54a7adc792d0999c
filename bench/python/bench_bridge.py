#!/usr/bin/env python3
"""Overhead of the Python bridge, side by side in one process (not a test: nothing asserted).

1. Per model call: the same sampler (best_of_n, 8 rows per call, ODE, dim 16,384) on a null
   model, once with a C callback (libits_bench_null.so, memset to zero) and once through the
   bridge with Python callables doing the same (torch and numpy; writing into the library's
   buffer, or returning a new array that the bridge copies in). Overhead per call =
   (median run time - the C run's) / model calls; latent bytes copied on the way in from the
   bridge's own count.
2. The library + bridge share of the total time with the torch digits flow model at 500 NFE:
   the library's time (usage.library_s) plus the bridge's (callback time the library measured
   minus the time spent inside the torch module and classifier), over the run's total; with
   OpenBLAS (torch's matrix products) on one thread, as everything else, and alternating run by
   run with OpenBLAS's default thread count where that differs.
3. Where a model call's time goes in such a run (best_of_n): the crossing (the library's timer
   less the Python adapter's), the adapter's own work around the forward, the forward; and the
   same adapter's time in a warm loop, for comparison.
4. What two of the package's choices are worth in such runs, paired: runs as the package makes
   them, alternated with runs whose context keeps only blocks of 64 KiB and more (the library's
   default: fresh buffers every run, so fresh tensor views) and with runs given a progress
   callable that does nothing (what asking for progress costs: a crossing into Python and a
   Progress object after every model call; runs without one cancel on Ctrl-C through the
   library's cancel flag and cross nothing). The share here is everything outside the torch
   calls over the total.

Usage: bench_bridge.py [--build DIR] [--weights DIR] [--dim 16384] [--batch 8] [--steps 100]
                       [--reps 9] [--nfe 500]
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import cffi
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]


def cpu_model() -> str:
    """The CPU's name, with its AMD core generation from the family number (a virtual machine
    may name it only "AMD EPYC")."""
    info = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            k, _, v = line.partition(":")
            info.setdefault(k.strip(), v.strip())
    except OSError:
        return platform.processor() or "unknown"
    name = info.get("model name", platform.processor() or "unknown")
    gen = {23: "Zen 1/2", 25: "Zen 3/4", 26: "Zen 5"}.get(int(info.get("cpu family", "0") or 0))
    if info.get("vendor_id") == "AuthenticAMD" and gen:
        name += f" ({gen}, family {info['cpu family']})"
    return name


def simd_path() -> str:
    """The noise path the library dispatches to, by its rule (src/rng/normal.c)."""
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    if {"avx512f", "avx512vl", "avx512bw", "avx512dq"} <= flags:
        return "avx512"
    return "avx2" if "avx2" in flags else "generic"


class _OpenBLAS:
    """Every OpenBLAS the process has loaded (Debian's torch does its matrix products there, and
    the library links it; normally one), set and read together."""

    def __init__(self, libs):
        self.libs = libs

    def get(self) -> int:
        return self.libs[0].openblas_get_num_threads()

    def set(self, n: int) -> None:
        for lib in self.libs:
            lib.openblas_set_num_threads(n)


def openblas():
    """The process's OpenBLAS libraries as an _OpenBLAS, or None when none is loaded."""
    import ctypes
    paths = []
    for line in Path("/proc/self/maps").read_text().splitlines():
        f = line.split(maxsplit=5)
        path = f[5].removesuffix(" (deleted)") if len(f) == 6 else ""
        if "libopenblas" in Path(path).name and path not in paths:
            paths.append(path)
    libs = [lib for lib in map(ctypes.CDLL, paths) if hasattr(lib, "openblas_set_num_threads")]
    return _OpenBLAS(libs) if libs else None


def find_build(arg: str | None) -> Path:
    for d in ([Path(arg)] if arg else []) + [REPO / "build" / s for s in
                                             ("release", "bench", "dev", "test")]:
        if (d / "libitscale.so.0").exists() and (d / "bench/python/libits_bench_null.so").exists():
            return d
    sys.exit("bench_bridge: no build tree with libitscale.so.0 and bench/python/"
             "libits_bench_null.so; build one (cmake --build BUILD) and pass --build BUILD")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build")
    ap.add_argument("--weights", help="folder with flow.itsw and verifier.itsw")
    ap.add_argument("--dim", type=int, default=16384)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--nfe", type=int, default=500)
    a = ap.parse_args()
    build = find_build(a.build)
    os.environ.setdefault("ITSCALE_LIBRARY", str(build / "libitscale.so.0"))
    sys.path.insert(0, str(REPO / "python"))
    import itscale
    from itscale._lib import ffi
    torch.set_num_threads(1)
    # torch.set_num_threads does not reach OpenBLAS's own threads, which Debian's torch uses for
    # its matrix products: they are pinned to one too (its idle workers spin after every product,
    # on the cores the run's thread uses), and section 2 also runs at OpenBLAS's default.
    ob = openblas()
    blas_default = ob.get() if ob else 0
    if ob:
        ob.set(1)
    blas = (f"OpenBLAS 1 thread (its default here: {blas_default})" if ob
            else "no OpenBLAS loaded")

    print(f"machine: {cpu_model()}, {os.cpu_count()} cpus; SIMD path {simd_path()}; "
          f"library {itscale.library_version} ({itscale.library_path}); torch {torch.__version__} "
          f"(1 thread; {blas}); numpy {np.__version__}; Python {platform.python_version()}")

    # ---- 1. per-call overhead -------------------------------------------------------------
    nffi = cffi.FFI()
    nffi.cdef("int its_bench_null_eval(void *, const float *, const float *, size_t, float *);"
              "int its_bench_null_score(void *, const float *, size_t, float *);")
    nlib = nffi.dlopen(str(build / "bench/python/libits_bench_null.so"))
    dim_box = ffi.new("size_t *", a.dim)
    cm = ffi.new("its_model *")
    from itscale._lib import lib
    lib.its_model_init(cm)
    cm.dim = a.dim
    cm.eval = ffi.cast("int(*)(void *, const float *, const float *, size_t, float *)",
                       int(nffi.cast("uintptr_t", nffi.addressof(nlib, "its_bench_null_eval"))))
    cm.user = dim_box
    cv = ffi.new("its_verifier *")
    lib.its_verifier_init(cv)
    cv.score = ffi.cast("int(*)(void *, const float *, size_t, float *)",
                        int(nffi.cast("uintptr_t", nffi.addressof(nlib, "its_bench_null_score"))))
    c_model = itscale.NativeModel(cm, (nlib, dim_box), (a.dim,))
    c_ver = itscale.NativeVerifier(cv, nlib)

    variants = [
        ("C callback (memset)", c_model, c_ver),
        ("torch, no-op (the bridge alone)",
         itscale.Model(lambda x, t, out: None, dim=a.dim, writes_out=True),
         lambda x: torch.zeros(x.shape[0])),
        ("torch, writes out (out.zero_())",
         itscale.Model(lambda x, t, out: out.zero_(), dim=a.dim, writes_out=True),
         lambda x: torch.zeros(x.shape[0])),
        ("torch, returns a tensor (zeros_like)",
         itscale.Model(lambda x, t: torch.zeros_like(x), dim=a.dim),
         lambda x: torch.zeros(x.shape[0])),
        ("numpy, no-op (the bridge alone)",
         itscale.Model(lambda x, t, out: None, dim=a.dim, writes_out=True, framework="numpy"),
         itscale.Verifier(lambda x: np.zeros(x.shape[0], np.float32), framework="numpy")),
        ("numpy, writes out (out.fill(0))",
         itscale.Model(lambda x, t, out: out.fill(0), dim=a.dim, writes_out=True,
                       framework="numpy"),
         itscale.Verifier(lambda x: np.zeros(x.shape[0], np.float32), framework="numpy")),
        ("numpy, returns an array (zeros_like)",
         itscale.Model(lambda x, t: np.zeros_like(x), dim=a.dim, framework="numpy"),
         itscale.Verifier(lambda x: np.zeros(x.shape[0], np.float32), framework="numpy")),
    ]
    s = itscale.Sampler("best_of_n", {"n": a.batch}, {"steps": a.steps})
    print(f"\n1. per model call: best_of_n, {a.batch} rows per call, dim {a.dim:,}, {a.steps} "
          f"ODE steps; {a.reps} rounds, each running every variant once in turn; medians")
    for _, m, v in variants:
        s.run(m, v, seed=0)  # warm-up
    cb = [[] for _ in variants]    # the model callback's time per call, as the library timed it
    libs = [[] for _ in variants]
    last = [None] * len(variants)
    for rep in range(a.reps):
        for i, (_, m, v) in enumerate(variants):
            r = s.run(m, v, seed=rep)
            cb[i].append(r.usage.model_s / r.usage.model_calls)
            libs[i].append(r.usage.library_s / r.usage.model_calls)
            last[i] = r
    s.close()
    print(f"   {'model callback':40s} {'callback us':>11s} {'overhead us':>11s} "
          f"{'library us':>10s} {'latent bytes in':>15s} {'bytes out/call':>14s}")
    for i, (name, _, _) in enumerate(variants):
        over = statistics.median(x - c for x, c in zip(cb[i], cb[0])) * 1e6
        r = last[i]
        st = r.model_stats
        calls = r.usage.model_calls
        print(f"   {name:40s} {statistics.median(cb[i]) * 1e6:11.2f} {over:11.2f} "
              f"{statistics.median(libs[i]) * 1e6:10.2f} {st.bytes_in:15d} "
              f"{st.bytes_out // calls:14d}")
    print("   callback us: the model callback's time per call as the library measures it "
          "(usage.model_s / calls);\n   overhead: median over rounds of (that - the C "
          "callback's in the same round); library us: the library's own time per call")

    # ---- 2. share with the torch digits model -----------------------------------------------
    from itscale.digits import DigitsClassifier, DigitsFlow
    wdir = Path(a.weights) if a.weights else build / "digits"
    if not (wdir / "flow.itsw").exists():
        print(f"\n2. skipped: no {wdir}/flow.itsw (train with "
              f"{build}/examples/digits/itscale-digits-train --out {wdir}, or pass --weights)")
        return
    flow = DigitsFlow.load(wdir / "flow.itsw")
    clf = DigitsClassifier.load(wdir / "verifier.itsw", target=3)

    class Timed:
        def __init__(self, f):
            self.f, self.t = f, 0.0

        def __call__(self, *args):
            t0 = time.perf_counter()
            y = self.f(*args)
            self.t += time.perf_counter() - t0
            return y

    T = 20
    runs = [("best_of_n", {"n": a.nfe // T}), ("fk_smc", {"n": a.nfe // T}),
            ("rbf", {"chains": 2, "init": max(1, a.nfe // 20)}),
            ("rbf spec=16", {"chains": 2, "init": max(1, a.nfe // 20), "speculative": 16}),
            ("svdd", {"n": 2, "children": max(1, a.nfe // (2 * T))})]
    # Each OpenBLAS setting runs as a block of back-to-back runs (a warm-up run first, not
    # counted), as a host would run them; the blocks alternate sampler by sampler. OpenBLAS's
    # workers keep spinning for about 0.13 s after their last product (here; also after the
    # count is lowered), so with two settings a block starts after 0.25 s of busy waiting: the
    # workers of the block before are asleep by then, and the core is busy up to the run.
    settings = [1] + ([blas_default] if ob and blas_default != 1 else [])
    blas_note = (f"OpenBLAS threads {' and '.join(map(str, settings))}, a block of runs each"
                 if len(settings) > 1 else "OpenBLAS 1 thread" if ob else "no OpenBLAS loaded")
    print(f"\n2. torch digits model ({wdir}/flow.itsw, {sum(p.numel() for p in flow.parameters()):,}"
          f" parameters), {a.nfe} NFE, {T} steps, max_batch 64, median of {a.reps} runs; "
          f"{blas_note}")
    print(f"   {'sampler':12s} {'blas':>4s} {'NFE':>5s} {'calls':>5s} {'total ms':>9s} {'model ms':>9s} "
          f"{'verifier ms':>11s} {'library %':>9s} {'bridge %':>9s} {'lib+bridge %':>12s} "
          f"{'model br us':>11s} {'verif br us':>11s}")
    for name, params in runs:
        rows: dict = {k: [] for k in settings}
        with itscale.Sampler(name.split()[0], params, {"steps": T}, max_nfe=a.nfe) as s:
            for k in settings:
                if len(settings) > 1:
                    ob.set(k)
                    t_end = time.perf_counter() + 0.25
                    while time.perf_counter() < t_end:
                        pass
                for rep in range(a.reps + 1):
                    fm, fv = Timed(flow), Timed(clf.log_prob)
                    r = s.run(itscale.Model(fm, dim=64, max_batch=64), fv, seed=rep)
                    u = r.usage
                    bridge = (u.model_s - fm.t) + (u.verifier_s - fv.t)
                    if rep:  # the first run of a block warms up
                        rows[k].append((u.total_s, fm.t, fv.t, u.library_s, bridge, u.nfe,
                                        u.model_calls, (u.model_s - fm.t) / u.model_calls,
                                        (u.verifier_s - fv.t) / max(1, u.verifier_calls)))
        if len(settings) > 1:  # back to one thread, its workers asleep, for what follows
            ob.set(1)
            t_end = time.perf_counter() + 0.25
            while time.perf_counter() < t_end:
                pass
        for k in settings:
            rk = rows[k]
            med = lambda i: statistics.median(x[i] for x in rk)  # noqa: E731
            share = statistics.median((x[3] + x[4]) / x[0] for x in rk)
            # (columns: medians of each quantity; lib+bridge %: median of the per-run share)
            print(f"   {name:12s} {str(k) if ob else '-':>4s} {rk[-1][5]:5d} {rk[-1][6]:5d} {med(0) * 1e3:9.2f} "
                  f"{med(1) * 1e3:9.2f} {med(2) * 1e3:11.2f} {100 * med(3) / med(0):9.2f} "
                  f"{100 * med(4) / med(0):9.2f} {100 * share:12.2f} {med(7) * 1e6:11.2f} "
                  f"{med(8) * 1e6:11.2f}")
    print("   bridge: the callbacks' time as the library measured it minus the time inside the "
          "torch module and the\n   classifier; model br us, verif br us: that per model call "
          "and per verifier call (medians)")

    # ---- 3. where a model call's time goes ----------------------------------------------------
    from itscale import adapters
    acc = {"eval": 0.0}
    eval_torch = adapters.Model._eval_torch

    def timed_eval(self, *args):
        t0 = time.perf_counter()
        try:
            return eval_torch(self, *args)
        finally:
            acc["eval"] += time.perf_counter() - t0

    rows = []
    adapters.Model._eval_torch = timed_eval
    try:
        with itscale.Sampler("best_of_n", {"n": a.nfe // T}, {"steps": T}, max_nfe=a.nfe) as s:
            for rep in range(a.reps + 1):
                acc["eval"] = 0.0
                fm = Timed(flow)
                r = s.run(itscale.Model(fm, dim=64, max_batch=64), clf.log_prob, seed=rep)
                c = r.usage.model_calls
                rows.append(((r.usage.model_s - acc["eval"]) / c, (acc["eval"] - fm.t) / c,
                             fm.t / c))
        # the same adapter in a warm loop: a model returning a ready tensor, called directly
        n = a.nfe // T
        y = torch.zeros(n, 64)
        m = itscale.Model(lambda x, t: y, dim=64)
        bx, bt, bo = ffi.new("float[]", n * 64), ffi.new("float[]", n), ffi.new("float[]", n * 64)
        warm = []
        with torch.no_grad():  # as in a run, which enters it once
            for _ in range(5):
                acc["eval"] = 0.0
                for _ in range(2000):
                    m._eval_torch(ffi.NULL, bx, bt, n, bo)
                warm.append(acc["eval"] / 2000)
    finally:
        adapters.Model._eval_torch = eval_torch
    rows = rows[1:]
    med = lambda i: statistics.median(x[i] for x in rows) * 1e6  # noqa: E731
    print(f"\n3. where a model call's time goes: best_of_n, torch digits model, {a.nfe} NFE, "
          f"{T} steps, median of {a.reps} runs (us per call)")
    print(f"   crossing (library timer - Python adapter) {med(0):7.2f}")
    print(f"   Python adapter around the forward         {med(1):7.2f}")
    print(f"   forward (the torch module)                {med(2):7.2f}")
    print(f"   the same adapter in a warm loop           {min(warm) * 1e6:7.2f}   "
          f"(a model returning a ready [{n}, 64] tensor, best of 5 x 2000 calls)")

    # ---- 4. paired toggles ----------------------------------------------------------------------
    from itscale._lib import lib
    reps4 = max(a.reps, 3 * a.reps)
    print(f"\n4. the package's choices, paired: {a.nfe} NFE, {T} steps, {reps4} rounds, each running "
          "the three variants in turn; share = (total - time in torch) / total, medians")
    print(f"   {'sampler':10s} {'as made %':>10s} {'keep>=64KiB %':>14s} {'(paired +)':>11s} "
          f"{'progress fn %':>14s} {'(paired +)':>11s}")
    for name, params in runs[:2]:
        shares: dict = {0: [], 1: [], 2: []}
        samplers = [itscale.Sampler(name, params, {"steps": T}, max_nfe=a.nfe) for _ in range(3)]
        lib.its_ctx_set_latent_cache_min(samplers[1]._ctx.ptr, 64 << 10)
        try:
            for rep in range(reps4 + 1):
                for k, s in enumerate(samplers):
                    fm, fv = Timed(flow), Timed(clf.log_prob)
                    kw = {"progress": (lambda p: False)} if k == 2 else {}
                    r = s.run(itscale.Model(fm, dim=64, max_batch=64), fv, seed=rep, **kw)
                    if rep:  # the first round warms up
                        shares[k].append((r.usage.total_s - fm.t - fv.t) / r.usage.total_s)
        finally:
            for s in samplers:
                s.close()
        med = {k: 100 * statistics.median(v) for k, v in shares.items()}
        pair = {k: 100 * statistics.median(b - x for x, b in zip(shares[0], shares[k]))
                for k in (1, 2)}
        print(f"   {name:10s} {med[0]:10.2f} {med[1]:14.2f} {pair[1]:+11.2f} {med[2]:14.2f} "
              f"{pair[2]:+11.2f}")
    print("   (paired +): median over rounds of the variant's share less the share as made in the "
          "same round")


if __name__ == "__main__":
    main()
