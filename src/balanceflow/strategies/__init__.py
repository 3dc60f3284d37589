"""Strategies as data, and the named presets that ``compare`` runs."""

from balanceflow.strategies._strategy import (
    DEFAULT,
    PRESETS,
    Strategy,
    get,
    resolve_strategies,
)

__all__ = ["DEFAULT", "PRESETS", "Strategy", "get", "resolve_strategies"]
