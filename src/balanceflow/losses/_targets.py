"""Target and output shapes shared by every loss (``keras.ops`` only, any backend).

Every loss here reads its targets in one of three forms, decided from the static shapes:

- ``"binary"``: one sigmoid unit, ``y_pred`` of shape ``(..., 1)``; labels 0/1 of shape
  ``(...)`` or ``(..., 1)``.
- ``"sparse"``: ``K >= 2`` outputs, ``y_pred`` of shape ``(..., K)``; class indices of shape
  ``(...)`` or ``(..., 1)``.
- ``"onehot"``: ``K >= 2`` outputs; one-hot (or soft) rows of shape ``(..., K)``.

The ranks are aligned explicitly, so labels of shape ``(B,)`` never broadcast against outputs
of shape ``(B, 1)`` into a ``(B, B)`` matrix (a silent trap in hand-written Keras losses).
Anything else raises a :class:`~balanceflow.exceptions.DataError` that shows both shapes.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from balanceflow.exceptions import DataError

__all__ = [
    "align_targets",
    "check_label_range",
    "clipped_log",
    "prepare",
    "to_logits",
    "to_two_class",
]


def _shape(x: Any) -> tuple:
    return tuple(x.shape)


def _mismatch(y_true: Any, y_pred: Any) -> DataError:
    t, p = _shape(y_true), _shape(y_pred)
    lead = p[:-1]
    k = p[-1]
    if k == 1:
        expected = (
            f"0/1 labels of shape {lead} or {lead + (1,)} for a single sigmoid output"
        )
    else:
        expected = (
            f"class indices of shape {lead} or {lead + (1,)}, or one-hot rows of shape "
            f"{lead + (k,)}, for {k} outputs"
        )
    return DataError(
        f"The targets do not match the model outputs: y_true has shape {t} and y_pred has "
        f"shape {p}. Expected {expected}."
    )


def align_targets(y_true: Any, y_pred: Any) -> tuple[str, Any, Any]:
    """Decide the target form and align ranks.

    Returns ``(kind, y_true, y_pred)``: ``kind`` is ``"binary"``, ``"sparse"`` or
    ``"onehot"``; binary targets come back with the shape of ``y_pred`` (``(..., 1)``),
    sparse ones with the shape ``y_pred.shape[:-1]``, one-hot ones unchanged. A rank-1
    ``y_pred`` (one sigmoid value per sample) is given a unit last axis.
    """
    y_true = ops.convert_to_tensor(y_true)
    y_pred = ops.convert_to_tensor(y_pred)
    if len(_shape(y_pred)) == 0:
        raise DataError(
            "`y_pred` must have a batch axis and a class axis, shape (batch, n_outputs). "
            f"Received: y_pred with shape {_shape(y_pred)}."
        )
    if len(_shape(y_pred)) == 1:
        y_pred = ops.expand_dims(y_pred, -1)
    t, p = _shape(y_true), _shape(y_pred)
    k = p[-1]
    if k is None:
        raise DataError(
            f"The last axis of y_pred (the classes) must have a known size. Received: "
            f"y_pred with shape {p}."
        )
    if len(t) == len(p) - 1:
        kind = "binary" if k == 1 else "sparse"
        if kind == "binary":
            y_true = ops.expand_dims(y_true, -1)
    elif len(t) == len(p):
        last = t[-1]
        if last is None:
            raise DataError(
                f"The last axis of y_true has an unknown size (shape {t}), so its form "
                "(class indices or one-hot) cannot be told. Give the targets a static "
                "shape, for example in the tf.data element spec."
            )
        if k == 1:
            if last != 1:
                raise _mismatch(y_true, y_pred)
            kind = "binary"
        elif last == 1:
            kind = "sparse"
            y_true = ops.squeeze(y_true, -1)
        elif last == k:
            kind = "onehot"
        else:
            raise _mismatch(y_true, y_pred)
    else:
        raise _mismatch(y_true, y_pred)
    for a, b in zip(_shape(y_true), p[:-1]):
        if a is not None and b is not None and a != b:
            raise _mismatch(y_true, y_pred)
    if kind != "onehot":
        check_label_range(y_true, kind, k)
    return kind, y_true, y_pred


def _concrete(x: Any) -> np.ndarray | None:
    """``x``'s values as float64, or None inside a traced (compiled) function."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        if not tf.executing_eagerly() or tf.is_symbolic_tensor(x):
            return None
    elif backend == "jax":
        import jax

        if isinstance(x, jax.core.Tracer):
            return None
    return np.asarray(ops.convert_to_numpy(x), dtype=np.float64)


def check_label_range(y_true: Any, kind: str, k: int) -> None:
    """Refuse class indices outside ``[0, K)`` and binary labels outside ``[0, 1]``.

    A one-hot encoding turns an out-of-range index into a row of zeros, so the loss of that
    row would silently be 0. Concrete values (eager calls) raise a
    :class:`~balanceflow.exceptions.DataError` here; inside a compiled TensorFlow function
    an assertion op raises when the batch runs, as Keras' sparse cross-entropy does. JAX
    cannot raise inside a compiled function; there the check runs on eager calls only.
    """
    high = k - 1 if kind == "sparse" else 1
    what = (
        f"class indices in [0, {k - 1}] for {k} outputs"
        if kind == "sparse"
        else "labels in [0, 1] for one sigmoid output"
    )
    values = _concrete(y_true)
    if values is not None:
        bad = ~((values >= 0) & (values <= high))
        if kind == "sparse":
            bad |= values != np.round(values)
        if bad.any():
            first = values.ravel()[np.flatnonzero(bad.ravel())[0]]
            raise DataError(
                f"y_true holds {int(bad.sum())} label(s) outside the {what} (first: "
                f"{first:g}). Encode the classes as 0..{k - 1} (sorted labels) and give "
                "the model one output per class."
            )
        return
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        labels = tf.cast(y_true, tf.float32)
        message = f"y_true holds labels outside the {what}"
        tf.debugging.assert_greater_equal(labels, 0.0, message=message)
        tf.debugging.assert_less_equal(labels, float(high), message=message)


def clipped_log(p: Any) -> Any:
    """``log(max(p, eps))`` as Keras clips probabilities, with the gradient of ``log p``.

    The value matches Keras' cross-entropy on probabilities. A plain clip would give zero
    gradient to a row whose true class has a probability below ``eps``, so the worst
    classified rows could never be corrected; here the gradient stays ``1 / p`` (floored at
    1e-30, or at ``eps`` in 16-bit floats), which is the exact gradient of the softmax or
    sigmoid cross-entropy with respect to the logits.
    """
    eps = keras.backend.epsilon()
    low_precision = keras.backend.standardize_dtype(p.dtype) in ("float16", "bfloat16")
    floor = eps if low_precision else 1e-30
    value = ops.stop_gradient(ops.log(ops.maximum(p, eps)))
    return value + (p - ops.stop_gradient(p)) / ops.stop_gradient(ops.maximum(p, floor))


def to_logits(y_pred: Any, *, from_logits: bool, binary: bool) -> Any:
    """Logits from the model outputs: log-odds of one sigmoid unit, or the log of the
    probabilities of a softmax (exact up to clipping: softmax is shift-invariant)."""
    if from_logits:
        return y_pred
    if binary:
        p = ops.clip(y_pred, 0.0, 1.0)
        return clipped_log(p) - clipped_log(1.0 - p)
    return clipped_log(y_pred)


def to_two_class(logits: Any) -> Any:
    """The logit ``z`` of one sigmoid unit as the two-class logits ``[0, z]``."""
    return ops.concatenate([ops.zeros_like(logits), logits], axis=-1)


def prepare(y_true: Any, y_pred: Any, *, from_logits: bool) -> tuple[Any, Any]:
    """Return ``(logits, targets)``, both of shape ``(..., K)`` with ``K >= 2``.

    ``targets`` are one-hot (or soft) rows in the dtype of the logits; a single sigmoid
    unit becomes the two-class problem ``[0, z]`` with targets ``[1 - y, y]``.
    """
    kind, y_true, y_pred = align_targets(y_true, y_pred)
    logits = to_logits(y_pred, from_logits=from_logits, binary=kind == "binary")
    dtype = logits.dtype
    if kind == "binary":
        y = ops.cast(y_true, dtype)
        return to_two_class(logits), ops.concatenate([1.0 - y, y], axis=-1)
    if kind == "sparse":
        labels = ops.cast(y_true, "int32")
        return logits, ops.one_hot(labels, int(_shape(y_pred)[-1]), dtype=dtype)
    return logits, ops.cast(y_true, dtype)
