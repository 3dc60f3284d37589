"""Config round trip, and models compiled with each loss saved to .keras and reloaded with
safe_mode=True."""

import keras
import numpy as np
import pytest

from balanceflow.losses import (
    BalancedSoftmaxLoss,
    ClassBalancedLoss,
    FocalLoss,
    LDAMLoss,
    LogitAdjustedLoss,
    WeightedBinaryCrossentropy,
    weighted,
)

COUNTS = [40, 15, 5]
LOSSES = {
    "focal": lambda: FocalLoss(gamma=1.5, alpha=[0.2, 0.3, 0.5]),
    "focal_balanced": lambda: FocalLoss(alpha="balanced", class_counts=COUNTS),
    "class_balanced": lambda: ClassBalancedLoss(COUNTS, beta=0.99, base="focal"),
    "logit_adjusted": lambda: LogitAdjustedLoss([0.6, 0.3, 0.1], tau=0.7),
    "balanced_softmax": lambda: BalancedSoftmaxLoss(COUNTS),
    "ldam": lambda: LDAMLoss(COUNTS, max_margin=0.4, scale=5.0),
    "weighted_ce": lambda: weighted(
        keras.losses.SparseCategoricalCrossentropy(), {0: 0.5, 1: 1.0, 2: 3.0}
    ),
    "weighted_fn": lambda: weighted("sparse_categorical_crossentropy", [0.5, 1.0, 3.0]),
    "weighted_focal": lambda: weighted(FocalLoss(gamma=1.0), [0.5, 1.0, 3.0]),
}


def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, 4)).astype("float32")
    y = rng.integers(0, 3, size=24)
    return X, y


def value(tensor):
    return float(keras.ops.convert_to_numpy(tensor))


@pytest.mark.parametrize("name", list(LOSSES))
def test_config_round_trip(name):
    loss = LOSSES[name]()
    config = loss.get_config()
    clone = type(loss).from_config(config)
    assert clone.get_config() == config
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(again) is type(loss)
    assert again.get_config() == config
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(3), size=6).astype("float32")
    y = rng.integers(0, 3, size=6)
    assert value(clone(y, p)) == pytest.approx(value(loss(y, p)), rel=1e-6)


def test_weighted_binary_crossentropy_round_trip():
    loss = WeightedBinaryCrossentropy([1.0, 4.0], from_logits=True)
    clone = WeightedBinaryCrossentropy.from_config(loss.get_config())
    assert clone.get_config() == loss.get_config()


@pytest.mark.parametrize("name", list(LOSSES))
def test_saved_model_reloads_with_safe_mode_and_same_loss(name, tmp_path):
    X, y = data()
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, activation="softmax")]
    )
    model.compile(optimizer="sgd", loss=LOSSES[name]())
    before = model.evaluate(X, y, verbose=0)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert type(loaded.loss) is type(model.loss)
    assert loaded.loss.get_config() == model.loss.get_config()
    assert loaded.evaluate(X, y, verbose=0) == pytest.approx(before, rel=1e-6)


def test_saved_multilabel_model_reloads(tmp_path):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(20, 4)).astype("float32")
    Y = (rng.random((20, 3)) < 0.3).astype("float32")
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, activation="sigmoid")]
    )
    model.compile(optimizer="sgd", loss=WeightedBinaryCrossentropy([1.0, 2.0, 3.0]))
    before = model.evaluate(X, Y, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", safe_mode=True)
    assert loaded.evaluate(X, Y, verbose=0) == pytest.approx(before, rel=1e-6)


LOAD_IN_FRESH_PROCESS = """
import sys
import keras
import balanceflow  # registers balanceflow's Keras objects, not balanceflow.losses itself
model = keras.models.load_model(sys.argv[1], safe_mode=True)
print(type(model.loss).__name__)
"""


def test_saved_model_loads_after_plain_import_balanceflow(tmp_path):
    """Check that a .keras file with a balanceflow loss loads in a new process that only
    ran `import balanceflow` (as for the ensemble layers)."""
    import os
    import subprocess
    import sys

    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")]
    )
    model.compile(optimizer="sgd", loss=FocalLoss(alpha=0.7))
    path = tmp_path / "focal.keras"
    model.save(path)
    out = subprocess.run(
        [sys.executable, "-c", LOAD_IN_FRESH_PROCESS, str(path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("FocalLoss")


@pytest.mark.parametrize("name", ["ldam", "weighted_ce", "weighted_focal"])
def test_weights_switched_during_training_are_saved_with_the_model(name, tmp_path):
    """Check that class weights assigned after construction (as DeferredReweighting
    does) travel with the saved model: the reloaded loss holds them and evaluate gives
    the value of the weighted loss computed by hand with them."""
    X, y = data()
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, activation="softmax")]
    )
    model.compile(optimizer="sgd", loss=LOSSES[name]())
    unweighted = LOSSES[name]()
    unweighted.set_class_weight([1.0, 1.0, 1.0])
    late = np.array([0.25, 2.0, 6.0])
    model.loss.set_class_weight(late)
    before = model.evaluate(X, y, verbose=0)
    # By hand: the mean over rows of each row's unweighted loss times its class weight.
    p = keras.ops.convert_to_numpy(model(X))
    per_row = [value(unweighted(y[i : i + 1], p[i : i + 1])) for i in range(len(y))]
    assert before == pytest.approx(np.mean(np.array(per_row) * late[y]), rel=1e-5)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(loaded.loss.get_class_weight(), late, rtol=1e-6)
    assert loaded.evaluate(X, y, verbose=0) == pytest.approx(before, rel=1e-6)
