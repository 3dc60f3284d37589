"""Losses that shift the logits by the log class prior before the softmax cross-entropy.

Both go through :func:`balanceflow.weights.adjust_logits`, the one prior-offset operation:

- logit-adjusted loss (Menon et al., 2021): ``CE(z + tau * log(prior), y)``;
- balanced softmax (Ren et al., 2020): ``CE(z + log(n_c), y)``, the same shift with
  ``tau=1`` and the priors ``n_c / n`` (a constant shift of all logits changes nothing).

The model learns logits whose plain ``argmax`` is the balanced decision: predict with the
raw outputs, without adding the offset.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from balanceflow.losses._base import BalanceflowLoss, check_n_classes, softmax_focal
from balanceflow.losses._checks import check_class_counts, check_real
from balanceflow.losses._targets import prepare
from balanceflow.weights import adjust_logits, check_priors

__all__ = [
    "BalancedSoftmaxLoss",
    "LogitAdjustedLoss",
    "balanced_softmax_loss",
    "logit_adjusted_loss",
]


def _prior_shifted_ce(
    y_true: Any, y_pred: Any, priors: np.ndarray, tau: float, from_logits: bool
) -> Any:
    logits, targets = prepare(y_true, y_pred, from_logits=from_logits)
    check_n_classes(int(logits.shape[-1]), priors.size, "class_priors")
    return softmax_focal(adjust_logits(logits, priors, tau=tau), targets)


def logit_adjusted_loss(
    y_true: Any,
    y_pred: Any,
    *,
    class_priors: Any,
    tau: float = 1.0,
    from_logits: bool = False,
) -> Any:
    """Logit-adjusted softmax cross-entropy (Menon et al., 2021), one value per sample.

    ``-log softmax(z + tau * log(prior))_y``. ``tau=0`` is the plain cross-entropy.

    Parameters
    ----------
    y_true, y_pred : tensor
        As for :func:`focal_loss`; a single sigmoid output is the two-class problem
        ``[0, z]``, so its priors are ``[p_0, p_1]``.
    class_priors : sequence of float
        Training share of each class, each > 0, for example
        ``balanceflow.class_priors(y_train)``. Priors that do not sum to 1 (such as raw
        counts) are normalised with a ``UserWarning``, as :func:`balanceflow.weights.
        check_priors` does.
    tau : float, default=1.0
        Strength of the adjustment, >= 0 (``adjust_logits`` itself also takes negative
        values, for post-hoc correction; a training loss needs ``tau >= 0``).
    from_logits : bool, default=False

    Returns
    -------
    tensor of shape ``y_pred.shape[:-1]``
    """
    tau = check_real(tau, "tau", low=0.0)
    priors = check_priors(class_priors)
    return _prior_shifted_ce(y_true, y_pred, priors, tau, from_logits)


def balanced_softmax_loss(
    y_true: Any, y_pred: Any, *, class_counts: Any, from_logits: bool = False
) -> Any:
    """Balanced softmax cross-entropy (Ren et al., 2020), one value per sample.

    ``-log(n_y exp(z_y) / sum_c n_c exp(z_c))``. Equal counts give the plain cross-entropy.

    Parameters
    ----------
    y_true, y_pred : tensor
        As for :func:`focal_loss`.
    class_counts : sequence of int
        Training rows per class, each > 0.
    from_logits : bool, default=False
    """
    counts = check_class_counts(class_counts)
    return _prior_shifted_ce(y_true, y_pred, counts / counts.sum(), 1.0, from_logits)


@keras.saving.register_keras_serializable(package="balanceflow")
class LogitAdjustedLoss(BalanceflowLoss):
    """Logit-adjusted loss (Menon et al., 2021); see :func:`logit_adjusted_loss`.

    Parameters
    ----------
    class_priors : sequence of float
        Normalised once here, with a ``UserWarning``, if they do not sum to 1.
    tau : float, default=1.0
        >= 0.
    from_logits : bool, default=False
    reduction, name, dtype
        As for every ``keras.losses.Loss``.

    Examples
    --------
    >>> import balanceflow as bf
    >>> y = [0] * 90 + [1] * 10
    >>> loss = LogitAdjustedLoss(bf.class_priors(y), tau=1.0)
    """

    def __init__(
        self,
        class_priors: Any,
        tau: float = 1.0,
        from_logits: bool = False,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = "logit_adjusted_loss",
        dtype: Any = None,
    ):
        super().__init__(
            from_logits=from_logits, reduction=reduction, name=name, dtype=dtype
        )
        self._priors = check_priors(class_priors)
        self.class_priors = self._priors.tolist()
        self.tau = check_real(tau, "tau", low=0.0)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        return _prior_shifted_ce(
            y_true, y_pred, self._priors, self.tau, self.from_logits
        )

    def _hyperparameters(self) -> dict[str, Any]:
        return {"class_priors": self.class_priors, "tau": self.tau}


@keras.saving.register_keras_serializable(package="balanceflow")
class BalancedSoftmaxLoss(BalanceflowLoss):
    """Balanced softmax loss (Ren et al., 2020); see :func:`balanced_softmax_loss`.

    Parameters
    ----------
    class_counts : sequence of int
    from_logits : bool, default=False
    reduction, name, dtype
        As for every ``keras.losses.Loss``.

    Examples
    --------
    >>> import balanceflow as bf
    >>> loss = BalancedSoftmaxLoss(bf.class_counts([0] * 90 + [1] * 8 + [2] * 2))
    """

    def __init__(
        self,
        class_counts: Any,
        from_logits: bool = False,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = "balanced_softmax_loss",
        dtype: Any = None,
    ):
        super().__init__(
            from_logits=from_logits, reduction=reduction, name=name, dtype=dtype
        )
        counts = check_class_counts(class_counts)
        self.class_counts = counts.tolist()
        self._priors = counts / counts.sum()

    def call(self, y_true: Any, y_pred: Any) -> Any:
        return _prior_shifted_ce(y_true, y_pred, self._priors, 1.0, self.from_logits)

    def _hyperparameters(self) -> dict[str, Any]:
        return {"class_counts": self.class_counts}
