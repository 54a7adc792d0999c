"""Model and verifier adapters: Python callables (PyTorch or numpy) behind the library's C
callbacks.

On the CPU path nothing is copied on the way in: the callable sees the library's own buffer
as a tensor (``torch.from_numpy`` over ``ffi.buffer``), valid only during the call, and its
return value is written into the library's output buffer. A model on another device (or in
another dtype) gets its inputs moved there and its output moved back.
"""
from __future__ import annotations

import importlib.util
import math
import sys
import threading
from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

import numpy as np

from ._lib import ffi, lib, cstr

_HAS_TORCH = importlib.util.find_spec("torch") is not None


class _LazyTorch:
    """The torch module, imported on first use: a numpy user never pays for importing it."""

    def __getattr__(self, name: str) -> Any:
        import torch as _torch
        globals()["torch"] = _torch
        return getattr(_torch, name)


# torch is optional: numpy callables work without it
torch: Any = _LazyTorch() if _HAS_TORCH else None

__all__ = ["Model", "Verifier", "NativeModel", "NativeVerifier", "BridgeStats", "as_model",
           "as_verifier"]

_EVAL_SIG = "int(void *, const float *, const float *, size_t, float *)"
_SCORE_SIG = "int(void *, const float *, size_t, float *)"
_GRAD_SIG = "int(void *, const float *, size_t, float *, float *)"


_TORCH_FLOATS: frozenset = frozenset()

# torch.Tensor, torch.float32 and torch.is_grad_enabled for the per-call paths, bound by the
# first torch adapter
_Tensor: Any = None
_f32: Any = None
_grad_enabled: Any = None


def _bind_torch() -> None:
    global _Tensor, _f32, _grad_enabled
    if _Tensor is None:
        _Tensor, _f32, _grad_enabled = torch.Tensor, torch.float32, torch.is_grad_enabled


def _torch_floats() -> frozenset:
    global _TORCH_FLOATS
    if not _TORCH_FLOATS:
        _TORCH_FLOATS = frozenset({torch.float16, torch.bfloat16, torch.float32, torch.float64})
    return _TORCH_FLOATS


class BridgeStats:
    """What the bridge did: calls, rows, and bytes copied on the way in and out.

    ``bytes_in`` counts latent bytes copied before a callable saw them (0 on the CPU path);
    ``bytes_out`` counts bytes a model's return value was copied into the library's buffer
    with (0 when a model writes into ``out`` itself; a verifier's scores and gradients are not
    counted). Both are a fixed number of bytes per row of an adapter, so a call counts only its
    rows.
    """

    __slots__ = ("calls", "rows", "_in_row", "_out_row")

    def __init__(self, in_row: int = 0, out_row: int = 0) -> None:
        self.calls = 0
        self.rows = 0
        self._in_row = in_row
        self._out_row = out_row

    @property
    def bytes_in(self) -> int:
        return self.rows * self._in_row

    @property
    def bytes_out(self) -> int:
        return self.rows * self._out_row

    def __repr__(self) -> str:
        return (f"BridgeStats(calls={self.calls}, rows={self.rows}, bytes_in={self.bytes_in}, "
                f"bytes_out={self.bytes_out})")


class _BadReturn(Exception):
    """A callable returned something of the wrong shape, dtype or type."""


def _framework(fn: Any, framework: Optional[str]) -> str:
    if framework is not None:
        if framework not in ("torch", "numpy"):
            raise ValueError(f"framework: expected 'torch' or 'numpy', got {framework!r}")
        if framework == "torch" and torch is None:
            raise ImportError("framework 'torch' needs PyTorch (Debian: python3-torch)")
        return framework
    # a callable on tensors means its author imported torch
    return "torch" if "torch" in sys.modules else "numpy"


def _module_param(fn: Any):
    """The first floating-point parameter of an ``nn.Module``, or of the module a bound method
    belongs to (``clf.log_prob``), else its first parameter: its device and dtype are the
    callable's. None for other callables."""
    t = sys.modules.get("torch")  # an nn.Module means torch is imported already
    if t is None:
        return None
    if not isinstance(fn, t.nn.Module):
        fn = getattr(fn, "__self__", None)
        if not isinstance(fn, t.nn.Module):
            return None
    first = None
    for p in fn.parameters():
        if p.dtype.is_floating_point:
            return p
        first = first if first is not None else p
    return first


def _module_device(fn: Any):
    p = _module_param(fn)
    return p.device if p is not None else None


def _module_dtype(fn: Any):
    """The dtype of a module's first floating-point parameter (e.g. after ``.double()``), else
    None."""
    p = _module_param(fn)
    return p.dtype if p is not None and p.dtype.is_floating_point else None


def _shape_of(shape: Any, dim: Any) -> Tuple[int, ...]:
    """The sample shape from ``shape`` (a sequence, or one int) and/or ``dim`` (an int)."""
    if dim is not None and not isinstance(dim, (int, np.integer)):
        raise TypeError(f"dim: expected an int, got {type(dim).__name__}"
                        + ("; give a multi-dimensional sample as shape=" if
                           isinstance(dim, (tuple, list)) else ""))
    if shape is not None:
        shape = (int(shape),) if isinstance(shape, (int, np.integer)) else \
            tuple(int(s) for s in shape)
        if dim is not None and int(np.prod(shape)) != int(dim):
            raise ValueError(f"shape {shape} has {int(np.prod(shape))} values, dim is {dim}")
    elif dim is not None:
        shape = (int(dim),)
    else:
        raise ValueError("Model: give dim or shape")
    if int(np.prod(shape)) < 1:
        raise ValueError(f"Model: dim must be >= 1, got shape {shape}")
    return shape


class _Views:
    """Array views over the library's buffers, one per (address, rows), reused between calls:
    the numpy view, and the torch tensor over it when the callable takes torch."""

    __slots__ = ("shape", "torch", "cache")

    def __init__(self, shape: Tuple[int, ...], use_torch: bool):
        self.shape = shape
        self.torch = use_torch
        self.cache: Dict[Any, Tuple[np.ndarray, Any]] = {}

    def pair(self, ptr, n: int) -> Tuple[np.ndarray, Any]:
        key = (ptr, n)  # cffi pointers hash and compare by address
        v = self.cache.get(key)
        if v is None:
            count = n
            for s in self.shape:
                count *= s
            a = np.frombuffer(ffi.buffer(ptr, 4 * count), dtype=np.float32)
            a = a.reshape((n,) + self.shape)
            if self.torch:
                # a normal tensor even when made inside torch.inference_mode(): views outlive
                # the run (they are shared), and an inference tensor refuses writes and
                # requires_grad outside that mode
                with torch.inference_mode(False):
                    v = (a, torch.from_numpy(a))
            else:
                v = (a, a)
            if len(self.cache) >= 256:
                self.cache.clear()
            self.cache[key] = v
        return v

    def get(self, ptr, n: int):
        return self.pair(ptr, n)[1]


# One _Views per (shape, framework), shared by every adapter: a new adapter per run (what
# generate() makes of a plain callable) then finds the views of the buffers the library reuses
# instead of building them again. A view is built on the first call that passes its address,
# after the run's inputs are cold in cache, where it cost 15 to 30 us against 0.2 for a lookup.
# One cache holds the x, out, score and gradient views of every adapter of a shape: up to 256.
_SHARED_VIEWS: Dict[Tuple[Tuple[int, ...], bool], _Views] = {}


def _views_for(shape: Tuple[int, ...], use_torch: bool) -> _Views:
    v = _SHARED_VIEWS.get((shape, use_torch))
    if v is None:
        if len(_SHARED_VIEWS) >= 64:
            _SHARED_VIEWS.clear()
        v = _SHARED_VIEWS[(shape, use_torch)] = _Views(shape, use_torch)
    return v


class _Callback:
    """Shared by model and verifier adapters: the first error of a run and the statistics."""

    def __init__(self) -> None:
        self.error: Optional[BaseException] = None
        self._in_row = self._out_row = 0  # bytes copied per row, set once the shape is known
        self.stats = BridgeStats()

    def new_stats(self) -> BridgeStats:
        """Fresh statistics for the next run."""
        self.stats = BridgeStats(self._in_row, self._out_row)
        return self.stats

    def _onerror(self, exc_type, exc_value, tb) -> None:
        if self.error is None:
            if exc_value is None:
                exc_value = exc_type()
            if exc_value.__traceback__ is None and tb is not None:
                exc_value = exc_value.with_traceback(tb)
            self.error = exc_value

    def reset(self) -> None:
        self.error = None


class Model(_Callback):
    """A Python callable ``model(x, t)`` as the library's model callback.

    Args:
        fn: called with ``x`` (float32, ``[n, dim]`` or ``[n, *shape]``) and ``t`` (``[n]``);
            returns the prediction with the shape and dtype of ``x``. With ``writes_out=True``
            it is called as ``fn(x, t, out)`` and writes into ``out`` instead (no copy at all).
        dim: floats per sample (or give ``shape``; an object with a ``dim`` or ``shape``
            attribute supplies its own).
        shape: the sample shape the callable sees (``dim`` is its product; one int is a
            one-dimensional shape).
        pred: what the model predicts: ``velocity``, ``eps``, ``x0`` or ``score``.
        interp: the interpolant it was trained on: a name (``linear``, ``vp``, ``vp_cosine``,
            ``ve``), a dict with ``kind`` and its parameters (``beta_min``, ``beta_max``,
            ``sigma_min``, ``sigma_max``, ``cosine_s``), or ``{"kind": "custom", "alpha": f,
            "sigma": g, "dalpha": df, "dsigma": dg}`` with four Python functions of ``t``
            (x_t = alpha(t) x0 + sigma(t) eps; the derivatives with respect to t).
        max_batch: most rows per call (0 = any).
        device: the device the model runs on (torch only; default: that of an ``nn.Module``'s
            first parameter, else CPU). Inputs are moved there and outputs back.
        dtype: the dtype the model computes in (torch: e.g. ``torch.float16``; default: that
            of an ``nn.Module``'s first parameter, else float32). Inputs are converted to it and
            outputs back to float32.
        framework: ``"torch"`` or ``"numpy"`` (default: torch when the program has imported
            torch, numpy otherwise).
        writes_out: call ``fn(x, t, out)``; the callable fills ``out`` (CPU, float32 only).
        thread_safe: ``fn`` may run on several threads at once (on disjoint rows): with a
            sampler of ``threads=k`` the library then makes up to k calls at once, from its
            worker threads (samples, scores and errors as if sequential; one call at a time
            while the library converts predictions to another interpolant). Each call runs
            under ``torch.no_grad()`` on its own thread.

    Calls run under ``torch.no_grad()``. The tensors a call sees are views of the library's
    memory, valid only during that call: do not keep them, and do not write into ``x``.
    """

    def __init__(self, fn: Callable[..., Any], dim: Optional[int] = None,
                 shape: Optional[Sequence[int]] = None, pred: str = "velocity",
                 interp: Union[str, Dict[str, Any]] = "linear", max_batch: int = 0,
                 device: Any = None, dtype: Any = None, framework: Optional[str] = None,
                 writes_out: bool = False, thread_safe: bool = False):
        super().__init__()
        self.fn = fn
        self.framework = _framework(fn, framework)
        self._framework_given = framework is not None
        if shape is None and dim is None:
            shape = getattr(fn, "shape", None)
            dim = getattr(fn, "dim", None)
        shape = _shape_of(shape, dim)
        self.shape: Tuple[int, ...] = shape
        self.dim = int(np.prod(shape))
        self.pred = pred
        self.interp = interp
        self.max_batch = int(max_batch)
        self.writes_out = bool(writes_out)
        self.thread_safe = bool(thread_safe)
        self._lock = threading.Lock() if self.thread_safe else None
        use_torch = self.framework == "torch"
        if use_torch:
            dev = device if device is not None else _module_device(fn)
            self.device = torch.device(dev) if dev is not None else torch.device("cpu")
            if self.device.type == "cuda" and not torch.cuda.is_available():
                raise ValueError(f"device {self.device}: this torch has no CUDA device "
                                 "(torch.cuda.is_available() is False)")
            if dtype is None:
                dtype = _module_dtype(fn)
            self.dtype = dtype if dtype is not None else torch.float32
            self._moves = self.device.type != "cpu" or self.dtype != torch.float32
        else:
            self.device = None
            self.dtype = np.dtype(dtype) if dtype is not None else np.dtype(np.float32)
            self._moves = self.dtype != np.float32
        if self.writes_out and self._moves:
            raise ValueError("writes_out needs a float32 model on the CPU")
        if use_torch:
            _bind_torch()
        self._in_row = 4 * (self.dim + 1) if self._moves else 0
        self._out_row = 0 if self.writes_out else 4 * self.dim
        self.new_stats()
        self._x = _views_for(self.shape, use_torch)
        self._out = self._x
        self._t = _views_for((), use_torch)
        # (x, t, out, rows) -> the four views: one lookup per call (the library reuses a few
        # buffers, so after the first calls of a run every call hits)
        self._calls: Dict[Any, Tuple[Any, Any, np.ndarray, Any]] = {}
        self._eval = self._eval_torch if use_torch else self._eval_numpy
        self._err_row = 0
        self._cb = ffi.callback(_EVAL_SIG, self._eval_concurrent if self.thread_safe
                                else self._eval, error=1, onerror=self._onerror)
        self._struct = ffi.new("its_model *")
        self._fill()

    def _fill(self) -> None:
        m = self._struct
        lib.its_model_init(m)
        m.dim = self.dim
        m.pred = _parse_pred(self.pred)
        self._interp_cbs = _fill_interp(ffi.addressof(m, "interp"), self.interp,
                                        onerror=self._onerror)
        m.max_batch = self.max_batch
        m.thread_safe = int(self.thread_safe)
        m.eval = self._cb
        m.user = ffi.NULL

    @property
    def c_struct(self):
        """The ``its_model`` handed to the library."""
        return self._struct

    def _check(self, y, n: int):
        want = (n,) + self.shape
        if self.framework == "torch":
            if not isinstance(y, torch.Tensor):
                hint = ("" if not isinstance(y, np.ndarray) else
                        " (framework='torch' was given; pass framework='numpy' for a numpy "
                        "model)" if self._framework_given else
                        " (the program imported torch, so callables get tensors; pass "
                        "framework='numpy' for a numpy model)")
                raise _BadReturn(f"model returned {type(y).__name__}, expected a torch.Tensor"
                                 + hint)
        elif not isinstance(y, np.ndarray):
            raise _BadReturn(f"model returned {type(y).__name__}, expected a numpy.ndarray")
        if tuple(y.shape) != want:
            raise _BadReturn(f"model returned shape {tuple(y.shape)}, expected {want}")
        if y.dtype != self.dtype:
            raise _BadReturn(f"model returned dtype {y.dtype}, expected {self.dtype}")

    def _begin(self, x, t, out, n: int) -> Tuple[Any, Any, np.ndarray, Any]:
        """Counts a call of n rows and returns its views (x, t, out as numpy, out): one lookup
        once the library's buffers have been seen."""
        if self._lock is None:
            st = self.stats
            st.calls += 1
            st.rows += n
        else:
            self._tally(n)
        key = (x, t, out, n)
        v = self._calls.get(key)
        if v is None:
            on, ov = self._out.pair(out, n)
            v = (self._x.get(x, n), self._t.get(t, n), on, ov)
            if len(self._calls) >= 64:
                self._calls.clear()
            self._calls[key] = v
        return v

    def _eval_concurrent(self, user, x, t, n, out):
        """A thread-safe model's call: of the calls of one wave that raise, the exception
        re-raised is that of the lowest rows, the one the library reports (its row order)."""
        try:
            return self._eval(user, x, t, n, out)
        except BaseException as e:  # noqa: BLE001 (re-raised from the run)
            row = int(ffi.cast("uintptr_t", x))
            with self._lock:
                if self.error is None or row < self._err_row:
                    self.error, self._err_row = e, row
            return 1

    def _tally(self, n: int) -> None:
        """Counts one call of n rows on a thread-safe model (calls may run concurrently)."""
        with self._lock:
            st = self.stats
            st.calls += 1
            st.rows += n

    # The per-call paths below run after the model's forward has pushed the interpreter's own
    # code and data out of the CPU caches, where every bytecode costs several times what it
    # does in a warm loop: they are kept short (one lookup for the views in _begin, type and
    # dtype compared by identity, the full check only when those differ).

    def _eval_torch(self, user, x, t, n, out):
        xv, tv, _, ov = self._begin(x, t, out, n)
        if self._moves:
            xv = xv.to(self.device, self.dtype)
            tv = tv.to(self.device, self.dtype)
        if _grad_enabled():
            with torch.no_grad():
                return self._call_torch(xv, tv, ov, n)
        return self._call_torch(xv, tv, ov, n)

    def _call_torch(self, xv, tv, ov, n):
        if self.writes_out:
            self.fn(xv, tv, ov)
            return 0
        y = self.fn(xv, tv)
        if y.__class__ is not _Tensor or y.dtype is not self.dtype or y.shape != ov.shape:
            self._check(y, n)
        ov.copy_(y)  # from any device
        return 0

    def _eval_numpy(self, user, x, t, n, out):
        xv, tv, _, ov = self._begin(x, t, out, n)
        if self._moves:
            xv = xv.astype(self.dtype)
            tv = tv.astype(self.dtype)
        if self.writes_out:
            self.fn(xv, tv, ov)
            return 0
        y = self.fn(xv, tv)
        if y.__class__ is not np.ndarray or y.dtype != self.dtype or y.shape != ov.shape:
            self._check(y, n)
        np.copyto(ov, y)
        return 0

    def to_device(self, a: np.ndarray):
        """Samples (host numpy) as the callable's array type, on its device."""
        a = a.reshape((a.shape[0],) + self.shape)
        if self.framework == "torch":
            return torch.from_numpy(a).to(self.device)
        return a


class Verifier(_Callback):
    """A Python callable ``verifier(x0) -> scores`` as the library's verifier callback.

    Args:
        fn: called with ``x0`` (``[n, dim]`` or ``[n, *shape]``, as the model sees it); returns
            ``n`` scores, higher is better (``-inf`` rejects, NaN is an error).
        grad: optional ``grad(x0) -> (gradient, scores)``. For a torch verifier the gradient is
            taken by autograd when a method needs it (``local_search``) unless
            ``autograd=False``.
        max_batch: most rows per call (0 = any).
        device, dtype, framework: as for :class:`Model` (by default the model's device and
            framework, and float32).
    """

    def __init__(self, fn: Callable[..., Any], grad: Optional[Callable[..., Any]] = None,
                 max_batch: int = 0, device: Any = None, dtype: Any = None,
                 framework: Optional[str] = None, autograd: bool = True):
        super().__init__()
        self.fn = fn
        self.grad_fn = grad
        self.framework_arg = framework
        self.framework = _framework(fn, framework)
        self.max_batch = int(max_batch)
        self.device_arg = device if device is not None else _module_device(fn)
        # as for a model: a module's (or a module method's) floating dtype, e.g. after .double()
        self.dtype_arg = dtype if dtype is not None or self.framework != "torch" else \
            _module_dtype(fn)
        self.autograd = autograd
        self._struct = ffi.new("its_verifier *")
        self.shape: Optional[Tuple[int, ...]] = None

    def bind(self, shape: Tuple[int, ...], model: Optional[Model]) -> None:
        """Fixes the sample shape (and the device and dtype a model implies) before a run."""
        if self.shape == shape and self._struct.score != ffi.NULL:
            return
        self.shape = shape
        use_torch = self.framework == "torch"
        if use_torch:
            dev = self.device_arg
            if dev is None and model is not None and model.framework == "torch":
                dev = model.device
            self.device = torch.device(dev) if dev is not None else torch.device("cpu")
            self.dtype = self.dtype_arg if self.dtype_arg is not None else torch.float32
            self._moves = self.device.type != "cpu" or self.dtype != torch.float32
        else:
            self.device = None
            self.dtype = np.dtype(self.dtype_arg) if self.dtype_arg is not None else np.float32
            self._moves = self.dtype != np.float32
        self.dim = int(np.prod(shape))
        self._torch = use_torch
        if use_torch:
            _bind_torch()
        self._in_row = 4 * self.dim if self._moves else 0
        self.new_stats()
        self._x = _views_for(shape, use_torch)
        self._s = _views_for((), use_torch)
        self._g = self._x
        self._calls: Dict[Any, Tuple[Any, Tuple[np.ndarray, Any]]] = {}
        self._score_cb = ffi.callback(_SCORE_SIG, self._score, error=1, onerror=self._onerror)
        has_grad = self.grad_fn is not None or (use_torch and self.autograd)
        self._grad_cb = (ffi.callback(_GRAD_SIG, self._grad, error=1, onerror=self._onerror)
                         if has_grad else ffi.NULL)
        v = self._struct
        lib.its_verifier_init(v)
        v.max_batch = self.max_batch
        v.score = self._score_cb
        v.grad = self._grad_cb
        v.user = ffi.NULL

    @property
    def c_struct(self):
        """The ``its_verifier`` handed to the library."""
        return self._struct

    def _input(self, x0, n, xv=None):
        if xv is None:
            xv = self._x.get(x0, n)
        if self._moves:
            if self.framework == "torch":
                return xv.to(self.device, self.dtype)
            return xv.astype(self.dtype)
        return xv

    def _scores_out(self, s, n: int, pair) -> None:
        if self._torch and s.__class__ is _Tensor and s.dtype is _f32 and \
                s.shape == pair[1].shape:
            pair[1].copy_(s.detach() if s.requires_grad else s)  # the common case, kept short
            return
        if self.framework == "torch" and isinstance(s, torch.Tensor):
            if s.dtype not in (_TORCH_FLOATS or _torch_floats()):
                raise _BadReturn(f"verifier returned dtype {s.dtype}, expected a float dtype")
            if s.shape != (n,):
                if s.numel() != n or s.dim() > 2:
                    raise _BadReturn(f"verifier returned shape {tuple(s.shape)}, expected ({n},)")
                s = s.reshape(n)
            pair[1].copy_(s.detach() if s.requires_grad else s)
            return
        s = np.asarray(s)
        if s.dtype.kind != "f":
            raise _BadReturn(f"verifier returned dtype {s.dtype}, expected a float dtype")
        if s.size != n or s.ndim > 2:
            raise _BadReturn(f"verifier returned shape {tuple(s.shape)}, expected ({n},)")
        np.copyto(pair[0], s.reshape(n), casting="same_kind")

    def _score(self, user, x0, n, scores):
        st = self.stats
        st.calls += 1
        st.rows += n
        v = self._calls.get((x0, scores, n))  # one lookup per call, as Model._eval_torch
        if v is None:
            v = (self._x.get(x0, n), self._s.pair(scores, n))
            if len(self._calls) >= 64:
                self._calls.clear()
            self._calls[(x0, scores, n)] = v
        xv = self._input(x0, n, v[0]) if self._moves else v[0]
        if self._torch and _grad_enabled():
            with torch.no_grad():
                s = self.fn(xv)
        else:
            s = self.fn(xv)
        self._scores_out(s, n, v[1])
        return 0

    def _grad(self, user, x0, n, grad, scores):
        st = self.stats
        st.calls += 1
        st.rows += n
        xv = self._input(x0, n)
        sv = self._s.pair(scores, n)
        gv = self._g.get(grad, n)
        if self.grad_fn is not None:
            g, s = self.grad_fn(xv)
        else:
            if torch.is_inference_mode_enabled():
                raise _BadReturn("this method needs the verifier's gradient, and "
                                 "torch.inference_mode() turns autograd off: run it outside "
                                 "inference mode (torch.no_grad() is fine), or give grad=")
            xr = xv.detach().requires_grad_(True)
            with torch.enable_grad():
                s = self.fn(xr)
                if not isinstance(s, torch.Tensor) or not s.requires_grad:
                    raise _BadReturn("verifier output does not depend on its input through "
                                     "autograd; give grad= or a differentiable verifier")
                (g,) = torch.autograd.grad(s.sum(), xr)
        if tuple(g.shape) != (n,) + self.shape:
            raise _BadReturn(f"verifier gradient has shape {tuple(g.shape)}, expected "
                             f"{(n,) + self.shape}")
        if self.framework == "torch":
            gv.copy_(g.detach())
        else:
            np.copyto(gv, g, casting="same_kind")
        self._scores_out(s, n, sv)
        return 0


class NativeModel:
    """A model whose callback is C code in the library (e.g. :meth:`itscale.Gmm.model`)."""

    framework = "numpy"
    device = None

    def __init__(self, struct, keepalive: Any, shape: Tuple[int, ...]):
        self._struct = struct
        self._keepalive = keepalive
        self.shape = shape
        self.dim = int(np.prod(shape))
        self.error = None
        self.stats = BridgeStats()

    @property
    def c_struct(self):
        """The ``its_model`` handed to the library."""
        return self._struct

    def reset(self) -> None:
        """Nothing to reset: C callbacks keep no Python state."""

    def new_stats(self) -> BridgeStats:
        """Fresh (empty: nothing crosses the bridge) statistics for the next run."""
        self.stats = BridgeStats()
        return self.stats

    def to_device(self, a: np.ndarray):
        """Samples as a numpy array shaped ``[k, *shape]``."""
        return a.reshape((a.shape[0],) + self.shape)


class NativeVerifier:
    """A verifier whose callback is C code in the library (e.g. :meth:`itscale.Gmm.quadratic`)."""

    def __init__(self, struct, keepalive: Any):
        self._struct = struct
        self._keepalive = keepalive
        self.error = None
        self.stats = BridgeStats()

    @property
    def c_struct(self):
        """The ``its_verifier`` handed to the library."""
        return self._struct

    def bind(self, shape, model) -> None:
        """Nothing to bind: the C verifier knows its row width."""

    def reset(self) -> None:
        """Nothing to reset: C callbacks keep no Python state."""

    def new_stats(self) -> BridgeStats:
        """Fresh (empty: nothing crosses the bridge) statistics for the next run."""
        self.stats = BridgeStats()
        return self.stats


def as_model(model: Any, **kw: Any):
    """``model`` as an adapter: a :class:`Model`/:class:`NativeModel` as is, a callable wrapped."""
    if isinstance(model, (Model, NativeModel)):
        if kw:
            raise TypeError(f"model options {sorted(kw)} apply only to a bare callable")
        return model
    if not callable(model):
        raise TypeError(f"model: expected a callable, got {type(model).__name__}")
    return Model(model, **kw)


def as_verifier(verifier: Any, model: Any = None, **kw: Any):
    """``verifier`` as an adapter (None stays None); a bare callable takes the model's
    framework unless told otherwise."""
    if verifier is None or isinstance(verifier, (Verifier, NativeVerifier)):
        return verifier
    if not callable(verifier):
        raise TypeError(f"verifier: expected a callable, got {type(verifier).__name__}")
    if "framework" not in kw and isinstance(model, Model):
        kw["framework"] = model.framework
    return Verifier(verifier, **kw)


def _parse_pred(name: str) -> int:
    out = ffi.new("its_pred *")
    if lib.its_pred_parse(name.encode(), out) != 0:
        raise ValueError(f"pred: unknown prediction type {name!r} "
                         "(velocity, eps, x0, score)")
    return out[0]


_INTERP_FIELDS = ("beta_min", "beta_max", "sigma_min", "sigma_max", "cosine_s")
_CUSTOM_FIELDS = ("alpha", "sigma", "dalpha", "dsigma")


def _scalar_fn(f: Callable[[float], float]) -> Callable[[Any, float], float]:
    def call(user: Any, t: float) -> float:
        return float(f(t))
    return call


def _fill_interp(ip, spec: Union[str, Dict[str, Any]], onerror: Any = None) -> list:
    """Fills ``ip`` from a name or a dict; returns the C callbacks of a custom interpolant,
    which must stay referenced as long as the library may call them.

    ``{"kind": "custom", "alpha": f, "sigma": g, "dalpha": f', "dsigma": g'}``: four Python
    functions of t (float -> float; the derivatives with respect to t). A function that
    raises or returns NaN makes the run fail with ``NumericError``; with ``onerror`` (a
    model's) the exception itself is re-raised from the run."""
    if isinstance(spec, str):
        spec = {"kind": spec}
    spec = dict(spec)
    kind = spec.pop("kind", "linear")
    k = ffi.new("its_interp_kind *")
    if lib.its_interp_kind_parse(str(kind).encode(), k) != 0:
        raise ValueError(f"interp: unknown interpolant {kind!r} "
                         "(linear, vp, vp_cosine, ve, custom)")
    lib.its_interp_init(ip, k[0])
    keep = []
    if kind == "custom":
        for name in _CUSTOM_FIELDS:
            f = spec.pop(name, None)
            if not callable(f):
                raise ValueError(f"interp.{name}: a custom interpolant needs a callable "
                                 f"{name}(t) -> float, got {type(f).__name__}")
            cb = ffi.callback("double(void *, double)", _scalar_fn(f), error=math.nan,
                              onerror=onerror)
            setattr(ip, name, cb)
            keep.append(cb)
    allowed = _CUSTOM_FIELDS if kind == "custom" else _INTERP_FIELDS
    for key, val in spec.items():
        if key in _CUSTOM_FIELDS or key not in allowed:
            raise ValueError(f"interp.{key}: unknown key (expected one of {allowed})")
        if not math.isfinite(float(val)):
            raise ValueError(f"interp.{key}: expected a finite number, got {val!r}")
        setattr(ip, key, float(val))
    return keep
