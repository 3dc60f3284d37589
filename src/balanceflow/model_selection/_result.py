"""The result of ``compare``: per-fold records and the leaderboard built from them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from balanceflow._validation import short_repr
from balanceflow.exceptions import InvalidParameterError
from balanceflow.metrics import METRIC_NAMES

__all__ = ["METRIC_LABELS", "CompareResult"]

#: How each metric is titled in tables.
METRIC_LABELS = {
    "pr_auc": "PR-AUC",
    "roc_auc": "ROC-AUC",
    "balanced_accuracy": "Bal. acc.",
    "g_mean": "G-mean",
    "minority_f1": "Min. F1",
    "macro_f1": "Macro F1",
    "mcc": "MCC",
}


@dataclass
class CompareResult:
    """Per-fold metrics of every strategy, and the summaries drawn from them.

    Attributes
    ----------
    records : DataFrame
        One row per (strategy, fold): the metrics and ``fit_seconds``.
    strategies : list of str
        The strategies compared, in the order requested.
    classes, class_counts : list
        The labels in class-index order and their row counts.
    folds : list of (train_indices, test_indices)
        The stratified folds, the same for every strategy.
    y_true : ndarray of shape (n_samples,)
        The targets as class indices (``classes[y_true]`` are the labels).
    proba : dict of str to ndarray of shape (n_samples, n_classes)
        Out-of-fold class probabilities of each strategy: row ``i`` comes from the model
        that did not see row ``i``.
    settings : dict
        ``n_splits``, ``seed``, ``epochs``, ``batch_size``, ``threshold``, ``model``.
    """

    records: pd.DataFrame
    strategies: list[str]
    classes: list[Any]
    class_counts: list[int]
    folds: list[tuple[np.ndarray, np.ndarray]] = field(repr=False)
    y_true: np.ndarray = field(repr=False)
    proba: dict[str, np.ndarray] = field(repr=False)
    settings: dict[str, Any]
    dataset: str | None = None

    def _check_metric(self, metric: str) -> str:
        if metric not in METRIC_NAMES:
            raise InvalidParameterError(
                f"Unknown `metric`. Received: metric={short_repr(metric)}. "
                f"Use one of {list(METRIC_NAMES)}."
            )
        return metric

    def leaderboard(self, metric: str = "pr_auc") -> pd.DataFrame:
        """Mean and standard deviation over folds of every metric, best ``metric`` first.

        Returns a DataFrame indexed by strategy with (metric, "mean"/"std") columns; the
        standard deviation is the sample one (ddof=1) over folds.
        """
        metric = self._check_metric(metric)
        grouped = self.records.groupby("strategy", sort=False)[list(METRIC_NAMES)]
        table = grouped.agg(["mean", "std"])
        table = table.reindex(self.strategies)
        return table.sort_values((metric, "mean"), ascending=False, kind="stable")

    def best(self, metric: str = "pr_auc") -> str:
        """The strategy with the highest mean ``metric``."""
        return str(self.leaderboard(metric).index[0])

    @property
    def imbalance_ratio(self) -> float:
        return max(self.class_counts) / min(self.class_counts)

    def to_text(self, metric: str = "pr_auc") -> str:
        """The leaderboard as plain text, ``mean ± std`` per metric."""
        table = self.leaderboard(metric)
        rows = [["strategy"] + [METRIC_LABELS[m] for m in METRIC_NAMES]]
        for name, values in table.iterrows():
            rows.append(
                [str(name)]
                + [
                    f"{values[(m, 'mean')]:.3f} ± {values[(m, 'std')]:.3f}"
                    for m in METRIC_NAMES
                ]
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def to_dict(self, metric: str = "pr_auc") -> dict[str, Any]:
        """A JSON-serialisable summary: settings, data, leaderboard (sorted) and records."""
        table = self.leaderboard(metric)
        board = []
        for name, values in table.iterrows():
            entry: dict[str, Any] = {"strategy": str(name)}
            for m in METRIC_NAMES:
                entry[m] = {
                    "mean": float(values[(m, "mean")]),
                    "std": float(values[(m, "std")])
                    if np.isfinite(values[(m, "std")])
                    else None,
                }
            board.append(entry)
        return {
            "dataset": self.dataset,
            "classes": [
                c if isinstance(c, (str, int, float, bool)) else str(c)
                for c in self.classes
            ],
            "class_counts": [int(c) for c in self.class_counts],
            "imbalance_ratio": float(self.imbalance_ratio),
            "settings": self.settings,
            "sorted_by": metric,
            "leaderboard": board,
            "records": json.loads(self.records.to_json(orient="records")),
        }
