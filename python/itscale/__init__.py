"""itscale: inference-time scaling for diffusion and flow models, from Python.

One call for the common case::

    import itscale
    r = itscale.generate(model, verifier, sampler="rbf", max_nfe=500, seed=0, dim=64)
    r.samples, r.scores, r.usage

and :class:`Sampler` (built once from a configuration, run many times), :class:`Model` and
:class:`Verifier` (adapters for PyTorch or numpy callables), :func:`samplers` (the methods and
their parameters), :class:`Gmm` (the analytic mixture), :mod:`itscale.digits` (the digits flow
model as a torch module: ``from itscale.digits import DigitsFlow``) and :func:`tune` (a policy
measured on your own model: which method, at which size, for each budget; run it with
``generate(..., sampler="auto", params={"policy": policy})``). The library is
``libitscale.so``, found through ``ITSCALE_LIBRARY``, a source checkout's build tree or an
installed prefix.
"""
from ._lib import library_path, library_version
from .auto import TuneReport, load_policy, tune, tune_candidates
from .adapters import BridgeStats, Model, NativeModel, NativeVerifier, Verifier
from .core import Context, Progress, Result, Sampler, StepUsage, Usage, fit, generate
from .errors import (BudgetError, CallbackError, ConfigError, InvalidError, ItscaleError,
                     ItscaleIOError, NoMemoryError, NumericError, UnsupportedError)
from .gmm import Gmm
from .meta import MethodInfo, ParamInfo, params_json, run_params, samplers

__version__ = "0.1.0"

__all__ = ["generate", "fit", "tune", "tune_candidates", "load_policy", "TuneReport", "Sampler",
           "Result", "Usage", "StepUsage", "Model", "Verifier",
           "NativeModel", "NativeVerifier", "BridgeStats", "Context", "Progress", "Gmm",
           "samplers", "run_params", "params_json", "MethodInfo", "ParamInfo", "ItscaleError",
           "InvalidError", "NoMemoryError",
           "CallbackError", "NumericError", "BudgetError", "ConfigError", "UnsupportedError",
           "ItscaleIOError", "library_path", "library_version", "__version__"]
