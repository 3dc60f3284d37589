"""``evaluate``: every imbalance-aware metric of a classifier's probabilities, in one report."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from balanceflow._validation import (
    check_consistent_length,
    check_probabilities,
    check_rows_sum_to_one,
    resolve_pos_label,
    short_repr,
)
from balanceflow.exceptions import DataError, InvalidParameterError
from balanceflow.metrics._classification import (
    _balanced_accuracy_from_confusion,
    _binary_average_precision,
    _binary_roc_auc,
    _check_labels,
    _class_score,
    _confusion,
    _encode,
    _geometric_mean_from_confusion,
    _label_array,
    _mcc_from_confusion,
    _minority_index,
    _one_vs_rest_mean,
    _stats_from_confusion,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BOARD_METRICS",
    "CALIBRATION_METRICS",
    "LOWER_IS_BETTER",
    "METRIC_LABELS",
    "METRIC_NAMES",
    "METRIC_RANGES",
    "EvaluationReport",
    "evaluate",
]

#: The headline metrics of a report, in leaderboard order. All are higher-is-better.
METRIC_NAMES: tuple[str, ...] = (
    "pr_auc",
    "roc_auc",
    "balanced_accuracy",
    "g_mean",
    "minority_f1",
    "macro_f1",
    "mcc",
)

#: The range of each headline metric (MCC is a correlation; the others are shares).
METRIC_RANGES: dict[str, tuple[float, float]] = {
    "pr_auc": (0.0, 1.0),
    "roc_auc": (0.0, 1.0),
    "balanced_accuracy": (0.0, 1.0),
    "g_mean": (0.0, 1.0),
    "minority_f1": (0.0, 1.0),
    "macro_f1": (0.0, 1.0),
    "mcc": (-1.0, 1.0),
    # Calibration (lower is better). Brier's multi-class form reaches 2; log loss has no
    # upper bound (its intervals are only kept above 0).
    "brier": (0.0, 2.0),
    "log_loss": (0.0, float("inf")),
    "ece": (0.0, 1.0),
}

#: How far the probabilities are from observed frequencies (see
#: :mod:`balanceflow.metrics._calibration`), as trained and, with ``_corrected``, after
#: the correction back to the training data's class prior.
CALIBRATION_METRICS: tuple[str, ...] = (
    "brier",
    "log_loss",
    "ece",
    "brier_corrected",
    "log_loss_corrected",
    "ece_corrected",
)
for _name in CALIBRATION_METRICS[3:]:
    METRIC_RANGES[_name] = METRIC_RANGES[_name.removesuffix("_corrected")]

#: Every metric of ``compare``'s leaderboard.
BOARD_METRICS: tuple[str, ...] = METRIC_NAMES + CALIBRATION_METRICS

#: The metrics where a smaller value is better.
LOWER_IS_BETTER: frozenset[str] = frozenset(CALIBRATION_METRICS)

#: How each metric is titled in tables and reports.
METRIC_LABELS = {
    "pr_auc": "PR-AUC",
    "roc_auc": "ROC-AUC",
    "balanced_accuracy": "Bal. acc.",
    "g_mean": "G-mean",
    "minority_f1": "Min. F1",
    "macro_f1": "Macro F1",
    "mcc": "MCC",
    "accuracy": "Accuracy",
    "brier": "Brier",
    "log_loss": "Log loss",
    "ece": "ECE",
    "brier_corrected": "Brier (corrected)",
    "log_loss_corrected": "Log loss (corrected)",
    "ece_corrected": "ECE (corrected)",
}

_DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True, eq=False, repr=False)
class EvaluationReport:
    """The metrics of one set of predicted probabilities, as returned by :func:`evaluate`.

    Attributes
    ----------
    pr_auc : float
        Average precision (step-wise PR-AUC). Binary: of the minority class; multi-class:
        macro average over the classes, one-vs-rest.
    roc_auc : float
        ROC-AUC (binary; multi-class: macro average, one-vs-rest).
    balanced_accuracy : float
        Mean per-class recall.
    g_mean : float
        Geometric mean of the per-class recalls.
    minority_f1 : float
        F1 score of ``minority_class``.
    macro_f1 : float
        Unweighted mean of the per-class F1 scores.
    mcc : float
        Matthews correlation coefficient.
    accuracy : float
        Share of correct predictions (misleading on imbalanced data; shown for reference).
    precision, recall, f1 : numpy.ndarray of shape (n_classes,)
        Per-class values, in the order of ``classes`` (0 where undefined).
    support : numpy.ndarray of shape (n_classes,)
        Rows of each class in ``y_true``.
    confusion_matrix : numpy.ndarray of shape (n_classes, n_classes)
        Rows are true classes, columns predicted classes, both in the order of ``classes``.
    threshold : float or None
        The binary decision threshold; None for multi-class targets (argmax decides).
    classes : numpy.ndarray of shape (n_classes,)
        The label of each column of the probabilities.
    minority_class : label
        The least frequent class of ``y_true`` (ties: the lowest sorted label).
    """

    pr_auc: float
    roc_auc: float
    balanced_accuracy: float
    g_mean: float
    minority_f1: float
    macro_f1: float
    mcc: float
    accuracy: float
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray
    confusion_matrix: np.ndarray
    threshold: float | None
    classes: np.ndarray
    minority_class: Any

    @property
    def n_samples(self) -> int:
        """Number of evaluated rows."""
        return int(self.support.sum())

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain Python types, ready for ``json.dumps``.

        Returns
        -------
        dict
            The metrics of :data:`METRIC_NAMES` and ``accuracy`` as floats, ``threshold``,
            ``classes`` and ``minority_class`` as Python scalars, ``n_samples``,
            ``per_class`` (a list with one dict per class: ``class``, ``precision``,
            ``recall``, ``f1``, ``support``) and ``confusion_matrix`` (a list of rows).
        """
        classes = self.classes.tolist()
        out: dict[str, Any] = {
            name: float(getattr(self, name)) for name in METRIC_NAMES
        }
        out["accuracy"] = float(self.accuracy)
        out["threshold"] = None if self.threshold is None else float(self.threshold)
        out["classes"] = classes
        out["minority_class"] = _python_scalar(self.minority_class)
        out["n_samples"] = self.n_samples
        out["per_class"] = [
            {
                "class": label,
                "precision": float(self.precision[k]),
                "recall": float(self.recall[k]),
                "f1": float(self.f1[k]),
                "support": int(self.support[k]),
            }
            for k, label in enumerate(classes)
        ]
        out["confusion_matrix"] = self.confusion_matrix.tolist()
        return out

    def to_frame(self) -> pd.DataFrame:
        """Return the per-class table as a pandas DataFrame indexed by class.

        Returns
        -------
        pandas.DataFrame
            Columns ``precision``, ``recall``, ``f1`` and ``support``; one row per class.
        """
        import pandas as pd

        return pd.DataFrame(
            {
                "precision": self.precision,
                "recall": self.recall,
                "f1": self.f1,
                "support": self.support,
            },
            index=pd.Index(self.classes, name="class"),
        )

    def __str__(self) -> str:
        rule = (
            "argmax"
            if self.threshold is None
            else f"threshold={_format_number(self.threshold)}"
        )
        header = f"EvaluationReport (n_samples={self.n_samples}, {rule}, "
        header += f"minority class: {self.minority_class!r})"
        lines = [header]
        width = max(len(name) for name in (*METRIC_NAMES, "accuracy"))
        for name in (*METRIC_NAMES, "accuracy"):
            lines.append(f"  {name:<{width}}  {getattr(self, name):.4f}")

        labels = [str(label) for label in self.classes.tolist()]
        rows = [["class", "precision", "recall", "f1", "support"]]
        for k, label in enumerate(labels):
            rows.append(
                [
                    label,
                    f"{self.precision[k]:.4f}",
                    f"{self.recall[k]:.4f}",
                    f"{self.f1[k]:.4f}",
                    str(int(self.support[k])),
                ]
            )
        lines.append("")
        lines.extend(_table(rows))

        lines.append("")
        lines.append("confusion matrix (rows: true, columns: predicted)")
        matrix = [["", *labels]]
        for k, label in enumerate(labels):
            matrix.append([label, *(str(int(v)) for v in self.confusion_matrix[k])])
        lines.extend(_table(matrix))
        return "\n".join(lines)

    __repr__ = __str__


def _python_scalar(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _format_number(value: float) -> str:
    return f"{value:g}"


def _table(rows: list[list[str]]) -> list[str]:
    """Plain-text table: first column left-aligned, the others right-aligned."""
    widths = [max(len(row[j]) for row in rows) for j in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells.extend(cell.rjust(widths[j]) for j, cell in enumerate(row) if j > 0)
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


def _check_threshold(threshold: Any) -> float:
    if (
        not isinstance(threshold, numbers.Real)
        or isinstance(threshold, bool)
        or not 0.0 <= float(threshold) <= 1.0
    ):
        raise InvalidParameterError(
            "`threshold` must be a number between 0 and 1 (a row is predicted as the class "
            f"with index 1 when its probability is >= threshold). "
            f"Received: threshold={short_repr(threshold)}."
        )
    return float(threshold)


def _check_proba(proba: Any) -> np.ndarray:
    try:
        arr = np.asarray(proba, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(
            f"`proba` must hold probabilities (numbers). Received: proba={short_repr(proba)}."
        ) from None
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim not in (1, 2) or (arr.ndim == 2 and arr.shape[1] < 2):
        raise DataError(
            "`proba` must have shape (n_samples,) or (n_samples, 1) (binary: probability of "
            "the class with index 1) or (n_samples, n_classes). "
            f"Received: proba with shape {arr.shape}."
        )
    arr = check_probabilities(arr, name="proba")
    if arr.ndim == 2:
        check_rows_sum_to_one(
            arr,
            name="proba",
            hint="Pass softmax outputs, or for a binary target the probability of the "
            "class with index 1 alone.",
        )
    return arr


def evaluate(
    y_true: ArrayLike,
    proba: ArrayLike,
    *,
    threshold: float = _DEFAULT_THRESHOLD,
    classes: ArrayLike | None = None,
    pos_label: Any = None,
) -> EvaluationReport:
    """Compute every imbalance-aware metric of predicted probabilities.

    The ranking metrics (``pr_auc``, ``roc_auc``) use the probabilities; the others use the
    predicted classes:

    - binary: the positive class (``pos_label``; by default the class with index 1) when its
      probability is ``>= threshold``, else the other class. (n,), (n, 1) and (n, 2)
      inputs of the same probabilities give the same report.
    - multi-class: the column with the highest probability (the first one on ties).
      ``threshold`` does not apply; leave it at its default of 0.5 (any other value raises
      :class:`~balanceflow.exceptions.InvalidParameterError`). The report's threshold is None.

    ``pr_auc`` and ``minority_f1`` are, for binary targets, the average precision and the
    F1 of ``pos_label``, by default of the minority class of ``y_true`` (ties: the class
    sorted last); see :func:`~balanceflow.metrics.average_precision`.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels (ints, bools or strings).
    proba : array-like of shape (n_samples,), (n_samples, 1) or (n_samples, n_classes)
        Predicted probabilities in [0, 1]. A single column is the probability of the class
        with index 1 (binary targets).
    threshold : float, default=0.5
        Binary decision threshold, in [0, 1].
    classes : array-like of shape (n_classes,), default=None
        The label of each column of ``proba`` (for a single column: the two classes, the one
        with index 1 second). Default: the sorted labels of ``y_true``. Pass it when the rows
        evaluated may miss a class. Every class must still occur in ``y_true``, because PR-AUC
        and ROC-AUC are undefined for an absent class
        (:class:`~balanceflow.exceptions.DataError`).
    pos_label : label, optional
        Binary targets: the positive class, whose probability ``threshold`` applies to and
        whose PR-AUC and F1 are reported (``minority_class`` is then this class). Default:
        the threshold applies to the class with index 1, PR-AUC and F1 to the minority.

    Returns
    -------
    EvaluationReport
        The metrics named in :data:`METRIC_NAMES`, ``accuracy``, per-class precision,
        recall, F1 and support, the confusion matrix, the threshold and the classes.

    Examples
    --------
    >>> from balanceflow.metrics import evaluate
    >>> y_true = [0, 0, 0, 0, 0, 0, 1, 1]
    >>> p_one = [0.1, 0.2, 0.1, 0.3, 0.8, 0.2, 0.9, 0.4]
    >>> report = evaluate(y_true, p_one, threshold=0.4)
    >>> report.confusion_matrix
    array([[5, 1],
           [0, 2]])
    >>> round(report.minority_f1, 4)
    0.8
    """
    y = _label_array(y_true, name="y_true")
    threshold = _check_threshold(threshold)
    scores = _check_proba(proba)
    check_consistent_length(y, scores, x_name="y_true", y_name="proba")

    n_columns = 2 if scores.ndim == 1 else scores.shape[1]
    if classes is None:
        class_list = np.unique(y)
        if len(class_list) != n_columns:
            raise DataError(
                f"`proba` gives {n_columns} classes but `y_true` holds {len(class_list)}: "
                f"{short_repr(class_list.tolist())}. Pass `classes` with the label of each "
                "column of proba."
            )
    else:
        class_list = _check_labels(classes, {"y_true": y}, name="classes")
        if len(class_list) != n_columns:
            raise DataError(
                f"`classes` must name one class per column of `proba` ({n_columns} classes"
                f"{' for a single column' if scores.ndim == 1 else ''}). "
                f"Received: classes={short_repr(class_list.tolist())} and proba with shape "
                f"{np.shape(proba)}."
            )
    n_classes = len(class_list)
    codes = _encode(y, class_list)
    counts = np.bincount(codes, minlength=n_classes)
    if np.any(counts == 0):
        raise DataError(
            f"Class(es) {short_repr(class_list[counts == 0].tolist())} of "
            f"{short_repr(class_list.tolist())} have no rows in `y_true`: PR-AUC and ROC-AUC "
            "are undefined for them. Evaluate on rows that contain every class (for example "
            "stratified folds)."
        )

    minority = _minority_index(codes, class_list)
    if n_classes == 2:
        p_one = scores if scores.ndim == 1 else scores[:, 1]
        predicted = (p_one >= threshold).astype(np.int64)
        if pos_label is not None:
            minority = resolve_pos_label(class_list, counts, pos_label)
            if minority == 0:  # the threshold applies to P(class 0) = 1 - P(class 1)
                predicted = (1.0 - p_one < threshold).astype(np.int64)
        pr_auc = _binary_average_precision(
            codes == minority, _class_score(p_one, minority)
        )
        roc = _binary_roc_auc(codes == 1, p_one)
        report_threshold: float | None = threshold
    else:
        if pos_label is not None:
            resolve_pos_label(class_list, counts, pos_label)  # raises: not binary
        if threshold != _DEFAULT_THRESHOLD:
            raise InvalidParameterError(
                "`threshold` applies to binary targets only; multi-class predictions take the "
                f"most probable class. Received: threshold={threshold!r} with proba of "
                f"{n_classes} columns. Leave threshold at its default."
            )
        predicted = np.argmax(scores, axis=1).astype(np.int64)
        pr_auc = _one_vs_rest_mean(codes, scores, n_classes, _binary_average_precision)
        roc = _one_vs_rest_mean(codes, scores, n_classes, _binary_roc_auc)
        report_threshold = None

    cm = _confusion(codes, predicted, n_classes)
    stats = _stats_from_confusion(cm)
    return EvaluationReport(
        pr_auc=float(pr_auc),
        roc_auc=float(roc),
        balanced_accuracy=_balanced_accuracy_from_confusion(cm),
        g_mean=_geometric_mean_from_confusion(cm),
        minority_f1=float(stats["f1"][minority]),
        macro_f1=float(np.mean(stats["f1"])),
        mcc=_mcc_from_confusion(cm),
        accuracy=float(np.trace(cm) / cm.sum()),
        precision=stats["precision"],
        recall=stats["recall"],
        f1=stats["f1"],
        support=stats["support"],
        confusion_matrix=cm,
        threshold=report_threshold,
        classes=class_list,
        minority_class=_python_scalar(class_list[minority]),
    )
