"""The report's figures, drawn on ``matplotlib.figure.Figure`` with the Agg canvas.

pyplot is never imported, so the user's backend and global figure state are left alone.
Curves come from scikit-learn (``precision_recall_curve``, ``roc_curve``,
``calibration_curve``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from balanceflow.metrics import (
    CALIBRATION_BINS,
    brier_score,
    expected_calibration_error,
)

__all__ = [
    "brier_score",
    "confusion_figure",
    "expected_calibration_error",
    "label_text",
    "pr_figure",
    "reliability_figure",
    "roc_figure",
]

#: Curves drawn per figure at most (legends stay readable); the rarest classes are kept.
MAX_CURVES = 10
_N_BINS = CALIBRATION_BINS

# One curve: (legend label, is-positive mask, score).
Curve = tuple[str, np.ndarray, np.ndarray]


def label_text(value: object, limit: int = 30) -> str:
    """A label safe for matplotlib text: ``$`` would start mathtext, so it is escaped."""
    text = str(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("$", r"\$")


_MAX_POINTS = 2000


def _thin(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At most about ``_MAX_POINTS`` points of a curve, first and last kept (the PNG looks
    the same; drawing a million-point curve would be slow)."""
    if len(x) <= _MAX_POINTS:
        return x, y
    keep = np.unique(np.r_[np.linspace(0, len(x) - 1, _MAX_POINTS).astype(int)])
    return x[keep], y[keep]


def _figure(width: float = 5.6, height: float = 4.4) -> Figure:
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def pr_figure(curves: Sequence[Curve], title: str) -> Figure:
    """Precision-recall curves, with each curve's average precision in the legend."""
    figure = _figure()
    ax = figure.add_subplot()
    prevalences = set()
    for label, positive, score in curves:
        precision, recall, _ = precision_recall_curve(positive, score)
        ap = average_precision_score(positive, score)
        ax.step(
            recall, precision, where="post", label=f"{label_text(label)} (AP {ap:.3f})"
        )
        prevalences.add(round(float(np.mean(positive)), 6))
    if len(prevalences) == 1:
        ax.axhline(
            prevalences.pop(), color="grey", linestyle="--", linewidth=1, label="chance"
        )
    ax.set(xlabel="Recall", ylabel="Precision", xlim=(0, 1), ylim=(0, 1.02))
    ax.set_title(label_text(title, 80))
    ax.legend(loc="lower left", fontsize="small")
    return figure


def roc_figure(curves: Sequence[Curve], title: str) -> Figure:
    """ROC curves, with each curve's AUC in the legend."""
    figure = _figure()
    ax = figure.add_subplot()
    for label, positive, score in curves:
        fpr, tpr, _ = roc_curve(positive, score)
        auc = roc_auc_score(positive, score)
        fpr, tpr = _thin(fpr, tpr)
        ax.plot(fpr, tpr, label=f"{label_text(label)} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="chance")
    ax.set(xlabel="False positive rate", ylabel="True positive rate", xlim=(0, 1))
    ax.set(ylim=(0, 1.02))
    ax.set_title(label_text(title, 80))
    ax.legend(loc="lower right", fontsize="small")
    return figure


def confusion_figure(
    matrices: Sequence[tuple[str, np.ndarray]], labels: Sequence[object]
) -> Figure:
    """Confusion matrices (rows: true, columns: predicted), coloured by row share."""
    n = len(matrices)
    columns = min(n, 3)
    rows = int(np.ceil(n / columns))
    size = 3.2 + 0.25 * len(labels)
    figure = _figure(size * columns, size * rows)
    names = [label_text(v, 16) for v in labels]
    annotate = len(labels) <= 12
    for i, (title, cm) in enumerate(matrices):
        ax = figure.add_subplot(rows, columns, i + 1)
        cm = np.asarray(cm)
        totals = cm.sum(axis=1, keepdims=True)
        share = np.divide(cm, totals, out=np.zeros(cm.shape), where=totals > 0)
        ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
        ticks = np.arange(len(labels))
        ax.set_xticks(ticks, names, rotation=45 if len(labels) > 3 else 0, ha="right")
        ax.set_yticks(ticks, names)
        ax.set(xlabel="Predicted", ylabel="True")
        ax.set_title(label_text(title, 60), fontsize="medium")
        if annotate:
            for (r, c), count in np.ndenumerate(cm):
                color = "white" if share[r, c] > 0.6 else "black"
                text = f"{count:g}\n{100 * share[r, c]:.1f}%"
                ax.text(c, r, text, ha="center", va="center", color=color, fontsize=8)
    return figure


def reliability_figure(curves: Sequence[Curve], title: str, xlabel: str) -> Figure:
    """Reliability diagram: observed frequency against mean predicted probability."""
    figure = _figure()
    ax = figure.add_subplot()
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect")
    for label, positive, probability in curves:
        observed, predicted = calibration_curve(
            positive, probability, n_bins=_N_BINS, strategy="uniform"
        )
        ece = expected_calibration_error(positive, probability)
        ax.plot(
            predicted,
            observed,
            marker="o",
            label=f"{label_text(label)} (ECE {ece:.3f})",
        )
    ax.set(
        xlabel=label_text(xlabel, 80),
        ylabel="Observed frequency",
        xlim=(0, 1),
        ylim=(0, 1.02),
    )
    ax.set_title(label_text(title, 80))
    ax.legend(loc="upper left", fontsize="small")
    return figure
