#!/usr/bin/env python3
"""Inference-time search with a PyTorch flow model, diffusers-style.

Wraps the digits flow model (a torch module loading the project's .itsw weights) and a
classifier verifier (log p(digit 3 | x)), runs none / best_of_n / fk_smc / rbf at several NFE
budgets over a few seeds, and saves the quality-vs-compute plot (verifier score, and the
accuracy of a held-out classifier that the search never sees) and sample grids as PNG.

    python3 examples/python/digits_search.py [--weights DIR] [--out DIR] [--seeds 8]
                                             [--budgets 50,100,200,500,1000]

Weights: flow.itsw, verifier.itsw and evaluator.itsw in --weights (default: the build tree's
digits cache). Missing ones are trained with itscale-digits-train (a few minutes on 2 cores).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
try:
    import itscale
except ImportError:  # run from a source checkout without installing
    sys.path.insert(0, str(REPO / "python"))
    import itscale
from itscale.digits import DigitsClassifier, DigitsFlow

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

TARGET = 3
STEPS = 20
BUDGETS = [50, 100, 200, 500, 1000]


def find_weights(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    for sub in ("build/release", "build/dev", "build/test", "build"):
        d = REPO / sub / "digits"
        if (d / "flow.itsw").exists():
            return d
    return REPO / "build" / "digits"


def ensure_weights(d: Path) -> None:
    if all((d / f).exists() for f in ("flow.itsw", "verifier.itsw", "evaluator.itsw")):
        return
    trainer = next((p for p in (REPO / s / "examples/digits/itscale-digits-train"
                                for s in ("build/release", "build/dev", "build/test", "build"))
                    if p.exists()), None)
    if trainer is None:
        sys.exit("no weights and no itscale-digits-train: build the project first")
    d.mkdir(parents=True, exist_ok=True)
    print(f"training the digits models into {d} (a few minutes) ...")
    subprocess.run([str(trainer), "--out", str(d)], check=True)


def configs(nfe: int):
    """Each method sized for an NFE budget. best_of_n and fk_smc are given more particles
    than any budget pays for: the library fits them to the cap (n = floor(NFE / T)). rbf keeps
    its chains and takes init = floor(0.1 NFE / chains), its scale rule in itscale.samplers()."""
    yield "best_of_n", {"n": 65536}
    yield "fk_smc", {"n": 65536, "lambda": 10.0}
    yield "rbf", {"chains": 2, "init": max(1, nfe // 20)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", metavar="DIR",
                    help="folder of flow.itsw, verifier.itsw, evaluator.itsw (default: the build "
                         "tree's digits cache; missing files are trained there)")
    ap.add_argument("--out", default="out/python", metavar="DIR",
                    help="where the PNGs go (default: %(default)s)")
    ap.add_argument("--seeds", type=int, default=8, metavar="K",
                    help="seeds per point (default: %(default)s)")
    ap.add_argument("--budgets", default=",".join(map(str, BUDGETS)), metavar="N1,N2,...",
                    help="increasing NFE budgets for the search methods (default: %(default)s)")
    a = ap.parse_args()
    try:
        budgets = [int(x) for x in a.budgets.split(",")]
    except ValueError:
        ap.error(f"--budgets: expected whole numbers separated by commas, got {a.budgets!r}")
    if not budgets or budgets != sorted(set(budgets)) or budgets[0] < STEPS:
        ap.error(f"--budgets: expected increasing budgets of at least {STEPS} (one trajectory)")
    if a.seeds < 2:
        ap.error("--seeds: at least 2 (a standard error)")
    wdir = find_weights(a.weights)
    ensure_weights(wdir)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)

    # The model: any torch module model(x, t) -> velocity. The verifier: any x0 -> scores.
    flow = DigitsFlow.load(wdir / "flow.itsw")
    verifier = DigitsClassifier.load(wdir / "verifier.itsw", target=TARGET)
    evaluator = DigitsClassifier.load(wdir / "evaluator.itsw", target=TARGET)
    model = itscale.Model(flow, shape=(8, 8), max_batch=64)   # samples come back as 8 x 8

    def score(x0: torch.Tensor) -> torch.Tensor:
        return verifier.log_prob(x0)

    rows = []  # (method, nfe spent, budget, verifier mean, se, held-out accuracy mean, se)
    grids = {}
    runs = [("none", {}, STEPS)] + [(m, p, n) for n in budgets for m, p in configs(n)]
    for method, params, nfe in runs:
        sampler = itscale.Sampler(method, params, {"steps": STEPS}, max_nfe=nfe)
        ver, acc, spent, best = [], [], [], []
        for seed in range(a.seeds):
            r = sampler.run(model, score, seed=seed)
            with torch.no_grad():
                hit = evaluator(r.samples).argmax(1) == TARGET
            ver.append(r.scores[0])
            acc.append(float(hit[0]))
            spent.append(r.usage.nfe)
            best.append(r.samples[0])
        sampler.close()
        se = lambda v: float(np.std(v, ddof=1) / np.sqrt(len(v)))  # noqa: E731
        rows.append((method, float(np.mean(spent)), nfe, float(np.mean(ver)), se(ver),
                     float(np.mean(acc)), se(acc)))
        print(f"{method:10s} budget {nfe:5d}  NFE {np.mean(spent):7.1f}  "
              f"verifier log p {np.mean(ver):8.3f} +- {se(ver):.3f}  "
              f"held-out accuracy {np.mean(acc):.2f} +- {se(acc):.2f}")
        if nfe in (STEPS, max(budgets)):
            grids[method] = torch.stack(best)

    # quality against compute
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for method in ["none", "best_of_n", "fk_smc", "rbf"]:
        pts = [r for r in rows if r[0] == method]
        x = [p[1] for p in pts]
        for ax, i in ((axes[0], 3), (axes[1], 5)):
            ax.errorbar(x, [p[i] for p in pts], yerr=[p[i + 1] for p in pts], marker="o",
                        capsize=3, label=method)
    for ax, label in ((axes[0], f"verifier log p({TARGET} | x)"),
                      (axes[1], f"held-out accuracy (evaluator says {TARGET})")):
        ax.set_xscale("log")
        ax.set_xlabel("NFE (model rows)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle(f"digits flow model (PyTorch) searched by itscale, {a.seeds} seeds, "
                 "mean +- standard error")
    fig.tight_layout()
    fig.savefig(out / "quality_vs_compute.png", dpi=120)

    # samples: the best sample of each seed, per method (none at 20 NFE, the others at the
    # largest budget)
    fig, axes = plt.subplots(len(grids), 1, figsize=(a.seeds * 0.9, 1.2 * len(grids)))
    for ax, (method, xs) in zip(np.atleast_1d(axes), grids.items()):
        img = torch.cat([torch.nn.functional.pad(x, (1, 1, 1, 1), value=-1.0) for x in xs], 1)
        ax.imshow(-img.numpy(), cmap="gray", vmin=-1, vmax=1)  # dark ink on white
        ax.set_axis_off()
        ax.set_title(f"{method} ({STEPS if method == 'none' else max(budgets)} NFE)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "samples.png", dpi=120)
    print(f"wrote {out / 'quality_vs_compute.png'} and {out / 'samples.png'}")


if __name__ == "__main__":
    main()
