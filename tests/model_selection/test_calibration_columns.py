"""compare's calibration columns: the prior each strategy trains under, Bayes' correction
back to the data's prior, and Brier / log loss / ECE before and after it."""

import numpy as np
import pytest
from imblearn.combine import SMOTEENN
from imblearn.over_sampling import ADASYN, SMOTE
from imblearn.under_sampling import TomekLinks

import balanceflow as bf
from balanceflow.metrics import expected_calibration_error
from balanceflow.model_selection._compare import correct_to
from balanceflow.sampling import RandomUnderSampler
from balanceflow.strategies import (
    PRESETS,
    ClassWeights,
    CountsLoss,
    EpochwiseBalance,
    Resample,
    Strategy,
)

COUNTS = np.array([90, 10])


def _effective_number(counts, beta=0.999):
    return (1 - beta) / (1 - beta ** np.asarray(counts, dtype=float))


def _normal(mass):
    mass = np.asarray(mass, dtype=float)
    return mass / mass.sum()


@pytest.mark.parametrize(
    ("strategy", "status", "prior"),
    [
        (PRESETS["none"], "unchanged", [0.9, 0.1]),
        (PRESETS["class_weight"], "exact", [0.5, 0.5]),
        (PRESETS["over"], "exact", [0.5, 0.5]),
        (PRESETS["under"], "exact", [0.5, 0.5]),
        (Strategy("u", [Resample("under", 0.5)]), "exact", [20 / 30, 10 / 30]),
        (Strategy("o", [Resample("over", 0.5)]), "exact", [90 / 135, 45 / 135]),
        (
            PRESETS["effective_number"],
            "exact",
            _normal(COUNTS * _effective_number(COUNTS)),
        ),
        (PRESETS["under_epochwise"], "exact", [0.5, 0.5]),
        (PRESETS["interpolate"], "exact", [0.5, 0.5]),
        (PRESETS["logit_adjusted"], "exact", [0.5, 0.5]),
        # tau = 0.5: the model answers to counts / prior^0.5, i.e. prior^0.5.
        (
            Strategy("la", loss="logit_adjusted", loss_options={"tau": 0.5}),
            "exact",
            _normal(np.sqrt([0.9, 0.1])),
        ),
        (PRESETS["balanced_softmax"], "exact", [0.5, 0.5]),
        (
            PRESETS["class_balanced"],
            "exact",
            _normal(COUNTS * _effective_number(COUNTS)),
        ),
        (PRESETS["focal"], "approximate", [0.5, 0.5]),
        (PRESETS["ldam_drw"], "unknown", None),
        (Strategy("smote", [Resample(SMOTE())]), "exact", [0.5, 0.5]),
        (Strategy("tomek", [Resample(TomekLinks())]), "unknown", None),
        (Strategy("smoteenn", [Resample(SMOTEENN())]), "unknown", None),
        (Strategy("adasyn", [Resample(ADASYN())]), "approximate", [0.5, 0.5]),
        (
            Strategy("ours", [Resample(RandomUnderSampler(sampling_strategy=0.5))]),
            "exact",
            [20 / 30, 10 / 30],
        ),
        # A weighted binary cross-entropy: positives weigh 90 / 10.
        (
            Strategy("wbce", [CountsLoss("weighted_binary_crossentropy")]),
            "exact",
            [0.5, 0.5],
        ),
        # The registry's spellings are one loss.
        (Strategy("alias", [CountsLoss("LogitAdjustedLoss")]), "exact", [0.5, 0.5]),
        # Parts after an epoch-wise pipeline see the rows' own counts: balanced draws
        # times the weights of 90 / 10 rows.
        (
            Strategy("late", [EpochwiseBalance("under"), ClassWeights()]),
            "exact",
            _normal([10 * 100 / 180, 10 * 100 / 20]),
        ),
    ],
    ids=lambda v: getattr(v, "name", None) if isinstance(v, Strategy) else None,
)
def test_the_prior_each_strategy_trains_under(strategy, status, prior):
    """Check each preset's training prior on 90 / 10 rows against the hand-computed one."""
    state = strategy.prior_state(COUNTS)
    assert state.status == status
    if prior is not None:
        np.testing.assert_allclose(state.prior, prior, rtol=1e-12)


def test_the_correction_of_an_under_sampled_model_is_the_closed_form():
    """Check Bayes' correction of a model trained on a balanced under-sample against
    Dal Pozzolo et al.'s p' = beta p / (beta p - p + 1), beta the kept share of negatives."""
    state = PRESETS["under"].prior_state(COUNTS)
    p = np.linspace(0.0, 1.0, 41)
    corrected = correct_to(np.column_stack([1 - p, p]), state.prior, COUNTS)
    beta = 10 / 90
    np.testing.assert_allclose(
        corrected[:, 1], beta * p / (beta * p - p + 1), atol=1e-12
    )


@pytest.fixture(scope="module")
def thyroid_result():
    X, y = bf.datasets.load("new-thyroid1")
    return bf.compare(
        X,
        y,
        strategies=["none", "under"],
        epochs=2,
        n_splits=3,
        seed=1,
        baselines="none",
    )


def test_compare_scores_calibration_before_and_after_the_correction(thyroid_result):
    """Check every fold's ECE of the under-sampled strategy against ECE computed here from
    its out-of-fold probabilities, as trained and corrected with the closed form from the
    fold's own training counts; plain training needs no correction."""
    result = thyroid_result
    records = result.records.set_index(["strategy", "fold"])
    positive = result.positive
    for fold, (train, test) in enumerate(result.folds):
        truth = (result.y_true[test] == positive).astype(int)
        p = result.proba["under"][test, positive]
        counts = np.bincount(result.y_true[train], minlength=2)
        beta = counts[positive] / counts[1 - positive]  # kept share of the majority
        fixed = beta * p / (beta * p - p + 1)
        assert records.loc[("under", fold), "ece"] == pytest.approx(
            expected_calibration_error(truth, p)
        )
        assert records.loc[("under", fold), "ece_corrected"] == pytest.approx(
            expected_calibration_error(truth, fixed)
        )
        plain = records.loc[("none", fold)]
        assert plain["ece_corrected"] == plain["ece"]
        assert plain["brier_corrected"] == plain["brier"]
    assert result.settings["prior_correction"] == {
        "none": "unchanged",
        "under": "exact",
    }


def test_calibration_metrics_rank_lowest_first(thyroid_result):
    board = thyroid_result.leaderboard("ece")
    means = board[("ece", "mean")].to_numpy()
    assert list(means) == sorted(means)
    assert thyroid_result.best("ece") == board.index[0]
    assert "lowest mean ECE" in thyroid_result.recommendation("ece")
    for m in ("brier", "log_loss", "ece_corrected"):
        low, high = board[(m, "ci_low")], board[(m, "ci_high")]
        assert (low >= 0).all() and (low <= board[(m, "mean")]).all()
        assert (high >= board[(m, "mean")]).all()


def test_the_recommendation_says_what_acting_on_the_labels_costs(thyroid_result):
    """Check the false alarms per true find against a count of the pooled out-of-fold
    predictions at threshold 0.5."""
    result = thyroid_result
    best = result.best()
    positive = result.positive
    flagged = result.proba[best][:, positive] >= 0.5
    truth = result.y_true == positive
    found, alarms = int((flagged & truth).sum()), int((flagged & ~truth).sum())
    sentence = result.alarms_sentence(best)
    assert sentence in result.recommendation()
    if found:
        assert f"finds {found} of the {int(truth.sum())}" in sentence
        assert f"{alarms / found:.1f} false alarms per true find" in sentence
    else:
        assert "finds none" in sentence
