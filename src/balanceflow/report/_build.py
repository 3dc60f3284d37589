"""Build reports from one model's predictions or from a ``compare`` result."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from balanceflow._validation import check_targets, minority_index, short_repr
from balanceflow.exceptions import DataError, InvalidParameterError
from balanceflow.metrics import (
    LOWER_IS_BETTER,
    METRIC_LABELS,
    METRIC_NAMES,
    confusion_matrix,
    evaluate,
    precision_recall_f1,
)
from balanceflow.report._document import FigureBlock, Report, Section, Table
from balanceflow.report._figures import (
    MAX_CURVES,
    brier_score,
    confusion_figure,
    expected_calibration_error,
    pr_figure,
    reliability_figure,
    roc_figure,
)

__all__ = ["from_compare", "from_predictions"]

_LABELS = {**METRIC_LABELS, "fit_seconds": "Fit (s)", "threshold": "Threshold"}


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _codes(y: np.ndarray, classes: list[Any]) -> np.ndarray:
    index = {label: i for i, label in enumerate(classes)}
    return np.array([index[_plain(v)] for v in y.tolist()], dtype=np.int64)


def _class_matrix(proba: np.ndarray) -> np.ndarray:
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim == 2 and proba.shape[1] == 1:
        proba = proba[:, 0]
    if proba.ndim == 1:
        proba = np.column_stack([1.0 - proba, proba])
    return proba


def _rarest(counts: np.ndarray, limit: int = MAX_CURVES) -> list[int]:
    """Class indices by increasing count (ties: lower index first), at most ``limit``."""
    return sorted(range(len(counts)), key=lambda k: (counts[k], k))[:limit]


def _curves_caption(n_classes: int, shown: int) -> str:
    if n_classes == 2:
        return ""
    more = f" (the {shown} rarest of {n_classes} classes)" if shown < n_classes else ""
    return f"One curve per class, one-vs-rest{more}."


def _per_class_rows(classes, stats, prefix=()):
    return [
        [
            *prefix,
            _plain(label),
            float(stats["precision"][k]),
            float(stats["recall"][k]),
            float(stats["f1"][k]),
            int(stats["support"][k]),
        ]
        for k, label in enumerate(classes)
    ]


def from_predictions(
    y_true: ArrayLike,
    proba: ArrayLike,
    *,
    threshold: float = 0.5,
    classes: ArrayLike | None = None,
    title: str | None = None,
) -> Report:
    """A report on one model's predicted probabilities.

    Sections: ``summary`` (the metrics of :func:`balanceflow.metrics.evaluate`),
    ``curves`` (precision-recall and ROC), ``confusion`` (confusion matrix at the decision
    rule), ``calibration`` (reliability diagram, Brier score, expected calibration error)
    and ``per-class`` (precision, recall, F1, support).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    proba : array-like of shape (n_samples,), (n_samples, 1) or (n_samples, n_classes)
        Predicted probabilities; one column is ``P(class index 1)`` of a binary problem.
    threshold : float, default=0.5
        Binary decision threshold on ``P(class index 1)`` (as in ``evaluate``); multi-class
        predictions take the argmax.
    classes : array-like, optional
        The label of each column of ``proba`` (default: sorted labels of ``y_true``).
    title : str, optional
        Default "balanceflow report".

    Returns
    -------
    Report

    Examples
    --------
    >>> import balanceflow as bf
    >>> report = bf.report.from_predictions(y_test, p_test, threshold=0.3)  # doctest: +SKIP
    >>> report.to_html("report.html")                                        # doctest: +SKIP
    """
    result = evaluate(y_true, proba, threshold=threshold, classes=classes)
    labels = [_plain(c) for c in result.classes.tolist()]
    n_classes = len(labels)
    y = check_targets(y_true, name="y_true", min_classes=1)
    if y.dtype.kind == "O":
        y = np.asarray(y.tolist())
    codes = _codes(y, labels)
    scores = _class_matrix(proba)
    minority = labels.index(result.minority_class)

    rule = (
        f"P({labels[1]}) >= {result.threshold:g}"
        if n_classes == 2
        else "the most probable class"
    )
    summary = Section(
        "summary",
        "Summary",
        [
            (
                f"{result.n_samples} rows, {n_classes} classes; minority class: "
                f"{result.minority_class}. Predicted label: {rule}."
            ),
            Table(
                ["metric", "value"],
                [[_LABELS.get(m, m), float(getattr(result, m))] for m in METRIC_NAMES]
                + [["Accuracy", float(result.accuracy)]],
                caption="PR-AUC is the minority class's average precision (binary) or the "
                "macro average over classes, one-vs-rest.",
            ),
        ],
    )

    if n_classes == 2:
        pr_curves = [(f"{labels[minority]}", codes == minority, scores[:, minority])]
        roc_curves = [(f"{labels[1]}", codes == 1, scores[:, 1])]
        shown = 1
    else:
        order = _rarest(np.bincount(codes, minlength=n_classes))
        pr_curves = [(f"{labels[k]}", codes == k, scores[:, k]) for k in order]
        roc_curves = pr_curves
        shown = len(order)
    curves = Section(
        "curves",
        "Precision-recall and ROC curves",
        [
            FigureBlock(
                "pr_curve",
                pr_figure(pr_curves, "Precision-recall"),
                "Precision-recall curve"
                + (
                    f" of the minority class {labels[minority]}."
                    if n_classes == 2
                    else "."
                )
                + " "
                + _curves_caption(n_classes, shown),
            ),
            FigureBlock(
                "roc_curve",
                roc_figure(roc_curves, "ROC"),
                "ROC curve. " + _curves_caption(n_classes, shown),
            ),
        ],
    )

    cm = result.confusion_matrix
    confusion = Section(
        "confusion",
        "Confusion matrix",
        [
            FigureBlock(
                "confusion_matrix",
                confusion_figure([(f"Predicted label: {rule}", cm)], labels),
                f"Rows: true class; columns: predicted class; predicted label: {rule}.",
            ),
            Table(
                ["true \\ predicted", *map(str, labels)],
                [[label, *map(int, cm[k])] for k, label in enumerate(labels)],
            ),
        ],
    )

    if n_classes == 2:
        reliability = [("model", codes == 1, scores[:, 1])]
        axis = f"Predicted P({labels[1]})"
    else:
        predicted = scores.argmax(axis=1)
        reliability = [("model", predicted == codes, scores.max(axis=1))]
        axis = "Confidence of the predicted class"
    calibration = Section(
        "calibration",
        "Calibration",
        [
            FigureBlock(
                "reliability",
                reliability_figure(reliability, "Reliability diagram", axis),
                "Observed frequency against mean predicted probability in 10 equal-width "
                "bins; the dashed diagonal is perfect calibration.",
            ),
            Table(
                ["measure", "value"],
                [
                    ["Brier score", brier_score(codes, scores)],
                    [
                        "Expected calibration error",
                        expected_calibration_error(
                            reliability[0][1], reliability[0][2]
                        ),
                    ],
                ],
            ),
        ],
    )

    stats = {
        "precision": result.precision,
        "recall": result.recall,
        "f1": result.f1,
        "support": result.support,
    }
    per_class = Section(
        "per-class",
        "Per-class results",
        [
            Table(
                ["class", "precision", "recall", "F1", "support"],
                _per_class_rows(labels, stats),
            )
        ],
    )
    return Report(
        title or "balanceflow report",
        [summary, curves, confusion, calibration, per_class],
    )


def _thresholds(
    threshold: Any, strategies: list[str], default: float, n_rows: int
) -> dict[str, Any]:
    def check(value: Any, name: str) -> Any:
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            if 0.0 <= float(value) <= 1.0:
                return float(value)
        else:
            arr = np.asarray(value, dtype=np.float64)
            if arr.shape == (n_rows,) and np.all((arr >= 0) & (arr <= 1)):
                return arr
        raise InvalidParameterError(
            f"`threshold` for {name!r} must be a number in [0, 1] or one per row "
            f"({n_rows}). Received: {short_repr(value)}."
        )

    if threshold is None:
        return dict.fromkeys(strategies, default)
    if isinstance(threshold, Mapping):
        unknown = set(threshold) - set(strategies)
        if unknown:
            raise InvalidParameterError(
                f"`threshold` names strategies that the result does not hold: "
                f"{sorted(map(str, unknown))}. Strategies: {strategies}."
            )
        return {s: check(threshold.get(s, default), s) for s in strategies}
    return {s: check(threshold, s) for s in strategies}


def _leaderboard(result: Any, metric: str) -> Table:
    """Mean ± std of the ranking and label metrics, Brier and ECE as trained → corrected to
    the data's prior (means), and the fit seconds: few enough columns to fit the page."""
    records = result.records
    columns = [m for m in METRIC_NAMES if m in records.columns]
    calibration = [
        m for m in ("brier", "ece") if {m, f"{m}_corrected"} <= set(records.columns)
    ]
    numeric = columns + [f"{m}{s}" for m in calibration for s in ("", "_corrected")]
    numeric += ["fit_seconds"] if "fit_seconds" in records.columns else []
    grouped = records.groupby("strategy", sort=False)[numeric]
    mean, std = grouped.mean(), grouped.std()
    baselines = list(getattr(result, "baselines", []))
    order = [s for s in [*result.strategies, *baselines] if s in mean.index]
    if metric in records.columns:  # any leaderboard metric, shown or not
        by = records.groupby("strategy", sort=False)[metric].mean()
        sign = 1.0 if metric in LOWER_IS_BETTER else -1.0
        order = sorted(order, key=lambda s: sign * by[s])
    rows = []
    for strategy in order:
        cells = []
        for c in columns:
            m, s = mean.loc[strategy, c], std.loc[strategy, c]
            # A no-break space after ±: a narrow column wraps before it.
            cells.append(f"{m:.3f} ±\u00a0{s:.3f}" if np.isfinite(s) else f"{m:.3f}")
        for c in calibration:
            raw, fixed = mean.loc[strategy, c], mean.loc[strategy, f"{c}_corrected"]
            same = abs(raw - fixed) < 5e-4
            cells.append(f"{fixed:.3f}" if same else f"{raw:.3f} →\u00a0{fixed:.3f}")
        if "fit_seconds" in numeric:
            cells.append(f"{mean.loc[strategy, 'fit_seconds']:.2f}")
        shown = f"{strategy} (baseline)" if strategy in baselines else strategy
        rows.append([shown, *cells])
    headers = [_LABELS.get(c, c) for c in columns]
    headers += [f"{_LABELS[c]} → corrected" for c in calibration]
    headers += ["Fit (s)"] if "fit_seconds" in numeric else []
    return Table(
        ["strategy", *headers],
        rows,
        caption=f"Mean ± standard deviation over folds, best {_LABELS.get(metric, metric)} "
        "first."
        + (
            " Brier and ECE (lower is better): as trained → corrected to the data's "
            "class prior where the strategy changed it."
            if calibration
            else ""
        )
        + (
            " (baseline): a scikit-learn / imbalanced-learn reference model, not Keras, "
            "on the same folds and preprocessing."
            if baselines
            else ""
        ),
    )


def from_compare(
    result: Any,
    *,
    threshold: float | Mapping[str, Any] | None = None,
    metric: str = "pr_auc",
    title: str | None = None,
) -> Report:
    """A report on a :func:`balanceflow.compare` result: every strategy side by side.

    Sections: ``leaderboard`` (mean ± std over folds), ``curves`` (one precision-recall
    and one ROC curve per strategy, from the out-of-fold probabilities pooled over folds),
    ``confusion`` (one matrix per strategy), ``calibration`` (one reliability curve per
    strategy, Brier score and ECE), ``per-class`` and ``settings``.

    Parameters
    ----------
    result : CompareResult
    threshold : float, dict or None
        Binary decision threshold on the probability of the result's positive class
        (``settings["pos_label"]``, the convention of ``compare``): default the result's own ``settings["threshold"]``; a float for all
        strategies; or ``{strategy: threshold}``, where a threshold may also be an array
        with one value per row (e.g. thresholds tuned per fold).
    metric : str, default="pr_auc"
        The leaderboard's sort key.
    title : str, optional

    Returns
    -------
    Report
    """
    try:
        codes = np.asarray(result.y_true, dtype=np.int64)
        labels = [_plain(c) for c in result.classes]
        counts = np.asarray(result.class_counts)
        # The Keras strategies, then the reference rows (baselines), if any.
        strategies = [*result.strategies, *getattr(result, "baselines", [])]
        probabilities = result.proba
        settings = dict(result.settings)
    except AttributeError as error:
        raise InvalidParameterError(
            "`result` must be the CompareResult returned by balanceflow.compare. "
            f"Received: {short_repr(result)} ({error})."
        ) from None
    n_classes = len(labels)
    default = float(settings.get("threshold", 0.5))
    thresholds = _thresholds(threshold, strategies, default, len(codes))
    binary = n_classes == 2
    positive = getattr(result, "positive", None)
    if positive is None:
        positive = minority_index(counts)

    rows_used, predictions = {}, {}
    for name in strategies:
        proba = np.asarray(probabilities[name], dtype=np.float64)
        keep = np.all(np.isfinite(proba), axis=1)
        if not keep.any():
            raise DataError(f"Strategy {name!r} has no out-of-fold probabilities.")
        rows_used[name] = keep
        if binary:
            limit = thresholds[name]
            limit = limit[keep] if isinstance(limit, np.ndarray) else limit
            predicted = np.where(proba[keep, positive] >= limit, positive, 1 - positive)
        else:
            predicted = proba[keep].argmax(axis=1)
        predictions[name] = predicted

    dataset = getattr(result, "dataset", None)
    ratio = counts.max() / counts.min()
    intro = (
        f"{len(codes)} rows, classes (rows): "
        + ", ".join(f"{label} ({int(c)})" for label, c in zip(labels, counts))
        + f"; imbalance ratio {ratio:.1f}; {settings.get('n_splits', '?')} stratified folds."
    )
    leaderboard = Section(
        "leaderboard", "Leaderboard", [intro, _leaderboard(result, metric)]
    )

    def curve_set(column_of):
        return [
            (
                name,
                codes[rows_used[name]] == positive,
                np.asarray(probabilities[name])[rows_used[name], column_of],
            )
            for name in strategies
        ]

    target = f"{labels[positive]}" + ("" if binary else " vs rest (rarest class)")
    curves = Section(
        "curves",
        "Precision-recall and ROC curves",
        [
            FigureBlock(
                "pr_curve",
                pr_figure(curve_set(positive), f"Precision-recall: {target}"),
                f"Out-of-fold predictions pooled over folds; positive class: {target}.",
            ),
            FigureBlock(
                "roc_curve",
                roc_figure(curve_set(positive), f"ROC: {target}"),
                f"Out-of-fold predictions pooled over folds; positive class: {target}.",
            ),
        ],
    )

    def rule_of(name: str) -> str:
        if not binary:
            return "argmax"
        limit = thresholds[name]
        shown = "per-row thresholds" if isinstance(limit, np.ndarray) else f"{limit:g}"
        return f"P({labels[positive]}) >= {shown}"

    matrices = [
        (
            f"{name} ({rule_of(name)})",
            confusion_matrix(
                codes[rows_used[name]], predictions[name], labels=np.arange(n_classes)
            ),
        )
        for name in strategies
    ]
    confusion = Section(
        "confusion",
        "Confusion matrices",
        [
            FigureBlock(
                "confusion_matrices",
                confusion_figure(matrices, labels),
                "Rows: true class; columns: predicted class; one matrix per strategy.",
                wide=True,
            )
        ],
    )

    def reliability_of(source: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
        out = []
        for name in strategies:
            proba = np.asarray(source[name])[rows_used[name]]
            if binary:
                out.append(
                    (name, codes[rows_used[name]] == positive, proba[:, positive])
                )
            else:
                hit = proba.argmax(axis=1) == codes[rows_used[name]]
                out.append((name, hit, proba.max(axis=1)))
        return out

    axis = (
        f"Predicted P({labels[positive]})"
        if binary
        else "Confidence of the predicted class"
    )
    reliability = reliability_of(probabilities)
    # compare's probabilities brought back to the data's prior, where a strategy changed it.
    corrected_source = getattr(result, "proba_corrected", None) or {}
    changed = [
        name
        for name in strategies
        if name in corrected_source
        and not np.allclose(
            np.asarray(corrected_source[name])[rows_used[name]],
            np.asarray(probabilities[name])[rows_used[name]],
        )
    ]
    corrected = reliability_of({**probabilities, **corrected_source}) if changed else []
    calibration_rows = []
    for i, (name, hit, probability) in enumerate(reliability):
        proba = np.asarray(probabilities[name])[rows_used[name]]
        row = [
            name,
            brier_score(codes[rows_used[name]], proba),
            expected_calibration_error(hit, probability),
        ]
        if changed:
            fixed = np.asarray(corrected_source.get(name, proba))[rows_used[name]]
            row += [
                brier_score(codes[rows_used[name]], fixed),
                expected_calibration_error(corrected[i][1], corrected[i][2]),
            ]
        calibration_rows.append(row)
    blocks: list[Any] = [
        FigureBlock(
            "reliability",
            reliability_figure(reliability, "Reliability diagram, as trained", axis),
            "Observed frequency against mean predicted probability in 10 equal-width "
            "bins. Resampling and class weights shift probabilities towards the rare "
            "class; balanceflow.thresholds.correct_prior undoes the shift.",
        )
    ]
    if changed:
        blocks.append(
            FigureBlock(
                "reliability_corrected",
                reliability_figure(
                    corrected,
                    "Reliability diagram, corrected to the data's prior",
                    axis,
                ),
                "The same probabilities brought back from the class prior each strategy "
                "trained under to the data's own (Bayes' rule, per training fold): "
                + ", ".join(changed)
                + " changed it.",
            )
        )
    header = ["strategy", "Brier score", "ECE"]
    header += ["Brier (corrected)", "ECE (corrected)"] if changed else []
    blocks.append(Table(header, calibration_rows))
    calibration = Section("calibration", "Calibration", blocks)

    per_class_rows = []
    for name in strategies:
        stats = precision_recall_f1(
            codes[rows_used[name]], predictions[name], labels=np.arange(n_classes)
        )
        per_class_rows += _per_class_rows(labels, stats, prefix=(name,))
    per_class = Section(
        "per-class",
        "Per-class results",
        [
            Table(
                ["strategy", "class", "precision", "recall", "F1", "support"],
                per_class_rows,
                caption="At each strategy's decision rule, out-of-fold predictions pooled.",
            )
        ],
    )
    settings_rows = [["dataset", dataset if dataset is not None else "(user data)"]]
    settings_rows += [[key, value] for key, value in settings.items()]
    settings_section = Section(
        "settings", "Settings", [Table(["setting", "value"], settings_rows)]
    )
    sections = [leaderboard, curves, confusion, calibration, per_class]
    checks = getattr(result, "data_checks", None)
    if checks is not None:
        sections.append(_data_section(checks))
    return Report(
        title
        or ("balanceflow compare" + (f": {dataset}" if dataset is not None else "")),
        [*sections, settings_section],
    )


def _data_section(checks: Any) -> Section:
    """Every finding of the data checks in full, with the rows involved."""
    rows = [
        [
            finding.severity,
            finding.check.replace("_", " "),
            finding.summary,
            ", ".join(map(str, finding.rows))
            + (" ..." if len(finding.rows) >= 20 else ""),
        ]
        for finding in checks.findings
    ]
    ran = ", ".join(c.replace("_", " ") for c in checks.checked)
    blocks: list[Any] = []
    if rows:
        blocks.append(
            Table(
                ["severity", "check", "finding", "rows (positions, first 20)"],
                rows,
                caption=f"Checks that ran: {ran}.",
            )
        )
    else:
        blocks.append(f"Nothing worth saying was found. Checks that ran: {ran}.")
    return Section("data", "The data", blocks)
