"""TunedClassOffsets and TunedLogitAdjustment: optimality, held-out gains, errors."""

import numpy as np
import pytest
from sklearn import metrics as skm

from balanceflow.exceptions import DataError, InvalidParameterError, NotFittedError
from balanceflow.metrics import (
    balanced_accuracy,
    geometric_mean,
    macro_f1,
    matthews_corrcoef,
)
from balanceflow.thresholds import (
    MULTICLASS_OBJECTIVES,
    TunedClassOffsets,
    TunedLogitAdjustment,
    TunedThreshold,
)
from balanceflow.weights import adjust_logits

PRIORS = np.array([0.75, 0.17, 0.06, 0.02])


def reference(objective, y, pred):
    return {
        "balanced_accuracy": balanced_accuracy,
        "g_mean": geometric_mean,
        "macro_f1": macro_f1,
        "mcc": matthews_corrcoef,
    }[objective](y, pred)


def sklearn_reference(objective, y, pred):
    """The same objectives from scikit-learn and imbalanced-learn."""
    from imblearn.metrics import geometric_mean_score

    return {
        "balanced_accuracy": skm.balanced_accuracy_score,
        "g_mean": geometric_mean_score,
        "macro_f1": lambda t, p: skm.f1_score(t, p, average="macro", zero_division=0),
        "mcc": skm.matthews_corrcoef,
    }[objective](y, pred)


def long_tail(n, seed, priors=PRIORS, strength=1.6):
    """Labels and calibrated-looking softmax outputs of a long-tailed 4-class problem."""
    rng = np.random.default_rng(seed)
    k = len(priors)
    y = rng.choice(k, size=n, p=priors)
    logits = rng.normal(size=(n, k)) + strength * np.eye(k)[y] + np.log(priors)
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    return y, proba / proba.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("objective", MULTICLASS_OBJECTIVES)
def test_offsets_reach_a_coordinate_wise_optimum(objective):
    """Check best_score_ is the objective of predict, beats plain argmax, and that no
    single offset can be moved (to any breakpoint, found independently) to do better."""
    y, proba = long_tail(600, seed=0)
    rule = TunedClassOffsets(objective).fit(y, proba)
    assert rule.best_score_ == pytest.approx(
        reference(objective, y, rule.predict(proba))
    )
    assert rule.best_score_ >= reference(objective, y, proba.argmax(axis=1))

    z = np.log(proba)
    for k in range(z.shape[1]):
        others = np.delete(z + rule.offsets_, k, axis=1)
        breakpoints = np.unique(others.max(axis=1) - z[:, k])
        for value in np.r_[breakpoints - 1e-7, breakpoints + 1e-7]:
            trial = rule.offsets_.copy()
            trial[k] = value
            pred = np.argmax(z + trial, axis=1)
            assert reference(objective, y, pred) <= rule.best_score_ + 1e-12


@pytest.mark.parametrize("objective", ["balanced_accuracy", "g_mean", "mcc"])
def test_two_class_offsets_equal_the_tuned_threshold(objective):
    """Check that with two classes the offsets find the same optimum as TunedThreshold."""
    rng = np.random.default_rng(3)
    y = (rng.random(400) < 0.15).astype(int)
    p = 1 / (1 + np.exp(-(rng.normal(size=400) + 1.5 * y - 2.0)))
    offsets = TunedClassOffsets(objective).fit(y, np.column_stack([1 - p, p]))
    threshold = TunedThreshold(objective).fit(y, p)
    assert offsets.best_score_ == pytest.approx(threshold.best_score_, abs=1e-12)


@pytest.mark.parametrize("rule", [TunedClassOffsets(), TunedLogitAdjustment()])
def test_rules_raise_balanced_accuracy_on_held_out_data(rule):
    """Check that the rules, tuned on validation rows, beat argmax on separate test rows."""
    y_val, p_val = long_tail(3000, seed=1)
    y_test, p_test = long_tail(20000, seed=2)
    rule.fit(y_val, p_val)
    plain = balanced_accuracy(y_test, p_test.argmax(axis=1))
    assert rule.score(y_test, p_test) > plain + 0.1


def test_logit_adjustment_is_the_best_tau_of_its_grid():
    y, proba = long_tail(800, seed=4)
    taus = [0.0, 0.5, 1.0, 1.5]
    rule = TunedLogitAdjustment("macro_f1", taus=taus).fit(y, proba)
    priors = np.bincount(y) / len(y)
    scores = [
        macro_f1(y, np.argmax(adjust_logits(np.log(proba), priors, tau=-t), axis=1))
        for t in taus
    ]
    np.testing.assert_allclose(rule.scores_, scores, atol=1e-12)
    assert rule.best_score_ == pytest.approx(max(scores))
    np.testing.assert_allclose(rule.offsets_, -rule.tau_ * np.log(priors))
    assert (
        rule.predict(proba).tolist()
        == np.argmax(np.log(proba) + rule.offsets_, axis=1).tolist()
    )


def test_predict_proba_and_labels():
    y, proba = long_tail(400, seed=5)
    labels = np.array(["a", "b", "c", "d"])[y]
    rule = TunedClassOffsets().fit(labels, proba)
    adjusted = rule.predict_proba(proba)
    np.testing.assert_allclose(adjusted.sum(axis=1), 1.0)
    assert rule.predict(proba).tolist() == rule.classes_[adjusted.argmax(1)].tolist()
    assert set(rule.predict(proba)) <= {"a", "b", "c", "d"}


def test_from_logits():
    y, proba = long_tail(400, seed=6)
    logits = np.log(proba) + 3.0  # any shift per row: same softmax
    a = TunedClassOffsets().fit(y, proba)
    b = TunedClassOffsets(from_logits=True).fit(y, logits)
    assert a.best_score_ == pytest.approx(b.best_score_)


def test_errors():
    y, proba = long_tail(200, seed=7)
    with pytest.raises(DataError, match="columns but `y_true` holds"):
        TunedClassOffsets().fit(y[y < 3], proba[y < 3])
    with pytest.raises(DataError, match="single class"):
        TunedClassOffsets().fit(np.zeros(200, int), proba)
    with pytest.raises(DataError, match="sum to 1"):
        TunedClassOffsets().fit(y, proba * 0.5)
    with pytest.raises(DataError, match="same"):
        TunedClassOffsets().fit(y, np.full_like(proba, 0.25))
    with pytest.raises(InvalidParameterError, match="Did you mean 'macro_f1'"):
        TunedClassOffsets("macro-f1")
    with pytest.raises(InvalidParameterError, match="finite and > 0"):
        TunedLogitAdjustment(class_priors=[0.5, 0.5, 0.0, 0.0])
    with pytest.raises(InvalidParameterError, match="one prior per class"):
        TunedLogitAdjustment(class_priors=[0.5, 0.5]).fit(y, proba)
    with pytest.raises(InvalidParameterError, match="taus"):
        TunedLogitAdjustment(taus=[])
    with pytest.raises(NotFittedError):
        TunedLogitAdjustment().predict(proba)
