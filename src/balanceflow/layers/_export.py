"""Bake a tuned decision or a prior correction into a Keras model."""

from __future__ import annotations

import numbers
from typing import Any

import keras
import numpy as np

from balanceflow._validation import short_repr
from balanceflow.exceptions import InvalidParameterError, NotFittedError
from balanceflow.layers._layers import ArgmaxDecision, LogitShift, ThresholdDecision
from balanceflow.thresholds import (
    FixedThreshold,
    TunedClassOffsets,
    TunedLogitAdjustment,
    TunedThreshold,
    prior_shift,
)

__all__ = ["with_decision", "with_prior_correction"]


def _single_output(model: Any) -> Any:
    if not isinstance(model, keras.Model):
        raise InvalidParameterError(
            f"`model` must be a keras.Model. Received: model={short_repr(model)}."
        )
    try:
        inputs, outputs = model.inputs, model.outputs
    except (AttributeError, ValueError):
        inputs, outputs = None, None
    if not inputs or not outputs:
        raise InvalidParameterError(
            f"`model` ({type(model).__name__}) has no symbolic inputs and outputs. Build it "
            "with keras.Input (a functional or Sequential model) before adding a decision."
        )
    if len(outputs) != 1:
        raise InvalidParameterError(
            f"`model` has {len(outputs)} outputs; a decision applies to a model with one "
            "output of class probabilities."
        )
    return outputs[0]


def _rebuild(model: Any, outputs: Any, name: str | None) -> keras.Model:
    """A functional model from ``model``'s inputs (same structure) to ``outputs``."""
    try:
        inputs = model.input  # a functional model's own structure (tensor, list, dict)
    except AttributeError:  # a Sequential model built from keras.Input
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    return keras.Model(inputs, outputs, name=name or f"{model.name}_decision")


def with_decision(
    model: keras.Model,
    rule: Any,
    *,
    from_logits: bool | None = None,
    name: str | None = None,
) -> keras.Model:
    """A model that outputs the labels (class indices) a tuned decision rule predicts.

    The new model shares ``model``'s layers and weights and adds one layer:
    :class:`ThresholdDecision` for a binary threshold, :class:`ArgmaxDecision` for per-class
    offsets. It saves to one ``.keras`` file that loads with
    ``keras.models.load_model(path, safe_mode=True)`` once balanceflow is imported, and
    predicts the same labels as ``rule.predict`` on ``model``'s probabilities.

    Parameters
    ----------
    model : keras.Model
        A functional or Sequential model with one output: one sigmoid unit, or one softmax
        unit per class.
    rule : float or fitted rule
        A threshold in [0, 1]; a fitted :class:`~balanceflow.thresholds.FixedThreshold` or
        :class:`~balanceflow.thresholds.TunedThreshold` (its ``best_threshold_``; the
        positive class is output unit 1, or the single sigmoid unit); or a fitted
        :class:`~balanceflow.thresholds.TunedClassOffsets` /
        :class:`~balanceflow.thresholds.TunedLogitAdjustment` (its ``offsets_``).
    from_logits : bool, optional
        Whether ``model`` outputs logits. Default: the rule's own ``from_logits`` where it
        has one, else False.
    name : str, optional
        Name of the new model.

    Returns
    -------
    keras.Model
        Outputs int32 class indices of shape (batch,); ``rule.classes_[index]`` is the label.

    Examples
    --------
    >>> exported = with_decision(model, TunedThreshold("f1").fit(y_val, p_val))  # doctest: +SKIP
    >>> exported.save("model.keras")                                              # doctest: +SKIP
    """
    output = _single_output(model)
    if from_logits is None:
        from_logits = bool(getattr(rule, "from_logits", False))
    if isinstance(rule, numbers.Real) and not isinstance(rule, bool):
        layer = ThresholdDecision(float(rule), from_logits=from_logits)
    elif isinstance(rule, (FixedThreshold, TunedThreshold)):
        if not hasattr(rule, "best_threshold_"):
            raise NotFittedError(
                f"This {type(rule).__name__} has not been fitted yet. Call "
                "fit(y_true, y_score) before with_decision."
            )
        layer = ThresholdDecision(float(rule.best_threshold_), from_logits=from_logits)
    elif isinstance(rule, (TunedClassOffsets, TunedLogitAdjustment)):
        if not hasattr(rule, "offsets_"):
            raise NotFittedError(
                f"This {type(rule).__name__} has not been fitted yet. Call "
                "fit(y_true, y_score) before with_decision."
            )
        layer = ArgmaxDecision(np.asarray(rule.offsets_), from_logits=from_logits)
    else:
        raise InvalidParameterError(
            "`rule` must be a threshold in [0, 1] or a FixedThreshold, TunedThreshold, "
            "TunedClassOffsets or TunedLogitAdjustment. "
            f"Received: rule={short_repr(rule)}."
        )
    return _rebuild(model, layer(output), name)


def with_prior_correction(
    model: keras.Model,
    *,
    train_prior: Any,
    target_prior: Any,
    from_logits: bool = False,
    name: str | None = None,
) -> keras.Model:
    """A model whose probabilities are corrected from the training to a target prior.

    Adds a :class:`LogitShift` layer with offsets ``log target_prior - log train_prior``:
    the new model outputs :func:`balanceflow.thresholds.correct_prior` of ``model``'s
    probabilities, in the same shape (one sigmoid unit, or one unit per class).

    Parameters
    ----------
    model : keras.Model
        One output of class probabilities (or logits with ``from_logits=True``).
    train_prior, target_prior : array-like of shape (n_classes,)
        See :func:`balanceflow.thresholds.correct_prior` and
        :func:`balanceflow.thresholds.training_prior`.
    from_logits : bool, default=False
        Whether ``model`` outputs logits.
    name : str, optional
        Name of the new model.

    Returns
    -------
    keras.Model
    """
    output = _single_output(model)
    units = output.shape[-1]
    n_classes = 2 if units == 1 else units
    offsets = prior_shift(train_prior, target_prior)
    if len(offsets) != n_classes:
        raise InvalidParameterError(
            f"The priors have {len(offsets)} classes but the model output has {units} "
            f"unit(s) ({n_classes} classes). Received: train_prior={short_repr(train_prior)}."
        )
    layer = LogitShift(offsets, from_logits=from_logits)
    return _rebuild(model, layer(output), name or f"{model.name}_corrected")
