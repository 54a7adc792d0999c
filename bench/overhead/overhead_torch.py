#!/usr/bin/env python3
"""PyTorch reference for bench_overhead: the same Euler steps on a null model, on the CPU with the
same thread count, and torch.randn's throughput; prints the ratios against bench_overhead's "KV"
lines.

Usage: overhead_torch.py --ours FILE   (FILE: bench_overhead's output; sizes are read from it)
"""
import argparse
import math
import time

import torch


def read_kv(path):
    kv = {}
    with open(path) as f:
        for line in f:
            if line.startswith("KV "):
                _, key, val = line.split()
                kv[key] = float(val)
    return kv


def grid(steps):
    return [1.0 - k / steps for k in range(steps + 1)]


def null_model(x, t, out):
    out.zero_()  # the same null model as bench_overhead: writes zeros
    return out


def time_loop(step, x, u, steps, reps):
    """Best over reps of the seconds spent in `step` for one trajectory (model time excluded)."""
    best = math.inf
    for _ in range(reps + 1):
        ts = grid(steps)
        x0 = x.clone()
        spent = 0.0
        for k in range(steps):
            null_model(x0, ts[k], u)
            t0 = time.perf_counter()
            x0 = step(x0, u, ts[k], ts[k + 1])
            spent += time.perf_counter() - t0
        best = min(best, spent)
    return best


# Linear interpolant (alpha = 1 - t, sigma = t), g(t) = 3 t^2: the library's defaults.
def ode_step(x, u, t, s):
    return x + (s - t) * u


def sde_step(x, u, t, s):
    # x_s = x_t - dt (u - g^2/2 score) + g sqrt(dt) z, score from the velocity (DESIGN.md §4.1, 4.2)
    dt = t - s
    a, sg, da, ds = 1.0 - t, t, -1.0, 1.0
    g = 3.0 * t * t
    score = (a * u - da * x) / (sg * (da * sg - a * ds))
    drift = u - 0.5 * g * g * score
    return x - dt * drift + g * math.sqrt(dt) * torch.randn_like(x)


def sde_step_inplace(x, u, t, s):
    # the same step with the coefficients folded by hand: x = A x + B u + C z, in place
    dt = t - s
    a, sg, da, ds = 1.0 - t, t, -1.0, 1.0
    g = 3.0 * t * t
    k = 0.5 * g * g / (sg * (da * sg - a * ds))
    A = 1.0 + dt * k * (-da)
    B = -dt * (1.0 - k * a)
    C = g * math.sqrt(dt)
    return x.mul_(A).add_(u, alpha=B).add_(torch.randn_like(x), alpha=C)


def randn_ns(n, reps):
    buf = torch.empty(n)
    best = math.inf
    for _ in range(reps + 1):
        t0 = time.perf_counter()
        torch.randn(n, out=buf)
        best = min(best, time.perf_counter() - t0)
    return 1e9 * best / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", required=True)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    kv = read_kv(args.ours)
    threads = int(kv["threads"])
    batch = int(kv["batch"])
    steps = int(kv["steps"])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    dims = sorted({int(k.split(".")[0][3:]) for k in kv if k.startswith("dim")})
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {batch}, "
          f"{steps} steps, best of {args.reps} after a warm-up; times per NFE (one row)")
    for dim in dims:
        x = torch.randn(batch, dim)
        u = torch.empty(batch, dim)
        nfe = batch * steps
        t_ode = 1e6 * time_loop(ode_step, x, u, steps, args.reps) / nfe
        t_sde = 1e6 * time_loop(sde_step, x, u, steps, args.reps) / nfe
        t_sdi = 1e6 * time_loop(sde_step_inplace, x, u, steps, args.reps) / nfe
        r_torch = randn_ns(batch * dim, 50)
        p = f"dim{dim}."
        ours = {m: kv.get(p + m + ".lib_us") for m in
                ("none_ode", "none_sde", "best_of_n_ode", "best_of_n_sde", "fk_smc_sde",
                 "rbf_sde")}
        print(f"\ndim {dim}")
        print(f"  torch ode step          {t_ode:9.2f} us/NFE")
        print(f"  torch sde step          {t_sde:9.2f} us/NFE   (in place, folded: {t_sdi:.2f})")
        print(f"  torch.randn             {r_torch:9.3f} ns/value")
        print("  ratios (target):")
        ode = ours["best_of_n_ode"]
        if ode:
            print(f"    best_of_n ode  lib / memory bound        "
                  f"{ode / kv[p + 'best_of_n_ode.bound_us']:6.2f}x   (<= 1.3)")
            print(f"    torch ode / best_of_n ode                "
                  f"{t_ode / ode:6.2f}x")
        if ours["none_ode"]:
            print(f"    none ode       lib / memory bound        "
                  f"{ours['none_ode'] / kv[p + 'none_ode.bound_us']:6.2f}x   (<= 1.5)")
        for m in ("best_of_n_sde", "none_sde", "fk_smc_sde", "rbf_sde"):
            if ours[m]:
                print(f"    torch sde / {m:14s}               {t_sde / ours[m]:6.2f}x   "
                      f"{'(>= 4)' if m in ('best_of_n_sde', 'none_sde') else '      '}"
                      f"  in place: {t_sdi / ours[m]:.2f}x"
                      f"{'   (>= 2.5)' if m == 'best_of_n_sde' else ''}")
            else:
                print(f"    {m}: not measured (method not registered)")
        print(f"    torch.randn / its_randn (ns per value)   "
              f"{r_torch / kv[p + 'its_randn_ns']:6.2f}x   (>= 3)")


if __name__ == "__main__":
    main()
