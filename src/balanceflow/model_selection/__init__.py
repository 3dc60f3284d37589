"""``compare``: which imbalance strategy works on this data, under stratified CV."""

from balanceflow.model_selection._compare import ProgressCallback, compare
from balanceflow.model_selection._fit import FittedModel, fit_best, load_fitted
from balanceflow.model_selection._preprocessing import clean_features, make_preprocessor
from balanceflow.model_selection._result import METRIC_LABELS, CompareResult

__all__ = [
    "METRIC_LABELS",
    "CompareResult",
    "FittedModel",
    "ProgressCallback",
    "clean_features",
    "compare",
    "fit_best",
    "load_fitted",
    "make_preprocessor",
]
