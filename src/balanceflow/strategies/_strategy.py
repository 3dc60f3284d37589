"""Strategies: one class per mode, each made of small parts.

- :class:`Strategy` trains one model: its parts (:mod:`balanceflow.strategies._parts`)
  change, one after the other, how that model trains.
- :class:`Ensemble` combines the models of its member strategies by soft or hard vote.
- :class:`Tuned` is another strategy with its binary decision threshold tuned on an inner
  split of the training rows.

Every strategy answers two questions, and the drivers (``compare``, ``fit_best``,
``StrategyEnsemble``) ask nothing else: which models must be trained (``leaves()``) and how
their probabilities become the strategy's (``combine(probas)``). The presets are
compositions of parts with names (``PRESETS``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from balanceflow._validation import did_you_mean, short_repr
from balanceflow.ensemble import COMBINE_METHODS, combine_proba
from balanceflow.exceptions import InvalidParameterError
from balanceflow.strategies._parts import (
    ClassWeights,
    CountsLoss,
    DeferredReweighting,
    EpochwiseBalance,
    Part,
    PriorState,
    Resample,
    part_config,
    part_from_config,
)
from balanceflow.thresholds import BINARY_OBJECTIVES, CONSTRAINED_OBJECTIVES

__all__ = [
    "DEFAULT",
    "PRESETS",
    "TUNABLE_OBJECTIVES",
    "TUNED_SUFFIX",
    "BaseStrategy",
    "Ensemble",
    "Strategy",
    "Tuned",
    "from_config",
    "get",
    "resolve_strategies",
]

TUNED_SUFFIX = "+tuned"

#: Objectives a tuned strategy can use (those that need no further options).
TUNABLE_OBJECTIVES = tuple(
    o for o in BINARY_OBJECTIVES if o not in CONSTRAINED_OBJECTIVES and o != "cost"
)


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameterError(
            f"A strategy needs a non-empty name. Received: name={short_repr(name)}."
        )
    return name


class BaseStrategy:
    """What every strategy offers the drivers: its trained leaves and how to combine them."""

    name: str
    description: str

    def leaves(self) -> list[Strategy]:  # pragma: no cover - abstract
        """The single-model strategies whose models this strategy uses, in order."""
        raise NotImplementedError

    def combine(
        self, probas: Mapping[str, np.ndarray]
    ) -> np.ndarray:  # pragma: no cover
        """This strategy's (n, n_classes) probabilities from its leaves' (by leaf name)."""
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def tuned(self, objective: str = "g_mean") -> Tuned:
        """This strategy with its binary threshold tuned on an inner split: ``NAME+tuned``."""
        return Tuned(self, objective)

    def identity(self) -> dict[str, Any]:
        """What determines this strategy's results: its config without descriptions
        (equal strategies have equal identities; results stores key on it)."""
        return _identity(self)

    def bind(self, lookup: Mapping[str, BaseStrategy]) -> BaseStrategy:
        """This strategy with every member given by name replaced by a strategy object."""
        return self

    def with_class_indices(self, classes: Sequence[Any]) -> BaseStrategy:
        """This strategy with class labels in its parts' settings (a ``{label: count}``
        ``sampling_strategy``) replaced by the class indices trials train on;
        ``classes`` lists the labels in class-index order. The drivers call it once the
        target's classes are known, so users write their own labels."""
        raise NotImplementedError  # pragma: no cover - every mode defines it

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and _identity(other) == _identity(self)

    def __hash__(self) -> int:
        return hash(repr(_identity(self)))


def _identity(strategy: BaseStrategy) -> dict[str, Any]:
    """What determines a strategy's results: its config without any description."""
    return _without_descriptions(strategy.get_config())


def _without_descriptions(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _without_descriptions(v) for k, v in value.items() if k != "description"
        }
    if isinstance(value, list):
        return [_without_descriptions(v) for v in value]
    return value


class Strategy(BaseStrategy):
    """One model, trained with the changes of its parts, applied in order.

    Parameters
    ----------
    name : str
        The name shown in leaderboards.
    parts : sequence of Part, optional
        :class:`Resample`, :class:`ClassWeights`, :class:`CountsLoss`,
        :class:`DeferredReweighting`, :class:`EpochwiseBalance`.
    description : str
        One line for people.
    sampler, sampling_strategy, class_weight, loss, loss_options, deferred_reweighting,
    pipeline, pipeline_options
        A shorter spelling of the parts (instead of ``parts``), as in the TOML config:
        ``Strategy("x", sampler="under", sampling_strategy=0.5)`` is
        ``Strategy("x", parts=[Resample("under", 0.5)])``. The parts are applied in the
        order resample, class weights, loss, deferred re-weighting, epoch-wise pipeline.

    Examples
    --------
    >>> from balanceflow.strategies import Strategy, Resample, ClassWeights
    >>> mild = Strategy("mild_under", sampler="under", sampling_strategy=0.5)
    >>> mild.parts
    (Resample('under', 0.5),)
    >>> mild == Strategy("mild_under", parts=[Resample("under", sampling_strategy=0.5)])
    True
    """

    def __init__(
        self,
        name: str,
        parts: Sequence[Part] = (),
        *,
        description: str = "",
        sampler: Any = None,
        sampling_strategy: Any = "auto",
        class_weight: str | None = None,
        loss: str | None = None,
        loss_options: dict[str, Any] | None = None,
        deferred_reweighting: float | None = None,
        pipeline: str | None = None,
        pipeline_options: dict[str, Any] | None = None,
        **other: Any,
    ):
        self.name = _check_name(name)
        self.description = description
        if other:
            raise InvalidParameterError(_other_modes_message(self.name, other))
        spelled = _parts_from_fields(
            self.name,
            sampler=sampler,
            sampling_strategy=sampling_strategy,
            class_weight=class_weight,
            loss=loss,
            loss_options=loss_options,
            deferred_reweighting=deferred_reweighting,
            pipeline=pipeline,
            pipeline_options=pipeline_options,
        )
        if isinstance(parts, Part) or not isinstance(parts, Sequence):
            raise InvalidParameterError(
                f"Strategy {name!r}: `parts` must be a list of strategy parts. Received: "
                f"parts={short_repr(parts)}."
            )
        if parts and spelled:
            raise InvalidParameterError(
                f"Strategy {name!r}: give `parts`, or the short keywords (sampler, "
                "class_weight, loss, ...), not both."
            )
        for part in parts:
            if not isinstance(part, Part):
                raise InvalidParameterError(
                    f"Strategy {name!r}: every part must be a strategy part such as "
                    f"Resample('over'). Received: {short_repr(part)}."
                )
        self.parts: tuple[Part, ...] = tuple(parts) or spelled
        pipelines = [p for p in self.parts if isinstance(p, EpochwiseBalance)]
        if len(pipelines) > 1 or (
            pipelines and any(isinstance(p, Resample) for p in self.parts)
        ):
            raise InvalidParameterError(
                f"Strategy {name!r} resamples twice (a sampler and a pipeline, or two "
                "pipelines); an epoch-wise pipeline already balances every epoch. Keep one."
            )

    def prior_state(self, counts: Any) -> PriorState:
        """The prior this strategy's model trains under, for training rows with these
        class counts: each part's change in turn (see :class:`PriorState`)."""
        state = PriorState.of(counts)
        # An epoch-wise pipeline changes only what is fed: the parts after it still see
        # the rows' own counts (its draws apply last).
        pipelines = [p for p in self.parts if isinstance(p, EpochwiseBalance)]
        for part in [p for p in self.parts if not isinstance(p, EpochwiseBalance)]:
            state = part.shift_prior(state)
        for part in pipelines:
            state = part.shift_prior(state)
        return state

    def leaves(self) -> list[Strategy]:
        return [self]

    def with_class_indices(self, classes: Sequence[Any]) -> Strategy:
        parts = [p.with_class_indices(classes) for p in self.parts]
        if all(a is b for a, b in zip(parts, self.parts)):
            return self
        return Strategy(self.name, parts, description=self.description)

    def combine(self, probas: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.asarray(probas[self.name], dtype=np.float64)

    def get_config(self) -> dict[str, Any]:
        return {
            "class": "Strategy",
            "name": self.name,
            "parts": [part_config(p) for p in self.parts],
            "description": self.description,
        }

    def __repr__(self) -> str:
        return f"Strategy({self.name!r}, parts={self.parts!r})"


def _parts_from_fields(name: str, **fields: Any) -> tuple[Part, ...]:
    """The parts that the short keywords of :class:`Strategy` spell."""
    sampler, pipeline = fields["sampler"], fields["pipeline"]
    if sampler is not None and pipeline is not None:
        raise InvalidParameterError(
            f"Strategy {name!r} sets both a sampler and a pipeline; the pipeline already "
            "balances every epoch. Keep one."
        )
    parts: list[Part] = []
    try:
        if sampler is not None:
            parts.append(Resample(sampler, fields["sampling_strategy"]))
        if fields["class_weight"] is not None:
            parts.append(ClassWeights(fields["class_weight"]))
        if fields["loss"] is not None:
            parts.append(CountsLoss(fields["loss"], dict(fields["loss_options"] or {})))
        if fields["deferred_reweighting"] is not None:
            parts.append(DeferredReweighting(fields["deferred_reweighting"]))
        if pipeline is not None:
            parts.append(
                EpochwiseBalance(
                    pipeline,
                    fields["sampling_strategy"],
                    dict(fields["pipeline_options"] or {}),
                )
            )
    except InvalidParameterError as err:
        raise InvalidParameterError(f"Strategy {name!r}: {err}") from None
    return tuple(parts)


def _other_modes_message(name: str, other: dict[str, Any]) -> str:
    keys = sorted(other)
    if "members" in other or "combine" in other:
        return (
            f"Strategy {name!r}: an ensemble is its own class. Use "
            f"Ensemble({name!r}, members=[...], combine='soft')."
        )
    if "tune_threshold" in other:
        return (
            f"Strategy {name!r}: a tuned threshold wraps a strategy. Use "
            "Tuned(strategy, objective) or strategy.tuned(objective)."
        )
    known = [
        "parts",
        "description",
        "sampler",
        "sampling_strategy",
        "class_weight",
        "loss",
        "loss_options",
        "deferred_reweighting",
        "pipeline",
        "pipeline_options",
    ]
    return (
        f"Strategy {name!r}: unknown argument(s) {keys}. Use {known}."
        f"{did_you_mean(keys[0], known)}"
    )


class Ensemble(BaseStrategy):
    """The vote of the models of several single strategies, trained on the same rows.

    Parameters
    ----------
    name : str
    members : sequence of str or Strategy
        Single strategies (or their names: presets, or strategies compared alongside).
    combine : {"soft", "hard"}, default="soft"
        ``"soft"``: the mean probability; ``"hard"``: the share of member votes.
    description : str
    """

    def __init__(
        self,
        name: str,
        members: Sequence[str | Strategy],
        combine: str = "soft",
        *,
        description: str = "",
    ):
        self.name = _check_name(name)
        self.description = description
        if isinstance(members, (str, BaseStrategy)) or not members:
            raise InvalidParameterError(
                f"Ensemble {name!r}: `members` must be a non-empty list of strategy names "
                f"or Strategy objects. Received: members={short_repr(members)}."
            )
        for member in members:
            if isinstance(member, BaseStrategy) and not isinstance(member, Strategy):
                raise InvalidParameterError(
                    f"Ensemble {name!r} has the {type(member).__name__} {member.name!r} as "
                    "a member; ensemble members must be single strategies."
                )
            if not isinstance(member, (str, Strategy)):
                raise InvalidParameterError(
                    f"Ensemble {name!r}: members are strategy names or Strategy objects. "
                    f"Received: {short_repr(member)}."
                )
        if combine == "weighted":
            raise InvalidParameterError(
                f"Ensemble {name!r}: combine='weighted' fits its weights on validation rows, "
                "which a comparison does not set aside. Use 'soft' or 'hard' here, or "
                "StrategyEnsemble(combine='weighted').fit(..., validation_data=...)."
            )
        if combine not in COMBINE_METHODS:
            raise InvalidParameterError(
                f"Ensemble {name!r}: unknown `combine` method. Received: "
                f"combine={short_repr(combine)}. Use 'soft' or 'hard'."
            )
        self.members: tuple[str | Strategy, ...] = tuple(members)
        self.combine_method = combine

    def _bound_members(self) -> list[Strategy]:
        unbound = [m for m in self.members if isinstance(m, str)]
        if unbound:
            raise InvalidParameterError(
                f"Ensemble {self.name!r}: members {unbound} are names; resolve the "
                "ensemble first (resolve_strategies)."
            )
        return list(self.members)  # type: ignore[arg-type]

    def leaves(self) -> list[Strategy]:
        return self._bound_members()

    def with_class_indices(self, classes: Sequence[Any]) -> Ensemble:
        members = [
            m if isinstance(m, str) else m.with_class_indices(classes)
            for m in self.members
        ]
        if all(a is b for a, b in zip(members, self.members)):
            return self
        return Ensemble(
            self.name, members, self.combine_method, description=self.description
        )

    def combine(self, probas: Mapping[str, np.ndarray]) -> np.ndarray:
        stack = np.stack([m.combine(probas) for m in self._bound_members()])
        return combine_proba(stack, self.combine_method)

    def bind(self, lookup: Mapping[str, BaseStrategy]) -> Ensemble:
        members = []
        for member in self.members:
            if isinstance(member, str):
                found = lookup.get(member) or get(member)
                if not isinstance(found, Strategy):
                    raise InvalidParameterError(
                        f"Ensemble {self.name!r} has the {type(found).__name__} "
                        f"{member!r} as a member; ensemble members must be single "
                        "strategies."
                    )
                member = found
            members.append(member)
        return Ensemble(
            self.name, members, self.combine_method, description=self.description
        )

    def get_config(self) -> dict[str, Any]:
        return {
            "class": "Ensemble",
            "name": self.name,
            "members": [
                m if isinstance(m, str) else m.get_config() for m in self.members
            ],
            "combine": self.combine_method,
            "description": self.description,
        }

    def __repr__(self) -> str:
        names = [m if isinstance(m, str) else m.name for m in self.members]
        return (
            f"Ensemble({self.name!r}, members={names}, combine={self.combine_method!r})"
        )


class Tuned(BaseStrategy):
    """A strategy whose binary decision threshold is tuned for ``objective``.

    In each training fold, the base strategy's models are trained a second time on a
    stratified 75% of the training rows and score the other 25%, on which the threshold is
    tuned; the test rows are scored by the base strategy's models trained on the whole
    training fold (so ``NAME+tuned`` and ``NAME`` share their probabilities and differ in
    the threshold only).

    Parameters
    ----------
    base : Strategy or Ensemble
    objective : str, default="g_mean"
        One of :data:`TUNABLE_OBJECTIVES` (see :class:`balanceflow.thresholds.TunedThreshold`).
    """

    def __init__(self, base: BaseStrategy, objective: str = "g_mean"):
        if not isinstance(base, (Strategy, Ensemble)):
            raise InvalidParameterError(
                "Tuned(base): `base` must be a Strategy or an Ensemble. Received: "
                f"{short_repr(base)}."
            )
        if objective not in TUNABLE_OBJECTIVES:
            raise InvalidParameterError(
                "Unknown threshold objective. Received: "
                f"tune_threshold={short_repr(objective)}. Use one of "
                f"{list(TUNABLE_OBJECTIVES)}.{did_you_mean(objective, TUNABLE_OBJECTIVES)}"
            )
        self.base = base
        self.objective = objective
        self.name = f"{base.name}{TUNED_SUFFIX}"
        self.description = (
            f"{base.description}, threshold tuned for {objective} on an inner split"
        )

    def leaves(self) -> list[Strategy]:
        return self.base.leaves()

    def combine(self, probas: Mapping[str, np.ndarray]) -> np.ndarray:
        return self.base.combine(probas)

    def bind(self, lookup: Mapping[str, BaseStrategy]) -> Tuned:
        return Tuned(self.base.bind(lookup), self.objective)

    def with_class_indices(self, classes: Sequence[Any]) -> Tuned:
        base = self.base.with_class_indices(classes)
        return self if base is self.base else Tuned(base, self.objective)

    def tuned(self, objective: str = "g_mean") -> Tuned:
        raise InvalidParameterError(
            f"Strategy {self.name!r} is tuned already; tune its base strategy instead."
        )

    def get_config(self) -> dict[str, Any]:
        return {
            "class": "Tuned",
            "base": self.base.get_config(),
            "objective": self.objective,
        }

    def __repr__(self) -> str:
        return f"Tuned({self.base!r}, objective={self.objective!r})"


def from_config(config: Mapping[str, Any]) -> BaseStrategy:
    """The strategy that ``strategy.get_config()`` described."""
    options = dict(config)
    kind = options.pop("class", None)
    if kind == "Strategy":
        parts = [part_from_config(p) for p in options.pop("parts", [])]
        return Strategy(options.pop("name"), parts, **options)
    if kind == "Ensemble":
        members = [
            m if isinstance(m, str) else from_config(m) for m in options.pop("members")
        ]
        return Ensemble(options.pop("name"), members, **options)
    if kind == "Tuned":
        return Tuned(from_config(options["base"]), options["objective"])
    raise InvalidParameterError(
        "A strategy config needs 'class': 'Strategy', 'Ensemble' or 'Tuned'. Received: "
        f"{short_repr(dict(config))}."
    )


#: Members of the ``balanced_bagging`` preset: Keras models, each trained on its own
#: random under-sample and averaged (imbalanced-learn's BalancedBaggingClassifier and
#: EasyEnsemble take scikit-learn estimators only). With the fused engine the members
#: train in the same steps.
BALANCED_BAGS = 5

PRESETS: dict[str, BaseStrategy] = {
    s.name: s
    for s in (
        Strategy("none", description="plain training on the data as given"),
        Strategy(
            "class_weight",
            [ClassWeights("balanced")],
            description="balanced class weights passed to model.fit",
        ),
        Strategy(
            "over",
            [Resample("over")],
            description="random over-sampling of smaller classes",
        ),
        Strategy(
            "under",
            [Resample("under")],
            description="random under-sampling of larger classes",
        ),
        Strategy(
            "effective_number",
            [ClassWeights("effective_number")],
            description="class weights from the effective number of samples (Cui et al.)",
        ),
        Strategy(
            "under_epochwise",
            [EpochwiseBalance("under")],
            description="a fresh random under-sample every epoch (tf.data, no copy)",
        ),
        Strategy(
            "interpolate",
            [EpochwiseBalance("interpolate")],
            description="SMOTE-like minority interpolation at batch time (tf.data)",
        ),
        Strategy(
            "focal",
            [CountsLoss("focal", {"alpha": "balanced", "gamma": 2.0})],
            description="focal loss, gamma 2, alpha from class counts",
        ),
        Strategy(
            "class_balanced",
            [CountsLoss("class_balanced")],
            description="class-balanced loss, effective-number weights (Cui et al.)",
        ),
        Strategy(
            "logit_adjusted",
            [CountsLoss("logit_adjusted")],
            description="logit-adjusted loss, tau 1 (Menon et al.)",
        ),
        Strategy(
            "balanced_softmax",
            [CountsLoss("balanced_softmax")],
            description="balanced softmax (Ren et al.)",
        ),
        Strategy(
            "ldam_drw",
            [CountsLoss("ldam"), DeferredReweighting(0.8)],
            description="LDAM loss with deferred re-weighting from 80% of epochs (Cao et al.)",
        ),
        Ensemble(
            "balanced_bagging",
            [
                Strategy(
                    f"balanced_bagging_{i}",
                    [Resample("under")],
                    description=f"member {i} of balanced_bagging",
                )
                for i in range(1, BALANCED_BAGS + 1)
            ],
            "soft",
            description=f"soft vote of {BALANCED_BAGS} models, each on its own random "
            "under-sample (every minority row, different majority rows)",
        ),
        Ensemble(
            "seed_ensemble",
            ["none", "over", "under"],
            "soft",
            description="soft vote of the none, over and under models",
        ),
    )
}

#: What ``strategies="default"`` runs.
DEFAULT = ("none", "class_weight", "over", "under", "seed_ensemble")


def get(name: str | BaseStrategy) -> BaseStrategy:
    """The preset named ``name`` (``NAME+tuned`` tunes it for G-mean); a strategy object
    passes through. Ensemble presets come with their members bound."""
    if isinstance(name, BaseStrategy):
        return name
    if isinstance(name, str) and name in PRESETS:
        return PRESETS[name].bind(PRESETS)
    if isinstance(name, str) and name.endswith(TUNED_SUFFIX):
        base = name.removesuffix(TUNED_SUFFIX)
        if base in PRESETS:
            return PRESETS[base].bind(PRESETS).tuned()
    hint = did_you_mean(name, PRESETS)
    raise InvalidParameterError(
        f"Unknown strategy. Received: {short_repr(name)}. Use one of {list(PRESETS)} (each "
        f"also as NAME{TUNED_SUFFIX}), 'default' or 'all'.{hint}"
    )


def resolve_strategies(
    strategies: str | BaseStrategy | Sequence[str | BaseStrategy],
) -> list[BaseStrategy]:
    """Turn ``"default"``, ``"all"``, a name, or a list of names and strategies into
    strategies, with every ensemble's members bound (members named after a strategy of
    the list are that strategy; other names are presets). Duplicates are removed, order is
    kept; two different strategies with one name, among the requested ones or their
    leaves, are an error.
    """
    if isinstance(strategies, (str, BaseStrategy)):
        strategies = [strategies]
    names: list[str | BaseStrategy] = []
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
    resolved: dict[str, BaseStrategy] = {}
    for item in names:
        strategy = get(item)
        if strategy.name in resolved and resolved[strategy.name] != strategy:
            raise InvalidParameterError(
                f"Two different strategies are named {strategy.name!r}; give them distinct names."
            )
        resolved[strategy.name] = strategy
    bound = [s.bind(resolved) for s in resolved.values()]
    leaves: dict[str, Strategy] = {}
    for strategy in bound:
        for leaf in strategy.leaves():
            if leaves.setdefault(leaf.name, leaf) != leaf:
                raise InvalidParameterError(
                    f"Two different strategies are named {leaf.name!r} (one is a member of "
                    f"{strategy.name!r}); give them distinct names."
                )
    return bound
