"""FixedThreshold and TunedThreshold: exact optimum, constraints, held-out gain, errors."""

import numpy as np
import pytest
from scipy.special import expit
from sklearn import metrics as skm

from balanceflow.exceptions import DataError, InvalidParameterError, NotFittedError
from balanceflow.metrics import geometric_mean
from balanceflow.thresholds import (
    BINARY_OBJECTIVES,
    FixedThreshold,
    TunedThreshold,
)

COST = np.array([[0.0, 1.0], [8.0, 0.5]])
SETTINGS = {
    "f1": {},
    "fbeta": {"beta": 2.0},
    "g_mean": {},
    "balanced_accuracy": {},
    "youden": {},
    "mcc": {},
    "cost": {"cost_matrix": COST},
    "max_recall_at_precision": {"min_precision": 0.4},
    "max_precision_at_recall": {"min_recall": 0.7},
}


def reference(objective, y, pred):
    """The objective of hard predictions, from scikit-learn (G-mean: balanceflow.metrics)."""
    if objective == "f1":
        return skm.f1_score(y, pred, zero_division=0)
    if objective == "fbeta":
        return skm.fbeta_score(y, pred, beta=2.0, zero_division=0)
    if objective == "g_mean":
        return geometric_mean(y, pred)
    if objective == "balanced_accuracy":
        return skm.balanced_accuracy_score(y, pred)
    if objective == "youden":
        return skm.balanced_accuracy_score(y, pred, adjusted=True)
    if objective == "mcc":
        return skm.matthews_corrcoef(y, pred)
    if objective == "cost":
        cm = skm.confusion_matrix(y, pred, labels=[0, 1])
        return -float(np.sum(cm * COST)) / len(y)
    if objective == "max_recall_at_precision":
        return skm.recall_score(y, pred, zero_division=0)
    return skm.precision_score(y, pred, zero_division=0)


def feasible(objective, y, pred):
    if objective == "max_recall_at_precision":
        return skm.precision_score(y, pred, zero_division=0) >= 0.4
    if objective == "max_precision_at_recall":
        return skm.recall_score(y, pred, zero_division=0) >= 0.7
    return True


def noisy_scores(seed, n=80):
    """Imbalanced labels and probabilities rounded to 2 decimals (many ties)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype(int)
    y[:2] = [0, 1]
    p = np.round(expit(rng.normal(size=n) + 1.2 * y - 1.0), 2)
    return y, p


def test_objective_list_is_documented_and_complete():
    assert set(SETTINGS) == set(BINARY_OBJECTIVES)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("objective", BINARY_OBJECTIVES)
def test_tuned_threshold_is_the_brute_force_optimum(objective, seed):
    """Check that best_score_ is the best objective over every distinct score as a threshold,
    that predict reaches it on the fitting rows, and that constraints hold there."""
    y, p = noisy_scores(seed)
    rule = TunedThreshold(objective, **SETTINGS[objective]).fit(y, p)

    predictions = [(p >= t).astype(int) for t in np.unique(p)]
    if p.max() < 1:
        predictions.append(np.zeros_like(y))
    values = [
        reference(objective, y, pred)
        for pred in predictions
        if feasible(objective, y, pred)
    ]
    assert rule.best_score_ == pytest.approx(max(values), abs=1e-12)

    pred = rule.predict(p)
    assert reference(objective, y, pred) == pytest.approx(rule.best_score_, abs=1e-12)
    assert feasible(objective, y, pred)
    assert rule.score(y, p) == pytest.approx(rule.best_score_, abs=1e-12)
    assert 0.0 <= rule.best_threshold_ <= 1.0
    assert np.all(np.diff(rule.thresholds_) > 0)
    assert np.nanmax(rule.scores_) == pytest.approx(rule.best_score_)


def test_min_recall_constrains_any_objective():
    """Check f1 under recall >= 0.9 is the best f1 among thresholds meeting the recall."""
    y, p = noisy_scores(5, n=200)
    rule = TunedThreshold("f1", min_recall=0.9).fit(y, p)
    allowed = [
        skm.f1_score(y, p >= t)
        for t in np.unique(p)
        if skm.recall_score(y, p >= t) >= 0.9
    ]
    assert rule.best_score_ == pytest.approx(max(allowed))
    assert skm.recall_score(y, rule.predict(p)) >= 0.9
    assert rule.best_score_ < TunedThreshold("f1").fit(y, p).best_score_ + 1e-12


def test_threshold_lies_between_distinct_scores():
    """Check the threshold sits halfway between the chosen score and the next lower one."""
    y = [0, 0, 0, 0, 0, 0, 1, 1]
    p = [0.1, 0.2, 0.1, 0.3, 0.8, 0.2, 0.9, 0.4]
    rule = TunedThreshold("f1").fit(y, p)
    assert rule.best_threshold_ == pytest.approx(0.35)
    assert rule.best_score_ == pytest.approx(0.8)


def test_constraints_prefer_the_better_secondary_quantity():
    """Check that among thresholds of equal recall the one with the higher precision wins."""
    y = np.array([1, 0, 1, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.7, 0.3, 0.2, 0.1])
    rule = TunedThreshold("max_recall_at_precision", min_precision=0.5).fit(y, p)
    assert rule.best_score_ == 1.0
    assert rule.best_threshold_ == pytest.approx(0.5)  # not 0.25, 0.15 or 0.05


def test_no_feasible_threshold_says_how_close_the_data_came():
    y = np.array([1, 0, 0, 1, 0, 0])
    p = np.array([0.2, 0.9, 0.8, 0.7, 0.3, 0.1])
    with pytest.raises(DataError, match=r"precision >= 0.95 .*highest precision"):
        TunedThreshold("max_recall_at_precision", min_precision=0.95).fit(y, p)


def test_string_labels_and_two_column_scores():
    """Check that the larger label is positive and a (n, 2) input uses its second column."""
    y = np.array(["ok", "ok", "ok", "fraud", "ok", "fraud"])
    p_ok = np.array([0.9, 0.8, 0.7, 0.4, 0.6, 0.2])  # column 1 = "ok" (sorted order)
    proba = np.column_stack([1 - p_ok, p_ok])
    rule = TunedThreshold("balanced_accuracy").fit(y, proba)
    assert rule.classes_.tolist() == ["fraud", "ok"]
    assert rule.predict(proba).tolist() == y.tolist()


def synthetic(n, seed, prior=0.05, shift=1.5):
    """Labels and the exact posterior of a 5%-positive problem with Gaussian classes."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prior).astype(int)
    x = rng.normal(size=n) + shift * y
    return y, expit(np.log(prior / (1 - prior)) + shift * x - shift**2 / 2)


@pytest.mark.parametrize(
    ("objective", "margin"),
    [("f1", 0.08), ("g_mean", 0.25), ("youden", 0.25), ("cost", 0.2)],
)
def test_tuned_beats_half_on_held_out_data(objective, margin):
    """Check that a threshold tuned on validation rows beats 0.5 on separate test rows."""
    y_val, p_val = synthetic(2000, seed=1)
    y_test, p_test = synthetic(20000, seed=2)
    kwargs = {"cost_matrix": [[0, 1], [20, 0]]} if objective == "cost" else {}
    tuned = TunedThreshold(objective, **kwargs).fit(y_val, p_val)
    fixed = FixedThreshold(0.5, objective=objective, **kwargs).fit(y_val, p_val)
    assert tuned.best_threshold_ < 0.5
    assert tuned.score(y_test, p_test) > fixed.score(y_test, p_test) + margin


def test_fixed_threshold():
    y = np.array([0, 0, 0, 1, 1])
    p = np.array([0.1, 0.6, 0.2, 0.5, 0.9])
    rule = FixedThreshold(0.5, objective="mcc")
    assert rule.predict(p).tolist() == [0, 1, 0, 1, 1]  # no fit needed
    rule.fit(y, p)
    assert rule.best_threshold_ == 0.5
    assert rule.best_score_ == pytest.approx(skm.matthews_corrcoef(y, p >= 0.5))
    assert FixedThreshold(0.55).predict(p).tolist() == [0, 1, 0, 0, 1]


@pytest.mark.parametrize(
    ("scores", "message"),
    [
        ([0.1, 0.2, np.nan, 0.4], "NaN or inf"),
        ([0.1, 1.2, 0.3, 0.4], r"in \[0, 1\]"),
        ([-0.1, 0.2, 0.3, 0.4], "logits"),
        ([0.3, 0.3, 0.3, 0.3], "constant"),
        (np.full((4, 3), 1 / 3), "TunedClassOffsets"),
    ],
)
def test_bad_scores(scores, message):
    with pytest.raises(DataError, match=message):
        TunedThreshold().fit([0, 1, 0, 1], scores)


def test_bad_targets():
    with pytest.raises(DataError, match="single class"):
        TunedThreshold().fit([1, 1, 1], [0.2, 0.5, 0.7])
    with pytest.raises(DataError, match="two classes"):
        TunedThreshold().fit([0, 1, 2], [0.2, 0.5, 0.7])
    with pytest.raises(DataError, match="same number of rows"):
        TunedThreshold().fit([0, 1, 1], [0.2, 0.5])


def test_bad_parameters():
    with pytest.raises(InvalidParameterError, match="Did you mean 'g_mean'"):
        TunedThreshold("gmean")
    with pytest.raises(InvalidParameterError, match="Unknown `objective`"):
        TunedThreshold("accuracy")
    with pytest.raises(InvalidParameterError, match="needs a `cost_matrix`"):
        TunedThreshold("cost")
    with pytest.raises(InvalidParameterError, match="2 x 2"):
        TunedThreshold("cost", cost_matrix=[[0, 1, 2], [3, 0, 1]])
    with pytest.raises(InvalidParameterError, match="only used by objective='cost'"):
        TunedThreshold("f1", cost_matrix=COST)
    with pytest.raises(InvalidParameterError, match="needs `min_precision`"):
        TunedThreshold("max_recall_at_precision")
    with pytest.raises(InvalidParameterError, match="min_recall"):
        TunedThreshold("f1", min_recall=1.5)
    with pytest.raises(InvalidParameterError, match="beta"):
        TunedThreshold("fbeta", beta=0)
    with pytest.raises(InvalidParameterError, match="threshold"):
        FixedThreshold(1.5)
    with pytest.raises(InvalidParameterError, match="does not search"):
        FixedThreshold(objective="max_precision_at_recall")
    with pytest.raises(NotFittedError, match="fit"):
        TunedThreshold().predict([0.5])


def test_score_requires_the_classes_seen_in_fit():
    rule = TunedThreshold().fit([0, 1, 0, 1], [0.1, 0.8, 0.3, 0.6])
    with pytest.raises(DataError, match="classes seen in fit"):
        rule.score(["a", "b"], [0.1, 0.9])
