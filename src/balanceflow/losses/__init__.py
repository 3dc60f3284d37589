"""Imbalance-aware Keras losses; ``keras.ops`` only, so they run on every Keras backend.

Each loss is a pure function that returns one value per sample (``focal_loss``, ...) and a
thin ``keras.losses.Loss`` class that passes the same hyperparameters through
(``FocalLoss``, ...), registered for ``.keras`` files that load with ``safe_mode=True``.

Every loss takes ``from_logits`` (default False: the model outputs probabilities) and these
targets: 0/1 labels of shape ``(B,)`` or ``(B, 1)`` with one sigmoid unit, class indices of
shape ``(B,)`` or ``(B, 1)`` with ``K`` outputs, or one-hot rows ``(B, K)``; also with extra
axes (``(N, H, W)`` masks, ``(N, T)`` sequences). A single sigmoid logit ``z`` is treated as
the two-class logits ``[0, z]``, so binary outputs work with every loss.

>>> import balanceflow as bf
>>> loss = bf.losses.get("focal", alpha="balanced", class_counts=bf.class_counts(y))  # doctest: +SKIP
>>> model.compile(optimizer="adam", loss=loss)                                        # doctest: +SKIP
"""

from balanceflow import _keras_hook
from balanceflow.losses._base import ClassWeightState
from balanceflow.losses._checks import class_balanced_weights
from balanceflow.losses._class_balanced import ClassBalancedLoss, class_balanced_loss
from balanceflow.losses._focal import FocalLoss, focal_loss
from balanceflow.losses._ldam import LDAMLoss, ldam_loss, ldam_margins
from balanceflow.losses._prior import (
    BalancedSoftmaxLoss,
    LogitAdjustedLoss,
    balanced_softmax_loss,
    logit_adjusted_loss,
)
from balanceflow.losses._registry import LOSS_NAMES, get, loss_class
from balanceflow.losses._weighted import (
    WeightedBinaryCrossentropy,
    WeightedLoss,
    element_weights,
    multilabel_pos_weight,
    weighted,
    weighted_binary_crossentropy,
)

__all__ = [
    "LOSS_NAMES",
    "BalancedSoftmaxLoss",
    "ClassBalancedLoss",
    "ClassWeightState",
    "FocalLoss",
    "LDAMLoss",
    "LogitAdjustedLoss",
    "WeightedBinaryCrossentropy",
    "WeightedLoss",
    "balanced_softmax_loss",
    "class_balanced_loss",
    "class_balanced_weights",
    "element_weights",
    "focal_loss",
    "get",
    "ldam_loss",
    "ldam_margins",
    "logit_adjusted_loss",
    "loss_class",
    "multilabel_pos_weight",
    "weighted",
    "weighted_binary_crossentropy",
]

_keras_hook.register()  # siblings skipped while this package was loading
