"""A training recipe: how every model of a comparison, a fit or an ensemble is built and
trained (the model builder, the epochs, the batch size, the optimizer's learning rate and
the seed). One object instead of five settings passed through every signature."""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from balanceflow._validation import check_int, short_repr
from balanceflow.exceptions import InvalidParameterError

#: ``early_stopping="auto"`` needs at least this many rows of every class (10% of them
#: held out: 20 rows of the rarest class).
MIN_CLASS_ROWS = 200
#: The most epochs of ``epochs="auto"`` when the models do not stop early.
FIXED_EPOCHS = 60

__all__ = [
    "FIXED_EPOCHS",
    "MIN_CLASS_ROWS",
    "Recipe",
    "auto_batch_size",
    "auto_epochs",
    "resolve_recipe",
]


@dataclass(frozen=True)
class Recipe:
    """How models are built and trained.

    Parameters
    ----------
    model_fn : callable, optional
        ``model_fn(input_shape, n_classes) -> keras.Model`` (or a function of no
        arguments). Default: a Dense(32)-Dense(16) MLP for rows, a small CNN for images.
        It must be importable by name (a module-level function) to run in worker processes.
    epochs : int or "auto", default="auto"
        The most epochs a model trains. ``"auto"``: a budget that shrinks as the table
        grows (:func:`auto_epochs`: 200 epochs up to 1,000 rows, 63 at 10,000, 20 from
        100,000), with early stopping where every class has at least 200 rows, and at
        most 60 epochs without it (see :meth:`for_rows`). An int trains exactly that many
        epochs unless ``early_stopping=True``.
    batch_size : int or "auto", default="auto"
        ``"auto"``: :func:`auto_batch_size`, 64 up to 4,096 rows, growing with the table
        to 2,048 (a 1,000,000-row table does not need batches of 64).
    learning_rate : float, default=1e-3
        Adam's learning rate for the default model and for a model that ``model_fn``
        returns uncompiled; a model compiled by ``model_fn`` keeps its own optimizer.
    seed : int, default=0
        Seeds the folds, the initial weights, the samplers and the training runs.
    early_stopping : bool or "auto", default="auto"
        Hold out ``validation_fraction`` of each model's training rows (stratified, never
        rows it is scored on), score the model on them after every epoch and keep the
        weights of its best epoch, stopping after ``patience`` epochs without a better
        one. The score is the class-balanced log loss (the mean over classes of each
        class's mean cross-entropy): the same for every strategy, and each class counts
        alike however few rows it has. ``"auto"``: on when ``epochs="auto"`` and every
        class has at least 200 rows (:meth:`for_rows`).
    patience : int or "auto", default="auto"
        Epochs without a better validation score before a model stops; ``"auto"``: a
        tenth of the epoch budget, at least 5.
    validation_fraction : float, default=0.1
        The share of each model's training rows held out for early stopping (at most
        20,000 rows; a class with one row keeps it for training).

    Examples
    --------
    >>> from balanceflow.training import Recipe
    >>> Recipe(epochs=10).batch_size
    'auto'
    >>> Recipe().for_rows(1000).settings()["epochs"]
    200
    >>> Recipe().for_rows([0] * 1023 + [1] * 43).epochs  # 43 rare rows: no early stopping
    60
    >>> Recipe(epochs=30, batch_size=64).for_rows(1066).early_stopping
    False
    """

    model_fn: Callable[..., Any] | None = None
    epochs: int | str = "auto"
    batch_size: int | str = "auto"
    learning_rate: float = 1e-3
    seed: int = 0
    early_stopping: bool | str = "auto"
    patience: int | str = "auto"
    validation_fraction: float = 0.1

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "patience"):
            value = getattr(self, name)
            if not (isinstance(value, str) and value == "auto"):
                _check_int_or_auto(value, name)
        if not (
            isinstance(self.early_stopping, bool)
            or (isinstance(self.early_stopping, str) and self.early_stopping == "auto")
        ):
            raise InvalidParameterError(
                "`early_stopping` must be True, False or 'auto'. "
                f"Received: early_stopping={short_repr(self.early_stopping)}."
            )
        _check_fraction(self.validation_fraction, "validation_fraction", 0.5)
        stops = (
            self.early_stopping
            if isinstance(self.early_stopping, bool)
            else self.epochs == "auto"
        )
        unused = [
            name
            for name, given in (
                ("patience", self.patience != "auto"),
                ("validation_fraction", float(self.validation_fraction) != 0.1),
            )
            if given
        ]
        if not stops and unused:
            name = unused[0]
            raise InvalidParameterError(
                f"`{name}` applies to early stopping, which is off here (epochs="
                f"{self.epochs!r} trains exactly that many epochs). Pass "
                f"early_stopping=True, or leave `{name}` out. Received: "
                f"{name}={short_repr(getattr(self, name))}."
            )
        check_int(self.seed, "seed", minimum=0)
        if self.model_fn is not None and not callable(self.model_fn):
            raise InvalidParameterError(
                "`model_fn` must be a function that returns a Keras model. "
                f"Received: model_fn={short_repr(self.model_fn)}."
            )
        _check_fraction(self.learning_rate, "learning_rate", 1)

    @property
    def model_name(self) -> str:
        """How the model is named in settings and leaderboards."""
        if self.model_fn is None:
            return "default MLP"
        return _function_name(self.model_fn)

    @property
    def resolved(self) -> bool:
        """Whether every ``"auto"`` setting has been given a value (:meth:`for_rows`)."""
        names = ["epochs", "batch_size", "early_stopping"]
        if self.early_stopping is True:
            names.append("patience")
        return not any(isinstance(getattr(self, name), str) for name in names)

    def for_rows(self, rows: Any) -> Recipe:
        """This recipe with its ``"auto"`` settings decided for a table: ``rows`` is its
        class labels (or codes), or just its number of rows. A resolved recipe is
        returned as it is.

        ``early_stopping="auto"`` stops early only with ``epochs="auto"`` and when every
        class has at least :data:`MIN_CLASS_ROWS` rows (so that each model holds out at
        least 20 of each): with fewer, the score hangs on a handful of rare rows and
        early stopping picks its epoch by chance (measured on the shipped datasets, where
        it cost up to 0.08 in mean PR-AUC on one seed against a fixed budget). Without
        early stopping, ``"auto"`` epochs are at most :data:`FIXED_EPOCHS`.
        """
        if self.resolved:
            return self
        if isinstance(rows, numbers.Integral) and not isinstance(rows, bool):
            n_rows, rarest = check_int(rows, "n_rows"), None
        else:
            labels = np.asarray(rows)
            _, counts = np.unique(labels, return_counts=True)
            n_rows, rarest = len(labels), int(counts.min()) if len(counts) else 0
        epochs = auto_epochs(n_rows) if self.epochs == "auto" else self.epochs
        stopping = self.early_stopping
        if stopping == "auto":
            stopping = self.epochs == "auto" and (
                rarest is None or rarest >= MIN_CLASS_ROWS
            )
            if self.epochs == "auto" and not stopping:
                epochs = min(epochs, FIXED_EPOCHS)
        patience = self.patience
        if patience == "auto" and stopping:
            patience = max(5, epochs // 10)
        return dataclasses.replace(
            self,
            epochs=epochs,
            batch_size=(
                auto_batch_size(n_rows)
                if self.batch_size == "auto"
                else self.batch_size
            ),
            early_stopping=stopping,
            patience=patience,
        )

    def build(self, input_shape: tuple[int, ...], n_classes: int, *, seed: int) -> Any:
        """A compiled Keras model, its initial weights seeded by ``seed``."""
        from balanceflow._models import call_model_fn, default_model_fn

        if self.model_fn is None:
            builder = functools.partial(
                default_model_fn, learning_rate=float(self.learning_rate)
            )
        else:
            builder = self.model_fn
        return call_model_fn(
            builder,
            input_shape,
            n_classes,
            seed=seed,
            learning_rate=float(self.learning_rate),
        )

    def settings(self) -> dict[str, Any]:
        """The recipe as plain data (for results and model cards)."""
        settings = {
            "model": self.model_name,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "learning_rate": float(self.learning_rate),
            "seed": self.seed,
        }
        if self.early_stopping is not False:
            settings["early_stopping"] = {
                "patience": self.patience,
                "validation_fraction": float(self.validation_fraction),
                "monitor": "balanced log loss",
            }
        return settings


def auto_epochs(n_rows: int) -> int:
    """The epoch budget of ``epochs="auto"`` for a table of ``n_rows`` rows:
    ``200 * sqrt(1000 / n_rows)``, between 20 and 200 (200 up to 1,000 rows, 63 at
    10,000, 20 from 100,000: at 1,000,000 rows a budget of 10 was measured to be spent
    to its last epoch). Early stopping ends most runs sooner."""
    return int(min(200, max(20, round(200 * math.sqrt(1000 / max(n_rows, 1))))))


def auto_batch_size(n_rows: int) -> int:
    """The batch size of ``batch_size="auto"``: the power of two nearest
    ``n_rows / 64``, between 64 and 2,048 (64 up to 4,096 rows, 128 at 10,000, 2,048
    from about 95,000). An epoch is then about 45 to 90 steps, until the cap."""
    return int(min(2048, max(64, 2 ** round(math.log2(max(n_rows, 1) / 64)))))


def resolve_recipe(recipe: Recipe | None, **overrides: Any) -> Recipe:
    """The recipe of a driver that takes either ``recipe`` or its fields as keywords.

    ``overrides`` are the keywords the caller gave (``None``: not given); given with a
    ``recipe`` they are an error, since one of the two would be silently ignored.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    if recipe is None:
        return Recipe(**given)
    if not isinstance(recipe, Recipe):
        raise InvalidParameterError(
            "`recipe` must be a balanceflow.training.Recipe. "
            f"Received: recipe={short_repr(recipe)}."
        )
    if given:
        raise InvalidParameterError(
            f"Pass {sorted(given)} inside the recipe or as keywords, not both: "
            f"Recipe(..., {', '.join(f'{k}=...' for k in sorted(given))})."
        )
    return recipe


def _function_name(function: Any) -> str:
    from balanceflow.models import BUILT_IN  # imports no Keras

    for name, built_in in BUILT_IN.items():
        if function is built_in:
            return name
    module = getattr(function, "__module__", None) or ""
    name = getattr(function, "__qualname__", None) or type(function).__name__
    return f"{module}:{name}" if module and module != "__main__" else name


def _check_int_or_auto(value: Any, name: str) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise InvalidParameterError(
            f"`{name}` must be an int >= 1 or 'auto'. "
            f"Received: {name}={short_repr(value)}."
        )
    return int(value)


def _check_fraction(value: Any, name: str, high: float) -> None:
    """``value`` must be a real number in (0, high)."""
    if (
        not isinstance(value, numbers.Real)
        or isinstance(value, bool)
        or not 0 < float(value) < high
    ):
        raise InvalidParameterError(
            f"`{name}` must be a float in (0, {high}). "
            f"Received: {name}={short_repr(value)}."
        )
