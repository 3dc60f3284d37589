"""Decisions on predicted probabilities (numpy only, no TensorFlow).

- Binary thresholds: :class:`FixedThreshold` and :class:`TunedThreshold` (exact optimum of
  an objective: F1, F-beta, G-mean, balanced accuracy, Youden's J, MCC, expected cost, or
  recall / precision under a constraint).
- Multi-class decisions: :class:`TunedClassOffsets` (one offset per class on the
  log-probabilities) and :class:`TunedLogitAdjustment` (``log p - tau * log prior``, tau
  tuned).
- Prior correction: :func:`correct_prior` undoes the prior shift of resampling or class
  weighting; :func:`training_prior` gives the prior a model was trained under.

Tune on validation rows (an inner split of the training data), never on test rows. The
fitted rules bake into a Keras model with :func:`balanceflow.layers.with_decision`.
"""

from balanceflow.thresholds._binary import FixedThreshold, TunedThreshold
from balanceflow.thresholds._checks import PROBA_FLOOR
from balanceflow.thresholds._multiclass import TunedClassOffsets, TunedLogitAdjustment
from balanceflow.thresholds._objectives import (
    BINARY_OBJECTIVES,
    CONSTRAINED_OBJECTIVES,
    MULTICLASS_OBJECTIVES,
)
from balanceflow.thresholds._prior import correct_prior, prior_shift, training_prior

__all__ = [
    "BINARY_OBJECTIVES",
    "CONSTRAINED_OBJECTIVES",
    "MULTICLASS_OBJECTIVES",
    "PROBA_FLOOR",
    "FixedThreshold",
    "TunedClassOffsets",
    "TunedLogitAdjustment",
    "TunedThreshold",
    "correct_prior",
    "prior_shift",
    "training_prior",
]
