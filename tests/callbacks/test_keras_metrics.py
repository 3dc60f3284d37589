"""Stateful BalancedAccuracy, GMean and MatthewsCorrelation: scikit-learn's values across
batches, with weights, after serialisation and under MirroredStrategy on 2 CPU devices."""

import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

# MirroredStrategy needs 2 logical CPU devices; they can only be declared before TensorFlow
# initialises its devices, which this module's import (at collection) usually precedes.
try:
    tf.config.set_logical_device_configuration(
        tf.config.list_physical_devices("CPU")[0],
        [tf.config.LogicalDeviceConfiguration()] * 2,
    )
except RuntimeError:
    pass  # already initialised: the distributed test then runs in a fresh process

import keras
from imblearn.metrics import geometric_mean_score
from sklearn import metrics as skm

from balanceflow.callbacks._keras_metrics import (
    BalancedAccuracy,
    GMean,
    MatthewsCorrelation,
)
from balanceflow.exceptions import InvalidParameterError

REFERENCES = {
    BalancedAccuracy: skm.balanced_accuracy_score,
    GMean: lambda y, p, sample_weight=None: geometric_mean_score(
        y, p, average="multiclass", sample_weight=sample_weight
    ),
    MatthewsCorrelation: skm.matthews_corrcoef,
}
METRICS = list(REFERENCES)


def batches(y_true, y_pred, size):
    for start in range(0, len(y_true), size):
        yield y_true[start : start + size], y_pred[start : start + size]


@pytest.mark.parametrize("metric_class", METRICS)
def test_binary_sigmoid_over_several_batches(metric_class):
    """Check the value after 7 batches equals scikit-learn on all rows, at a threshold."""
    rng = np.random.default_rng(0)
    y = (rng.random(200) < 0.2).astype("float32")
    p = np.clip(0.3 * y + 0.6 * rng.random(200), 0, 1).astype("float32")[:, None]
    metric = metric_class(threshold=0.4)
    for y_batch, p_batch in batches(y[:, None], p, 30):
        metric.update_state(y_batch, p_batch)
    expected = REFERENCES[metric_class](y.astype(int), (p[:, 0] >= 0.4).astype(int))
    assert float(metric.result()) == pytest.approx(expected, abs=1e-6)
    metric.reset_state()
    assert float(metric.result()) == 0.0


@pytest.mark.parametrize("metric_class", METRICS)
@pytest.mark.parametrize("one_hot", [False, True])
def test_multiclass_with_sample_weights(metric_class, one_hot):
    rng = np.random.default_rng(1)
    y = rng.choice(4, size=300, p=[0.6, 0.25, 0.1, 0.05])
    proba = rng.dirichlet(np.ones(4), size=300) + 0.4 * np.eye(4)[y]
    proba = (proba / proba.sum(axis=1, keepdims=True)).astype("float32")
    w = rng.random(300).astype("float32")
    target = np.eye(4, dtype="float32")[y] if one_hot else y
    metric = metric_class(num_classes=4)
    for start in range(0, 300, 64):
        rows = slice(start, start + 64)
        metric.update_state(target[rows], proba[rows], sample_weight=w[rows])
    expected = REFERENCES[metric_class](y, proba.argmax(1), sample_weight=w)
    assert float(metric.result()) == pytest.approx(expected, abs=1e-5)


def test_undefined_values_are_zero():
    for metric in (GMean(), MatthewsCorrelation()):
        metric.update_state(np.array([0, 1, 1]), np.array([[0.1], [0.2], [0.9]]))
        metric.update_state(np.array([1]), np.array([[0.3]]))
    assert float(GMean().result()) == 0.0
    mcc = MatthewsCorrelation()
    mcc.update_state(np.array([0, 1]), np.array([[0.9], [0.9]]))  # constant prediction
    assert float(mcc.result()) == 0.0


@pytest.mark.parametrize("metric_class", METRICS)
def test_compile_fit_and_save_load(metric_class, tmp_path):
    """Check evaluate() equals scikit-learn, and the metric survives a .keras round trip."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(2)
    X = rng.normal(size=(256, 3)).astype("float32")
    y = np.digitize(X[:, 0], [-0.3, 0.8])
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(3, activation="softmax")]
    )
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=[metric_class(num_classes=3)],
    )
    model.fit(X, y, epochs=1, batch_size=32, verbose=0)
    name = metric_class().name
    value = model.evaluate(X, y, batch_size=50, verbose=0, return_dict=True)[name]
    pred = np.asarray(model.predict(X, verbose=0)).argmax(axis=1)
    assert value == pytest.approx(REFERENCES[metric_class](y, pred), abs=1e-5)

    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    again = loaded.evaluate(X, y, batch_size=50, verbose=0, return_dict=True)[name]
    assert again == pytest.approx(value, abs=1e-6)
    config = metric_class(num_classes=3, threshold=0.3, name="x").get_config()
    assert metric_class.from_config(config).get_config() == config


def mirrored_check():
    """Fit and evaluate under MirroredStrategy; compare with scikit-learn on all rows."""
    assert len(tf.config.list_logical_devices("CPU")) >= 2
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 3)).astype("float32")
    y = (X[:, 0] + 0.5 * rng.normal(size=300) > 0.9).astype("int64")
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = keras.Sequential(
            [keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")]
        )
        model.compile(
            optimizer="adam",
            loss="binary_crossentropy",
            metrics=[
                BalancedAccuracy(threshold=0.3),
                GMean(threshold=0.3),
                MatthewsCorrelation(threshold=0.3),
            ],
        )
    model.fit(X, y, epochs=1, batch_size=40, verbose=0)
    got = model.evaluate(X, y, batch_size=40, verbose=0, return_dict=True)
    pred = (np.asarray(model.predict(X, verbose=0))[:, 0] >= 0.3).astype(int)
    expected = {
        "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
        "g_mean": geometric_mean_score(y, pred),
        "mcc": skm.matthews_corrcoef(y, pred),
    }
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-5), name


def test_mirrored_strategy_on_two_logical_cpus():
    """Check replicas' confusion matrices add up to scikit-learn's values on all rows.

    It runs in a fresh process: two MirroredStrategy programs in one TensorFlow process can
    collide on collective-op instance keys ("Shape mismatch in the collective instance"),
    which made the pipelines' MirroredStrategy test fail when it ran after this one.
    """
    code = (
        f"import runpy; runpy.run_path({__file__!r})['mirrored_check'](); print('ok')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]


def test_bad_parameters():
    with pytest.raises(InvalidParameterError, match="num_classes"):
        BalancedAccuracy(num_classes=1)
    with pytest.raises(InvalidParameterError, match="threshold"):
        GMean(threshold=-0.1)
    with pytest.raises(InvalidParameterError, match="num_classes=5"):
        MatthewsCorrelation(num_classes=3).update_state(
            np.array([0, 1]), np.full((2, 5), 0.2)
        )


@pytest.mark.parametrize("metric", [BalancedAccuracy, GMean, MatthewsCorrelation])
def test_labels_outside_the_classes_are_refused_not_dropped(metric):
    """Check that a label 3 with num_classes=3 (labels 1..3) raises, eagerly and in a
    traced function, where the confusion matrix would silently leave its row out."""
    from balanceflow.exceptions import DataError

    p = np.full((3, 3), 1 / 3, dtype="float32")
    m = metric(num_classes=3)
    with pytest.raises(DataError, match=r"first: 3"):
        m.update_state(np.array([1, 2, 3]), p)
    step = tf.function(lambda y, q: m.update_state(y, q))
    step(tf.constant([0, 1, 2]), tf.constant(p))  # in range: counted
    assert float(np.sum(keras.ops.convert_to_numpy(m.confusion))) == 3
    with pytest.raises(tf.errors.InvalidArgumentError, match="outside the class"):
        step(tf.constant([1, 2, 3]), tf.constant(p))
