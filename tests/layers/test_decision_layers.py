"""Decisions baked into Keras models: same labels as the numpy rules, before and after
save/load with safe_mode=True."""

import subprocess
import sys

import keras
import numpy as np
import pytest

from balanceflow.exceptions import InvalidParameterError, NotFittedError
from balanceflow.layers import (
    ArgmaxDecision,
    LogitShift,
    ThresholdDecision,
    with_decision,
    with_prior_correction,
)
from balanceflow.thresholds import (
    FixedThreshold,
    TunedClassOffsets,
    TunedLogitAdjustment,
    TunedThreshold,
    correct_prior,
)


def mlp(n_classes, *, activation=None, seed=0):
    keras.utils.set_random_seed(seed)
    units = 1 if n_classes == 2 else n_classes
    activation = activation or ("sigmoid" if units == 1 else "softmax")
    inputs = keras.Input((5,))
    hidden = keras.layers.Dense(8, activation="tanh")(inputs)
    outputs = keras.layers.Dense(units, activation=activation)(hidden)
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 5)).astype("float32") * 2.0
    y2 = (X[:, 0] + rng.normal(size=600) > 1.5).astype(int)
    y4 = np.digitize(X[:, 0] + 0.5 * rng.normal(size=600), [0.5, 1.5, 2.5])
    return X, y2, y4


def save_and_load(model, tmp_path):
    path = tmp_path / "model.keras"
    model.save(path)
    return keras.models.load_model(path, safe_mode=True), path


def labels_of(model, X):
    return np.asarray(model.predict(X, verbose=0))


def test_threshold_model_predicts_the_rule_labels_after_save_and_load(data, tmp_path):
    """Check identical labels: the numpy rule, the exported model, the reloaded model."""
    X, y, _ = data
    model = mlp(2)
    p = labels_of(model, X)[:, 0]
    rule = TunedThreshold("g_mean").fit(y, p)
    assert 0 < rule.best_threshold_ < 1
    exported = with_decision(model, rule)
    labels = labels_of(exported, X)
    assert labels.dtype == np.int32 and labels.shape == (600,)
    np.testing.assert_array_equal(labels, rule.predict(p))
    loaded, _ = save_and_load(exported, tmp_path)
    np.testing.assert_array_equal(labels_of(loaded, X), labels)
    # a decision right at a row's score: the float64 comparison keeps `>=`
    at = float(np.sort(p)[300])
    np.testing.assert_array_equal(
        labels_of(with_decision(model, at), X), FixedThreshold(at).predict(p)
    )


@pytest.mark.parametrize("rule_class", [TunedClassOffsets, TunedLogitAdjustment])
def test_offset_model_predicts_the_rule_labels_after_save_and_load(
    rule_class, data, tmp_path
):
    X, _, y = data
    model = mlp(4)
    proba = labels_of(model, X).astype(np.float64)
    rule = rule_class().fit(y, proba)
    exported = with_decision(model, rule)
    labels = labels_of(exported, X)
    np.testing.assert_array_equal(labels, rule.predict(proba))
    loaded, _ = save_and_load(exported, tmp_path)
    np.testing.assert_array_equal(labels_of(loaded, X), labels)


def test_logit_model_and_sigmoid_offsets(data):
    """Check from_logits models and a sigmoid output under two-class offsets."""
    X, y, _ = data
    logit_model = mlp(2, activation="linear")
    z = labels_of(logit_model, X)[:, 0]
    p = 1 / (1 + np.exp(-z.astype(np.float64)))
    rule = TunedThreshold("mcc").fit(y, p)
    out = labels_of(with_decision(logit_model, rule, from_logits=True), X)
    agree = np.mean(out == rule.predict(p))
    assert agree > 0.99  # sigmoid in TF vs numpy may differ in the last bit at the edge

    model = mlp(2)
    p = labels_of(model, X)[:, 0].astype(np.float64)
    offsets = TunedClassOffsets().fit(y, p)
    np.testing.assert_array_equal(
        labels_of(with_decision(model, offsets), X), offsets.predict(p)
    )


def test_sequential_and_dict_input_models(data, tmp_path):
    """Check Sequential models and named (dict) inputs keep working after export."""
    X, y, _ = data
    keras.utils.set_random_seed(1)
    sequential = keras.Sequential(
        [keras.Input((5,)), keras.layers.Dense(1, activation="sigmoid")]
    )
    p = labels_of(sequential, X)[:, 0]
    rule = TunedThreshold().fit(y, p)
    np.testing.assert_array_equal(
        labels_of(with_decision(sequential, rule), X), rule.predict(p)
    )
    inputs = {"a": keras.Input((2,), name="a"), "b": keras.Input((3,), name="b")}
    joined = keras.layers.Concatenate()([inputs["a"], inputs["b"]])
    named = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(joined))
    feed = {"a": X[:, :2], "b": X[:, 2:]}
    p = labels_of(named, feed)[:, 0]
    rule = TunedThreshold().fit(y, p)
    loaded, _ = save_and_load(with_decision(named, rule), tmp_path)
    np.testing.assert_array_equal(labels_of(loaded, feed), rule.predict(p))


@pytest.mark.parametrize("n_classes", [2, 4])
def test_prior_correction_model_equals_correct_prior(n_classes, data, tmp_path):
    X = data[0]
    model = mlp(n_classes)
    train = np.full(n_classes, 1 / n_classes)
    target = (
        np.array([0.9, 0.1]) if n_classes == 2 else np.array([0.6, 0.25, 0.1, 0.05])
    )
    corrected = with_prior_correction(model, train_prior=train, target_prior=target)
    expected = correct_prior(
        labels_of(model, X).astype(np.float64), train_prior=train, target_prior=target
    )
    out = labels_of(corrected, X)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, atol=2e-6)
    loaded, _ = save_and_load(corrected, tmp_path)
    np.testing.assert_allclose(labels_of(loaded, X), out, atol=0)


@pytest.mark.parametrize(
    "layer",
    [
        LogitShift([0.1, -0.2, 0.3], from_logits=True),
        ThresholdDecision(0.25),
        ArgmaxDecision([0.0, 1.5]),
    ],
)
def test_config_round_trip(layer):
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_errors(data):
    _, y, _ = data
    with pytest.raises(NotFittedError):
        with_decision(mlp(2), TunedThreshold())
    with pytest.raises(NotFittedError):
        with_decision(mlp(4), TunedClassOffsets())
    with pytest.raises(InvalidParameterError, match="rule"):
        with_decision(mlp(2), "f1")
    with pytest.raises(InvalidParameterError, match="threshold"):
        with_decision(mlp(2), 1.5)
    with pytest.raises(InvalidParameterError, match="4 classes"):
        with_prior_correction(mlp(4), train_prior=[0.5, 0.5], target_prior=[0.9, 0.1])
    with pytest.raises(InvalidParameterError, match="offsets"):
        ArgmaxDecision([1.0])
    p = np.random.default_rng(1).random(len(y))
    two = TunedClassOffsets().fit(y, p)
    with pytest.raises(
        InvalidParameterError, match="2 offsets but its input has 4 columns"
    ):
        with_decision(mlp(4), two)
    inputs = keras.Input((5,))
    multi = keras.Model(
        inputs, [keras.layers.Dense(1)(inputs), keras.layers.Dense(1)(inputs)]
    )
    with pytest.raises(InvalidParameterError, match="2 outputs"):
        with_decision(multi, 0.5)


def test_loads_in_a_fresh_process_after_import_balanceflow(data, tmp_path):
    """Check the registration hook: a fresh process that only imports balanceflow loads it."""
    X, y, _ = data
    model = mlp(2)
    rule = TunedThreshold().fit(y, labels_of(model, X)[:, 0])
    exported = with_decision(model, rule)
    path = tmp_path / "model.keras"
    exported.save(path)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "labels.npy", labels_of(exported, X))
    code = f"""
import numpy as np, balanceflow, keras
m = keras.models.load_model({str(path)!r}, safe_mode=True)
X = np.load({str(tmp_path / "X.npy")!r})
assert (np.asarray(m.predict(X, verbose=0)) == np.load({str(tmp_path / "labels.npy")!r})).all()
print("ok")
"""
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
