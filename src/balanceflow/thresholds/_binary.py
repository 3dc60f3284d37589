"""Binary decision thresholds: a fixed one, and one tuned for an objective."""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator

from balanceflow._validation import short_repr
from balanceflow.exceptions import DataError, InvalidParameterError, NotFittedError
from balanceflow.thresholds._checks import (
    check_binary_scores,
    check_class_targets,
    check_unit_interval,
)
from balanceflow.thresholds._objectives import (
    BINARY_OBJECTIVES,
    CONSTRAINED_OBJECTIVES,
    binary_objective,
    check_cost_matrix,
    check_objective,
)

__all__ = ["FixedThreshold", "TunedThreshold"]

# Objective values closer than this are ties (they are the same ratio computed two ways).
_TIE_TOLERANCE = 1e-12


class _BinaryThreshold(BaseEstimator):
    """What both threshold rules share: parameter checks, ``predict`` and ``score``.

    The positive class is the class with index 1: the larger of the two labels in sorted
    order (1 for 0/1 targets, True for booleans), and ``y_score`` is its probability. A row
    is predicted positive when ``y_score >= threshold``.
    """

    _objectives: tuple[str, ...] = BINARY_OBJECTIVES

    def _check_params(self) -> None:
        check_objective(self.objective, self._objectives)
        if (
            not isinstance(self.beta, numbers.Real)
            or isinstance(self.beta, bool)
            or not np.isfinite(self.beta)
            or self.beta <= 0
        ):
            raise InvalidParameterError(
                f"`beta` must be a float > 0. Received: beta={short_repr(self.beta)}."
            )
        if self.objective == "cost":
            if self.cost_matrix is None:
                raise InvalidParameterError(
                    "objective='cost' needs a `cost_matrix` (rows: true class, columns: "
                    "predicted class), e.g. cost_matrix=[[0, 1], [10, 0]]. "
                    "Received: cost_matrix=None."
                )
            check_cost_matrix(self.cost_matrix)
        elif self.cost_matrix is not None:
            raise InvalidParameterError(
                "`cost_matrix` is only used by objective='cost'. Received: "
                f"objective={self.objective!r} and cost_matrix={short_repr(self.cost_matrix)}."
            )

    def _objective_values(
        self, tp: np.ndarray, fp: np.ndarray, n_pos: int, n_neg: int
    ) -> np.ndarray:
        cost = None if self.cost_matrix is None else check_cost_matrix(self.cost_matrix)
        return binary_objective(
            self.objective,
            tp,
            fp,
            n_pos,
            n_neg,
            beta=float(self.beta),
            cost_matrix=cost,
        )

    def _fit_data(self, y_true: ArrayLike, y_score: ArrayLike):
        scores = check_binary_scores(y_score)
        codes, classes = check_class_targets(y_true, len(scores))
        if len(classes) != 2:
            raise DataError(
                f"`y_true` must hold two classes for a binary threshold. Received: "
                f"{len(classes)} classes ({short_repr(classes.tolist())}). For multi-class "
                "predictions use TunedClassOffsets or TunedLogitAdjustment."
            )
        self.classes_ = classes
        return codes, scores

    def _codes_of(self, y_true: ArrayLike, n_rows: int) -> np.ndarray:
        codes, classes = check_class_targets(y_true, n_rows)
        if len(classes) != 2 or not np.array_equal(classes, self.classes_):
            raise DataError(
                f"`y_true` must hold the two classes seen in fit, "
                f"{short_repr(self.classes_.tolist())}. Received: classes "
                f"{short_repr(classes.tolist())}."
            )
        return codes

    def _threshold(self) -> float:
        raise NotImplementedError

    def predict(self, y_score: ArrayLike) -> np.ndarray:
        """Predicted labels: the positive class where ``y_score >= best_threshold_``.

        Parameters
        ----------
        y_score : array-like of shape (n_samples,), (n_samples, 1) or (n_samples, 2)
            Probability of the class with index 1 (or both classes' probabilities).

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels of ``classes_`` (0 and 1 for a :class:`FixedThreshold` used without fit).
        """
        threshold = self._threshold()
        scores = check_binary_scores(y_score)
        classes = getattr(self, "classes_", np.array([0, 1]))
        return classes[(scores >= threshold).astype(np.int64)]

    def score(self, y_true: ArrayLike, y_score: ArrayLike) -> float:
        """The objective on these rows at ``best_threshold_`` (e.g. on held-out data).

        For ``objective="cost"`` this is minus the mean cost per row; for the constrained
        objectives it is the recall (``max_recall_at_precision``) or the precision
        (``max_precision_at_recall``), whether or not the constraint holds on these rows.
        """
        threshold = self._threshold()
        self._check_params()
        scores = check_binary_scores(y_score)
        codes = self._codes_of(y_true, len(scores))
        predicted = scores >= threshold
        tp = np.sum(predicted & (codes == 1))
        fp = np.sum(predicted & (codes == 0))
        n_pos = int(np.sum(codes == 1))
        return float(self._objective_values(tp, fp, n_pos, len(codes) - n_pos))


class FixedThreshold(_BinaryThreshold):
    """Predict the positive class when its probability is at least ``threshold``.

    The baseline against which :class:`TunedThreshold` is measured, and a way to apply a
    threshold chosen elsewhere. ``predict`` works without ``fit``; ``fit`` records the
    labels and the objective at this threshold.

    Parameters
    ----------
    threshold : float, default=0.5
        In [0, 1]. A row is predicted positive (class index 1) when ``y_score >= threshold``.
    objective : str, default="f1"
        What ``best_score_`` and ``score`` report; one of :data:`BINARY_OBJECTIVES` except the
        two constrained ones (a fixed threshold does not search).
    beta : float, default=1.0
        For ``objective="fbeta"``.
    cost_matrix : array-like of shape (2, 2), optional
        For ``objective="cost"``; see :class:`TunedThreshold`.

    Attributes
    ----------
    best_threshold_ : float
        ``threshold``.
    best_score_ : float
        The objective at ``threshold`` on the rows given to ``fit``.
    classes_ : ndarray of shape (2,)
        The two labels; ``classes_[1]`` is the positive class.

    Examples
    --------
    >>> from balanceflow.thresholds import FixedThreshold
    >>> y = [0, 0, 0, 0, 0, 0, 1, 1]
    >>> p = [0.1, 0.2, 0.1, 0.3, 0.8, 0.2, 0.9, 0.4]
    >>> rule = FixedThreshold(0.5, objective="f1").fit(y, p)
    >>> rule.best_score_
    0.5
    >>> rule.predict([0.2, 0.7]).tolist()
    [0, 1]
    """

    _objectives = tuple(o for o in BINARY_OBJECTIVES if o not in CONSTRAINED_OBJECTIVES)

    def __init__(
        self,
        threshold: float = 0.5,
        *,
        objective: str = "f1",
        beta: float = 1.0,
        cost_matrix: ArrayLike | None = None,
    ):
        self.threshold = threshold
        self.objective = objective
        self.beta = beta
        self.cost_matrix = cost_matrix
        self._check_params()

    def _check_params(self) -> None:
        check_unit_interval(self.threshold, "threshold")
        if self.objective in CONSTRAINED_OBJECTIVES:
            raise InvalidParameterError(
                f"objective={self.objective!r} searches for a threshold; FixedThreshold does "
                "not search. Use TunedThreshold, or an unconstrained objective here."
            )
        super()._check_params()

    def _threshold(self) -> float:
        return check_unit_interval(self.threshold, "threshold")

    @property
    def best_threshold_(self) -> float:
        return self._threshold()

    def fit(self, y_true: ArrayLike, y_score: ArrayLike) -> FixedThreshold:
        """Record the labels and the objective at ``threshold`` on these rows.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            Two classes; the larger label (class index 1) is the positive class.
        y_score : array-like of shape (n_samples,), (n_samples, 1) or (n_samples, 2)
            Probability of the positive class, in [0, 1].

        Returns
        -------
        self
        """
        self._check_params()
        codes, scores = self._fit_data(y_true, y_score)
        self.best_score_ = self.score(self.classes_[codes], scores)
        return self


class TunedThreshold(_BinaryThreshold):
    """The threshold that maximises an objective on the rows it is fit on.

    Every distinct score is tried as a threshold (plus "predict no positive" when the
    highest score is below 1), so the result is the exact optimum of the objective on the
    fitting rows, not a grid approximation. The threshold returned lies halfway between the
    chosen score and the next lower distinct score: on the fitting rows it predicts exactly
    what thresholding at the chosen score predicts, and new rows that fall between the two
    scores are split evenly. Fit it on validation rows (an inner split of the training data),
    never on the rows used to report the final score.

    When several thresholds reach the best value, the constrained objectives prefer the one
    with the best secondary quantity (the precision for ``max_recall_at_precision``, the
    recall for ``max_precision_at_recall``); remaining ties go to the middle one.

    Parameters
    ----------
    objective : str, default="f1"
        What to maximise, at the threshold, on the positive class (class index 1):

        - ``"f1"``: F1 of the positive class.
        - ``"fbeta"``: F-beta; ``beta > 1`` favours recall, ``beta < 1`` precision.
        - ``"g_mean"``: ``sqrt(recall * specificity)``.
        - ``"balanced_accuracy"``: ``(recall + specificity) / 2``.
        - ``"youden"``: Youden's J, ``recall + specificity - 1``.
        - ``"mcc"``: Matthews correlation coefficient.
        - ``"cost"``: minus the mean cost per row under ``cost_matrix``.
        - ``"max_recall_at_precision"``: the recall, among thresholds whose precision is
          at least ``min_precision``.
        - ``"max_precision_at_recall"``: the precision, among thresholds whose recall is at
          least ``min_recall``.
    beta : float, default=1.0
        For ``"fbeta"``.
    cost_matrix : array-like of shape (2, 2), optional
        Required by ``"cost"``: ``cost_matrix[i][j]`` is the cost of predicting class ``j``
        for a row of class ``i`` (rows: true class, columns: predicted class, as in
        :func:`balanceflow.metrics.confusion_matrix`).
    min_precision, min_recall : float in [0, 1], optional
        Constraints. ``min_precision`` is required by ``"max_recall_at_precision"`` and
        ``min_recall`` by ``"max_precision_at_recall"``; with any other objective they
        restrict the thresholds searched. If no threshold meets them,
        :class:`~balanceflow.exceptions.DataError` says how close the data came.

    Attributes
    ----------
    best_threshold_ : float
        The tuned threshold, in [0, 1]; a row is positive when ``y_score >= best_threshold_``.
    best_score_ : float
        The objective at ``best_threshold_`` on the fitting rows (for ``"cost"``: minus the
        mean cost per row).
    thresholds_ : ndarray of shape (n_candidates,)
        Every threshold tried, ascending.
    scores_ : ndarray of shape (n_candidates,)
        The objective at each threshold tried; NaN where a constraint fails.
    classes_ : ndarray of shape (2,)
        The two labels; ``classes_[1]`` is the positive class.

    Examples
    --------
    >>> from balanceflow.thresholds import TunedThreshold
    >>> y = [0, 0, 0, 0, 0, 0, 1, 1]
    >>> p = [0.1, 0.2, 0.1, 0.3, 0.8, 0.2, 0.9, 0.4]
    >>> rule = TunedThreshold("f1").fit(y, p)
    >>> rule.best_threshold_, round(rule.best_score_, 4)
    (0.35, 0.8)
    >>> rule.predict([0.2, 0.45]).tolist()
    [0, 1]
    """

    def __init__(
        self,
        objective: str = "f1",
        *,
        beta: float = 1.0,
        cost_matrix: ArrayLike | None = None,
        min_precision: float | None = None,
        min_recall: float | None = None,
    ):
        self.objective = objective
        self.beta = beta
        self.cost_matrix = cost_matrix
        self.min_precision = min_precision
        self.min_recall = min_recall
        self._check_params()

    def _check_params(self) -> None:
        super()._check_params()
        for name in ("min_precision", "min_recall"):
            value = getattr(self, name)
            if value is not None:
                check_unit_interval(value, name)
        needed = CONSTRAINED_OBJECTIVES.get(self.objective)
        if needed is not None and getattr(self, needed) is None:
            raise InvalidParameterError(
                f"objective={self.objective!r} needs `{needed}` (a float in [0, 1]), e.g. "
                f"TunedThreshold({self.objective!r}, {needed}=0.9). Received: {needed}=None."
            )

    def _threshold(self) -> float:
        if not hasattr(self, "best_threshold_"):
            raise NotFittedError(
                "This TunedThreshold has not been fitted yet. Call fit(y_true, y_score) on "
                "validation rows first."
            )
        return self.best_threshold_

    def fit(self, y_true: ArrayLike, y_score: ArrayLike) -> TunedThreshold:
        """Find the threshold that maximises the objective on these rows.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            Two classes; the larger label (class index 1) is the positive class.
        y_score : array-like of shape (n_samples,), (n_samples, 1) or (n_samples, 2)
            Probability of the positive class, in [0, 1].

        Returns
        -------
        self
        """
        self._check_params()
        codes, scores = self._fit_data(y_true, y_score)
        if scores.min() == scores.max():
            raise DataError(
                f"`y_score` is constant (every row scores {scores[0]!r}): the threshold cannot "
                "be tuned. Check that the model was trained and that the scores are its "
                "predicted probabilities."
            )
        thresholds, tp, fp = _candidates(codes, scores)
        n_pos = int(codes.sum())
        n_neg = len(codes) - n_pos
        values = self._objective_values(tp, fp, n_pos, n_neg)
        precision = np.divide(tp, tp + fp, out=np.zeros(len(tp)), where=(tp + fp) > 0)
        recall = tp / n_pos
        feasible = np.ones(len(values), dtype=bool)
        if self.min_precision is not None:
            feasible &= precision >= self.min_precision
        if self.min_recall is not None:
            feasible &= recall >= self.min_recall
        if not feasible.any():
            raise DataError(self._infeasible_message(precision, recall))

        best = values[feasible].max()
        tied = feasible & (values >= best - _TIE_TOLERANCE * max(1.0, abs(best)))
        secondary = {
            "max_recall_at_precision": precision,
            "max_precision_at_recall": recall,
        }.get(self.objective)
        if secondary is not None:
            top = secondary[tied].max()
            tied &= secondary >= top - _TIE_TOLERANCE
        candidates = np.flatnonzero(tied)
        chosen = int(candidates[len(candidates) // 2])

        self.thresholds_ = thresholds
        self.scores_ = np.where(feasible, values, np.nan)
        self.best_threshold_ = float(thresholds[chosen])
        self.best_score_ = float(values[chosen])
        return self

    def _infeasible_message(self, precision: np.ndarray, recall: np.ndarray) -> str:
        wanted = []
        if self.min_precision is not None:
            wanted.append(f"precision >= {self.min_precision:g}")
        if self.min_recall is not None:
            wanted.append(f"recall >= {self.min_recall:g}")
        detail = f"the highest precision of any threshold is {precision.max():.4g}"
        if self.min_precision is not None and self.min_recall is not None:
            precise = precision >= self.min_precision
            if precise.any():
                detail += (
                    f"; with precision >= {self.min_precision:g} the highest recall is "
                    f"{recall[precise].max():.4g}"
                )
        return (
            f"No threshold reaches {' and '.join(wanted)} on these rows ({detail}). Relax "
            "the constraint, or tune on more validation rows."
        )


def _candidates(
    codes: np.ndarray, scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every distinct threshold: ``(thresholds ascending, true positives, false positives)``.

    Thresholding at the k-th highest distinct score predicts positive the rows scoring at
    least that score; its threshold is placed halfway down to the next lower distinct score
    (to 0 below the lowest), which predicts the same on these rows. When the highest score is
    below 1, "no positive" is a candidate too, with a threshold halfway up to 1.
    """
    order = np.argsort(-scores, kind="stable")
    ranked = scores[order]
    ends = np.r_[np.flatnonzero(ranked[1:] != ranked[:-1]), len(ranked) - 1]
    tp = np.cumsum(codes[order])[ends]
    fp = ends + 1 - tp
    distinct = ranked[ends]  # descending
    lower = np.r_[distinct[1:], 0.0]
    middle = lower + (distinct - lower) / 2
    # Adjacent floats have no midpoint: keep the score itself (same predictions here).
    thresholds = np.where((middle > lower) | (lower == distinct), middle, distinct)
    if distinct[0] < 1.0:
        above = distinct[0] + (1.0 - distinct[0]) / 2
        if above <= distinct[0]:
            above = 1.0
        thresholds = np.r_[above, thresholds]
        tp = np.r_[0, tp]
        fp = np.r_[0, fp]
    return thresholds[::-1].copy(), tp[::-1].copy(), fp[::-1].copy()
