"""The parts a strategy is made of: each one changes one thing about how a model trains.

A part is a small frozen object with one method, ``apply(setup) -> setup``: it receives
the :class:`TrainingSetup` of a trial (the training rows, the class weights, the loss, the
callbacks, how rows are fed) and returns it with its one change. A strategy applies its
parts in order, so a preset is nothing but a list of parts; the trial runner
(:mod:`balanceflow.training`) never asks which parts a strategy has.

>>> from balanceflow.strategies import Strategy, Resample, ClassWeights
>>> Strategy("over_weighted", parts=[Resample("over"), ClassWeights("balanced")])
Strategy('over_weighted', parts=(Resample('over'), ClassWeights('balanced')))
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields, replace
from typing import Any, ClassVar

import numpy as np

from balanceflow._validation import derive_seed, did_you_mean, short_repr
from balanceflow.exceptions import InvalidParameterError
from balanceflow.sampling import SAMPLERS, get_sampler
from balanceflow.weights import CLASS_WEIGHT_METHODS, class_weight

__all__ = [
    "PARTS",
    "PRIOR_STATUSES",
    "ClassWeights",
    "CountsLoss",
    "DeferredReweighting",
    "EpochwiseBalance",
    "Part",
    "PriorState",
    "Resample",
    "TrainingSetup",
    "part_from_config",
]

#: The losses of :func:`balanceflow.losses.get` (its registry imports Keras; this list
#: does not, and a test checks that they agree).
LOSS_NAMES = (
    "focal",
    "class_balanced",
    "logit_adjusted",
    "balanced_softmax",
    "ldam",
    "weighted_binary_crossentropy",
)

#: The epoch-wise balanced pipelines of :func:`balanceflow.data.balanced_dataset`.
PIPELINES = ("under", "over", "interpolate")


@dataclass(frozen=True)
class TrainingSetup:
    """How one trial trains: what the parts of its strategy change, step by step.

    Attributes
    ----------
    X, y
        The training rows (``y`` holds class indices).
    n_classes, epochs, batch_size : int
    seed : int
        The trial's seed (samplers derive theirs from it).
    class_weight : dict, optional
        Passed to ``model.fit``.
    loss : keras.losses.Loss, optional
        Compiled into the model instead of its own loss.
    callbacks : tuple
        Passed to ``model.fit``.
    pipeline : dict, optional
        Keyword arguments of :func:`balanceflow.data.balanced_dataset`: the rows are fed as a
        fresh balanced draw every epoch instead of every row once per epoch.
    source_rows : ndarray of int, optional
        Where each row of ``X`` comes from among the trial's original training rows, when
        a part resampled them by index (a sampler with ``sample_indices_``); None when
        ``X`` is still the original rows or a part made rows of its own. The fused trainer
        gathers these rows from one shared copy instead of a resampled copy per model.
    """

    X: Any = field(repr=False)
    y: np.ndarray = field(repr=False)
    n_classes: int
    epochs: int
    batch_size: int
    seed: int
    class_weight: dict[int, float] | None = None
    loss: Any = None
    callbacks: tuple[Any, ...] = ()
    pipeline: dict[str, Any] | None = None
    source_rows: np.ndarray | None = field(default=None, repr=False)
    # False once a part made rows that are not copies of the original ones.
    rows_are_copies: bool = True

    @property
    def class_counts(self) -> np.ndarray:
        return np.bincount(self.y, minlength=self.n_classes)


#: How well a :class:`PriorState` describes a model, from best to worst.
PRIOR_STATUSES = ("unchanged", "exact", "approximate", "unknown")


@dataclass(frozen=True)
class PriorState:
    """The class prior a model's probabilities answer to, as a strategy's parts leave it.

    A weighted log-loss with weight ``w_k`` on class ``k`` has the minimiser of the plain
    loss on data where class ``k`` has ``w_k`` times its rows, so a model trained on
    ``counts`` rows per class with class weights ``weights`` estimates ``p(y | x)`` under
    the prior ``counts * weights`` (normalised). Bayes' rule then brings its probabilities
    back to the data's own prior (:func:`balanceflow.thresholds.correct_prior`).

    ``status`` says how far to trust that: ``"unchanged"`` (the data's own prior),
    ``"exact"`` (resampling, class weights, epoch-wise balancing, pos_weight and the
    prior-offset losses: the correction is Bayes' rule for a model that fits its training
    distribution), ``"approximate"`` (a weighted loss whose shape also changes the
    probabilities, e.g. focal's gamma, or weights switched on late), ``"unknown"`` (no
    prior describes the change, e.g. LDAM's margins or a sampler of your own: the
    probabilities are left as trained).
    """

    counts: np.ndarray
    weights: np.ndarray
    status: str = "unchanged"

    @classmethod
    def of(cls, counts: np.ndarray) -> PriorState:
        counts = np.asarray(counts, dtype=np.float64)
        return cls(counts, np.ones_like(counts))

    @property
    def prior(self) -> np.ndarray:
        mass = self.counts * self.weights
        return mass / mass.sum()

    def changed(
        self,
        *,
        counts: np.ndarray | None = None,
        weights: np.ndarray | None = None,
        status: str = "exact",
    ) -> PriorState:
        """This state with new counts and/or extra weights; its status the worse of the two."""
        worst = max(PRIOR_STATUSES.index(self.status), PRIOR_STATUSES.index(status))
        return PriorState(
            self.counts if counts is None else np.asarray(counts, dtype=np.float64),
            self.weights
            if weights is None
            else self.weights * np.asarray(weights, dtype=np.float64),
            PRIOR_STATUSES[worst],
        )


def _labels_of(counts: np.ndarray) -> np.ndarray:
    """Labels 0..K-1 repeated per (rounded) class count: what a sampler or a class-weight
    method sees."""
    return np.repeat(np.arange(len(counts)), np.round(counts).astype(np.int64))


def _resampled(counts: np.ndarray, sampling_strategy: Any, kind: str) -> np.ndarray:
    from balanceflow.sampling import resolve_sampling_strategy

    out = np.array(counts, dtype=np.float64)
    targets = resolve_sampling_strategy(
        sampling_strategy, _labels_of(counts), kind=kind
    )
    for label, count in targets.items():
        out[int(label)] = count
    return out


class Part:
    """Base of the strategy parts: a config round trip and one ``apply`` step."""

    #: The name of the part in a config (``{"part": KIND, ...}``).
    kind: ClassVar[str] = ""

    def apply(self, setup: TrainingSetup) -> TrainingSetup:  # pragma: no cover
        raise NotImplementedError

    def shift_prior(self, state: PriorState) -> PriorState:
        """How this part changes the prior the model trains under (see
        :class:`PriorState`); a part that does not say is ``"unknown"``."""
        return state.changed(status="unknown")

    def with_class_indices(self, classes: Sequence[Any]) -> Part:
        """This part with class labels in its settings (a ``{label: count}``
        ``sampling_strategy``) replaced by class indices, the way trials see the target
        (``classes`` in class-index order). Parts without such settings return
        themselves."""
        return self

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments: ``type(part).from_config(part.get_config())``
        rebuilds an equal part."""
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Part:
        return cls(**config)

    def __repr__(self) -> str:
        shown = [
            repr(getattr(self, f.name))
            for i, f in enumerate(fields(self))  # type: ignore[arg-type]
            if i == 0 or getattr(self, f.name) != _default(f)
        ]
        return f"{type(self).__name__}({', '.join(shown)})"


def class_index_keys(mapping: Any, classes: Sequence[Any], where: str) -> Any:
    """A ``{label: value}`` mapping keyed by class index instead (a label matches its
    class itself, or by its text, as a TOML config writes numbers); other values as they
    are. A key that names no class is an error that lists the classes."""
    if not isinstance(mapping, Mapping):
        return mapping
    plain = [c.item() if isinstance(c, np.generic) else c for c in classes]
    by_text = {str(c): i for i, c in enumerate(plain)}
    out: dict[int, Any] = {}
    for key, value in mapping.items():
        index = next(
            (i for i, c in enumerate(plain) if type(c) is type(key) and c == key),
            by_text.get(str(key)),
        )
        if index is None:
            raise InvalidParameterError(
                f"{where}: `sampling_strategy` names the class {key!r}, which is not a "
                f"class of the target. Use the target's labels as keys: {plain}."
            )
        if index in out:
            raise InvalidParameterError(
                f"{where}: `sampling_strategy` names the class {plain[index]!r} twice "
                f"(keys {short_repr(list(mapping))})."
            )
        out[index] = value
    return out


def _default(f: Any) -> Any:
    return f.default_factory() if f.default_factory is not MISSING else f.default


def _sampler_name(sampler: Any) -> str:
    return sampler if isinstance(sampler, str) else type(sampler).__name__


@dataclass(frozen=True, repr=False)
class Resample(Part):
    """Resample the training rows once, before training (never validation or test rows).

    Parameters
    ----------
    sampler : {"over", "under"} or a sampler object
        A balanceflow sampler name, or any object with ``fit_resample`` (imbalanced-learn's
        included). Its seed is derived from the trial's seed and the sampler's name.
    sampling_strategy : float, str, dict or callable, default="auto"
        Passed to the sampler (ignored by a sampler object, which has its own).
    """

    sampler: Any
    sampling_strategy: Any = "auto"
    kind: ClassVar[str] = "resample"

    def __post_init__(self) -> None:
        if not hasattr(self.sampler, "fit_resample") and self.sampler not in SAMPLERS:
            raise InvalidParameterError(
                f"Unknown `sampler`. Received: sampler={short_repr(self.sampler)}. Use one of "
                f"{list(SAMPLERS)} or an object with fit_resample(X, y)."
                f"{did_you_mean(self.sampler, SAMPLERS)}"
            )

    def with_class_indices(self, classes: Sequence[Any]) -> Resample:
        where = f"Resample({_sampler_name(self.sampler)!r})"
        if isinstance(self.sampler, str):
            keyed = class_index_keys(self.sampling_strategy, classes, where)
            return (
                self
                if keyed is self.sampling_strategy
                else replace(self, sampling_strategy=keyed)
            )
        own = getattr(self.sampler, "sampling_strategy", None)
        if isinstance(own, Mapping) and hasattr(self.sampler, "set_params"):
            from sklearn.base import clone

            sampler = clone(self.sampler)
            sampler.set_params(sampling_strategy=class_index_keys(own, classes, where))
            return replace(self, sampler=sampler)
        return self

    def apply(self, setup: TrainingSetup) -> TrainingSetup:
        name = _sampler_name(self.sampler)
        sampler = get_sampler(
            self.sampler,
            sampling_strategy=self.sampling_strategy,
            seed=derive_seed(setup.seed, "sampler", name),
        )
        X, y = sampler.fit_resample(setup.X, setup.y)
        indices = getattr(sampler, "sample_indices_", None)
        if indices is None or not setup.rows_are_copies:
            return replace(
                setup, X=X, y=np.asarray(y), source_rows=None, rows_are_copies=False
            )
        indices = np.asarray(indices, dtype=np.int64)
        if setup.source_rows is not None:
            indices = setup.source_rows[indices]
        return replace(setup, X=X, y=np.asarray(y), source_rows=indices)

    def shift_prior(self, state: PriorState) -> PriorState:
        if isinstance(self.sampler, str):
            kind, strategy, status = self.sampler, self.sampling_strategy, "exact"
        else:
            kind, strategy, status = _sampler_counts_rule(self.sampler)
            if kind is None:
                return state.changed(status="unknown")
        return state.changed(
            counts=_resampled(state.counts, strategy, kind), status=status
        )


#: imbalanced-learn samplers that end with exactly the counts their sampling_strategy
#: asks for (the others only approximately, e.g. ADASYN, or not at all: the cleaning
#: and combined samplers, which remove rows after resampling).
_EXACT_COUNT_SAMPLERS = frozenset(
    {
        "RandomOverSampler",
        "SMOTE",
        "SMOTEN",
        "SMOTENC",
        "BorderlineSMOTE",
        "SVMSMOTE",
        "KMeansSMOTE",
        "RandomUnderSampler",
        "NearMiss",
        "ClusterCentroids",
    }
)


def _sampler_counts_rule(sampler: Any) -> tuple[str | None, Any, str]:
    """(which way a sampler object moves counts, its sampling_strategy, how exactly), or
    ``(None, None, "unknown")`` when no count rule describes it."""
    from balanceflow.sampling import BaseSampler

    strategy = getattr(sampler, "sampling_strategy", None)
    if strategy is None or (callable(strategy) and not isinstance(strategy, dict)):
        return None, None, "unknown"
    if isinstance(sampler, BaseSampler):  # balanceflow's own: exact counts
        return sampler._kind, strategy, "exact"
    if type(sampler).__module__.startswith("imblearn.combine"):
        return None, None, "unknown"
    kind = {"over-sampling": "over", "under-sampling": "under"}.get(
        getattr(sampler, "_sampling_type", None)
    )
    if kind is None:
        return None, None, "unknown"
    exact = type(sampler).__name__ in _EXACT_COUNT_SAMPLERS
    return kind, strategy, "exact" if exact else "approximate"


@dataclass(frozen=True, repr=False)
class ClassWeights(Part):
    """Class weights from the training rows' counts (:func:`balanceflow.class_weight`),
    passed to ``model.fit``."""

    method: str = "balanced"
    kind: ClassVar[str] = "class_weights"

    def __post_init__(self) -> None:
        if self.method not in CLASS_WEIGHT_METHODS:
            raise InvalidParameterError(
                "Unknown `class_weight` method. Received: "
                f"class_weight={short_repr(self.method)}. Use one of "
                f"{list(CLASS_WEIGHT_METHODS)}.{did_you_mean(self.method, CLASS_WEIGHT_METHODS)}"
            )

    def apply(self, setup: TrainingSetup) -> TrainingSetup:
        return replace(setup, class_weight=class_weight(setup.y, method=self.method))

    def shift_prior(self, state: PriorState) -> PriorState:
        weights = class_weight(_labels_of(state.counts), method=self.method)
        return state.changed(weights=[weights[k] for k in range(len(state.counts))])


@dataclass(frozen=True, repr=False)
class CountsLoss(Part):
    """Compile the model with a :func:`balanceflow.losses.get` loss, built afresh from the
    training rows: a loss that takes ``class_counts`` or ``class_priors`` gets them from the
    rows, and a binary ``pos_weight`` is negatives / positives (unless ``options`` fix
    them).

    Parameters
    ----------
    name : str
        A loss name such as ``"focal"``, ``"ldam"`` or ``"logit_adjusted"``.
    options : dict, optional
        Further constructor arguments (e.g. ``{"gamma": 2.0}``).
    """

    name: str
    options: dict[str, Any] = field(default_factory=dict)
    kind: ClassVar[str] = "loss"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidParameterError(
                "`loss` must be a loss name such as 'focal'. Received: "
                f"loss={short_repr(self.name)}."
            )
        # Checked here, when a strategy or a config is made, not at the first trial:
        # the registry itself imports Keras (a test keeps the two lists equal).
        if _loss_key(self.name) not in {_loss_key(n) for n in LOSS_NAMES}:
            raise InvalidParameterError(
                f"Unknown `loss`. Received: loss={short_repr(self.name)}. Use one of "
                f"{list(LOSS_NAMES)}.{did_you_mean(self.name, LOSS_NAMES)}"
            )
        if not isinstance(self.options, dict):
            raise InvalidParameterError(
                "`loss_options` must be a dict of the loss's constructor arguments. "
                f"Received: loss_options={short_repr(self.options)}."
            )

    def build(self, counts: np.ndarray) -> Any:
        """The loss for training rows with these class counts."""
        from balanceflow.losses import get, loss_class

        options = dict(self.options)
        parameters = inspect.signature(loss_class(self.name).__init__).parameters
        if "class_counts" in parameters:
            options.setdefault("class_counts", counts.tolist())
        if "class_priors" in parameters:
            options.setdefault("class_priors", (counts / counts.sum()).tolist())
        if "pos_weight" in parameters and len(counts) == 2:
            # A weighted binary loss: positives weigh negatives / positives.
            options.setdefault("pos_weight", float(counts[0] / max(counts[1], 1)))
        return get(self.name, **options)

    def apply(self, setup: TrainingSetup) -> TrainingSetup:
        return replace(setup, loss=self.build(setup.class_counts))

    def shift_prior(self, state: PriorState) -> PriorState:
        counts = state.counts
        name = _loss_key(self.name)
        if name in ("logitadjusted", "balancedsoftmax"):
            # Trained on logits + tau * log(prior): the model's own probabilities are
            # p(k | x) / prior_k^tau, i.e. under the prior mass_k / prior_k^tau.
            tau = (
                float(self.options.get("tau", 1.0)) if name == "logitadjusted" else 1.0
            )
            given = self.options.get("class_priors", self.options.get("class_counts"))
            prior = np.asarray(counts if given is None else given, dtype=np.float64)
            return state.changed(weights=(prior / prior.sum()) ** (-tau))
        if name == "classbalanced":
            weights = class_weight(
                _labels_of(counts),
                method="effective_number",
                beta=float(self.options.get("beta", 0.999)),
            )
            # The base loss is cross-entropy unless options say focal (its gamma
            # changes the probabilities beyond the prior).
            exact = self.options.get("base", "ce") == "ce"
            return state.changed(
                weights=[weights[k] for k in range(len(counts))],
                status="exact" if exact else "approximate",
            )
        if name == "weightedbinarycrossentropy" and len(counts) == 2:
            # A weighted log-loss: positives weigh pos_weight (negatives / positives
            # unless given), as in build().
            pos_weight = float(
                self.options.get("pos_weight", counts[0] / max(counts[1], 1))
            )
            return state.changed(weights=[1.0, pos_weight])
        if name == "focal":
            alpha = self.options.get("alpha")
            if alpha == "balanced":
                weights = class_weight(_labels_of(counts), method="balanced")
                return state.changed(
                    weights=[weights[k] for k in range(len(counts))],
                    status="approximate",
                )
            return state.changed(status="approximate" if alpha is None else "unknown")
        return state.changed(status="unknown")


def _loss_key(name: str) -> str:
    """A loss name as the registry matches it: 'LogitAdjustedLoss', 'logit-adjusted' and
    'logit_adjusted' are one loss (no Keras import here)."""
    key = str(name).strip().lower().replace("-", "").replace("_", "")
    return key[:-4] if key.endswith("loss") and key != "loss" else key


@dataclass(frozen=True, repr=False)
class DeferredReweighting(Part):
    """Switch on class-balanced weights after ``start`` of the epochs
    (:class:`balanceflow.callbacks.DeferredReweighting`; Cao et al.'s DRW uses 0.8)."""

    start: float = 0.8
    kind: ClassVar[str] = "deferred_reweighting"

    def __post_init__(self) -> None:
        if (
            isinstance(self.start, bool)
            or not isinstance(self.start, (int, float))
            or not 0.0 <= self.start < 1
        ):
            raise InvalidParameterError(
                "`deferred_reweighting` is the share of epochs before re-weighting, in "
                f"[0, 1). Received: deferred_reweighting={short_repr(self.start)}."
            )

    def apply(self, setup: TrainingSetup) -> TrainingSetup:
        from balanceflow.callbacks import DeferredReweighting as Callback

        callback = Callback(setup.class_counts, round(self.start * setup.epochs))
        return replace(setup, callbacks=(*setup.callbacks, callback))

    def shift_prior(self, state: PriorState) -> PriorState:
        # Class-balanced weights for the last epochs only: at best approximately a prior.
        from balanceflow.weights import class_weight as weights_of

        weights = weights_of(_labels_of(state.counts), method="effective_number")
        return state.changed(
            weights=[weights[k] for k in range(len(state.counts))], status="approximate"
        )


@dataclass(frozen=True, repr=False)
class EpochwiseBalance(Part):
    """Feed a fresh balanced draw every epoch (:func:`balanceflow.data.balanced_dataset`,
    no copy of the data) instead of every row once per epoch.

    Parameters
    ----------
    method : {"under", "over", "interpolate"}
    sampling_strategy : float, str, dict or callable, default="auto"
    options : dict, optional
        Further arguments of ``balanced_dataset`` (e.g. ``{"draws_per_epoch": 4}``).
    """

    method: str
    sampling_strategy: Any = "auto"
    options: dict[str, Any] = field(default_factory=dict)
    kind: ClassVar[str] = "epochwise"

    def __post_init__(self) -> None:
        if self.method not in PIPELINES:
            raise InvalidParameterError(
                f"Unknown `pipeline`. Received: pipeline={short_repr(self.method)}. Use one "
                f"of {list(PIPELINES)}.{did_you_mean(self.method, PIPELINES)}"
            )

    def with_class_indices(self, classes: Sequence[Any]) -> EpochwiseBalance:
        where = f"EpochwiseBalance({self.method!r})"
        keyed = class_index_keys(self.sampling_strategy, classes, where)
        if keyed is self.sampling_strategy:
            return self
        return replace(self, sampling_strategy=keyed)

    def apply(self, setup: TrainingSetup) -> TrainingSetup:
        pipeline = {
            "method": self.method,
            "sampling_strategy": self.sampling_strategy,
            **self.options,
        }
        return replace(setup, pipeline=pipeline)

    def shift_prior(self, state: PriorState) -> PriorState:
        kind = "under" if self.method == "under" else "over"
        return state.changed(
            counts=_resampled(state.counts, self.sampling_strategy, kind)
        )


#: Every part, by its config name.
PARTS: dict[str, type[Part]] = {
    cls.kind: cls
    for cls in (
        Resample,
        ClassWeights,
        CountsLoss,
        DeferredReweighting,
        EpochwiseBalance,
    )
}


def part_config(part: Part) -> dict[str, Any]:
    """``{"part": KIND, **arguments}``: a part as plain data."""
    return {"part": part.kind, **part.get_config()}


def part_from_config(config: dict[str, Any]) -> Part:
    """The part that :func:`part_config` described."""
    options = dict(config)
    kind = options.pop("part", None)
    if kind not in PARTS:
        raise InvalidParameterError(
            f"Unknown strategy part. Received: part={short_repr(kind)}. Use one of "
            f"{list(PARTS)}.{did_you_mean(kind, PARTS)}"
        )
    return PARTS[kind].from_config(options)
