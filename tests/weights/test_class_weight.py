"""Class weights, priors and counts against independent references."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.utils.class_weight import compute_class_weight

import balanceflow as bf
from balanceflow.exceptions import DataError, InvalidParameterError

label_vectors = st.lists(st.integers(0, 4), min_size=2, max_size=200).filter(
    lambda v: len(set(v)) >= 2
)


@settings(max_examples=60, deadline=None)
@given(y=label_vectors)
def test_balanced_equals_scikit_learn(y):
    """Check that 'balanced' equals scikit-learn's compute_class_weight on random labels."""
    y = np.array(y)
    classes = np.unique(y)
    reference = compute_class_weight("balanced", classes=classes, y=y)
    got = bf.class_weight(y, method="balanced")
    assert list(got) == list(range(len(classes)))
    np.testing.assert_allclose(
        [got[i] for i in range(len(classes))], reference, rtol=1e-12
    )


@settings(max_examples=60, deadline=None)
@given(y=label_vectors, beta=st.floats(0.0, 0.9999))
def test_effective_number_formula(y, beta):
    """Check (1 - beta) / (1 - beta**n_c), normalised to sum to the number of classes."""
    y = np.array(y)
    counts = np.unique(y, return_counts=True)[1].astype(float)
    raw = (1 - beta) / (1 - beta**counts)
    expected = raw / raw.sum() * len(counts)
    got = bf.class_weight(y, method="effective_number", beta=beta)
    np.testing.assert_allclose(list(got.values()), expected, rtol=1e-9)


def test_inverse_and_sqrt_inverse_by_hand():
    """Check the two inverse-frequency forms on counts 80/20 worked by hand."""
    y = np.array([0] * 80 + [1] * 20)
    # 1/80 : 1/20 = 1 : 4, scaled to sum to 2 -> 0.4, 1.6
    assert bf.class_weight(y, method="inverse") == pytest.approx({0: 0.4, 1: 1.6})
    # 1/sqrt(80) : 1/sqrt(20) = 1 : 2 -> 2/3, 4/3
    assert bf.class_weight(y, method="sqrt_inverse") == pytest.approx(
        {0: 2 / 3, 1: 4 / 3}
    )


def test_effective_number_limits():
    """Check that beta=0 gives equal weights and beta near 1 approaches 'inverse'."""
    y = np.array([0] * 80 + [1] * 20)
    assert bf.class_weight(y, method="effective_number", beta=0.0) == pytest.approx(
        {0: 1, 1: 1}
    )
    near = bf.class_weight(y, method="effective_number", beta=1 - 1e-9)
    assert near == pytest.approx(bf.class_weight(y, method="inverse"), rel=1e-6)


def test_string_labels_map_to_sorted_indices():
    """Check that keys follow encode_labels' sorted order for string labels."""
    y = np.array(["spam"] * 3 + ["ham"] * 9)
    codes, classes = bf.encode_labels(y)
    assert classes.tolist() == ["ham", "spam"]
    np.testing.assert_array_equal(classes[codes], y)
    weights = bf.class_weight(y)
    assert weights == pytest.approx({0: 12 / 18, 1: 12 / 6})


def test_one_hot_targets_are_accepted():
    """Check that one-hot rows give the same weights as the sparse labels."""
    y = np.array([0, 0, 0, 1, 2, 2])
    one_hot = np.eye(3)[y]
    assert bf.class_weight(one_hot) == bf.class_weight(y)


def test_priors_and_counts():
    """Check priors as shares in sorted-label order."""
    y = ["b", "a", "b", "b", "c"]
    assert bf.class_counts(y).tolist() == [1, 3, 1]
    np.testing.assert_allclose(bf.class_priors(y), [0.2, 0.6, 0.2])


def test_errors():
    with pytest.raises(InvalidParameterError, match=r"method='balance'"):
        bf.class_weight([0, 1], method="balance")
    with pytest.raises(InvalidParameterError, match=r"beta=1.0"):
        bf.class_weight([0, 1], method="effective_number", beta=1.0)
    with pytest.raises(DataError, match="at least 2 classes"):
        bf.class_weight([1, 1, 1])
    with pytest.raises(DataError, match="NaN or inf"):
        bf.class_weight([0.0, np.nan, 1.0])
