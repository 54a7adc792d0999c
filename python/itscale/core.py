"""Samplers, runs and results over the library's JSON configuration."""
from __future__ import annotations

import contextlib
import copy
import json
import os
import signal
import sys
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import numpy as np

from ._lib import ffi, lib, cstr
from .adapters import Model, NativeModel, Verifier, NativeVerifier, BridgeStats, _BadReturn, \
    as_model, as_verifier
from .errors import ItscaleError, CallbackError, error_for

__all__ = ["Context", "Sampler", "Result", "Usage", "StepUsage", "Progress", "generate",
           "SDE_METHODS"]

ITS_OK = 0
ITS_CANCELLED = 1
ITS_ERR_UNSUPPORTED = -7

#: Methods that steer SDE particles: without ``run.dynamics.kind`` in the configuration they get
#: ``sde``, as the command line does.
SDE_METHODS = frozenset({"beam", "svdd", "code", "fk_smc", "bfs", "rbf"})


def _status_name(st: int) -> str:
    return cstr(lib.its_status_str(st)) or str(st)


class Context:
    """An ``its_ctx``: thread count for the engine's vector work, and the last error.

    ``latent_cache``: bytes of freed latent buffers kept for the next run of the same size
    (None: the library's default, 64 MiB; 0: none). Unlike the library's default, a context
    made here keeps blocks of every size (``its_ctx_set_latent_cache_min(ctx, 0)``): the next
    run of the same shape then hands the callbacks the buffers of the last one, whose tensor
    views the adapters have already made.

    A context is used by one thread at a time. Freed by :meth:`close` or when collected.
    """

    def __init__(self, threads: int = 1, latent_cache: Optional[int] = None):
        p = ffi.new("its_ctx_params *")
        lib.its_ctx_params_init(p)
        p.n_threads = int(threads)
        out = ffi.new("its_ctx **")
        st = lib.its_ctx_create(p, out)
        if st != ITS_OK:
            raise error_for(st, _status_name(st), cstr(lib.its_ctx_errmsg(ffi.NULL)) or "")
        self.ptr = out[0]
        self._fin = weakref.finalize(self, lib.its_ctx_free, self.ptr)
        self.check(lib.its_ctx_set_latent_cache_min(self.ptr, 0))
        if latent_cache is not None:
            if int(latent_cache) < 0:
                raise ValueError(f"latent_cache: expected bytes >= 0, got {latent_cache!r}")
            self.check(lib.its_ctx_set_latent_cache(self.ptr, int(latent_cache)))

    def error(self, st: int) -> ItscaleError:
        """The exception for status st with the context's message."""
        return error_for(st, _status_name(st), cstr(lib.its_ctx_errmsg(self.ptr)) or "")

    def check(self, st: int) -> None:
        """Raises the exception for st unless it is ITS_OK."""
        if st != ITS_OK:
            raise self.error(st)

    def close(self) -> None:
        """Frees the context now (also done when it is collected)."""
        self._fin()


@dataclass(frozen=True)
class Usage:
    """What a run cost: model rows (NFE) and calls, verifier rows and calls, gradient rows and
    calls, and the time split in seconds (library = total - model - verifier)."""
    nfe: int
    model_calls: int
    verifier_rows: int
    verifier_calls: int
    grad_rows: int
    grad_calls: int
    total_s: float
    model_s: float
    verifier_s: float
    library_s: float


@dataclass(frozen=True)
class StepUsage:
    """One step's budget: the time at its start, the NFE granted (-1: no allocator) and used."""
    step: int
    t: float
    quota: int
    used: int


@dataclass
class Result:
    """The outcome of a run, copied out of the library (nothing to free).

    Attributes:
        samples: top-k samples, best first: a tensor on the model's device for torch models, a
            numpy array for numpy ones, shaped ``[k, *shape]``.
        scores: their verifier scores (float64; NaN when unscored).
        usage: the cost (:class:`Usage`).
        trace: the anytime trace, ``(nfe, best score so far)`` in increasing NFE.
        steps: per-step budget use (:class:`StepUsage`), empty where the method keeps none.
        stop: why the run ended: ``completed``, ``nfe_cap``, ``verifier_cap``, ``deadline`` or
            ``cancelled``.
        status: the library's status name (``ITS_OK`` or ``ITS_CANCELLED``).
        seed: the seed.
        config: the configuration the run was given, defaults filled in (the schema of the
            command line's files). Under a cap (``run.budget.max_nfe``) a method whose size
            would not fit runs smaller, as :meth:`Sampler.cost` plans (``planned``); the sizes
            here are the configured ones, which with the same cap reproduce the run.
        model_stats, verifier_stats: what the bridge did (:class:`BridgeStats`).
    """
    samples: Any
    scores: np.ndarray
    usage: Usage
    trace: List[Tuple[int, float]]
    steps: List[StepUsage]
    stop: str
    status: str
    seed: int
    config: Dict[str, Any]
    json_text: str = field(repr=False)
    model_stats: BridgeStats = field(default_factory=BridgeStats, repr=False)
    verifier_stats: BridgeStats = field(default_factory=BridgeStats, repr=False)

    def to_json(self) -> str:
        """The library's run report (``its_result_to_json``): sampler, config, seed, status,
        stop, usage, budget, best, topk, time, trace, steps."""
        return self.json_text

    @property
    def best(self):
        """The best sample (``samples[0]``)."""
        return self.samples[0]


def _read_result(r, model) -> Result:
    count = lib.its_result_count(r)
    dim = lib.its_result_dim(r)
    arr = np.empty((count, dim), dtype=np.float32)
    for i in range(count):
        p = lib.its_result_sample(r, i)
        arr[i] = np.frombuffer(ffi.buffer(p, 4 * dim), dtype=np.float32)
    scores = np.array([lib.its_result_score(r, i) for i in range(count)], dtype=np.float64)
    u = ffi.new("its_usage *")
    lib.its_result_usage(r, u)
    usage = Usage(u.nfe, u.model_calls, u.verifier_rows, u.verifier_calls, u.grad_rows,
                  u.grad_calls, u.total_s, u.model_s, u.verifier_s, u.library_s)
    pts = ffi.new("its_trace_point **")
    nt = lib.its_result_trace(r, pts)
    trace = [(int(pts[0][i].nfe), float(pts[0][i].best)) for i in range(nt)]
    sp = ffi.new("its_step_usage **")
    ns = lib.its_result_steps(r, sp)
    steps = [StepUsage(sp[0][i].step, sp[0][i].t, sp[0][i].quota, sp[0][i].used)
             for i in range(ns)]
    js = cstr(lib.its_result_to_json(r))
    if js is None:
        raise MemoryError("itscale: its_result_to_json ran out of memory")
    doc = json.loads(js)
    return Result(samples=model.to_device(arr), scores=scores, usage=usage, trace=trace,
                  steps=steps, stop=cstr(lib.its_stop_name(lib.its_result_stop(r))) or "",
                  status=_status_name(lib.its_result_status(r)), seed=int(lib.its_result_seed(r)),
                  config=doc.get("config", {}), json_text=js, model_stats=model.stats,
                  verifier_stats=BridgeStats())


def _load_config(config: Union[str, os.PathLike, Dict[str, Any]]) -> Dict[str, Any]:
    if isinstance(config, dict):
        return copy.deepcopy(config)
    text = str(config)
    if isinstance(config, os.PathLike) or not text.lstrip().startswith("{"):
        text = Path(text).read_text()
    return json.loads(text)


@dataclass(frozen=True)
class Progress:
    """What a running search has spent, as the library reports it before model calls.
    ``best_score`` is the best verifier score seen so far, look-ahead predictions (x0_hat of
    particles still in flight) included, so it can be above the final samples' scores;
    ``max_nfe`` is the cap (0: none)."""
    nfe: int
    max_nfe: int
    verifier_rows: int
    best_score: float
    elapsed_s: float


class _RunControl:
    """The library's progress callback and cancel flag for one run: shows progress, asks a
    Python callable, and turns Ctrl-C into a cancel (the run stops cleanly with the best so
    far)."""

    def __init__(self, show: bool, fn: Optional[Callable[[Progress], Any]]):
        self.show = show
        self.fn = fn
        self.interrupted = False
        self.flag = ffi.new("int *")  # the options' cancel flag, set by sigint
        self.error: Optional[BaseException] = None
        self.last = 0.0
        self.cb = ffi.callback("int(void *, const its_progress *)", self._progress, error=1,
                               onerror=self._onerror)

    def _onerror(self, exc_type, exc_value, tb) -> None:
        if isinstance(exc_value, KeyboardInterrupt):
            self.interrupted = True
        elif self.error is None:
            if exc_value is None:
                exc_value = exc_type()
            if exc_value.__traceback__ is None and tb is not None:
                exc_value = exc_value.with_traceback(tb)
            self.error = exc_value

    def _progress(self, user, p) -> int:
        if self.interrupted:
            return 1
        if self.show:
            now = time.perf_counter()
            if now - self.last >= 0.1:
                self.last = now
                self._print(p, "")
        if self.fn is not None:
            return 1 if self.fn(Progress(p.nfe, p.max_nfe, p.verifier_rows, p.best_score,
                                         p.elapsed_s)) else 0
        return 0

    def _print(self, p, end: str, label: str = "best seen") -> None:
        cap = f"/{p.max_nfe}" if p.max_nfe else ""
        best = "" if p.best_score == float("-inf") else f"  {label} {p.best_score:.4g}"
        line = f"itscale: NFE {p.nfe}{cap}{best}  {p.elapsed_s:.1f} s"
        # padded over the longest line before it, which a shorter one would leave showing
        width = max(len(line), getattr(self, "_width", 0))
        self._width = width
        sys.stderr.write("\r" + line.ljust(width) + end)
        sys.stderr.flush()

    def sigint(self, signum, frame) -> None:
        self.interrupted = True
        self.flag[0] = 1



def _adapt(model: Any, verifier: Any, model_kw: Dict[str, Any]):
    """The model and verifier adapters for one run: ``verifier_max_batch`` taken out of the
    model's keywords for the verifier, the verifier bound to the model's shape, fresh bridge
    statistics and no pending callback error on either."""
    vkw = {}
    if "verifier_max_batch" in model_kw:
        vkw["max_batch"] = model_kw.pop("verifier_max_batch")
    m = as_model(model, **model_kw)
    v = as_verifier(verifier, m, **vkw)
    if v is not None:
        v.bind(m.shape, m)
    for a in (m, v):
        if a is not None:
            a.new_stats()
            a.error = None
    return m, v

class Sampler:
    """A sampler built once from a configuration and run many times.

    ``Sampler("rbf", params={...}, run={...})``, or ``Sampler(config=...)`` with a dict, a JSON
    string or the path of a JSON file in the command line's schema (``{"sampler", "params",
    "run"}``; a ``"task"`` key, which only the command line reads, is kept in :attr:`task` and
    not passed on). Given both, the arguments apply on top of the configuration, as the command
    line's ``--sampler`` and ``--set`` do on top of ``--config``: ``sampler`` replaces its
    method, ``params`` and ``run`` are merged into its own. ``max_nfe`` and ``top_k`` set
    ``run.budget.max_nfe`` and ``run.top_k``. With ``fit=True`` the method is also sized to
    ``max_nfe`` by the library's cost model (its main size parameter scaled, as
    ``itscale run --nfe`` does); without it ``max_nfe`` only caps the method's own sizes. Methods that steer SDE particles (beam, svdd, code,
    fk_smc, bfs, rbf) get ``run.dynamics.kind = "sde"`` unless the configuration names the
    dynamics. Invalid configurations raise :class:`itscale.ConfigError` naming the JSON path.

    A sampler owns its library context (``threads`` for the engine's vector work;
    ``latent_cache``: bytes of latent buffers kept between its runs, default 64 MiB, 0 none)
    and is used by one thread at a time.
    """

    def __init__(self, sampler: Optional[str] = None, params: Optional[Dict[str, Any]] = None,
                 run: Optional[Dict[str, Any]] = None, *,
                 config: Union[None, str, os.PathLike, Dict[str, Any]] = None,
                 max_nfe: Optional[int] = None, top_k: Optional[int] = None, threads: int = 1,
                 fit: bool = False, latent_cache: Optional[int] = None):
        if fit and max_nfe is None:
            raise ValueError("fit=True needs max_nfe (the budget to size the method to)")
        doc: Dict[str, Any] = _load_config(config) if config is not None else {}
        if not isinstance(doc, dict):
            raise TypeError("config: expected a JSON object")
        self.task: Optional[Dict[str, Any]] = doc.pop("task", None)
        if sampler is not None:
            doc["sampler"] = sampler
        if params is not None:
            doc.setdefault("params", {})
            doc["params"] = {**doc["params"], **params} if isinstance(doc["params"], dict) \
                else params
        if run is not None:
            doc["run"] = _merge(doc.get("run", {}), copy.deepcopy(run))
        if "sampler" not in doc:
            doc["sampler"] = "none"
        if max_nfe is not None or top_k is not None:
            r = doc.setdefault("run", {})
            if isinstance(r, dict):
                if max_nfe is not None:
                    b = r.setdefault("budget", {})
                    if isinstance(b, dict):
                        b["max_nfe"] = int(max_nfe)
                if top_k is not None:
                    r["top_k"] = int(top_k)
        _method_defaults(doc)
        self._ctx = Context(threads, latent_cache)
        text = json.dumps(doc, allow_nan=False).encode()
        if fit:
            text = _fit_text(self._ctx, text, int(max_nfe))
        out = ffi.new("its_sampler **")
        st = lib.its_sampler_from_json(self._ctx.ptr, text, len(text), out)
        if st != ITS_OK:
            err = self._ctx.error(st)
            self._ctx.close()
            raise err
        self._ptr = out[0]
        self._fin = weakref.finalize(self, _free_sampler, self._ptr, self._ctx)

    def _open(self) -> None:
        if not self._fin.alive:
            raise ValueError("sampler is closed")

    @property
    def config(self) -> Dict[str, Any]:
        """The full effective configuration (defaults filled in)."""
        self._open()
        js = lib.its_sampler_to_json(self._ptr)
        if js == ffi.NULL:
            raise MemoryError("itscale: its_sampler_to_json ran out of memory")
        return json.loads(ffi.string(js).decode())

    @property
    def method(self) -> str:
        """The method's name."""
        return self.config["sampler"]

    def close(self) -> None:
        """Frees the sampler and its context now (also done when it is collected)."""
        self._fin()

    def __enter__(self) -> "Sampler":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def cost(self) -> Dict[str, int]:
        """The library's cost model for this configuration: ``trajectory`` (NFE of one
        trajectory), ``minimum`` (the least max_nfe it runs with), ``planned`` (the most it
        spends after fitting under the cap) and ``needs_cap``."""
        self._open()
        c = ffi.new("its_cost *")
        self._ctx.check(lib.its_sampler_cost(self._ptr, c))
        return {"trajectory": c.trajectory, "minimum": c.minimum, "planned": c.planned,
                "needs_cap": bool(c.needs_cap)}

    def run(self, model: Any, verifier: Any = None, seed: int = 0, *,
            progress: Union[bool, Callable[[Progress], Any]] = False,
            deadline_ms: Optional[float] = None, **model_kw: Any) -> Result:
        """Runs the method once and returns a :class:`Result`.

        Args:
            model: a callable ``model(x, t)`` (wrapped in :class:`itscale.Model` with
                ``model_kw``: ``dim``, ``shape``, ``pred``, ``interp``, ``max_batch``, ``device``,
                ``dtype``, ``framework``, ``writes_out``, ``thread_safe``;
                ``verifier_max_batch`` goes to the verifier), a
                :class:`Model`, or a native model.
            verifier: a callable ``verifier(x0) -> scores``, a :class:`Verifier`, a native
                verifier, or None (only ``none`` runs without one).
            seed: the run's seed; the noise is a pure function of it.
            progress: True shows the NFE spent and the best score on stderr; a callable gets a
                :class:`Progress` before model calls and cancels the run by returning True (the
                result then has ``stop == "cancelled"`` and the best so far).
            deadline_ms: a wall-clock limit for this run (anytime: the best so far is returned);
                None keeps the configuration's ``run.budget.deadline_ms``.

        Raises:
            ItscaleError: the library's status and message (:class:`BudgetError`,
                :class:`NumericError`, :class:`CallbackError`, ...). An exception raised
                inside a callable is re-raised as it was, with its own traceback and a note
                carrying the library's message.
            KeyboardInterrupt: Ctrl-C cancels the search through the library's cancel
                flag (the run ends cleanly); the partial :class:`Result` is attached to the
                exception as ``result``.
        """
        self._open()
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or \
                not 0 <= int(seed) < 2 ** 64:
            raise ValueError(f"seed: expected an integer in [0, 2**64), got {seed!r}")
        m, v = _adapt(model, verifier, model_kw)
        ctl = _RunControl(progress is True, progress if callable(progress) else None)
        opts = ffi.new("its_gen_options *")
        lib.its_gen_options_init_sized(opts, ffi.sizeof("its_gen_options"))
        # Ctrl-C reaches the run through the cancel flag, which Python's handler sets when the
        # interpreter next runs, inside a Python callable's call. The progress callback (a
        # crossing into Python after every model call) is installed only when progress is shown
        # or asked for, or when the model is native and no Python code would run otherwise.
        opts.cancel = ctl.flag
        if ctl.show or ctl.fn is not None or not isinstance(m, Model):
            opts.progress = ctl.cb
        if deadline_ms is not None:
            opts.deadline_ms = float(deadline_ms)
        out = ffi.new("its_result **")
        old = None
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            old = signal.signal(signal.SIGINT, ctl.sigint)
        try:
            with _no_grad():  # once per run, not per call (the gradient callback enables it)
                st = lib.its_generate_opts(self._ptr, m.c_struct,
                                           v.c_struct if v is not None else ffi.NULL,
                                           int(seed), opts, out)
        finally:
            if old is not None:
                signal.signal(signal.SIGINT, old)
        err = m.error or (v.error if v is not None else None) or ctl.error
        m.error = None
        if v is not None:
            v.error = None
        if isinstance(err, KeyboardInterrupt):
            ctl.interrupted, err = True, None
        r = out[0]
        try:
            if st != ITS_OK and st != ITS_CANCELLED:
                lib_err = self._ctx.error(st)
                if err is None and st == ITS_ERR_UNSUPPORTED and \
                        "needs a verifier gradient" in lib_err.message:
                    lib_err = type(lib_err)(st, lib_err.status_name, lib_err.message +
                                            "; give Verifier(fn, grad=...), or a torch verifier "
                                            "with autograd on (its gradient is then taken by "
                                            "autograd)")
                if ctl.interrupted and err is None:
                    raise KeyboardInterrupt
                if err is None:
                    raise lib_err
                if isinstance(err, _BadReturn):
                    raise CallbackError(st, _status_name(st),
                                        f"{lib_err.message}: {err}") from None
                if hasattr(err, "add_note"):
                    err.add_note(f"itscale: {lib_err}")
                raise err
            if err is not None:
                if err is ctl.error and hasattr(err, "add_note"):
                    err.add_note(f"itscale: raised by the progress callable; the run stopped "
                                 f"there ({cstr(lib.its_ctx_errmsg(self._ctx.ptr)) or 'cancelled'})")
                raise err
            res = _read_result(r, m)
            if v is not None:
                res.verifier_stats = v.stats
            if progress is True:
                cap = res.config.get("run", {}).get("budget", {}).get("max_nfe", 0)
                ctl._print(Progress(res.usage.nfe, int(cap or 0), res.usage.verifier_rows,
                                    float(res.scores[0]) if len(res.scores) else float("-inf"),
                                    res.usage.total_s), "\n", "best")
            if ctl.interrupted:
                ki = KeyboardInterrupt()
                ki.result = res  # type: ignore[attr-defined]
                raise ki
            return res
        finally:
            lib.its_result_free(r)
            err = None


def _fit_text(ctx: Context, text: bytes, nfe: int) -> bytes:
    out = ffi.new("char **")
    st = lib.its_cost_fit_json(ctx.ptr, text, len(text), nfe, out)
    fitted = b""
    if out[0] != ffi.NULL:
        fitted = ffi.string(out[0])
        lib.its_ctx_mem_free(ctx.ptr, out[0])
    if st != ITS_OK:
        err = ctx.error(st)
        ctx.close()
        raise err
    return fitted


def fit(config: Union[str, os.PathLike, Dict[str, Any]], max_nfe: int) -> Dict[str, Any]:
    """The configuration sized to a budget of ``max_nfe`` model rows by the library's cost
    model: ``run.budget.max_nfe`` set and the method's main size parameter scaled (what
    ``itscale run --nfe`` runs). Raises :class:`itscale.BudgetError` naming the minimum when
    the budget is below it, :class:`itscale.ConfigError` for a bad configuration."""
    doc = _load_config(config)
    if not isinstance(doc, dict):
        raise TypeError("config: expected a JSON object")
    doc = copy.deepcopy(doc)
    task = doc.pop("task", None)
    _method_defaults(doc)
    ctx = Context(1)
    try:
        out = json.loads(_fit_text(ctx, json.dumps(doc, allow_nan=False).encode(),
                                   int(max_nfe)).decode())
    finally:
        ctx.close()
    if task is not None:
        out["task"] = task
    return out


def _no_grad():
    torch = sys.modules.get("torch")  # not imported: no grad mode to switch off
    if torch is None:
        return contextlib.nullcontext()
    return torch.no_grad()


def _free_sampler(ptr, ctx: Context) -> None:
    lib.its_sampler_free(ptr)
    ctx.close()


def _merge(a: Any, b: Any) -> Any:
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for k, v in b.items():
            out[k] = _merge(a.get(k), v) if k in a else v
        return out
    return b


def _method_defaults(doc: Dict[str, Any]) -> None:
    if doc.get("sampler") not in SDE_METHODS:
        return
    run = doc.setdefault("run", {})
    if not isinstance(run, dict):
        return
    dyn = run.get("dynamics")
    if dyn is None:
        run["dynamics"] = {"kind": "sde"}
    elif isinstance(dyn, dict) and "kind" not in dyn:
        dyn["kind"] = "sde"


def generate(model: Any, verifier: Any = None, sampler: str = "none",
             params: Optional[Dict[str, Any]] = None, run: Optional[Dict[str, Any]] = None, *,
             seed: int = 0, max_nfe: Optional[int] = None, top_k: Optional[int] = None,
             progress: Union[bool, Callable[[Progress], Any]] = False,
             deadline_ms: Optional[float] = None, threads: int = 1, fit: bool = False,
             **model_kw: Any) -> Result:
    """Runs one search: ``sampler`` with ``params`` and ``run`` settings on ``model``, scored by
    ``verifier``, within ``max_nfe`` model rows; returns a :class:`Result`.

    ``model_kw`` (``dim``, ``shape``, ``pred``, ``interp``, ``max_batch``, ``device``, ``dtype``,
    ``framework``, ``writes_out``, ``thread_safe``) wrap a bare callable in
    :class:`itscale.Model`; ``verifier_max_batch`` goes to the verifier's adapter. Each call builds its own sampler, so nothing (latent memory
    included) is kept between calls: run a :class:`Sampler` for repeated runs. ``fit=True`` sizes the
    method to ``max_nfe`` (see :class:`Sampler`). See :class:`Sampler` for the
    configuration and :meth:`Sampler.run` for the errors.

    Example::

        r = itscale.generate(net, clf, sampler="rbf", params={"chains": 2},
                             max_nfe=500, seed=0, dim=64)
        r.samples[0], r.scores[0], r.usage.nfe
    """
    with Sampler(sampler, params, run, max_nfe=max_nfe, top_k=top_k, threads=threads,
                 fit=fit) as s:
        return s.run(model, verifier, seed, progress=progress, deadline_ms=deadline_ms,
                     **model_kw)
