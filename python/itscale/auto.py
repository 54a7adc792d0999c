"""Choosing the method for a budget: tuning a policy on the host's own model (``its_tune``) and
reading policies (``its_policy_from_json``).

A policy is a JSON document (README, "auto"): NFE budget ranges, each with the configuration
measured best there. :func:`tune` measures one from pilot runs on a Python model and verifier,
exactly as ``itscale tune`` does on a task; ``generate(..., sampler="auto",
params={"policy": policy}, max_nfe=N)`` then runs, for the budget N, the entry whose range holds
it, sized to N by the cost model.
"""
from __future__ import annotations

import copy
import json
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ._lib import ffi, lib, cstr
from .adapters import _BadReturn
from .core import Context, _adapt, _merge, _method_defaults, _no_grad, _status_name, ITS_OK, \
    ITS_CANCELLED
from .errors import CallbackError

__all__ = ["tune", "tune_candidates", "load_policy", "TuneReport"]

#: ``select`` values and the library's codes for them (its_tune_params.select).
SELECT = {"mean": 0, "lcb": 1}

Doc = Dict[str, Any]


def tune_candidates(samplers: Optional[Sequence[str]] = None) -> List[Doc]:
    """The library's built-in tuning grid (``its_tune_candidate``): every method with its
    defaults and two or three values of its main parameters, as ``{"sampler", "params",
    "run"}`` documents; ``samplers`` keeps only those methods (as ``itscale tune --samplers``)."""
    out: List[Doc] = []
    i = 0
    while True:
        p = lib.its_tune_candidate(i)
        if p == ffi.NULL:
            break
        doc = json.loads(ffi.string(p).decode())
        if samplers is None or doc.get("sampler") in samplers:
            out.append(doc)
        i += 1
    return out


def _policy_text(policy: Union[str, os.PathLike, Doc]) -> bytes:
    if isinstance(policy, dict):
        return json.dumps(policy, allow_nan=False).encode()
    text = str(policy)
    if isinstance(policy, os.PathLike) or not text.lstrip().startswith("{"):
        text = Path(text).read_text()
    return text.encode()


def load_policy(policy: Union[str, os.PathLike, Doc]) -> Doc:
    """A policy (a dict, a JSON string or the path of ``policy.json``) validated by the
    library and written out in full (every parameter stated, so it reads back the same).
    Raises :class:`itscale.ConfigError` naming the JSON path for a key it does not know,
    unsorted or overlapping ranges, a method this build lacks or a parameter out of range."""
    text = _policy_text(policy)
    ctx = Context(1)
    try:
        out = ffi.new("its_policy **")
        ctx.check(lib.its_policy_from_json(ctx.ptr, text, len(text), out))
        try:
            js = lib.its_policy_to_json(out[0])
            if js == ffi.NULL:
                raise MemoryError("itscale: its_policy_to_json ran out of memory")
            return json.loads(ffi.string(js).decode())
        finally:
            lib.its_policy_free(out[0])
    finally:
        ctx.close()


@dataclass
class TuneReport:
    """What a tuning measured (``its_tune_report``).

    Attributes:
        budgets: the NFE budgets tuned at.
        candidates: the candidates' effective configurations (no budget keys), in order.
        mean, se: ``[budget, candidate]`` mean verifier score and its standard error over the
            seeds the candidate ran (NaN where it did not run).
        count: ``[budget, candidate]`` seeds run (0: not run at that budget, e.g. pruned by
            successive halving, or its smallest run costs more than the budget).
        nfe, runs, seconds: the tuning's own cost.
    """
    budgets: List[int]
    candidates: List[Doc]
    mean: np.ndarray
    se: np.ndarray
    count: np.ndarray
    nfe: int
    runs: int
    seconds: float


class _TuneControl:
    """The tuning's progress callback: shows progress, asks a Python callable, and turns
    Ctrl-C into a cancel after the pilot run in progress."""

    def __init__(self, show: bool, fn: Optional[Callable[[int, int, str], Any]]):
        self.show, self.fn = show, fn
        self.interrupted = False
        self.error: Optional[BaseException] = None
        self.cb = ffi.callback("int(void *, size_t, size_t, const char *)", self._progress,
                               error=1, onerror=self._onerror)

    def _onerror(self, exc_type, exc_value, tb) -> None:
        if isinstance(exc_value, KeyboardInterrupt):
            self.interrupted = True
        elif self.error is None:
            self.error = exc_value

    def _progress(self, user, done: int, total: int, what) -> int:
        if self.interrupted:
            return 1
        text = cstr(what) or ""
        if self.show:
            sys.stderr.write(f"\ritscale tune: {done}/{total} {text[:60]:60s}")
            sys.stderr.flush()
        if self.fn is not None and self.fn(int(done), int(total), text):
            return 1
        return 0

    def sigint(self, signum, frame) -> None:
        self.interrupted = True


def tune(model: Any, verifier: Any, budgets: Sequence[int], *, seeds: int = 8,
         seed: int = 1000, candidates: Optional[Sequence[Union[str, Doc]]] = None,
         samplers: Optional[Sequence[str]] = None, run: Optional[Doc] = None,
         halving: bool = True, select: str = "mean", label: Optional[str] = None,
         progress: Union[bool, Callable[[int, int, str], Any]] = False, threads: int = 1,
         report: bool = False, **model_kw: Any) -> Union[Doc, Tuple[Doc, TuneReport]]:
    """Measures which configuration is best at each budget on this model and verifier
    (``its_tune``) and returns the policy as a dict (the schema of ``itscale tune``'s
    ``policy.json``), ready for ``generate(..., sampler="auto", params={"policy": policy})``.

    Every candidate runs sized to each budget by the cost model on the tuning seeds
    ``seed .. seed + seeds - 1`` (keep them apart from the seeds you evaluate on); with
    ``halving`` a quarter of the seeds go to every candidate and all of them to the better
    third. Each budget's entry is the best mean (``select="mean"``) or the best mean - SE
    (``select="lcb"``), with the runner-up ranked the same way.

    Args:
        model, verifier: as for :func:`itscale.generate` (callables wrapped with ``model_kw``:
            ``dim``, ``shape``, ``pred``, ``interp``, ``max_batch``, ``device``, ``dtype``,
            ``framework``; ``verifier_max_batch``). Candidates that need the verifier's
            gradient are skipped when it has none.
        budgets: increasing NFE budgets to tune at.
        seeds: tuning seeds per finalist (at least 2: a standard error needs them).
        seed: the first tuning seed (1000, as ``itscale tune``; held-out seeds usually start
            at 0).
        candidates: ``{"sampler", "params", "run"}`` documents (dicts or JSON text, no budget
            keys); default: the library's grid (:func:`tune_candidates`). Methods that steer
            SDE particles get ``run.dynamics.kind = "sde"`` unless a document names the
            dynamics, as in :class:`itscale.Sampler`.
        samplers: keep only these methods of the candidates.
        run: run settings every candidate starts from (its own ``run`` fields win), e.g.
            ``{"steps": 20}``; budget keys are not allowed (the budgets are ``budgets``).
        label: stored in the policy.
        progress: True shows the pilot runs done on stderr; a callable
            ``progress(done, total, what)`` is called after each pilot run and cancels the
            tuning by returning True (:class:`KeyboardInterrupt` is raised, no policy).
        report: also return a :class:`TuneReport` with every candidate's measurements.

    Raises:
        ItscaleError: the library's status and message (:class:`ConfigError` naming the
            candidate's JSON path, :class:`InvalidError`, ...); an exception raised inside a
            callable is re-raised as it was, with the library's message as a note.
        KeyboardInterrupt: Ctrl-C, or a progress callable returning True, cancels the tuning
            after the pilot run in progress.
    """
    if select not in SELECT:
        raise ValueError(f"select: expected one of {sorted(SELECT)}, got {select!r}")
    blist = [int(b) for b in budgets]
    if not blist:
        raise ValueError("budgets: expected at least one NFE budget")
    if run is not None and "budget" in run:
        raise ValueError("run: budget keys are set per tuned budget; pass budgets instead")
    docs: List[Doc] = []
    for c in (candidates if candidates is not None else tune_candidates()):
        d = json.loads(c) if isinstance(c, (str, bytes)) else copy.deepcopy(dict(c))
        if samplers is not None and d.get("sampler") not in samplers:
            continue
        if run:
            # the candidate's own run fields win, as itscale tune merges --set run.*
            d["run"] = _merge(copy.deepcopy(run), d.get("run", {}))
        _method_defaults(d)
        docs.append(d)
    if not docs:
        raise ValueError("tune: no candidate left (samplers keeps none of them)")

    m, v = _adapt(model, verifier, model_kw)
    if v is None:
        raise ValueError("tune: a verifier is needed (the policy ranks by its scores)")

    texts = [ffi.new("char[]", json.dumps(d, allow_nan=False).encode()) for d in docs]
    cand = ffi.new("const char *[]", texts)
    cbudgets = ffi.new("uint64_t[]", blist)
    clabel = ffi.new("char[]", label.encode()) if label is not None else ffi.NULL
    ctl = _TuneControl(progress is True, progress if callable(progress) else None)
    p = ffi.new("its_tune_params *")
    lib.its_tune_params_init(p)
    p.budgets, p.n_budgets = cbudgets, len(blist)
    p.seeds, p.seed = int(seeds), int(seed)
    p.candidates, p.n_candidates = cand, len(docs)
    p.halving = 1 if halving else 0
    p.label = clabel
    p.select = SELECT[select]
    p.progress = ctl.cb

    ctx = Context(threads)
    out = ffi.new("its_policy **")
    rep = ffi.new("its_tune_report *")
    old = None
    if threading.current_thread() is threading.main_thread() and \
            signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        old = signal.signal(signal.SIGINT, ctl.sigint)
    try:
        try:
            with _no_grad():
                st = lib.its_tune(ctx.ptr, p, m.c_struct, v.c_struct, out, rep)
        finally:
            if old is not None:
                signal.signal(signal.SIGINT, old)
            if progress is True:
                sys.stderr.write("\n")
        err = m.error or v.error or ctl.error
        m.error = v.error = None
        if isinstance(err, KeyboardInterrupt):
            ctl.interrupted, err = True, None
        if st != ITS_OK:
            if st == ITS_CANCELLED or (ctl.interrupted and err is None):
                raise KeyboardInterrupt
            lib_err = ctx.error(st)
            if err is None:
                raise lib_err
            if isinstance(err, _BadReturn):
                raise CallbackError(st, _status_name(st), f"{lib_err.message}: {err}") from None
            if hasattr(err, "add_note"):
                err.add_note(f"itscale: {lib_err}")
            raise err
        if err is not None:
            raise err
        try:
            js = lib.its_policy_to_json(out[0])
            if js == ffi.NULL:
                raise MemoryError("itscale: its_policy_to_json ran out of memory")
            policy = json.loads(ffi.string(js).decode())
            if not report:
                return policy
            nb, nc = int(rep.n_budgets), int(rep.n_candidates)

            def grid(ptr, dtype):
                return np.array([ptr[k] for k in range(nb * nc)], dtype=dtype).reshape(nb, nc)
            tr = TuneReport(budgets=blist,
                            candidates=[json.loads(ffi.string(rep.candidate_json[i]).decode())
                                        for i in range(nc)],
                            mean=grid(rep.mean, np.float64), se=grid(rep.se, np.float64),
                            count=grid(rep.count, np.int64), nfe=int(rep.nfe),
                            runs=int(rep.runs), seconds=float(rep.seconds))
            return policy, tr
        finally:
            lib.its_policy_free(out[0])  # the report's memory goes with it
    finally:
        ctx.close()
