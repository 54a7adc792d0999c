"""Custom interpolants from Python: four functions of t behind the library's custom kind."""
from __future__ import annotations

import math

import numpy as np
import pytest

import itscale

LINEAR = {"kind": "custom", "alpha": lambda t: 1.0 - t, "sigma": lambda t: t,
          "dalpha": lambda t: -1.0, "dsigma": lambda t: 1.0}
# the trigonometric path alpha = cos(pi t / 2), sigma = sin(pi t / 2) (no built-in kind)
H = 0.5 * math.pi
TRIG = {"kind": "custom", "alpha": lambda t: math.cos(H * t), "sigma": lambda t: math.sin(H * t),
        "dalpha": lambda t: -H * math.sin(H * t), "dsigma": lambda t: H * math.cos(H * t)}
RUN = {"steps": 8, "dynamics": {"kind": "sde"}}


def _run(model, verifier, seed=3):
    return itscale.generate(model, itscale.Verifier(verifier, framework="numpy"),
                            sampler="best_of_n", params={"n": 4}, run=RUN, seed=seed)


def _model(fn, interp="linear"):
    return itscale.Model(fn, dim=64, framework="numpy", interp=interp)


def test_custom_linear_is_linear(gmm_task):
    """The linear path written as four Python functions gives the built-in linear's bits."""
    T = gmm_task
    builtin = _run(_model(T.model, "linear"), T.score)
    custom = _run(_model(T.model, LINEAR), T.score)
    np.testing.assert_array_equal(custom.samples, builtin.samples)
    np.testing.assert_array_equal(custom.scores, builtin.scores)


def test_custom_path_reaches_the_sampler(gmm_task):
    """A Python model of the mixture under the trigonometric path gives the native model's
    bits under the same path, and not the linear path's samples."""
    T = gmm_task
    g = T.gmm
    py = _model(lambda x, t: g.predict(x, t, interp=TRIG), TRIG)
    native = g.model(interp=TRIG)
    a, b = _run(py, T.score), _run(native, T.score)
    np.testing.assert_array_equal(a.samples, b.samples)
    lin = _run(_model(T.model), T.score)
    assert not np.array_equal(a.samples, lin.samples)
    # the exact x0 prediction at t = 1 under any path from pure noise is the mixture mean
    x0 = g.predict(np.zeros((1, g.dim), np.float32), 1.0, pred="x0", interp=TRIG)
    np.testing.assert_allclose(x0[0], (g.weights[:, None] * g.means).sum(0), atol=1e-5)


def test_custom_errors(gmm_task):
    T = gmm_task

    class Boom(Exception):
        pass

    def alpha(t):
        if t < 0.5:
            raise Boom("alpha failed")
        return 1.0 - t
    with pytest.raises(Boom, match="alpha failed"):
        _run(_model(T.model, {**LINEAR, "alpha": alpha}), T.score)
    nan = {**LINEAR, "sigma": lambda t: float("nan")}
    with pytest.raises(itscale.ItscaleError) as e:
        _run(_model(T.model, nan), T.score)
    assert e.value.status_name in ("ITS_ERR_NUMERIC", "ITS_ERR_INVALID")
    with pytest.raises(ValueError, match="interp.dsigma: a custom interpolant needs"):
        _model(T.model, {k: v for k, v in LINEAR.items() if k != "dsigma"})
    with pytest.raises(ValueError, match="interp.beta: unknown key"):
        _model(T.model, {**LINEAR, "beta": 1.0})


def test_rebinding_keeps_custom_callbacks_alive():
    """A mixture keeps the interpolant of its latest binding for every binding: after that
    binding's model is gone, an earlier model still runs (the callbacks stay alive)."""
    import gc
    g = itscale.Gmm([0.5, 0.5], [[-1.0] * 4, [1.0] * 4], [0.5, 0.5])
    m1 = g.model(interp=TRIG)
    m2 = g.model(interp={**TRIG})
    del m2
    gc.collect()
    r = itscale.generate(m1, g.quadratic([1.0] * 4, 0.1), sampler="best_of_n",
                         params={"n": 2}, run={"steps": 4}, seed=1)
    assert np.all(np.isfinite(r.samples))
