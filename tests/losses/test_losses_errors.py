"""Bad input fails early with a message that names the parameter and shows the value."""

import numpy as np
import pytest

from balanceflow.exceptions import InvalidParameterError
from balanceflow.losses import (
    BalancedSoftmaxLoss,
    ClassBalancedLoss,
    FocalLoss,
    LDAMLoss,
    LogitAdjustedLoss,
    WeightedBinaryCrossentropy,
    get,
    logit_adjusted_loss,
    weighted,
)

PROBS_2 = np.array([[0.7, 0.3], [0.2, 0.8]], dtype="float32")
PROBS_3 = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3]], dtype="float32")


@pytest.mark.parametrize(
    "make",
    [
        lambda c: ClassBalancedLoss(c),
        lambda c: BalancedSoftmaxLoss(c),
        lambda c: LDAMLoss(c),
        lambda c: FocalLoss(alpha="balanced", class_counts=c),
    ],
)
@pytest.mark.parametrize("counts", [[10, 0, 3], [10, -2, 3]])
def test_zero_or_negative_class_counts(make, counts):
    with pytest.raises(InvalidParameterError) as info:
        make(counts)
    message = str(info.value)
    assert "`class_counts` must be > 0" in message
    assert "class(es) [1]" in message
    assert "Received: class_counts=" in message


def test_missing_or_malformed_class_counts():
    with pytest.raises(InvalidParameterError, match="at least 2"):
        BalancedSoftmaxLoss([10])
    with pytest.raises(InvalidParameterError, match="finite"):
        LDAMLoss([10, float("nan")])
    with pytest.raises(InvalidParameterError, match="alpha='balanced' needs"):
        FocalLoss(alpha="balanced")


@pytest.mark.parametrize(
    "make",
    [lambda: FocalLoss(gamma=-1), lambda: ClassBalancedLoss([5, 5], gamma=-1)],
)
def test_negative_gamma(make):
    with pytest.raises(
        InvalidParameterError, match=r"`gamma` must be .* >= 0\. Received: gamma=-1"
    ):
        make()


def test_negative_tau_in_the_loss_though_adjust_logits_allows_it():
    with pytest.raises(
        InvalidParameterError, match=r"`tau` .* >= 0\. Received: tau=-0.5"
    ):
        LogitAdjustedLoss([0.5, 0.5], tau=-0.5)
    with pytest.raises(InvalidParameterError, match="tau"):
        logit_adjusted_loss([0, 1], PROBS_2, class_priors=[0.5, 0.5], tau=-1.0)


def test_priors_not_summing_to_one_are_normalised_with_a_warning():
    with pytest.warns(UserWarning, match="normalising"):
        loss = LogitAdjustedLoss([90, 10])
    np.testing.assert_allclose(loss.class_priors, [0.9, 0.1])
    with pytest.raises(InvalidParameterError, match="finite and > 0"):
        LogitAdjustedLoss([0.0, 1.0])


def test_alpha_list_of_the_wrong_length():
    with pytest.raises(
        InvalidParameterError, match="`alpha` has 3 values but `class_counts` has 2"
    ):
        FocalLoss(alpha=[0.2, 0.3, 0.5], class_counts=[10, 2])
    with pytest.raises(
        InvalidParameterError, match="`alpha` has 3 values but the outputs have 2"
    ):
        FocalLoss(alpha=[0.2, 0.3, 0.5])([0, 1], PROBS_2)


def test_float_alpha_is_binary_only():
    with pytest.raises(
        InvalidParameterError, match="A float `alpha` weights the positive"
    ):
        FocalLoss(alpha=0.25)([0, 2], PROBS_3)
    with pytest.raises(InvalidParameterError, match="alpha"):
        FocalLoss(alpha=1.5)
    with pytest.raises(InvalidParameterError, match="alpha"):
        FocalLoss(alpha="auto")


def test_per_class_parameters_must_match_the_outputs():
    with pytest.raises(
        InvalidParameterError,
        match="`class_counts` has 3 values but the outputs have 2",
    ):
        LDAMLoss([5, 4, 3])([0, 1], PROBS_2)
    with pytest.raises(
        InvalidParameterError,
        match="`class_priors` has 2 values but the outputs have 3",
    ):
        LogitAdjustedLoss([0.5, 0.5])([0, 1], PROBS_3)
    with pytest.raises(
        InvalidParameterError,
        match="`class_weight` has 2 values but the outputs have 3",
    ):
        weighted("sparse_categorical_crossentropy", [1.0, 2.0])([0, 1], PROBS_3)


def test_other_bad_hyperparameters():
    with pytest.raises(InvalidParameterError, match=r"`beta` .* < 1"):
        ClassBalancedLoss([5, 5], beta=1.0)
    with pytest.raises(InvalidParameterError, match="Did you mean 'focal'"):
        ClassBalancedLoss([5, 5], base="focl")
    with pytest.raises(InvalidParameterError, match=r"`scale` .* > 0"):
        LDAMLoss([5, 5], scale=0.0)
    with pytest.raises(InvalidParameterError, match="max_margin"):
        LDAMLoss([5, 5], max_margin=-0.1)
    with pytest.raises(InvalidParameterError, match="`from_logits` must be a bool"):
        FocalLoss(from_logits="yes")
    with pytest.raises(InvalidParameterError, match="`class_weight` must be >= 0"):
        weighted("sparse_categorical_crossentropy", [1.0, -1.0])
    with pytest.raises(InvalidParameterError, match="class indices 0..K-1"):
        weighted("sparse_categorical_crossentropy", {0: 1.0, 2: 3.0})
    with pytest.raises(InvalidParameterError, match="`loss` must be a Keras loss"):
        weighted(3, [1.0, 2.0])
    with pytest.raises(InvalidParameterError, match="pos_weight"):
        WeightedBinaryCrossentropy([1.0, -2.0])


def test_get_by_name_and_unknown_names():
    assert isinstance(get("focal"), FocalLoss)
    assert isinstance(get("FocalLoss", gamma=1.0), FocalLoss)
    assert isinstance(get("class_balanced", class_counts=[5, 5]), ClassBalancedLoss)
    assert isinstance(get("ClassBalancedLoss", class_counts=[5, 5]), ClassBalancedLoss)
    assert isinstance(get("logit-adjusted", class_priors=[0.5, 0.5]), LogitAdjustedLoss)
    assert isinstance(get("balanced_softmax", class_counts=[5, 5]), BalancedSoftmaxLoss)
    assert isinstance(get("LDAMLoss", class_counts=[5, 5]), LDAMLoss)
    loss = FocalLoss()
    assert get(loss) is loss
    with pytest.raises(InvalidParameterError, match="Did you mean 'ldam'"):
        get("ladm")
    with pytest.raises(
        InvalidParameterError, match=r"Unknown loss name\. Received: name='nope'"
    ):
        get("nope")
    with pytest.raises(InvalidParameterError, match="Unknown loss name"):
        get(None)
