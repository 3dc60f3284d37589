"""The weights work where Keras uses them: model.fit and the output bias."""

import keras
import numpy as np
import pytest

import balanceflow as bf


@pytest.mark.parametrize(
    ("y", "units", "activation", "loss"),
    [
        (np.array([0] * 90 + [1] * 10), 1, "sigmoid", "binary_crossentropy"),
        (
            np.array([0] * 60 + [1] * 30 + [2] * 10),
            3,
            "softmax",
            "sparse_categorical_crossentropy",
        ),
    ],
)
def test_initial_bias_predicts_prior_and_fit_accepts_class_weight(
    y, units, activation, loss
):
    """Check that a zero-kernel output with initial_bias predicts the prior, and that
    model.fit accepts the class_weight dict for binary and sparse multi-class targets."""
    X = np.random.default_rng(0).normal(size=(len(y), 4)).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(
                units,
                activation=activation,
                kernel_initializer="zeros",
                bias_initializer=bf.initial_bias(y),
            ),
        ]
    )
    proba = model.predict(X[:5], verbose=0)
    prior = bf.class_priors(y)
    expected = prior[1:] if units == 1 else prior
    np.testing.assert_allclose(proba, np.tile(expected, (5, 1)), atol=1e-6)
    model.compile(optimizer="sgd", loss=loss)
    history = model.fit(X, y, class_weight=bf.class_weight(y), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
