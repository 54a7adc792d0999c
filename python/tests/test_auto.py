"""Tuning a policy through the Python bridge and running `auto` from Python.

On the gmm task the Python callables are bit-identical to the command line's C task, so a
tuning from Python must measure exactly what `itscale tune` measures: the same entries, means
and standard errors. A one-entry policy tuned at the request's budget must give the samples of
its method bit for bit (include/itscale/auto.h), through the Python path too.
"""
from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

import itscale

BUDGETS = [100, 300]
SAMPLERS = ["best_of_n", "fk_smc", "local_search"]


def _adapters(T):
    return (itscale.Model(T.model, dim=T.dim, framework="numpy"),
            itscale.Verifier(T.score, grad=T.grad, framework="numpy"))


@pytest.fixture(scope="module")
def tuned(gmm_task):
    m, v = _adapters(gmm_task)
    return itscale.tune(m, v, BUDGETS, seeds=2, samplers=SAMPLERS, label="gmm from Python",
                        report=True)


def test_grid_and_filter():
    grid = itscale.tune_candidates()
    assert len(grid) >= 20 and all("sampler" in d for d in grid)
    only = itscale.tune_candidates(["fk_smc"])
    assert only and {d["sampler"] for d in only} == {"fk_smc"}
    assert only == [d for d in grid if d["sampler"] == "fk_smc"]


def test_tune_matches_cli(cli, tuned, tmp_path):
    """The same candidates, budgets and seeds as `itscale tune` on the gmm task: the same
    policy entries (methods, parameters, ranges, means, SEs, runner-ups) and measurements."""
    policy, report = tuned
    subprocess.run([str(cli), "tune", "--task", "gmm", "--nfe", ",".join(map(str, BUDGETS)),
                    "--seeds", "2", "--samplers", ",".join(SAMPLERS), "--out", str(tmp_path)],
                   check=True, capture_output=True, text=True)
    want = json.loads((tmp_path / "policy.json").read_text())
    assert policy["label"] == "gmm from Python"
    assert policy["entries"] == want["entries"]
    assert [e["tuned_at"] for e in policy["entries"]] == BUDGETS
    tuning = json.loads((tmp_path / "tuning.json").read_text())
    assert report.budgets == BUDGETS
    assert report.candidates == [c["config"] for c in tuning["candidates"]]
    assert report.mean.shape == (len(BUDGETS), len(report.candidates))
    for i, c in enumerate(tuning["candidates"]):
        for b, at in enumerate(c["at"]):
            assert report.count[b, i] == at["n"]
            if at["n"]:
                assert report.mean[b, i] == pytest.approx(at["mean"], rel=1e-14, abs=0)
    assert report.nfe > 0 and report.runs == tuning["tuning"]["runs"]


def test_load_policy_round_trip_and_errors(tuned):
    policy, _ = tuned
    assert itscale.load_policy(policy) == policy
    assert itscale.load_policy(json.dumps(policy)) == policy
    bad = json.loads(json.dumps(policy))
    bad["entries"][1]["params"]["no_such_key"] = 1
    with pytest.raises(itscale.ConfigError, match=r"entries\[1\]\.params"):
        itscale.load_policy(bad)


@pytest.mark.parametrize("entry", [0, 1])
@pytest.mark.parametrize("seed", [0, 3])
def test_one_entry_policy_is_its_method(gmm_task, tuned, entry, seed):
    """A one-entry policy tuned at the request's budget runs its method unsized: samples,
    scores and usage bit-identical to that method's own run from Python."""
    policy, _ = tuned
    e = dict(policy["entries"][entry])
    e["nfe"] = [1, None]
    one = {k: v for k, v in policy.items() if k != "entries"}
    one["entries"] = [e]
    budget = e["tuned_at"]
    m, v = _adapters(gmm_task)
    auto = itscale.generate(m, v, sampler="auto", params={"policy": one}, max_nfe=budget,
                            seed=seed)
    direct = itscale.generate(m, v, sampler=e["sampler"], params=e["params"],
                              run=e.get("run"), max_nfe=budget, seed=seed)
    assert json.loads(auto.to_json())["sampler"] == e["sampler"]
    assert auto.samples.view(np.uint32).tolist() == direct.samples.view(np.uint32).tolist()
    np.testing.assert_array_equal(auto.scores, direct.scores)
    assert auto.trace == direct.trace
    assert (auto.usage.nfe, auto.usage.model_calls, auto.usage.verifier_rows) == \
        (direct.usage.nfe, direct.usage.model_calls, direct.usage.verifier_rows)
    why = json.loads(auto.to_json())["auto"]
    assert why["mode"] == "policy" and why["tuned_at"] == budget


@pytest.mark.parametrize("method,params", [("rbf", {"chains": 2}), ("fk_smc", {"n": 4}),
                                           ("best_of_n", {"n": 3})])
def test_hand_made_policy_is_its_method(gmm_task, tuned, method, params):
    """The same for a policy written by hand around any method."""
    policy, _ = tuned
    e = dict(policy["entries"][0])
    e.update(nfe=[1, None], tuned_at=200, sampler=method, params=params)
    e.pop("runner_up", None)
    e["run"] = {"dynamics": {"kind": "sde"}} if method != "best_of_n" else {}
    one = itscale.load_policy({"version": 1, "entries": [e]})
    m, v = _adapters(gmm_task)
    auto = itscale.generate(m, v, sampler="auto", params={"policy": one}, max_nfe=200, seed=1)
    direct = itscale.generate(m, v, sampler=method, params=params, run=e["run"], max_nfe=200,
                              seed=1)
    assert auto.samples.view(np.uint32).tolist() == direct.samples.view(np.uint32).tolist()
    np.testing.assert_array_equal(auto.scores, direct.scores)
    assert auto.usage.nfe == direct.usage.nfe


def test_progress_cancels_and_errors_propagate(gmm_task):
    m, v = _adapters(gmm_task)
    seen = []

    def stop(done, total, what):
        seen.append((done, total, what))
        return done >= 2

    with pytest.raises(KeyboardInterrupt):
        itscale.tune(m, v, [100], seeds=2, samplers=["best_of_n"], progress=stop)
    assert [d for d, _, _ in seen] == [1, 2] and seen[0][1] >= 2 and seen[0][2]

    calls = [0]

    def boom(x, t):
        calls[0] += 1
        if calls[0] == 3:
            raise RuntimeError("third call")
        return gmm_task.model(x, t)

    with pytest.raises(RuntimeError, match="third call"):
        itscale.tune(boom, v, [100], seeds=2, samplers=["best_of_n"], dim=gmm_task.dim,
                     framework="numpy")
    with pytest.raises(ValueError):
        itscale.tune(m, v, [100], select="median")
    with pytest.raises(itscale.ConfigError):
        itscale.tune(m, v, [100], seeds=2, candidates=[{"sampler": "best_of_n",
                                                        "params": {"bogus": 1}}])
