"""One training path: StrategyEnsemble takes every preset, the positive class is decided
once, and the recipe and strategy classes refuse what they cannot honour."""

import keras
import numpy as np
import pandas as pd
import pytest

import balanceflow as bf
from balanceflow.exceptions import InvalidParameterError
from balanceflow.model_selection import fit_best
from balanceflow.strategies import Ensemble, EpochwiseBalance, Resample, Strategy, Tuned
from balanceflow.training import Recipe, StrategyEnsemble


def small_model(input_shape, n_classes):
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )


def test_strategy_ensemble_takes_losses_and_pipelines_and_saves_one_safe_file(
    binary_data, tmp_path
):
    """Check that focal, under_epochwise and ldam_drw members train, that the ensemble
    saves as one .keras file, and that it reloads with safe_mode=True to the same
    probabilities (the soft vote of the members)."""
    X, y = binary_data
    ens = StrategyEnsemble(
        small_model, strategies=["focal", "under_epochwise", "ldam_drw"], seed=2
    ).fit(X, y, epochs=2)
    assert [s.name for s in ens.strategies_] == ["focal", "under_epochwise", "ldam_drw"]
    members = ens.member_proba(X)
    assert members.shape == (3, len(X), 2)
    # Differently trained members disagree; the soft vote is their mean.
    assert np.abs(members[0] - members[1]).max() > 1e-4
    np.testing.assert_allclose(ens.predict_proba(X), members.mean(axis=0), rtol=1e-12)
    path = tmp_path / "ensemble.keras"
    ens.save(str(path))
    assert [p.name for p in tmp_path.iterdir()] == ["ensemble.keras"]
    loaded = keras.models.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        loaded.predict(X, verbose=0), ens.predict_proba(X), atol=1e-6
    )


def test_strategy_ensemble_members_are_the_runners_trials(binary_data):
    """Check that a member equals the same strategy trained as a trial by hand (same
    seeds): the ensemble has no training code of its own."""
    from balanceflow._validation import derive_seed
    from balanceflow.strategies import get
    from balanceflow.training import Trial, TrialData, run_trial

    X, y = binary_data
    ens = StrategyEnsemble(small_model, strategies=["none", "focal"], seed=4)
    ens.fit(X, y, epochs=2, batch_size=32)
    recipe = Recipe(small_model, epochs=2, batch_size=32, seed=4)
    data = TrialData(features=X, codes=y, n_classes=2)
    trial = Trial(
        get("focal"),
        None,
        np.arange(len(y)),
        seed=derive_seed(4, "member", 1, "focal"),
        init_seed=4,
    )
    expected = run_trial(data, recipe, trial).proba
    np.testing.assert_allclose(ens.member_proba(X)[1], expected, atol=1e-6)


def test_strategy_ensemble_rejects_ensembles_and_unknown_fit_options(binary_data):
    X, y = binary_data
    from balanceflow.strategies import Ensemble

    # A soft vote of models can be a member (tests/ensemble); a hard vote cannot.
    hard = Ensemble("hard_vote", ["none", "over"], "hard")
    with pytest.raises(InvalidParameterError, match="single-model strategies"):
        StrategyEnsemble(small_model, strategies=["none", hard]).fit(X, y)
    with pytest.raises(InvalidParameterError, match=r"does not take \['callbacks'\]"):
        StrategyEnsemble(small_model).fit(X, y, callbacks=[])


def test_a_balanced_binary_table_thresholds_the_same_class_in_compare_and_fit():
    """Check that with exactly as many rows of each class, compare and fit both decide
    for the class sorted last ('yes'), threshold its probability, and say so."""
    rng = np.random.default_rng(0)
    n = 60
    labels = np.array(["no", "yes"] * (n // 2))
    X = pd.DataFrame(
        {"a": rng.normal(size=n) + (labels == "yes"), "b": rng.normal(size=n)}
    )
    settings = {"n_splits": 3, "epochs": 1}
    result = bf.compare(X, labels, strategies=["none"], **settings)
    assert result.settings["pos_label"] == "yes" and result.positive == 1
    fitted = fit_best(X, labels, strategy="none", bag=0, vote=1, **settings)
    assert fitted.card["decision"]["pos_label"] == "yes"
    assert fitted.threshold_class == 1
    # The decision rule thresholds P(yes): a row is 'yes' exactly when P(yes) >= threshold.
    proba = fitted.predict_proba(X)
    expected = np.where(proba[:, 1] >= fitted.threshold, "yes", "no")
    np.testing.assert_array_equal(fitted.predict(X), expected)
    # compare's label metrics are those of thresholding P(yes) at 0.5, fold by fold.
    for fold, (_, test) in enumerate(result.folds):
        row = result.records.query("fold == @fold").iloc[0]
        p = result.proba["none"][test, 1]
        report = bf.evaluate(
            labels[test], p, threshold=0.5, classes=["no", "yes"], pos_label="yes"
        )
        assert row["minority_f1"] == pytest.approx(report.minority_f1)
        assert row["pr_auc"] == pytest.approx(report.pr_auc)


def test_pos_label_picks_the_class_whose_probability_is_thresholded():
    """Check that pos_label=0 on a table whose minority is 1 thresholds P(0)."""
    X, y = bf.datasets.load("new-thyroid1")
    result = bf.compare(X, y, strategies=["none"], n_splits=2, epochs=1, pos_label=0)
    assert result.settings["pos_label"] == 0 and result.positive == 0
    test = result.folds[0][1]
    p0 = result.proba["none"][test, 0]
    truth = (y.to_numpy()[test] == 0).astype(int)
    expected = bf.evaluate(truth, p0, threshold=0.5)
    row = result.records.query("fold == 0").iloc[0]
    assert row["minority_f1"] == pytest.approx(expected.f1[1])
    with pytest.raises(InvalidParameterError, match="pos_label"):
        bf.compare(X, y, strategies=["none"], pos_label="1")  # "1" is not the label 1


def test_recipe_and_its_keywords_are_one_or_the_other():
    X, y = bf.datasets.load("new-thyroid1")
    with pytest.raises(InvalidParameterError, match=r"\['epochs'\] inside the recipe"):
        bf.compare(X, y, recipe=Recipe(epochs=2), epochs=3)
    for bad in ({"epochs": 0}, {"batch_size": 2.5}, {"learning_rate": 2.0}):
        with pytest.raises(InvalidParameterError, match=next(iter(bad))):
            Recipe(**bad)


def test_strategy_modes_are_separate_classes_with_clear_errors():
    with pytest.raises(InvalidParameterError, match=r"Use Ensemble\('v'"):
        Strategy("v", members=("none", "over"))
    with pytest.raises(InvalidParameterError, match=r"Tuned\(strategy, objective\)"):
        Strategy("t", tune_threshold="f1")
    with pytest.raises(InvalidParameterError, match="both a sampler and a pipeline"):
        Strategy("x", sampler="over", pipeline="under")
    with pytest.raises(InvalidParameterError, match="resamples twice"):
        Strategy("x", [Resample("over"), EpochwiseBalance("under")])
    with pytest.raises(InvalidParameterError, match="objective"):
        Tuned(Strategy("s"), "banana")
    with pytest.raises(InvalidParameterError, match="combine='weighted'"):
        Ensemble("w", ["none", "over"], "weighted")
    with pytest.raises(InvalidParameterError, match="single strategies"):
        Ensemble("e", ["none", Ensemble("inner", ["none"])])


def test_strategy_ensemble_sampling_strategy_reaches_its_resampling_members(
    binary_data,
):
    """Check that sampling_strategy=0.5 makes the 'under' member keep twice as many
    majority rows as minority rows, and leaves the plain member alone."""
    X, y = binary_data
    members = StrategyEnsemble(
        small_model, ["none", "under"], sampling_strategy=0.5
    )._members()
    assert members[0].parts == ()
    (part,) = members[1].parts
    assert part == Resample("under", 0.5)
    from balanceflow.strategies import TrainingSetup

    setup = part.apply(TrainingSetup(X, y, 2, 1, 32, seed=0))
    counts = np.bincount(setup.y)
    assert counts[0] == 2 * counts[1] == 2 * np.bincount(y)[1]
