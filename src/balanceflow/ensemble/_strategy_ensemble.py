"""Ensembles of Keras models trained on original, over- and under-sampled data."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np

from balanceflow._models import call_model_fn, predict_proba
from balanceflow._validation import (
    check_consistent_length,
    derive_seed,
    encode_labels,
    short_repr,
)
from balanceflow.ensemble._combine import (
    COMBINE_METHODS,
    combine_proba,
    fit_vote_weights,
)
from balanceflow.ensemble._layers import EnsembleCombiner
from balanceflow.ensemble._members import check_member, prepare_member
from balanceflow.exceptions import DataError, InvalidParameterError, NotFittedError

__all__ = ["StrategyEnsemble", "combine_models"]


def combine_models(
    members: Sequence[keras.Model],
    input_shape: tuple[int, ...],
    method: str,
    weights: Any,
    n_classes: int,
) -> keras.Model:
    """One Keras model: ``members`` side by side, joined by an ``EnsembleCombiner``.

    It outputs the combined (n, n_classes) probabilities of :func:`combine_proba`.
    """
    inputs = keras.Input(shape=tuple(input_shape), name="features")
    # Each member is wrapped under its own name: members built by one model_fn share the
    # name the user gave them, and a Keras model needs unique layer names.
    outputs = [
        keras.Model(member.inputs[0], member.outputs[0], name=f"member_{i}")(inputs)
        for i, member in enumerate(members)
    ]
    combined = EnsembleCombiner(
        method=method,
        weights=[float(w) for w in np.asarray(weights).ravel()],
        n_classes=n_classes,
        name="combine",
    )(outputs)
    return keras.Model(inputs, combined, name="strategy_ensemble")


class StrategyEnsemble:
    """One Keras model per imbalance strategy, combined by vote or weighted average.

    Each member is built by ``model_fn`` with the same initial weights and trained on its
    own version of the training data: as given (``"none"``), with balanced class weights
    (``"class_weight"``), randomly over-sampled (``"over"``) or under-sampled (``"under"``).
    Over-sampling keeps every majority row but repeats minority rows; under-sampling sees
    fresh minority proportions but drops majority rows; together they err differently, and
    their vote is steadier than either.

    Parameters
    ----------
    model_fn : callable
        ``model_fn(input_shape, n_classes) -> keras.Model`` (or a function with no
        arguments). A model returned uncompiled is compiled with Adam(1e-3) and
        cross-entropy. Binary models have one sigmoid unit (or two softmax units);
        multi-class models one softmax unit per class.
    strategies : sequence of str or samplers, default=("none", "over", "under")
        One member per entry: ``"none"``, ``"class_weight"``, ``"over"``, ``"under"``, or
        any sampler object with ``fit_resample`` (imbalanced-learn's included).
    combine : {"soft", "hard", "weighted"}, default="soft"
        ``"soft"``: mean probability. ``"hard"``: majority vote of the members' labels (the
        probability is the share of votes; ties go to the larger mean probability).
        ``"weighted"``: a weighted mean whose non-negative weights, summing to 1, minimise the
        log loss on ``validation_data`` (required).
    sampling_strategy : float, str, dict or callable, default="auto"
        Passed to the over- and under-samplers.
    seed : int, default=0
        Seeds the initial weights (shared by all members), each sampler and each training run.

    Attributes
    ----------
    members_ : list of keras.Model
    classes_ : ndarray
        The labels, in class-index order.
    weights_ : ndarray of shape (n_members,)
        The combination weights (uniform unless ``combine="weighted"``).

    Examples
    --------
    >>> import numpy as np, keras
    >>> import balanceflow as bf
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 4)).astype("float32")
    >>> y = (X[:, 0] > 1.3).astype(int)                    # about 10% positives
    >>> def model_fn(input_shape, n_classes):
    ...     return keras.Sequential([keras.Input(input_shape), keras.layers.Dense(1, "sigmoid")])
    >>> ens = bf.ensemble.StrategyEnsemble(model_fn, combine="soft", seed=0)
    >>> ens = ens.fit(X, y, epochs=2, verbose=0)
    >>> ens.predict_proba(X).shape
    (300, 2)
    """

    def __init__(
        self,
        model_fn: Callable[..., Any],
        strategies: Sequence[Any] = ("none", "over", "under"),
        *,
        combine: str = "soft",
        sampling_strategy: Any = "auto",
        seed: int = 0,
    ):
        self.model_fn = model_fn
        self.strategies = strategies
        self.combine = combine
        self.sampling_strategy = sampling_strategy
        self.seed = seed

    def _check_params(self) -> list[Any]:
        if self.combine not in COMBINE_METHODS:
            raise InvalidParameterError(
                f"Unknown `combine` method. Received: combine={short_repr(self.combine)}. "
                f"Use one of {list(COMBINE_METHODS)}."
            )
        if isinstance(self.strategies, str) or len(self.strategies) == 0:
            raise InvalidParameterError(
                "`strategies` must be a non-empty list of member strategies, e.g. "
                f"['none', 'over', 'under']. Received: strategies={short_repr(self.strategies)}."
            )
        return [check_member(s) for s in self.strategies]

    def fit(
        self,
        X: Any,
        y: Any,
        *,
        validation_data: tuple[Any, Any] | None = None,
        **fit_kwargs: Any,
    ) -> StrategyEnsemble:
        """Train one member per strategy.

        Parameters
        ----------
        X : array of shape (n_samples, ...)
            Numeric features (preprocessed as the model expects).
        y : array-like of shape (n_samples,)
            Class labels (any type; encoded in sorted order, see ``classes_``).
        validation_data : (X_val, y_val), optional
            Passed to every member's ``fit``; ``combine="weighted"`` fits its weights on it.
        **fit_kwargs
            Passed to every member's ``model.fit`` (``epochs``, ``batch_size``,
            ``callbacks``, ``verbose``...).
        """
        strategies = self._check_params()
        if (
            not isinstance(self.seed, numbers.Integral)
            or isinstance(self.seed, bool)
            or self.seed < 0
        ):
            raise InvalidParameterError(
                f"`seed` must be a non-negative int. Received: seed={short_repr(self.seed)}."
            )
        for reserved in ("class_weight", "x", "y", "validation_data"):
            if reserved in fit_kwargs:
                raise InvalidParameterError(
                    f"`{reserved}` cannot be passed through fit_kwargs: the ensemble sets it for "
                    "each member. Add 'class_weight' to `strategies` for a weighted member."
                )
        if self.combine == "weighted" and validation_data is None:
            raise InvalidParameterError(
                "combine='weighted' fits the member weights on held-out rows: pass "
                "validation_data=(X_val, y_val). Weights fit on the training rows would favour "
                "the member that overfits most."
            )
        check_consistent_length(X, y)
        codes, classes = encode_labels(y)
        if len(classes) < 2:
            raise DataError(
                f"`y` must contain at least 2 classes. Received: {classes.tolist()}."
            )
        self.classes_ = classes
        self.n_classes_ = len(classes)
        X = np.asarray(X)
        self.input_shape_ = tuple(X.shape[1:])
        val = None
        if validation_data is not None:
            X_val, y_val = validation_data
            val = (np.asarray(X_val), self._encode(y_val, name="validation_data[1]"))
        self.members_ = []
        for i, strategy in enumerate(strategies):
            name = strategy if isinstance(strategy, str) else type(strategy).__name__
            member_seed = derive_seed(self.seed, "member", i, name)
            X_m, y_m, extra = prepare_member(
                strategy,
                X,
                codes,
                sampling_strategy=self.sampling_strategy,
                seed=member_seed,
            )
            # The same initial weights for every member.
            model = call_model_fn(
                self.model_fn, self.input_shape_, self.n_classes_, seed=self.seed
            )
            keras.utils.set_random_seed(member_seed)
            model.fit(X_m, y_m, validation_data=val, **extra, **fit_kwargs)
            self.members_.append(model)
        if self.combine == "weighted":
            self.weights_ = fit_vote_weights(self.member_proba(val[0]), val[1])
        else:
            self.weights_ = np.full(len(self.members_), 1.0 / len(self.members_))
        return self

    def _encode(self, y: Any, *, name: str) -> np.ndarray:
        labels = np.asarray(y)
        lookup = {label: i for i, label in enumerate(self.classes_.tolist())}
        unknown = sorted({v for v in labels.tolist() if v not in lookup}, key=str)
        if unknown:
            raise DataError(
                f"`{name}` holds labels {unknown[:5]} that the training labels do not have "
                f"({self.classes_.tolist()})."
            )
        return np.array([lookup[v] for v in labels.tolist()], dtype=np.int64)

    def _check_fitted(self) -> None:
        if not hasattr(self, "members_"):
            raise NotFittedError(
                "This StrategyEnsemble is not fitted yet. Call fit(X, y) first."
            )

    def member_proba(self, X: Any) -> np.ndarray:
        """Class probabilities of every member: shape (n_members, n_samples, n_classes)."""
        self._check_fitted()
        X = np.asarray(X)
        return np.stack([predict_proba(m, X, self.n_classes_) for m in self.members_])

    def predict_proba(self, X: Any) -> np.ndarray:
        """Combined class probabilities, shape (n_samples, n_classes)."""
        return combine_proba(self.member_proba(X), self.combine, self.weights_)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels (from ``classes_``): the class of highest combined probability."""
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]

    def to_keras(self) -> keras.Model:
        """One Keras model: the members side by side, joined by an ``EnsembleCombiner``.

        It outputs the combined (n, n_classes) probabilities, equal to ``predict_proba``.
        """
        self._check_fitted()
        return combine_models(
            self.members_,
            self.input_shape_,
            self.combine,
            self.weights_,
            self.n_classes_,
        )

    def save(self, path: str) -> None:
        """Save the ensemble as ONE ``.keras`` file.

        ``keras.models.load_model(path, safe_mode=True)`` restores it once balanceflow is
        imported; the loaded model's ``predict`` returns the combined probabilities (columns
        in the order of ``classes_``).
        """
        if not str(path).endswith(".keras"):
            raise InvalidParameterError(
                f"`path` must end with '.keras' (Keras' safe format). Received: path={path!r}."
            )
        self.to_keras().save(path)
