"""Every preset runs in compare; losses get the fold's class counts; tuned thresholds are
tuned on inner rows of the training fold only."""

import numpy as np
import pytest
from sklearn.metrics import f1_score

import balanceflow as bf
import balanceflow.model_selection._compare as compare_module
from balanceflow.losses import FocalLoss, LDAMLoss, LogitAdjustedLoss
from balanceflow.strategies import (
    PRESETS,
    CountsLoss,
    DeferredReweighting,
    Ensemble,
    EpochwiseBalance,
    Strategy,
    Tuned,
)


def test_every_preset_runs_and_gives_probabilities():
    X, y = bf.datasets.load("new-thyroid1")
    result = bf.compare(X, y, strategies="all", n_splits=2, epochs=1)
    assert result.strategies == list(PRESETS)
    for name in PRESETS:
        proba = result.proba[name]
        assert np.isfinite(proba).all()
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)


def test_new_presets_are_compositions_of_parts():
    """Check that each preset equals its composition written by hand, in both spellings."""
    assert PRESETS["focal"] == Strategy(
        "focal", [CountsLoss("focal", {"alpha": "balanced", "gamma": 2.0})]
    )
    assert PRESETS["focal"] == Strategy(
        "focal", loss="focal", loss_options={"alpha": "balanced", "gamma": 2.0}
    )
    assert PRESETS["ldam_drw"] == Strategy(
        "ldam_drw", [CountsLoss("ldam"), DeferredReweighting(0.8)]
    )
    assert PRESETS["ldam_drw"] != Strategy("ldam_drw", [CountsLoss("ldam")])
    assert PRESETS["under_epochwise"] == Strategy(
        "under_epochwise", [EpochwiseBalance("under")]
    )
    assert PRESETS["effective_number"] == Strategy(
        "effective_number", class_weight="effective_number"
    )
    tuned = bf.strategies.get("seed_ensemble+tuned")
    assert tuned == Tuned(
        Ensemble("seed_ensemble", [PRESETS["none"], PRESETS["over"], PRESETS["under"]]),
        "g_mean",
    )
    assert [leaf.name for leaf in tuned.leaves()] == ["none", "over", "under"]


def test_a_hand_written_composition_gives_the_presets_results():
    """Check that a preset and its composition written by hand (under the same name)
    give the same out-of-fold probabilities: the driver only sees the parts."""
    X, y = bf.datasets.load("new-thyroid1")
    by_hand = Strategy("ldam_drw", [CountsLoss("ldam"), DeferredReweighting(0.8)])
    settings = {"n_splits": 2, "epochs": 2, "seed": 3}
    preset = bf.compare(X, y, strategies=["ldam_drw"], **settings)
    written = bf.compare(X, y, strategies=[by_hand], **settings)
    np.testing.assert_array_equal(preset.proba["ldam_drw"], written.proba["ldam_drw"])


def test_losses_are_built_from_the_training_rows_counts():
    y = np.array([0] * 30 + [1] * 6)
    counts = np.bincount(y)

    def make_loss(strategy):
        (loss_part,) = [p for p in strategy.parts if isinstance(p, CountsLoss)]
        return loss_part.build(counts)

    ldam = make_loss(PRESETS["ldam_drw"])
    assert isinstance(ldam, LDAMLoss) and list(ldam.get_config()["class_counts"]) == [
        30,
        6,
    ]
    adjusted = make_loss(PRESETS["logit_adjusted"])
    assert isinstance(adjusted, LogitAdjustedLoss)
    np.testing.assert_allclose(adjusted.get_config()["class_priors"], [30 / 36, 6 / 36])
    focal = make_loss(PRESETS["focal"])
    assert isinstance(focal, FocalLoss) and focal.get_config()["alpha"] == "balanced"


def test_tuned_threshold_uses_inner_training_rows_and_the_full_fold_model(monkeypatch):
    """Check that the inner rows lie in the training fold, that +tuned scores the test rows
    with the base model (same PR-AUC), and that its F1 is the F1 at the reported threshold."""
    X, y = bf.datasets.load("new-thyroid1")
    seen = []
    real_split = compare_module.inner_split

    def spy_split(y_train, seed, repeat, fold):
        fit_part, val_part = real_split(y_train, seed, repeat, fold)
        seen.append((fold, len(y_train), fit_part, val_part))
        return fit_part, val_part

    monkeypatch.setattr(compare_module, "inner_split", spy_split)
    result = bf.compare(
        X, y, strategies=["over"], tune_threshold="f1", n_splits=3, epochs=3
    )
    assert result.strategies == ["over", "over+tuned"]
    for fold, n_train, fit_part, val_part in seen:
        assert n_train == len(result.folds[fold][0])
        assert set(fit_part).isdisjoint(val_part) and max(val_part) < n_train
    codes = y.to_numpy()
    for fold, (_, test_idx) in enumerate(result.folds):
        base = result.records.query("strategy == 'over' and fold == @fold").iloc[0]
        tuned = result.records.query("strategy == 'over+tuned' and fold == @fold").iloc[
            0
        ]
        assert tuned["pr_auc"] == pytest.approx(base["pr_auc"])
        p = result.proba["over+tuned"][test_idx, 1]
        expected = f1_score(codes[test_idx], (p >= tuned["threshold"]).astype(int))
        assert tuned["minority_f1"] == pytest.approx(expected)
    assert result.records.query("strategy == 'over'")["threshold"].eq(0.5).all()


def test_tuned_thresholds_need_binary_targets():
    X = np.zeros((30, 2), dtype="float32")
    y = np.repeat([0, 1, 2], 10)
    with pytest.raises(bf.exceptions.InvalidParameterError, match="binary targets"):
        bf.compare(X, y, strategies=["none"], tune_threshold="f1")
