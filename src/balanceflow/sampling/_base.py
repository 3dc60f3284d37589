"""Base class of the index-based samplers: it validates once, subclasses only pick rows."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import InputTags as SklearnInputTags
from sklearn.utils import Tags as SklearnTags
from sklearn.utils import TargetTags

from balanceflow._validation import (
    check_consistent_length,
    check_seed,
    check_target_is_classes,
    check_targets,
    short_repr,
    take_rows,
)
from balanceflow.exceptions import DataError, InvalidParameterError, NotFittedError
from balanceflow.sampling._strategy import resolve_sampling_strategy

__all__ = ["BaseSampler", "InputTags", "SamplerTags", "Tags"]


def _rows(data: Any, indices: np.ndarray) -> Any:
    """Rows of ``data`` by position, in its own type (a list stays a list)."""
    if isinstance(data, list):
        return [data[i] for i in indices]
    return take_rows(data, indices)


@dataclass
class SamplerTags:
    """imbalanced-learn's sampler tags: this sampler exposes ``sample_indices_``."""

    sample_indices: bool = True


@dataclass
class InputTags(SklearnInputTags):
    """scikit-learn's input tags with imbalanced-learn's ``dataframe``."""

    dataframe: bool = True


@dataclass
class Tags(SklearnTags):
    """scikit-learn's tags with imbalanced-learn's ``sampler_tags``."""

    sampler_tags: SamplerTags | None = None


class BaseSampler(BaseEstimator):
    """Common machinery of balanceflow's samplers, drop-in imbalanced-learn samplers.

    ``fit`` checks ``X`` and ``y`` and turns ``sampling_strategy`` into
    ``sampling_strategy_`` (imbalanced-learn's meaning: ``{class: rows to add}`` for an
    over-sampler, ``{class: rows to keep}`` for an under-sampler) and ``target_counts_``
    (``{class: rows after resampling}``); ``fit_resample`` also asks the subclass for the
    row indices of the resampled set, stored as ``sample_indices_``. Rows are then
    gathered from ``X`` and ``y`` by position, so every output row is an input row and the
    same indices can drive a ``tf.data`` pipeline or an ensemble member without copying
    the data.

    ``X`` may be a numpy array of any rank (tabular, images ``N x H x W x C``, sequences), a
    pandas DataFrame (returned with its original index), a scipy sparse matrix, a dict of
    arrays (multi-input models) or a list. Rows of ``X`` are never inspected, so NaN in
    features passes through untouched. ``y`` must hold classes: a continuous target is
    refused, as imbalanced-learn refuses it. The samplers carry imbalanced-learn's tags,
    so ``imblearn.pipeline.Pipeline`` and its common checks take them.
    """

    _kind: str = ""  # "over" or "under": which way this sampler may move class counts

    def __init__(
        self,
        *,
        sampling_strategy: Any = "auto",
        random_state: Any = None,
        seed: Any = None,
    ):
        self.sampling_strategy = sampling_strategy
        self.random_state = random_state
        self.seed = seed

    def _generator(self) -> np.random.Generator:
        if self.random_state is not None and self.seed is not None:
            raise InvalidParameterError(
                f"{type(self).__name__}: give `random_state` (imbalanced-learn's name) or "
                f"`seed`, not both. Received: random_state={short_repr(self.random_state)}, "
                f"seed={short_repr(self.seed)}."
            )
        name = "random_state" if self.random_state is not None else "seed"
        state = getattr(self, name)
        if isinstance(state, np.random.RandomState):  # scikit-learn's legacy generators
            state = int(state.randint(0, 2**31 - 1))
        return check_seed(state, name=name)

    def fit(self, X: Any, y: Any) -> BaseSampler:
        """Check the data and compute ``sampling_strategy_``; return the sampler."""
        if y is None:
            raise DataError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        labels = check_targets(y)
        check_target_is_classes(labels)
        check_consistent_length(X, labels)
        self._check_features(X)
        self.target_counts_ = resolve_sampling_strategy(
            self.sampling_strategy, labels, kind=self._kind
        )
        classes, counts = np.unique(labels, return_counts=True)
        current = dict(zip(classes.tolist(), counts.tolist()))
        if self._kind == "over":
            self.sampling_strategy_ = {
                c: int(n - current[c]) for c, n in self.target_counts_.items()
            }
        else:
            self.sampling_strategy_ = dict(self.target_counts_)
        self._labels = labels
        return self

    def _check_features(self, X: Any) -> None:
        """Refuse complex numbers and tables without columns; record the columns of a
        table (``n_features_in_``, ``feature_names_in_``). Other ranks pass as they are."""
        for name in ("n_features_in_", "feature_names_in_"):
            if hasattr(self, name):
                delattr(self, name)
        dtype = getattr(X, "dtype", None)
        if dtype is not None and np.issubdtype(dtype, np.complexfloating):
            raise DataError(
                f"{type(self).__name__}: Complex data not supported; pass real numbers."
            )
        if hasattr(X, "columns"):
            self.feature_names_in_ = np.asarray(
                [str(c) for c in X.columns], dtype=object
            )
        shape = getattr(X, "shape", None)
        if shape is None and isinstance(X, list) and X and isinstance(X[0], list):
            shape = (len(X), len(X[0]))
        if shape is not None and len(shape) == 2:
            if shape[1] == 0:
                raise DataError(
                    f"Found array with 0 feature(s) (shape={tuple(shape)}) while a minimum "
                    f"of 1 is required by {type(self).__name__}."
                )
            self.n_features_in_ = int(shape[1])

    def fit_resample(self, X: Any, y: Any) -> tuple[Any, Any]:
        """Resample ``X`` and ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...), DataFrame, sparse matrix or dict of arrays
            Features; only their rows are selected.
        y : array-like of shape (n_samples,)
            Class labels (int, bool or str), or one-hot rows.

        Returns
        -------
        X_resampled, y_resampled
            Of the same types as ``X`` and ``y``.
        """
        self.fit(X, y)
        labels = self._labels
        del self._labels
        self.sample_indices_ = self._sample_indices(
            labels, self.target_counts_, self._generator()
        )
        return _rows(X, self.sample_indices_), _rows(y, self.sample_indices_)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """The names of the output columns: the input's (rows are selected, not changed);
        ``x0, x1, ...`` for an array fit without names."""
        if not hasattr(self, "n_features_in_"):
            raise NotFittedError(
                f"This {type(self).__name__} has not been fitted on a table yet. Call "
                "fit(X, y) with a 2-D X first."
            )
        names = getattr(self, "feature_names_in_", None)
        if input_features is not None:
            input_features = np.asarray(input_features, dtype=object)
            if len(input_features) != self.n_features_in_:
                raise InvalidParameterError(
                    "input_features should have length equal to number of features "
                    f"({self.n_features_in_}), got {len(input_features)}."
                )
            if names is not None and not np.array_equal(input_features, names):
                raise InvalidParameterError(
                    "input_features is not equal to feature_names_in_: "
                    f"{short_repr(input_features.tolist())} vs {short_repr(names.tolist())}."
                )
            return input_features
        if names is not None:
            return names
        return np.asarray([f"x{i}" for i in range(self.n_features_in_)], dtype=object)

    def __sklearn_tags__(self) -> Tags:
        base = super().__sklearn_tags__()
        tags = Tags(
            estimator_type="sampler",
            target_tags=TargetTags(required=True),
            transformer_tags=None,
            regressor_tags=None,
            classifier_tags=None,
            sampler_tags=SamplerTags(sample_indices=True),
        )
        tags.input_tags = InputTags(
            **{
                f.name: getattr(base.input_tags, f.name)
                for f in fields(base.input_tags)
            },
            dataframe=True,
        )
        tags.input_tags.sparse = True
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        return tags

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
