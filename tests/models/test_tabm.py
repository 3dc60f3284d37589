"""TabM: k members sharing one kernel per layer, each with its own adapters and head.

Independent expectations: the BatchEnsemble formula computed in numpy from the layer's
weights, the mean of the members' probabilities, the members' binary cross-entropies
averaged by hand, a saved-and-loaded copy, and learning on a separable table.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

import balanceflow as bf
from balanceflow.exceptions import InvalidParameterError
from balanceflow.models import EnsembleLinear, tabm
from balanceflow.training import Recipe


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 5)).astype("f4")
    y = (X[:, 0] + 0.3 * rng.normal(size=64) > 0.8).astype(int)
    return X, y, tabm((5,), 2, k=4, units=(8, 6), dropout=0.0)


def _np_layer(layer: EnsembleLinear, z: np.ndarray) -> np.ndarray:
    w = {v.name: keras.ops.convert_to_numpy(v) for v in layer.weights}
    if layer.adapters:
        z = z * w["r"]
    if layer.shared:
        out = z @ w["kernel"]
    else:
        out = np.einsum("bkd,kdu->bku", z, w["kernel"])
    if layer.adapters:
        out = out * w["s"]
    return out + w["bias"]


def _np_members(model, X: np.ndarray) -> np.ndarray:
    z = np.repeat(X[:, None, :], model.k, axis=1)
    for block in model.blocks:
        z = np.maximum(_np_layer(block, z), 0)
    return 1 / (1 + np.exp(-_np_layer(model.head, z)))


def test_members_follow_the_batchensemble_formula_and_predict_their_mean(small):
    X, _, model = small
    members = _np_members(model, X)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model.members(X)), members, rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        model.predict(X, verbose=0), members.mean(axis=1), rtol=1e-5, atol=1e-6
    )


def test_members_start_different_but_share_their_kernels(small):
    _, _, model = small
    first = model.blocks[0]
    r = keras.ops.convert_to_numpy(first.r)
    assert set(np.unique(r)) == {-1.0, 1.0}  # random signs
    assert len({tuple(row) for row in r}) > 1  # members differ from the start
    assert first.kernel.shape == (5, 8)  # one kernel for all members
    second = model.blocks[1]
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(second.r), 1.0)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(second.s), 1.0)
    assert model.head.kernel.shape == (4, 6, 1)  # a head per member


def test_each_weight_gets_its_own_draw_and_members_start_with_one_bias(small):
    """A reused unseeded initializer repeats its draw: the bias must not copy the
    kernel. The members' biases start equal, as in the TabM reference."""
    _, _, model = small
    for layer in [*model.blocks, model.head]:
        kernel = keras.ops.convert_to_numpy(layer.kernel).ravel()
        bias = keras.ops.convert_to_numpy(layer.bias)
        assert not np.allclose(bias.ravel(), kernel[: bias.size])
        np.testing.assert_array_equal(bias, np.broadcast_to(bias[0], bias.shape))
        assert np.abs(bias).max() <= layer.kernel.shape[-2] ** -0.5


def test_metrics_judge_the_members_mean(small):
    X, y, _ = small
    model = tabm((5,), 2, k=4, units=(8,), dropout=0.0)
    model.compile(
        loss="binary_crossentropy", metrics=[keras.metrics.MeanSquaredError()]
    )
    members = keras.ops.convert_to_numpy(model(X, training=True))[..., 0]  # (rows, k)
    logs = model.compute_metrics(X, y, model(X, training=True))
    of_the_mean = np.mean((y - members.mean(axis=1)) ** 2)
    assert float(logs["mean_squared_error"]) == pytest.approx(of_the_mean, rel=1e-5)
    assert abs(np.mean((y[:, None] - members) ** 2) - of_the_mean) > 1e-4


def test_a_column_of_sample_weights_counts_like_a_vector(small):
    X, y, model = small
    weight = np.where(y == 1, 3.0, 1.0).astype("f4")
    out = model(X, training=True)
    flat = model.compute_loss(X, y, out, sample_weight=weight)
    column = model.compute_loss(X, y, out, sample_weight=weight[:, None])
    np.testing.assert_allclose(float(column), float(flat), rtol=1e-6)


def test_the_config_round_trips_with_its_dtype_policy():
    from balanceflow.models import TabM

    model = tabm((3,), 2, k=2, units=(4,))
    config = model.get_config()
    again = TabM.from_config(config)
    assert again.get_config() == config
    assert again.dtype_policy.name == model.dtype_policy.name == "float32"


def test_a_partial_that_sets_its_learning_rate_keeps_it():
    import functools

    builder = functools.partial(tabm, k=2, units=(4,), learning_rate=0.02)
    model = Recipe(model_fn=builder, learning_rate=0.001).build((3,), 2, seed=0)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.02)


def test_the_loss_is_each_members_own_loss_averaged(small):
    """Not the loss of the mean prediction: the k members' cross-entropies on the same
    batch (each weighted by its row's sample weight), averaged."""
    X, y, model = small
    weight = np.where(y == 1, 3.0, 1.0).astype("f4")
    probs = np.clip(_np_members(model, X)[..., 0], 1e-7, 1 - 1e-7)  # (rows, k)
    bce = -(y[:, None] * np.log(probs) + (1 - y[:, None]) * np.log(1 - probs))
    expected = (bce * weight[:, None]).mean()
    got = model.compute_loss(
        X, y, model(X, training=True), sample_weight=weight, training=True
    )
    np.testing.assert_allclose(float(got), expected, rtol=1e-4)
    of_the_mean = model.compute_loss(X, y, model(X), sample_weight=weight)
    assert abs(float(of_the_mean) - expected) > 1e-4  # the two differ here


def test_tabm_learns_and_round_trips_through_a_keras_file(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 4)).astype("f4")
    y = (X[:, 0] - X[:, 1] > 0.5).astype(int)
    model = Recipe(model_fn=tabm, epochs=15, batch_size=32).build((4,), 2, seed=0)
    model.fit(X, y, epochs=15, batch_size=32, verbose=0)
    proba = model.predict(X, verbose=0)[:, 0]
    assert bf.evaluate(y, proba).roc_auc > 0.95
    path = tmp_path / "tabm.keras"
    model.save(path)
    again = keras.models.load_model(path, safe_mode=True)
    np.testing.assert_allclose(again.predict(X, verbose=0)[:, 0], proba, atol=1e-6)


def test_three_classes_get_a_softmax_per_member():
    model = tabm((3,), 3, k=2, units=(4,))
    proba = model.predict(np.ones((5, 3), "f4"), verbose=0)
    assert proba.shape == (5, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


def test_the_recipe_learning_rate_reaches_tabm():
    model = Recipe(model_fn=tabm, learning_rate=0.004).build((3,), 2, seed=0)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.004)
    assert Recipe(model_fn=tabm).model_name == "tabm"


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"input_shape": (8, 8)}, "input_shape"),
        ({"k": 0}, "k"),
        ({"units": ()}, "units"),
        ({"units": (16, 0)}, "units"),
        ({"dropout": 1.0}, "dropout"),
        ({"units": (2.5,)}, "units"),  # not cut to 2
        ({"units": "16"}, "units"),  # not the widths 1 and 6
        ({"units": 16}, "units"),
        ({"dropout": "0.1"}, "dropout"),
        ({"k": True}, "k"),
    ],
)
def test_bad_settings_name_the_parameter(kwargs, name):
    args = {"input_shape": (4,), "n_classes": 2, **kwargs}
    with pytest.raises(InvalidParameterError, match=name):
        tabm(**args)


def test_compare_trains_tabm_one_at_a_time_and_says_why():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(120, 3)).astype("f4")
    y = (X[:, 0] > 0.9).astype(int)
    result = bf.compare(
        X,
        y,
        strategies=["none"],
        model_fn=tabm,
        n_splits=2,
        epochs=2,
        baselines="none",
        data_checks=False,
    )
    assert result.settings["model"] == "tabm"
    assert result.settings["engine"] == (
        "loop: 2 models (TabM is not a functional chain of layers)"
    )


def test_a_strategy_ensemble_of_tabm_models_saves_as_one_file(tmp_path):
    import functools

    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 4)).astype("f4")
    y = (X[:, 0] > 1).astype(int)
    builder = functools.partial(tabm, k=3, units=(8,))
    ensemble = bf.ensemble.StrategyEnsemble(builder, strategies=["none", "under"])
    ensemble.fit(X, y, epochs=2)
    members = [m.predict(X, verbose=0)[:, 0] for m in ensemble.members_]
    proba = ensemble.predict_proba(X)
    np.testing.assert_allclose(proba[:, 1], np.mean(members, axis=0), atol=1e-6)
    path = tmp_path / "ensemble.keras"
    ensemble.save(str(path))
    loaded = keras.models.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded.predict(X, verbose=0), proba, atol=1e-6)
