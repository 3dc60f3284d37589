"""Label-distribution-aware margin loss (Cao et al., 2019)."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from balanceflow.losses._base import (
    BalanceflowLoss,
    ClassWeightState,
    check_n_classes,
    softmax_focal,
)
from balanceflow.losses._checks import (
    check_class_counts,
    check_class_weight,
    check_real,
)
from balanceflow.losses._targets import prepare

__all__ = ["LDAMLoss", "ldam_loss", "ldam_margins"]


def ldam_margins(class_counts: Any, *, max_margin: float = 0.5) -> np.ndarray:
    """Per-class margins ``m_c = C / n_c ** (1/4)``, with ``C`` such that the rarest class
    gets ``max_margin``.

    Examples
    --------
    >>> ldam_margins([10000, 1], max_margin=0.5).round(3).tolist()
    [0.05, 0.5]
    """
    counts = check_class_counts(class_counts)
    max_margin = check_real(max_margin, "max_margin", low=0.0)
    raw = counts**-0.25
    return raw * (max_margin / raw.max())


def _ldam(logits: Any, targets: Any, margins: np.ndarray, scale: float, weight: Any):
    check_n_classes(int(logits.shape[-1]), margins.size, "class_counts")
    shifted = logits - targets * ops.cast(margins, logits.dtype)
    return softmax_focal(scale * shifted, targets, class_weight=weight)


def ldam_loss(
    y_true: Any,
    y_pred: Any,
    *,
    class_counts: Any,
    max_margin: float = 0.5,
    scale: float = 30.0,
    class_weight: Any = None,
    from_logits: bool = False,
) -> Any:
    """LDAM loss, one value per sample: ``w_y * CE(scale * (z - m_y e_y), y)``.

    The true class's logit is lowered by a margin ``m_y`` that grows for rarer classes
    (:func:`ldam_margins`), so rare classes must be separated by a wider margin; the
    logits are then multiplied by ``scale``. ``max_margin=0`` and ``scale=1`` give the
    plain cross-entropy.

    Parameters
    ----------
    y_true, y_pred : tensor
        As for :func:`focal_loss`.
    class_counts : sequence of int
        Training rows per class, each > 0.
    max_margin : float, default=0.5
        Margin of the rarest class, >= 0.
    scale : float, default=30.0
        > 0. The paper uses 30 with cosine logits in [-1, 1] (a normalised last layer).
        With an ordinary ``Dense`` head the network can rescale its logits, so the scale
        sets the size of the margins in logit units: with ``scale=1`` the margins are soon
        outgrown and LDAM behaves like the cross-entropy, while the default 30 (and 5)
        clearly helped on ``digits_lt`` (see ``benchmarks/losses_long_tail.py``).
    class_weight : sequence of float, default=None
        Per-class weights (deferred re-weighting sets them late in training).
    from_logits : bool, default=False
        With probabilities, the logits are ``log p`` (softmax is shift-invariant).

    Returns
    -------
    tensor of shape ``y_pred.shape[:-1]``
    """
    margins = ldam_margins(class_counts, max_margin=max_margin)
    scale = check_real(scale, "scale", low=0.0, low_open=True)
    weight = None if class_weight is None else check_class_weight(class_weight)
    logits, targets = prepare(y_true, y_pred, from_logits=from_logits)
    return _ldam(logits, targets, margins, scale, weight)


@keras.saving.register_keras_serializable(package="balanceflow")
class LDAMLoss(ClassWeightState, BalanceflowLoss):
    """Label-distribution-aware margin loss (Cao et al., 2019); see :func:`ldam_loss`.

    The loss reads per-class weights from a non-trainable variable, all 1 at the start.
    Pair it with :class:`balanceflow.callbacks.DeferredReweighting` for LDAM-DRW: the
    callback switches the weights to class-balanced ones at ``start_epoch``.

    Parameters
    ----------
    class_counts : sequence of int
    max_margin : float, default=0.5
    scale : float, default=30.0
    from_logits : bool, default=False
    reduction, name, dtype
        As for every ``keras.losses.Loss``.
    class_weight : sequence of float, default=None
        The per-class weights to start from (default: 1 for every class).
        ``get_config`` records the current ones, so a model saved after
        :class:`~balanceflow.callbacks.DeferredReweighting` switched them reloads with
        them.

    Examples
    --------
    >>> import balanceflow as bf
    >>> from balanceflow.callbacks import DeferredReweighting
    >>> counts = bf.class_counts([0] * 90 + [1] * 8 + [2] * 2)
    >>> loss = LDAMLoss(counts, max_margin=0.5, scale=30.0, from_logits=True)
    >>> drw = DeferredReweighting(counts, start_epoch=8)   # model.fit(..., callbacks=[drw])
    """

    def __init__(
        self,
        class_counts: Any,
        max_margin: float = 0.5,
        scale: float = 30.0,
        from_logits: bool = False,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = "ldam_loss",
        dtype: Any = None,
        class_weight: Any = None,
    ):
        super().__init__(
            from_logits=from_logits, reduction=reduction, name=name, dtype=dtype
        )
        counts = check_class_counts(class_counts)
        self.class_counts = counts.tolist()
        self.max_margin = check_real(max_margin, "max_margin", low=0.0)
        self.scale = check_real(scale, "scale", low=0.0, low_open=True)
        self.margins_ = ldam_margins(counts, max_margin=self.max_margin)
        self._init_class_weight(np.ones(counts.size))
        if class_weight is not None:  # e.g. a saved model's weights after DRW switched
            self.set_class_weight(class_weight)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        logits, targets = prepare(y_true, y_pred, from_logits=self.from_logits)
        return _ldam(
            logits, targets, self.margins_, self.scale, self.class_weight_variable
        )

    def _hyperparameters(self) -> dict[str, Any]:
        return {
            "class_counts": self.class_counts,
            "max_margin": self.max_margin,
            "scale": self.scale,
            # The weights as they are now (DeferredReweighting may have switched them),
            # so that a saved and reloaded model computes the same loss.
            "class_weight": self.get_class_weight().tolist(),
        }
