"""The fused engine: many models stacked into one computation, each trained exactly as it
would be alone.

The reference is the one-at-a-time path (``engine="loop"``, Keras' own ``model.fit``
with Keras' Adam) on the same trials: both feed each model the same batches, so the
weights must agree up to float32 round-off (batched and plain matrix products sum in
different orders).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import balanceflow as bf
from balanceflow.exceptions import InvalidParameterError
from balanceflow.strategies import PRESETS, Strategy, get
from balanceflow.training import Recipe, Trial, TrialData, get_runner, run_group

# Every single-model preset: plain training, class weights, both samplers, the
# epoch-wise pipelines (under-sampling and SMOTE-like interpolation), and every loss,
# LDAM with deferred re-weighting included.
SINGLE = [name for name, s in PRESETS.items() if isinstance(s, Strategy)]


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 5)).astype(np.float32)
    y = (X[:, 0] + 0.5 * rng.normal(size=400) > 1.3).astype(int)  # about 10% positive
    return X, y


def _trials(names, train, test, seed=0):
    return [
        Trial(get(n), train, test, seed=seed + i, init_seed=3, keep_model=True, tag=n)
        for i, n in enumerate(names)
    ]


@pytest.fixture(scope="module")
def both_engines(table):
    """Every single-model preset trained for 3 epochs (LDAM-DRW switches its weights
    on at epoch 2) by both engines."""
    X, y = table
    data = TrialData(X, y, 2)
    recipe = Recipe(epochs=3, batch_size=32)
    trials = _trials(SINGLE, np.arange(300), np.arange(300, 400))
    return run_group(data, recipe, trials, "loop"), run_group(
        data, recipe, trials, "fused"
    )


@pytest.mark.parametrize("name", SINGLE)
def test_a_fused_model_trains_to_the_weights_it_gets_alone(both_engines, name):
    loop, fused = ({r.tag: r for r in results} for results in both_engines)
    assert fused[name].engine == "fused" and loop[name].engine == "loop"
    assert fused[name].group_size == len(SINGLE)
    for alone, stacked in zip(loop[name].weights, fused[name].weights):
        assert alone.shape == stacked.shape
        np.testing.assert_allclose(stacked, alone, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fused[name].proba, loop[name].proba, atol=1e-6)


def test_the_models_actually_trained_and_differently(both_engines, table):
    """The equality above is not the trivial one: the models moved from their common
    start, and the strategies ended in different places."""
    X, _ = table
    _, fused = both_engines
    start = Recipe().build((X.shape[1],), 2, seed=3).get_weights()
    finals = {r.tag: r.weights for r in fused}
    for weights in finals.values():
        assert max(np.abs(w - s).max() for w, s in zip(weights, start)) > 1e-3
    assert not np.allclose(finals["none"][0], finals["under"][0])
    assert not np.allclose(finals["focal"][0], finals["class_balanced"][0])


def test_a_frozen_member_keeps_its_weights_and_adam_state_exactly(
    two_member_stack, run_steps
):
    """A member inactive in a step (done, or waiting) is left bit for bit as it was,
    moments and step count included, while the active member moves."""
    stack = two_member_stack()
    before = stack.state()
    active = np.zeros((4, 2), bool)
    active[:, 0] = True  # member 1 frozen throughout
    run_steps(stack, 4, active)
    after = stack.state()
    for name in ("params", "m", "v", "t"):
        np.testing.assert_array_equal(after[name][1], before[name][1])
        assert not np.array_equal(after[name][0], before[name][0])
    assert after["t"].tolist() == [4.0, 0.0]  # Adam's step counts: member 0 took 4


def _dropout_model(input_shape, n_classes):
    import keras

    inputs = keras.Input(shape=input_shape)
    x = keras.layers.Dense(8, activation="relu")(inputs)
    x = keras.layers.Dropout(0.2)(x)
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))


def test_a_model_that_cannot_be_stacked_trains_alone_and_says_why(table):
    X, y = table
    data = TrialData(X, y, 2)
    recipe = Recipe(model_fn=_dropout_model, epochs=1)
    trials = _trials(["none", "over"], np.arange(300), np.arange(300, 400))
    results = run_group(data, recipe, trials, "auto")
    assert [r.engine for r in results] == ["loop", "loop"]
    assert "Dropout" in results[0].engine_note
    expected = run_group(data, recipe, trials, "loop")
    for got, want in zip(results, expected):
        np.testing.assert_array_equal(got.proba, want.proba)
    with pytest.raises(InvalidParameterError, match="Dropout"):
        run_group(data, recipe, trials, "fused")


def test_a_sampler_without_indices_trains_alone_under_auto(table):
    """imbalanced-learn's SMOTE makes rows of its own: that trial cannot gather from the
    shared rows, so it trains alone while the others stack."""
    from imblearn.over_sampling import SMOTE

    X, y = table
    data = TrialData(X, y, 2)
    smote = Strategy("smote", sampler=SMOTE(random_state=0))
    trials = [
        Trial(s, np.arange(300), np.arange(300, 400), seed=1, init_seed=3, tag=s.name)
        for s in (get("none"), get("under"), smote)
    ]
    results = {r.tag: r for r in run_group(data, Recipe(epochs=1), trials, "auto")}
    assert results["none"].engine == results["under"].engine == "fused"
    assert results["smote"].engine == "loop"
    assert "sample_indices_" in results["smote"].engine_note


def _logistic(input_shape, n_classes):
    import keras

    return keras.Sequential(
        [keras.Input(input_shape), keras.layers.Dense(1, "sigmoid", use_bias=False)]
    )


def test_a_model_of_one_weight_stacks_and_trains_as_alone(table):
    """One Dense layer without bias: the stack holds a single weight per member."""
    X, y = table
    data = TrialData(X, y, 2)
    recipe = Recipe(model_fn=_logistic, epochs=2, batch_size=32)
    trials = _trials(["none", "class_weight"], np.arange(300), np.arange(300, 400))
    loop, fused = (run_group(data, recipe, trials, e) for e in ("loop", "fused"))
    for alone, stacked in zip(loop, fused):
        assert stacked.engine == "fused"
        np.testing.assert_allclose(stacked.weights[0], alone.weights[0], rtol=1e-5)


def test_unknown_engine_names_the_choices():
    with pytest.raises(InvalidParameterError, match=r"engine.*'auto', 'fused', 'loop'"):
        get_runner(engine="fast")
    with pytest.raises(InvalidParameterError, match="Did you mean 'fused'"):
        bf.compare(np.zeros((10, 2)), [0, 1] * 5, engine="fussed")


def test_compare_fused_equals_compare_loop_with_folds_of_different_widths():
    """A category seen in some training folds only gives folds one-hot tables of
    different widths; the fused engine pads them (zero kernel rows that stay zero) and
    must still reproduce the loop's out-of-fold probabilities."""
    rng = np.random.default_rng(2)
    n = 160
    colour = np.array(["red", "green", "blue"])[rng.integers(0, 3, n)]
    colour[:3] = "violet"  # rare: missing from the training rows of some folds
    frame = pd.DataFrame({"x": rng.normal(size=n), "colour": colour})
    y = (frame["x"] + rng.normal(size=n) > 1.2).astype(int)
    runs = {
        engine: bf.compare(
            frame,
            y,
            strategies=["none", "class_weight", "under"],
            n_splits=3,
            epochs=2,
            engine=engine,
        )
        for engine in ("loop", "fused")
    }
    assert runs["fused"].settings["engine"].startswith("fused: 9 models")
    assert runs["loop"].settings["engine"] == "loop: 9 models"
    for name in ("none", "class_weight", "under"):
        np.testing.assert_allclose(
            runs["fused"].proba[name], runs["loop"].proba[name], atol=1e-5
        )


def test_balanced_bagging_members_each_see_every_minority_row_and_other_majority_rows():
    """Each member of the preset trains on its own random under-sample: all minority
    rows, an equal number of majority rows, different ones for each member."""
    from balanceflow.model_selection._compare import fold_seed
    from balanceflow.strategies import TrainingSetup

    rng = np.random.default_rng(4)
    y = (rng.random(300) < 0.1).astype(int)
    X = rng.normal(size=(300, 3)).astype(np.float32)
    bagging = get("balanced_bagging")
    seeds = [fold_seed(0, "trial", 0, 0, leaf.name) for leaf in bagging.leaves()]
    majority_sets = []
    for leaf, seed in zip(bagging.leaves(), seeds):
        setup = TrainingSetup(X=X, y=y, n_classes=2, epochs=1, batch_size=32, seed=seed)
        for part in leaf.parts:
            setup = part.apply(setup)
        rows = setup.source_rows
        assert set(rows[y[rows] == 1]) == set(np.flatnonzero(y == 1))
        majority = frozenset(rows[y[rows] == 0])
        assert len(majority) == (y == 1).sum()
        majority_sets.append(majority)
    assert len(set(majority_sets)) == len(majority_sets)


def test_balanced_bagging_is_the_mean_of_its_members(table):
    X, y = table
    bagging = get("balanced_bagging")
    result = bf.compare(
        X, y, strategies=[bagging, *bagging.leaves()], n_splits=2, epochs=1
    )
    members = np.mean([result.proba[leaf.name] for leaf in bagging.leaves()], axis=0)
    np.testing.assert_allclose(result.proba["balanced_bagging"], members, atol=1e-12)
    assert result.settings["engine"].startswith("fused: 10 models")


def test_frames_without_a_transformer_share_one_copy_and_images_train_alone(table):
    """Two folds of untransformed rows gather from one copy of them (and still train
    as they do alone); image rows cannot be stacked, so they train alone and say so."""
    X, y = table
    trials = [
        Trial(
            get(n),
            rows,
            None,
            seed=1,
            init_seed=3,
            keep_model=True,
            tag=(n, k),
            frame=k,
        )
        for k, rows in enumerate((np.arange(200), np.arange(200, 400)))
        for n in ("none", "under")
    ]
    data = TrialData(X, y, 2, frames={0: np.arange(200), 1: np.arange(200, 400)})
    recipe = Recipe(epochs=1)
    fused = run_group(data, recipe, trials, "fused")
    loop = run_group(data, recipe, trials, "loop")
    for a, b in zip(fused, loop):
        assert a.engine == "fused"
        for u, v in zip(a.weights, b.weights):
            np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)
    images = TrialData(np.random.default_rng(0).random((40, 6, 6)), y[:40], 2)
    image_trials = [
        Trial(
            get("none"),
            np.arange(30),
            np.arange(30, 40),
            seed=1,
            init_seed=0,
            tag=k,
            frame=k,
        )
        for k in range(2)
    ]
    results = run_group(images, recipe, image_trials, "auto")
    assert [r.engine for r in results] == ["loop", "loop"]
    assert "table rows" in results[0].engine_note
    with pytest.raises(InvalidParameterError, match="table rows"):
        run_group(images, recipe, image_trials, "fused")
