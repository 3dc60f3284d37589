"""Multi-class decisions: per-class logit offsets, and post-hoc logit adjustment.

Both rules predict ``argmax(log p + offsets_)``: the class of highest log-probability after
adding one offset per class. :class:`TunedClassOffsets` tunes each offset freely;
:class:`TunedLogitAdjustment` fixes them to ``-tau * log(prior)`` (Menon et al., 2021,
"Long-tail learning via logit adjustment") and tunes only ``tau``. The offsets bake into a
Keras model with :func:`balanceflow.layers.with_decision`.
"""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator

from balanceflow._validation import short_repr
from balanceflow.exceptions import DataError, InvalidParameterError, NotFittedError
from balanceflow.thresholds._checks import (
    check_class_targets,
    check_proba_matrix,
    log_proba,
)
from balanceflow.thresholds._objectives import (
    MULTICLASS_OBJECTIVES,
    check_objective,
    multiclass_objective,
)
from balanceflow.weights import adjust_logits, check_priors

__all__ = ["TunedClassOffsets", "TunedLogitAdjustment"]

_TIE_TOLERANCE = 1e-12
# How far below the lowest (above the highest) breakpoint the outermost offsets are placed.
_OUTER_STEP = 1.0


def _softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def _summary(codes: np.ndarray, predicted: np.ndarray, n_classes: int):
    """Diagonal and column sums of the confusion matrix, shaped (1, n_classes)."""
    diag = np.bincount(predicted[codes == predicted], minlength=n_classes).astype(
        np.float64
    )
    columns = np.bincount(predicted, minlength=n_classes).astype(np.float64)
    return diag[None, :], columns[None, :]


class _OffsetRule(BaseEstimator):
    """Shared by the multi-class rules: checks, ``predict``, ``predict_proba``, ``score``."""

    def _check_params(self) -> None:
        check_objective(self.objective, MULTICLASS_OBJECTIVES)
        if not isinstance(self.from_logits, bool):
            raise InvalidParameterError(
                f"`from_logits` must be True or False. Received: "
                f"from_logits={short_repr(self.from_logits)}."
            )

    def _logits(self, y_score: ArrayLike) -> np.ndarray:
        scores = check_proba_matrix(y_score, from_logits=self.from_logits)
        return scores if self.from_logits else log_proba(scores)

    def _fit_data(self, y_true: ArrayLike, y_score: ArrayLike):
        self._check_params()
        z = self._logits(y_score)
        codes, classes = check_class_targets(y_true, len(z), n_classes=z.shape[1])
        if np.all(z == z[0]):
            raise DataError(
                "Every row of `y_score` is the same: the offsets cannot be tuned. Check that "
                "the model was trained and that these are its predictions."
            )
        self.classes_ = classes
        self._support = np.bincount(codes, minlength=len(classes)).astype(np.float64)
        return codes, z

    def _score_of(self, codes: np.ndarray, adjusted: np.ndarray) -> float:
        predicted = np.argmax(adjusted, axis=1)
        diag, columns = _summary(codes, predicted, adjusted.shape[1])
        return float(
            multiclass_objective(self.objective, diag, columns, self._support)[0]
        )

    def _check_fitted(self) -> None:
        if not hasattr(self, "offsets_"):
            raise NotFittedError(
                f"This {type(self).__name__} has not been fitted yet. Call "
                "fit(y_true, y_score) on validation rows first."
            )

    def _adjust(self, logits: np.ndarray) -> np.ndarray:
        return logits + self.offsets_

    def decision_function(self, y_score: ArrayLike) -> np.ndarray:
        """Adjusted logits ``log p + offsets_`` (or ``logits + offsets_``), shape (n, K)."""
        self._check_fitted()
        z = self._logits(y_score)
        if z.shape[1] != len(self.offsets_):
            raise DataError(
                f"`y_score` has {z.shape[1]} columns but the rule was fit on "
                f"{len(self.offsets_)} classes."
            )
        return self._adjust(z)

    def predict(self, y_score: ArrayLike) -> np.ndarray:
        """The label of the highest adjusted logit of each row (first class on ties)."""
        adjusted = self.decision_function(y_score)
        return self.classes_[np.argmax(adjusted, axis=1)]

    def predict_proba(self, y_score: ArrayLike) -> np.ndarray:
        """The softmax of the adjusted logits: probabilities whose argmax is ``predict``."""
        return _softmax(self.decision_function(y_score))

    def score(self, y_true: ArrayLike, y_score: ArrayLike) -> float:
        """The objective of ``predict`` on these rows (every class must occur in them)."""
        adjusted = self.decision_function(y_score)
        codes, classes = check_class_targets(
            y_true, len(adjusted), n_classes=adjusted.shape[1]
        )
        if not np.array_equal(classes, self.classes_):
            raise DataError(
                f"`y_true` must hold the classes seen in fit, "
                f"{short_repr(self.classes_.tolist())}. Received: "
                f"{short_repr(classes.tolist())}."
            )
        predicted = np.argmax(adjusted, axis=1)
        support = np.bincount(codes, minlength=len(classes)).astype(np.float64)
        diag, columns = _summary(codes, predicted, len(classes))
        return float(multiclass_objective(self.objective, diag, columns, support)[0])


class TunedClassOffsets(_OffsetRule):
    """One additive offset per class on the log-probabilities, tuned for an objective.

    Predicts ``argmax_k (log p_k + offsets_[k])``. The offsets are tuned by coordinate
    ascent: one class at a time, every offset at which some row changes its prediction is
    tried (an exact line search), and the best is kept if it improves the objective; sweeps
    over the classes repeat until none improves. With two classes this amounts to a
    threshold on the log-odds. Starting from zero offsets (plain argmax), the objective on
    the fitting rows never gets worse. With K classes there are K - 1 free offsets (adding
    a constant to all changes nothing), fit on validation rows: give it enough rows of every
    class, and check the gain on held-out rows.

    Parameters
    ----------
    objective : {"balanced_accuracy", "g_mean", "macro_f1", "mcc"}, default="balanced_accuracy"
        What to maximise on the fitting rows.
    from_logits : bool, default=False
        Whether ``y_score`` holds logits instead of probabilities.
    max_iter : int, default=20
        Most sweeps over the classes.

    Attributes
    ----------
    offsets_ : ndarray of shape (n_classes,)
        The tuned offsets, added to ``log p`` (or to the logits).
    best_score_ : float
        The objective of ``predict`` on the fitting rows.
    n_iter_ : int
        Sweeps run.
    classes_ : ndarray of shape (n_classes,)
        The labels, in column order (sorted).

    Examples
    --------
    >>> import numpy as np
    >>> from balanceflow.thresholds import TunedClassOffsets
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], [300, 60, 20])
    >>> logits = rng.normal(size=(380, 3)) + 1.5 * np.eye(3)[y] + np.log([0.8, 0.15, 0.05])
    >>> proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    >>> rule = TunedClassOffsets().fit(y, proba)
    >>> from balanceflow.metrics import balanced_accuracy
    >>> bool(rule.best_score_ > balanced_accuracy(y, proba.argmax(axis=1)))
    True
    """

    def __init__(
        self,
        objective: str = "balanced_accuracy",
        *,
        from_logits: bool = False,
        max_iter: int = 20,
    ):
        self.objective = objective
        self.from_logits = from_logits
        self.max_iter = max_iter
        self._check_params()

    def _check_params(self) -> None:
        super()._check_params()
        if (
            not isinstance(self.max_iter, numbers.Integral)
            or isinstance(self.max_iter, bool)
            or self.max_iter < 1
        ):
            raise InvalidParameterError(
                f"`max_iter` must be an int >= 1. Received: max_iter={short_repr(self.max_iter)}."
            )

    def fit(self, y_true: ArrayLike, y_score: ArrayLike) -> TunedClassOffsets:
        """Tune the offsets on these rows.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            Labels; every class must occur (one column of ``y_score`` per class, in sorted
            label order).
        y_score : array-like of shape (n_samples, n_classes)
            Class probabilities (rows sum to 1), or logits with ``from_logits=True``. A
            1-D array is the probability of class index 1 of a binary problem.

        Returns
        -------
        self
        """
        codes, z = self._fit_data(y_true, y_score)
        n_classes = z.shape[1]
        offsets = np.zeros(n_classes)
        current = self._score_of(codes, z)
        n_iter = 0
        for n_iter in range(1, int(self.max_iter) + 1):
            improved = False
            for k in range(n_classes):
                value = self._line_search(codes, z, offsets, k)
                if value is None:
                    continue
                trial = offsets.copy()
                trial[k] = value
                # Score the actual predictions: the line search works on breakpoints, and
                # float rounding must not let best_score_ disagree with predict.
                score = self._score_of(codes, z + trial)
                if score > current + _TIE_TOLERANCE:
                    offsets, current, improved = trial, score, True
            if not improved:
                break
        self.offsets_ = offsets
        self.best_score_ = current
        self.n_iter_ = n_iter
        return self

    def _line_search(
        self, codes: np.ndarray, z: np.ndarray, offsets: np.ndarray, k: int
    ) -> float | None:
        """The best offset of class ``k``, the others fixed (None if nothing beats them)."""
        n, n_classes = z.shape
        others = z + offsets
        others[:, k] = -np.inf
        rival = np.argmax(others, axis=1)
        # Row i is predicted k exactly when offset_k > breakpoint_i.
        breakpoint = others[np.arange(n), rival] - z[:, k]
        order = np.argsort(breakpoint, kind="stable")
        ranked = breakpoint[order]
        ends = np.r_[np.flatnonzero(ranked[1:] != ranked[:-1]), n - 1]

        # Nobody predicted k; then rows move from their rival to k in breakpoint order.
        diag0, col0 = _summary(codes, rival, n_classes)
        moved_rival, moved_true = rival[order], codes[order]
        rows = np.arange(n)
        d_col = np.zeros((n, n_classes))
        d_col[rows, moved_rival] -= 1.0
        d_col[:, k] += 1.0
        d_diag = np.zeros((n, n_classes))
        d_diag[rows, moved_rival] -= moved_true == moved_rival
        d_diag[:, k] += moved_true == k
        diag = np.vstack([diag0, diag0 + np.cumsum(d_diag, axis=0)[ends]])
        columns = np.vstack([col0, col0 + np.cumsum(d_col, axis=0)[ends]])
        values = multiclass_objective(self.objective, diag, columns, self._support)

        distinct = ranked[ends]
        lower = np.r_[distinct[0] - _OUTER_STEP, distinct]
        upper = np.r_[distinct, distinct[-1] + _OUTER_STEP]
        candidates = lower + (upper - lower) / 2
        reachable = (candidates > lower) & (candidates < upper)
        values = np.where(reachable, values, -np.inf)
        best = values.max()
        if not np.isfinite(best):
            return None
        tied = np.flatnonzero(values >= best - _TIE_TOLERANCE * max(1.0, abs(best)))
        return float(candidates[tied[len(tied) // 2]])


class TunedLogitAdjustment(_OffsetRule):
    """Post-hoc logit adjustment, ``argmax(log p - tau * log prior)``, with ``tau`` tuned.

    A model trained on imbalanced data learns ``p(y | x)`` under the training prior, which
    favours the frequent classes. Subtracting ``tau * log(prior)`` from its logits (Menon et
    al., 2021) moves decisions towards the rare classes; ``tau = 1`` is the Bayes rule for
    balanced error when the model is calibrated, ``tau = 0`` is plain argmax. The shift is
    :func:`balanceflow.weights.adjust_logits` with ``tau=-tau``. ``tau`` is the value of
    ``taus`` that maximises the objective on the fitting rows (ties: the middle one).

    Parameters
    ----------
    objective : {"balanced_accuracy", "g_mean", "macro_f1", "mcc"}, default="balanced_accuracy"
    class_priors : array-like of shape (n_classes,), optional
        The prior the model was trained under; default: the class shares of ``y_true`` in
        ``fit`` (right when the validation rows follow the training distribution). After
        resampling or class weighting pass
        :func:`balanceflow.thresholds.training_prior` of the training data.
    taus : array-like of float, optional
        The values tried; default 0, 0.05, ..., 2.
    from_logits : bool, default=False
        Whether ``y_score`` holds logits instead of probabilities.

    Attributes
    ----------
    tau_ : float
        The tuned scale.
    offsets_ : ndarray of shape (n_classes,)
        ``-tau_ * log(class_priors_)``.
    class_priors_ : ndarray of shape (n_classes,)
    taus_, scores_ : ndarray
        The values tried and the objective at each.
    best_score_ : float
        The objective of ``predict`` on the fitting rows.
    classes_ : ndarray of shape (n_classes,)

    Examples
    --------
    >>> import numpy as np
    >>> from balanceflow.thresholds import TunedLogitAdjustment
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], [300, 60, 20])
    >>> logits = rng.normal(size=(380, 3)) + 1.5 * np.eye(3)[y] + np.log([0.8, 0.15, 0.05])
    >>> proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    >>> rule = TunedLogitAdjustment().fit(y, proba)
    >>> from balanceflow.metrics import balanced_accuracy
    >>> bool(rule.tau_ > 0 and rule.best_score_ > balanced_accuracy(y, proba.argmax(axis=1)))
    True
    """

    def __init__(
        self,
        objective: str = "balanced_accuracy",
        *,
        class_priors: ArrayLike | None = None,
        taus: ArrayLike | None = None,
        from_logits: bool = False,
    ):
        self.objective = objective
        self.class_priors = class_priors
        self.taus = taus
        self.from_logits = from_logits
        self._check_params()

    def _check_params(self) -> None:
        super()._check_params()
        if self.class_priors is not None:
            check_priors(self.class_priors, name="class_priors")
        self._tau_grid()

    def _tau_grid(self) -> np.ndarray:
        if self.taus is None:
            return np.round(np.linspace(0.0, 2.0, 41), 10)
        try:
            taus = np.asarray(self.taus, dtype=np.float64)
        except (TypeError, ValueError):
            taus = np.array([np.nan])
        if taus.ndim != 1 or taus.size == 0 or not np.all(np.isfinite(taus)):
            raise InvalidParameterError(
                "`taus` must be a non-empty 1-D list of finite floats. "
                f"Received: taus={short_repr(self.taus)}."
            )
        return taus

    def _adjust(self, logits: np.ndarray) -> np.ndarray:
        return adjust_logits(logits, self.class_priors_, tau=-self.tau_)

    def fit(self, y_true: ArrayLike, y_score: ArrayLike) -> TunedLogitAdjustment:
        """Pick ``tau`` on these rows.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            Labels; every class must occur.
        y_score : array-like of shape (n_samples, n_classes)
            Class probabilities, or logits with ``from_logits=True``.

        Returns
        -------
        self
        """
        codes, z = self._fit_data(y_true, y_score)
        n_classes = z.shape[1]
        if self.class_priors is None:
            priors = self._support / self._support.sum()
        else:
            priors = check_priors(self.class_priors, name="class_priors")
            if priors.size != n_classes:
                raise InvalidParameterError(
                    f"`class_priors` has {priors.size} values but `y_score` has {n_classes} "
                    f"columns. Give one prior per class. Received: "
                    f"class_priors={short_repr(self.class_priors)}."
                )
        taus = self._tau_grid()
        scores = np.array(
            [
                self._score_of(codes, adjust_logits(z, priors, tau=-float(t)))
                for t in taus
            ]
        )
        best = scores.max()
        tied = np.flatnonzero(scores >= best - _TIE_TOLERANCE * max(1.0, abs(best)))
        chosen = int(tied[len(tied) // 2])
        self.class_priors_ = priors
        self.taus_ = taus
        self.scores_ = scores
        self.tau_ = float(taus[chosen])
        self.offsets_ = adjust_logits(np.zeros(n_classes), priors, tau=-self.tau_)
        self.best_score_ = float(scores[chosen])
        return self
