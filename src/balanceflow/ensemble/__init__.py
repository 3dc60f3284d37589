"""Ensembles of Keras models trained with different imbalance strategies.

``StrategyEnsemble`` trains one member on the original, one on over-sampled and one on
under-sampled data (or any list of strategies) and combines them by soft vote, hard vote or
weights fit on validation data; ``save`` writes one ``.keras`` file.
"""

from balanceflow.ensemble._combine import (
    COMBINE_METHODS,
    combine_proba,
    fit_vote_weights,
    hard_vote,
)
from balanceflow.ensemble._layers import EnsembleCombiner
from balanceflow.ensemble._members import MEMBER_STRATEGIES, prepare_member
from balanceflow.ensemble._strategy_ensemble import StrategyEnsemble, combine_models

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
