"""Ensembles of Keras models trained with different imbalance strategies.

``StrategyEnsemble`` trains one member on the original, one on over-sampled and one on
under-sampled data (or any list of strategies) and combines them by soft vote, hard vote or
weights fit on validation data; ``save`` writes one ``.keras`` file.

The vote functions are numpy only; the Keras parts (``StrategyEnsemble``,
``combine_models``, ``EnsembleCombiner``) load on first use, so that comparing strategies
in worker processes does not start TensorFlow in the parent.
"""

from typing import Any

from balanceflow.ensemble._combine import (
    COMBINE_METHODS,
    combine_proba,
    fit_vote_weights,
    hard_vote,
)
from balanceflow.ensemble._members import MEMBER_STRATEGIES, prepare_member

__all__ = [
    "COMBINE_METHODS",
    "MEMBER_STRATEGIES",
    "EnsembleCombiner",
    "StrategyEnsemble",
    "combine_models",
    "combine_proba",
    "fit_vote_weights",
    "hard_vote",
    "prepare_member",
]

_KERAS_PARTS = {
    "EnsembleCombiner": "balanceflow.ensemble._layers",
    "StrategyEnsemble": "balanceflow.ensemble._strategy_ensemble",
    "combine_models": "balanceflow.ensemble._strategy_ensemble",
}


def __getattr__(name: str) -> Any:
    if name in _KERAS_PARTS:
        import importlib

        value = getattr(importlib.import_module(_KERAS_PARTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
