"""Early stopping: the rows a model holds out, the score it stops on, and the same
stopping alone and stacked.

The independent expectations: hand counts for the split, scikit-learn's weighted log
loss for the score, the training itself for the best epoch (a model stopped early with
its best epoch ``e`` has the weights of the same model trained exactly ``e + 1`` epochs
on the same rows), and the row ids the score functions actually receive for "never the
scored rows".
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import log_loss

from balanceflow.exceptions import InvalidParameterError
from balanceflow.strategies import get
from balanceflow.training import Recipe, Trial, TrialData, _stopping, run_group
from balanceflow.training._recipe import auto_batch_size, auto_epochs

# Strategies that feed rows in every way the engines know: every row once per epoch,
# class weights, an index sampler, an epoch-wise pipeline, a loss from the counts and a
# deferred re-weighting schedule.
STRATEGIES = ["none", "class_weight", "over", "under_epochwise", "focal", "ldam_drw"]


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(4)
    n = 360
    X = rng.normal(size=(n, 4)).astype(np.float32)
    y = (X[:, 1] + 1.5 * rng.normal(size=n) > 1.8).astype(int)  # noisy: it over-fits
    X[:, 0] = np.arange(n)  # each row's id, to see which rows a model is scored on
    X[:, 0] /= n  # (kept small: it is also a feature)
    return X, y


def _ids(X_part: np.ndarray, n: int) -> np.ndarray:
    return np.rint(np.asarray(X_part)[:, 0] * n).astype(int)


def test_the_validation_split_is_stratified_disjoint_and_keeps_a_lone_row():
    codes = np.array([0] * 50 + [1] * 7 + [2] * 1)
    rows = np.arange(58)[::-1]  # any order of the trial's rows
    fit, held = _stopping.validation_rows(rows, codes, 0.1, seed=3)
    # round(0.1 * 50) = 5, round(0.1 * 7) = 1 (at least one), none of the lone row.
    assert np.bincount(codes[held], minlength=3).tolist() == [5, 1, 0]
    assert np.intersect1d(fit, held).size == 0
    assert sorted(np.concatenate([fit, held]).tolist()) == list(range(58))
    assert 57 in fit  # the class of one row keeps it for training
    # Each part keeps the order of the rows given.
    assert np.all(np.diff(fit) < 0) and np.all(np.diff(held) < 0)
    again = _stopping.validation_rows(rows, codes, 0.1, seed=3)
    np.testing.assert_array_equal(again[1], held)
    other = _stopping.validation_rows(rows, codes, 0.1, seed=4)
    assert not np.array_equal(other[1], held)


def test_the_validation_split_is_capped():
    codes = np.arange(300_000) % 3
    fit, held = _stopping.validation_rows(np.arange(300_000), codes, 0.2, seed=0)
    assert len(held) == _stopping.MAX_VALIDATION_ROWS
    assert len(fit) + len(held) == 300_000


@pytest.mark.parametrize("shape", ["sigmoid", "softmax"])
def test_the_score_is_scikit_learns_log_loss_with_balanced_row_weights(shape):
    rng = np.random.default_rng(0)
    labels = np.array([0] * 40 + [1] * 4 + ([2] * 6 if shape == "softmax" else []))
    if shape == "sigmoid":
        outputs = rng.uniform(0.01, 0.99, size=(len(labels), 1))
        columns = np.hstack([1 - outputs, outputs])
    else:
        outputs = rng.dirichlet(np.ones(3), size=len(labels))
        columns = outputs
    counts = np.bincount(labels)
    weights = 1 / counts[labels]
    expected = log_loss(labels, columns, sample_weight=weights)
    assert _stopping.balanced_log_loss(outputs, labels) == pytest.approx(expected)
    # Each class weighs the same: the mean over classes of each class's mean loss.
    per_class = [
        log_loss(labels[labels == k], columns[labels == k], labels=range(len(counts)))
        for k in range(len(counts))
    ]
    assert _stopping.balanced_log_loss(outputs, labels) == pytest.approx(
        np.mean(per_class)
    )


def test_auto_settings_follow_the_table_size():
    assert [auto_epochs(n) for n in (200, 1000, 10_000, 100_000, 1_000_000)] == [
        200,
        200,
        63,
        20,
        20,
    ]
    assert [auto_batch_size(n) for n in (200, 4096, 10_000, 100_000, 1_000_000)] == [
        64,
        64,
        128,
        2048,
        2048,
    ]
    auto = Recipe().for_rows(10_000)
    assert (auto.epochs, auto.batch_size, auto.early_stopping, auto.patience) == (
        63,
        128,
        True,
        6,
    )
    # Early stopping needs 200 rows of every class (20 held out); below, a fixed budget
    # of at most 60 epochs.
    rare = Recipe().for_rows(np.repeat([0, 1], [9_801, 199]))
    assert (rare.epochs, rare.batch_size, rare.early_stopping) == (60, 128, False)
    enough = Recipe().for_rows(np.repeat(["a", "b"], [9_800, 200]))
    assert (enough.epochs, enough.early_stopping, enough.patience) == (63, True, 6)
    assert Recipe().for_rows(np.repeat([0, 1], [100, 30])).epochs == 60
    # Given epochs are trained exactly, unless early stopping is asked for.
    assert Recipe(epochs=30, batch_size=64).for_rows(10_000).early_stopping is False
    assert Recipe(epochs=30, early_stopping=True).for_rows(10).patience == 5
    assert Recipe(epochs=30, batch_size=64).for_rows(5).settings() == {
        "model": "default MLP",
        "epochs": 30,
        "batch_size": 64,
        "learning_rate": 0.001,
        "seed": 0,
    }


@pytest.mark.parametrize(
    "options, named",
    [
        ({"epochs": "ten"}, "epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"patience": -1}, "patience"),
        ({"early_stopping": "yes"}, "early_stopping"),
        ({"validation_fraction": 0.7}, "validation_fraction"),
        ({"validation_fraction": True}, "validation_fraction"),
        # Settings of early stopping where it is off would be silently ignored.
        ({"epochs": 30, "patience": 3}, "patience"),
        ({"early_stopping": False, "validation_fraction": 0.2}, "validation_fraction"),
    ],
)
def test_bad_recipe_settings_are_refused_by_name(options, named):
    with pytest.raises(InvalidParameterError, match=rf"`{named}`.*Received: {named}="):
        Recipe(**options)
    # Early-stopping settings are fine where early stopping is on.
    if named in ("patience", "validation_fraction") and len(options) == 2:
        Recipe(**{**options, "early_stopping": True})


def _trials(names, train, test, seed=0):
    return [
        Trial(get(n), train, test, seed=seed + i, init_seed=1, keep_model=True, tag=n)
        for i, n in enumerate(names)
    ]


RECIPE = Recipe(
    epochs=30, batch_size=32, learning_rate=0.01, early_stopping=True, patience=2
)


@pytest.fixture(scope="module")
def stopped(table):
    """Both engines on the same trials with early stopping, and the rows their score
    functions were handed."""
    from balanceflow.training import _fused

    X, y = table
    n = len(y)
    seen: dict[str, list[np.ndarray]] = {"loop": [], "fused": []}
    original = _stopping.best_epoch_callback

    def spy_callback(X_val, *args):
        seen["loop"].append(_ids(X_val, n))
        return original(X_val, *args)

    class SpyStack(_fused._Stack):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            if self.stopping:
                rows, weights = (np.asarray(a) for a in self._held[:2])
                used = weights > 0
                seen["fused"].extend(_ids(X[r[u]], n) for r, u in zip(rows, used))

    data = TrialData(X, y, 2)
    train, test = np.arange(0, 280), np.arange(280, n)
    trials = _trials(STRATEGIES, train, test)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_stopping, "best_epoch_callback", spy_callback)
        patch.setattr(_fused, "_Stack", SpyStack)
        loop = run_group(data, RECIPE, trials, "loop")
        fused = run_group(data, RECIPE, trials, "fused")
    return trials, loop, fused, seen, train, test


def test_early_stopping_never_sees_scored_rows(stopped):
    trials, _, _, seen, train, test = stopped
    assert len(seen["loop"]) == len(trials)
    assert len(seen["fused"]) >= len(trials)  # a repacked stack holds them again
    for ids in seen["loop"] + seen["fused"]:
        assert len(ids) == 28  # round(0.1 * the 280 training rows), by class
        assert np.isin(ids, train).all()
        assert not np.isin(ids, test).any()


@pytest.mark.parametrize("name", STRATEGIES)
def test_a_fused_member_stops_where_it_stops_alone(stopped, name):
    _, loop, fused, *_ = stopped
    alone = {r.tag: r for r in loop}[name]
    stacked = {r.tag: r for r in fused}[name]
    assert stacked.engine == "fused" and stacked.group_size == len(STRATEGIES)
    assert alone.best_epoch == stacked.best_epoch
    # Up to 30 epochs of float32 round-off (sums in another order): atol 1e-5 here,
    # against 1e-6 after the 3 epochs of test_fused.py.
    for a, b in zip(alone.weights, stacked.weights):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(stacked.proba, alone.proba, atol=1e-5)


def test_some_members_stopped_before_the_budget(stopped):
    """The equality above covers stopping, not only runs to the last epoch."""
    _, loop, *_ = stopped
    epochs = [r.best_epoch for r in loop]
    assert min(epochs) < RECIPE.epochs - 1 - RECIPE.patience, epochs
    assert len(set(epochs)) > 1, epochs


@pytest.mark.parametrize("engine", ["loop", "fused"])
def test_the_kept_weights_are_those_of_training_to_the_best_epoch(
    stopped, table, engine
):
    """Stopping at best epoch e keeps exactly the model trained e + 1 epochs on the same
    rows without early stopping (the epochs' batches do not depend on the budget)."""
    X, y = table
    trials, loop, fused, _, train, test = stopped
    results = {r.tag: r for r in (loop if engine == "loop" else fused)}
    data = TrialData(X, y, 2)
    for trial in trials[:3]:
        result = results[trial.tag]
        fit_rows, _ = _stopping.validation_rows(
            train, y, RECIPE.validation_fraction, trial.init_seed
        )
        again = run_group(
            data,
            Recipe(epochs=result.best_epoch + 1, batch_size=32, learning_rate=0.01),
            [Trial(trial.strategy, fit_rows, test, trial.seed, 1, keep_model=True)],
            "loop",
        )[0]
        for a, b in zip(again.weights, result.weights):
            np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)


def test_a_stopped_member_is_frozen_exactly(two_member_stack, run_steps):
    """Once out of patience, a member's weights, moments and step count stay bit for bit
    while the other member trains on."""
    stack = two_member_stack(stopping=True, stopped=(False, True))
    before = stack.state()
    ends = np.tile(np.arange(6, dtype="i4")[:, None], (1, 2))  # an epoch a step
    run_steps(stack, 6, ends=ends)
    after = stack.state()
    for name in ("params", "m", "v", "t", "best", "best_epoch", "wait"):
        np.testing.assert_array_equal(after[name][1], before[name][1])
    assert not np.array_equal(after["params"][0], before["params"][0])
    assert after["t"].tolist() == [6.0, 0.0]
    assert after["best_epoch"][0] >= 0  # member 0 was scored at its epoch ends


def test_the_score_brings_the_outputs_to_equal_priors_first():
    """With the prior a model trains under, its probabilities go through Bayes' rule
    (divide by the prior, renormalise) before the balanced log loss; a model that
    answers to the data's prior is not judged worse for it."""
    rng = np.random.default_rng(1)
    labels = np.array([0] * 30 + [1] * 3)
    p = rng.uniform(0.01, 0.6, size=len(labels))
    prior = np.array([0.9, 0.1])
    odds = (p / 0.1) / ((p / 0.1) + (1 - p) / 0.9)  # P(1) under equal priors
    expected = log_loss(
        labels,
        np.column_stack([1 - odds, odds]),
        sample_weight=1 / np.bincount(labels)[labels],
    )
    assert _stopping.balanced_log_loss(p, labels, prior) == pytest.approx(
        expected, rel=1e-5
    )
    # Equal priors change nothing.
    assert _stopping.balanced_log_loss(p, labels, [0.5, 0.5]) == pytest.approx(
        _stopping.balanced_log_loss(p, labels)
    )
    # The prior of a strategy is the one compare corrects with.
    from balanceflow.strategies import get

    counts = np.array([90, 10])
    labels_of = np.repeat([0, 1], counts)
    np.testing.assert_allclose(
        _stopping.training_prior(get("none"), labels_of, 2), [0.9, 0.1]
    )
    np.testing.assert_allclose(
        _stopping.training_prior(get("over"), labels_of, 2), [0.5, 0.5]
    )


def test_compare_holds_out_rows_of_each_training_fold_only(monkeypatch):
    """Through compare (a transformer per fold, both engines): every held-out set lies in
    the training fold of the trial, never in the fold it is scored on; the settings
    record the recipe's numbers and the engine line which epochs were kept."""
    import pandas as pd

    import balanceflow as bf

    rng = np.random.default_rng(2)
    X = pd.DataFrame(rng.normal(size=(150, 3)), columns=["a", "b", "c"])
    X["kind"] = rng.choice(["x", "y"], size=150)
    y = (X["a"] + rng.normal(size=150) > 1.0).astype(int)
    calls = []
    original = _stopping.validation_rows

    def spy(rows, codes, fraction, seed):
        fit, held = original(rows, codes, fraction, seed)
        calls.append((np.sort(rows), held))
        return fit, held

    monkeypatch.setattr(_stopping, "validation_rows", spy)
    for engine in ("fused", "loop"):
        calls.clear()
        result = bf.compare(
            X,
            y,
            strategies=["none", "over"],
            recipe=Recipe(epochs=4, early_stopping=True, patience=2),
            n_splits=3,
            baselines="none",
            data_checks=False,
            engine=engine,
        )
        assert len(calls) == 6  # 2 strategies x 3 folds
        by_fold: dict[bytes, set[bytes]] = {}
        for rows, held in calls:
            by_fold.setdefault(rows.tobytes(), set()).add(np.sort(held).tobytes())
        # Both strategies of a fold hold out the same rows: their scores stay paired.
        assert len(by_fold) == 3 and all(len(h) == 1 for h in by_fold.values())
        for rows, held in calls:
            fold = [
                f
                for f, (train, _) in enumerate(result.folds)
                if np.array_equal(train, rows)
            ]
            assert len(fold) == 1
            train, test = result.folds[fold[0]]
            assert len(held) > 0 and np.isin(held, train).all()
            assert not np.isin(held, test).any()
        assert result.settings["epochs"] == 4
        assert result.settings["early_stopping"]["patience"] == 2
        assert "early stopping kept epoch" in result.settings["engine"]


def test_deferred_reweighting_is_judged_from_its_first_reweighted_epoch(stopped):
    """ldam_drw re-weights from epoch round(0.8 * 30) = 24: early stopping keeps no
    epoch before that (it would silently drop the re-weighting), on either engine,
    while the models without a schedule may stop long before it."""
    _, loop, fused, *_ = stopped
    for results in (loop, fused):
        epochs = {r.tag: r.best_epoch for r in results}
        assert epochs["ldam_drw"] >= 24, epochs
        assert min(epochs.values()) < 24, epochs


def test_a_model_no_prior_describes_is_scored_as_trained():
    """LDAM's margins change the probabilities in a way no prior describes ("unknown"):
    the score then applies no correction (equal priors), as compare leaves them."""
    labels = np.repeat([0, 1], [90, 10])
    np.testing.assert_allclose(
        _stopping.training_prior(get("ldam_drw"), labels, 2), [0.5, 0.5]
    )


def test_engines_agree_with_held_out_sets_of_different_sizes_and_three_classes():
    """Members of one stack with different training rows (so held-out sets of different
    sizes, padded in the stack) and a softmax head over three classes stop where they
    stop alone."""
    rng = np.random.default_rng(7)
    n = 420
    X = rng.normal(size=(n, 4)).astype(np.float32)
    y = np.digitize(X[:, 0] + rng.normal(size=n), [0.6, 1.6])  # 3 classes, 2 rare
    data = TrialData(X, y, 3)
    recipe = Recipe(
        epochs=24, batch_size=32, learning_rate=0.01, early_stopping=True, patience=2
    )
    test = np.arange(320, n)
    trials = [
        Trial(get(name), np.arange(0, rows), test, seed=i, init_seed=i, tag=name)
        for i, (name, rows) in enumerate(
            [("none", 320), ("over", 200), ("class_weight", 260), ("under", 320)]
        )
    ]
    loop = run_group(data, recipe, trials, "loop")
    fused = run_group(data, recipe, trials, "fused")
    assert {r.engine for r in fused} == {"fused"}
    for alone, stacked in zip(loop, fused):
        assert alone.best_epoch == stacked.best_epoch, alone.tag
        np.testing.assert_allclose(stacked.proba, alone.proba, atol=1e-5)
    assert len({r.best_epoch for r in loop}) > 1
