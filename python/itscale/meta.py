"""The methods and their parameters, as the library describes them."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, List, Optional

from ._lib import ffi, lib, cstr
from .core import Context, SDE_METHODS

__all__ = ["MethodInfo", "ParamInfo", "samplers"]


@dataclass(frozen=True)
class ParamInfo:
    """One method parameter: its JSON key, type, default, range and meaning (where the library
    publishes them)."""
    name: str
    type: str
    default: Any
    min: Optional[float] = None
    max: Optional[float] = None
    choices: Optional[List[str]] = None
    doc: str = ""


@dataclass(frozen=True)
class MethodInfo:
    """One method: its name, a summary and its parameters (``params`` in a configuration)."""
    name: str
    summary: str
    params: List[ParamInfo] = field(default_factory=list)

    def __str__(self) -> str:
        ps = ", ".join(f"{p.name}={p.default!r}" for p in self.params)
        return f"{self.name}({ps})"


def _type_of(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    return "string"


def samplers() -> List[MethodInfo]:
    """Every method the library implements, with its parameters and their defaults.

    The defaults are the library's own: each method's effective configuration as
    ``its_sampler_to_json`` writes it.
    """
    ctx = Context()
    out: List[MethodInfo] = []
    try:
        i = 0
        while True:
            name = cstr(lib.its_method_name(i))
            if name is None:
                break
            i += 1
            # a cap, for the methods that size themselves from it (zero_order's rounds = 0)
            doc = {"sampler": name, "run": {"budget": {"max_nfe": 1000000}}}
            if name in SDE_METHODS:
                doc["run"]["dynamics"] = {"kind": "sde"}
            text = json.dumps(doc).encode()
            sp = ffi.new("its_sampler **")
            st = lib.its_sampler_from_json(ctx.ptr, text, len(text), sp)
            if st != 0:
                raise ctx.error(st)
            try:
                eff = json.loads(ffi.string(lib.its_sampler_to_json(sp[0])).decode())
            finally:
                lib.its_sampler_free(sp[0])
            params = [ParamInfo(k, _type_of(v), v) for k, v in eff.get("params", {}).items()]
            out.append(MethodInfo(name, "", params))
    finally:
        ctx.close()
    return out
