"""Early stopping: the validation rows a model holds out of its training rows, the score
it is judged by after every epoch, and the Keras callback of the one-at-a-time engine
(the fused engine computes the same score inside its step, :mod:`._fused`).

The score is the class-balanced log loss of the model's probabilities brought to equal
class priors: Bayes' rule divides each class's probability by the prior the strategy
trains under (``Strategy.prior_state`` of the training rows' counts) and renormalises,
then the score is the mean over the classes present of each class's mean cross-entropy
(probabilities clipped to ``[1e-7, 1 - 1e-7]``). It is the same for every strategy: a
model trained on the rows as they are is not judged worse than an over-sampled one for
answering to another prior, and a class with five validation rows weighs as much as one
with five hundred.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from balanceflow._validation import derive_seed

__all__ = [
    "BestEpoch",
    "balanced_log_loss",
    "first_scored_epoch",
    "row_weights",
    "training_prior",
    "validation_rows",
]

#: Probabilities are clipped to [EPSILON, 1 - EPSILON] before the logarithm.
EPSILON = 1e-7
#: The most rows a model holds out for early stopping.
MAX_VALIDATION_ROWS = 20_000


def validation_rows(
    rows: np.ndarray, codes: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` split into (training rows, validation rows) for early stopping.

    Stratified: each class gives ``round(fraction * count)`` of its rows (at least one,
    and never its last one), drawn from ``seed``; at most :data:`MAX_VALIDATION_ROWS` in
    all. Both parts keep the order of ``rows``. The trials of one fold share ``seed``
    (their initial-weights seed), so every strategy there holds out the same rows.
    """
    rows = np.asarray(rows)
    labels = codes[rows]
    fraction = min(float(fraction), MAX_VALIDATION_ROWS / max(len(rows), 1))
    rng = np.random.default_rng(derive_seed(seed, "early-stopping"))
    held = np.zeros(len(rows), dtype=bool)
    for cls in np.unique(labels):
        where = np.flatnonzero(labels == cls)
        if len(where) < 2:
            continue
        take = min(len(where) - 1, max(1, round(fraction * len(where))))
        held[rng.choice(where, size=take, replace=False)] = True
    extra = int(held.sum()) - MAX_VALIDATION_ROWS  # rounding per class can overshoot
    if extra > 0:
        held[rng.choice(np.flatnonzero(held), size=extra, replace=False)] = False
    return rows[~held], rows[held]


def row_weights(labels: np.ndarray) -> np.ndarray:
    """Per-row weights whose weighted sum of cross-entropies is the balanced log loss:
    ``1 / (classes present * rows of the row's class)``."""
    labels = np.asarray(labels)
    present, inverse, counts = np.unique(
        labels, return_inverse=True, return_counts=True
    )
    return (1.0 / (len(present) * counts[inverse])).astype(np.float32)


def training_prior(strategy: Any, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """The class prior ``strategy`` trains under on rows with these labels; equal
    priors (no correction) where no prior describes it (status ``"unknown"``: LDAM's
    margins, cleaning samplers, parts of your own), as ``compare`` leaves those models'
    probabilities as trained."""
    counts = np.bincount(np.asarray(labels), minlength=n_classes)
    state = strategy.prior_state(counts)
    if state.status == "unknown":
        return np.full(n_classes, 1.0 / n_classes)
    return np.clip(np.asarray(state.prior, dtype=np.float64), EPSILON, None)


def balanced_log_loss(
    outputs: np.ndarray, labels: np.ndarray, prior: np.ndarray | None = None
) -> float:
    """The balanced log loss of a model's outputs (one sigmoid unit, or one column per
    class), brought from ``prior`` (None: equal priors) to equal priors first."""
    outputs = np.asarray(outputs, dtype=np.float32)
    labels = np.asarray(labels).astype(int)
    if outputs.ndim == 1 or outputs.shape[1] == 1:
        p = outputs.reshape(-1, 1)
        outputs = np.hstack([1 - p, p])
    if prior is not None:
        outputs = outputs / np.asarray(prior, dtype=np.float32)
        outputs = outputs / outputs.sum(axis=1, keepdims=True)
    p = np.clip(outputs[np.arange(len(labels)), labels], EPSILON, 1 - EPSILON)
    return float(np.sum(-np.log(p.astype(np.float64)) * row_weights(labels)))


def first_scored_epoch(callbacks: Any) -> int:
    """The first epoch early stopping may keep: a model with deferred re-weighting is
    judged from the epoch its re-weighting starts (before, it trains another objective,
    and stopping there would silently drop the re-weighting)."""
    return max((int(getattr(cb, "start_epoch", 0)) for cb in callbacks), default=0)


def best_epoch_callback(
    X: np.ndarray,
    y: np.ndarray,
    prior: np.ndarray | None,
    patience: int,
    first_epoch: int = 0,
) -> Any:
    """A :class:`BestEpoch` callback (built here so that Keras is imported lazily)."""
    import keras

    class _BestEpoch(BestEpoch, keras.callbacks.Callback):
        pass

    return _BestEpoch(X, y, prior, patience, first_epoch)


class BestEpoch:
    """Score the model on ``(X, y)`` after every epoch (its outputs brought from
    ``prior`` to equal priors), stop after ``patience`` epochs without a lower score,
    and leave the model with its best epoch's weights.

    ``best_epoch`` (0-based) and ``best_score`` are set once training ends; an epoch
    scoring NaN never counts as better. Epochs before ``first_epoch`` are not scored.
    """

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray,
        prior: np.ndarray | None,
        patience: int,
        first_epoch: int = 0,
    ):
        super().__init__()
        self.X, self.y, self.patience = X, np.asarray(y), int(patience)
        self.prior, self.first_epoch = prior, int(first_epoch)
        self.best_score = np.inf
        self.best_epoch = -1
        self.best_weights: list[np.ndarray] | None = None
        self.wait = 0

    def on_train_begin(self, logs: Any = None) -> None:
        self.best_score, self.best_epoch, self.best_weights, self.wait = (
            np.inf,
            -1,
            None,
            0,
        )

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        import keras

        if epoch < self.first_epoch:
            return
        outputs = keras.ops.convert_to_numpy(self.model(self.X, training=False))
        score = balanced_log_loss(outputs, self.y, self.prior)
        if score < self.best_score:
            self.best_score, self.best_epoch, self.wait = score, epoch, 0
            self.best_weights = self.model.get_weights()
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.model.stop_training = True

    def on_train_end(self, logs: Any = None) -> None:
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)
