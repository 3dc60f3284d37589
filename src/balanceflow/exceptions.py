"""Exceptions raised by balanceflow.

Every error that balanceflow raises on purpose derives from :class:`BalanceflowError`, so that
callers (and the command-line tool) can tell a known, explained failure from a bug.
"""

from __future__ import annotations

__all__ = ["BalanceflowError", "DataError", "InvalidParameterError", "NotFittedError"]


class BalanceflowError(Exception):
    """Base class of every error raised on purpose by balanceflow."""


class InvalidParameterError(BalanceflowError, ValueError):
    """A parameter has a value that is not allowed (the message names it and the value)."""


class DataError(BalanceflowError, ValueError):
    """The data cannot be used as given (wrong shape, a single class, NaN in targets...)."""


class NotFittedError(BalanceflowError, AttributeError):
    """A fitted attribute or method was used before ``fit``."""
