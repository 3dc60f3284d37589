"""Balanced pipelines under tf.distribute.MirroredStrategy with 2 logical CPU devices.

TensorFlow can only split the CPU into logical devices before it starts. When the test
session has not done so, the checks run in a fresh Python process that does (this file
run as a script).
"""

import os
import subprocess
import sys

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")


def _data(n_major=180, n_minor=20):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n_major + n_minor, 4)).astype("float32")
    y = np.array([0] * n_major + [1] * n_minor)
    return X, y


def _strategy():
    devices = tf.config.list_logical_devices("CPU")[:2]
    return tf.distribute.MirroredStrategy([d.name for d in devices])


def check_every_replica_batch_is_balanced():
    from balanceflow.data import balance, balanced_dataset

    X, y = _data()
    strategy = _strategy()
    assert strategy.num_replicas_in_sync == 2
    ds = balanced_dataset(X, y, batch_size=16, method="over", seed=0)
    for _, yb in strategy.experimental_distribute_dataset(ds):
        for part in strategy.experimental_local_results(yb):
            counts = np.bincount(part.numpy(), minlength=2)
            assert abs(counts[0] - counts[1]) <= 1, counts

    stream = balance(
        tf.data.Dataset.from_tensor_slices((X, y)), batch_size=8, progress=None
    )
    for _, yb in strategy.experimental_distribute_dataset(stream):
        for part in strategy.experimental_local_results(yb):
            assert np.bincount(part.numpy(), minlength=2).tolist() == [2, 2]


def check_input_context_shards_per_replica_batches():
    from balanceflow.data import balanced_dataset

    X, y = _data()
    strategy = _strategy()
    dist = strategy.distribute_datasets_from_function(
        lambda ctx: balanced_dataset(
            X, y, batch_size=16, method="under", input_context=ctx
        )
    )
    total = 0
    for _, yb in dist:
        for part in strategy.experimental_local_results(yb):
            assert np.bincount(part.numpy(), minlength=2).tolist() == [4, 4]
            total += len(part)
    assert total == 32  # 40 rows per draw: two whole global batches of 16


def check_fit_under_mirrored_strategy():
    import keras

    from balanceflow.data import balanced_dataset

    X, y = _data()
    strategy = _strategy()
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [
                keras.Input((4,)),
                keras.layers.Dense(8, activation="relu"),
                keras.layers.Dense(1, activation="sigmoid"),
            ]
        )
        model.compile(optimizer="adam", loss="binary_crossentropy")
    ds = balanced_dataset(
        X, y, batch_size=16, method="under", draws_per_epoch=4, seed=0
    )
    history = model.fit(ds, epochs=2, verbose=0, shuffle=False)
    assert len(history.history["loss"]) == 2
    assert np.all(np.isfinite(history.history["loss"]))


CHECKS = (
    check_every_replica_batch_is_balanced,
    check_input_context_shards_per_replica_batches,
    check_fit_under_mirrored_strategy,
)


def test_pipelines_under_mirrored_strategy_with_two_logical_cpus():
    if len(tf.config.list_logical_devices("CPU")) >= 2:
        for check in CHECKS:
            check()
        return
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_BACKEND": "tensorflow"}
    result = subprocess.run(
        [sys.executable, __file__],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "checks passed: 3" in result.stdout


if __name__ == "__main__":
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )
    for check in CHECKS:
        check()
    print(f"checks passed: {len(CHECKS)}")
