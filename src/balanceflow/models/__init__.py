"""Built-in model builders, each called as ``builder(input_shape, n_classes)``.

- :func:`mlp`: the default model (``Dense(32) - Dense(16)`` on table rows, a small CNN on
  images), the model of the reference table;
- :func:`tabm`: TabM (Gorishniy et al., ICLR 2025), k MLPs trained at once that share
  their weights and differ by per-member adapters, their probabilities averaged.

Pass one as ``Recipe(model_fn=...)`` / ``compare(model_fn=...)``, or by name on the command
line (``--model tabm``).
"""

from __future__ import annotations

from balanceflow.models._tabm import EnsembleLinear, TabM, tabm

__all__ = ["BUILT_IN", "EnsembleLinear", "TabM", "mlp", "tabm"]


def mlp(input_shape, n_classes, *, learning_rate: float = 1e-3):
    """The default model (see :func:`balanceflow._models.default_model_fn`)."""
    from balanceflow._models import default_model_fn

    return default_model_fn(input_shape, n_classes, learning_rate=learning_rate)


#: The builders the command line knows by name (``--model NAME``).
BUILT_IN = {"mlp": mlp, "tabm": tabm}
