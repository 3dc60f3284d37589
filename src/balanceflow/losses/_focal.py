"""Focal loss (Lin et al., 2017) for sigmoid, one-hot and sparse-integer targets."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from balanceflow.exceptions import InvalidParameterError
from balanceflow.losses._base import BalanceflowLoss, check_n_classes, softmax_focal
from balanceflow.losses._checks import check_alpha, check_class_counts, check_real
from balanceflow.losses._targets import prepare

__all__ = ["FocalLoss", "focal_loss"]


def _alpha_weights(alpha: Any, n_classes: int) -> np.ndarray | None:
    """The checked ``alpha`` as one weight per class."""
    if alpha is None:
        return None
    if isinstance(alpha, float):
        if n_classes != 2:
            raise InvalidParameterError(
                f"A float `alpha` weights the positive class of a binary output (alpha for "
                f"class 1, 1 - alpha for class 0), but the outputs have {n_classes} "
                f"classes. Pass one weight per class, or alpha='balanced'. "
                f"Received: alpha={alpha!r}."
            )
        return np.array([1.0 - alpha, alpha])
    check_n_classes(n_classes, alpha.size, "alpha")
    return alpha


def focal_loss(
    y_true: Any,
    y_pred: Any,
    *,
    gamma: float = 2.0,
    alpha: Any = None,
    class_counts: Any = None,
    from_logits: bool = False,
) -> Any:
    """Focal loss, one value per sample: ``-alpha_y * (1 - p_y) ** gamma * log p_y``.

    Parameters
    ----------
    y_true : tensor
        0/1 labels for one sigmoid output, class indices of shape ``(...)`` or ``(..., 1)``,
        or one-hot rows of shape ``(..., K)``.
    y_pred : tensor of shape (..., 1) or (..., K)
        Probabilities (sigmoid or softmax), or logits with ``from_logits=True``.
    gamma : float, default=2.0
        Focusing parameter, >= 0; ``gamma=0`` without ``alpha`` is the cross-entropy.
    alpha : None, float, sequence of float or "balanced", default=None
        Class weights. A float in [0, 1] is the weight of the positive class of a binary
        output (``1 - alpha`` for the negative class), as in Lin et al.; a sequence gives
        one weight per class; ``"balanced"`` uses ``n_samples / (n_classes * n_c)`` from
        ``class_counts``, so a rare class weighs more. Keras' ``alpha=0.25`` default would
        down-weight a rare positive class; here the default is no weighting.
    class_counts : sequence of int, default=None
        Training rows per class; needed for ``alpha="balanced"``.
    from_logits : bool, default=False

    Returns
    -------
    tensor of shape ``y_pred.shape[:-1]``
    """
    gamma = check_real(gamma, "gamma", low=0.0)
    counts = None if class_counts is None else check_class_counts(class_counts)
    checked = check_alpha(alpha, counts)
    logits, targets = prepare(y_true, y_pred, from_logits=from_logits)
    weights = _alpha_weights(checked, int(logits.shape[-1]))
    return softmax_focal(logits, targets, gamma=gamma, class_weight=weights)


@keras.saving.register_keras_serializable(package="balanceflow")
class FocalLoss(BalanceflowLoss):
    """Focal loss for binary, one-hot and sparse-integer targets.

    Down-weights well-classified samples by ``(1 - p_y) ** gamma`` so training focuses on
    the hard ones, and optionally weights classes by ``alpha``. See :func:`focal_loss`.

    Parameters
    ----------
    gamma : float, default=2.0
    alpha : None, float, sequence of float or "balanced", default=None
    class_counts : sequence of int, default=None
        Required with ``alpha="balanced"``.
    from_logits : bool, default=False
    reduction, name, dtype
        As for every ``keras.losses.Loss``.

    Examples
    --------
    >>> import numpy as np, keras
    >>> y = np.array([0] * 90 + [1] * 10)
    >>> loss = FocalLoss(gamma=2.0, alpha="balanced", class_counts=np.bincount(y))
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, "sigmoid")])
    >>> model.compile(optimizer="adam", loss=loss)
    """

    def __init__(
        self,
        gamma: float = 2.0,
        alpha: Any = None,
        class_counts: Any = None,
        from_logits: bool = False,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = "focal_loss",
        dtype: Any = None,
    ):
        super().__init__(
            from_logits=from_logits, reduction=reduction, name=name, dtype=dtype
        )
        self.gamma = check_real(gamma, "gamma", low=0.0)
        counts = None if class_counts is None else check_class_counts(class_counts)
        self._alpha = check_alpha(alpha, counts)
        self.alpha = alpha.tolist() if isinstance(alpha, np.ndarray) else alpha
        self.class_counts = None if counts is None else counts.tolist()

    def call(self, y_true: Any, y_pred: Any) -> Any:
        logits, targets = prepare(y_true, y_pred, from_logits=self.from_logits)
        weights = _alpha_weights(self._alpha, int(logits.shape[-1]))
        return softmax_focal(logits, targets, gamma=self.gamma, class_weight=weights)

    def _hyperparameters(self) -> dict[str, Any]:
        alpha = self.alpha
        if isinstance(alpha, dict):
            alpha = [float(alpha[k]) for k in sorted(alpha)]
        elif alpha is not None and not isinstance(alpha, str):
            alpha = float(alpha) if np.ndim(alpha) == 0 else [float(a) for a in alpha]
        return {"gamma": self.gamma, "alpha": alpha, "class_counts": self.class_counts}
