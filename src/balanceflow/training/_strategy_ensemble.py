"""Ensembles of Keras models, one per imbalance strategy, trained by the trial runner."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from balanceflow._validation import (
    check_consistent_length,
    check_int,
    derive_seed,
    encode_labels,
    short_repr,
)
from balanceflow.ensemble import COMBINE_METHODS, combine_proba, fit_vote_weights
from balanceflow.exceptions import DataError, InvalidParameterError, NotFittedError
from balanceflow.strategies import Ensemble, EpochwiseBalance, Resample, Strategy, get
from balanceflow.training._recipe import Recipe
from balanceflow.training._runners import get_runner
from balanceflow.training._trial import Trial, TrialData, rebuild_model

__all__ = ["StrategyEnsemble"]

# Keyword arguments of the former ``fit(**fit_kwargs)`` that are still accepted.
_FIT_OPTIONS = ("epochs", "batch_size", "verbose")


def _retarget(part: Any, sampling_strategy: Any) -> Any:
    """A resampling part with another ``sampling_strategy`` (other parts as they are)."""
    if isinstance(part, EpochwiseBalance) or (
        isinstance(part, Resample) and isinstance(part.sampler, str)
    ):
        return replace(part, sampling_strategy=sampling_strategy)
    return part


class StrategyEnsemble:
    """One Keras model per imbalance strategy, combined by vote or weighted average.

    Each member is built by ``model_fn`` with the same initial weights and trained with its
    own strategy, through the same trial runner as :func:`balanceflow.compare`: any preset
    (``"none"``, ``"class_weight"``, ``"over"``, ``"under"``, ``"focal"``,
    ``"under_epochwise"``, ``"ldam_drw"``, ...), a :class:`~balanceflow.strategies.Strategy`,
    or a sampler object with ``fit_resample`` (imbalanced-learn's included). Over-sampling
    keeps every majority row but repeats minority rows; under-sampling sees fresh minority
    proportions but drops majority rows; together they err differently, and their vote is
    steadier than either.

    Parameters
    ----------
    model_fn : callable
        ``model_fn(input_shape, n_classes) -> keras.Model`` (or a function with no
        arguments). A model returned uncompiled is compiled with Adam(1e-3) and
        cross-entropy. Binary models have one sigmoid unit (or two softmax units);
        multi-class models one softmax unit per class.
    strategies : sequence of str, Strategy or samplers, default=("none", "over", "under")
        One member per entry: a single-model strategy, or a soft vote of them such as
        ``"balanced_bagging"`` (five models, each on its own random under-sample) or
        ``"seed_ensemble"``, whose models all train and count together as one member.
    combine : {"soft", "hard", "weighted"}, default="soft"
        ``"soft"``: mean probability. ``"hard"``: majority vote of the members' labels (the
        probability is the share of votes; ties go to the larger mean probability).
        ``"weighted"``: a weighted mean whose non-negative weights, summing to 1, minimise the
        log loss on ``validation_data`` (required).
    sampling_strategy : float, str, dict or callable, default="auto"
        The resampling target of every member that resamples (``"over"``, ``"under"``,
        the epoch-wise pipelines); a sampler object keeps its own.
    seed : int, default=0
        Seeds the initial weights (shared by all members), each sampler and each training run.

    Attributes
    ----------
    members_ : list of keras.Model
        One model per single-model strategy (a soft-vote member gives several).
    strategies_ : list of Strategy
        The strategy of each model of ``members_``.
    combine_ : str
        How the models combine: ``combine``, or ``"weighted"`` when a soft vote has a
        soft-vote member (each member then counts once in the mean).
    classes_ : ndarray
        The labels, in class-index order.
    weights_ : ndarray of shape (n_models,)
        The combination weights (uniform unless ``combine="weighted"`` or a member is a
        soft vote: ``["over", "balanced_bagging"]`` gives 1/2 to over and 1/10 to each
        of the five bagged models; with ``"weighted"``, each member's fitted weight is
        shared equally by its models).

    Examples
    --------
    >>> import numpy as np, keras
    >>> import balanceflow as bf
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 4)).astype("float32")
    >>> y = (X[:, 0] > 1.3).astype(int)                    # about 10% positives
    >>> def model_fn(input_shape, n_classes):
    ...     return keras.Sequential([keras.Input(input_shape), keras.layers.Dense(1, "sigmoid")])
    >>> ens = bf.ensemble.StrategyEnsemble(model_fn, ["none", "focal"], seed=0)
    >>> ens = ens.fit(X, y, epochs=2)
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

    def _members(self) -> list[Strategy]:
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
        members = []
        for item in self.strategies:
            if hasattr(item, "fit_resample"):
                item = Strategy(
                    type(item).__name__, [Resample(item, self.sampling_strategy)]
                )
            strategy = get(item)
            if isinstance(strategy, Strategy):
                strategy = self._retargeted(strategy)
            if isinstance(strategy, Ensemble) and strategy.combine_method == "soft":
                if self.combine == "hard":
                    raise InvalidParameterError(
                        f"{strategy.name!r} is a soft vote of {len(strategy.leaves())} "
                        "models: it can be a member of a 'soft' or 'weighted' "
                        "StrategyEnsemble, not of a hard vote. Received: "
                        f"strategies={short_repr(self.strategies)}, combine='hard'."
                    )
                members.append([self._retargeted(leaf) for leaf in strategy.leaves()])
                continue
            if not isinstance(strategy, Strategy):
                raise InvalidParameterError(
                    f"Ensemble members are single-model strategies or soft votes of "
                    f"them (balanced_bagging, seed_ensemble); {strategy.name!r} is a "
                    f"{type(strategy).__name__}. Received: strategies="
                    f"{short_repr(self.strategies)}."
                )
            members.append(strategy)
        return members

    def _retargeted(self, strategy: Strategy) -> Strategy:
        """``strategy`` with the ensemble's ``sampling_strategy`` on its resampling."""
        if isinstance(self.sampling_strategy, str) and self.sampling_strategy == "auto":
            return strategy
        return Strategy(
            strategy.name,
            [_retarget(p, self.sampling_strategy) for p in strategy.parts],
            description=strategy.description,
        )

    def _leaves(self) -> tuple[list[Strategy], list[list[int]]]:
        """The models to train, and the positions of each member's models among them
        (one position for a single-model member, several for a soft vote)."""
        leaves: list[Strategy] = []
        groups: list[list[int]] = []
        for member in self._members():
            group = member if isinstance(member, list) else [member]
            groups.append(list(range(len(leaves), len(leaves) + len(group))))
            leaves += group
        return leaves, groups

    def fit(
        self,
        X: Any,
        y: Any,
        *,
        validation_data: tuple[Any, Any] | None = None,
        n_jobs: int = 1,
        scheduler: str | None = None,
        engine: str = "auto",
        **fit_options: Any,
    ) -> StrategyEnsemble:
        """Train one member per strategy.

        Parameters
        ----------
        X : array of shape (n_samples, ...)
            Numeric features (preprocessed as the model expects).
        y : array-like of shape (n_samples,)
            Class labels (any type; encoded in sorted order, see ``classes_``).
        validation_data : (X_val, y_val), optional
            ``combine="weighted"`` fits its weights on these rows (members never train on
            them).
        n_jobs, scheduler
            Train the members in worker processes or on a Dask cluster (see
            :func:`balanceflow.training.get_runner`); ``model_fn`` must then be a
            module-level function.
        engine : {"auto", "fused", "loop"}, default="auto"
            Train the members stacked into one computation where the model allows (see
            :class:`balanceflow.training.Runner`), or one at a time; the same batches
            either way.
        epochs : int, default=30
        batch_size : int, default=64
        verbose : int, optional
            Accepted for compatibility; members train silently.
        """
        members, groups = self._leaves()
        unknown = sorted(set(fit_options) - set(_FIT_OPTIONS))
        if unknown:
            raise InvalidParameterError(
                f"StrategyEnsemble.fit() does not take {unknown}: members train through "
                f"balanceflow's trial runner, which takes {list(_FIT_OPTIONS)}."
            )
        check_int(self.seed, "seed", minimum=0)
        recipe = Recipe(
            model_fn=self.model_fn,
            epochs=fit_options.get("epochs", 30),
            batch_size=fit_options.get("batch_size", 64),
            seed=self.seed,
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
        X = np.asarray(X, dtype=np.float32)
        self.input_shape_ = tuple(X.shape[1:])
        val = None
        if validation_data is not None:
            X_val, y_val = validation_data
            val = (np.asarray(X_val), self._encode(y_val, name="validation_data[1]"))
        data = TrialData(features=X, codes=codes, n_classes=self.n_classes_)
        trials = [
            Trial(
                strategy,
                train_rows=None,
                score_rows=None,
                seed=derive_seed(self.seed, "member", i, strategy.name),
                init_seed=self.seed,  # the same initial weights for every member
                keep_model=True,
                tag=i,
            )
            for i, strategy in enumerate(members)
        ]
        models: dict[int, Any] = {}
        for result in get_runner(n_jobs, scheduler, engine).run(data, recipe, trials):
            models[result.tag] = rebuild_model(
                recipe,
                self.input_shape_,
                self.n_classes_,
                trials[result.tag],
                result.weights,
            )
        self.members_ = [models[i] for i in range(len(trials))]
        self.strategies_ = members
        # How the models' probabilities combine. A soft-vote member (balanced_bagging)
        # counts once, its models equally: the mean is then a weighted one.
        self.combine_ = self.combine
        nested = len(groups) < len(self.members_)
        if self.combine == "weighted" or nested:
            if self.combine == "weighted":  # one weight per member, fit on val
                proba = self.member_proba(val[0])
                means = np.stack([proba[g].mean(axis=0) for g in groups])
                per_member = fit_vote_weights(means, val[1])
            else:
                per_member = np.full(len(groups), 1.0 / len(groups))
            self.weights_ = np.zeros(len(self.members_))
            for group, weight in zip(groups, per_member):
                self.weights_[group] = weight / len(group)
            self.combine_ = "weighted"
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
        """Class probabilities of every model: shape (n_models, n_samples, n_classes)
        (a soft-vote member gives one row per model)."""
        from balanceflow._models import predict_proba

        self._check_fitted()
        X = np.asarray(X)
        return np.stack([predict_proba(m, X, self.n_classes_) for m in self.members_])

    def predict_proba(self, X: Any) -> np.ndarray:
        """Combined class probabilities, shape (n_samples, n_classes)."""
        return combine_proba(self.member_proba(X), self.combine_, self.weights_)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels (from ``classes_``): the class of highest combined probability."""
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]

    def to_keras(self) -> Any:
        """One Keras model: the members side by side, joined by an ``EnsembleCombiner``.

        It outputs the combined (n, n_classes) probabilities, equal to ``predict_proba``.
        """
        from balanceflow.ensemble import combine_models

        self._check_fitted()
        return combine_models(
            self.members_,
            self.input_shape_,
            self.combine_,
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
