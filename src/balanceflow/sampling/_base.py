"""Base class of the index-based samplers: it validates once, subclasses only pick rows."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from balanceflow._validation import (
    check_consistent_length,
    check_seed,
    check_targets,
    take_rows,
)
from balanceflow.exceptions import NotFittedError
from balanceflow.sampling._strategy import resolve_sampling_strategy

__all__ = ["BaseSampler"]


class BaseSampler(BaseEstimator):
    """Common machinery of balanceflow's samplers.

    ``fit_resample`` checks ``X`` and ``y``, turns ``sampling_strategy`` into the
    ``{class: target_count}`` dict ``sampling_strategy_`` and asks the subclass for the row
    indices of the resampled set, stored as ``sample_indices_``. Rows are then gathered from
    ``X`` and ``y`` by position, so every output row is an input row and the same indices can
    drive a ``tf.data`` pipeline or an ensemble member without copying the data.

    ``X`` may be a numpy array of any rank (tabular, images ``N x H x W x C``, sequences), a
    pandas DataFrame (returned with its original index), a dict of arrays (multi-input
    models) or a list. Rows of ``X`` are never inspected, so NaN in features passes through
    untouched. Any object with a ``fit_resample(X, y)`` method, imbalanced-learn samplers
    included, can be used wherever balanceflow accepts a sampler.
    """

    _kind: str = ""  # "over" or "under": which way this sampler may move class counts

    def __init__(self, *, sampling_strategy: Any = "auto", seed: Any = None):
        self.sampling_strategy = sampling_strategy
        self.seed = seed

    def fit_resample(self, X: Any, y: Any) -> tuple[Any, Any]:
        """Resample ``X`` and ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...), DataFrame or dict of arrays
            Features; only their rows are selected.
        y : array-like of shape (n_samples,)
            Class labels (int, bool or str), or one-hot rows.

        Returns
        -------
        X_resampled, y_resampled
            Of the same types as ``X`` and ``y``.
        """
        labels = check_targets(y)
        check_consistent_length(X, labels)
        self.sampling_strategy_ = resolve_sampling_strategy(
            self.sampling_strategy, labels, kind=self._kind
        )
        rng = check_seed(self.seed)
        self.sample_indices_ = self._sample_indices(
            labels, self.sampling_strategy_, rng
        )
        return take_rows(X, self.sample_indices_), take_rows(y, self.sample_indices_)

    def _sample_indices(
        self, y: np.ndarray, targets: dict[Any, int], rng: np.random.Generator
    ) -> np.ndarray:
        raise NotImplementedError

    def _check_fitted(self) -> None:
        if not hasattr(self, "sample_indices_"):
            raise NotFittedError(
                f"This {type(self).__name__} has not been fitted yet. Call fit_resample(X, y) "
                "first."
            )
