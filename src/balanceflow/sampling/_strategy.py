"""One normaliser for every accepted form of ``sampling_strategy``.

Whatever the user passes (a float, a keyword, a dict or a callable), samplers work from one
``{class: target_count}`` dict: the number of rows each resampled class has *after*
resampling. Classes missing from the dict are left as they are.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from typing import Any, Literal

import numpy as np

from balanceflow._validation import short_repr
from balanceflow.exceptions import InvalidParameterError

__all__ = ["KEYWORDS", "resolve_sampling_strategy"]

KEYWORDS = ("auto", "minority", "majority", "not minority", "not majority", "all")

SamplingStrategy = (
    float | str | Mapping[Any, int] | Callable[[np.ndarray], Mapping[Any, int]]
)


def _counts(y: np.ndarray) -> dict[Any, int]:
    classes, counts = np.unique(y, return_counts=True)
    return {
        cls.item() if hasattr(cls, "item") else cls: int(n)
        for cls, n in zip(classes, counts)
    }


def _keyword_classes(keyword: str, counts: dict[Any, int], kind: str) -> list[Any]:
    """The classes a keyword selects (``auto`` means the classes a sampler of ``kind`` changes)."""
    # Ties go to the first class in sorted order, so the choice is deterministic.
    minority = min(counts, key=counts.__getitem__)
    majority = max(counts, key=counts.__getitem__)
    if keyword == "auto":
        keyword = "not majority" if kind == "over" else "not minority"
    if keyword == "minority":
        return [minority]
    if keyword == "majority":
        return [majority]
    if keyword == "not minority":
        return [c for c in counts if c != minority]
    if keyword == "not majority":
        return [c for c in counts if c != majority]
    return list(counts)  # "all"


def _check_dict(
    strategy: Mapping[Any, Any], counts: dict[Any, int], kind: str, source: str
) -> dict[Any, int]:
    targets: dict[Any, int] = {}
    for key, value in strategy.items():
        label = key.item() if isinstance(key, np.generic) else key
        if label not in counts:
            raise InvalidParameterError(
                f"`sampling_strategy` names class {label!r}, which is not in y{source}. "
                f"The classes in y are {sorted(counts, key=str)}."
            )
        if (
            not isinstance(value, numbers.Integral)
            or isinstance(value, bool)
            or value < 0
        ):
            raise InvalidParameterError(
                f"`sampling_strategy` must map each class to a non-negative int row count. "
                f"Received: {{{label!r}: {short_repr(value)}}}{source}."
            )
        value = int(value)
        if kind == "over" and value < counts[label]:
            raise InvalidParameterError(
                f"`sampling_strategy` asks an over-sampler to shrink class {label!r} from "
                f"{counts[label]} to {value} rows{source}. An over-sampler only adds rows: ask "
                f"for at least {counts[label]}, or use an under-sampler."
            )
        if kind == "under" and value > counts[label]:
            raise InvalidParameterError(
                f"`sampling_strategy` asks an under-sampler to grow class {label!r} from "
                f"{counts[label]} to {value} rows{source}. An under-sampler only removes rows: "
                f"ask for at most {counts[label]}, or use an over-sampler."
            )
        if kind == "under" and value == 0:
            raise InvalidParameterError(
                f"`sampling_strategy` asks to remove every row of class {label!r}{source}. "
                "Keep at least one row per class."
            )
        targets[label] = value
    return targets


def resolve_sampling_strategy(
    sampling_strategy: SamplingStrategy,
    y: np.ndarray,
    *,
    kind: Literal["over", "under"],
) -> dict[Any, int]:
    """Normalise ``sampling_strategy`` into ``{class: row count after resampling}``.

    Parameters
    ----------
    sampling_strategy : float, str, dict or callable
        - float in (0, 1], binary targets only: the ratio minority / majority wanted after
          resampling (the over-sampler grows the minority, the under-sampler shrinks the
          majority).
        - ``"auto"`` (``"not majority"`` for over-samplers, ``"not minority"`` for
          under-samplers), ``"minority"``, ``"majority"``, ``"not minority"``,
          ``"not majority"``, ``"all"``: the classes to resample, each to the size of the
          majority (over) or of the minority (under).
        - ``{class: count}``: the row count wanted for each named class.
        - a callable ``f(y) -> {class: count}``.
    y : ndarray of shape (n_samples,)
        Validated class labels.
    kind : {"over", "under"}
        Which way the sampler can move counts.

    Returns
    -------
    dict
        ``{class: target_count}`` for every class the sampler changes or checks.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0] * 90 + [1] * 10)
    >>> resolve_sampling_strategy(0.5, y, kind="over")
    {1: 45}
    >>> resolve_sampling_strategy("auto", y, kind="under")
    {0: 10}
    """
    counts = _counts(y)
    if callable(sampling_strategy) and not isinstance(sampling_strategy, Mapping):
        result = sampling_strategy(y)
        if not isinstance(result, Mapping):
            raise InvalidParameterError(
                "A callable `sampling_strategy` must return a {class: count} dict. "
                f"Received: {short_repr(result)} from {short_repr(sampling_strategy)}."
            )
        return _check_dict(result, counts, kind, source=" (returned by the callable)")
    if isinstance(sampling_strategy, Mapping):
        return _check_dict(sampling_strategy, counts, kind, source="")
    if isinstance(sampling_strategy, str):
        if sampling_strategy not in KEYWORDS:
            raise InvalidParameterError(
                f"Unknown `sampling_strategy` keyword. Received: "
                f"sampling_strategy={sampling_strategy!r}. Use one of {list(KEYWORDS)}, a "
                "float ratio, a {class: count} dict or a callable."
            )
        if (kind, sampling_strategy) in {("over", "majority"), ("under", "minority")}:
            raise InvalidParameterError(
                f"sampling_strategy={sampling_strategy!r} asks an {kind}-sampler to resample "
                f"the {sampling_strategy} class, which it cannot change. Use "
                f"{'minority' if kind == 'over' else 'majority'!r}, 'auto' or a dict."
            )
        selected = _keyword_classes(sampling_strategy, counts, kind)
        size = max(counts.values()) if kind == "over" else min(counts.values())
        return {cls: size for cls in selected}
    if isinstance(sampling_strategy, numbers.Real) and not isinstance(
        sampling_strategy, bool
    ):
        return _resolve_ratio(float(sampling_strategy), counts, kind)
    raise InvalidParameterError(
        "`sampling_strategy` must be a float, one of "
        f"{list(KEYWORDS)}, a {{class: count}} dict or a callable. "
        f"Received: sampling_strategy={short_repr(sampling_strategy)}."
    )


def _resolve_ratio(ratio: float, counts: dict[Any, int], kind: str) -> dict[Any, int]:
    if len(counts) != 2:
        raise InvalidParameterError(
            f"A float `sampling_strategy` is the ratio minority / majority, defined for two "
            f"classes only. Received: sampling_strategy={ratio!r} with {len(counts)} classes "
            f"{sorted(counts, key=str)}. For multi-class targets pass a keyword such as 'auto' "
            "or a {class: count} dict."
        )
    if not 0.0 < ratio <= 1.0:
        raise InvalidParameterError(
            "A float `sampling_strategy` (minority / majority after resampling) must be in "
            f"(0, 1]. Received: sampling_strategy={ratio!r}."
        )
    minority = min(counts, key=counts.__getitem__)
    majority = max(counts, key=counts.__getitem__)
    n_min, n_maj = counts[minority], counts[majority]
    if kind == "over":
        target = int(ratio * n_maj)
        if target < n_min:
            raise InvalidParameterError(
                f"sampling_strategy={ratio!r} would give the minority class {minority!r} "
                f"{target} rows, fewer than the {n_min} it has; an over-sampler cannot remove "
                f"rows. Use a ratio of at least {n_min / n_maj:.4g} (the current ratio)."
            )
        return {minority: target}
    target = int(n_min / ratio)
    if target > n_maj:
        raise InvalidParameterError(
            f"sampling_strategy={ratio!r} would need {target} rows of the majority class "
            f"{majority!r}, more than the {n_maj} it has; an under-sampler cannot add rows. "
            f"Use a ratio of at least {n_min / n_maj:.4g} (the current ratio)."
        )
    return {majority: target}
