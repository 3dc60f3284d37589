"""Class-balanced loss: weights from the effective number of samples (Cui et al., 2019)."""

from __future__ import annotations

from typing import Any

import keras

from balanceflow._validation import did_you_mean, short_repr
from balanceflow.exceptions import InvalidParameterError
from balanceflow.losses._base import BalanceflowLoss, softmax_focal
from balanceflow.losses._checks import (
    check_class_counts,
    check_real,
    class_balanced_weights,
)
from balanceflow.losses._targets import prepare

__all__ = ["ClassBalancedLoss", "class_balanced_loss"]

_BASES = ("ce", "focal")


def _check_base(base: Any) -> str:
    if base not in _BASES:
        raise InvalidParameterError(
            f"`base` must be one of {list(_BASES)}. Received: base={short_repr(base)}."
            + did_you_mean(base, _BASES)
        )
    return base


def class_balanced_loss(
    y_true: Any,
    y_pred: Any,
    *,
    class_counts: Any,
    beta: float = 0.999,
    base: str = "ce",
    gamma: float = 2.0,
    from_logits: bool = False,
) -> Any:
    """Cross-entropy or focal loss weighted by the inverse effective number of samples.

    Each sample's loss is multiplied by ``w_y``, where
    ``w_c = (1 - beta) / (1 - beta ** n_c)`` scaled so that the weights sum to the number
    of classes (:func:`class_balanced_weights`). The focal base is the softmax focal loss
    (:func:`focal_loss` with ``alpha = w``); Cui et al. also describe a sigmoid variant.

    Parameters
    ----------
    y_true, y_pred : tensor
        As for :func:`focal_loss`.
    class_counts : sequence of int
        Training rows per class, in class-index order, each > 0.
    beta : float, default=0.999
        In [0, 1); ``beta=0`` gives the unweighted base loss.
    base : {"ce", "focal"}, default="ce"
    gamma : float, default=2.0
        Focusing parameter of the focal base (ignored for ``"ce"``), >= 0.
    from_logits : bool, default=False

    Returns
    -------
    tensor of shape ``y_pred.shape[:-1]``
    """
    weights = class_balanced_weights(class_counts, beta=beta)
    base = _check_base(base)
    gamma = check_real(gamma, "gamma", low=0.0)
    logits, targets = prepare(y_true, y_pred, from_logits=from_logits)
    return softmax_focal(
        logits,
        targets,
        gamma=gamma if base == "focal" else 0.0,
        class_weight=weights,
    )


@keras.saving.register_keras_serializable(package="balanceflow")
class ClassBalancedLoss(BalanceflowLoss):
    """Class-balanced cross-entropy or focal loss (Cui et al., 2019).

    See :func:`class_balanced_loss`.

    Parameters
    ----------
    class_counts : sequence of int
        Training rows per class, for example ``balanceflow.class_counts(y_train)``.
    beta : float, default=0.999
    base : {"ce", "focal"}, default="ce"
    gamma : float, default=2.0
    from_logits : bool, default=False
    reduction, name, dtype
        As for every ``keras.losses.Loss``.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0] * 900 + [1] * 80 + [2] * 20)
    >>> loss = ClassBalancedLoss(np.bincount(y), beta=0.999, base="focal")
    """

    def __init__(
        self,
        class_counts: Any,
        beta: float = 0.999,
        base: str = "ce",
        gamma: float = 2.0,
        from_logits: bool = False,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = "class_balanced_loss",
        dtype: Any = None,
    ):
        super().__init__(
            from_logits=from_logits, reduction=reduction, name=name, dtype=dtype
        )
        self.class_counts = check_class_counts(class_counts).tolist()
        self.beta = check_real(beta, "beta", low=0.0, high=1.0, high_open=True)
        self.base = _check_base(base)
        self.gamma = check_real(gamma, "gamma", low=0.0)
        self.class_weight_ = class_balanced_weights(self.class_counts, beta=self.beta)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        logits, targets = prepare(y_true, y_pred, from_logits=self.from_logits)
        return softmax_focal(
            logits,
            targets,
            gamma=self.gamma if self.base == "focal" else 0.0,
            class_weight=self.class_weight_,
        )

    def _hyperparameters(self) -> dict[str, Any]:
        return {
            "class_counts": self.class_counts,
            "beta": self.beta,
            "base": self.base,
            "gamma": self.gamma,
        }
