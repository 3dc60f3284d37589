"""Model helpers: a seeded build gives the same initial weights whatever else draws from
Python's global random generator meanwhile."""

import random
import threading

import keras
import numpy as np

from balanceflow._models import call_model_fn, default_model_fn


def _weights(model):
    return [v.numpy() for v in model.variables]


def _builder(draws_between_layers):
    """A model_fn that, like another thread of the process, draws from the global
    `random` between the layers it builds."""

    def build(input_shape, n_classes):
        inputs = keras.Input(shape=input_shape)
        x = inputs
        for units in (8, 4):
            for _ in range(draws_between_layers):
                random.random()
            x = keras.layers.Dense(units, activation="relu")(x)
        outputs = keras.layers.Dense(1, activation="sigmoid")(x)
        return keras.Model(inputs, outputs)

    return build


def test_seeded_build_ignores_other_draws_from_the_global_random():
    quiet = call_model_fn(_builder(0), (5,), 2, seed=7)
    noisy = call_model_fn(_builder(3), (5,), 2, seed=7)
    for a, b in zip(_weights(quiet), _weights(noisy), strict=True):
        np.testing.assert_array_equal(a, b)
    # The same interference without a seeded build changes the initial weights, which is
    # what Dask workers did to compare() before builds were seeded this way.
    keras.utils.set_random_seed(7)
    plain = _builder(3)((5,), 2)
    assert any(
        not np.array_equal(a, b) for a, b in zip(_weights(quiet), _weights(plain))
    )


def test_seeded_build_with_a_thread_drawing_meanwhile():
    stop = threading.Event()

    def hammer():
        while not stop.is_set():
            random.random()

    reference = call_model_fn(default_model_fn, (6,), 2, seed=3)
    thread = threading.Thread(target=hammer, daemon=True)
    thread.start()
    try:
        built = [call_model_fn(default_model_fn, (6,), 2, seed=3) for _ in range(3)]
    finally:
        stop.set()
        thread.join()
    for model in built:
        for a, b in zip(_weights(reference), _weights(model), strict=True):
            np.testing.assert_array_equal(a, b)
    from keras.src.random import seed_generator

    assert seed_generator.python_random is random  # Keras draws globally again after


def test_epoch_batches_show_every_row_once_per_epoch_in_a_fresh_order():
    from balanceflow._models import epoch_batches

    X = np.arange(23, dtype=np.float32)[:, None] * 10
    y = np.arange(23) % 2
    dataset, steps = epoch_batches(X, y, batch_size=5, seed=4)
    assert steps == 5  # ceil(23 / 5)
    batches = list(dataset.take(3 * steps).as_numpy_iterator())
    epochs = []
    for e in range(3):
        part = batches[e * steps : (e + 1) * steps]
        assert [len(b[1]) for b in part] == [5, 5, 5, 5, 3]
        rows = np.concatenate([b[0][:, 0] for b in part]) / 10
        np.testing.assert_array_equal(np.sort(rows), np.arange(23))
        labels = np.concatenate([b[1] for b in part])
        np.testing.assert_array_equal(labels, rows.astype(int) % 2)  # rows keep labels
        epochs.append(rows)
    assert not np.array_equal(epochs[0], epochs[1])
    again = list(epoch_batches(X, y, batch_size=5, seed=4)[0].take(steps))
    np.testing.assert_array_equal(
        np.concatenate([b[0].numpy()[:, 0] for b in again]) / 10, epochs[0]
    )
