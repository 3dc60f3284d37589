"""Random over- and under-sampling by row index."""

from __future__ import annotations

from typing import Any

import numpy as np

from balanceflow.sampling._base import BaseSampler

__all__ = ["RandomOverSampler", "RandomUnderSampler"]


def _rows_of(y: np.ndarray, label: Any) -> np.ndarray:
    return np.flatnonzero(y == label)


class RandomOverSampler(BaseSampler):
    """Grow classes by drawing their rows again, with replacement.

    Every original row is kept, in its original order, and the drawn duplicates follow.

    Parameters
    ----------
    sampling_strategy : float, str, dict or callable, default="auto"
        Target class sizes; see :func:`balanceflow.sampling.resolve_sampling_strategy`.
        ``"auto"`` grows every class except the majority to the majority's size.
    random_state : int, numpy Generator or None, default=None
        Seed of the draw (imbalanced-learn's name). The same seed gives the same rows.
    seed : int, numpy Generator or None, default=None
        The same as ``random_state`` (Keras' name); give one of the two.

    Attributes
    ----------
    sampling_strategy_ : dict
        ``{class: rows added}`` for the classes it grows (imbalanced-learn's meaning).
    target_counts_ : dict
        ``{class: row count after resampling}`` for the same classes.
    sample_indices_ : ndarray of shape (n_resampled,)
        Positions of the output rows in the input.

    Examples
    --------
    >>> import numpy as np
    >>> from balanceflow.sampling import RandomOverSampler
    >>> X = np.arange(12).reshape(6, 2)
    >>> y = np.array([0, 0, 0, 0, 1, 1])
    >>> X_res, y_res = RandomOverSampler(seed=0).fit_resample(X, y)
    >>> np.bincount(y_res).tolist()
    [4, 4]
    """

    _kind = "over"

    def _sample_indices(
        self, y: np.ndarray, targets: dict[Any, int], rng: np.random.Generator
    ) -> np.ndarray:
        parts = [np.arange(len(y))]
        for label, target in targets.items():
            rows = _rows_of(y, label)
            if target > len(rows):
                parts.append(rng.choice(rows, size=target - len(rows), replace=True))
        return np.concatenate(parts)


class RandomUnderSampler(BaseSampler):
    """Shrink classes by keeping a random subset of their rows, without replacement.

    The kept rows stay in their original order and are never duplicated.

    Parameters
    ----------
    sampling_strategy : float, str, dict or callable, default="auto"
        Target class sizes; ``"auto"`` shrinks every class except the minority to the
        minority's size.
    random_state : int, numpy Generator or None, default=None
        Seed of the draw (imbalanced-learn's name).
    seed : int, numpy Generator or None, default=None
        The same as ``random_state`` (Keras' name); give one of the two.

    Attributes
    ----------
    sampling_strategy_ : dict
        ``{class: rows kept}`` for the classes it shrinks (imbalanced-learn's meaning).
    target_counts_ : dict
        The same, as row counts after resampling.
    sample_indices_ : ndarray of shape (n_resampled,)
        Positions of the kept rows in the input, ascending.

    Examples
    --------
    >>> import numpy as np
    >>> from balanceflow.sampling import RandomUnderSampler
    >>> X = np.arange(12).reshape(6, 2)
    >>> y = np.array([0, 0, 0, 0, 1, 1])
    >>> X_res, y_res = RandomUnderSampler(seed=0).fit_resample(X, y)
    >>> np.bincount(y_res).tolist()
    [2, 2]
    """

    _kind = "under"

    def _sample_indices(
        self, y: np.ndarray, targets: dict[Any, int], rng: np.random.Generator
    ) -> np.ndarray:
        keep = np.ones(len(y), dtype=bool)
        for label, target in targets.items():
            rows = _rows_of(y, label)
            if target < len(rows):
                dropped = rng.choice(rows, size=len(rows) - target, replace=False)
                keep[dropped] = False
        return np.flatnonzero(keep)
