"""Class weights, class priors and prior-initialised output biases (numpy only)."""

from balanceflow._validation import encode_labels
from balanceflow.weights._bias import initial_bias, prior_bias
from balanceflow.weights._class_weight import (
    CLASS_WEIGHT_METHODS,
    class_counts,
    class_priors,
    class_weight,
)
from balanceflow.weights._prior_offset import adjust_logits, check_priors

__all__ = [
    "CLASS_WEIGHT_METHODS",
    "adjust_logits",
    "check_priors",
    "class_counts",
    "class_priors",
    "class_weight",
    "encode_labels",
    "initial_bias",
    "prior_bias",
]
