"""Sizing a method to a budget from Python: itscale.fit and fit=True ask the library's cost model
(its_cost_fit_json), the same function `itscale run --nfe` uses."""
from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

import itscale

DIM = 16


def lin(x, t):
    return -x


def score(x0):
    return -(x0.astype(np.float64) ** 2).sum(axis=1)


def test_fit_scales_the_size_parameter():
    cfg = itscale.fit({"sampler": "best_of_n", "run": {"steps": 20}}, 500)
    assert cfg["run"]["budget"]["max_nfe"] == 500
    assert cfg["params"]["n"] == 25  # n = floor(NFE / T)
    # the fitted configuration plans exactly the budget, and the input was not modified
    with itscale.Sampler(config=cfg) as s:
        assert s.cost()["planned"] == 500


def test_fit_below_the_minimum_is_a_budget_error():
    with pytest.raises(itscale.BudgetError):
        itscale.fit({"sampler": "best_of_n", "run": {"steps": 20}}, 10)


def test_fit_bad_config_names_the_path():
    with pytest.raises(itscale.ConfigError, match="params"):
        itscale.fit({"sampler": "best_of_n", "params": {"nope": 1}}, 500)


def test_generate_fit_spends_the_budget():
    capped = itscale.generate(lin, score, sampler="best_of_n", run={"steps": 5}, max_nfe=200,
                              dim=DIM, framework="numpy")
    fitted = itscale.generate(lin, score, sampler="best_of_n", run={"steps": 5}, max_nfe=200,
                              fit=True, dim=DIM, framework="numpy")
    assert fitted.usage.nfe == 200
    assert capped.usage.nfe < fitted.usage.nfe
    with pytest.raises(ValueError):
        itscale.Sampler("best_of_n", fit=True)


@pytest.mark.parametrize("method", ["best_of_n", "fk_smc", "rbf", "beam", "local_search"])
def test_fit_equals_the_cli(cli, method):
    """The configuration itscale.fit returns is the one `itscale run --nfe` ran."""
    out = subprocess.run([str(cli), "run", "--task", "gmm", "--sampler", method, "--nfe", "300",
                          "--set", "run.steps=10", "--set", "task.dim=8", "--json"],
                         check=True, capture_output=True, text=True).stdout
    ran = json.loads(out)["config"]
    fitted = itscale.fit({"sampler": method, "run": ran["run"] | {"budget": {}}}, 300)
    assert fitted["params"] == ran["params"]
    assert fitted["run"]["budget"]["max_nfe"] == ran["run"]["budget"]["max_nfe"] == 300
