"""``ImbalancedMetrics``: epoch-level imbalance metrics on the whole validation set."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from balanceflow._validation import (
    check_consistent_length,
    check_int,
    check_targets,
    did_you_mean,
    short_repr,
)
from balanceflow.exceptions import DataError, InvalidParameterError
from balanceflow.metrics import METRIC_NAMES, evaluate
from balanceflow.thresholds._checks import check_unit_interval

__all__ = ["DEFAULT_METRICS", "ImbalancedMetrics"]

#: What ``ImbalancedMetrics`` writes by default (each as ``val_<name>``).
DEFAULT_METRICS = (
    "pr_auc",
    "roc_auc",
    "balanced_accuracy",
    "g_mean",
    "mcc",
    "macro_f1",
)
_AVAILABLE = (*METRIC_NAMES, "accuracy")


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class ImbalancedMetrics(keras.callbacks.Callback):
    """Compute imbalance-aware metrics on the full validation set at the end of each epoch.

    Batch-averaged Keras metrics cannot give PR-AUC, MCC or G-mean of a whole set; this
    callback predicts the validation rows once per epoch, computes the metrics with
    :func:`balanceflow.metrics.evaluate`, and writes them into the epoch logs as
    ``val_pr_auc``, ``val_roc_auc``, ``val_balanced_accuracy``, ``val_g_mean``, ``val_mcc``
    and ``val_macro_f1``. Callbacks placed *after* it in the ``callbacks`` list see them:
    ``EarlyStopping(monitor="val_pr_auc", mode="max")``, ``ModelCheckpoint(...,
    monitor="val_mcc", mode="max")``, ``ReduceLROnPlateau``; the ``History`` and
    TensorBoard logs record them.

    Parameters
    ----------
    validation_data : tuple (X, y) or iterable of (x, y) batches
        Validation rows: arrays (or a dict of arrays for several inputs) with class indices
        (or one-hot rows) as targets, or a ``tf.data.Dataset`` / ``keras.utils.PyDataset``
        of ``(x, y)`` batches, read once per epoch. Every class must occur.
    metrics : sequence of str, default=DEFAULT_METRICS
        Names from :data:`balanceflow.metrics.METRIC_NAMES` and ``"accuracy"``.
    threshold : float, default=0.5
        Binary decision threshold on ``P(class 1)`` for the label metrics; must stay 0.5 for
        multi-class models (argmax decides).
    batch_size : int, default=1024
        Prediction batch size for array inputs.
    from_logits : bool, default=False
        Whether the model outputs logits (a sigmoid or softmax is applied first).
    prefix : str, default="val_"
        Prefix of the log entries.

    Attributes
    ----------
    last_report_ : EvaluationReport
        The full report of the last epoch (per-class values, confusion matrix).

    Examples
    --------
    >>> callbacks = [  # doctest: +SKIP
    ...     ImbalancedMetrics((X_val, y_val)),
    ...     keras.callbacks.EarlyStopping(monitor="val_pr_auc", mode="max", patience=5),
    ... ]
    >>> model.fit(X, y, epochs=50, callbacks=callbacks)  # doctest: +SKIP
    """

    def __init__(
        self,
        validation_data: Any,
        metrics: Sequence[str] = DEFAULT_METRICS,
        *,
        threshold: float = 0.5,
        batch_size: int = 1024,
        from_logits: bool = False,
        prefix: str = "val_",
    ):
        super().__init__()
        if isinstance(metrics, str):
            metrics = [metrics]
        metrics = list(metrics)
        if not metrics:
            raise InvalidParameterError(
                f"`metrics` is empty. Use names from {list(_AVAILABLE)}."
            )
        for name in metrics:
            if name not in _AVAILABLE:
                raise InvalidParameterError(
                    f"Unknown metric. Received: metrics={short_repr(metrics)}. Use names from "
                    f"{list(_AVAILABLE)}.{did_you_mean(name, _AVAILABLE)}"
                )
        check_unit_interval(threshold, "threshold")
        check_int(batch_size, "batch_size")
        self.metrics = metrics
        self.threshold = float(threshold)
        self.batch_size = int(batch_size)
        self.from_logits = bool(from_logits)
        self.prefix = str(prefix)
        self._arrays = isinstance(validation_data, (tuple, list))
        if self._arrays:
            if len(validation_data) != 2:
                raise InvalidParameterError(
                    "`validation_data` must be a tuple (X, y) (sample weights are not used). "
                    f"Received a sequence of {len(validation_data)} items."
                )
            X, y = validation_data
            self._y = self._check_y(y)
            check_consistent_length(X, self._y, x_name="X_val", y_name="y_val")
            self._X = X
        else:
            if not hasattr(validation_data, "__iter__"):
                raise InvalidParameterError(
                    "`validation_data` must be a tuple (X, y) or an iterable of (x, y) "
                    f"batches. Received: {short_repr(validation_data)}."
                )
            self._data = validation_data

    @staticmethod
    def _check_y(y: Any) -> np.ndarray:
        labels = check_targets(y, name="y_val", min_classes=1)
        if len(np.unique(labels)) < 2:
            raise DataError(
                f"The validation targets hold a single class "
                f"({short_repr(np.unique(labels).tolist())}): PR-AUC, ROC-AUC and MCC are "
                "undefined. Validate on rows that contain every class (a stratified split)."
            )
        return labels

    def _predict(self) -> tuple[np.ndarray, np.ndarray]:
        if self._arrays:
            out = self.model.predict(self._X, batch_size=self.batch_size, verbose=0)
            return np.asarray(out), self._y
        outputs, targets = [], []
        for batch in self._data:
            x, y = batch[0], batch[1]
            outputs.append(np.asarray(self.model.predict_on_batch(x)))
            targets.append(np.asarray(y))
        if not outputs:
            raise DataError("`validation_data` yielded no batches.")
        y = self._check_y(np.concatenate(targets))
        return np.concatenate(outputs), y

    def _probabilities(self, out: np.ndarray) -> np.ndarray:
        if isinstance(out, (list, dict)) or out.ndim != 2:
            raise DataError(
                "ImbalancedMetrics needs a model with one output of shape (batch, 1) "
                f"(sigmoid) or (batch, n_classes) (softmax). Received output shape "
                f"{getattr(out, 'shape', type(out).__name__)}."
            )
        out = out.astype(np.float64)
        if self.from_logits:
            out = 1 / (1 + np.exp(-out)) if out.shape[1] == 1 else _softmax(out)
        return out

    def evaluate(self) -> Any:
        """The :class:`~balanceflow.metrics.EvaluationReport` of the model now."""
        out, y = self._predict()
        proba = self._probabilities(out)
        n_classes = 2 if proba.shape[1] == 1 else proba.shape[1]
        if n_classes > 2 and self.threshold != 0.5:
            raise InvalidParameterError(
                f"`threshold` applies to binary models only; this model has {n_classes} "
                f"outputs. Received: threshold={self.threshold!r}."
            )
        classes = np.arange(n_classes)
        if y.dtype.kind == "f" and np.all(y == np.round(y)):
            y = y.astype(np.int64)  # 0.0 / 1.0 targets, as Keras users often pass
        if y.dtype.kind not in "iub" or not np.isin(y, classes).all():
            raise DataError(
                f"The validation targets must be class indices 0..{n_classes - 1} (the "
                f"model has {n_classes} classes). Received labels "
                f"{short_repr(np.unique(y).tolist())}."
            )
        return evaluate(
            y.astype(np.int64),
            proba,
            threshold=self.threshold if n_classes == 2 else 0.5,
            classes=classes,
        )

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        report = self.evaluate()
        self.last_report_ = report
        if logs is None:
            return
        for name in self.metrics:
            logs[f"{self.prefix}{name}"] = float(getattr(report, name))
