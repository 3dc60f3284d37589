"""The members of an ensemble joined into one Keras model (saved as one ``.keras`` file)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from balanceflow.ensemble._layers import EnsembleCombiner

__all__ = ["combine_models"]


def combine_models(
    members: Sequence[keras.Model],
    input_shape: tuple[int, ...],
    method: str,
    weights: Any,
    n_classes: int,
) -> keras.Model:
    """One Keras model: ``members`` side by side, joined by an ``EnsembleCombiner``.

    It outputs the combined (n, n_classes) probabilities of :func:`combine_proba`.
    """
    inputs = keras.Input(shape=tuple(input_shape), name="features")
    # Each member is wrapped under its own name: members built by one model_fn share the
    # name the user gave them, and a Keras model needs unique layer names.
    outputs = [
        _named(member, input_shape, f"member_{i}")(inputs)
        for i, member in enumerate(members)
    ]
    combined = EnsembleCombiner(
        method=method,
        weights=[float(w) for w in np.asarray(weights).ravel()],
        n_classes=n_classes,
        name="combine",
    )(outputs)
    return keras.Model(inputs, combined, name="strategy_ensemble")


def _named(member: keras.Model, input_shape: tuple[int, ...], name: str) -> keras.Model:
    """``member`` as a functional model called ``name``: its own graph for a functional
    model; a subclassed one (no ``inputs``, such as TabM) called on a new input."""
    if getattr(member, "inputs", None):
        return keras.Model(member.inputs[0], member.outputs[0], name=name)
    features = keras.Input(shape=tuple(input_shape))
    return keras.Model(features, member(features), name=name)
