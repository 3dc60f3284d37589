"""Imbalance-aware training signals for Keras: epoch-level metrics on the whole validation
set, stateful metrics for ``compile()``, and deferred class re-weighting."""

from balanceflow import _keras_hook
from balanceflow.callbacks._imbalanced_metrics import DEFAULT_METRICS, ImbalancedMetrics
from balanceflow.callbacks._keras_metrics import (
    BalancedAccuracy,
    GMean,
    MatthewsCorrelation,
)
from balanceflow.callbacks._reweighting import DeferredReweighting

__all__ = [
    "DEFAULT_METRICS",
    "BalancedAccuracy",
    "DeferredReweighting",
    "GMean",
    "ImbalancedMetrics",
    "MatthewsCorrelation",
]

_keras_hook.register()  # siblings skipped while this package was loading
