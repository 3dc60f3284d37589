"""Honest statistics for a leaderboard: intervals, Friedman and post-hoc tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["friedman", "holm", "mean_interval", "wilcoxon_vs_best"]


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
