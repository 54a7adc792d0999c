"""The analytic Gaussian mixture (``its_gmm``): exact predictions, log densities and samples,
so a pipeline can be checked against exact answers."""
from __future__ import annotations

import weakref
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np

from ._lib import ffi, lib
from .adapters import NativeModel, NativeVerifier, _fill_interp, _parse_pred
from .core import Context

__all__ = ["Gmm"]


def _f64(a: Any, shape: Tuple[int, ...], name: str) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=np.float64)
    if a.shape != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {a.shape}")
    return a


class Gmm:
    """A mixture sum_k w_k N(mu_k, diag(s_k^2)) in any dimension, with exact velocity, noise,
    x0 and score under every Gaussian interpolant.

    Args:
        weights: k weights (normalised by the library).
        means: k x dim means.
        stds: k x dim standard deviations (> 0), or k values (isotropic components).
    """

    def __init__(self, weights: Sequence[float], means: Any, stds: Any):
        w = np.ascontiguousarray(weights, dtype=np.float64).reshape(-1)
        mu = np.ascontiguousarray(means, dtype=np.float64)
        if mu.ndim != 2 or mu.shape[0] != w.size:
            raise ValueError(f"means: expected shape ({w.size}, dim), got {mu.shape}")
        k, dim = mu.shape
        sd = np.asarray(stds, dtype=np.float64)
        if sd.ndim == 1 and sd.size == k:
            sd = np.repeat(sd[:, None], dim, axis=1)
        sd = _f64(sd, (k, dim), "stds")
        self._ctx = Context()
        out = ffi.new("its_gmm **")
        st = lib.its_gmm_create(self._ctx.ptr, dim, k, ffi.from_buffer("double[]", w),
                                ffi.from_buffer("double[]", mu), ffi.from_buffer("double[]", sd),
                                out)
        if st != 0:
            err = self._ctx.error(st)
            self._ctx.close()
            raise err
        self._init(out[0])

    def _init(self, ptr) -> None:
        self.ptr = ptr
        self._fin = weakref.finalize(self, _free_gmm, ptr, self._ctx)
        self.dim = int(lib.its_gmm_dim(ptr))
        self.k = int(lib.its_gmm_components(ptr))

    @property
    def weights(self) -> np.ndarray:
        """The normalised weights (k)."""
        return np.array([lib.its_gmm_weight(self.ptr, i) for i in range(self.k)])

    @property
    def means(self) -> np.ndarray:
        """The means (k x dim)."""
        return np.stack([np.frombuffer(ffi.buffer(lib.its_gmm_mean(self.ptr, i), 8 * self.dim))
                         for i in range(self.k)])

    @property
    def stds(self) -> np.ndarray:
        """The standard deviations (k x dim)."""
        return np.stack([np.frombuffer(ffi.buffer(lib.its_gmm_std(self.ptr, i), 8 * self.dim))
                         for i in range(self.k)])

    @staticmethod
    def _interp(interp: Union[str, Dict[str, Any]]):
        """The C interpolant and the callbacks it needs alive (a custom one's)."""
        ip = ffi.new("its_interp *")
        return ip, _fill_interp(ip, interp)

    def predict(self, x: Any, t: Any, pred: str = "velocity",
                interp: Union[str, Dict[str, Any]] = "linear") -> np.ndarray:
        """The exact prediction (``velocity``, ``eps``, ``x0`` or ``score``) at t for the rows of
        x (n x dim, float32). t is a number or n times; computed in double, returned as float32.
        """
        x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, self.dim)
        n = x.shape[0]
        out = np.empty_like(x)
        ip, _keep = self._interp(interp)
        p = _parse_pred(pred)
        tt = np.broadcast_to(np.asarray(t, dtype=np.float64).reshape(-1), (n,))
        # rows that share a time go in one call (the library is row-independent)
        i = 0
        while i < n:
            j = i + 1
            while j < n and tt[j] == tt[i]:
                j += 1
            self._ctx.check(lib.its_gmm_predict(
                self.ptr, ip, p, float(tt[i]), ffi.from_buffer("float[]", x[i:j]), j - i,
                ffi.from_buffer("float[]", out[i:j])))
            i = j
        return out

    def responsibilities(self, x: Any, t: float = 0.0,
                         interp: Union[str, Dict[str, Any]] = "linear") -> np.ndarray:
        """Posterior component probabilities of each row of x under the marginal at t (n x k)."""
        x = np.ascontiguousarray(x, dtype=np.float64).reshape(-1, self.dim)
        out = np.empty((x.shape[0], self.k))
        ip, _keep = self._interp(interp)
        for i in range(x.shape[0]):
            self._ctx.check(lib.its_gmm_responsibilities(
                self.ptr, ip, float(t), ffi.from_buffer("double[]", x[i]),
                ffi.from_buffer("double[]", out[i])))
        return out

    def logpdf(self, x: Any, t: float = 0.0,
               interp: Union[str, Dict[str, Any]] = "linear") -> np.ndarray:
        """log p_t(x) of the marginal at t for each row of x."""
        x = np.ascontiguousarray(x, dtype=np.float64).reshape(-1, self.dim)
        out = np.empty(x.shape[0])
        o = ffi.new("double *")
        ip, _keep = self._interp(interp)
        for i in range(x.shape[0]):
            self._ctx.check(lib.its_gmm_logpdf(self.ptr, ip, float(t),
                                               ffi.from_buffer("double[]", x[i]), o))
            out[i] = o[0]
        return out

    def sample(self, n: int, seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
        """n exact samples (n x dim, float32) and their components."""
        x = np.empty((n, self.dim), dtype=np.float32)
        comp = ffi.new("size_t[]", max(n, 1))
        self._ctx.check(lib.its_gmm_sample(self.ptr, int(seed), n,
                                           ffi.from_buffer("float[]", x), comp))
        return x, np.array([comp[i] for i in range(n)], dtype=np.int64)

    def model(self, pred: str = "velocity",
              interp: Union[str, Dict[str, Any]] = "linear") -> NativeModel:
        """The exact model as a native (C) callback. One model binding per mixture at a time:
        binding again changes what earlier bindings predict."""
        m = ffi.new("its_model *")
        ip, keep = self._interp(interp)
        lib.its_gmm_bind_model(self.ptr, ip, _parse_pred(pred), m)
        # two holders of the callbacks: the model struct's own copy of the interpolant (kept
        # by the model) and the mixture's, of its latest binding, which every earlier binding
        # predicts with (kept by the mixture until the next binding)
        self._bound_interp = keep
        return NativeModel(m, (self, keep), (self.dim,))

    def logprob(self, target: int) -> NativeVerifier:
        """Native verifier: log p(target | x0) at t = 0 (<= 0), with gradient."""
        v = ffi.new("its_verifier *")
        self._ctx.check(lib.its_gmm_bind_logprob(self.ptr, int(target), v))
        return NativeVerifier(v, self)

    def quadratic(self, center: Any, a: float) -> NativeVerifier:
        """Native verifier: r(x) = -a |x - center|^2, with gradient."""
        c = _f64(center, (self.dim,), "center")
        v = ffi.new("its_verifier *")
        self._ctx.check(lib.its_gmm_bind_quadratic(self.ptr, ffi.from_buffer("double[]", c),
                                                   float(a), v))
        return NativeVerifier(v, self)

    def tilt_quadratic(self, center: Any, a: float, lam: float) -> "Gmm":
        """The tilted mixture p(x) exp(lam r(x)) / Z for r(x) = -a |x - center|^2 (exact)."""
        c = _f64(center, (self.dim,), "center")
        out = ffi.new("its_gmm **")
        self._ctx.check(lib.its_gmm_tilt_quadratic(self.ptr, ffi.from_buffer("double[]", c),
                                                   float(a), float(lam), out))
        g = Gmm.__new__(Gmm)
        g._ctx = self._ctx  # created on this context, which its finaliser keeps alive
        g._init(out[0])
        return g


def _free_gmm(ptr, ctx: Context) -> None:
    lib.its_gmm_free(ptr)
