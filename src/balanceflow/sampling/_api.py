"""``resample`` and sampler lookup by name."""

from __future__ import annotations

from typing import Any

from balanceflow._validation import did_you_mean, short_repr
from balanceflow.exceptions import InvalidParameterError
from balanceflow.sampling._random import RandomOverSampler, RandomUnderSampler

__all__ = ["SAMPLERS", "get_sampler", "resample"]

SAMPLERS = {"over": RandomOverSampler, "under": RandomUnderSampler}


def get_sampler(
    method: Any, *, sampling_strategy: Any = "auto", seed: Any = None
) -> Any:
    """Return a sampler for ``method``: a name in ``SAMPLERS`` or an object with ``fit_resample``.

    An object (a balanceflow or imbalanced-learn sampler) is returned as it is.
    """
    if hasattr(method, "fit_resample"):
        return method
    if isinstance(method, str) and method in SAMPLERS:
        return SAMPLERS[method](sampling_strategy=sampling_strategy, seed=seed)
    hint = did_you_mean(method, SAMPLERS)
    raise InvalidParameterError(
        f"Unknown resampling `method`. Received: method={short_repr(method)}. Use one of "
        f"{sorted(SAMPLERS)} or a sampler object with a fit_resample(X, y) method.{hint}"
    )


def resample(
    X: Any,
    y: Any,
    *,
    method: Any = "over",
    sampling_strategy: Any = "auto",
    seed: Any = None,
) -> tuple[Any, Any]:
    """Resample ``X`` and ``y`` in one call.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...), DataFrame or dict of arrays
        Features of any rank; only whole rows are selected.
    y : array-like of shape (n_samples,)
        Class labels: int, bool, str, or one-hot rows.
    method : {"over", "under"} or sampler object, default="over"
        Random over-sampling (duplicate rows of the smaller classes) or random
        under-sampling (drop rows of the larger classes); any object with
        ``fit_resample(X, y)``, imbalanced-learn samplers included, is used as given.
    sampling_strategy : float, str, dict or callable, default="auto"
        Target class sizes, with imbalanced-learn's meanings (see
        :func:`balanceflow.sampling.resolve_sampling_strategy`).
    seed : int, numpy Generator or None, default=None
        Seed of the random draw.

    Returns
    -------
    X_resampled, y_resampled
        The same types as ``X`` and ``y``; pandas objects keep their original index.

    Examples
    --------
    >>> import numpy as np
    >>> import balanceflow as bf
    >>> X = np.random.default_rng(0).normal(size=(100, 3))
    >>> y = np.array([0] * 90 + [1] * 10)
    >>> X_res, y_res = bf.resample(X, y, method="under", sampling_strategy=0.5, seed=0)
    >>> np.bincount(y_res).tolist()
    [20, 10]
    """
    return get_sampler(
        method, sampling_strategy=sampling_strategy, seed=seed
    ).fit_resample(X, y)
