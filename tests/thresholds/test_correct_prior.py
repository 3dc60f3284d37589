"""correct_prior and training_prior: closed forms, calibration gain, errors."""

import numpy as np
import pytest
from imblearn.under_sampling import RandomUnderSampler as ImblearnUnderSampler
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss

from balanceflow.exceptions import DataError, InvalidParameterError
from balanceflow.sampling import RandomOverSampler, RandomUnderSampler
from balanceflow.thresholds import correct_prior, prior_shift, training_prior


def test_binary_equals_dal_pozzolo_closed_form():
    """Check p' = beta p / (beta p - p + 1) after under-sampling negatives at rate beta."""
    rng = np.random.default_rng(0)
    p_s = rng.random(1000)
    n_neg, n_pos, beta = 9000, 500, 0.08
    train = np.array([beta * n_neg, n_pos]) / (beta * n_neg + n_pos)
    target = np.array([n_neg, n_pos]) / (n_neg + n_pos)
    expected = beta * p_s / (beta * p_s - p_s + 1)
    np.testing.assert_allclose(
        correct_prior(p_s, train_prior=train, target_prior=target), expected, rtol=1e-12
    )
    two = correct_prior(
        np.column_stack([1 - p_s, p_s]), train_prior=train, target_prior=target
    )
    np.testing.assert_allclose(two[:, 1], expected, rtol=1e-10)
    one = correct_prior(p_s[:, None], train_prior=train, target_prior=target)
    assert one.shape == (1000, 1)


def test_multiclass_equals_saerens_formula():
    rng = np.random.default_rng(1)
    proba = rng.dirichlet(np.ones(4), size=50)
    train, target = [0.25, 0.25, 0.25, 0.25], [0.7, 0.2, 0.07, 0.03]
    weighted = proba * np.array(target) / np.array(train)
    expected = weighted / weighted.sum(axis=1, keepdims=True)
    out = correct_prior(proba, train_prior=train, target_prior=target)
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    back = correct_prior(out, train_prior=target, target_prior=train)
    np.testing.assert_allclose(back, proba, rtol=1e-10)
    np.testing.assert_allclose(
        prior_shift(train, target), np.log(target) - np.log(train), rtol=1e-12
    )


def test_certain_probabilities_stay_certain():
    out = correct_prior([0.0, 1.0], train_prior=[0.5, 0.5], target_prior=[0.9, 0.1])
    assert out.tolist() == [0.0, 1.0]
    out = correct_prior(
        [[0.0, 0.2, 0.8]], train_prior=[0.2, 0.3, 0.5], target_prior=[0.5, 0.3, 0.2]
    )
    assert out[0, 0] == 0.0 and out.sum() == pytest.approx(1.0)


def ece(y, p, n_bins=10):
    """Expected calibration error over equal-width bins, weighted by bin size."""
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in np.unique(bins):
        rows = bins == b
        total += rows.sum() * abs(y[rows].mean() - p[rows].mean())
    return total / len(y)


def gaussian_classes(n, seed, prior=0.05):
    """Two Gaussian classes in 2-D with a 5% positive prior."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prior).astype(int)
    X = rng.normal(size=(n, 2)) + np.outer(y, [1.2, 0.8])
    return X, y


def test_correction_after_under_sampling_improves_calibration():
    """Check lower Brier score and ECE on data with the true prior after correction."""
    X, y = gaussian_classes(20000, seed=0)
    X_test, y_test = gaussian_classes(50000, seed=1)
    sampler = RandomUnderSampler(seed=0)
    X_res, y_res = sampler.fit_resample(X, y)
    model = LogisticRegression().fit(X_res, y_res)
    p_raw = model.predict_proba(X_test)[:, 1]
    p_fixed = correct_prior(
        p_raw,
        train_prior=training_prior(y, sampler=sampler),
        target_prior=training_prior(y),
    )
    brier_raw, brier_fixed = (brier_score_loss(y_test, p) for p in (p_raw, p_fixed))
    ece_raw, ece_fixed = (ece(y_test, p) for p in (p_raw, p_fixed))
    assert brier_fixed < 0.5 * brier_raw
    assert ece_fixed < 0.2 * ece_raw
    assert ece_fixed < 0.02
    # the reliability curve of the corrected model hugs the diagonal
    frac, mean = calibration_curve(y_test, p_fixed, n_bins=5)
    assert np.max(np.abs(frac - mean)) < 0.1


def test_training_prior_of_samplers_and_weights():
    y = np.array([0] * 80 + [1] * 15 + [2] * 5)
    np.testing.assert_allclose(training_prior(y), [0.8, 0.15, 0.05])
    np.testing.assert_allclose(training_prior(y, sampler="under"), [1 / 3] * 3)
    np.testing.assert_allclose(training_prior(y, sampler="over"), [1 / 3] * 3)
    np.testing.assert_allclose(training_prior(y, class_weight="balanced"), [1 / 3] * 3)
    weights = {0: 1.0, 1: 2.0, 2: 4.0}
    np.testing.assert_allclose(
        training_prior(y, class_weight=weights), np.array([80, 30, 20]) / 130
    )
    # fitted samplers: balanceflow's and imbalanced-learn's give the resampled shares
    sampler = RandomOverSampler(sampling_strategy={2: 40}, seed=0)
    _, y_res = sampler.fit_resample(np.zeros((100, 1)), y)
    expected = np.bincount(y_res) / len(y_res)
    np.testing.assert_allclose(training_prior(y, sampler=sampler), expected)
    unfitted = RandomOverSampler(sampling_strategy={2: 40})
    np.testing.assert_allclose(training_prior(y, sampler=unfitted), expected)
    imb = ImblearnUnderSampler(sampling_strategy={0: 30}, random_state=0)
    _, y_imb = imb.fit_resample(np.zeros((100, 1)), y)
    np.testing.assert_allclose(
        training_prior(y, sampler=imb), np.bincount(y_imb) / len(y_imb)
    )
    # string labels: sorted-label order
    labels = np.where(y == 0, "neg", np.where(y == 1, "mid", "pos"))
    np.testing.assert_allclose(training_prior(labels), [0.15, 0.8, 0.05])


def test_bad_input():
    with pytest.raises(InvalidParameterError, match="train_prior.*finite and > 0"):
        correct_prior([0.3], train_prior=[0.0, 1.0], target_prior=[0.5, 0.5])
    with pytest.raises(InvalidParameterError, match="one value per class"):
        correct_prior([0.3], train_prior=[0.2, 0.3, 0.5], target_prior=[0.5, 0.5])
    with pytest.raises(InvalidParameterError, match="3 classes"):
        correct_prior(
            np.full((2, 3), 1 / 3), train_prior=[0.5, 0.5], target_prior=[0.5, 0.5]
        )
    with pytest.raises(DataError, match="NaN"):
        correct_prior([np.nan], train_prior=[0.5, 0.5], target_prior=[0.9, 0.1])
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        correct_prior([1.5], train_prior=[0.5, 0.5], target_prior=[0.9, 0.1])
    with pytest.raises(DataError, match="sum to 1"):
        correct_prior(
            [[0.2, 0.2, 0.2]], train_prior=[0.3, 0.3, 0.4], target_prior=[0.3, 0.3, 0.4]
        )
    with pytest.raises(InvalidParameterError, match="Unknown resampling"):
        training_prior([0, 1, 1], sampler="smote")
    with pytest.raises(InvalidParameterError, match="every class index"):
        training_prior([0, 1, 1], class_weight={0: 1.0})
    with pytest.raises(InvalidParameterError, match="Unknown `class_weight`"):
        training_prior([0, 1, 1], class_weight="balance")
