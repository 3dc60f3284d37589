"""Shared test set-up: quiet TensorFlow, deterministic Keras, small data builders."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np
import pytest


@pytest.fixture
def binary_data():
    """300 rows, 4 features, about 10% positives that depend on the first feature."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4)).astype("float32")
    y = (X[:, 0] + 0.3 * rng.normal(size=300) > 1.2).astype(int)
    return X, y
