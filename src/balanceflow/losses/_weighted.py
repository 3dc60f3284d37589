"""Per-element class weights for the targets where Keras' ``class_weight`` fails or misleads.

``model.fit(class_weight=...)`` turns class weights into one weight per *sample*, so it
refuses targets of rank > 2 (segmentation masks, per-timestep labels), is refused for
multi-output models, and for multi-hot targets weights a row by its ``argmax`` label only.
Here the weight is applied to each *element* of the loss instead:

- :func:`weighted` wraps any single-label loss (sparse, one-hot or one sigmoid unit, of any
  rank) and multiplies each element's loss by the weight of that element's class;
- :class:`WeightedBinaryCrossentropy` with :func:`multilabel_pos_weight` weights the
  positives of each label of a multi-label (multi-hot) target;
- a multi-output model gets one weighting per output:
  ``model.compile(loss={"out_a": weighted(loss_a, w_a), "out_b": weighted(loss_b, w_b)})``.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from balanceflow._validation import short_repr
from balanceflow.exceptions import DataError, InvalidParameterError
from balanceflow.losses._base import (
    BalanceflowLoss,
    ClassWeightState,
    check_n_classes,
    dtype_name,
)
from balanceflow.losses._checks import check_class_weight
from balanceflow.losses._targets import align_targets, to_logits

__all__ = [
    "WeightedBinaryCrossentropy",
    "WeightedLoss",
    "element_weights",
    "multilabel_pos_weight",
    "weighted",
    "weighted_binary_crossentropy",
]


def _element_weights(kind: str, y_true: Any, y_pred: Any, weights: Any) -> Any:
    n_classes = 2 if kind == "binary" else int(y_pred.shape[-1])
    check_n_classes(n_classes, int(weights.shape[-1]), "class_weight")
    w = ops.cast(weights, y_pred.dtype)
    if kind == "binary":
        y = ops.squeeze(ops.cast(y_true, y_pred.dtype), -1)
        return w[0] * (1.0 - y) + w[1] * y
    if kind == "sparse":
        return ops.take(w, ops.cast(y_true, "int32"), axis=0)
    return ops.sum(ops.cast(y_true, y_pred.dtype) * w, axis=-1)


def element_weights(y_true: Any, y_pred: Any, class_weight: Any) -> Any:
    """The weight of every element of the targets, as :func:`weighted` applies it.

    For an element ``e`` (a sample, a pixel, a time step) the weight is

    - ``class_weight[y_e]`` for class indices (sparse targets, any rank);
    - ``sum_c y_ec * class_weight[c]`` for one-hot (or soft) rows;
    - ``y_e * class_weight[1] + (1 - y_e) * class_weight[0]`` for one sigmoid unit.

    Parameters
    ----------
    y_true : tensor
        Targets, as for :func:`focal_loss`: shape ``(...)``, ``(..., 1)`` or ``(..., K)``.
    y_pred : tensor of shape (..., K) or (..., 1)
        Only its shape and dtype are used.
    class_weight : dict or sequence of float
        One weight >= 0 per class (class-index order), e.g. ``balanceflow.class_weight``.

    Returns
    -------
    tensor of shape ``y_pred.shape[:-1]``
    """
    weights = check_class_weight(class_weight)
    kind, y_true, y_pred = align_targets(y_true, y_pred)
    return _element_weights(kind, y_true, y_pred, weights)


def _resolve_loss(loss: Any) -> Any:
    if isinstance(loss, dict):
        loss = keras.saving.deserialize_keras_object(loss)
    elif isinstance(loss, str):
        try:
            loss = keras.losses.get(loss)
        except ValueError:
            raise InvalidParameterError(
                f"`loss` names no Keras loss. Received: loss={short_repr(loss)}. Use a "
                "Keras loss name such as 'binary_crossentropy' or "
                "'sparse_categorical_crossentropy', or a loss object."
            ) from None
    if not callable(loss):
        raise InvalidParameterError(
            "`loss` must be a Keras loss: a keras.losses.Loss, a loss function or its "
            f"name. Received: loss={short_repr(loss)}."
        )
    return loss


@keras.saving.register_keras_serializable(package="balanceflow")
class WeightedLoss(ClassWeightState, keras.losses.Loss):
    """A loss whose every element is multiplied by the weight of its class.

    Built by :func:`weighted`; see there. The weights live in a non-trainable variable, so
    :class:`balanceflow.callbacks.DeferredReweighting` can change them during ``fit``.
    """

    def __init__(
        self,
        loss: Any,
        class_weight: Any,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = None,
        dtype: Any = None,
    ):
        self.loss = _resolve_loss(loss)
        if name is None:
            base = getattr(self.loss, "name", None) or getattr(
                self.loss, "__name__", "loss"
            )
            name = f"weighted_{base}"
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.class_weight = check_class_weight(class_weight).tolist()
        self._dtype_arg = dtype_name(dtype)
        self._init_class_weight(np.asarray(self.class_weight))

    def call(self, y_true: Any, y_pred: Any) -> Any:
        kind, y_true, y_pred = align_targets(y_true, y_pred)
        base = self.loss.call if isinstance(self.loss, keras.losses.Loss) else self.loss
        values = base(y_true, y_pred)
        weights = _element_weights(kind, y_true, y_pred, self.class_weight_variable)
        if len(values.shape) != len(weights.shape):
            raise DataError(
                f"The base loss returned values of shape {tuple(values.shape)}, but the "
                f"class weights have one value per element, shape {tuple(weights.shape)}. "
                "Wrap a loss that returns one value per element (it reduces only the class "
                "axis). For multi-hot targets use WeightedBinaryCrossentropy."
            )
        return values * ops.cast(weights, values.dtype)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            loss=keras.saving.serialize_keras_object(self.loss),
            # The weights as they are now (DeferredReweighting may have changed them).
            class_weight=self.get_class_weight().tolist(),
            dtype=self._dtype_arg,
        )
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> WeightedLoss:
        config = dict(config)
        config["loss"] = _resolve_loss(config["loss"])
        return cls(**config)


def weighted(loss: Any, class_weight: Any, *, name: str | None = None) -> WeightedLoss:
    """Wrap ``loss`` so that each element's loss is multiplied by the weight of its class.

    Works for every single-label target shape: one label per sample, per-timestep labels
    ``(N, T)``, segmentation masks ``(N, H, W)`` / ``(N, H, W, 1)`` with ``K`` softmax
    outputs or one sigmoid unit, and one-hot masks ``(N, H, W, K)``. The weights follow
    :func:`element_weights`; the result is reduced as Keras reduces any loss
    (``"sum_over_batch_size"``: the mean over all elements of ``w_e * loss_e``, the same
    normalisation as ``fit(class_weight=...)`` on flat targets).

    For a segmentation mask, balanced weights come from the flattened training masks:
    ``weighted("sparse_categorical_crossentropy", bf.class_weight(masks.ravel()))``.
    For multi-hot (multi-label) targets use :class:`WeightedBinaryCrossentropy` with
    :func:`multilabel_pos_weight`. For a multi-output model give each output its own:
    ``model.compile(loss={"out_a": weighted(...), "out_b": weighted(...)})``.

    Parameters
    ----------
    loss : keras.losses.Loss, function or str
        A loss that returns one value per element (it reduces only the class axis), such
        as ``"sparse_categorical_crossentropy"``, ``keras.losses.BinaryCrossentropy()`` or
        a balanceflow loss. Its own reduction is not used.
    class_weight : dict or sequence of float
        ``{class_index: weight}`` (as :func:`balanceflow.class_weight` returns) or one
        weight >= 0 per class; a single sigmoid unit has 2 classes.
    name : str, default=None
        Defaults to ``"weighted_" + the loss's name``.

    Returns
    -------
    WeightedLoss
        Serialisable; a model compiled with it saves to ``.keras`` and loads with
        ``safe_mode=True``.

    Examples
    --------
    >>> import numpy as np, balanceflow as bf
    >>> masks = np.zeros((4, 16, 16), dtype=int); masks[:, 7:9, 7:9] = 1   # 1.6% foreground
    >>> loss = weighted("sparse_categorical_crossentropy", bf.class_weight(masks.ravel()))
    """
    if name is None:
        return WeightedLoss(loss, class_weight)
    return WeightedLoss(loss, class_weight, name=name)


def multilabel_pos_weight(y: Any, *, name: str = "y") -> np.ndarray:
    """Per-label positive weights ``n_negative / n_positive`` from multi-hot targets.

    With these weights the positives and the negatives of every label carry the same total
    weight in :class:`WeightedBinaryCrossentropy`.

    Parameters
    ----------
    y : array-like of shape (n_samples, n_labels)
        Multi-hot targets (0/1).

    Returns
    -------
    ndarray of shape (n_labels,)

    Raises
    ------
    DataError
        If ``y`` is not 2-D 0/1, or a label is never (or always) positive.

    Examples
    --------
    >>> multilabel_pos_weight([[1, 0], [0, 0], [0, 1], [0, 0]]).tolist()
    [3.0, 3.0]
    """
    arr = np.asarray(y)
    if arr.ndim != 2 or arr.size == 0:
        raise DataError(
            f"`{name}` must be multi-hot rows of shape (n_samples, n_labels). "
            f"Received: {name} with shape {arr.shape}."
        )
    if not np.isin(arr, (0, 1)).all():
        raise DataError(
            f"`{name}` must hold only 0 and 1 (multi-hot). "
            f"Received values {short_repr(np.unique(arr).tolist())}."
        )
    positives = arr.sum(axis=0).astype(np.float64)
    negatives = arr.shape[0] - positives
    bad = np.flatnonzero((positives == 0) | (negatives == 0))
    if bad.size:
        raise DataError(
            f"Label(s) {bad.tolist()} of `{name}` are positive in "
            f"{positives[bad].astype(int).tolist()} of {arr.shape[0]} rows: a label needs "
            "both positive and negative rows to be weighted. Drop it or add examples."
        )
    return negatives / positives


def _check_pos_weight(pos_weight: Any) -> np.ndarray:
    try:
        arr = np.asarray(pos_weight, dtype=np.float64)
    except (TypeError, ValueError):
        arr = np.array([np.nan])
    if arr.ndim > 1 or arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise InvalidParameterError(
            "`pos_weight` must be a finite number >= 0 or one such number per label. "
            f"Received: pos_weight={short_repr(pos_weight)}."
        )
    return arr


def weighted_binary_crossentropy(
    y_true: Any, y_pred: Any, *, pos_weight: Any, from_logits: bool = False
) -> Any:
    """Binary cross-entropy with per-label positive weights, averaged over the labels.

    ``mean_l -(pos_weight_l * y_l * log p_l + (1 - y_l) * log(1 - p_l))``, one value per
    sample, for multi-hot targets of shape ``(..., L)`` (or binary targets, ``L = 1``).

    Parameters
    ----------
    y_true : tensor of shape (..., L)
    y_pred : tensor of shape (..., L)
        Sigmoid probabilities, or logits with ``from_logits=True``.
    pos_weight : float or sequence of float
        Weight of the positives of each label, e.g. :func:`multilabel_pos_weight`.
    from_logits : bool, default=False
    """
    weights = _check_pos_weight(pos_weight)
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.convert_to_tensor(y_true)
    if len(y_pred.shape) == len(y_true.shape) + 1 and y_pred.shape[-1] == 1:
        y_true = ops.expand_dims(y_true, -1)
    if tuple(y_true.shape) != tuple(y_pred.shape) and None not in (
        tuple(y_true.shape) + tuple(y_pred.shape)
    ):
        raise DataError(
            "Multi-label targets and outputs must have the same shape (one column per "
            f"label). Received: y_true with shape {tuple(y_true.shape)} and y_pred with "
            f"shape {tuple(y_pred.shape)}."
        )
    if weights.ndim == 1 and weights.size not in (1, int(y_pred.shape[-1])):
        raise InvalidParameterError(
            f"`pos_weight` has {weights.size} values but the outputs have "
            f"{int(y_pred.shape[-1])} labels. Give one weight per label."
        )
    z = to_logits(y_pred, from_logits=from_logits, binary=True)
    y = ops.cast(y_true, z.dtype)
    log_p = -ops.softplus(-z)  # log sigmoid(z)
    log_not_p = -ops.softplus(z)  # log (1 - sigmoid(z))
    w = ops.cast(weights, z.dtype)
    return ops.mean(-(w * y * log_p + (1.0 - y) * log_not_p), axis=-1)


@keras.saving.register_keras_serializable(package="balanceflow")
class WeightedBinaryCrossentropy(BalanceflowLoss):
    """Binary cross-entropy with per-label positive weights, for multi-label targets.

    See :func:`weighted_binary_crossentropy`. Keras' ``class_weight`` cannot express this:
    it gives a multi-hot row one weight, from one label.

    Parameters
    ----------
    pos_weight : float or sequence of float
        For example ``multilabel_pos_weight(Y_train)``.
    from_logits : bool, default=False
    reduction, name, dtype
        As for every ``keras.losses.Loss``.

    Examples
    --------
    >>> import numpy as np
    >>> Y = (np.random.default_rng(0).random((200, 3)) < [0.5, 0.1, 0.02]).astype(int)
    >>> loss = WeightedBinaryCrossentropy(multilabel_pos_weight(Y))
    """

    def __init__(
        self,
        pos_weight: Any,
        from_logits: bool = False,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = "weighted_binary_crossentropy",
        dtype: Any = None,
    ):
        super().__init__(
            from_logits=from_logits, reduction=reduction, name=name, dtype=dtype
        )
        arr = _check_pos_weight(pos_weight)
        self.pos_weight = float(arr) if arr.ndim == 0 else arr.tolist()

    def call(self, y_true: Any, y_pred: Any) -> Any:
        return weighted_binary_crossentropy(
            y_true, y_pred, pos_weight=self.pos_weight, from_logits=self.from_logits
        )

    def _hyperparameters(self) -> dict[str, Any]:
        return {"pos_weight": self.pos_weight}
