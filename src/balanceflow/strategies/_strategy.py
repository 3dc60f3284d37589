"""A strategy is plain data: a sampler, a class weighting, or an ensemble of strategies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from balanceflow._validation import did_you_mean, short_repr
from balanceflow.ensemble import COMBINE_METHODS, prepare_member
from balanceflow.exceptions import InvalidParameterError
from balanceflow.weights import CLASS_WEIGHT_METHODS, class_weight

__all__ = [
    "DEFAULT",
    "PIPELINES",
    "PRESETS",
    "TUNED_SUFFIX",
    "Strategy",
    "get",
    "resolve_strategies",
]


@dataclass(frozen=True)
class Strategy:
    """One way of training on imbalanced data, made of simple parts.

    Parameters
    ----------
    name : str
        The name shown in leaderboards.
    sampler : str or sampler object, optional
        ``"over"``, ``"under"`` or an object with ``fit_resample`` applied to the training
        rows (never to validation or test rows).
    sampling_strategy : float, str, dict or callable, default="auto"
        Passed to the sampler.
    class_weight : str, optional
        A :func:`balanceflow.class_weight` method whose weights go to ``model.fit``.
    members : tuple of str, optional
        Names of the strategies whose models form an ensemble; their probabilities are
        combined by ``combine``.
    loss : str, optional
        A :func:`balanceflow.losses.get` name; the model is compiled with it. Losses that
        need ``class_counts`` or ``class_priors`` get them from the training rows.
    loss_options : dict, optional
        Further constructor arguments of the loss (e.g. ``{"gamma": 2.0}``).
    deferred_reweighting : float, optional
        Switch on class-balanced weights (:class:`balanceflow.callbacks.DeferredReweighting`)
        after this share of the epochs (Cao et al.'s DRW uses 0.8).
    pipeline : {"under", "over", "interpolate"}, optional
        Train on :func:`balanceflow.data.balanced_dataset`, a fresh balanced draw every
        epoch, instead of the rows as given.
    pipeline_options : dict, optional
        Further arguments of ``balanced_dataset`` (e.g. ``{"draws_per_epoch": 4}``).
    tune_threshold : str, optional
        Binary targets: tune the decision threshold for this objective (a
        :class:`balanceflow.thresholds.TunedThreshold` objective) on an inner stratified
        split of the training rows; the model trains on the rest.
    members : tuple of str, optional
        Names of the strategies whose models form an ensemble; their probabilities are
        combined by ``combine``.
    combine : {"soft", "hard", "weighted"}, default="soft"
    description : str
        One line for people.
    """

    name: str
    sampler: Any = None
    sampling_strategy: Any = "auto"
    class_weight: str | None = None
    loss: str | None = None
    loss_options: dict[str, Any] = field(default_factory=dict)
    deferred_reweighting: float | None = None
    pipeline: str | None = None
    pipeline_options: dict[str, Any] = field(default_factory=dict)
    tune_threshold: str | None = None
    members: tuple[str, ...] = ()
    combine: str = "soft"
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if (
            self.class_weight is not None
            and self.class_weight not in CLASS_WEIGHT_METHODS
        ):
            raise InvalidParameterError(
                f"Strategy {self.name!r}: unknown `class_weight` method. Received: "
                f"class_weight={short_repr(self.class_weight)}. Use one of "
                f"{list(CLASS_WEIGHT_METHODS)}."
            )
        if self.combine not in COMBINE_METHODS:
            raise InvalidParameterError(
                f"Strategy {self.name!r}: unknown `combine` method. Received: "
                f"combine={short_repr(self.combine)}. Use one of {list(COMBINE_METHODS)}."
            )
        trained_parts = (self.sampler, self.class_weight, self.loss, self.pipeline)
        if self.members and any(part is not None for part in trained_parts):
            raise InvalidParameterError(
                f"Strategy {self.name!r} is an ensemble (members={list(self.members)}); set "
                "samplers, weights, losses and pipelines on its members, not on the ensemble."
            )
        if self.pipeline is not None and self.pipeline not in PIPELINES:
            raise InvalidParameterError(
                f"Strategy {self.name!r}: unknown `pipeline`. Received: "
                f"pipeline={short_repr(self.pipeline)}. Use one of {list(PIPELINES)}."
            )
        if self.pipeline is not None and self.sampler is not None:
            raise InvalidParameterError(
                f"Strategy {self.name!r} sets both a sampler and a pipeline; the pipeline "
                "already balances every epoch. Keep one."
            )
        if (
            self.deferred_reweighting is not None
            and not 0.0 <= self.deferred_reweighting < 1
        ):
            raise InvalidParameterError(
                f"Strategy {self.name!r}: `deferred_reweighting` is the share of epochs "
                f"before re-weighting, in [0, 1). Received: {self.deferred_reweighting!r}."
            )

    @property
    def is_ensemble(self) -> bool:
        return bool(self.members)

    def prepare(
        self, X: Any, y: np.ndarray, *, seed: int
    ) -> tuple[Any, np.ndarray, dict]:
        """The training rows and extra ``fit`` arguments this strategy uses.

        Only ever called with training rows.
        """
        if self.is_ensemble:
            raise InvalidParameterError(
                f"Strategy {self.name!r} is an ensemble: prepare its members instead."
            )
        fit_kwargs: dict[str, Any] = {}
        if self.sampler is not None:
            X, y, _ = prepare_member(
                self.sampler, X, y, sampling_strategy=self.sampling_strategy, seed=seed
            )
        if self.class_weight is not None:
            fit_kwargs["class_weight"] = class_weight(y, method=self.class_weight)
        return X, y, fit_kwargs

    def tuned(self, objective: str = "g_mean") -> Strategy:
        """This strategy with its binary threshold tuned on an inner split: ``NAME+tuned``."""
        members = tuple(f"{m}{TUNED_SUFFIX}" for m in self.members)
        return replace(
            self,
            name=f"{self.name}{TUNED_SUFFIX}",
            tune_threshold=objective,
            members=members,
            description=f"{self.description}, threshold tuned for {objective} on an inner split",
        )


PIPELINES = ("under", "over", "interpolate")
TUNED_SUFFIX = "+tuned"

PRESETS: dict[str, Strategy] = {
    s.name: s
    for s in (
        Strategy("none", description="plain training on the data as given"),
        Strategy(
            "class_weight",
            class_weight="balanced",
            description="balanced class weights passed to model.fit",
        ),
        Strategy(
            "over",
            sampler="over",
            description="random over-sampling of smaller classes",
        ),
        Strategy(
            "under",
            sampler="under",
            description="random under-sampling of larger classes",
        ),
        Strategy(
            "effective_number",
            class_weight="effective_number",
            description="class weights from the effective number of samples (Cui et al.)",
        ),
        Strategy(
            "under_epochwise",
            pipeline="under",
            description="a fresh random under-sample every epoch (tf.data, no copy)",
        ),
        Strategy(
            "interpolate",
            pipeline="interpolate",
            description="SMOTE-like minority interpolation at batch time (tf.data)",
        ),
        Strategy(
            "focal",
            loss="focal",
            loss_options={"alpha": "balanced", "gamma": 2.0},
            description="focal loss, gamma 2, alpha from class counts",
        ),
        Strategy(
            "class_balanced",
            loss="class_balanced",
            description="class-balanced loss, effective-number weights (Cui et al.)",
        ),
        Strategy(
            "logit_adjusted",
            loss="logit_adjusted",
            description="logit-adjusted loss, tau 1 (Menon et al.)",
        ),
        Strategy(
            "balanced_softmax",
            loss="balanced_softmax",
            description="balanced softmax (Ren et al.)",
        ),
        Strategy(
            "ldam_drw",
            loss="ldam",
            deferred_reweighting=0.8,
            description="LDAM loss with deferred re-weighting from 80% of epochs (Cao et al.)",
        ),
        Strategy(
            "seed_ensemble",
            members=("none", "over", "under"),
            combine="soft",
            description="soft vote of the none, over and under models",
        ),
    )
}

#: What ``strategies="default"`` runs.
DEFAULT = ("none", "class_weight", "over", "under", "seed_ensemble")


def get(name: str | Strategy) -> Strategy:
    """The preset named ``name`` (a Strategy passes through)."""
    if isinstance(name, Strategy):
        return name
    if isinstance(name, str) and name in PRESETS:
        return PRESETS[name]
    if isinstance(name, str) and name.endswith(TUNED_SUFFIX):
        base = name.removesuffix(TUNED_SUFFIX)
        if base in PRESETS:
            return PRESETS[base].tuned()
    hint = did_you_mean(name, PRESETS)
    raise InvalidParameterError(
        f"Unknown strategy. Received: {short_repr(name)}. Use one of {list(PRESETS)} (each "
        f"also as NAME{TUNED_SUFFIX}), 'default' or 'all'.{hint}"
    )


def resolve_strategies(strategies: str | Sequence[str | Strategy]) -> list[Strategy]:
    """Turn ``"default"``, ``"all"``, a name, or a list of names/Strategies into Strategies.

    Ensemble members that are not requested themselves are resolved too (see
    ``Strategy.members``); duplicates are removed, order is kept.
    """
    if isinstance(strategies, (str, Strategy)):
        strategies = [strategies]
    names: list[str | Strategy] = []
    for item in strategies:
        if item == "default":
            names.extend(DEFAULT)
        elif item == "all":
            names.extend(PRESETS)
        else:
            names.append(item)
    if not names:
        raise InvalidParameterError(
            "`strategies` is empty. Pass 'default', 'all' or a list of strategy names."
        )
    resolved: dict[str, Strategy] = {}
    for item in names:
        strategy = get(item)
        if strategy.name in resolved and resolved[strategy.name] != strategy:
            raise InvalidParameterError(
                f"Two different strategies are named {strategy.name!r}; give them distinct names."
            )
        resolved[strategy.name] = strategy
    return list(resolved.values())
