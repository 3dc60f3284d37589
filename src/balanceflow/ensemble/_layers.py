"""The Keras layer that joins ensemble members into one saveable model."""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["EnsembleCombiner"]


@keras.saving.register_keras_serializable(package="balanceflow")
class EnsembleCombiner(keras.layers.Layer):
    """Combine the outputs of ensemble members into class probabilities.

    Takes a list of member outputs, each ``(batch, 1)`` (a sigmoid unit, binary) or
    ``(batch, n_classes)`` (softmax), and returns ``(batch, n_classes)`` probabilities with
    the rule of :func:`balanceflow.ensemble.combine_proba`.

    Parameters
    ----------
    method : {"soft", "hard", "weighted"}
    weights : list of float
        One weight per member (used by ``"weighted"``; uniform otherwise).
    n_classes : int
    """

    def __init__(self, method: str, weights: list[float], n_classes: int, **kwargs):
        super().__init__(**kwargs)
        self.method = method
        self.weights_list = [float(w) for w in weights]
        self.n_classes = int(n_classes)

    def _as_classes(self, p):
        if p.shape[-1] == 1 and self.n_classes == 2:
            return ops.concatenate([1.0 - p, p], axis=-1)
        return p

    def call(self, inputs):
        stack = ops.stack(
            [ops.cast(self._as_classes(p), "float32") for p in inputs], axis=0
        )
        mean = ops.mean(stack, axis=0)
        if self.method == "soft":
            return mean
        if self.method == "weighted":
            w = ops.reshape(
                ops.convert_to_tensor(self.weights_list, dtype="float32"), (-1, 1, 1)
            )
            return ops.sum(w * stack, axis=0)
        votes = ops.mean(
            ops.one_hot(ops.argmax(stack, axis=-1), self.n_classes), axis=0
        )
        votes = votes + 1e-9 * mean
        return votes / ops.sum(votes, axis=-1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], self.n_classes)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "method": self.method,
                "weights": self.weights_list,
                "n_classes": self.n_classes,
            }
        )
        return config
