"""Serialisable Keras layers that apply a tuned decision inside a model.

The comparisons are made in float64, on the float32 output of the model cast up, exactly as
the numpy rules of :mod:`balanceflow.thresholds` cast it: a saved model then predicts the
labels the rule predicted when it was tuned. (JAX keeps float64 off by default; there the
layers compute in float32 and a score within float32 rounding of the threshold may fall on
the other side.)
"""

from __future__ import annotations

import numbers
from typing import Any

import keras
import numpy as np
from keras import ops

from balanceflow._validation import short_repr
from balanceflow.exceptions import InvalidParameterError
from balanceflow.thresholds import PROBA_FLOOR

__all__ = ["ArgmaxDecision", "LogitShift", "ThresholdDecision"]


def _check_offsets(offsets: Any) -> list[float]:
    arr = np.asarray(offsets, dtype=np.float64) if offsets is not None else None
    if arr is None or arr.ndim != 1 or arr.size < 2 or not np.all(np.isfinite(arr)):
        raise InvalidParameterError(
            "`offsets` must be a 1-D list of finite floats, one per class (at least 2). "
            f"Received: offsets={short_repr(offsets)}."
        )
    return [float(v) for v in arr]


def _check_from_logits(from_logits: Any) -> bool:
    if not isinstance(from_logits, bool):
        raise InvalidParameterError(
            f"`from_logits` must be True or False. Received: from_logits={short_repr(from_logits)}."
        )
    return from_logits


def _check_columns(columns: int | None, n_offsets: int, layer: str) -> None:
    if (
        columns is not None
        and columns != n_offsets
        and not (columns == 1 and n_offsets == 2)
    ):
        raise InvalidParameterError(
            f"{layer} has {n_offsets} offsets but its input has {columns} columns. Give one "
            "offset per output unit (2 for a single sigmoid unit)."
        )


def _class_log_scores(x, n_classes: int, from_logits: bool):
    """(batch, n_classes) float64 log-probabilities (or logits) from a model output.

    One column is a sigmoid output: probability ``p`` becomes ``[log(1 - p), log p]`` and
    a logit ``z`` becomes ``[0, z]``.
    """
    x = ops.cast(x, "float64")
    if x.shape[-1] == 1 and n_classes == 2:
        if from_logits:
            return ops.concatenate([ops.zeros_like(x), x], axis=-1)
        x = ops.concatenate([1.0 - x, x], axis=-1)
    if from_logits:
        return x
    return ops.log(ops.maximum(x, PROBA_FLOOR))


class _ClassOffsets(keras.layers.Layer):
    """Per-class offsets and the input's kind (probabilities or logits), checked and saved."""

    def __init__(self, offsets: Any, *, from_logits: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.offsets = _check_offsets(offsets)
        self.from_logits = _check_from_logits(from_logits)

    def build(self, input_shape):
        _check_columns(input_shape[-1], len(self.offsets), type(self).__name__)
        super().build(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"offsets": list(self.offsets), "from_logits": self.from_logits})
        return config


@keras.saving.register_keras_serializable(package="balanceflow")
class LogitShift(_ClassOffsets):
    """Add fixed per-class offsets to the logits of probabilities; return probabilities.

    ``softmax(log p + offsets)`` for K columns, ``sigmoid(logit p + offsets[1] - offsets[0])``
    for one sigmoid column. With ``offsets = log target_prior - log train_prior`` this is
    :func:`balanceflow.thresholds.correct_prior` inside the model; with
    ``offsets = -tau * log prior`` it is post-hoc logit adjustment.

    Parameters
    ----------
    offsets : list of float
        One per class (2 for a single sigmoid unit).
    from_logits : bool, default=False
        Whether the input holds logits rather than probabilities.
    """

    def call(self, inputs):
        x = ops.cast(inputs, "float64")
        offsets = ops.convert_to_tensor(np.asarray(self.offsets), dtype="float64")
        if x.shape[-1] == 1 and len(self.offsets) == 2:
            if self.from_logits:
                log_odds = x
            else:
                log_odds = ops.log(x) - ops.log1p(-x)  # +-inf at 1 and 0 stay there
            out = ops.sigmoid(log_odds + (offsets[1] - offsets[0]))
        else:
            logits = x if self.from_logits else ops.log(x)
            out = ops.softmax(logits + offsets, axis=-1)
        return ops.cast(out, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


@keras.saving.register_keras_serializable(package="balanceflow")
class ThresholdDecision(keras.layers.Layer):
    """Binary labels: class index 1 where ``P(class 1) >= threshold``, else 0 (int32).

    Takes one sigmoid column, or two softmax columns (the second is used).

    Parameters
    ----------
    threshold : float
        In [0, 1], e.g. ``TunedThreshold(...).fit(...).best_threshold_``.
    from_logits : bool, default=False
        Whether the input holds logits; a sigmoid (or softmax) is applied first.
    """

    def __init__(self, threshold: float, *, from_logits: bool = False, **kwargs):
        super().__init__(**kwargs)
        if (
            not isinstance(threshold, numbers.Real)
            or isinstance(threshold, bool)
            or not 0.0 <= float(threshold) <= 1.0
        ):
            raise InvalidParameterError(
                f"`threshold` must be a number in [0, 1]. Received: threshold={short_repr(threshold)}."
            )
        self.threshold = float(threshold)
        self.from_logits = _check_from_logits(from_logits)

    def build(self, input_shape):
        if input_shape[-1] not in (1, 2, None):
            raise InvalidParameterError(
                "ThresholdDecision takes one sigmoid column or two softmax columns; its input "
                f"has {input_shape[-1]}. Use ArgmaxDecision for more classes."
            )
        super().build(input_shape)

    def call(self, inputs):
        x = ops.cast(inputs, "float64")
        if x.shape[-1] == 2:
            p = ops.softmax(x, axis=-1)[..., 1] if self.from_logits else x[..., 1]
        elif x.shape[-1] == 1:
            p = ops.sigmoid(x[..., 0]) if self.from_logits else x[..., 0]
        else:
            raise InvalidParameterError(
                "ThresholdDecision takes one sigmoid column or two softmax columns; its input "
                f"has {x.shape[-1]}. Use ArgmaxDecision for more classes."
            )
        return ops.cast(p >= self.threshold, "int32")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1])

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(tuple(inputs.shape[:-1]), dtype="int32")

    def get_config(self):
        config = super().get_config()
        config.update({"threshold": self.threshold, "from_logits": self.from_logits})
        return config


@keras.saving.register_keras_serializable(package="balanceflow")
class ArgmaxDecision(_ClassOffsets):
    """Labels ``argmax(log p + offsets)`` (class indices, int32; first class on ties).

    The decision of :class:`~balanceflow.thresholds.TunedClassOffsets` and
    :class:`~balanceflow.thresholds.TunedLogitAdjustment` (their ``offsets_``).
    Probabilities are floored at :data:`balanceflow.thresholds.PROBA_FLOOR` before the log,
    as the numpy rules do. One sigmoid column counts as two classes ``[1 - p, p]``.

    Parameters
    ----------
    offsets : list of float
        One per class.
    from_logits : bool, default=False
        Whether the input holds logits (the offsets are added to them directly).
    """

    def call(self, inputs):
        scores = _class_log_scores(inputs, len(self.offsets), self.from_logits)
        offsets = ops.convert_to_tensor(np.asarray(self.offsets), dtype="float64")
        return ops.cast(ops.argmax(scores + offsets, axis=-1), "int32")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1])

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(tuple(inputs.shape[:-1]), dtype="int32")
