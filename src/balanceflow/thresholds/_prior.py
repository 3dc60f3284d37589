"""Probability correction for a change of class prior, and the prior a model trained under.

A model fit on resampled or re-weighted data estimates ``p(y | x)`` under the training
prior, not under the prior of the data it will score. Bayes' rule gives the correction
(Saerens, Latinne and Decaestecker, 2002):

    p'(k | x)  proportional to  p(k | x) * target_prior[k] / train_prior[k]

which is a shift of the log-probabilities by ``log target_prior - log train_prior``: twice
the prior-offset operation :func:`balanceflow.weights.adjust_logits`. For binary random
under-sampling of the negatives with keep rate ``beta`` it reduces to Dal Pozzolo et al.'s
(2015) ``p' = beta p / (beta p - p + 1)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from balanceflow._validation import encode_labels, short_repr
from balanceflow.exceptions import DataError, InvalidParameterError
from balanceflow.sampling import BaseSampler, get_sampler, resolve_sampling_strategy
from balanceflow.thresholds._checks import check_binary_scores, check_proba_matrix
from balanceflow.weights import (
    CLASS_WEIGHT_METHODS,
    adjust_logits,
    check_priors,
    class_weight,
)

__all__ = ["correct_prior", "prior_shift", "training_prior"]


def prior_shift(train_prior: ArrayLike, target_prior: ArrayLike) -> np.ndarray:
    """The offsets ``log target_prior - log train_prior`` that :func:`correct_prior` adds.

    Shape (n_classes,); add them to log-probabilities (or logits) of a softmax, then
    renormalise. :func:`balanceflow.layers.with_prior_correction` bakes them into a model.
    """
    train, target = _check_prior_pair(train_prior, target_prior, None)
    return _shift(np.zeros(len(train)), train, target)


def _check_prior_pair(
    train_prior: Any, target_prior: Any, n_classes: int | None
) -> tuple[np.ndarray, np.ndarray]:
    train = check_priors(train_prior, name="train_prior")
    target = check_priors(target_prior, name="target_prior")
    if train.size != target.size or (n_classes is not None and train.size != n_classes):
        expected = f" and `proba` has {n_classes} classes" if n_classes else ""
        raise InvalidParameterError(
            "`train_prior` and `target_prior` need one value per class"
            f"{expected}. Received: train_prior={short_repr(train.tolist())} and "
            f"target_prior={short_repr(target.tolist())}."
        )
    return train, target


def _shift(logits: np.ndarray, train: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Remove the training prior from logits, then add the target prior."""
    return adjust_logits(adjust_logits(logits, train, tau=-1.0), target, tau=1.0)


def correct_prior(
    proba: ArrayLike, *, train_prior: ArrayLike, target_prior: ArrayLike
) -> np.ndarray:
    """Re-weight predicted probabilities from the training prior to a target prior.

    Parameters
    ----------
    proba : array-like of shape (n_samples,), (n_samples, 1) or (n_samples, n_classes)
        Probabilities from a model trained under ``train_prior``. One column is the
        probability of the class with index 1 of a binary problem; K columns are a softmax
        (rows summing to 1).
    train_prior : array-like of shape (n_classes,)
        The class prior the model was trained under, in class-index (sorted label) order;
        see :func:`training_prior`.
    target_prior : array-like of shape (n_classes,)
        The class prior of the data to be scored (often the prior of the original,
        un-resampled training data: ``balanceflow.class_priors(y)``).

    Returns
    -------
    ndarray of the shape of ``proba``
        Corrected probabilities. Their ranking of the rows within a class column is
        unchanged (PR-AUC and ROC-AUC stay the same in the binary case); their calibration
        under the target prior improves.

    Examples
    --------
    Under-sampling the 90% negative class to the size of the 10% positive class makes a
    model predict 0.5 where the true probability is 0.1:

    >>> from balanceflow.thresholds import correct_prior
    >>> correct_prior([0.5], train_prior=[0.5, 0.5], target_prior=[0.9, 0.1]).round(4)
    array([0.1])
    """
    arr = np.asarray(proba)
    single = arr.ndim == 1 or (arr.ndim == 2 and arr.shape[1] == 1)
    if single:
        p = check_binary_scores(proba, name="proba")
        train, target = _check_prior_pair(train_prior, target_prior, 2)
        with np.errstate(divide="ignore"):
            log_odds = np.log(p) - np.log1p(-p)  # +-inf at 1 and 0 stay there
        shifted = _shift(log_odds[:, None], train, target)[:, 0]
        with np.errstate(over="ignore"):
            corrected = 1.0 / (1.0 + np.exp(-shifted))
        return corrected.reshape(arr.shape)
    p = check_proba_matrix(proba, name="proba")
    train, target = _check_prior_pair(train_prior, target_prior, p.shape[1])
    with np.errstate(divide="ignore"):
        log_p = np.log(p)  # -inf for a probability of 0, which stays 0
    shifted = _shift(log_p, train, target)
    shifted -= shifted.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def _sampled_counts(sampler: Any, labels: np.ndarray, counts: np.ndarray, classes):
    """Class counts after ``sampler`` resamples rows with these labels."""
    if isinstance(sampler, str):
        sampler = get_sampler(sampler)
    if isinstance(sampler, BaseSampler):
        if hasattr(sampler, "target_counts_"):
            targets = sampler.target_counts_
        else:
            targets = resolve_sampling_strategy(
                sampler.sampling_strategy, labels, kind=sampler._kind
            )
        out = counts.copy()
        for label, count in targets.items():
            position = np.flatnonzero(classes == label)
            if position.size == 0:
                raise DataError(
                    f"The sampler was fit on a class {label!r} that `y` does not hold "
                    f"({short_repr(classes.tolist())}). Pass the y it was fit on."
                )
            out[position[0]] = count
        return out
    indices = getattr(sampler, "sample_indices_", None)
    if indices is not None:
        kept = labels[np.asarray(indices)]
        return np.array([np.sum(kept == c) for c in classes])
    raise InvalidParameterError(
        "`sampler` must be 'over', 'under', a balanceflow sampler, or a fitted sampler with "
        f"`sample_indices_`. Received: sampler={short_repr(sampler)}. For any other sampler "
        "pass the resampled labels: training_prior(y_resampled)."
    )


def training_prior(
    y: ArrayLike,
    *,
    sampler: Any = None,
    class_weight: str | Mapping[int, float] | None = None,
) -> np.ndarray:
    """The class prior a model is trained under, after resampling and class weighting.

    A weighted log-loss with weight ``w_k`` on class ``k`` has the same minimiser as the
    plain loss on data where class ``k`` has ``w_k`` times its rows, so the effective prior
    is proportional to ``count_k * w_k``, with counts taken after resampling.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Labels of the training rows *before* resampling.
    sampler : {"over", "under"}, sampler object, optional
        ``"over"`` / ``"under"`` (with ``sampling_strategy="auto"``), a balanceflow sampler
        (fitted or not; its ``sampling_strategy`` is resolved on ``y``), or any fitted
        sampler with ``sample_indices_`` (imbalanced-learn's random samplers). For samplers
        that synthesise rows, pass the resampled labels as ``y`` instead.
    class_weight : str or dict, optional
        A :func:`balanceflow.class_weight` method (computed on the resampled counts, as
        ``compare`` does) or the ``{class_index: weight}`` dict given to ``model.fit``.

    Returns
    -------
    ndarray of shape (n_classes,)
        In class-index (sorted label) order; sums to 1.

    Examples
    --------
    >>> import numpy as np
    >>> from balanceflow.thresholds import training_prior
    >>> y = np.array([0] * 90 + [1] * 10)
    >>> training_prior(y).tolist()
    [0.9, 0.1]
    >>> training_prior(y, sampler="under").tolist()
    [0.5, 0.5]
    >>> training_prior(y, class_weight="balanced").tolist()
    [0.5, 0.5]
    """
    codes, classes = encode_labels(y, name="y", min_classes=2)
    labels = classes[codes]
    counts = np.bincount(codes, minlength=len(classes)).astype(np.float64)
    if sampler is not None:
        counts = _sampled_counts(sampler, labels, counts, classes).astype(np.float64)
    if class_weight is not None:
        counts = counts * _weights(class_weight, counts)
    return counts / counts.sum()


def _weights(weighting: Any, counts: np.ndarray) -> np.ndarray:
    n_classes = len(counts)
    if isinstance(weighting, str):
        if weighting not in CLASS_WEIGHT_METHODS:
            raise InvalidParameterError(
                f"Unknown `class_weight` method. Received: class_weight={weighting!r}. Use one "
                f"of {list(CLASS_WEIGHT_METHODS)} or a {{class_index: weight}} dict."
            )
        resampled = np.repeat(np.arange(n_classes), counts.astype(np.int64))
        weights = class_weight(resampled, method=weighting)
    elif isinstance(weighting, Mapping):
        weights = weighting
    else:
        raise InvalidParameterError(
            "`class_weight` must be a method name or a {class_index: weight} dict. "
            f"Received: class_weight={short_repr(weighting)}."
        )
    missing = [k for k in range(n_classes) if k not in weights]
    values = np.array([weights.get(k, np.nan) for k in range(n_classes)], dtype=float)
    if missing or not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise InvalidParameterError(
            f"`class_weight` needs a finite weight > 0 for every class index 0..{n_classes - 1}."
            f" Received: class_weight={short_repr(dict(weights))}."
        )
    return values
