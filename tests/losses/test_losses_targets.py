"""Every target form with every loss: ranks aligned (no B x B broadcast), dense targets,
and clear errors for shapes that do not match."""

import keras
import numpy as np
import pytest

from balanceflow.exceptions import DataError
from balanceflow.losses import (
    BalancedSoftmaxLoss,
    ClassBalancedLoss,
    FocalLoss,
    LDAMLoss,
    LogitAdjustedLoss,
    weighted,
)

BINARY_LOSSES = [
    lambda: FocalLoss(gamma=2.0, alpha=0.75, reduction=None),
    lambda: ClassBalancedLoss([80, 20], reduction=None),
    lambda: LogitAdjustedLoss([0.8, 0.2], reduction=None),
    lambda: BalancedSoftmaxLoss([80, 20], reduction=None),
    lambda: LDAMLoss([80, 20], scale=2.0, reduction=None),
    lambda: weighted("binary_crossentropy", [1.0, 4.0]),
]
MULTI_LOSSES = [
    lambda: FocalLoss(gamma=2.0, alpha=[0.2, 0.3, 0.5], reduction=None),
    lambda: ClassBalancedLoss([50, 12, 3], base="focal", reduction=None),
    lambda: LogitAdjustedLoss([0.7, 0.2, 0.1], reduction=None),
    lambda: BalancedSoftmaxLoss([50, 12, 3], reduction=None),
    lambda: LDAMLoss([50, 12, 3], scale=2.0, reduction=None),
    lambda: weighted("sparse_categorical_crossentropy", [1.0, 2.0, 5.0]),
]


def value(tensor):
    return np.asarray(keras.ops.convert_to_numpy(tensor), dtype=np.float64)


def per_sample(loss, y, p):
    """Per-element values, whatever the loss's reduction."""
    return value(
        loss.call(keras.ops.convert_to_tensor(y), keras.ops.convert_to_tensor(p))
    )


@pytest.mark.parametrize("make", BINARY_LOSSES)
def test_binary_labels_of_shape_b_never_broadcast_against_b_by_1(make):
    """Check that labels (B,) with outputs (B, 1) give B values, equal to labels (B, 1)."""
    rng = np.random.default_rng(0)
    p = rng.uniform(0.05, 0.95, size=(6, 1)).astype("float32")
    y = rng.integers(0, 2, size=6).astype("float32")
    loss = make()
    flat = per_sample(loss, y, p)
    column = per_sample(loss, y[:, None], p)
    assert flat.shape == (6,)
    np.testing.assert_allclose(flat, column, rtol=1e-6)
    # Each row's loss depends on its own label only: flipping one label changes one value.
    y2 = y.copy()
    y2[0] = 1 - y2[0]
    changed = per_sample(loss, y2, p) != flat
    assert changed.tolist() == [True] + [False] * 5


@pytest.mark.parametrize("make", BINARY_LOSSES[:-1])  # weighted() has no from_logits
def test_binary_single_unit_equals_two_unit_softmax_over_zero_and_z(make):
    """Check that one sigmoid logit z is treated as the two-class logits [0, z]."""
    rng = np.random.default_rng(1)
    z = rng.normal(size=(6, 1)).astype("float32")
    y = rng.integers(0, 2, size=6)
    loss = make()
    loss = type(loss).from_config({**loss.get_config(), "from_logits": True})
    two_logits = np.hstack([np.zeros_like(z), z])
    np.testing.assert_allclose(
        per_sample(loss, y, z), per_sample(loss, y, two_logits), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("make", MULTI_LOSSES)
def test_sparse_column_and_one_hot_targets_agree(make):
    rng = np.random.default_rng(2)
    p = rng.dirichlet(np.ones(3), size=5).astype("float32")
    y = rng.integers(0, 3, size=5)
    loss = make()
    flat = per_sample(loss, y, p)
    assert flat.shape == (5,)
    np.testing.assert_allclose(per_sample(loss, y[:, None], p), flat, rtol=1e-6)
    one_hot = np.eye(3, dtype="float32")[y]
    if "sparse_categorical" in loss.name:  # its base loss reads class indices only
        loss = weighted("categorical_crossentropy", [1.0, 2.0, 5.0])
    np.testing.assert_allclose(per_sample(loss, one_hot, p), flat, rtol=1e-5)


@pytest.mark.parametrize("make", MULTI_LOSSES)
def test_dense_targets_give_one_value_per_element(make):
    """Check masks (N, H, W) and (N, H, W, 1) against the same rows flattened."""
    rng = np.random.default_rng(3)
    p = rng.dirichlet(np.ones(3), size=(2, 4, 5)).astype("float32")
    y = rng.integers(0, 3, size=(2, 4, 5))
    loss = make()
    dense = per_sample(loss, y, p)
    assert dense.shape == (2, 4, 5)
    np.testing.assert_allclose(per_sample(loss, y[..., None], p), dense, rtol=1e-6)
    flat = per_sample(loss, y.reshape(-1), p.reshape(-1, 3))
    np.testing.assert_allclose(dense.reshape(-1), flat, rtol=1e-5)


@pytest.mark.parametrize("make", BINARY_LOSSES)
def test_binary_dense_masks_with_one_sigmoid_unit(make):
    rng = np.random.default_rng(4)
    p = rng.uniform(0.05, 0.95, size=(2, 4, 4, 1)).astype("float32")
    y = rng.integers(0, 2, size=(2, 4, 4))
    loss = make()
    dense = per_sample(loss, y, p)
    assert dense.shape == (2, 4, 4)
    flat = per_sample(loss, y.reshape(-1), p.reshape(-1, 1))
    np.testing.assert_allclose(dense.reshape(-1), flat, rtol=1e-5)


@pytest.mark.parametrize(
    "y_shape, p_shape",
    [
        ((5, 3), (5, 4)),  # one-hot with the wrong number of classes
        ((5, 2), (5, 1)),  # two columns against one sigmoid unit
        ((4,), (5, 3)),  # different batch sizes
        ((5, 3, 2), (5, 3)),  # targets of a higher rank
        ((2, 4, 4), (2, 4, 5, 3)),  # a mask of another size
    ],
)
def test_shape_mismatch_shows_both_shapes(y_shape, p_shape):
    loss = FocalLoss(alpha=None)
    y = np.zeros(y_shape, dtype="float32")
    p = np.full(p_shape, 1.0 / p_shape[-1], dtype="float32")
    with pytest.raises(DataError) as info:
        loss(y, p)
    message = str(info.value)
    assert f"y_true has shape {y_shape}" in message
    assert f"y_pred has shape {p_shape}" in message


def test_losses_train_a_small_model_inside_fit():
    """Check that every loss works in a compiled fit step with (B,) integer labels."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(64, 4)).astype("float32")
    y = (X[:, 0] > 0.8).astype(int)
    for make in BINARY_LOSSES:
        model = keras.Sequential(
            [keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")]
        )
        loss = make()
        loss = type(loss).from_config(
            {**loss.get_config(), "reduction": "sum_over_batch_size"}
        )
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss)
        history = model.fit(X, y, epochs=3, batch_size=64, verbose=0)
        assert np.all(np.isfinite(history.history["loss"]))
        assert history.history["loss"][-1] < history.history["loss"][0]


@pytest.mark.parametrize("units, activation", [(2, "softmax"), (1, "sigmoid")])
def test_probabilities_below_epsilon_still_get_a_gradient(units, activation):
    """Check that a row whose true class has a probability far below epsilon (clipped in
    the conversion to logits) gets the exact cross-entropy gradient (p - y on the logits,
    here -1), not the zero gradient of a plain clip."""
    bias = [40.0, 0.0] if units == 2 else [-40.0]
    model = keras.Sequential(
        [
            keras.Input((1,)),
            keras.layers.Dense(
                units,
                activation=activation,
                kernel_initializer="zeros",
                bias_initializer=keras.initializers.Constant(bias),
            ),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=FocalLoss(gamma=0.0))
    model.train_on_batch(np.ones((4, 1), "float32"), np.ones(4, dtype=int))
    moved = keras.ops.convert_to_numpy(model.layers[0].bias) - np.array(bias)
    assert moved[-1] == pytest.approx(0.1, rel=1e-4)  # lr * |p - y|


@pytest.mark.parametrize("make", MULTI_LOSSES)
@pytest.mark.parametrize("labels", [[0, 1, 3], [0, -1, 2], [0, 1.5, 2]])
def test_class_indices_outside_the_outputs_are_refused(make, labels):
    """Check that labels 1..K with K outputs (and negative or fractional indices) raise
    instead of meeting a zero one-hot row, and so a loss of 0."""
    p = np.full((3, 3), 1 / 3, dtype="float32")
    with pytest.raises(DataError, match=r"outside the class indices in \[0, 2\]"):
        make()(np.array(labels), p)


@pytest.mark.parametrize("make", BINARY_LOSSES)
def test_binary_labels_outside_zero_one_are_refused(make):
    p = np.full((3, 1), 0.5, dtype="float32")
    with pytest.raises(DataError, match=r"outside the labels in \[0, 1\].*first: 2"):
        make()(np.array([0, 1, 2]), p)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TF graph assert")
@pytest.mark.parametrize("make", MULTI_LOSSES)
def test_out_of_range_labels_raise_inside_a_compiled_function(make):
    """Check that the check also runs when the batch reaches a traced tf.function (the
    way model.fit calls the loss without XLA), as Keras' sparse cross-entropy does."""
    import tensorflow as tf

    loss = make()
    step = tf.function(lambda y, p: loss(y, p))
    p = tf.fill((3, 3), 1 / 3)
    assert np.isfinite(value(step(tf.constant([0, 1, 2]), p))).all()
    with pytest.raises(
        tf.errors.InvalidArgumentError, match="outside the class indices"
    ):
        step(tf.constant([0, 1, 3]), p)
