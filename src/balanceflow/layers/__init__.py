"""Keras layers that bake a tuned decision or a prior correction into a model.

- :func:`with_decision` adds the labels of a fitted threshold or offset rule from
  :mod:`balanceflow.thresholds` (layers :class:`ThresholdDecision`, :class:`ArgmaxDecision`).
- :func:`with_prior_correction` adds :func:`balanceflow.thresholds.correct_prior`
  (layer :class:`LogitShift`).

The layers are registered Keras objects: a saved ``.keras`` file loads with
``keras.models.load_model(path, safe_mode=True)`` once balanceflow is imported.
"""

from balanceflow import _keras_hook
from balanceflow.layers._export import with_decision, with_prior_correction
from balanceflow.layers._layers import ArgmaxDecision, LogitShift, ThresholdDecision

__all__ = [
    "ArgmaxDecision",
    "LogitShift",
    "ThresholdDecision",
    "with_decision",
    "with_prior_correction",
]

_keras_hook.register()  # siblings skipped while this package was loading
