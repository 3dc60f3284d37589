"""ImbalancedMetrics: scikit-learn's values, early stopping on val_pr_auc, errors."""

import keras
import numpy as np
import pytest
from sklearn import metrics as skm

from balanceflow.callbacks._imbalanced_metrics import ImbalancedMetrics
from balanceflow.exceptions import DataError, InvalidParameterError


def model_for(n_classes, seed=0, activation=None):
    keras.utils.set_random_seed(seed)
    units = 1 if n_classes == 2 else n_classes
    activation = activation or ("sigmoid" if units == 1 else "softmax")
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(units, activation=activation),
        ]
    )
    loss = "binary_crossentropy" if units == 1 else "sparse_categorical_crossentropy"
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=loss)
    return model


def sklearn_values(y, proba, threshold=0.5):
    """The same metrics from scikit-learn (G-mean from imbalanced-learn)."""
    from imblearn.metrics import geometric_mean_score

    if proba.shape[1] == 1:
        p = proba[:, 0]
        pred = (p >= threshold).astype(int)
        minority = int(np.argmin(np.bincount(y)))
        pr_auc = skm.average_precision_score(y == minority, p if minority else -p)
        roc = skm.roc_auc_score(y, p)
    else:
        pred = proba.argmax(axis=1)
        pr_auc = skm.average_precision_score(np.eye(proba.shape[1])[y], proba)
        roc = skm.roc_auc_score(y, proba, multi_class="ovr")
    return {
        "val_pr_auc": pr_auc,
        "val_roc_auc": roc,
        "val_balanced_accuracy": skm.balanced_accuracy_score(y, pred),
        "val_g_mean": geometric_mean_score(y, pred, average="multiclass"),
        "val_mcc": skm.matthews_corrcoef(y, pred),
        "val_macro_f1": skm.f1_score(y, pred, average="macro", zero_division=0),
    }


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 4)).astype("float32")
    y2 = (X[:, 0] + 0.7 * rng.normal(size=500) > 1.1).astype(int)
    y3 = np.digitize(X[:, 0] + 0.5 * rng.normal(size=500), [0.3, 1.2])
    return X, y2, y3


@pytest.mark.parametrize("n_classes", [2, 3])
def test_logs_equal_scikit_learn_on_the_same_predictions(n_classes, data):
    """Check that every val_* entry equals scikit-learn on the model's own predictions."""
    X, y2, y3 = data
    y = y2 if n_classes == 2 else y3
    model = model_for(n_classes)
    threshold = 0.3 if n_classes == 2 else 0.5
    callback = ImbalancedMetrics((X[400:], y[400:]), threshold=threshold)

    class Check(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            proba = np.asarray(self.model.predict(X[400:], verbose=0), dtype=np.float64)
            expected = sklearn_values(y[400:], proba, threshold)
            for key, value in expected.items():
                assert logs[key] == pytest.approx(value, abs=1e-9), key

    model.fit(
        X[:400],
        y[:400],
        epochs=2,
        batch_size=64,
        verbose=0,
        callbacks=[callback, Check()],
    )
    assert callback.last_report_.n_samples == 100


def test_early_stopping_and_history_see_val_pr_auc(data):
    X, y, _ = data
    model = model_for(2)
    stop = keras.callbacks.EarlyStopping(
        monitor="val_pr_auc", mode="max", patience=1, restore_best_weights=True
    )
    history = model.fit(
        X[:400],
        y[:400],
        epochs=6,
        batch_size=64,
        verbose=0,
        callbacks=[ImbalancedMetrics((X[400:], y[400:]), metrics=["pr_auc"]), stop],
    )
    assert len(history.history["val_pr_auc"]) == len(history.history["loss"])
    assert stop.best == pytest.approx(max(history.history["val_pr_auc"]))
    assert "val_mcc" not in history.history


def test_dataset_input_and_logits(data):
    """Check batches from a tf.data.Dataset and a logit model give the same values."""
    import tensorflow as tf

    X, y, _ = data
    logits = model_for(2, activation="linear")
    ds = tf.data.Dataset.from_tensor_slices((X[400:], y[400:])).batch(32)
    a = ImbalancedMetrics(ds, from_logits=True)
    b = ImbalancedMetrics((X[400:], y[400:].astype("float32")), from_logits=True)
    a.set_model(logits)
    b.set_model(logits)
    ra, rb = a.evaluate(), b.evaluate()
    assert ra.pr_auc == pytest.approx(rb.pr_auc) and ra.mcc == pytest.approx(rb.mcc)
    p = 1 / (1 + np.exp(-np.asarray(logits.predict(X[400:], verbose=0), np.float64)))
    assert rb.roc_auc == pytest.approx(skm.roc_auc_score(y[400:], p[:, 0]))


def test_errors(data):
    X, y, y3 = data
    with pytest.raises(DataError, match="single class"):
        ImbalancedMetrics((X[:10], np.zeros(10)))
    with pytest.raises(InvalidParameterError, match="Did you mean 'g_mean'"):
        ImbalancedMetrics((X, y), metrics=["gmean"])
    with pytest.raises(InvalidParameterError, match="threshold"):
        ImbalancedMetrics((X, y), threshold=2)
    with pytest.raises(InvalidParameterError, match=r"tuple \(X, y\)"):
        ImbalancedMetrics((X, y, y))
    callback = ImbalancedMetrics((X, y3), threshold=0.3)
    callback.set_model(model_for(3))
    with pytest.raises(InvalidParameterError, match="binary models only"):
        callback.evaluate()
    callback = ImbalancedMetrics((X, np.where(y == 1, 7, 0)))
    callback.set_model(model_for(2))
    with pytest.raises(DataError, match="class indices 0..1"):
        callback.evaluate()
