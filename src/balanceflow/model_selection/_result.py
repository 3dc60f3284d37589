"""The result of ``compare``: per-fold records and the leaderboard built from them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from balanceflow._validation import resolve_pos_label, short_repr
from balanceflow.exceptions import InvalidParameterError
from balanceflow.metrics import (
    BOARD_METRICS,
    LOWER_IS_BETTER,
    METRIC_LABELS,
    METRIC_RANGES,
)
from balanceflow.model_selection._stats import (
    corrected_paired_t,
    friedman,
    mean_interval,
    wilcoxon_vs_best,
)

__all__ = ["BASELINE_NOTE", "METRIC_LABELS", "CompareResult"]


@dataclass
class CompareResult:
    """Per-fold metrics of every strategy, and the summaries drawn from them.

    Attributes
    ----------
    records : DataFrame
        One row per (strategy or baseline, fold): the metrics and ``fit_seconds``.
    strategies : list of str
        The Keras strategies compared, in the order requested.
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
        ``n_splits``, ``n_repeats``, the recipe (``model``, ``epochs``, ``batch_size``,
        ``learning_rate``, ``seed``), ``threshold`` and ``pos_label`` (the class whose
        probability the threshold applies to; None for multi-class targets).
    proba_corrected : dict of str to ndarray
        ``proba`` brought back, fold by fold, from the class prior each strategy trained
        under to its training fold's (``settings["prior_correction"]`` says how: see
        :class:`~balanceflow.strategies.PriorState`); equal to ``proba`` where the strategy
        did not change the prior or no prior describes the change.
    data_checks : DataChecks, optional
        What the data checks found (``compare(data_checks=True)``, the default).
    baselines : list of str
        The reference rows (scikit-learn / imbalanced-learn models, not Keras; see
        ``compare(baselines=...)``). They are in ``records``, ``proba``, the leaderboard
        and the statistics like any strategy; :meth:`best` picks among the Keras
        strategies only, and :meth:`baseline_comparison` sets the two side by side.
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
    baselines: list[str] = field(default_factory=list)
    proba_corrected: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    data_checks: Any = field(default=None, repr=False)

    @property
    def names(self) -> list[str]:
        """Every leaderboard row: the strategies, then the baselines."""
        return [*self.strategies, *self.baselines]

    @property
    def positive(self) -> int | None:
        """Binary: the class index of ``settings["pos_label"]``; None for multi-class."""
        return resolve_pos_label(
            self.classes, self.class_counts, self.settings.get("pos_label")
        )

    def thresholds(self) -> dict[str, np.ndarray]:
        """Binary: each strategy's decision threshold for every row of ``y_true``, the one
        of the fold that scored it (tuned strategies tune one per fold; first repeat)."""
        per_strategy = {}
        first = self.records[self.records["repeat"] == 0]
        for name in self.names:
            rows = first[first["strategy"] == name]
            per_row = np.full(len(self.y_true), self.settings["threshold"], dtype=float)
            for fold, cut in zip(rows["fold"], rows["threshold"]):
                if cut is not None and np.isfinite(cut):
                    per_row[self.folds[int(fold)][1]] = cut
            per_strategy[name] = per_row
        return per_strategy

    @property
    def metrics(self) -> list[str]:
        """The metrics the records hold, in leaderboard order (results written before
        the calibration metrics hold the ranking and label metrics only)."""
        return [m for m in BOARD_METRICS if m in self.records.columns]

    def _check_metric(self, metric: str) -> str:
        if metric not in self.metrics:
            raise InvalidParameterError(
                f"Unknown `metric`. Received: metric={short_repr(metric)}. "
                f"Use one of {self.metrics}."
            )
        return metric

    def leaderboard(self, metric: str = "pr_auc") -> pd.DataFrame:
        """Mean, standard deviation and 95% interval of every metric, best ``metric`` first
        (the highest, or the lowest for the calibration metrics: Brier, log loss, ECE).

        Returns a DataFrame indexed by strategy with (metric, "mean" / "std" / "ci_low" /
        "ci_high") columns over all (repeat, fold) blocks; ``std`` is the sample one
        (ddof=1) and the interval a 95% Student-t interval of the mean computed on the
        logit scale, so that it stays inside the metric's range (see
        :func:`~balanceflow.model_selection._stats.mean_interval`; optimistic: folds share
        training rows); log loss, which has no upper bound, gets the plain interval, kept
        above 0.
        """
        metric = self._check_metric(metric)
        columns = {}
        grouped = self.records.groupby("strategy", sort=False)
        for m in self.metrics:
            values = grouped[m]
            columns[(m, "mean")] = values.mean()
            columns[(m, "std")] = values.std(ddof=1)
            bounds = METRIC_RANGES[m]
            intervals = values.apply(
                lambda v, bounds=bounds: _interval(v.to_numpy(), bounds)
            )
            columns[(m, "ci_low")] = intervals.map(lambda ci: ci[0])
            columns[(m, "ci_high")] = intervals.map(lambda ci: ci[1])
        table = pd.DataFrame(columns).reindex(self.names)
        table.columns = pd.MultiIndex.from_tuples(table.columns)
        table.index.name = "strategy"
        return table.sort_values(
            (metric, "mean"), ascending=metric in LOWER_IS_BETTER, kind="stable"
        )

    def scores(self, metric: str = "pr_auc") -> pd.DataFrame:
        """A (repeat, fold) × strategy table of ``metric``: the paired blocks of the tests."""
        metric = self._check_metric(metric)
        table = self.records.pivot_table(
            index=["repeat", "fold"], columns="strategy", values=metric
        )
        return table[self.names]

    def statistics(self, metric: str = "pr_auc", alpha: float = 0.05) -> dict[str, Any]:
        """Is the best strategy really better? Friedman test across strategies, then each
        strategy against the best with a Wilcoxon signed-rank test (Holm-corrected),
        paired over the (repeat, fold) blocks.

        Baselines take part like any strategy: ``best`` is the top row of the leaderboard,
        a baseline or not, and ``best_keras`` the best Keras strategy (what :meth:`best`
        returns).

        Returns a dict with ``best``, ``best_keras``, ``friedman_statistic``,
        ``friedman_p``, ``p_vs_best`` (strategy -> adjusted p) and ``indistinguishable``
        (rows whose adjusted p is >= ``alpha``, the best included), and ``n_blocks``.
        """
        table = self.scores(metric)
        best = str(self.leaderboard(metric).index[0])
        statistic, p_value = friedman(table)
        adjusted = wilcoxon_vs_best(table, best)
        tied = [best] + [
            name for name, p in adjusted.items() if not (np.isfinite(p) and p < alpha)
        ]
        return {
            "metric": metric,
            "best": best,
            "best_keras": self.best(metric),
            "n_blocks": int(table.dropna().shape[0]),
            "friedman_statistic": statistic,
            "friedman_p": p_value,
            "p_vs_best": adjusted,
            "indistinguishable": tied,
            "alpha": alpha,
        }

    def recommendation(self, metric: str = "pr_auc") -> str:
        """A plain-language paragraph: what to use, how sure we are, how it compares with
        the baselines, and the caveats."""
        board = self.leaderboard(metric)
        best = self.best(metric)
        label = METRIC_LABELS[metric]
        mean, std = board.loc[best, (metric, "mean")], board.loc[best, (metric, "std")]
        table = self.scores(metric)[self.strategies]
        blocks = int(table.dropna().shape[0])
        alpha = 0.05
        among = " among the Keras strategies" if self.baselines else ""
        extreme = "lowest" if metric in LOWER_IS_BETTER else "highest"
        lead = f"{best} has the {extreme} mean {label}{among}"
        parts = [f"{lead} ({mean:.3f} ± {std:.3f}, {blocks} folds)."]
        alarms = self.alarms_sentence(best)
        if alarms:
            parts.append(alarms)
        adjusted = wilcoxon_vs_best(table, best)
        others = [n for n, p in adjusted.items() if not (np.isfinite(p) and p < alpha)]
        if blocks < 6:
            parts.append(
                f"With {blocks} paired folds no rank test can separate strategies at "
                f"p < {alpha}; rerun with more repeats (--repeats 3) before trusting "
                "the order."
            )
        elif others:
            parts.append(
                f"{', '.join(others)} cannot be told apart from it (Wilcoxon signed-rank "
                f"against the best, Holm-corrected, p >= {alpha}): pick among them "
                "on cost or simplicity."
            )
        elif len(self.strategies) > 1:
            parts.append(
                "Every other Keras strategy is significantly worse on this metric "
                f"(Wilcoxon signed-rank against the best, Holm-corrected, p < {alpha})."
            )
        comparison = self.baseline_comparison(metric, alpha)
        if comparison is not None:
            parts.append(comparison["summary"])
        calibrated = self._calibration_sentence(best, board)
        if calibrated:
            parts.append(calibrated)
        if self.data_checks is not None and self.data_checks.warnings:
            kinds = sorted(
                {f.check.replace("_", " ") for f in self.data_checks.warnings}
            )
            parts.append(
                f"The data checks warn of {', '.join(kinds)}: read them before trusting "
                "any score, as they limit every method."
            )
        if metric != "g_mean":
            g_board = board.loc[self.strategies, ("g_mean", "mean")]
            g_best = g_board.idxmax()
            if g_best != best:
                parts.append(
                    f"If you act on labels at the threshold, {g_best} has the best G-mean "
                    f"({g_board[g_best]:.3f}); tuning the threshold can close that gap."
                )
        parts.append(
            "Caveats: folds share training rows, so intervals are optimistic; the ranking "
            "holds for this model, these settings and data like these."
        )
        return " ".join(parts)

    def alarms_sentence(self, name: str) -> str:
        """Binary: what acting on ``name``'s labels costs, from its out-of-fold predictions
        at its decision threshold (first repeat): how many of the positive rows it finds
        and how many false alarms it raises per true find. Empty for multi-class."""
        positive = self.positive
        if positive is None or name not in self.proba:
            return ""
        score = self.proba[name][:, positive]
        keep = np.isfinite(score)
        truth = (self.y_true == positive) & keep
        flagged = keep & (score >= self.thresholds()[name])
        found = int((flagged & truth).sum())
        alarms = int((flagged & ~truth).sum())
        label = self.classes[positive]
        cuts = self.records.loc[self.records["strategy"] == name, "threshold"]
        tuned = cuts.nunique() > 1 or float(cuts.iloc[0]) != self.settings["threshold"]
        at = (
            "its tuned thresholds"
            if tuned
            else f"threshold {self.settings['threshold']:g}"
        )
        if found == 0:
            return (
                f"At {at} on P({label}) it finds none of the {int(truth.sum())} '{label}' "
                "rows (out of fold): tune the threshold before acting on its labels."
            )
        return (
            f"At {at} on P({label}) it finds {found} of the {int(truth.sum())} '{label}' "
            f"rows ({found / truth.sum():.0%}) and raises {alarms / found:.1f} false "
            "alarms per true find (out-of-fold predictions)."
        )

    def _calibration_sentence(self, best: str, board: pd.DataFrame) -> str:
        """How far ``best``'s probabilities are from observed frequencies, as trained and
        corrected to the data's prior; empty without the calibration metrics."""
        if "ece_corrected" not in self.metrics:
            return ""
        raw = board.loc[best, ("ece", "mean")]
        fixed = board.loc[best, ("ece_corrected", "mean")]
        status = self.settings.get("prior_correction", {}).get(best, "unchanged")
        if status in ("exact", "approximate") and raw > max(1.5 * fixed, fixed + 0.01):
            how = (
                ""
                if status == "exact"
                else " (approximately: its loss also reshapes them)"
            )
            return (
                f"Calibration: {best} changed the class prior it trained under, so its "
                f"probabilities as trained are far from observed frequencies (ECE "
                f"{raw:.3f}); brought back to the data's prior{how} they are much closer "
                f"(ECE {fixed:.3f}). Read them as probabilities only after that "
                "correction; the threshold above applies to them as trained."
            )
        if status in ("exact", "approximate"):
            return (
                f"Calibration: {best}'s probabilities have an ECE of {raw:.3f} as "
                f"trained and {fixed:.3f} brought back to the data's prior."
            )
        return f"Calibration: {best}'s probabilities have an ECE of {raw:.3f}."

    def baseline_comparison(
        self, metric: str = "pr_auc", alpha: float = 0.05
    ) -> dict[str, Any] | None:
        """The best Keras strategy against the best baseline on ``metric``; None without
        baselines.

        The difference (Keras minus baseline) is tested fold by fold with the corrected
        resampled t-test (Nadeau & Bengio, 2003), which allows for the training rows the
        folds share: ``verdict`` is ``"ahead"`` or ``"behind"`` when its two-sided p is
        below ``alpha``, ``"level"`` otherwise. Both were chosen as the best of their
        group on these folds, which the test does not correct for.

        Returns a dict with ``metric``, ``keras``, ``baseline``, their means, the mean
        ``difference``, its 95% interval ``ci_low`` / ``ci_high``, ``p_value``,
        ``n_blocks``, ``alpha``, ``verdict``, ``test`` and ``summary`` (the verdict in
        one sentence).
        """
        metric = self._check_metric(metric)
        if not self.baselines or not self.strategies:
            return None
        board = self.leaderboard(metric)
        keras = self.best(metric)
        baseline = next(str(n) for n in board.index if n in self.baselines)
        table = self.scores(metric)
        n_splits = int(self.settings.get("n_splits") or len(self.folds))
        test = corrected_paired_t(
            (table[keras] - table[baseline]).to_numpy(), 1.0 / (n_splits - 1)
        )
        significant = np.isfinite(test["p_value"]) and test["p_value"] < alpha
        better = -test["mean"] if metric in LOWER_IS_BETTER else test["mean"]
        verdict = "level"
        if significant:
            verdict = "ahead" if better > 0 else "behind"
        info = {
            "metric": metric,
            "keras": keras,
            "baseline": baseline,
            "keras_mean": float(board.loc[keras, (metric, "mean")]),
            "baseline_mean": float(board.loc[baseline, (metric, "mean")]),
            "difference": test["mean"],
            "ci_low": test["ci_low"],
            "ci_high": test["ci_high"],
            "p_value": test["p_value"],
            "n_blocks": test["n_blocks"],
            "alpha": alpha,
            "verdict": verdict,
            "test": "corrected resampled t-test (Nadeau & Bengio, 2003)",
        }
        return {**info, "summary": _baseline_sentence(info, METRIC_LABELS[metric])}

    def best(self, metric: str = "pr_auc") -> str:
        """The Keras strategy with the highest mean ``metric`` (baselines are reference
        rows: ``fit`` ships Keras models)."""
        board = self.leaderboard(metric)
        return str(next(n for n in board.index if n not in self.baselines))

    @property
    def imbalance_ratio(self) -> float:
        return max(self.class_counts) / min(self.class_counts)

    def to_text(self, metric: str = "pr_auc", columns: list[str] | None = None) -> str:
        """The leaderboard as plain text, ``mean ± std`` per metric (``columns``: default
        every metric but the log losses)."""
        shown = columns or [m for m in self.metrics if not m.startswith("log_loss")]
        table = self.leaderboard(metric)
        rows = [["strategy"] + [METRIC_LABELS[m] for m in shown]]
        for name, values in table.iterrows():
            label = f"{name} (baseline)" if name in self.baselines else str(name)
            rows.append(
                [label]
                + [
                    f"{values[(m, 'mean')]:.3f} ± {values[(m, 'std')]:.3f}"
                    for m in shown
                ]
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        if self.baselines:
            lines.append(BASELINE_NOTE)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def to_dict(self, metric: str = "pr_auc") -> dict[str, Any]:
        """A JSON-serialisable summary: settings, data, leaderboard (sorted) and records."""
        table = self.leaderboard(metric)
        board = []
        for name, values in table.iterrows():
            entry: dict[str, Any] = {
                "strategy": str(name),
                "baseline": name in self.baselines,
            }
            for m in self.metrics:
                entry[m] = {
                    stat: _finite_or_none(values[(m, stat)])
                    for stat in ("mean", "std", "ci_low", "ci_high")
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
            "statistics": _clean(self.statistics(metric)),
            "baselines": list(self.baselines),
            "data_checks": None
            if self.data_checks is None
            else _clean(self.data_checks.to_dict()),
            "baseline_comparison": _clean(self.baseline_comparison(metric)),
            "recommendation": self.recommendation(metric),
            "records": json.loads(self.records.to_json(orient="records")),
        }


BASELINE_NOTE = (
    "(baseline): a scikit-learn / imbalanced-learn reference model, not Keras, on the "
    "same folds and preprocessing"
)


def _baseline_sentence(info: dict[str, Any], label: str) -> str:
    """One sentence: the best Keras strategy ahead of, level with or behind the best
    baseline, by how much and how sure."""
    keras, baseline, diff = info["keras"], info["baseline"], info["difference"]
    if not np.isfinite(info["p_value"]):
        return (
            f"Against the baselines: {keras} scores {diff:+.3f} {label} beside the best "
            f"baseline, {baseline}; too few folds to test the difference."
        )
    if info["ci_low"] == info["ci_high"] == diff == 0.0:
        return (
            f"Against the baselines: {keras} and the best baseline, {baseline}, score "
            f"the same {label} on every fold ({info['keras_mean']:.3f})."
        )
    evidence = (
        f"95% interval {info['ci_low']:+.3f} to {info['ci_high']:+.3f}, corrected "
        f"paired t-test p = {info['p_value']:.2g}, {info['n_blocks']} folds"
    )
    if info["verdict"] == "ahead":
        return (
            f"Against the baselines: {keras} is ahead of the best baseline, {baseline}, "
            f"by {abs(diff):.3f} {label} ({evidence})."
        )
    if info["verdict"] == "behind":
        return (
            f"Against the baselines: {keras} is behind the best baseline, {baseline}, "
            f"by {abs(diff):.3f} {label} ({evidence}); on this data and metric a Keras "
            f"remedy is not the best choice, so prefer {baseline} unless you need a "
            "Keras model."
        )
    return (
        f"Against the baselines: {keras} and the best baseline, {baseline}, are level on "
        f"{label}: the difference, {diff:+.3f}, is within the fold-to-fold noise "
        f"({evidence})."
    )


def _interval(values: np.ndarray, bounds: tuple[float, float]) -> tuple[float, float]:
    if np.isfinite(bounds[1]):
        return mean_interval(values, bounds=bounds)
    low, high = mean_interval(values)
    return (max(low, bounds[0]), high)


def _clean(value: Any) -> Any:
    """Non-finite floats become None, so the output is strict JSON."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _finite_or_none(value: Any) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None
