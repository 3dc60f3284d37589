"""Keras model helpers shared by the ensembles and ``compare`` (imports keras)."""

from __future__ import annotations

import contextlib
import inspect
import random
import threading
from collections.abc import Callable, Iterator
from typing import Any

import keras
import numpy as np

from balanceflow._validation import derive_seed, short_repr
from balanceflow.exceptions import InvalidParameterError

__all__ = [
    "ModelState",
    "call_model_fn",
    "default_model_fn",
    "epoch_batches",
    "epoch_order",
    "fit_arrays",
    "predict_proba",
    "to_class_proba",
]


def default_model_fn(
    input_shape: tuple[int, ...],
    n_classes: int,
    *,
    hidden_units: tuple[int, ...] = (32, 16),
    learning_rate: float = 1e-3,
) -> keras.Model:
    """The default model, compiled with Adam and cross-entropy.

    Tabular rows (rank-1 inputs): a small MLP, ``Dense(32, relu) - Dense(16, relu)``.
    Images (``H x W`` or ``H x W x C`` inputs): a small CNN, ``Conv2D(16) - MaxPool -
    Conv2D(32) - GlobalAveragePooling - Dense(32)``. The head is ``Dense(1, sigmoid)`` for
    two classes and ``Dense(n_classes, softmax)`` otherwise.
    """
    input_shape = tuple(int(d) for d in input_shape)
    inputs = keras.Input(shape=input_shape)
    if len(input_shape) in (2, 3):
        x = (
            keras.layers.Reshape((*input_shape, 1))(inputs)
            if len(input_shape) == 2
            else inputs
        )
        x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(x)
        if min(input_shape[:2]) >= 4:
            x = keras.layers.MaxPooling2D(2)(x)
        x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(x)
        x = keras.layers.GlobalAveragePooling2D()(x)
        x = keras.layers.Dense(32, activation="relu")(x)
    else:
        x = keras.layers.Flatten()(inputs) if len(input_shape) > 1 else inputs
        for units in hidden_units:
            x = keras.layers.Dense(units, activation="relu")(x)
    if n_classes == 2:
        outputs = keras.layers.Dense(1, activation="sigmoid")(x)
        loss = "binary_crossentropy"
    else:
        outputs = keras.layers.Dense(n_classes, activation="softmax")(x)
        loss = "sparse_categorical_crossentropy"
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss)
    return model


_BUILD_LOCK = threading.RLock()


@contextlib.contextmanager
def seeded_build(seed: int) -> Iterator[None]:
    """Seed everything a model build draws from, privately to this build.

    ``keras.utils.set_random_seed`` seeds Python's global ``random``, from which Keras draws
    the seed of every initializer and layer built without one. Other threads of the process
    draw from it too (a Dask worker's event loop and heartbeats do, several times a second),
    so the same seed could build different initial weights. Inside this block those seeds
    come from a private ``random.Random(seed)`` instead, and builds take turns.
    """
    from keras.src.random import seed_generator  # where Keras draws default seeds

    with _BUILD_LOCK:
        keras.utils.set_random_seed(seed)
        shared = getattr(seed_generator, "python_random", None)
        if shared is not random:  # a Keras that draws elsewhere: global seeding only
            yield
            return
        seed_generator.python_random = random.Random(seed)
        try:
            yield
        finally:
            seed_generator.python_random = shared


def call_model_fn(
    model_fn: Callable[..., Any],
    input_shape: tuple[int, ...],
    n_classes: int,
    *,
    seed: int | None = None,
    learning_rate: float = 1e-3,
) -> keras.Model:
    """Build a model with ``model_fn`` and make sure it is a compiled Keras model.

    ``model_fn`` is called as ``model_fn(input_shape, n_classes)``, or with no argument when
    it takes none; one with a ``learning_rate`` parameter gets ``learning_rate`` too (the
    built-in :mod:`balanceflow.models` do), unless it is a ``functools.partial`` that
    binds its own. A model returned uncompiled is compiled with Adam(``learning_rate``) and the
    cross-entropy that matches its output (one sigmoid unit: binary; K units: sparse
    categorical). With ``seed``, the build is seeded (see :func:`seeded_build`): the same
    seed gives the same initial weights whatever other threads do.
    """
    if seed is not None:
        with seeded_build(seed):
            return call_model_fn(
                model_fn, input_shape, n_classes, learning_rate=learning_rate
            )
    if not callable(model_fn):
        raise InvalidParameterError(
            "`model_fn` must be a function that returns a Keras model. "
            f"Received: model_fn={short_repr(model_fn)}."
        )
    try:
        required = [
            p
            for p in inspect.signature(model_fn).parameters.values()
            if p.default is p.empty
            and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):  # builtins without a signature
        required = [None, None]
    try:
        takes_rate = "learning_rate" in inspect.signature(model_fn).parameters
    except (TypeError, ValueError):
        takes_rate = False
    if "learning_rate" in (getattr(model_fn, "keywords", None) or {}):
        takes_rate = False  # a functools.partial that sets its own
    extra = {"learning_rate": learning_rate} if takes_rate else {}
    model = (
        model_fn(**extra)
        if not required
        else model_fn(tuple(input_shape), n_classes, **extra)
    )
    if not isinstance(model, keras.Model):
        raise InvalidParameterError(
            "`model_fn` must return a keras.Model. Received: "
            f"{short_repr(model)} (of type {type(model).__name__}) from {short_repr(model_fn)}."
        )
    units = model.outputs[0].shape[-1] if getattr(model, "outputs", None) else None
    expected = (1, 2) if n_classes == 2 else (n_classes,)
    if units is not None and units not in expected:
        raise InvalidParameterError(
            f"The model from `model_fn` has {units} output units, but the data has "
            f"{n_classes} classes. Use {' or '.join(map(str, expected))} output unit(s)."
        )
    if getattr(model, "optimizer", None) is None:
        loss = (
            "binary_crossentropy" if units == 1 else "sparse_categorical_crossentropy"
        )
        model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss)
    return model


def fit_arrays(
    model: keras.Model,
    X: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    class_weight: dict[int, float] | None = None,
    callbacks: list[Any] | None = None,
) -> keras.Model:
    """``model.fit(X, y, epochs=..., batch_size=..., shuffle=True)``, minus the per-epoch cost.

    Keras builds a new input iterator at every epoch of a fit on arrays: about 20 ms, which
    on small tabular data is most of an epoch (measured: 30 epochs over 853 rows took
    1.05 s that way, 0.41 s here). Here one ``tf.data`` pipeline serves all epochs: each
    epoch is a fresh permutation of the row indices, seeded by ``seed``, cut into batches
    of ``batch_size`` (the last one smaller), and the rows are gathered batch by batch.
    The training is the same as Keras' (every row once per epoch, reshuffled each epoch);
    only the random order differs. Without TensorFlow (another Keras backend and no
    ``tf.data``), it falls back to ``model.fit`` on the arrays.
    """
    try:
        import tensorflow  # noqa: F401  (tf.data feeds the epochs)
    except ImportError:  # pragma: no cover - other backends without TensorFlow
        model.fit(
            X,
            y,
            epochs=epochs,
            batch_size=batch_size,
            class_weight=class_weight,
            callbacks=callbacks,
            verbose=0,
        )
        return model
    dataset, steps = epoch_batches(X, y, batch_size=batch_size, seed=seed)
    model.fit(
        dataset,
        epochs=epochs,
        steps_per_epoch=steps,
        class_weight=class_weight,
        callbacks=callbacks,
        shuffle=False,  # the pipeline shuffles
        verbose=0,
    )
    return model


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The row order of epoch ``epoch`` (0, 1, ...) of a training run seeded ``seed``: a
    permutation of ``range(n)`` drawn from ``(seed, epoch)``. Both engines feed it, so a
    model trains on the same batches alone or stacked with others."""
    rng = np.random.default_rng(derive_seed(seed, "epoch-order", int(epoch)))
    return rng.permutation(n)


def epoch_batches(
    X: np.ndarray, y: np.ndarray, *, batch_size: int, seed: int
) -> tuple[Any, int]:
    """An endless ``tf.data`` stream of ``(x, y)`` batches, and the batches per epoch.

    Every ``ceil(n / batch_size)`` batches hold each row exactly once, in the order
    :func:`epoch_order` gives that epoch (the last batch of an epoch is smaller). Rows are
    gathered by index from one tensor copy of the arrays.
    """
    import tensorflow as tf

    n = len(y)
    features, labels = tf.constant(X), tf.constant(y)

    def order(epoch: Any) -> np.ndarray:
        return epoch_order(n, seed, int(epoch)).astype(np.int64)

    dataset = (
        tf.data.Dataset.counter()
        .map(lambda e: tf.ensure_shape(tf.numpy_function(order, [e], tf.int64), (n,)))
        .flat_map(
            lambda rows: tf.data.Dataset.from_tensor_slices(rows).batch(batch_size)
        )
        .map(lambda rows: (tf.gather(features, rows), tf.gather(labels, rows)))
        .prefetch(2)
    )
    return dataset, -(-n // batch_size)


def to_class_proba(proba: Any, n_classes: int) -> np.ndarray:
    """Turn model outputs into (n, n_classes) class probabilities.

    One sigmoid unit ``p`` becomes the two columns ``[1 - p, p]``.
    """
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim == 1:
        proba = proba[:, None]
    if proba.shape[1] == 1 and n_classes == 2:
        proba = np.concatenate([1.0 - proba, proba], axis=1)
    return proba


def predict_proba(
    model: keras.Model, X: Any, n_classes: int, batch_size: int = 4096
) -> np.ndarray:
    """Class probabilities of ``model`` on ``X``, shape (n, n_classes).

    The model is called directly on chunks of ``batch_size`` rows. ``model.predict`` would
    trace a new graph for every model and every odd last-batch shape, which costs more
    than it saves on the many small models of a comparison (and warns about retracing).
    """
    X = np.asarray(X)
    chunks = [
        keras.ops.convert_to_numpy(model(X[start : start + batch_size], training=False))
        for start in range(0, len(X), batch_size)
    ]
    return to_class_proba(np.concatenate(chunks), n_classes)


class ModelState:
    """A snapshot of a compiled model's weights and optimizer state, to train again from.

    Rebuilding and re-tracing a model for every trial costs more than training a small one;
    restoring a snapshot gives the same starting point (same initial weights, fresh optimizer
    moments and step count) for a fraction of the cost.
    """

    def __init__(self, model: keras.Model):
        self.model = model
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        self._weights = [np.array(v.numpy()) for v in model.variables]
        self._optimizer = [np.array(v.numpy()) for v in model.optimizer.variables]
        self._optimizer_class = type(model.optimizer)
        self._optimizer_config = model.optimizer.get_config()
        self._default_loss = model.loss
        self._loss = None  # None: compiled with the model's own loss

    def restore(self, loss: Any = None) -> keras.Model:
        """Put the model back in the captured state and return it.

        With ``loss``, the model is recompiled with it (and a fresh optimizer of the same
        configuration); without, it is compiled with its own loss again if needed.
        """
        if loss is not None or self._loss is not None:
            optimizer = self._optimizer_class.from_config(self._optimizer_config)
            self.model.compile(optimizer=optimizer, loss=loss or self._default_loss)
            self.model.optimizer.build(self.model.trainable_variables)
            self._loss = loss
        for variable, value in zip(self.model.variables, self._weights):
            variable.assign(value)
        if self._loss is None:
            for variable, value in zip(self.model.optimizer.variables, self._optimizer):
                variable.assign(value)
        self.model.stop_training = False
        return self.model
