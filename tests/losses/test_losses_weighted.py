"""weighted(): per-element class weights for dense, multi-label and multi-output targets."""

import keras
import numpy as np
import pytest

import balanceflow as bf
from balanceflow.exceptions import DataError
from balanceflow.losses import (
    FocalLoss,
    WeightedBinaryCrossentropy,
    WeightedLoss,
    element_weights,
    multilabel_pos_weight,
    weighted,
    weighted_binary_crossentropy,
)


def value(tensor):
    return np.asarray(keras.ops.convert_to_numpy(tensor), dtype=np.float64)


def np_sparse_ce(y, p):
    """Per-element cross-entropy of class indices y (...) and probabilities p (..., K)."""
    return -np.log(np.take_along_axis(p, y[..., None], axis=-1)[..., 0])


def masks_and_probs(seed=0, n=2, size=8, k=3):
    rng = np.random.default_rng(seed)
    y = rng.choice(
        k, size=(n, size, size), p=[0.9, 0.08, 0.02][:k] / np.sum([0.9, 0.08, 0.02][:k])
    )
    p = rng.dirichlet(np.ones(k), size=(n, size, size)).astype("float32")
    return y, p


def test_per_pixel_weights_follow_the_documented_formula():
    y, p = masks_and_probs()
    w = {0: 0.4, 1: 2.0, 2: 9.0}
    expected = np.vectorize(w.get)(y)
    np.testing.assert_allclose(value(element_weights(y, p, w)), expected, rtol=1e-6)
    np.testing.assert_allclose(
        value(element_weights(y[..., None], p, w)), expected, rtol=1e-6
    )
    one_hot = np.eye(3, dtype="float32")[y]
    np.testing.assert_allclose(
        value(element_weights(one_hot, p, w)), expected, rtol=1e-6
    )
    # One sigmoid unit: y * w[1] + (1 - y) * w[0].
    binary = (y > 0).astype("float32")
    np.testing.assert_allclose(
        value(element_weights(binary, p[..., :1], [0.5, 3.0])),
        np.where(binary == 1, 3.0, 0.5),
    )


def test_weighted_segmentation_loss_equals_numpy():
    y, p = masks_and_probs(1)
    w = np.array([0.4, 2.0, 9.0])
    loss = weighted("sparse_categorical_crossentropy", w)
    expected = np.mean(w[y] * np_sparse_ce(y, p))
    assert float(value(loss(y, p))) == pytest.approx(expected, rel=1e-5)
    # The same for one-hot masks and for (N, H, W, 1) masks.
    one_hot = np.eye(3, dtype="float32")[y]
    loss_oh = weighted(keras.losses.CategoricalCrossentropy(), w)
    assert float(value(loss_oh(one_hot, p))) == pytest.approx(expected, rel=1e-5)
    assert float(value(loss(y[..., None], p))) == pytest.approx(expected, rel=1e-5)


def test_weighted_per_timestep_labels():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, size=(4, 7))
    p = rng.dirichlet(np.ones(3), size=(4, 7)).astype("float32")
    w = np.array([1.0, 2.0, 4.0])
    got = weighted("sparse_categorical_crossentropy", w)(y, p)
    assert float(value(got)) == pytest.approx(
        np.mean(w[y] * np_sparse_ce(y, p)), rel=1e-5
    )


def test_weighted_equals_keras_sample_weights_on_flat_targets():
    """Check that on one label per row, weighted() equals Keras' per-sample weighting
    (what fit(class_weight=...) does), including its normalisation by the batch size."""
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, size=10)
    p = rng.dirichlet(np.ones(3), size=10).astype("float32")
    w = np.array([0.5, 1.0, 4.0])
    ce = keras.losses.SparseCategoricalCrossentropy()
    expected = ce(y, p, sample_weight=w[y].astype("float32"))
    got = weighted(ce, w)(y, p)
    assert float(value(got)) == pytest.approx(float(value(expected)), rel=1e-6)


def linear_model(seed, n_out, activation):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(n_out, activation=activation)]
    )
    return model


@pytest.mark.parametrize("binary", [False, True])
def test_duplicating_a_class_equals_class_weight_two(binary):
    """Check that one gradient step on data with every row of class 1 duplicated equals a
    step with class weight 2 for class 1 (summed losses: same gradient)."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(30, 4)).astype("float32")
    y = rng.integers(0, 2 if binary else 3, size=30)
    dup = y == 1
    X_dup = np.concatenate([X, X[dup]])
    y_dup = np.concatenate([y, y[dup]])
    if binary:
        base, n_out, act, w = keras.losses.BinaryCrossentropy, 1, "sigmoid", [1.0, 2.0]
    else:
        base, n_out, act = keras.losses.SparseCategoricalCrossentropy, 3, "softmax"
        w = [1.0, 2.0, 1.0]
    plain = linear_model(0, n_out, act)
    plain.compile(optimizer=keras.optimizers.SGD(0.05), loss=base(reduction="sum"))
    reweighted = linear_model(0, n_out, act)
    reweighted.compile(
        optimizer=keras.optimizers.SGD(0.05),
        loss=WeightedLoss(base(), w, reduction="sum"),
    )
    start = [v.copy() for v in plain.get_weights()]
    plain.train_on_batch(X_dup, y_dup)
    reweighted.train_on_batch(X, y)
    for a, b, s in zip(plain.get_weights(), reweighted.get_weights(), start):
        assert not np.allclose(a, s)  # the step did move the weights
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_multi_output_model_gets_one_weighting_per_output():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(16, 4)).astype("float32")
    y_a = rng.integers(0, 3, size=16)
    y_b = rng.integers(0, 2, size=16)
    inputs = keras.Input((4,))
    out_a = keras.layers.Dense(3, activation="softmax", name="out_a")(inputs)
    out_b = keras.layers.Dense(1, activation="sigmoid", name="out_b")(inputs)
    model = keras.Model(inputs, {"out_a": out_a, "out_b": out_b})
    w_a, w_b = np.array([0.5, 1.0, 3.0]), np.array([1.0, 5.0])
    model.compile(
        optimizer="sgd",
        loss={
            "out_a": weighted("sparse_categorical_crossentropy", w_a),
            "out_b": weighted("binary_crossentropy", w_b),
        },
    )
    pred = model.predict(X, verbose=0)
    p_a, p_b = pred["out_a"].astype(np.float64), pred["out_b"][:, 0].astype(np.float64)
    expected_a = np.mean(w_a[y_a] * np_sparse_ce(y_a, p_a))
    bce = -(y_b * np.log(p_b) + (1 - y_b) * np.log(1 - p_b))
    expected_b = np.mean(w_b[y_b] * bce)
    logs = model.evaluate(X, {"out_a": y_a, "out_b": y_b}, verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(expected_a + expected_b, rel=1e-4)


def test_multilabel_pos_weight_and_weighted_binary_crossentropy():
    Y = np.array([[1, 0, 1], [0, 0, 1], [0, 1, 0], [0, 0, 1], [0, 0, 0]])
    pos = multilabel_pos_weight(Y)
    np.testing.assert_allclose(pos, [4 / 1, 4 / 1, 2 / 3])
    rng = np.random.default_rng(6)
    p = rng.uniform(0.05, 0.95, size=Y.shape).astype("float32")
    elementwise = -(pos * Y * np.log(p) + (1 - Y) * np.log(1 - p))
    got = weighted_binary_crossentropy(Y, p, pos_weight=pos)
    np.testing.assert_allclose(value(got), elementwise.mean(axis=1), rtol=1e-5)
    # Positive and negative rows of every label carry the same total weight.
    np.testing.assert_allclose((pos * Y).sum(axis=0), (1 - Y).sum(axis=0))
    # pos_weight 1 is Keras' binary cross-entropy; logits give the same as probabilities.
    ones = WeightedBinaryCrossentropy(1.0)(Y, p)
    keras_bce = keras.losses.BinaryCrossentropy()(Y.astype("float32"), p)
    assert float(value(ones)) == pytest.approx(float(value(keras_bce)), rel=1e-5)
    logits = np.log(p / (1 - p))
    np.testing.assert_allclose(
        value(
            weighted_binary_crossentropy(Y, logits, pos_weight=pos, from_logits=True)
        ),
        elementwise.mean(axis=1),
        rtol=1e-4,
    )


def test_multilabel_errors():
    with pytest.raises(DataError, match=r"Label\(s\) \[1\]"):
        multilabel_pos_weight([[1, 0], [0, 0]])
    with pytest.raises(DataError, match="only 0 and 1"):
        multilabel_pos_weight([[2, 0], [0, 1]])
    with pytest.raises(DataError, match="shape"):
        multilabel_pos_weight([1, 0, 1])
    with pytest.raises(
        DataError, match=r"y_true with shape \(2, 3\) and y_pred with shape \(2, 2\)"
    ):
        weighted_binary_crossentropy(
            np.zeros((2, 3)), np.full((2, 2), 0.5), pos_weight=1.0
        )


def test_small_conv_net_learns_two_percent_foreground_with_weighted_loss():
    """Check that a tiny segmentation net trained with weighted() finds a ~2% foreground
    that an unweighted one learns to ignore, on synthetic masks."""
    rng = np.random.default_rng(7)
    n, size = 48, 16
    masks = np.zeros((n, size, size), dtype=int)
    for i in range(n):  # a 2x3 blob per image: 6 / 256 = 2.3% of the pixels
        r, c = rng.integers(1, size - 3, size=2)
        masks[i, r : r + 2, c : c + 3] = 1
    images = rng.normal(scale=0.8, size=(n, size, size, 1)).astype("float32")
    images[..., 0] += 1.5 * masks
    share = masks.mean()
    assert 0.015 < share < 0.03
    cw = bf.class_weight(masks.ravel())
    np.testing.assert_allclose(
        [cw[0], cw[1]], [1 / (2 * (1 - share)), 1 / (2 * share)], rtol=1e-9
    )

    def recall(loss):
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [
                keras.Input((size, size, 1)),
                keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
                keras.layers.Conv2D(2, 1, activation="softmax"),
            ]
        )
        model.compile(optimizer=keras.optimizers.Adam(0.02), loss=loss)
        model.fit(images[:32], masks[:32], epochs=20, batch_size=16, verbose=0)
        pred = model.predict(images[32:], verbose=0).argmax(-1)
        truth = masks[32:]
        return (pred[truth == 1] == 1).mean(), (pred[truth == 0] == 0).mean()

    base = "sparse_categorical_crossentropy"
    if keras.backend.backend() == "torch":
        # Keras' own sparse cross-entropy fails in backward() on this conv net on torch
        # ("grad_input must be contiguous"); focal with gamma=0 is the same loss.
        base = FocalLoss(gamma=0.0)
    fg, bg = recall(weighted(base, cw))
    assert fg > 0.8 and bg > 0.8
    fg_plain, _ = recall(base)
    assert fg > fg_plain
