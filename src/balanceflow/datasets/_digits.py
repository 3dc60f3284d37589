"""A small long-tailed image dataset built from scikit-learn's bundled digits (no download)."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from balanceflow._validation import check_seed, short_repr
from balanceflow.exceptions import InvalidParameterError

__all__ = ["digits_lt"]

_N_CLASSES = 10
_DEFAULT_TEST_PER_CLASS = 50
_MAX_PIXEL = 16.0  # the digits images hold whole numbers 0..16


def _check_imbalance_ratio(imbalance_ratio: Any) -> float:
    if (
        not isinstance(imbalance_ratio, numbers.Real)
        or isinstance(imbalance_ratio, bool)
        or not math.isfinite(imbalance_ratio)
        or imbalance_ratio < 1
    ):
        raise InvalidParameterError(
            "`imbalance_ratio` must be a finite number >= 1 (head count / tail count). "
            f"Received: imbalance_ratio={short_repr(imbalance_ratio)}."
        )
    return float(imbalance_ratio)


def _check_test_per_class(test_per_class: Any, smallest_class: int) -> int:
    if test_per_class is None:
        test_per_class = _DEFAULT_TEST_PER_CLASS
    if (
        not isinstance(test_per_class, numbers.Integral)
        or isinstance(test_per_class, bool)
        or not 1 <= test_per_class <= smallest_class - 1
    ):
        raise InvalidParameterError(
            f"`test_per_class` must be None or an int between 1 and {smallest_class - 1} "
            f"(the smallest digit class has {smallest_class} images and training needs at "
            f"least one). Received: test_per_class={short_repr(test_per_class)}."
        )
    return int(test_per_class)


def _long_tail_counts(n_max: int, imbalance_ratio: float, n_classes: int) -> list[int]:
    """Exponential profile ``round(n_max * imbalance_ratio ** (-c / (n_classes - 1)))``."""
    return [
        round(n_max * imbalance_ratio ** (-c / (n_classes - 1)))
        for c in range(n_classes)
    ]


def digits_lt(
    *,
    imbalance_ratio: float = 50.0,
    test_per_class: int | None = None,
    seed: int | np.random.Generator | None = 0,
    channels_last: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A long-tailed 10-class image dataset from scikit-learn's digits, with a balanced test set.

    Built from :func:`sklearn.datasets.load_digits` (1,797 images of 8x8 pixels, shipped
    with scikit-learn, so nothing is downloaded). First ``test_per_class`` images of every
    digit are held out as a balanced test set. The training set then keeps an exponential
    ("long-tailed") profile: digit ``c`` keeps

        n_c = round(n_max * imbalance_ratio ** (-c / 9)),   c = 0, ..., 9

    images, where ``n_max`` is the smallest number of images left to any digit after the
    test split (174 - ``test_per_class`` for the bundled data). Digit 0 is the head with
    ``n_max`` images and digit 9 the tail with about ``n_max / imbalance_ratio``.
    ``round`` is Python's (ties to even). Which images go to the test set and which are kept
    for training is drawn with ``seed``; train and test never share an image.

    Parameters
    ----------
    imbalance_ratio : float, default=50.0
        Head count divided by tail count, >= 1 (1 gives a balanced training set). It must
        leave the tail at least one image, that is ``imbalance_ratio < 2 * n_max``.
    test_per_class : int or None, default=None
        Test images per digit. None means 50, which keeps 124 training images for the head
        and leaves 2 for the tail at the default ratio of 50.
    seed : int, numpy Generator or None, default=0
        Seed of the draw. The same int gives the same arrays.
    channels_last : bool, default=True
        Images of shape ``(n, 8, 8, 1)`` when True, ``(n, 1, 8, 8)`` when False.

    Returns
    -------
    X_train : numpy.ndarray of float32, in [0, 1]
        The pixel values divided by 16, shape ``(n_train, 8, 8, 1)``.
    y_train : numpy.ndarray of int64
        Digit labels 0..9.
    X_test, y_test : numpy.ndarray
        The balanced test set, ``10 * test_per_class`` images, same conventions.

    Rows keep the order they have in ``load_digits`` (the digits are interleaved there).

    Raises
    ------
    InvalidParameterError
        If ``imbalance_ratio`` < 1, is not finite, or leaves the tail without images; if
        ``test_per_class`` is not an int in range; if ``seed`` is not a valid seed.

    Examples
    --------
    >>> import numpy as np
    >>> from balanceflow.datasets import digits_lt
    >>> X_train, y_train, X_test, y_test = digits_lt(imbalance_ratio=10.0, seed=0)
    >>> X_train.shape[1:], X_train.dtype.name
    ((8, 8, 1), 'float32')
    >>> np.bincount(y_train).tolist()
    [124, 96, 74, 58, 45, 35, 27, 21, 16, 12]
    >>> np.bincount(y_test).tolist()
    [50, 50, 50, 50, 50, 50, 50, 50, 50, 50]
    """
    from sklearn.datasets import load_digits  # bundled with scikit-learn: no network

    ratio = _check_imbalance_ratio(imbalance_ratio)
    rng = check_seed(seed)
    if not isinstance(channels_last, (bool, np.bool_)):
        raise InvalidParameterError(
            f"`channels_last` must be a bool. Received: channels_last={short_repr(channels_last)}."
        )

    digits = load_digits()
    images = np.asarray(digits.images)
    labels = np.asarray(digits.target, dtype=np.int64)
    counts = np.bincount(labels, minlength=_N_CLASSES)
    n_test = _check_test_per_class(test_per_class, int(counts.min()))
    n_max = int(counts.min()) - n_test
    train_counts = _long_tail_counts(n_max, ratio, _N_CLASSES)
    if train_counts[-1] < 1:
        raise InvalidParameterError(
            f"`imbalance_ratio` leaves the tail digit {_N_CLASSES - 1} without training "
            f"images: round({n_max} / {ratio:g}) = 0. With test_per_class={n_test} "
            f"(n_max={n_max}) it must be below {2 * n_max}; lower it or lower "
            f"test_per_class. Received: imbalance_ratio={short_repr(imbalance_ratio)}."
        )

    train_parts, test_parts = [], []
    for digit in range(_N_CLASSES):
        shuffled = rng.permutation(np.flatnonzero(labels == digit))
        test_parts.append(shuffled[:n_test])
        train_parts.append(shuffled[n_test : n_test + train_counts[digit]])
    train_idx = np.sort(np.concatenate(train_parts))
    test_idx = np.sort(np.concatenate(test_parts))

    def as_images(idx: np.ndarray) -> np.ndarray:
        pixels = (images[idx] / _MAX_PIXEL).astype(np.float32)
        return pixels[..., np.newaxis] if channels_last else pixels[:, np.newaxis]

    return (
        as_images(train_idx),
        labels[train_idx],
        as_images(test_idx),
        labels[test_idx],
    )
