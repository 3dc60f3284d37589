"""Combining the models of an ensemble: soft, hard and weighted votes, and one Keras model.

The vote functions are numpy only; the Keras parts (``combine_models``,
``EnsembleCombiner``) load on first use, so that comparing strategies in worker processes
does not start TensorFlow in the parent.

``StrategyEnsemble`` (one model per imbalance strategy) trains through the trial runner
and lives in :mod:`balanceflow.training`; ``balanceflow.ensemble.StrategyEnsemble`` is the
same class, kept where users know it.
"""

from typing import Any

from balanceflow.ensemble._combine import (
    COMBINE_METHODS,
    combine_proba,
    fit_vote_weights,
    hard_vote,
)

__all__ = [
    "COMBINE_METHODS",
    "EnsembleCombiner",
    "StrategyEnsemble",
    "combine_models",
    "combine_proba",
    "fit_vote_weights",
    "hard_vote",
]

_LAZY_PARTS = {
    "EnsembleCombiner": "balanceflow.ensemble._layers",
    "combine_models": "balanceflow.ensemble._models",
    # The one name that lives a layer up (it trains strategies); see the docstring.
    "StrategyEnsemble": "balanceflow.training",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY_PARTS:
        import importlib

        value = getattr(importlib.import_module(_LAZY_PARTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
