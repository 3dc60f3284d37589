"""Imbalance-aware metrics (numpy only): label metrics, ranking metrics, calibration
(Brier score, log loss, expected calibration error) and ``evaluate``.

Every function takes ``(y_true, y_pred)`` or ``(y_true, y_score)``; options are keyword-only.
"""

from balanceflow.metrics._calibration import (
    CALIBRATION_BINS,
    brier_score,
    expected_calibration_error,
    log_loss,
)
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
    BOARD_METRICS,
    CALIBRATION_METRICS,
    LOWER_IS_BETTER,
    METRIC_LABELS,
    METRIC_NAMES,
    METRIC_RANGES,
    EvaluationReport,
    evaluate,
)

__all__ = [
    "BOARD_METRICS",
    "CALIBRATION_BINS",
    "CALIBRATION_METRICS",
    "LOWER_IS_BETTER",
    "METRIC_LABELS",
    "METRIC_NAMES",
    "METRIC_RANGES",
    "EvaluationReport",
    "average_precision",
    "balanced_accuracy",
    "brier_score",
    "confusion_matrix",
    "evaluate",
    "expected_calibration_error",
    "geometric_mean",
    "log_loss",
    "macro_f1",
    "matthews_corrcoef",
    "minority_f1",
    "per_class_recall",
    "precision_recall_f1",
    "roc_auc",
]
