"""``compare``: which imbalance strategy works on this data, under stratified CV."""

from balanceflow.model_selection._artefacts import (
    FittedModel,
    check_model_path,
    load_fitted,
)
from balanceflow.model_selection._baselines import BASELINES, DEFAULT_BASELINES
from balanceflow.model_selection._compare import ProgressCallback, Target, compare
from balanceflow.model_selection._fit import fit_best
from balanceflow.model_selection._preprocessing import clean_features, make_preprocessor
from balanceflow.model_selection._result import (
    BASELINE_NOTE,
    METRIC_LABELS,
    CompareResult,
)

__all__ = [
    "BASELINES",
    "BASELINE_NOTE",
    "DEFAULT_BASELINES",
    "METRIC_LABELS",
    "CompareResult",
    "FittedModel",
    "ProgressCallback",
    "Target",
    "check_model_path",
    "clean_features",
    "compare",
    "fit_best",
    "load_fitted",
    "make_preprocessor",
]
