"""Output bias initialised from the class prior."""

from __future__ import annotations

from typing import Any

import numpy as np

from balanceflow._validation import short_repr
from balanceflow.exceptions import InvalidParameterError
from balanceflow.weights._class_weight import class_priors

__all__ = ["initial_bias", "prior_bias"]

_ACTIVATIONS = ("auto", "sigmoid", "softmax")


def prior_bias(y: Any, *, activation: str = "auto") -> np.ndarray:
    """Bias values that make an untrained output layer predict the class prior.

    With all-zero kernel weights, ``sigmoid(b) = p_1`` for ``b = log(p_1 / p_0)`` (binary,
    one output unit) and ``softmax(b) = p`` for ``b = log(p)`` (one unit per class).

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels, or one-hot rows.
    activation : {"auto", "sigmoid", "softmax"}, default="auto"
        The output activation; ``"auto"`` is ``"sigmoid"`` for two classes and ``"softmax"``
        otherwise.

    Returns
    -------
    ndarray of shape (1,) for sigmoid, (n_classes,) for softmax

    Examples
    --------
    >>> import numpy as np
    >>> b = prior_bias(np.array([0] * 90 + [1] * 10))
    >>> float(np.round(1 / (1 + np.exp(-b[0])), 6))
    0.1
    """
    if activation not in _ACTIVATIONS:
        raise InvalidParameterError(
            f"`activation` must be one of {list(_ACTIVATIONS)}. "
            f"Received: activation={short_repr(activation)}."
        )
    priors = class_priors(y)
    if activation == "auto":
        activation = "sigmoid" if len(priors) == 2 else "softmax"
    if activation == "sigmoid":
        if len(priors) != 2:
            raise InvalidParameterError(
                f"activation='sigmoid' needs two classes; y has {len(priors)}. Use "
                "activation='softmax' with one output unit per class."
            )
        return np.array([np.log(priors[1] / priors[0])])
    return np.log(priors)


def initial_bias(y: Any, *, activation: str = "auto") -> Any:
    """A Keras initializer for an output layer's bias, set to the log class prior.

    Starting from the prior removes the first epochs a network spends learning that the
    positive class is rare, and keeps the initial loss small (Karpathy's "init well").
    Use it as ``keras.layers.Dense(1, activation="sigmoid", bias_initializer=initial_bias(y))``
    or, for ``K`` classes, ``Dense(K, activation="softmax", bias_initializer=...)``.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        The training labels.
    activation : {"auto", "sigmoid", "softmax"}, default="auto"
        See :func:`prior_bias`.

    Returns
    -------
    keras.initializers.Constant
        Holding :func:`prior_bias` values; it serialises with the model.
    """
    import keras  # imported here: the rest of this module needs numpy only

    return keras.initializers.Constant(
        prior_bias(y, activation=activation).astype("float32")
    )
