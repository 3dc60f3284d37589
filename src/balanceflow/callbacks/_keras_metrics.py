"""Stateful Keras metrics for ``compile()``: balanced accuracy, G-mean and MCC.

Each keeps a (weighted) confusion matrix as its state and computes its value from the
matrix, so the value after any number of batches equals the metric of all rows seen, and
replicas combine by adding their matrices (the variable's aggregation is "sum"). The
formulas are those of :mod:`balanceflow.metrics`, written in ``keras.ops`` so they run in
the training graph of every backend.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from balanceflow._validation import check_int, short_repr
from balanceflow.exceptions import InvalidParameterError
from balanceflow.losses._targets import check_label_range
from balanceflow.thresholds._checks import check_unit_interval

__all__ = ["BalancedAccuracy", "GMean", "MatthewsCorrelation"]

_COUNT_DTYPE = "float64"  # exact counts up to 2**53 rows


class _ConfusionMatrixMetric(keras.metrics.Metric):
    """A metric computed from the confusion matrix of all rows seen since the last reset.

    Predictions: with one output unit (sigmoid) or two (softmax) and ``num_classes=2``, a
    row is class 1 when ``P(class 1) >= threshold``; with ``num_classes`` units, the argmax.
    Targets: class indices (shape ``(batch,)`` or ``(batch, 1)``) or one-hot rows. Leading
    dimensions beyond the batch (segmentation masks) are flattened, one prediction per
    element. ``sample_weight`` (and Keras' ``class_weight``) weights the counts.

    Parameters
    ----------
    num_classes : int, default=2
        Number of classes.
    threshold : float, default=0.5
        Binary decision threshold on ``P(class 1)``, in [0, 1]; ignored for more classes.
    from_logits : bool, default=False
        Whether the model outputs logits.
    name : str, optional
    dtype : str, optional
        Dtype of the result.
    """

    _default_name = ""

    def __init__(
        self,
        num_classes: int = 2,
        *,
        threshold: float = 0.5,
        from_logits: bool = False,
        name: str | None = None,
        dtype: Any = None,
    ):
        super().__init__(name=name or self._default_name, dtype=dtype)
        check_int(num_classes, "num_classes", minimum=2)
        check_unit_interval(threshold, "threshold")
        if not isinstance(from_logits, bool):
            raise InvalidParameterError(
                f"`from_logits` must be True or False. Received: from_logits={short_repr(from_logits)}."
            )
        self.num_classes = int(num_classes)
        self.threshold = float(threshold)
        self.from_logits = from_logits
        self.confusion = self.add_variable(
            shape=(self.num_classes, self.num_classes),
            initializer="zeros",
            dtype=_COUNT_DTYPE,
            aggregation="sum",
            name="confusion_matrix",
        )

    def _predicted(self, y_pred):
        columns = y_pred.shape[-1] if len(y_pred.shape) > 1 else None
        k = self.num_classes
        if columns is None or columns == 1:
            if k != 2:
                raise InvalidParameterError(
                    f"One output unit means two classes, but num_classes={k}. Set "
                    "num_classes=2, or give the model one output unit per class."
                )
            scores = y_pred if columns is None else y_pred[..., 0]
            if self.from_logits:
                scores = ops.sigmoid(scores)
            return ops.cast(ops.cast(scores, "float64") >= self.threshold, "int32")
        if columns != k:
            raise InvalidParameterError(
                f"The model has {columns} output units but num_classes={k}. Pass "
                f"num_classes={columns}."
            )
        if k == 2:
            scores = ops.softmax(y_pred, axis=-1) if self.from_logits else y_pred
            return ops.cast(
                ops.cast(scores[..., 1], "float64") >= self.threshold, "int32"
            )
        return ops.cast(ops.argmax(y_pred, axis=-1), "int32")

    def _true(self, y_true, y_pred):
        one_hot = (
            len(y_true.shape) == len(y_pred.shape)
            and len(y_pred.shape) > 1
            and y_pred.shape[-1] == self.num_classes
            and y_true.shape[-1] == self.num_classes
        )
        if one_hot:
            return ops.cast(ops.argmax(y_true, axis=-1), "int32")
        if (
            len(y_true.shape) == len(y_pred.shape)
            and len(y_true.shape) > 1
            and y_true.shape[-1] == 1
        ):
            y_true = y_true[..., 0]
        return ops.cast(ops.round(ops.cast(y_true, "float32")), "int32")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = ops.convert_to_tensor(y_true)
        predicted = ops.reshape(self._predicted(y_pred), (-1,))
        true = self._true(y_true, y_pred)
        element_shape = ops.shape(true)
        true = ops.reshape(true, (-1,))
        k = self.num_classes
        # An index outside [0, k) would fall outside the k x k cells, and its row would
        # silently not count.
        check_label_range(true, "sparse", k)
        counts = ops.one_hot(true * k + predicted, k * k, dtype=_COUNT_DTYPE)
        if sample_weight is not None:
            weight = ops.cast(ops.convert_to_tensor(sample_weight), _COUNT_DTYPE)
            while len(weight.shape) < len(element_shape):
                weight = ops.expand_dims(weight, -1)
            if len(weight.shape) > len(element_shape):
                weight = ops.reshape(weight, element_shape)
            weight = ops.reshape(ops.broadcast_to(weight, element_shape), (-1, 1))
            counts = counts * weight
        self.confusion.assign_add(ops.reshape(ops.sum(counts, axis=0), (k, k)))

    def reset_state(self):
        self.confusion.assign(
            ops.zeros((self.num_classes, self.num_classes), _COUNT_DTYPE)
        )

    def _value(self, cm):
        raise NotImplementedError

    def result(self):
        return ops.cast(self._value(ops.convert_to_tensor(self.confusion)), self.dtype)

    def get_config(self):
        return {
            "num_classes": self.num_classes,
            "threshold": self.threshold,
            "from_logits": self.from_logits,
            "name": self.name,
            "dtype": self.dtype,
        }


def _recalls(cm):
    """Per-class recall and a mask of the classes present among the true rows."""
    support = ops.sum(cm, axis=1)
    present = support > 0
    recall = ops.diagonal(cm) / ops.where(present, support, ops.ones_like(support))
    return recall, present


@keras.saving.register_keras_serializable(package="balanceflow")
class BalancedAccuracy(_ConfusionMatrixMetric):
    """Mean recall over the classes present in the targets seen (scikit-learn's
    ``balanced_accuracy_score``), from a confusion matrix kept across batches.

    Examples
    --------
    >>> model.compile(optimizer="adam", loss="binary_crossentropy",
    ...               metrics=[BalancedAccuracy()])                    # doctest: +SKIP
    """

    _default_name = "balanced_accuracy"

    def _value(self, cm):
        recall, present = _recalls(cm)
        n_present = ops.sum(ops.cast(present, cm.dtype))
        total = ops.sum(ops.where(present, recall, ops.zeros_like(recall)))
        return ops.where(n_present > 0, total / ops.maximum(n_present, 1.0), 0.0)


@keras.saving.register_keras_serializable(package="balanceflow")
class GMean(_ConfusionMatrixMetric):
    """Geometric mean of the recalls of the classes present in the targets seen (0 as soon
    as one of them is never recognised), as :func:`balanceflow.metrics.geometric_mean`."""

    _default_name = "g_mean"

    def _value(self, cm):
        recall, present = _recalls(cm)
        n_present = ops.sum(ops.cast(present, cm.dtype))
        missed = ops.any(ops.logical_and(present, recall <= 0))
        safe = ops.where(present, ops.maximum(recall, 1e-300), ops.ones_like(recall))
        mean_log = ops.sum(ops.log(safe)) / ops.maximum(n_present, 1.0)
        return ops.where(ops.logical_or(missed, n_present == 0), 0.0, ops.exp(mean_log))


@keras.saving.register_keras_serializable(package="balanceflow")
class MatthewsCorrelation(_ConfusionMatrixMetric):
    """Matthews correlation coefficient (multi-class: Gorodkin's R_K), 0 when undefined,
    as scikit-learn's ``matthews_corrcoef``."""

    _default_name = "mcc"

    def _value(self, cm):
        true_sum = ops.sum(cm, axis=1)
        pred_sum = ops.sum(cm, axis=0)
        n = ops.sum(cm)
        correct = ops.trace(cm)
        cov_tp = correct * n - ops.sum(true_sum * pred_sum)
        cov_pp = n * n - ops.sum(pred_sum * pred_sum)
        cov_tt = n * n - ops.sum(true_sum * true_sum)
        denominator = cov_pp * cov_tt
        safe = ops.where(denominator > 0, denominator, ops.ones_like(denominator))
        return ops.where(denominator > 0, cov_tp / ops.sqrt(safe), 0.0)
