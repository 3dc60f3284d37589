"""Look up a balanceflow loss by name, for command-line flags and configuration files."""

from __future__ import annotations

from typing import Any

import keras

from balanceflow._validation import did_you_mean, short_repr
from balanceflow.exceptions import InvalidParameterError
from balanceflow.losses._class_balanced import ClassBalancedLoss
from balanceflow.losses._focal import FocalLoss
from balanceflow.losses._ldam import LDAMLoss
from balanceflow.losses._prior import BalancedSoftmaxLoss, LogitAdjustedLoss
from balanceflow.losses._weighted import WeightedBinaryCrossentropy

__all__ = ["LOSS_NAMES", "get", "loss_class"]

_CLASSES: dict[str, type[keras.losses.Loss]] = {
    "focal": FocalLoss,
    "class_balanced": ClassBalancedLoss,
    "logit_adjusted": LogitAdjustedLoss,
    "balanced_softmax": BalancedSoftmaxLoss,
    "ldam": LDAMLoss,
    "weighted_binary_crossentropy": WeightedBinaryCrossentropy,
}
LOSS_NAMES = tuple(_CLASSES)


def _key(name: str) -> str:
    """'FocalLoss', 'focal_loss', 'focal-loss' and 'focal' all give 'focal'."""
    key = name.strip().lower().replace("-", "").replace("_", "")
    return key[:-4] if key.endswith("loss") and key != "loss" else key


_BY_KEY = {_key(name): cls for name, cls in _CLASSES.items()}
_BY_KEY.update({_key(cls.__name__): cls for cls in _CLASSES.values()})


def get(name: Any, **kwargs: Any) -> keras.losses.Loss:
    """A balanceflow loss from its name and constructor arguments.

    Parameters
    ----------
    name : str or keras.losses.Loss
        One of ``"focal"``, ``"class_balanced"``, ``"logit_adjusted"``,
        ``"balanced_softmax"``, ``"ldam"``, ``"weighted_binary_crossentropy"``, or the class
        name (``"FocalLoss"``, ...); case, ``_`` and ``-`` do not matter. A loss instance is
        returned unchanged (no keyword arguments allowed then).
    **kwargs
        The loss's constructor arguments, for example ``class_counts=...``.

    Returns
    -------
    keras.losses.Loss

    Examples
    --------
    >>> get("focal", gamma=2.0).gamma
    2.0
    >>> type(get("LogitAdjustedLoss", class_priors=[0.9, 0.1])).__name__
    'LogitAdjustedLoss'
    """
    if isinstance(name, keras.losses.Loss):
        if kwargs:
            raise InvalidParameterError(
                "Keyword arguments can only be given with a loss name. Received: "
                f"{short_repr(name)} and {sorted(kwargs)}."
            )
        return name
    return loss_class(name)(**kwargs)


def loss_class(name: Any) -> type[keras.losses.Loss]:
    """The class that :func:`get` builds for ``name`` (same spelling rules)."""
    cls = _BY_KEY.get(_key(name)) if isinstance(name, str) else None
    if cls is None:
        raise InvalidParameterError(
            f"Unknown loss name. Received: name={short_repr(name)}. Use one of "
            f"{list(LOSS_NAMES)}." + did_you_mean(name, LOSS_NAMES)
        )
    return cls
