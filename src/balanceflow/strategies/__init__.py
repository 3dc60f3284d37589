"""Strategies as data, the named presets that ``compare`` runs, and user strategies from
a TOML file."""

from balanceflow.strategies._config import load_config
from balanceflow.strategies._strategy import (
    DEFAULT,
    PRESETS,
    Strategy,
    get,
    resolve_strategies,
)

__all__ = ["DEFAULT", "PRESETS", "Strategy", "get", "load_config", "resolve_strategies"]
