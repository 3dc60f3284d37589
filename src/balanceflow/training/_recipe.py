"""A training recipe: how every model of a comparison, a fit or an ensemble is built and
trained (the model builder, the epochs, the batch size, the optimizer's learning rate and
the seed). One object instead of five settings passed through every signature."""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from balanceflow._validation import check_int, short_repr
from balanceflow.exceptions import InvalidParameterError

__all__ = ["Recipe", "resolve_recipe"]


@dataclass(frozen=True)
class Recipe:
    """How models are built and trained.

    Parameters
    ----------
    model_fn : callable, optional
        ``model_fn(input_shape, n_classes) -> keras.Model`` (or a function of no
        arguments). Default: a Dense(32)-Dense(16) MLP for rows, a small CNN for images.
        It must be importable by name (a module-level function) to run in worker processes.
    epochs : int, default=30
    batch_size : int, default=64
    learning_rate : float, default=1e-3
        Adam's learning rate for the default model and for a model that ``model_fn``
        returns uncompiled; a model compiled by ``model_fn`` keeps its own optimizer.
    seed : int, default=0
        Seeds the folds, the initial weights, the samplers and the training runs.

    Examples
    --------
    >>> from balanceflow.training import Recipe
    >>> Recipe(epochs=10).batch_size
    64
    """

    model_fn: Callable[..., Any] | None = None
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 1e-3
    seed: int = 0

    def __post_init__(self) -> None:
        check_int(self.epochs, "epochs")
        check_int(self.batch_size, "batch_size")
        check_int(self.seed, "seed", minimum=0)
        if self.model_fn is not None and not callable(self.model_fn):
            raise InvalidParameterError(
                "`model_fn` must be a function that returns a Keras model. "
                f"Received: model_fn={short_repr(self.model_fn)}."
            )
        rate = self.learning_rate
        if (
            not isinstance(rate, numbers.Real)
            or isinstance(rate, bool)
            or not 0 < float(rate) < 1
        ):
            raise InvalidParameterError(
                "`learning_rate` must be a float in (0, 1). "
                f"Received: learning_rate={short_repr(rate)}."
            )

    @property
    def model_name(self) -> str:
        """How the model is named in settings and leaderboards."""
        if self.model_fn is None:
            return "default MLP"
        return _function_name(self.model_fn)

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
        return {
            "model": self.model_name,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "learning_rate": float(self.learning_rate),
            "seed": self.seed,
        }


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
    module = getattr(function, "__module__", None) or ""
    name = getattr(function, "__qualname__", None) or type(function).__name__
    return f"{module}:{name}" if module and module != "__main__" else name
