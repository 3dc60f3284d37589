"""TabM: k MLPs in one, sharing their weights, differing by per-member adapters.

TabM (Gorishniy, Kotelnikov and Babenko, "TabM: Advancing Tabular Deep Learning with
Parameter-Efficient Ensembling", ICLR 2025) makes every linear layer a BatchEnsemble
layer: member ``i`` computes ``((x_i * r_i) @ W) * s_i + b_i`` with the kernel ``W``
shared and the adapters ``r_i``, ``s_i`` and bias ``b_i`` its own. The first layer's
``r`` starts as random signs (so the members differ from the first step), every other
adapter as ones; each member has a head of its own. The members train at once, each on
the same batch with its own loss (the loss is the mean over members), and predict by the
mean of their probabilities.

Here the members' probabilities come out of the model as ``(batch, k, units)`` while it
trains and as their mean, ``(batch, units)``, otherwise; :meth:`TabM.compute_loss` spreads
each label (and sample weight) over the k members, so any per-sample Keras loss
(balanceflow's focal, LDAM and the rest included) is each member's own loss, averaged.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

from balanceflow._validation import check_int, short_repr
from balanceflow.exceptions import InvalidParameterError

__all__ = ["EnsembleLinear", "TabM", "build_tabm"]


@keras.saving.register_keras_serializable(package="balanceflow")
class RandomSigns(keras.initializers.Initializer):
    """-1 or +1, each with probability 1/2."""

    def __init__(self, seed: int | None = None):
        self.seed = seed
        self._generator = keras.random.SeedGenerator(seed)

    def __call__(self, shape, dtype=None):
        draw = keras.random.uniform(shape, seed=self._generator)
        return ops.cast(ops.where(draw < 0.5, -1.0, 1.0), dtype or "float32")

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed}


class _SameRows(keras.initializers.Initializer):
    """Uniform in ``±bound``, one draw for the last axis repeated over the members (the
    first axis): every member starts with the same bias."""

    def __init__(self, bound: float):
        self.bound = bound
        self._generator = keras.random.SeedGenerator()

    def __call__(self, shape, dtype=None):
        row = keras.random.uniform(
            shape[1:], -self.bound, self.bound, dtype=dtype, seed=self._generator
        )
        return ops.repeat(ops.expand_dims(row, 0), shape[0], axis=0)


@keras.saving.register_keras_serializable(package="balanceflow")
class EnsembleLinear(keras.layers.Layer):
    """A linear layer of k members on ``(batch, k, features)`` inputs.

    ``shared=True`` (BatchEnsemble): one kernel for all, with per-member adapters
    ``r`` (inputs) and ``s`` (outputs) when ``adapters``; ``r`` starts as random signs
    when ``random_signs``, else as ones. ``shared=False``: a kernel per member (the
    heads). Every member has its own bias. Kernels and biases start uniform in
    ``±1/sqrt(features)``, as a PyTorch linear layer does; the members' biases start
    equal (they differ by their adapters, or by their own head kernels).
    """

    def __init__(
        self,
        units: int,
        k: int,
        *,
        shared: bool = True,
        adapters: bool = True,
        random_signs: bool = False,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.units, self.k = int(units), int(k)
        self.shared, self.adapters = bool(shared), bool(adapters and shared)
        self.random_signs = bool(random_signs)

    def build(self, input_shape) -> None:
        features = int(input_shape[-1])
        bound = features**-0.5
        kernel_shape = (features, self.units)
        if not self.shared:
            kernel_shape = (self.k, *kernel_shape)
        # A fresh initializer per weight: an unseeded one repeats its draw when reused.
        self.kernel = self.add_weight(
            kernel_shape, keras.initializers.RandomUniform(-bound, bound), name="kernel"
        )
        self.bias = self.add_weight((self.k, self.units), _SameRows(bound), name="bias")
        if self.adapters:
            first = RandomSigns() if self.random_signs else "ones"
            self.r = self.add_weight((self.k, features), first, name="r")
            self.s = self.add_weight((self.k, self.units), "ones", name="s")

    def call(self, x):
        if self.adapters:
            x = x * self.r
        if self.shared:
            out = ops.matmul(x, self.kernel)
        else:
            out = ops.einsum("bkd,kdu->bku", x, self.kernel)
        if self.adapters:
            out = out * self.s
        return out + self.bias

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            units=self.units,
            k=self.k,
            shared=self.shared,
            adapters=self.adapters,
            random_signs=self.random_signs,
        )
        return config


@keras.saving.register_keras_serializable(package="balanceflow")
class TabM(keras.Model):
    """TabM on table rows: ``len(units)`` BatchEnsemble blocks (linear, ReLU, dropout)
    of k members and a head per member; ``outputs`` units (1: sigmoid, else softmax).
    See the module's docstring."""

    def __init__(
        self,
        outputs: int,
        k: int = 32,
        units: Sequence[int] = (256, 256),
        dropout: float = 0.1,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.n_outputs, self.k = int(outputs), int(k)
        self.units, self.dropout = tuple(int(u) for u in units), float(dropout)
        self.blocks = [
            EnsembleLinear(u, self.k, random_signs=i == 0, name=f"block_{i}")
            for i, u in enumerate(self.units)
        ]
        self.drops = [keras.layers.Dropout(self.dropout) for _ in self.units]
        self.head = EnsembleLinear(self.n_outputs, self.k, shared=False, name="head")

    def build(self, input_shape) -> None:
        shape = (input_shape[0], self.k, int(input_shape[-1]))
        for block in self.blocks:
            block.build(shape)
            shape = (shape[0], self.k, block.units)
        self.head.build(shape)
        self.built = True

    def members(self, x, training: bool = False):
        """Every member's probabilities, ``(batch, k, outputs)``."""
        z = ops.repeat(ops.expand_dims(x, 1), self.k, axis=1)
        for block, drop in zip(self.blocks, self.drops):
            z = drop(ops.relu(block(z)), training=training)
        logits = self.head(z)
        if self.n_outputs == 1:
            return ops.sigmoid(logits)
        return ops.softmax(logits, axis=-1)

    def call(self, x, training: bool = False):
        probs = self.members(x, training=training)
        return probs if training else ops.mean(probs, axis=1)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        # Metrics judge the model's prediction, the members' mean, as evaluate() does.
        if y_pred is not None and len(y_pred.shape) == 3:
            y_pred = ops.mean(y_pred, axis=1)
        return super().compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        if y_pred is not None and len(y_pred.shape) == 3:
            # Each member's own loss on the batch: labels and weights once per member.
            y_pred = ops.reshape(y_pred, (-1, self.n_outputs))
            y = ops.repeat(y, self.k, axis=0)
            if sample_weight is not None:
                sample_weight = ops.repeat(ops.reshape(sample_weight, (-1,)), self.k, 0)
        return super().compute_loss(x, y, y_pred, sample_weight, training=training)

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.saving.serialize_keras_object(self.dtype_policy),
            "outputs": self.n_outputs,
            "k": self.k,
            "units": list(self.units),
            "dropout": self.dropout,
        }


def build_tabm(
    input_shape: Sequence[int],
    n_classes: int,
    *,
    k: int = 32,
    units: Sequence[int] = (256, 256),
    dropout: float = 0.1,
    learning_rate: float = 1e-3,
) -> TabM:
    """A compiled :class:`TabM` (see :func:`balanceflow.models.tabm`)."""
    input_shape = tuple(int(d) for d in input_shape)
    if len(input_shape) != 1:
        raise InvalidParameterError(
            "tabm takes table rows (a rank-1 input shape); for images use the default "
            f"model or your own. Received: input_shape={short_repr(input_shape)}."
        )
    check_int(k, "k", minimum=1)
    if (
        isinstance(units, (str, bytes))
        or not isinstance(units, Sequence)
        or not units
        or any(
            not isinstance(u, numbers.Integral) or isinstance(u, bool) or u < 1
            for u in units
        )
    ):
        raise InvalidParameterError(
            "`units` must be a non-empty list of positive int layer widths, for "
            f"example (256, 256). Received: units={short_repr(units)}."
        )
    if (
        not isinstance(dropout, numbers.Real)
        or isinstance(dropout, bool)
        or not 0 <= dropout < 1
    ):
        raise InvalidParameterError(
            f"`dropout` must be in [0, 1). Received: dropout={short_repr(dropout)}."
        )
    binary = n_classes == 2
    model = TabM(1 if binary else n_classes, k=k, units=units, dropout=dropout)
    model.build((None, *input_shape))
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="binary_crossentropy" if binary else "sparse_categorical_crossentropy",
    )
    return model
