"""The methods and their parameters, from the library's own metadata (its_params_json)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from ._lib import ffi, lib
from .core import Context

__all__ = ["MethodInfo", "ParamInfo", "samplers", "run_params", "params_json"]


@dataclass(frozen=True)
class ParamInfo:
    """One parameter: its JSON key (run parameters: the path under ``run``), type (``int``,
    ``real``, ``bool``, ``enum``, ``array``, ``interp``), default, bounds (``min`` excluded when
    ``min_open``), the names of an enum's choices, whether it is the method's size parameter
    (the one scaled to a budget), and its meaning."""
    name: str
    type: str
    default: Any
    min: Optional[float] = None
    max: Optional[float] = None
    min_open: bool = False
    choices: Optional[List[str]] = None
    size_param: bool = False
    doc: str = ""

    def __str__(self) -> str:
        if self.choices:
            rng = ", ".join(self.choices)
        elif self.min is not None or self.max is not None:
            rng = f"{'(' if self.min_open else '['}{self.min:g}, {self.max:g}]"
        else:
            rng = ""
        return f"{self.name:16s} {json.dumps(self.default):12s} {rng:28s} {self.doc}"


@dataclass(frozen=True)
class MethodInfo:
    """One method: name, summary, whether it needs a verifier and its gradient (0 no, 1
    always, 2 with some parameters), how it scales to a budget, and its parameters."""
    name: str
    summary: str
    needs_verifier: bool = True
    needs_grad: int = 0
    scale_rule: str = ""
    size_param: Optional[str] = None
    params: List[ParamInfo] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"{self.name:18s} {self.summary}"]
        lines += [f"    {p}" for p in self.params]
        if self.scale_rule:
            lines.append(f"    budget scaling: {self.scale_rule}")
        return "\n".join(lines)


class _Listing(list):
    """A list whose str() is a readable table."""

    def __str__(self) -> str:
        return "\n".join(str(x) for x in self)


def params_json() -> Dict[str, Any]:
    """The library's parameter metadata document: ``{"version", "methods", "run"}``."""
    ctx = Context()
    try:
        out = ffi.new("char **")
        ctx.check(lib.its_params_json(ctx.ptr, out))
        try:
            return json.loads(ffi.string(out[0]).decode())
        finally:
            lib.its_ctx_mem_free(ctx.ptr, out[0])
    finally:
        ctx.close()


def _param(d: Dict[str, Any]) -> ParamInfo:
    return ParamInfo(name=d["name"], type=d["type"], default=d.get("default"),
                     min=d.get("min"), max=d.get("max"), min_open=bool(d.get("min_open")),
                     choices=d.get("choices"), size_param=bool(d.get("size_param")),
                     doc=d.get("doc", ""))


def samplers() -> List[MethodInfo]:
    """Every method the library implements, with its parameters (defaults, ranges, meaning),
    in the library's order. ``print(itscale.samplers())`` shows them as a table."""
    doc = params_json()
    out = _Listing()
    for name, m in doc["methods"].items():
        out.append(MethodInfo(name=name, summary=m.get("summary", ""),
                              needs_verifier=bool(m.get("needs_verifier", True)),
                              needs_grad=int(m.get("needs_grad", 0)),
                              scale_rule=m.get("scale_rule", ""),
                              size_param=m.get("size_param"),
                              params=[_param(p) for p in m.get("params", [])]))
    return out


def run_params() -> List[ParamInfo]:
    """The run parameters shared by every method (``run.*`` in a configuration)."""
    return _Listing(_param(p) for p in params_json()["run"])
