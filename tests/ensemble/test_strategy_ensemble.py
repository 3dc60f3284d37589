"""StrategyEnsemble: members, combination, and one safe .keras file."""

import subprocess
import sys

import keras
import numpy as np
import pytest

import balanceflow as bf
from balanceflow.ensemble import StrategyEnsemble
from balanceflow.ensemble._combine import log_loss
from balanceflow.exceptions import InvalidParameterError


def small_model(input_shape, n_classes):
    units, activation = (1, "sigmoid") if n_classes == 2 else (n_classes, "softmax")
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(units, activation=activation),
        ]
    )


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 4)).astype("float32")
    y = np.where(X[:, 0] + 0.5 * rng.normal(size=400) > 1.2, "fraud", "ok")
    return X[:300], y[:300], X[300:], y[300:]


@pytest.fixture(scope="module")
def fitted(data):
    X, y, X_val, y_val = data
    out = {}
    for combine in ("soft", "hard", "weighted"):
        ens = StrategyEnsemble(small_model, combine=combine, seed=3)
        out[combine] = ens.fit(
            X, y, validation_data=(X_val, y_val), epochs=3, verbose=0
        )
    return out


def test_members_train_on_their_own_data(fitted):
    """Check one member per strategy and string labels kept in classes_."""
    ens = fitted["soft"]
    assert len(ens.members_) == 3
    assert ens.classes_.tolist() == ["fraud", "ok"]


def test_soft_vote_is_mean_of_members(fitted, data):
    ens = fitted["soft"]
    members = ens.member_proba(data[2])
    np.testing.assert_allclose(
        ens.predict_proba(data[2]), members.mean(axis=0), rtol=1e-12
    )


def test_hard_vote_is_majority_of_member_labels(fitted, data):
    ens = fitted["hard"]
    labels = ens.member_proba(data[2]).argmax(axis=2)
    majority = (labels.sum(axis=0) >= 2).astype(int)  # three members, two classes
    np.testing.assert_array_equal(ens.predict(data[2]), ens.classes_[majority])


def test_weighted_weights_beat_the_best_member_on_validation(fitted, data):
    ens = fitted["weighted"]
    _, _, X_val, y_val = data
    codes = np.searchsorted(ens.classes_, y_val)
    assert np.all(ens.weights_ >= 0) and ens.weights_.sum() == pytest.approx(1.0)
    members = ens.member_proba(X_val)
    best = min(log_loss(codes, p) for p in members)
    assert log_loss(codes, ens.predict_proba(X_val)) <= best + 1e-9


@pytest.mark.parametrize("combine", ["soft", "hard", "weighted"])
def test_save_and_load_safe_mode_round_trip(fitted, data, tmp_path, combine):
    ens = fitted[combine]
    path = tmp_path / f"{combine}.keras"
    ens.save(str(path))
    loaded = keras.models.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        loaded.predict(data[2], verbose=0), ens.predict_proba(data[2]), atol=1e-6
    )


def test_loads_in_a_fresh_process_when_balanceflow_is_imported_first(
    fitted, tmp_path, data
):
    """Check that `import balanceflow` (before keras) is enough to load the file."""
    path = tmp_path / "ens.keras"
    fitted["soft"].save(str(path))
    np.save(tmp_path / "x.npy", data[2])
    code = (
        "import balanceflow, keras, numpy as np, sys\n"
        f"m = keras.models.load_model({str(path)!r}, safe_mode=True)\n"
        f"np.save({str(tmp_path / 'p.npy')!r}, m.predict(np.load({str(tmp_path / 'x.npy')!r}), verbose=0))\n"
    )
    subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, timeout=120
    )
    np.testing.assert_allclose(
        np.load(tmp_path / "p.npy"), fitted["soft"].predict_proba(data[2]), atol=1e-6
    )


def test_members_with_the_same_name_save_as_one_file(data, tmp_path):
    """Check that members built by a model_fn that names its model still save and load."""
    X, y, X_val, _ = data

    def named_model(input_shape, n_classes):
        return keras.Sequential(
            [keras.Input(input_shape), keras.layers.Dense(1, activation="sigmoid")],
            name="mlp",
        )

    ens = StrategyEnsemble(named_model, seed=0).fit(X, y, epochs=1, verbose=0)
    ens.save(str(tmp_path / "named.keras"))
    loaded = keras.models.load_model(tmp_path / "named.keras", safe_mode=True)
    np.testing.assert_allclose(
        loaded.predict(X_val, verbose=0), ens.predict_proba(X_val), atol=1e-6
    )


def test_class_weight_member_and_multiclass(data):
    """Check a class_weight member and a 3-class problem give (n, 3) probabilities."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3)).astype("float32")
    y = np.repeat([0, 1, 2], [80, 30, 10])
    ens = StrategyEnsemble(small_model, ["class_weight", "under"], seed=0)
    proba = ens.fit(X, y, epochs=1, verbose=0).predict_proba(X)
    assert proba.shape == (120, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)


def test_errors(data):
    X, y, _, _ = data
    with pytest.raises(InvalidParameterError, match="validation_data"):
        StrategyEnsemble(small_model, combine="weighted").fit(X, y, epochs=1)
    with pytest.raises(InvalidParameterError, match="combine='mean'"):
        StrategyEnsemble(small_model, combine="mean").fit(X, y)
    with pytest.raises(InvalidParameterError, match="'smote'"):
        StrategyEnsemble(small_model, ["none", "smote"]).fit(X, y)
    with pytest.raises(InvalidParameterError, match="must return a keras.Model"):
        StrategyEnsemble(lambda: "not a model").fit(X, y, epochs=1)
    with pytest.raises(InvalidParameterError, match=r"\.keras"):
        StrategyEnsemble(small_model).fit(X, y, epochs=1, verbose=0).save("model.h5")
    with pytest.raises(bf.exceptions.NotFittedError):
        StrategyEnsemble(small_model).predict(X)


def test_balanced_bagging_as_a_member_trains_each_bag_and_saves_their_mean(
    data, tmp_path
):
    """balanced_bagging in a StrategyEnsemble: five Keras models, each on every minority
    row and its own majority rows; with "over" beside it, each member counts once
    (over 1/2, each bag 1/10), in predict_proba and in the one saved file."""
    from balanceflow.strategies import Resample

    X, y, X_val, _ = data
    seen = []  # the rows each resampling part hands its model during fit
    original = Resample.apply

    def spy(self, setup):
        out = original(self, setup)
        seen.append((self.sampler, out.source_rows))
        return out

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Resample, "apply", spy)
        ens = StrategyEnsemble(small_model, ["over", "balanced_bagging"], seed=2)
        ens.fit(X, y, epochs=2, verbose=0)
    names = [s.name for s in ens.strategies_]
    assert names == ["over"] + [f"balanced_bagging_{i}" for i in range(1, 6)]
    bags = [rows for sampler, rows in seen if sampler == "under"]
    assert len(bags) == 5
    rare = y == "fraud"
    majorities = []
    for rows in bags:
        assert set(rows[rare[rows]]) == set(np.flatnonzero(rare))
        majorities.append(frozenset(rows[~rare[rows]]))
        assert len(majorities[-1]) == rare.sum()
    assert len(set(majorities)) == 5
    members = ens.member_proba(X_val)
    expected = 0.5 * members[0] + 0.5 * members[1:].mean(axis=0)
    np.testing.assert_allclose(ens.predict_proba(X_val), expected, rtol=1e-6)
    assert ens.combine_ == "weighted"
    np.testing.assert_allclose(ens.weights_, [0.5] + [0.1] * 5)
    ens.save(str(tmp_path / "bag.keras"))
    loaded = keras.models.load_model(str(tmp_path / "bag.keras"), safe_mode=True)
    np.testing.assert_allclose(
        np.asarray(loaded.predict(X_val, verbose=0)), expected, atol=1e-6
    )
    # Alone, the preset is the plain mean of its five models.
    alone = StrategyEnsemble(small_model, ["balanced_bagging"], seed=2)
    alone.fit(X, y, epochs=1, verbose=0)
    np.testing.assert_allclose(
        alone.predict_proba(X_val), alone.member_proba(X_val).mean(axis=0), rtol=1e-6
    )


def test_a_soft_vote_member_cannot_join_a_hard_vote(data):
    X, y, _, _ = data
    with pytest.raises(InvalidParameterError, match="balanced_bagging.*combine='hard'"):
        StrategyEnsemble(small_model, ["none", "balanced_bagging"], combine="hard").fit(
            X, y, epochs=1
        )


def test_sampling_strategy_and_weighted_vote_reach_a_soft_vote_member(data):
    """The ensemble's sampling_strategy reaches the bagged models too, and a weighted
    vote fits one weight per member, shared equally by a soft vote's models."""
    X, y, X_val, y_val = data
    ens = StrategyEnsemble(
        small_model,
        ["none", "balanced_bagging"],
        combine="weighted",
        sampling_strategy=0.5,
        seed=1,
    )
    ens.fit(X, y, validation_data=(X_val, y_val), epochs=1, verbose=0)
    for strategy in ens.strategies_[1:]:
        assert strategy.parts[0].sampling_strategy == 0.5
    bag = ens.weights_[1:]
    np.testing.assert_allclose(bag, bag[0])  # the five bags share one weight
    assert ens.weights_.sum() == pytest.approx(1.0)
    members = ens.member_proba(X_val)
    expected = ens.weights_[0] * members[0] + bag.sum() * members[1:].mean(axis=0)
    np.testing.assert_allclose(ens.predict_proba(X_val), expected, rtol=1e-6)
