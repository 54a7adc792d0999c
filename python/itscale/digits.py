"""The digits task's networks as PyTorch modules, loading the project's ``.itsw`` weight files.

The flow model predicts the velocity u = eps - x0 of the linear interpolant on 8 x 8 digits
scaled to [-1, 1] (64 values); its input is [x, sin((pi/2) 2^k t), cos((pi/2) 2^k t) for k <
n_freq, class one-hot]. Hidden layers use SiLU, the last is linear: exactly the C model in
examples/digits (mlp.c, flow.c). The classifier gives logits over the 10 digits; its
``log_prob`` of a target digit is the task's verifier.

Weight file (little-endian): "IDGW", u32 version 1, u32 kind (1 flow, 2 classifier), u32 L,
u32 n_freq, u32 n_class, u32 dims d_0..d_L, then per layer W (d_{l+1} x d_l, row-major) and b
as float32, then the CRC-32 (zlib) of every byte before it.
"""
from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path
from typing import List, Optional, Tuple, Union

import numpy as np
import torch
from torch import nn

__all__ = ["DigitsFlow", "DigitsClassifier", "read_itsw", "DIM"]

DIM = 64
_MAGIC = b"IDGW"
_KINDS = {1: "flow", 2: "classifier"}


def read_itsw(path: Union[str, Path], expect_kind: int = 0):
    """Reads and checks a weight file: returns (kind, n_freq, n_class, dims, [(W, b), ...])
    with W and b as float32 numpy arrays. Raises ValueError naming what is wrong."""
    data = Path(path).read_bytes()
    if len(data) < 4 or data[:4] != _MAGIC:
        raise ValueError(f"{path}: not an itscale weight file (magic)")
    if len(data) < 28:
        raise ValueError(f"{path}: truncated header")
    version, kind, L, n_freq, n_class = struct.unpack_from("<5I", data, 4)
    if version != 1:
        raise ValueError(f"{path}: version {version}, expected 1")
    if kind not in _KINDS or (expect_kind and kind != expect_kind):
        raise ValueError(f"{path}: kind {kind}, expected {expect_kind or '1 or 2'}")
    if not 1 <= L <= 8:
        raise ValueError(f"{path}: {L} layers, expected 1..8")
    off = 24 + 4 * (L + 1)
    if len(data) < off + 4:
        raise ValueError(f"{path}: truncated header")
    dims = list(struct.unpack_from(f"<{L + 1}I", data, 24))
    if any(not 1 <= d <= 4096 for d in dims):
        raise ValueError(f"{path}: widths {dims} outside 1..4096")
    if kind == 1:
        if n_freq > 16 or n_class not in (0, 10) or dims[0] != DIM + 2 * n_freq + n_class \
                or dims[-1] != DIM:
            raise ValueError(f"{path}: flow shape {dims} (n_freq {n_freq}, n_class {n_class})")
    elif n_freq != 0 or n_class < 2 or dims[0] != DIM or dims[-1] != n_class:
        raise ValueError(f"{path}: classifier shape {dims} (n_class {n_class})")
    count = sum(dims[l + 1] * dims[l] + dims[l + 1] for l in range(L))
    if len(data) != off + 4 * count + 4:
        raise ValueError(f"{path}: {len(data)} bytes, expected {off + 4 * count + 4}")
    (crc,) = struct.unpack_from("<I", data, len(data) - 4)
    if zlib.crc32(data[:-4]) != crc:
        raise ValueError(f"{path}: checksum mismatch")
    p = np.frombuffer(data, dtype="<f4", count=count, offset=off).astype(np.float32)
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{path}: non-finite parameter")
    layers: List[Tuple[np.ndarray, np.ndarray]] = []
    i = 0
    for l in range(L):
        nw = dims[l + 1] * dims[l]
        W = p[i:i + nw].reshape(dims[l + 1], dims[l])
        b = p[i + nw:i + nw + dims[l + 1]]
        i += nw + dims[l + 1]
        layers.append((W, b))
    return kind, n_freq, n_class, dims, layers


class _MLP(nn.Module):
    def __init__(self, layers: List[Tuple[np.ndarray, np.ndarray]]):
        super().__init__()
        self.linears = nn.ModuleList()
        for W, b in layers:
            lin = nn.Linear(W.shape[1], W.shape[0])
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(W.copy()))
                lin.bias.copy_(torch.from_numpy(b.copy()))
            self.linears.append(lin)

    def mlp(self, h: torch.Tensor) -> torch.Tensor:
        last = len(self.linears) - 1
        for i, lin in enumerate(self.linears):
            h = lin(h)
            if i < last:
                h = nn.functional.silu(h)
        return h


class DigitsFlow(_MLP):
    """The digits flow model: ``forward(x, t) -> velocity`` for x ``[n, 64]`` (or ``[n, 8, 8]``)
    and t ``[n]``, on the linear interpolant (``pred="velocity"``, ``interp="linear"``).

    Load with :meth:`load`; ``cond_class`` picks the digit of a class-conditional model
    (-1: unconditional).
    """

    dim = DIM
    pred = "velocity"
    interp = "linear"

    def __init__(self, n_freq: int, n_class: int, layers: List[Tuple[np.ndarray, np.ndarray]],
                 cond_class: int = -1):
        super().__init__(layers)
        self.n_freq = n_freq
        self.n_class = n_class
        self.cond_class = cond_class
        # (pi/2) 2^k exactly as the C code forms it, in double
        self.register_buffer("freqs", torch.tensor(
            [1.5707963267948966 * 2.0 ** k for k in range(n_freq)], dtype=torch.float64),
            persistent=False)

    @classmethod
    def load(cls, path: Union[str, Path], cond_class: int = -1) -> "DigitsFlow":
        """A flow model from a ``flow.itsw`` file (ValueError if it is not one)."""
        _, n_freq, n_class, _, layers = read_itsw(path, expect_kind=1)
        return cls(n_freq, n_class, layers, cond_class)

    def features(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The input rows: x, sin and cos of the time features (computed in double, then
        float32, as in C), the class one-hot."""
        n = x.shape[0]
        x = x.reshape(n, DIM)
        wt = t.reshape(n, 1).to(torch.float64) * self.freqs
        parts = [x, torch.sin(wt).to(x.dtype), torch.cos(wt).to(x.dtype)]
        if self.n_class:
            oh = torch.zeros(n, self.n_class, dtype=x.dtype, device=x.device)
            if 0 <= self.cond_class < self.n_class:
                oh[:, self.cond_class] = 1
            parts.append(oh)
        return torch.cat(parts, dim=1)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The velocity u = eps - x0 at (x, t), shaped like x."""
        return self.mlp(self.features(x, t)).reshape(x.shape)


class DigitsClassifier(_MLP):
    """A digits classifier: ``forward(x) -> logits`` over the 10 digits; with ``target`` set,
    :meth:`log_prob` (log p(target | x)) is the task's verifier."""

    dim = DIM

    def __init__(self, layers: List[Tuple[np.ndarray, np.ndarray]], target: int = 3):
        super().__init__(layers)
        self.target = target

    @classmethod
    def load(cls, path: Union[str, Path], target: int = 3) -> "DigitsClassifier":
        """A classifier from a ``verifier.itsw`` or ``evaluator.itsw`` file."""
        _, _, _, _, layers = read_itsw(path, expect_kind=2)
        return cls(layers, target)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits over the classes for each row of x."""
        return self.mlp(x.reshape(x.shape[0], DIM))

    def log_prob(self, x: torch.Tensor, target: Optional[int] = None) -> torch.Tensor:
        """log p(target | x) per row (the verifier's score)."""
        k = self.target if target is None else target
        return torch.log_softmax(self.forward(x).to(torch.float64), dim=1)[:, k].to(x.dtype)
