"""Imbalance-aware metrics (numpy only): label metrics, ranking metrics and ``evaluate``.

Every function takes ``(y_true, y_pred)`` or ``(y_true, y_score)``; options are keyword-only.
"""

from balanceflow.metrics._classification import (
    average_precision,
    balanced_accuracy,
    confusion_matrix,
    geometric_mean,
    macro_f1,
    matthews_corrcoef,
    minority_f1,
    per_class_recall,
    precision_recall_f1,
    roc_auc,
)
from balanceflow.metrics._report import (
    METRIC_LABELS,
    METRIC_NAMES,
    METRIC_RANGES,
    EvaluationReport,
    evaluate,
)

__all__ = [
    "METRIC_LABELS",
    "METRIC_NAMES",
    "METRIC_RANGES",
    "EvaluationReport",
    "average_precision",
    "balanced_accuracy",
    "confusion_matrix",
    "evaluate",
    "geometric_mean",
    "macro_f1",
    "matthews_corrcoef",
    "minority_f1",
    "per_class_recall",
    "precision_recall_f1",
    "roc_auc",
]
