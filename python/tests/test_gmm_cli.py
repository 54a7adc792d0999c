"""Runs through the Python bridge are bit-identical to the command line's on the gmm task.

For every sampler and two seeds, the CLI's own effective configuration (its JSON report's
"config") is run again from Python with Python callables for the model and the verifier:
scores, the anytime trace, the per-step records, the usage counts and the stop reason equal
the CLI's exactly. The CLI report carries no samples, so the samples are checked bit for bit
against the same configuration run in this process on the library's own C callbacks
(its_gmm_bind_model, its_gmm_bind_quadratic: the same arithmetic as the CLI task), whose scores
equal the CLI's too. The CLI's hit rate (a count) must match exactly, its mean log posterior
of the target to 1e-12 relative: numpy's exp/log may differ from the C library's by an ulp
(~1e-16 relative) per term, and a log-sum-exp of 5 terms over 64 dimensions cannot amplify that
past 1e-13.
"""
from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

import itscale

NFE = 200
SAMPLERS = [m.name for m in itscale.samplers()]


def _cli_run(cli, sampler, seed, extra=()):
    out = subprocess.run([str(cli), "run", "--task", "gmm", "--sampler", sampler, "--nfe",
                          str(NFE), "--seed", str(seed), "--json", *extra],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32))


def _f32(lst):
    return np.array([np.nan if v is None else v for v in lst], dtype=np.float32)


def _same_report(r, rep):
    """Equal to the CLI's report. Scores are float32 values (the verifier's); the CLI prints
    doubles through cJSON, which keeps 15 digits when they read back within one double epsilon,
    so doubles are compared to 2 ulp and float32 values after rounding to float32 (exact)."""
    np.testing.assert_array_equal(r.scores.astype(np.float32), _f32(rep["topk"]))
    assert [n for n, _ in r.trace] == [n for n, _ in rep["trace"]]
    np.testing.assert_array_equal(np.array([b for _, b in r.trace], dtype=np.float32),
                                  _f32([b for _, b in rep["trace"]]))
    assert [(s.step, s.quota, s.used) for s in r.steps] == \
        [(s["step"], s["quota"], s["used"]) for s in rep["steps"]]
    for s, c in zip(r.steps, rep["steps"]):
        assert abs(s.t - c["t"]) <= 4.5e-16 * max(1.0, abs(c["t"]))
    assert json.loads(r.to_json())["usage"] == rep["usage"]
    assert r.stop == rep["stop"] and r.status == rep["status"]


def test_every_sampler_is_covered():
    assert len(SAMPLERS) >= 12 and "rbf" in SAMPLERS and "fk_smc" in SAMPLERS


@pytest.mark.parametrize("seed", [0, 5])
@pytest.mark.parametrize("sampler", SAMPLERS)
@pytest.mark.parametrize("framework", ["numpy", "torch"])
def test_bit_identical_to_cli(cli, gmm_task, sampler, seed, framework):
    if framework == "torch":
        torch = pytest.importorskip("torch")
    rep = _cli_run(cli, sampler, seed)
    config = rep["config"]
    T = gmm_task
    if framework == "numpy":
        model = itscale.Model(T.model, dim=T.dim, framework="numpy")
        ver = itscale.Verifier(T.score, grad=T.grad, framework="numpy")
    else:
        model = itscale.Model(lambda x, t: torch.from_numpy(T.model(x.numpy(), t.numpy())),
                              dim=T.dim, framework="torch")

        def tgrad(x):
            g, s = T.grad(x.numpy())
            return torch.from_numpy(g), torch.from_numpy(s)
        ver = itscale.Verifier(lambda x: torch.from_numpy(T.score(x.numpy())), grad=tgrad,
                               framework="torch")
    with itscale.Sampler(config=config) as s:
        assert s.config == config
        r = s.run(model, ver, seed=seed)
        native = s.run(T.gmm.model(), T.gmm.quadratic(T.c, T.a), seed=seed)

    # against the CLI's report
    _same_report(r, rep)
    assert r.stop == rep["stop"] and r.status == rep["status"]
    assert r.usage.nfe <= NFE
    # samples against the library's own callbacks in this process
    samples = r.samples.numpy() if framework == "torch" else r.samples
    assert _same_bits(samples, native.samples)
    np.testing.assert_array_equal(native.scores, r.scores)
    _same_report(native, rep)
    # the CLI's metrics, recomputed from these samples
    resp = T.gmm.responsibilities(samples, t=0.0)
    assert np.mean(np.argmax(resp, axis=1) == T.target) == rep["metrics"]["hit_rate"]
    lp = np.mean(T.log_posterior_target(samples))
    want = rep["metrics"]["target_logprob"]
    assert abs(lp - want) <= 1e-12 * max(1.0, abs(want))


def test_top_k_and_other_settings(cli, gmm_task):
    """A configuration off the defaults (the exp grid, 10 steps, top 4) matches too."""
    T = gmm_task
    extra = ["--set", "run.top_k=4", "--set", "run.grid=exp", "--set", "params.n=8",
             "--set", "run.steps=10"]
    rep = _cli_run(cli, "fk_smc", 3, extra)
    with itscale.Sampler(config=rep["config"]) as s:
        r = s.run(T.model, itscale.Verifier(T.score, framework="numpy"), seed=3, dim=T.dim,
                  framework="numpy")
        native = s.run(T.gmm.model(), T.gmm.quadratic(T.c, T.a), seed=3)
    assert len(r.scores) == 4
    _same_report(r, rep)
    assert _same_bits(r.samples, native.samples)
