"""Shared test set-up: quiet TensorFlow, deterministic Keras, small data builders."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np
import pytest


def _two_logical_cpus() -> None:
    """Split the CPU into 2 logical devices before TensorFlow starts, so that
    tf.distribute.MirroredStrategy tests run with 2 replicas on any machine."""
    if os.environ["KERAS_BACKEND"] != "tensorflow":
        return
    import tensorflow as tf

    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2
    )


_two_logical_cpus()


@pytest.fixture
def binary_data():
    """300 rows, 4 features, about 10% positives that depend on the first feature."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4)).astype("float32")
    y = (X[:, 0] + 0.3 * rng.normal(size=300) > 1.2).astype(int)
    return X, y
