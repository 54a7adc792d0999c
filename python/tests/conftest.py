"""Shared fixtures: the library and CLI of a build tree, and the command line's gmm task
rebuilt in Python (the same means, model and verifier, bit for bit)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


def _find(rel: str) -> Optional[Path]:
    for sub in ("build/test", "build/dev", "build/release", "build"):
        p = REPO / sub / rel
        if p.exists():
            return p
    return None


if "ITSCALE_LIBRARY" not in os.environ:
    lib = _find("libitscale.so.0")
    if lib is not None:
        os.environ["ITSCALE_LIBRARY"] = str(lib)


@pytest.fixture(scope="session")
def cli() -> Path:
    """The itscale command line of the build tree (ITSCALE_CLI overrides)."""
    p = os.environ.get("ITSCALE_CLI")
    path = Path(p) if p else _find("examples/itscale/itscale")
    if path is None or not path.exists():
        pytest.fail("itscale CLI not found: build the tree or set ITSCALE_CLI")
    return path


@pytest.fixture(scope="session")
def build_dir(cli: Path) -> Path:
    """The build tree the CLI belongs to."""
    return cli.parents[2]


def splitmix64(state: int):
    """The generator task_gmm.c lays the means out with."""
    mask = (1 << 64) - 1
    while True:
        state = (state + 0x9E3779B97F4A7C15) & mask
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        yield z ^ (z >> 31)


class GmmTask:
    """The command line's ``gmm`` task with its default settings: ``modes`` common components,
    one rare narrow target, r(x) = -a |x - c|^2 with c = mu_T + pull (mu_0 - mu_T)."""

    def __init__(self, dim=64, modes=4, w_target=0.002, sep=1.0, std=1.0, target_std=0.3,
                 a=0.2, pull=0.3, seed=7):
        import itscale
        k = modes + 1
        self.dim, self.k, self.target, self.a = dim, k, k - 1, a
        rng = splitmix64(seed)
        mu = np.empty((k, dim))
        for i in range(k):
            for j in range(dim):
                mu[i, j] = sep if (next(rng) >> 63) else -sep
        w = np.array([(1.0 - w_target) / (k - 1)] * (k - 1) + [w_target])
        sd = np.array([std] * (k - 1) + [target_std])
        self.mu, self.sd, self.logw = mu, sd, np.log(w)
        self.c = mu[k - 1] + pull * (mu[0] - mu[k - 1])
        self.gmm = itscale.Gmm(w, mu, sd)

    def log_posterior_target(self, x):
        """log p(target | x) at t = 0 for each row (as task_gmm.c's metric, in double)."""
        x = np.asarray(x, dtype=np.float64)
        d2 = ((x[:, None, :] - self.mu[None]) ** 2).sum(axis=2)
        v = self.sd ** 2
        lp = self.logw - 0.5 * d2 / v - 0.5 * self.dim * np.log(2 * np.pi * v)
        mx = lp.max(axis=1, keepdims=True)
        lse = mx[:, 0] + np.log(np.exp(lp - mx).sum(axis=1))
        return lp[:, self.target] - lse

    # Python callables (through the bridge)
    def model(self, x, t):
        return self.gmm.predict(x, t)

    def score(self, x0):
        d = x0.astype(np.float64) - self.c
        # sequential sum, as the C loop adds (cumsum keeps the order; sum() would pair up)
        r2 = np.cumsum(d * d, axis=1)[:, -1]
        return (-(self.a * r2)).astype(np.float32)

    def grad(self, x0):
        d = x0.astype(np.float64) - self.c
        return ((-2.0 * self.a) * d).astype(np.float32), self.score(x0)


@pytest.fixture(scope="session")
def gmm_task() -> GmmTask:
    return GmmTask()
