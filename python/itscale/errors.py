"""Exceptions carrying the library's status and message."""
from __future__ import annotations

from typing import Dict, Type

__all__ = ["ItscaleError", "InvalidError", "NoMemoryError", "CallbackError", "NumericError",
           "BudgetError", "ConfigError", "UnsupportedError", "ItscaleIOError", "error_for"]


class ItscaleError(Exception):
    """An itscale call failed.

    Attributes:
        status: the library's status code (an ``its_status`` value, e.g. -5).
        status_name: its name (``"ITS_ERR_BUDGET"``).
        message: the library's message (``its_ctx_errmsg``), naming the cause.
    """

    def __init__(self, status: int, status_name: str, message: str):
        super().__init__(f"{status_name}: {message}")
        self.status = status
        self.status_name = status_name
        self.message = message


class InvalidError(ItscaleError, ValueError):
    """ITS_ERR_INVALID: a bad argument (out of range, inconsistent)."""


class NoMemoryError(ItscaleError, MemoryError):
    """ITS_ERR_NOMEM: an allocation failed."""


class CallbackError(ItscaleError):
    """ITS_ERR_CALLBACK: a model or verifier callback failed (wrong shape, dtype, an error)."""


class NumericError(ItscaleError, ArithmeticError):
    """ITS_ERR_NUMERIC: NaN or Inf where a finite number was needed."""


class BudgetError(ItscaleError):
    """ITS_ERR_BUDGET: the budget cannot pay for the smallest run of the method."""


class ConfigError(ItscaleError, ValueError):
    """ITS_ERR_CONFIG: malformed or invalid configuration; the message names the JSON path."""


class UnsupportedError(ItscaleError):
    """ITS_ERR_UNSUPPORTED: the combination asked for is not supported."""


class ItscaleIOError(ItscaleError):
    """ITS_ERR_IO: a file could not be read or written."""


_BY_STATUS: Dict[int, Type[ItscaleError]] = {
    -1: InvalidError, -2: NoMemoryError, -3: CallbackError, -4: NumericError, -5: BudgetError,
    -6: ConfigError, -7: UnsupportedError, -8: ItscaleIOError,
}


def error_for(status: int, status_name: str, message: str) -> ItscaleError:
    """The exception of the class matching status."""
    return _BY_STATUS.get(status, ItscaleError)(status, status_name, message)
