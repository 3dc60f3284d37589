"""What every balanceflow loss shares: the softmax focal core, the thin ``Loss`` base and the
per-class weight state that :class:`~balanceflow.callbacks.DeferredReweighting` assigns."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from balanceflow._validation import short_repr
from balanceflow.exceptions import InvalidParameterError
from balanceflow.losses._checks import check_class_weight

__all__ = [
    "BalanceflowLoss",
    "ClassWeightState",
    "check_n_classes",
    "dtype_name",
    "softmax_focal",
]


def check_n_classes(n_logits: int, n_values: int, name: str) -> None:
    """Fail when a per-class parameter does not have one value per output class."""
    if n_logits != n_values:
        raise InvalidParameterError(
            f"`{name}` has {n_values} values but the outputs have {n_logits} classes (a "
            "single sigmoid unit counts as 2). Give one value per class, in class-index "
            "order."
        )


def softmax_focal(
    logits: Any, targets: Any, *, gamma: float = 0.0, class_weight: Any = None
) -> Any:
    """``-sum_c w_c * y_c * (1 - p_c) ** gamma * log p_c`` with ``p = softmax(logits)``.

    With ``gamma=0`` and no weights this is the softmax cross-entropy. ``targets`` are
    one-hot (or soft) rows; returns one value per row (the last axis is summed).
    """
    log_p = ops.log_softmax(logits, axis=-1)
    terms = -targets * log_p
    if gamma:
        terms = terms * ops.power(ops.maximum(1.0 - ops.exp(log_p), 0.0), gamma)
    if class_weight is not None:
        check_n_classes(
            int(logits.shape[-1]), int(class_weight.shape[-1]), "class_weight"
        )
        terms = terms * ops.cast(class_weight, terms.dtype)
    return ops.sum(terms, axis=-1)


def dtype_name(dtype: Any) -> Any:
    if dtype is None or isinstance(dtype, str):
        return dtype
    return getattr(dtype, "name", str(dtype))


class BalanceflowLoss(keras.losses.Loss):
    """Thin base: keeps ``from_logits`` and builds ``get_config`` from the constructor's
    arguments. Subclasses implement ``call`` (one value per sample) and
    ``_hyperparameters``. Reduction, ``sample_weight`` and masks are left to Keras."""

    def __init__(
        self,
        *,
        from_logits: bool,
        reduction: str | None,
        name: str | None,
        dtype: Any,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if not isinstance(from_logits, (bool, np.bool_)):
            raise InvalidParameterError(
                "`from_logits` must be a bool: True when the model outputs raw scores, "
                "False when it outputs probabilities (sigmoid or softmax). "
                f"Received: from_logits={short_repr(from_logits)}."
            )
        self.from_logits = bool(from_logits)
        self._dtype_arg = dtype_name(dtype)

    def _hyperparameters(self) -> dict[str, Any]:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(self._hyperparameters())
        config.update(from_logits=self.from_logits, dtype=self._dtype_arg)
        return config


class ClassWeightState:
    """A per-class weight vector held in a non-trainable ``keras.Variable``.

    Losses with this state multiply each sample's loss by the weight of its class, read from
    the variable at every step. :class:`~balanceflow.callbacks.DeferredReweighting` assigns it
    between epochs (and, on backends that compile the variable into the step as a constant,
    JAX, rebuilds the step), so weights can change during ``fit`` without recompiling.
    """

    def _init_class_weight(self, weights: np.ndarray) -> None:
        self._class_weight = keras.Variable(
            np.asarray(weights, dtype="float32"),
            trainable=False,
            dtype="float32",
            name="class_weight",
        )

    @property
    def class_weight_variable(self) -> keras.Variable:
        """The variable the loss reads its per-class weights from."""
        return self._class_weight

    @property
    def n_classes(self) -> int:
        return int(self._class_weight.shape[0])

    def get_class_weight(self) -> np.ndarray:
        """The current per-class weights."""
        return np.asarray(keras.ops.convert_to_numpy(self._class_weight.value))

    def set_class_weight(self, class_weight: Any) -> None:
        """Assign new per-class weights (a sequence or a ``{class_index: weight}`` dict)."""
        weights = check_class_weight(class_weight)
        if weights.size != self.n_classes:
            raise InvalidParameterError(
                f"`class_weight` has {weights.size} values but this loss weights "
                f"{self.n_classes} classes. Received: "
                f"class_weight={short_repr(weights.tolist())}."
            )
        self._class_weight.assign(weights.astype("float32"))
