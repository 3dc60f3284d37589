"""Strategies made of small parts, the named presets that ``compare`` runs, and user
strategies from a TOML file.

- Parts (one change each to how a model trains): :class:`Resample`,
  :class:`ClassWeights`, :class:`CountsLoss`, :class:`DeferredReweighting`,
  :class:`EpochwiseBalance`.
- Strategies (one class per mode): :class:`Strategy` (one model, its parts applied in
  order), :class:`Ensemble` (a vote of single strategies), :class:`Tuned` (a strategy with
  its binary threshold tuned on an inner split).
- ``PRESETS``: named compositions (``"focal"``, ``"ldam_drw"``, ``"seed_ensemble"``, ...);
  :func:`get` and :func:`resolve_strategies` turn names into strategies.
"""

from balanceflow.strategies._config import load_config
from balanceflow.strategies._parts import (
    PARTS,
    PRIOR_STATUSES,
    ClassWeights,
    CountsLoss,
    DeferredReweighting,
    EpochwiseBalance,
    Part,
    PriorState,
    Resample,
    TrainingSetup,
)
from balanceflow.strategies._strategy import (
    DEFAULT,
    PRESETS,
    TUNABLE_OBJECTIVES,
    TUNED_SUFFIX,
    BaseStrategy,
    Ensemble,
    Strategy,
    Tuned,
    from_config,
    get,
    resolve_strategies,
)

__all__ = [
    "DEFAULT",
    "PARTS",
    "PRESETS",
    "PRIOR_STATUSES",
    "TUNABLE_OBJECTIVES",
    "TUNED_SUFFIX",
    "BaseStrategy",
    "ClassWeights",
    "CountsLoss",
    "DeferredReweighting",
    "Ensemble",
    "EpochwiseBalance",
    "Part",
    "PriorState",
    "Resample",
    "Strategy",
    "TrainingSetup",
    "Tuned",
    "from_config",
    "get",
    "load_config",
    "resolve_strategies",
]
