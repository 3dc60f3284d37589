"""How one ensemble member (or one ``compare`` trial) turns training data into a fit call."""

from __future__ import annotations

from typing import Any

import numpy as np

from balanceflow._validation import derive_seed, short_repr
from balanceflow.exceptions import InvalidParameterError
from balanceflow.sampling import SAMPLERS, get_sampler
from balanceflow.weights import class_weight

__all__ = ["MEMBER_STRATEGIES", "check_member", "prepare_member"]

#: Names a member can be given: plain training, class weights, or a sampler name.
MEMBER_STRATEGIES = ("none", "class_weight", *SAMPLERS)


def check_member(strategy: Any) -> Any:
    """Check that ``strategy`` names a member recipe or is a sampler object."""
    if hasattr(strategy, "fit_resample") or strategy in MEMBER_STRATEGIES:
        return strategy
    raise InvalidParameterError(
        f"Unknown ensemble member strategy. Received: {short_repr(strategy)}. Use one of "
        f"{list(MEMBER_STRATEGIES)} or a sampler object with fit_resample(X, y)."
    )


def prepare_member(
    strategy: Any,
    X: Any,
    y: np.ndarray,
    *,
    sampling_strategy: Any = "auto",
    seed: int = 0,
) -> tuple[Any, np.ndarray, dict[str, Any]]:
    """Training data and extra ``fit`` arguments for one member.

    Parameters
    ----------
    strategy : str or sampler
        ``"none"`` (train on the data as given), ``"class_weight"`` (balanced class weights
        passed to ``fit``), ``"over"`` / ``"under"`` (random resampling) or any object with
        ``fit_resample``.
    X, y
        The training rows; ``y`` holds class indices.
    sampling_strategy
        Passed to the sampler.
    seed : int
        The sampler's seed is derived from it and the strategy name.

    Returns
    -------
    X_member, y_member, fit_kwargs
    """
    check_member(strategy)
    if strategy == "none":
        return X, y, {}
    if strategy == "class_weight":
        return X, y, {"class_weight": class_weight(y, method="balanced")}
    name = strategy if isinstance(strategy, str) else type(strategy).__name__
    sampler = get_sampler(
        strategy,
        sampling_strategy=sampling_strategy,
        seed=derive_seed(seed, "sampler", name),
    )
    X_res, y_res = sampler.fit_resample(X, y)
    return X_res, np.asarray(y_res), {}
