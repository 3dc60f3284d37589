"""Reference rows (baselines) of compare: the same folds and rows as every strategy, scores
equal to scikit-learn's own, honest statistics, and clear errors."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score
from sklearn.model_selection import StratifiedKFold

import balanceflow as bf
import balanceflow.model_selection._compare as compare_module
from balanceflow.exceptions import InvalidParameterError
from balanceflow.metrics import METRIC_NAMES
from balanceflow.model_selection import CompareResult, clean_features, make_preprocessor
from balanceflow.model_selection._baselines import resolve_baselines
from balanceflow.model_selection._stats import corrected_paired_t
from balanceflow.strategies import Strategy

FAST = {"epochs": 1, "n_splits": 3, "seed": 3}
FITS: list[dict] = []  # what every Spy instance saw, in order


class Spy(ClassifierMixin, BaseEstimator):
    """Records the rows it is fit on and asked about; scores rows by their first feature."""

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        FITS.append({"X": X.copy(), "y": y.copy(), "seed": self.random_state})
        return self

    def predict_proba(self, X):
        FITS[-1]["scored"] = X.copy()
        p = 1.0 / (1.0 + np.exp(-X[:, 0]))
        return np.column_stack([1.0 - p, p])


class _NoParams:
    """Has fit and predict_proba, but cannot be cloned."""

    def fit(self, X, y):
        return self

    def predict_proba(self, X):
        return np.full((len(X), 2), 0.5)


@pytest.fixture(scope="module")
def thyroid():
    return bf.datasets.load("new-thyroid1")


def _independent_folds(X, y, n_splits, seed):
    """(preprocessed train rows, train labels, preprocessed test rows) per fold, built here
    from scikit-learn directly."""
    clean, numeric, categorical = clean_features(X)
    codes = np.unique(np.asarray(y), return_inverse=True)[1]
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    out = []
    for train, test in splitter.split(np.zeros(len(codes)), codes):
        transformer = clone(make_preprocessor(numeric, categorical)).fit(
            clean.iloc[train]
        )
        out.append(
            (
                train,
                test,
                transformer.transform(clean.iloc[train]).astype(np.float32),
                codes[train],
                transformer.transform(clean.iloc[test]).astype(np.float32),
            )
        )
    return out


def test_baselines_train_on_the_rows_and_preprocessing_of_every_strategy(
    thyroid, monkeypatch
):
    """Check, with a spy classifier as the baseline and a spy on the planned Keras trials,
    that in every fold the baseline is fit on exactly the rows every strategy trains on,
    through the preprocessing fit on those rows (rebuilt here from scikit-learn), scores
    exactly that fold's test rows, and is seeded per fold."""
    X, y = thyroid
    planned = []
    real_plan = compare_module.plan_trials

    def spy_plan(*args, **kwargs):
        planned.extend(real_plan(*args, **kwargs))
        return planned

    monkeypatch.setattr(compare_module, "plan_trials", spy_plan)
    FITS.clear()
    result = bf.compare(X, y, strategies=["none", "over"], baselines=[Spy()], **FAST)
    expected = _independent_folds(X, y, FAST["n_splits"], FAST["seed"])
    assert len(FITS) == len(expected)
    for fold, (fit, (train, test, X_train, y_train, X_test)) in enumerate(
        zip(FITS, expected)
    ):
        np.testing.assert_array_equal(result.folds[fold][0], train)
        for trial in planned:
            if trial.tag[1] == fold:
                np.testing.assert_array_equal(trial.train_rows, train)
                np.testing.assert_array_equal(trial.score_rows, test)
        np.testing.assert_allclose(fit["X"], X_train, rtol=1e-6)
        np.testing.assert_array_equal(fit["y"], y_train)
        np.testing.assert_allclose(fit["scored"], X_test, rtol=1e-6)
    assert len({fit["seed"] for fit in FITS}) == len(FITS)  # a seed per fold
    assert result.baselines == ["Spy"]
    assert set(result.records["strategy"]) == {"none", "over", "Spy"}


def test_a_tuned_baseline_tunes_on_the_inner_rows_of_the_tuned_strategies(
    thyroid, monkeypatch
):
    """Check that with tune_threshold the baseline's inner fit uses exactly the rows the
    tuned Keras strategy's inner trial trains on (inside the training fold, never a test
    row), and that its threshold is the one TunedThreshold finds on the inner scores."""
    from balanceflow.thresholds import TunedThreshold

    X, y = thyroid
    planned = []
    real_plan = compare_module.plan_trials
    monkeypatch.setattr(
        compare_module,
        "plan_trials",
        lambda *a, **k: planned.extend(real_plan(*a, **k)) or planned,
    )
    FITS.clear()
    result = bf.compare(
        X, y, strategies=["none"], baselines=[Spy()], tune_threshold="g_mean", **FAST
    )
    assert result.baselines == ["Spy", "Spy+tuned"]
    full, inner = FITS[0::2], FITS[1::2]  # per fold: the full fit, then the inner one
    positive = result.positive
    records = result.records.set_index(["strategy", "fold"])
    for fold, (train, test) in enumerate(result.folds):
        (keras_inner,) = [t for t in planned if t.tag == (0, fold, "none+tuned")]
        assert set(keras_inner.train_rows) < set(train)
        assert set(keras_inner.score_rows) < set(train)
        np.testing.assert_array_equal(
            inner[fold]["y"], result.y_true[keras_inner.train_rows]
        )
        assert len(full[fold]["y"]) == len(train)
        scores = 1.0 / (1.0 + np.exp(-inner[fold]["scored"][:, 0]))
        truth = result.y_true[keras_inner.score_rows] == positive
        expected = TunedThreshold(objective="g_mean").fit(truth.astype(int), scores)
        assert records.loc[("Spy+tuned", fold), "threshold"] == pytest.approx(
            expected.best_threshold_
        )
        assert records.loc[("Spy", fold), "threshold"] == 0.5


def test_the_gradient_boosting_row_equals_scikit_learn_on_the_same_folds(thyroid):
    """Check the hgb_balanced row's per-fold PR-AUC against HistGradientBoostingClassifier
    trained here with balanced class weights on independently built folds (below 10,000
    rows it does not use its random state)."""
    X, y = thyroid
    result = bf.compare(X, y, strategies=["none"], baselines="hgb_balanced", **FAST)
    positive = result.positive
    got = result.records.set_index("strategy").loc["hgb_balanced", "pr_auc"].to_numpy()
    for fold, (_, test, X_train, y_train, X_test) in enumerate(
        _independent_folds(X, y, FAST["n_splits"], FAST["seed"])
    ):
        model = HistGradientBoostingClassifier(class_weight="balanced").fit(
            X_train, y_train
        )
        truth = result.y_true[test] == positive
        expected = average_precision_score(
            truth, model.predict_proba(X_test)[:, positive]
        )
        assert got[fold] == pytest.approx(expected, rel=1e-9)
    oof = result.proba["hgb_balanced"]
    assert np.isfinite(oof).all() and np.allclose(oof.sum(axis=1), 1.0)


def test_multi_class_baselines_give_probabilities_and_no_tuned_rows():
    """Check a 3-class table: both default baselines score every row with probabilities
    that sum to 1, and no +tuned rows appear (thresholds are for binary targets)."""
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], [60, 25, 10])
    X = pd.DataFrame(rng.normal(size=(len(y), 3)) + y[:, None], columns=list("abc"))
    result = bf.compare(X, y, strategies=["none"], **FAST)
    assert result.baselines == ["hgb_balanced", "balanced_rf"]
    for name in result.baselines:
        proba = result.proba[name]
        assert proba.shape == (len(y), 3)
        assert np.allclose(proba.sum(axis=1), 1.0)
        # Shifted class means: the baseline ranks much better than chance.
        assert result.leaderboard().loc[name, ("roc_auc", "mean")] > 0.75


def _result(keras_scores, baseline_scores, n_splits=5):
    """A CompareResult whose per-block scores are given (every metric alike)."""
    records = []
    for name, scores in (("keras", keras_scores), ("ref", baseline_scores)):
        for block, score in enumerate(scores):
            row = {
                "strategy": name,
                "repeat": block // n_splits,
                "fold": block % n_splits,
            }
            row.update(dict.fromkeys((*METRIC_NAMES, "brier"), score))
            row["threshold"], row["fit_seconds"] = 0.5, 1.0
            records.append(row)
    return CompareResult(
        records=pd.DataFrame(records),
        strategies=["keras"],
        baselines=["ref"],
        classes=[0, 1],
        class_counts=[90, 10],
        folds=[],
        y_true=np.zeros(100, dtype=int),
        proba={},
        settings={"n_splits": n_splits, "threshold": 0.5, "pos_label": 1},
    )


def test_the_baseline_verdict_follows_the_corrected_t_test():
    """Check ahead / behind / level on hand-made scores over 10 blocks, and that best()
    stays a Keras strategy while a baseline tops the leaderboard."""
    rng = np.random.default_rng(1)
    base = 0.6 + 0.05 * rng.normal(size=10)
    ahead = _result(base + 0.1 + 0.01 * rng.normal(size=10), base)
    info = ahead.baseline_comparison()
    assert info["verdict"] == "ahead" and info["ci_low"] > 0
    assert info["keras"] == "keras" and info["baseline"] == "ref"
    assert "is ahead of the best baseline, ref" in ahead.recommendation()
    # On a lower-is-better metric the same higher scores put Keras behind.
    assert ahead.baseline_comparison("brier")["verdict"] == "behind"
    assert ahead.statistics("brier")["best"] == "ref"  # lower Brier tops the board

    behind = _result(base, base + 0.1 + 0.01 * rng.normal(size=10))
    assert behind.baseline_comparison()["verdict"] == "behind"
    assert behind.statistics()["best"] == "ref"
    assert behind.statistics()["best_keras"] == behind.best() == "keras"
    assert "prefer ref" in behind.recommendation()

    noise = 0.05 * rng.normal(size=10)
    level = _result(base + noise, base - noise[::-1])
    info = level.baseline_comparison()
    assert info["verdict"] == "level"
    assert info["ci_low"] < info["difference"] < info["ci_high"]
    assert info["difference"] == pytest.approx(np.mean(noise + noise[::-1]))


def test_corrected_paired_t_matches_the_formula():
    """Check mean, interval and p against the Nadeau-Bengio formula written out here."""
    diffs = np.array([0.02, -0.01, 0.05, 0.03, 0.00, 0.04])
    ratio = 1 / 4
    k = len(diffs)
    scale = diffs.std(ddof=1) * np.sqrt(1 / k + ratio)
    t = stats.t.ppf(0.975, k - 1)
    out = corrected_paired_t(diffs, ratio)
    assert out["mean"] == pytest.approx(diffs.mean())
    assert out["ci_low"] == pytest.approx(diffs.mean() - t * scale)
    assert out["ci_high"] == pytest.approx(diffs.mean() + t * scale)
    assert out["p_value"] == pytest.approx(
        2 * stats.t.sf(abs(diffs.mean()) / scale, k - 1)
    )
    # Without the correction it is scipy's paired t-test: the correction only widens.
    plain = stats.ttest_1samp(diffs, 0.0).pvalue
    assert corrected_paired_t(diffs, 0.0)["p_value"] == pytest.approx(plain)
    assert out["p_value"] > plain
    assert corrected_paired_t(np.full(4, 0.1), ratio)["p_value"] == 0.0
    assert corrected_paired_t(np.zeros(4), ratio)["p_value"] == 1.0
    assert np.isnan(corrected_paired_t(np.array([0.1, np.nan]), ratio)["p_value"])


@pytest.mark.parametrize(
    ("baselines", "tabular", "message"),
    [
        ("hgb_balance", True, "Did you mean 'hgb_balanced'"),
        (["balanced_rf", "balanced_rf"], True, "more than once"),
        ([42], True, "Received: 42"),
        (["balanced_rf"], False, "not a 2-D table"),
        ([_NoParams()], True, "no get_params"),
    ],
)
def test_bad_baselines_are_refused_with_the_value_received(baselines, tabular, message):
    with pytest.raises(InvalidParameterError, match=message):
        resolve_baselines(baselines, tabular=tabular)


def test_auto_and_none():
    assert [b.name for b in resolve_baselines("auto", tabular=True)] == [
        "hgb_balanced",
        "balanced_rf",
    ]
    assert resolve_baselines("auto", tabular=False) == []
    assert resolve_baselines("none", tabular=True) == []
    assert resolve_baselines(None, tabular=True) == []


def test_a_strategy_named_like_a_baseline_fails_before_training(thyroid, monkeypatch):
    X, y = thyroid

    def no_training(*args, **kwargs):
        raise AssertionError("trained before refusing the names")

    monkeypatch.setattr(compare_module, "run_with_store", no_training)
    monkeypatch.setattr(compare_module, "run_baselines", no_training)
    with pytest.raises(
        InvalidParameterError, match="name both a strategy and a baseline"
    ):
        bf.compare(X, y, strategies=[Strategy("balanced_rf")], **FAST)
