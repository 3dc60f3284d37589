"""Imbalance-aware classification metrics, in numpy only.

Every label-based metric is read off one confusion matrix, and the two ranking metrics
(PR-AUC and ROC-AUC) work on score groups, so ties between scores count the way
scikit-learn counts them. Nothing here calls scikit-learn, which lets the tests compare
these functions against scikit-learn and imbalanced-learn as independent references.

Conventions shared by every function
------------------------------------
- Labels may be ints, bools, floats holding whole class codes, or strings. By default the
  classes are the sorted union of the labels seen (``y_true`` and ``y_pred``), or the sorted
  labels of ``y_true`` for the ranking metrics.
- ``labels`` gives the full list of classes, in the order the output (or the columns of
  ``y_score``) follows. Use it when ``y_true`` of one fold misses a class. Every label found in
  the data must be in ``labels``; unknown labels raise :class:`~balanceflow.exceptions.DataError`
  instead of being dropped silently.
- Per-class ratios that divide by zero (precision of a class never predicted, recall of a class
  absent from ``y_true``) are 0, as with scikit-learn's ``zero_division=0``.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from balanceflow._validation import (
    check_consistent_length,
    check_targets,
    minority_index,
    short_repr,
)
from balanceflow.exceptions import DataError, InvalidParameterError

__all__ = [
    "average_precision",
    "balanced_accuracy",
    "confusion_matrix",
    "geometric_mean",
    "macro_f1",
    "matthews_corrcoef",
    "minority_f1",
    "per_class_recall",
    "precision_recall_f1",
    "roc_auc",
]


# ---------------------------------------------------------------------------------------------
# Label handling
# ---------------------------------------------------------------------------------------------


def _label_array(y: Any, *, name: str) -> np.ndarray:
    """Validated 1-D labels; object arrays become a concrete dtype (str, int, bool...)."""
    arr = check_targets(y, name=name, min_classes=1)
    if arr.dtype.kind == "O":
        arr = np.asarray(arr.tolist())
    return arr


def _kind(arr: np.ndarray) -> str:
    return "string" if arr.dtype.kind in "USO" else "number"


def _check_same_kind(arrays: dict[str, np.ndarray]) -> None:
    kinds = {name: _kind(arr) for name, arr in arrays.items()}
    if len(set(kinds.values())) > 1:
        described = ", ".join(
            f"{name} with {kind} labels (e.g. {arrays[name][:1].tolist()[0]!r})"
            for name, kind in kinds.items()
        )
        raise DataError(
            f"Labels must all be numbers or all be strings. Received: {described}. "
            "Convert them to one type first."
        )


def _check_labels(
    labels: Any, observed: dict[str, np.ndarray], *, name: str
) -> np.ndarray:
    """Return the class list: the sorted union of ``observed``, or the validated ``labels``."""
    if labels is None:
        return np.unique(np.concatenate(list(observed.values())))
    arr = np.asarray(labels)
    if arr.dtype.kind == "O":
        arr = np.asarray(arr.tolist())
    if arr.ndim != 1 or arr.shape[0] == 0:
        raise InvalidParameterError(
            f"`{name}` must be a non-empty 1-D list of class labels. "
            f"Received: {name}={short_repr(labels)}."
        )
    if len(np.unique(arr)) != arr.shape[0]:
        raise InvalidParameterError(
            f"`{name}` must not repeat a class. Received: {name}={short_repr(arr.tolist())}."
        )
    _check_same_kind({name: arr, **observed})
    for data_name, values in observed.items():
        unknown = np.setdiff1d(values, arr)
        if unknown.size:
            raise DataError(
                f"`{data_name}` contains label(s) {short_repr(unknown.tolist())} that are not in "
                f"`{name}`={short_repr(arr.tolist())}. `{name}` must list every class."
            )
    return arr


def _encode(values: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Position of each value in ``classes`` (any order); every value must be a class."""
    order = np.argsort(classes, kind="stable")
    positions = np.searchsorted(classes[order], values)
    return order[np.minimum(positions, len(classes) - 1)].astype(np.int64)


def _encode_pair(
    y_true: Any, y_pred: Any, labels: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = _label_array(y_true, name="y_true")
    p = _label_array(y_pred, name="y_pred")
    check_consistent_length(t, p, x_name="y_true", y_name="y_pred")
    _check_same_kind({"y_true": t, "y_pred": p})
    classes = _check_labels(labels, {"y_true": t, "y_pred": p}, name="labels")
    return _encode(t, classes), _encode(p, classes), classes


def _minority_index(true_codes: np.ndarray, classes: np.ndarray) -> int:
    """Index of the least frequent class of ``y_true`` (ties: the class sorted last, see
    :func:`balanceflow._validation.minority_index`)."""
    counts = np.bincount(true_codes, minlength=len(classes))
    order = np.argsort(classes, kind="stable")  # class indices in sorted-label order
    return int(order[minority_index(counts[order])])


# ---------------------------------------------------------------------------------------------
# Everything label-based comes from one confusion matrix
# ---------------------------------------------------------------------------------------------


def _confusion(
    true_codes: np.ndarray, pred_codes: np.ndarray, n_classes: int
) -> np.ndarray:
    flat = np.bincount(
        true_codes * n_classes + pred_codes, minlength=n_classes * n_classes
    )
    return flat.reshape(n_classes, n_classes).astype(np.int64)


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Element-wise ratio, 0 where the denominator is 0."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    out = np.zeros_like(numerator)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def _stats_from_confusion(cm: np.ndarray) -> dict[str, np.ndarray]:
    tp = np.diag(cm)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    return {
        "precision": _divide(tp, predicted),
        "recall": _divide(tp, support),
        # 2 tp / (2 tp + fp + fn), with 2 tp + fp + fn = support + predicted
        "f1": _divide(2 * tp, support + predicted),
        "support": support.astype(np.int64),
    }


def _recalls_of_present_classes(cm: np.ndarray) -> np.ndarray:
    support = cm.sum(axis=1)
    present = support > 0
    return np.diag(cm)[present] / support[present]


def _balanced_accuracy_from_confusion(cm: np.ndarray) -> float:
    return float(np.mean(_recalls_of_present_classes(cm)))


def _geometric_mean_from_confusion(cm: np.ndarray) -> float:
    recalls = _recalls_of_present_classes(cm)
    if np.any(recalls == 0):
        return 0.0
    return float(np.exp(np.mean(np.log(recalls))))


def _mcc_from_confusion(cm: np.ndarray) -> float:
    cm = cm.astype(np.float64)
    true_sum = cm.sum(axis=1)
    pred_sum = cm.sum(axis=0)
    n = cm.sum()
    correct = np.trace(cm)
    cov_true_pred = correct * n - true_sum @ pred_sum
    cov_pred_pred = n * n - pred_sum @ pred_sum
    cov_true_true = n * n - true_sum @ true_sum
    denominator = cov_pred_pred * cov_true_true
    if denominator == 0:
        return 0.0
    return float(cov_true_pred / np.sqrt(denominator))


# ---------------------------------------------------------------------------------------------
# Public label-based metrics
# ---------------------------------------------------------------------------------------------


def confusion_matrix(
    y_true: ArrayLike, y_pred: ArrayLike, *, labels: ArrayLike | None = None
) -> np.ndarray:
    """Count each (true class, predicted class) pair.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels (ints, bools or strings).
    y_pred : array-like of shape (n_samples,)
        Predicted labels, of the same kind as ``y_true``.
    labels : array-like of shape (n_classes,), default=None
        The full list of classes, in the order of the rows and columns. Use it to add a class
        that this sample lacks, or to choose the order. Default: the sorted union of the labels
        of ``y_true`` and ``y_pred``. A label found in the data but missing here raises
        :class:`~balanceflow.exceptions.DataError`.

    Returns
    -------
    numpy.ndarray of shape (n_classes, n_classes), dtype int64
        ``cm[i, j]`` is the number of rows of true class ``labels[i]`` predicted as
        ``labels[j]``: rows are true classes, columns predicted classes.

    Examples
    --------
    >>> from balanceflow.metrics import confusion_matrix
    >>> y_true = [0, 0, 0, 0, 0, 0, 1, 1]
    >>> y_pred = [0, 0, 0, 0, 1, 0, 1, 0]
    >>> confusion_matrix(y_true, y_pred)
    array([[5, 1],
           [1, 1]])
    """
    true_codes, pred_codes, classes = _encode_pair(y_true, y_pred, labels)
    return _confusion(true_codes, pred_codes, len(classes))


def per_class_recall(
    y_true: ArrayLike, y_pred: ArrayLike, *, labels: ArrayLike | None = None
) -> np.ndarray:
    """Recall (sensitivity, true-positive rate) of every class.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels.
    labels : array-like of shape (n_classes,), default=None
        Classes, in output order (default: sorted union of the labels seen).

    Returns
    -------
    numpy.ndarray of shape (n_classes,)
        ``recall[k]`` is the share of rows of class ``labels[k]`` predicted as that class;
        0 for a class absent from ``y_true``.

    Examples
    --------
    >>> from balanceflow.metrics import per_class_recall
    >>> per_class_recall([0, 0, 0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 1, 0, 1, 0])
    array([0.83333333, 0.5       ])
    """
    true_codes, pred_codes, classes = _encode_pair(y_true, y_pred, labels)
    return _stats_from_confusion(_confusion(true_codes, pred_codes, len(classes)))[
        "recall"
    ]


def precision_recall_f1(
    y_true: ArrayLike, y_pred: ArrayLike, *, labels: ArrayLike | None = None
) -> dict[str, np.ndarray]:
    """Precision, recall, F1 and support of every class.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels.
    labels : array-like of shape (n_classes,), default=None
        Classes, in output order (default: sorted union of the labels seen).

    Returns
    -------
    dict
        ``{"precision", "recall", "f1", "support"}``, each an array of shape (n_classes,) in
        the order of ``labels``. A ratio that would divide by zero is 0 (scikit-learn's
        ``zero_division=0``); ``support`` counts the rows of each class in ``y_true``.

    Examples
    --------
    >>> from balanceflow.metrics import precision_recall_f1
    >>> stats = precision_recall_f1([0, 0, 0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 1, 0, 1, 0])
    >>> stats["f1"]
    array([0.83333333, 0.5       ])
    >>> stats["support"]
    array([6, 2])
    """
    true_codes, pred_codes, classes = _encode_pair(y_true, y_pred, labels)
    return _stats_from_confusion(_confusion(true_codes, pred_codes, len(classes)))


def balanced_accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean of the per-class recalls, over the classes present in ``y_true``.

    A class that is only predicted (absent from ``y_true``) has no recall and is left out,
    as scikit-learn's ``balanced_accuracy_score`` does.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels.

    Returns
    -------
    float
        Between 0 and 1; 1 / n_classes for a constant prediction.

    Examples
    --------
    >>> from balanceflow.metrics import balanced_accuracy
    >>> round(balanced_accuracy([0, 0, 0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 1, 0, 1, 0]), 4)
    0.6667
    """
    true_codes, pred_codes, classes = _encode_pair(y_true, y_pred, None)
    return _balanced_accuracy_from_confusion(
        _confusion(true_codes, pred_codes, len(classes))
    )


def geometric_mean(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Geometric mean of the per-class recalls (G-mean).

    For binary targets this is ``sqrt(sensitivity * specificity)``. It is 0 as soon as one
    class is never recognised, which is why it is popular on imbalanced data.

    The mean runs over the classes present in ``y_true`` (the same recalls as
    :func:`balanced_accuracy`, so ``geometric_mean <= balanced_accuracy``). This equals
    imbalanced-learn's ``geometric_mean_score(average="multiclass")`` whenever every predicted
    class occurs in ``y_true``; for a class that is only predicted, imbalanced-learn counts a
    recall of 0 (and returns 0), whereas here that class has no recall and is left out.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels.

    Returns
    -------
    float
        Between 0 and 1.

    Examples
    --------
    >>> from balanceflow.metrics import geometric_mean
    >>> round(geometric_mean([0, 0, 0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 1, 0, 1, 0]), 4)
    0.6455
    """
    true_codes, pred_codes, classes = _encode_pair(y_true, y_pred, None)
    return _geometric_mean_from_confusion(
        _confusion(true_codes, pred_codes, len(classes))
    )


def matthews_corrcoef(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Matthews correlation coefficient (binary and multi-class).

    The multi-class form is Gorodkin's R_K statistic, computed from the confusion matrix; for
    two classes it is ``(tp tn - fp fn) / sqrt((tp + fp)(tp + fn)(tn + fp)(tn + fn))``. When
    it is undefined (a constant ``y_true`` or ``y_pred``) it is 0.0, as in scikit-learn.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels.

    Returns
    -------
    float
        Between -1 and 1; 0 for a constant or random prediction.

    Examples
    --------
    >>> from balanceflow.metrics import matthews_corrcoef
    >>> round(matthews_corrcoef([0, 0, 0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 1, 0, 1, 0]), 4)
    0.3333
    """
    true_codes, pred_codes, classes = _encode_pair(y_true, y_pred, None)
    return _mcc_from_confusion(_confusion(true_codes, pred_codes, len(classes)))


def macro_f1(
    y_true: ArrayLike, y_pred: ArrayLike, *, labels: ArrayLike | None = None
) -> float:
    """Unweighted mean of the per-class F1 scores.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels.
    labels : array-like of shape (n_classes,), default=None
        Classes to average over (default: sorted union of the labels seen). A listed class
        that appears in neither array has an F1 of 0 and lowers the mean.

    Returns
    -------
    float
        Between 0 and 1.

    Examples
    --------
    >>> from balanceflow.metrics import macro_f1
    >>> round(macro_f1([0, 0, 0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 1, 0, 1, 0]), 4)
    0.6667
    """
    true_codes, pred_codes, classes = _encode_pair(y_true, y_pred, labels)
    stats = _stats_from_confusion(_confusion(true_codes, pred_codes, len(classes)))
    return float(np.mean(stats["f1"]))


def minority_f1(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """F1 score of the least frequent class of ``y_true``.

    When several classes share the smallest count, the lowest label in sorted order is used.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels.

    Returns
    -------
    float
        Between 0 and 1.

    Examples
    --------
    >>> from balanceflow.metrics import minority_f1
    >>> minority_f1([0, 0, 0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 1, 0, 1, 0])
    0.5
    """
    true_codes, pred_codes, classes = _encode_pair(y_true, y_pred, None)
    stats = _stats_from_confusion(_confusion(true_codes, pred_codes, len(classes)))
    return float(stats["f1"][_minority_index(true_codes, classes)])


# ---------------------------------------------------------------------------------------------
# Ranking metrics
# ---------------------------------------------------------------------------------------------


def _check_scores(y_score: Any, *, name: str) -> np.ndarray:
    try:
        arr = np.asarray(y_score, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(
            f"`{name}` must hold numbers (scores or probabilities). "
            f"Received: {name}={short_repr(y_score)}."
        ) from None
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim not in (1, 2) or (arr.ndim == 2 and arr.shape[1] == 0):
        raise DataError(
            f"`{name}` must have shape (n_samples,) or (n_samples, n_classes). "
            f"Received: {name} with shape {arr.shape}."
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.argwhere(bad)[0][0])
        value = arr[first] if arr.ndim == 1 else arr[first].tolist()
        raise DataError(
            f"`{name}` contains {int(bad.sum())} NaN or inf value(s) (first at row {first}: "
            f"{value!r}). Scores must be finite."
        )
    return arr


def _prepare_ranking(
    y_true: Any, y_score: Any, labels: Any, *, metric: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate inputs of a ranking metric; return (class codes, classes, scores)."""
    y = _label_array(y_true, name="y_true")
    scores = _check_scores(y_score, name="y_score")
    check_consistent_length(y, scores, x_name="y_true", y_name="y_score")
    classes = _check_labels(labels, {"y_true": y}, name="labels")
    codes = _encode(y, classes)
    n_classes = len(classes)
    if labels is None and n_classes < 2:
        raise DataError(
            f"{metric} is undefined when `y_true` holds a single class. Received: y_true with "
            f"only class {classes.tolist()[0]!r}. Evaluate on a sample that contains every class."
        )
    n_columns = 2 if scores.ndim == 1 else scores.shape[1]
    if scores.ndim == 1 and n_classes != 2:
        raise DataError(
            f"`y_score` of shape (n_samples,) is only valid for binary targets, but there are "
            f"{n_classes} classes {short_repr(classes.tolist())}. Pass y_score with one column "
            "per class."
        )
    if n_columns != n_classes:
        hint = (
            " If y_true of this sample misses a class, pass `labels` with the full class list."
            if labels is None
            else ""
        )
        raise DataError(
            f"`y_score` must have one column per class ({n_classes} classes: "
            f"{short_repr(classes.tolist())}). Received: y_score with shape {scores.shape}.{hint}"
        )
    counts = np.bincount(codes, minlength=n_classes)
    if np.any(counts == 0):
        absent = classes[counts == 0].tolist()
        raise DataError(
            f"{metric} is undefined for a class absent from `y_true`: class(es) "
            f"{short_repr(absent)} of {short_repr(classes.tolist())} have no rows in y_true. "
            "Evaluate on a sample that contains every class (for example with stratified folds)."
        )
    return codes, classes, scores


def _class_score(scores: np.ndarray, index: int) -> np.ndarray:
    """Score of class ``index``; a 1-D score belongs to class 1, so class 0 ranks by -score."""
    if scores.ndim == 2:
        return scores[:, index]
    return scores if index == 1 else -scores


def _binary_average_precision(is_positive: np.ndarray, score: np.ndarray) -> float:
    """Step-wise PR-AUC: sum over distinct thresholds of (recall gain) * precision."""
    order = np.argsort(score, kind="stable")[::-1]
    sorted_score = score[order]
    # the last row of each group of equal scores: one threshold per distinct score
    group_ends = np.r_[
        np.flatnonzero(sorted_score[1:] != sorted_score[:-1]), len(score) - 1
    ]
    true_positives = np.cumsum(is_positive[order])[group_ends]
    precision = true_positives / (group_ends + 1)
    recall = true_positives / true_positives[-1]
    recall_gain = np.diff(np.r_[0.0, recall])
    return float(np.sum(recall_gain * precision))


def _binary_roc_auc(is_positive: np.ndarray, score: np.ndarray) -> float:
    """ROC-AUC as the probability that a positive outranks a negative (ties count 1/2)."""
    order = np.argsort(score, kind="stable")
    sorted_score = score[order]
    positive = is_positive[order].astype(np.int64)
    group = np.r_[0, np.cumsum(sorted_score[1:] != sorted_score[:-1])]
    pos_in_group = np.bincount(group, weights=positive).astype(np.int64)
    neg_in_group = np.bincount(group, weights=1 - positive).astype(np.int64)
    neg_below = np.cumsum(neg_in_group) - neg_in_group
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    twice_wins = int(np.sum(pos_in_group * (2 * neg_below + neg_in_group)))
    return twice_wins / (2 * n_pos * n_neg)


def _one_vs_rest_mean(
    codes: np.ndarray,
    scores: np.ndarray,
    n_classes: int,
    binary_metric: Callable[[np.ndarray, np.ndarray], float],
) -> float:
    values = [binary_metric(codes == k, scores[:, k]) for k in range(n_classes)]
    return float(np.mean(values))


def _check_pos_label(pos_label: Any, classes: np.ndarray) -> int:
    matches = np.flatnonzero(classes == pos_label) if _scalar_like(pos_label) else []
    if len(matches) == 0:
        raise InvalidParameterError(
            f"`pos_label` must be one of the classes {short_repr(classes.tolist())}. "
            f"Received: pos_label={short_repr(pos_label)}."
        )
    return int(matches[0])


def _scalar_like(value: Any) -> bool:
    return isinstance(value, (str, bytes, numbers.Number, np.generic))


def average_precision(
    y_true: ArrayLike,
    y_score: ArrayLike,
    *,
    pos_label: Any = None,
    labels: ArrayLike | None = None,
) -> float:
    """Area under the precision-recall curve, as a step-wise sum (PR-AUC).

    ``AP = sum_n (R_n - R_{n-1}) P_n`` over the distinct score thresholds, from the highest
    score down: rows with equal scores enter together. This is the definition of
    scikit-learn's ``average_precision_score`` (no interpolation).

    Binary targets: the positive class is ``pos_label``, or by default the **minority** class
    of ``y_true`` (ties: the class sorted last), because PR-AUC is informative for the rare
    class. A 1-D ``y_score`` is the score of the class with index 1 in the class order (the
    larger label by default; scikit-learn's convention); when the positive class is the other
    one, rows are ranked by ``1 - y_score`` (implemented as ``-y_score``, which ranks the same
    and needs no probabilities). A ``y_score`` of shape (n, 2) gives one column per class.

    Multi-class targets: the macro average of the one-vs-rest AP of each class, using column
    ``k`` of ``y_score`` for class ``k``.

    A class absent from ``y_true`` has no precision-recall curve: this raises
    :class:`~balanceflow.exceptions.DataError` instead of skipping it or counting it as 0.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_score : array-like of shape (n_samples,) or (n_samples, n_classes)
        Scores or probabilities (any finite numbers; higher means more likely).
    pos_label : label, default=None
        Binary targets only: the class whose AP is returned. Default: the minority class.
    labels : array-like of shape (n_classes,), default=None
        The class of each column of ``y_score`` (default: the sorted labels of ``y_true``).

    Returns
    -------
    float
        Between 0 and 1; a random ranking scores about the positive rate.

    Examples
    --------
    >>> from balanceflow.metrics import average_precision
    >>> y_true = [0, 0, 0, 0, 0, 0, 1, 1]
    >>> p_one = [0.1, 0.2, 0.1, 0.3, 0.8, 0.2, 0.9, 0.4]
    >>> round(average_precision(y_true, p_one), 4)
    0.8333
    """
    codes, classes, scores = _prepare_ranking(
        y_true, y_score, labels, metric="average_precision"
    )
    if len(classes) > 2:
        if pos_label is not None:
            raise InvalidParameterError(
                "`pos_label` is only used for binary targets; multi-class average_precision is "
                f"the macro average over all classes. Received: pos_label={short_repr(pos_label)} "
                f"with {len(classes)} classes."
            )
        return _one_vs_rest_mean(codes, scores, len(classes), _binary_average_precision)
    if pos_label is None:
        positive = _minority_index(codes, classes)
    else:
        positive = _check_pos_label(pos_label, classes)
    return _binary_average_precision(codes == positive, _class_score(scores, positive))


def roc_auc(
    y_true: ArrayLike, y_score: ArrayLike, *, labels: ArrayLike | None = None
) -> float:
    """Area under the ROC curve, with ties between scores counted as one half.

    Binary targets: a 1-D ``y_score`` is the score of the class with index 1 (the larger label
    by default), as in scikit-learn; a ``y_score`` of shape (n, 2) uses its second column. The
    value is the same whichever class is called positive. Multi-class targets: the macro
    average of the one-vs-rest AUC of each class (scikit-learn's ``multi_class="ovr"``).

    A single class in ``y_true``, or (multi-class) a class absent from ``y_true``, makes the
    AUC undefined and raises :class:`~balanceflow.exceptions.DataError`.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_score : array-like of shape (n_samples,) or (n_samples, n_classes)
        Scores or probabilities (any finite numbers; higher means more likely).
    labels : array-like of shape (n_classes,), default=None
        The class of each column of ``y_score`` (default: the sorted labels of ``y_true``).

    Returns
    -------
    float
        Between 0 and 1; 0.5 for a random or constant score.

    Examples
    --------
    >>> from balanceflow.metrics import roc_auc
    >>> y_true = [0, 0, 0, 0, 0, 0, 1, 1]
    >>> p_one = [0.1, 0.2, 0.1, 0.3, 0.8, 0.2, 0.9, 0.4]
    >>> round(roc_auc(y_true, p_one), 4)
    0.9167
    """
    codes, classes, scores = _prepare_ranking(y_true, y_score, labels, metric="roc_auc")
    if len(classes) > 2:
        return _one_vs_rest_mean(codes, scores, len(classes), _binary_roc_auc)
    return _binary_roc_auc(codes == 1, _class_score(scores, 1))
