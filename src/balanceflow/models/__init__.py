"""Built-in model builders, each called as ``builder(input_shape, n_classes)``.

- :func:`mlp`: the default model (``Dense(32) - Dense(16)`` on table rows, a small CNN on
  images), the model of the reference table;
- :func:`tabm`: TabM (Gorishniy et al., ICLR 2025), k MLPs trained at once that share
  their weights and differ by per-member adapters, their probabilities averaged.

Pass one as ``Recipe(model_fn=...)`` / ``compare(model_fn=...)``, or by name on the command
line (``--model tabm``). Importing this package does not start Keras; the builders do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["BUILT_IN", "EnsembleLinear", "TabM", "mlp", "tabm"]


def mlp(input_shape: Sequence[int], n_classes: int, *, learning_rate: float = 1e-3):
    """The default model (see :func:`balanceflow._models.default_model_fn`)."""
    from balanceflow._models import default_model_fn

    return default_model_fn(input_shape, n_classes, learning_rate=learning_rate)


def tabm(
    input_shape: Sequence[int],
    n_classes: int,
    *,
    k: int = 32,
    units: Sequence[int] = (256, 256),
    dropout: float = 0.1,
    learning_rate: float = 1e-3,
):
    """A compiled TabM for table rows (rank-1 inputs): ``len(units)`` BatchEnsemble
    blocks of ``k`` members (linear, ReLU, ``dropout``) and a head per member, with Adam
    (``learning_rate``) and the cross-entropy of its head (one sigmoid unit for two
    classes, else softmax). While it trains, the loss is the mean of the members' own
    losses; ``evaluate``, ``predict`` and the metrics use the members' mean probability
    (so a training loss and a validation loss measure different things). See
    :class:`balanceflow.models.TabM`."""
    from balanceflow.models._tabm import build_tabm

    return build_tabm(
        input_shape,
        n_classes,
        k=k,
        units=units,
        dropout=dropout,
        learning_rate=learning_rate,
    )


#: The builders the command line knows by name (``--model NAME``).
BUILT_IN = {"mlp": mlp, "tabm": tabm}


def __getattr__(name: str) -> Any:
    if name in ("EnsembleLinear", "TabM"):
        from balanceflow.models import _tabm

        return getattr(_tabm, name)
    raise AttributeError(f"module 'balanceflow.models' has no attribute {name!r}")
