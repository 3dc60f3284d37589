"""DeferredReweighting: unweighted before start_epoch, class-balanced weights from it on."""

import keras
import numpy as np
import pytest

from balanceflow.callbacks._reweighting import DeferredReweighting
from balanceflow.exceptions import InvalidParameterError
from balanceflow.losses import FocalLoss, LDAMLoss, weighted

COUNTS = np.array([30, 7, 3])
BETA = 0.99


def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3)).astype("float32")
    y = np.repeat(np.arange(3), COUNTS)
    return X, y


def hand_weights():
    raw = (1 - BETA) / (1 - BETA**COUNTS)
    return raw / raw.sum() * 3


def np_log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def frozen_model(activation):
    """A linear model that does not learn (learning rate 0): the loss changes only when
    the weights of the loss change."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(3, activation=activation)]
    )
    return model


@pytest.mark.parametrize("kind", ["weighted_ce", "ldam"])
def test_loss_switches_exactly_at_start_epoch_to_the_hand_computed_value(kind):
    X, y = data()
    if kind == "ldam":
        model = frozen_model(None)
        loss = LDAMLoss(COUNTS, max_margin=0.5, scale=2.0, from_logits=True)
    else:
        model = frozen_model("softmax")
        loss = weighted("sparse_categorical_crossentropy", np.ones(3))
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss=loss)
    out = model.predict(X, verbose=0).astype(np.float64)
    if kind == "ldam":
        m = COUNTS**-0.25
        m = 0.5 * m / m.max()
        z = out.copy()
        z[np.arange(len(y)), y] -= m[y]
        per_row = -np_log_softmax(2.0 * z)[np.arange(len(y)), y]
    else:
        per_row = -np.log(out[np.arange(len(y)), y])
    unweighted = per_row.mean()
    reweighted = (hand_weights()[y] * per_row).mean()

    drw = DeferredReweighting(COUNTS, start_epoch=2, beta=BETA)
    history = model.fit(
        X,
        y,
        batch_size=40,
        epochs=4,
        verbose=0,
        callbacks=[drw],
        validation_data=(X, y),
    )
    expected = [unweighted, unweighted, reweighted, reweighted]
    np.testing.assert_allclose(history.history["loss"], expected, rtol=1e-5)
    np.testing.assert_allclose(history.history["val_loss"], expected, rtol=1e-5)
    np.testing.assert_allclose(loss.get_class_weight(), hand_weights(), rtol=1e-6)
    assert drw.losses_ == [loss]


def test_start_epoch_zero_weights_from_the_start_and_overrides_initial_weights():
    X, y = data()
    model = frozen_model("softmax")
    loss = weighted("sparse_categorical_crossentropy", [5.0, 5.0, 5.0])
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss=loss)
    history = model.fit(
        X,
        y,
        batch_size=40,
        epochs=2,
        verbose=0,
        callbacks=[DeferredReweighting(COUNTS, start_epoch=0, beta=BETA)],
    )
    p = model.predict(X, verbose=0).astype(np.float64)
    expected = (hand_weights()[y] * -np.log(p[np.arange(len(y)), y])).mean()
    np.testing.assert_allclose(history.history["loss"], [expected] * 2, rtol=1e-5)


def test_reweighting_changes_training_after_start_epoch():
    """Check with a learning model that the weights reach the compiled step: training
    after the switch moves the model towards the rare classes."""
    X, y = data()
    X = X + np.eye(3, dtype="float32")[y]  # make the classes learnable
    results = {}
    for start in (0, 100):
        keras.utils.set_random_seed(1)
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3)])
        model.compile(
            optimizer=keras.optimizers.SGD(0.1),
            loss=LDAMLoss(COUNTS, scale=1.0, from_logits=True),
        )
        drw = DeferredReweighting(COUNTS, start_epoch=start, beta=0.999)
        model.fit(X, y, batch_size=40, epochs=5, verbose=0, callbacks=[drw])
        results[start] = keras.ops.convert_to_numpy(model.layers[0].bias)
    # Rare class 2 gets a larger bias when re-weighted from the start.
    assert results[0][2] - results[0][0] > results[100][2] - results[100][0]


def test_multi_output_losses_are_all_reweighted():
    X, y = data()
    inputs = keras.Input((3,))
    a = keras.layers.Dense(3, activation="softmax", name="a")(inputs)
    b = keras.layers.Dense(3, activation="softmax", name="b")(inputs)
    model = keras.Model(inputs, {"a": a, "b": b})
    loss_a = weighted("sparse_categorical_crossentropy", np.ones(3))
    loss_b = weighted("sparse_categorical_crossentropy", np.ones(3))
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss={"a": loss_a, "b": loss_b})
    drw = DeferredReweighting(COUNTS, start_epoch=1, beta=BETA)
    model.fit(X, {"a": y, "b": y}, batch_size=40, epochs=2, verbose=0, callbacks=[drw])
    for loss in (loss_a, loss_b):
        np.testing.assert_allclose(loss.get_class_weight(), hand_weights(), rtol=1e-6)


def test_errors():
    X, y = data()
    model = frozen_model("softmax")
    model.compile(optimizer="sgd", loss=FocalLoss())
    with pytest.raises(InvalidParameterError, match="found no loss it can re-weight"):
        model.fit(X, y, epochs=1, verbose=0, callbacks=[DeferredReweighting(COUNTS, 1)])
    model.compile(optimizer="sgd", loss=LDAMLoss(COUNTS))
    with pytest.raises(InvalidParameterError, match="`class_counts` has 4 values"):
        drw = DeferredReweighting([5, 5, 5, 5], 1)
        model.fit(X, y, epochs=1, verbose=0, callbacks=[drw])
    with pytest.raises(
        InvalidParameterError, match="`start_epoch` must be an int >= 0"
    ):
        DeferredReweighting(COUNTS, start_epoch=-1)
    with pytest.raises(InvalidParameterError, match="`class_counts` must be > 0"):
        DeferredReweighting([3, 0, 2], start_epoch=1)
    with pytest.raises(InvalidParameterError, match="`beta`"):
        DeferredReweighting(COUNTS, start_epoch=1, beta=1.5)
    with pytest.raises(
        InvalidParameterError, match="has 2 values but this loss weights 3"
    ):
        LDAMLoss(COUNTS).set_class_weight([1.0, 2.0])
