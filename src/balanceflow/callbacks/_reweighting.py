"""Deferred re-weighting (DRW, Cao et al., 2019): class-balanced weights late in training.

Re-weighting from the first epoch hurts representation learning on long-tailed data;
switching the weights on late (after the features are learned) helps. The callback does not
touch ``fit(class_weight=...)`` (Keras fixes that at the start of ``fit``). Instead it
assigns the per-class weights that balanceflow's weight-aware losses read at every step
from a non-trainable ``keras.Variable``:

- :class:`balanceflow.losses.LDAMLoss` (LDAM-DRW);
- any loss wrapped by :func:`balanceflow.losses.weighted`, for example a cross-entropy:
  ``weighted("sparse_categorical_crossentropy", np.ones(n_classes))``.

The callback owns those weights: 1 for every class before ``start_epoch`` (whatever the loss
was built with), the class-balanced weights from ``start_epoch`` on. On TensorFlow and
PyTorch the compiled step reads the variable, so nothing is recompiled; JAX compiles the
current value into the step as a constant, so there the callback rebuilds the train and test
steps once, when the weights change.
"""

from __future__ import annotations

import numbers
from typing import Any

import keras
import numpy as np

from balanceflow._validation import short_repr
from balanceflow.exceptions import InvalidParameterError
from balanceflow.losses import ClassWeightState, class_balanced_weights

__all__ = ["DeferredReweighting"]


def _weight_aware_losses(loss: Any) -> list[ClassWeightState]:
    """The weight-aware losses in ``model.loss`` (a loss, or a dict / list of them)."""
    if isinstance(loss, ClassWeightState):
        return [loss]
    if isinstance(loss, dict):
        loss = list(loss.values())
    if isinstance(loss, (list, tuple)):
        return [found for item in loss for found in _weight_aware_losses(item)]
    return []


class DeferredReweighting(keras.callbacks.Callback):
    """Unweighted training until ``start_epoch``, class-balanced weights from then on.

    Parameters
    ----------
    class_counts : sequence of int
        Training rows per class, in class-index order, each > 0.
    start_epoch : int
        First epoch (0-based, as Keras counts) trained with the class-balanced weights;
        ``0`` weights from the start. Cao et al. switch at about 80% of training.
    beta : float, default=0.999
        Of the effective number of samples, in [0, 1):
        ``w_c = (1 - beta) / (1 - beta ** n_c)``, scaled to sum to the number of classes
        (:func:`balanceflow.losses.class_balanced_weights`).

    Attributes
    ----------
    class_weight_ : ndarray of shape (n_classes,)
        The weights used from ``start_epoch`` on.
    losses_ : list
        The weight-aware losses found in ``model.loss`` when training began.

    Examples
    --------
    >>> import numpy as np, keras, balanceflow as bf
    >>> from balanceflow.losses import LDAMLoss
    >>> y = np.array([0] * 90 + [1] * 8 + [2] * 2); X = np.random.rand(100, 4)
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> model.compile("adam", loss=LDAMLoss(bf.class_counts(y), from_logits=True))
    >>> drw = DeferredReweighting(bf.class_counts(y), start_epoch=8)
    >>> history = model.fit(X, y, epochs=10, callbacks=[drw], verbose=0)
    """

    def __init__(self, class_counts: Any, start_epoch: int, beta: float = 0.999):
        super().__init__()
        # Validates class_counts (each > 0) and beta (in [0, 1)).
        self.class_weight_ = class_balanced_weights(class_counts, beta=beta)
        if (
            not isinstance(start_epoch, numbers.Integral)
            or isinstance(start_epoch, bool)
            or start_epoch < 0
        ):
            raise InvalidParameterError(
                "`start_epoch` must be an int >= 0 (the first re-weighted epoch, counted "
                f"from 0). Received: start_epoch={short_repr(start_epoch)}."
            )
        self.class_counts = class_counts
        self.start_epoch = int(start_epoch)
        self.beta = float(beta)
        self.losses_: list[ClassWeightState] = []

    def on_train_begin(self, logs: dict | None = None) -> None:
        user_loss = getattr(self.model, "loss", None)
        self.losses_ = _weight_aware_losses(user_loss)
        if not self.losses_:
            raise InvalidParameterError(
                "DeferredReweighting found no loss it can re-weight. Compile the model with "
                "balanceflow.losses.LDAMLoss(...) or with a loss wrapped by "
                "balanceflow.losses.weighted(loss, np.ones(n_classes)). "
                f"Received: model.loss={short_repr(user_loss)}."
            )
        for loss in self.losses_:
            if loss.n_classes != self.class_weight_.size:
                raise InvalidParameterError(
                    f"`class_counts` has {self.class_weight_.size} values but the loss "
                    f"{getattr(loss, 'name', loss)!r} weights {loss.n_classes} classes."
                )

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if epoch >= self.start_epoch:
            target = self.class_weight_.astype("float32")
        else:
            target = np.ones(self.class_weight_.size, dtype="float32")
        changed = False
        for loss in self.losses_:
            if not np.array_equal(loss.get_class_weight(), target):
                loss.set_class_weight(target)
                changed = True
        if changed and keras.backend.backend() == "jax":
            # JAX traced the old weights into the step as constants: trace again.
            self.model.make_train_function(force=True)
            self.model.test_function = None
