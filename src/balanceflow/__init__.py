"""balanceflow: make Keras classifiers work on class-imbalanced data.

The numpy core (``sampling``, ``weights``, ``metrics``, ``datasets``) imports without
TensorFlow; the Keras parts (``ensemble``, ``compare``) load on first use.

>>> import balanceflow as bf
>>> X_res, y_res = bf.resample(X, y, method="over", seed=0)         # doctest: +SKIP
>>> model.fit(X, y, class_weight=bf.class_weight(y))                # doctest: +SKIP
>>> print(bf.compare(X, y).leaderboard())                           # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

from balanceflow import _keras_hook, exceptions
from balanceflow._validation import encode_labels
from balanceflow.sampling import resample
from balanceflow.weights import class_counts, class_priors, class_weight, initial_bias

__version__ = "0.1.0"

# name -> module that defines it; imported on first access.
_LAZY = {
    "evaluate": "balanceflow.metrics",
    "compare": "balanceflow.model_selection",
    "CompareResult": "balanceflow.model_selection",
    "StrategyEnsemble": "balanceflow.training",
}
_SUBMODULES = {
    "callbacks",
    "cli",
    "data",
    "datasets",
    "ensemble",
    "layers",
    "losses",
    "metrics",
    "model_selection",
    "models",
    "report",
    "sampling",
    "strategies",
    "thresholds",
    "training",
    "weights",
}

__all__ = [
    "CompareResult",
    "StrategyEnsemble",
    "__version__",
    "callbacks",
    "class_counts",
    "class_priors",
    "class_weight",
    "compare",
    "data",
    "datasets",
    "encode_labels",
    "ensemble",
    "evaluate",
    "exceptions",
    "initial_bias",
    "layers",
    "losses",
    "metrics",
    "model_selection",
    "report",
    "resample",
    "sampling",
    "strategies",
    "thresholds",
    "training",
    "weights",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"balanceflow.{name}")
    raise AttributeError(f"module 'balanceflow' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


_keras_hook.install()
