"""Tests of the long-tailed digits dataset."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from balanceflow.datasets import digits_lt
from balanceflow.exceptions import InvalidParameterError

DIGITS = load_digits()
COUNTS = np.bincount(DIGITS.target)  # images per digit in scikit-learn's copy


def expected_train_counts(imbalance_ratio: float, test_per_class: int) -> list[int]:
    n_max = int(COUNTS.min()) - test_per_class
    return [round(n_max * imbalance_ratio ** (-c / 9)) for c in range(10)]


@pytest.mark.parametrize("imbalance_ratio", [1.0, 3.5, 10.0, 50.0, 100.0])
@pytest.mark.parametrize("test_per_class", [None, 20, 80])
def test_train_counts_follow_the_profile(imbalance_ratio, test_per_class):
    """Check the exponential train profile and the balanced test split."""
    n_test = 50 if test_per_class is None else test_per_class
    _, y_train, _, y_test = digits_lt(
        imbalance_ratio=imbalance_ratio, test_per_class=test_per_class, seed=3
    )
    train_counts = np.bincount(y_train, minlength=10).tolist()
    assert train_counts == expected_train_counts(imbalance_ratio, n_test)
    assert np.bincount(y_test, minlength=10).tolist() == [n_test] * 10

    n_max = int(COUNTS.min()) - n_test
    assert train_counts[0] == n_max
    # the tail is n_max / imbalance_ratio up to rounding
    assert abs(train_counts[9] - n_max / imbalance_ratio) <= 0.5
    assert train_counts == sorted(train_counts, reverse=True)


def test_default_profile():
    """Check the documented defaults: 50 test images per digit, ratio 50 (124 -> 2)."""
    X_train, y_train, X_test, _ = digits_lt()
    assert np.bincount(y_train).tolist() == [124, 80, 52, 34, 22, 14, 9, 6, 4, 2]
    assert X_test.shape == (500, 8, 8, 1)
    assert X_train.shape == (len(y_train), 8, 8, 1)


def test_images_are_digits_rows_with_their_labels_and_disjoint():
    """Check that every image is a distinct digits image, with its label, never in both sets."""
    originals = (DIGITS.images / 16.0).astype(np.float32)
    label_of = {img.tobytes(): int(t) for img, t in zip(originals, DIGITS.target)}
    assert len(label_of) == len(originals)  # the bundled images are all distinct

    X_train, y_train, X_test, y_test = digits_lt(imbalance_ratio=5.0, seed=1)
    train_keys = [img[..., 0].tobytes() for img in X_train]
    test_keys = [img[..., 0].tobytes() for img in X_test]
    assert len(set(train_keys)) == len(train_keys)
    assert len(set(test_keys)) == len(test_keys)
    assert not set(train_keys) & set(test_keys)
    assert [label_of[k] for k in train_keys] == y_train.tolist()
    assert [label_of[k] for k in test_keys] == y_test.tolist()


def test_dtype_range_and_layout():
    """Check float32 images in [0, 1], int64 labels 0..9, channels last or first."""
    X_train, y_train, X_test, y_test = digits_lt(seed=0)
    for X, y in ((X_train, y_train), (X_test, y_test)):
        assert X.dtype == np.float32 and y.dtype == np.int64
        assert X.ndim == 4 and X.shape[1:] == (8, 8, 1)
        assert X.min() >= 0.0 and X.max() <= 1.0
        assert set(np.unique(y)) == set(range(10))
    assert X_train.max() == 1.0  # 16 / 16: the scale is the full range

    first = digits_lt(seed=0, channels_last=False)
    assert first[0].shape[1:] == (1, 8, 8)
    np.testing.assert_array_equal(first[0][:, 0], X_train[..., 0])
    np.testing.assert_array_equal(first[1], y_train)


def test_seed_reproducibility():
    """Check that the same seed gives the same arrays and another seed different ones."""
    a = digits_lt(imbalance_ratio=20.0, seed=7)
    b = digits_lt(imbalance_ratio=20.0, seed=7)
    c = digits_lt(imbalance_ratio=20.0, seed=8)
    for left, right in zip(a, b):
        np.testing.assert_array_equal(left, right)
    assert not np.array_equal(a[0], c[0])
    assert not np.array_equal(a[2], c[2])
    # the per-class counts do not depend on the seed
    assert np.bincount(a[1]).tolist() == np.bincount(c[1]).tolist()

    g1 = digits_lt(seed=np.random.default_rng(5))
    g2 = digits_lt(seed=np.random.default_rng(5))
    np.testing.assert_array_equal(g1[0], g2[0])


def test_tail_boundary():
    """Check that the largest ratio keeping one tail image works and the next one fails."""
    n_max = int(COUNTS.min()) - 50  # 124
    _, y_train, _, _ = digits_lt(imbalance_ratio=2 * n_max - 1)
    assert np.bincount(y_train, minlength=10)[9] == 1
    with pytest.raises(InvalidParameterError, match=r"imbalance_ratio=248"):
        digits_lt(imbalance_ratio=2 * n_max)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        (
            {"imbalance_ratio": 0.5},
            r"`imbalance_ratio` must be .*>= 1.*imbalance_ratio=0\.5",
        ),
        ({"imbalance_ratio": float("nan")}, r"imbalance_ratio=nan"),
        ({"imbalance_ratio": float("inf")}, r"imbalance_ratio=inf"),
        ({"imbalance_ratio": "10"}, r"imbalance_ratio='10'"),
        ({"imbalance_ratio": True}, r"imbalance_ratio=True"),
        (
            {"imbalance_ratio": 1000.0},
            r"tail digit 9 without training images.*=1000\.0",
        ),
        ({"test_per_class": 0}, r"`test_per_class` must be .*test_per_class=0"),
        ({"test_per_class": 174}, r"between 1 and 173.*test_per_class=174"),
        ({"test_per_class": 2.5}, r"test_per_class=2\.5"),
        ({"seed": -1}, r"`seed` must be .*seed=-1"),
        ({"channels_last": "yes"}, r"`channels_last` must be a bool"),
    ],
)
def test_bad_parameters(kwargs, pattern):
    """Check that each bad parameter raises InvalidParameterError naming it and its value."""
    with pytest.raises(InvalidParameterError, match=pattern):
        digits_lt(**kwargs)


def test_keyword_only():
    """Check that the parameters are keyword-only."""
    with pytest.raises(TypeError):
        digits_lt(50.0)
