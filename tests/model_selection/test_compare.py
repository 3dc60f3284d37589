"""compare(): no leakage, shared starting point, honest metrics, clear errors."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.metrics import average_precision_score, balanced_accuracy_score

import balanceflow as bf
import balanceflow.strategies._parts as parts_module
from balanceflow.exceptions import DataError, InvalidParameterError
from balanceflow.sampling import RandomOverSampler
from balanceflow.strategies import Strategy

SEEN = {"transform_fit": [], "sampler": [], "class_weight": []}


class SpyTransformer(TransformerMixin, BaseEstimator):
    """Pass-through transformer that records the row ids it is fit on (column 0)."""

    def fit(self, X, y=None):
        SEEN["transform_fit"].append(np.asarray(X)[:, 0].astype(int))
        return self

    def transform(self, X):
        return np.asarray(X, dtype="float32")


class SpySampler(RandomOverSampler):
    """Over-sampler that records the row ids (column 0) it is asked to resample."""

    def fit_resample(self, X, y):
        SEEN["sampler"].append(np.asarray(X)[:, 0].astype(int))
        return super().fit_resample(X, y)


@pytest.fixture
def tiny():
    rng = np.random.default_rng(0)
    n = 90
    y = np.array([0] * 75 + [1] * 15)
    X = np.column_stack([np.arange(n), rng.normal(size=n) + y]).astype("float32")
    return X, y


def test_no_leakage_into_preprocessing_sampling_or_weights(tiny, monkeypatch):
    """Check that test-fold rows are never resampled, nor used to fit the transformer or the
    class weights: each sees exactly the training rows of its fold."""
    for seen in SEEN.values():
        seen.clear()
    real_class_weight = parts_module.class_weight

    def spy_class_weight(y, **kwargs):
        SEEN["class_weight"].append(np.bincount(y))
        return real_class_weight(y, **kwargs)

    monkeypatch.setattr(parts_module, "class_weight", spy_class_weight)
    X, y = tiny
    strategies = [Strategy("spy_over", sampler=SpySampler()), "class_weight"]
    result = bf.compare(
        X,
        y,
        strategies=strategies,
        preprocess=SpyTransformer(),
        n_splits=3,
        epochs=1,
        seed=4,
    )
    assert len(result.folds) == 3
    for fold, (train_idx, test_idx) in enumerate(result.folds):
        assert set(train_idx).isdisjoint(test_idx)
        np.testing.assert_array_equal(
            np.sort(SEEN["transform_fit"][fold]), np.sort(train_idx)
        )
        np.testing.assert_array_equal(
            np.sort(SEEN["sampler"][fold]), np.sort(train_idx)
        )
        np.testing.assert_array_equal(
            SEEN["class_weight"][fold], np.bincount(y[train_idx])
        )


def test_every_strategy_starts_from_the_same_state(tiny):
    """Check that a strategy's result does not depend on what trained before it in the fold
    (weights and optimizer state are restored), so all start from the same initial weights."""
    X, y = tiny
    alone = bf.compare(X, y, strategies=["none"], n_splits=3, epochs=2, preprocess=None)
    after = bf.compare(
        X, y, strategies=["under", "none"], n_splits=3, epochs=2, preprocess=None
    )
    np.testing.assert_allclose(alone.proba["none"], after.proba["none"], rtol=1e-6)


def test_metrics_and_ensemble_match_independent_recomputation(tiny):
    """Check per-fold metrics against scikit-learn on the out-of-fold probabilities, and the
    seed ensemble against the mean of its members."""
    X, y = tiny
    result = bf.compare(X, y, n_splits=3, epochs=2, preprocess=None)
    members = np.stack([result.proba[m] for m in ("none", "over", "under")])
    np.testing.assert_allclose(
        result.proba["seed_ensemble"], members.mean(axis=0), rtol=1e-12
    )
    for strategy in result.strategies:
        for fold, (_, test_idx) in enumerate(result.folds):
            row = result.records.query("strategy == @strategy and fold == @fold").iloc[
                0
            ]
            p = result.proba[strategy][test_idx, 1]
            # the minority (class 1 here) is the positive class of PR-AUC
            assert row["pr_auc"] == pytest.approx(
                average_precision_score(y[test_idx], p)
            )
            pred = (p >= 0.5).astype(int)
            assert row["balanced_accuracy"] == pytest.approx(
                balanced_accuracy_score(y[test_idx], pred)
            )
    board = result.leaderboard("g_mean")
    means = result.records.groupby("strategy")["g_mean"].mean()
    assert board.index[0] == means.idxmax()
    assert board[("g_mean", "mean")].tolist() == sorted(means.tolist(), reverse=True)


def test_default_preprocessing_handles_text_and_missing_values():
    """Check one-hot encoding of a text column and imputation of NaN, on a multi-class target."""
    rng = np.random.default_rng(1)
    n = 60
    y = np.repeat(["a", "b", "c"], [36, 16, 8])
    X = pd.DataFrame(
        {"num": rng.normal(size=n), "cat": rng.choice(["x", "y", None], size=n)}
    )
    X.loc[3, "num"] = np.nan
    result = bf.compare(X, y, strategies=["none"], n_splits=2, epochs=1)
    assert result.classes == ["a", "b", "c"]
    assert np.isfinite(result.proba["none"]).all()


def test_errors(tiny):
    X, y = tiny
    with pytest.raises(DataError, match=r"n_splits=10.*\{1: 8\}"):
        bf.compare(X[:83], y[:83], n_splits=10)
    with pytest.raises(
        InvalidParameterError, match=r"Unknown strategy.*'ovr'.*Did you mean 'over'"
    ):
        bf.compare(X, y, strategies=["ovr"])
    with pytest.raises(InvalidParameterError, match=r"n_splits=1"):
        bf.compare(X, y, n_splits=1)
    with pytest.raises(DataError, match="same number of rows"):
        bf.compare(X[:10], y)
    with pytest.raises(DataError, match="at least 2 classes"):
        bf.compare(X, np.zeros(len(y)))
    with pytest.raises(DataError, match=r"column 'when' has dtype datetime64"):
        frame = pd.DataFrame({"when": pd.date_range("2020", periods=len(y)), "v": 1.0})
        bf.compare(frame, y)
    with pytest.raises(DataError, match=r"column 'v' contains inf"):
        bf.compare(pd.DataFrame({"v": np.r_[np.inf, np.zeros(len(y) - 1)]}), y)


def test_threshold_on_multiclass_fails_before_training():
    X = np.zeros((30, 2), dtype="float32")
    y = np.repeat([0, 1, 2], 10)
    with pytest.raises(
        InvalidParameterError, match=r"binary targets only.*threshold=0.3"
    ):
        bf.compare(X, y, threshold=0.3)


def test_threshold_applies_to_the_minority_probability():
    """Check that when the minority label sorts first ('fraud' < 'normal'), a row counts as
    minority when P(fraud) >= threshold, recomputed with scikit-learn."""
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(3)
    y = np.array(["fraud"] * 15 + ["normal"] * 75)
    X = (rng.normal(size=(90, 2)) + (y == "fraud")[:, None]).astype("float32")
    result = bf.compare(X, y, strategies=["none"], n_splits=3, epochs=2, threshold=0.2)
    assert result.settings["threshold_class"] == "fraud"
    codes = (y == "normal").astype(int)  # fraud = 0, normal = 1
    for fold, (_, test_idx) in enumerate(result.folds):
        p_fraud = result.proba["none"][test_idx, 0]
        predicted_fraud = p_fraud >= 0.2
        expected = f1_score(codes[test_idx] == 0, predicted_fraud, zero_division=0)
        row = result.records.query("fold == @fold").iloc[0]
        assert row["minority_f1"] == pytest.approx(expected)


def test_feature_problems_fail_clearly():
    y = np.array([0] * 40 + [1] * 10)
    frame = pd.DataFrame({0: np.ones(50), "0": np.zeros(50)})
    with pytest.raises(DataError, match=r"distinct names.*\['0'\]"):
        bf.compare(frame, y)
    with pytest.raises(DataError, match="preprocess=None does not impute"):
        bf.compare(np.full((50, 2), np.nan), y, preprocess=None)


def test_object_column_with_numpy_scalars_is_encoded():
    values = [np.int64(1), "a", np.float32(2.0), True, None] * 10
    frame, numeric, categorical = bf.model_selection.clean_features(
        pd.DataFrame({"mixed": pd.Series(values, dtype=object)})
    )
    assert categorical == ["mixed"] and numeric == []
    assert frame["mixed"].isna().sum() == 10


def test_images_get_the_default_cnn():
    """Check that N x H x W x C arrays run without tabular preprocessing, on a CNN."""
    X_train, y_train, _, _ = bf.datasets.digits_lt(imbalance_ratio=10, seed=0)
    keep = np.isin(y_train, [0, 1, 2])
    result = bf.compare(
        X_train[keep], y_train[keep], strategies=["none"], n_splits=2, epochs=2
    )
    assert result.proba["none"].shape == (keep.sum(), 3)
    from balanceflow._models import default_model_fn

    layers = {type(layer).__name__ for layer in default_model_fn((8, 8, 1), 3).layers}
    assert "Conv2D" in layers and "Dense" in layers
