"""Honest statistics for a leaderboard: intervals, Friedman and post-hoc tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "corrected_paired_t",
    "friedman",
    "holm",
    "mean_interval",
    "wilcoxon_vs_best",
]


def mean_interval(
    values: np.ndarray,
    confidence: float = 0.95,
    bounds: tuple[float, float] | None = None,
) -> tuple[float, float]:
    """Student-t interval of the mean of ``values``; inside ``bounds`` when given.

    Without ``bounds`` this is the textbook interval, mean ± t * s / sqrt(n). A metric
    bounded in [lo, hi] (PR-AUC in [0, 1], MCC in [-1, 1]) gets the same interval computed
    on the logit scale and mapped back, so it never leaves the metric's range and is
    asymmetric near a bound, as the uncertainty is (a few folds at 0.98 and one at 0.7
    leave room below, none above 1). The values are first squeezed away from the bounds,
    ``(u (n - 1) + 1/2) / n`` for ``u`` rescaled to [0, 1] (Smithson & Verkuilen, 2006), so
    that folds at exactly 1 stay finite. Away from the bounds the two intervals nearly
    agree.

    Cross-validation folds share training rows, so the interval is optimistic (too narrow)
    as a statement about new data; it still shows how far apart means must be to mean much.
    """
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    n = values.size
    if n < 2:
        return (float("nan"), float("nan"))
    t = stats.t.ppf(0.5 + confidence / 2, n - 1)
    if bounds is None:
        half = t * values.std(ddof=1) / np.sqrt(n)
        return (float(values.mean() - half), float(values.mean() + half))
    low, high = bounds
    unit = np.clip((values - low) / (high - low), 0.0, 1.0)
    squeezed = (unit * (n - 1) + 0.5) / n
    logits = np.log(squeezed) - np.log1p(-squeezed)
    half = t * logits.std(ddof=1) / np.sqrt(n)
    ends = 1.0 / (1.0 + np.exp(-(logits.mean() + np.array([-half, half]))))
    unsqueezed = np.clip((ends * n - 0.5) / (n - 1), 0.0, 1.0)
    low_end, high_end = low + (high - low) * unsqueezed
    return (float(low_end), float(high_end))


def friedman(scores: pd.DataFrame) -> tuple[float, float]:
    """Friedman test over a (blocks × strategies) table of scores.

    Blocks are the (repeat, fold) pairs, where every strategy saw the same data. Returns
    ``(statistic, p_value)``; NaN when fewer than 3 strategies or 2 blocks (scipy's minimum).
    """
    table = scores.dropna()
    if table.shape[1] < 3 or table.shape[0] < 2:
        return (float("nan"), float("nan"))
    if np.allclose(table.to_numpy(), table.to_numpy()[:, :1]):
        return (0.0, 1.0)  # every strategy scored the same on every block
    result = stats.friedmanchisquare(*[table[c].to_numpy() for c in table.columns])
    return (float(result.statistic), float(result.pvalue))


def holm(p_values: dict[str, float]) -> dict[str, float]:
    """Holm–Bonferroni adjusted p-values (step-down, made monotone, capped at 1)."""
    names = [n for n in p_values if np.isfinite(p_values[n])]
    order = sorted(names, key=lambda n: p_values[n])
    m = len(order)
    adjusted: dict[str, float] = {n: float("nan") for n in p_values}
    running = 0.0
    for rank, name in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[name]))
        adjusted[name] = running
    return adjusted


def wilcoxon_vs_best(scores: pd.DataFrame, best: str) -> dict[str, float]:
    """Holm-adjusted two-sided Wilcoxon signed-rank p-values of each strategy against
    ``best``, paired over blocks. Identical score columns get p = 1."""
    raw: dict[str, float] = {}
    for name in scores.columns:
        if name == best:
            continue
        pair = scores[[best, name]].dropna()
        diff = pair[best].to_numpy() - pair[name].to_numpy()
        if pair.shape[0] < 2 or np.allclose(diff, 0.0):
            raw[name] = 1.0 if np.allclose(diff, 0.0) else float("nan")
            continue
        raw[name] = float(stats.wilcoxon(pair[best], pair[name]).pvalue)
    return holm(raw)


def corrected_paired_t(
    differences: np.ndarray, test_to_train: float, confidence: float = 0.95
) -> dict[str, float]:
    """The corrected resampled t-test of a mean paired difference over CV blocks.

    Blocks of a cross-validation share training rows, so their differences are positively
    correlated and the plain paired t-test is far too sure of itself. Nadeau & Bengio
    (2003) inflate the variance of the mean from ``s^2 / k`` to ``(1/k + n_test/n_train) s^2``
    for ``k`` blocks (Bouckaert & Frank, 2004, use the same for repeated K-fold); with
    5 folds that widens the interval by about half.

    Parameters
    ----------
    differences : array of shape (k,)
        Per-block differences (A - B) of a metric; NaN blocks are dropped.
    test_to_train : float
        Rows scored per block over rows trained on (``1 / (n_splits - 1)`` for K-fold).

    Returns a dict with ``mean``, ``ci_low``, ``ci_high``, ``p_value`` (two-sided) and
    ``n_blocks``; the interval and p are NaN with fewer than 2 blocks, and every
    difference exactly equal gives a zero-width interval (p = 1 when it is 0, else 0).
    """
    diffs = np.asarray(differences, dtype=np.float64)
    diffs = diffs[np.isfinite(diffs)]
    k = diffs.size
    out = {"mean": float(diffs.mean()) if k else float("nan"), "n_blocks": k}
    if k < 2:
        return {
            **out,
            "ci_low": float("nan"),
            "ci_high": float("nan"),
            "p_value": float("nan"),
        }
    mean = float(diffs.mean())
    spread = float(diffs.std(ddof=1))
    if spread == 0.0:
        return {
            **out,
            "ci_low": mean,
            "ci_high": mean,
            "p_value": 1.0 if mean == 0 else 0.0,
        }
    scale = spread * np.sqrt(1.0 / k + float(test_to_train))
    t = stats.t.ppf(0.5 + confidence / 2, k - 1)
    p_value = 2.0 * stats.t.sf(abs(mean) / scale, k - 1)
    return {
        **out,
        "ci_low": mean - t * scale,
        "ci_high": mean + t * scale,
        "p_value": float(p_value),
    }
