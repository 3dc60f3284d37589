"""Quality on the shipped development suite, against the reference table.

Runs ``balanceflow.compare`` on the six shipped KEEL datasets with the reference settings
of ``datasets/data/README.md`` (stratified 5-fold, seed 0, a Dense(32)-Dense(16)-Dense(1)
MLP, Adam 1e-3, threshold 0.5) and prints the mean over the six datasets next to the
reference results of today's standard tools on the same protocol. The models train with
the default recipe (``--epochs auto --batch-size auto``: an epoch budget and batch size
from the table's size, with early stopping); ``--epochs 30 --batch-size 64`` is the
reference table's recipe.

    python benchmarks/quality_dev_suite.py [--epochs auto|30] [--seed 0] [--json out.json]
    python benchmarks/quality_dev_suite.py --strategy best [--inner-splits 5] [--bag 3]

With ``--strategy best`` each outer training fold goes through ``fit_best`` with its
defaults: the strategy (or soft vote of the best strategies) chosen by an inner
cross-validation of the outer training fold, trained as a bag (``--bag``, 0 for one
model), its threshold tuned for G-mean on out-of-fold predictions; the outer test fold is
scored once. The fixed strategies run on the same outer folds for comparison.

The baselines (``--baselines``, default ``auto``: hgb_balanced and balanced_rf) are
cross-validated on the same folds and printed beside the Keras strategies, with the
reference table's scores of the tree peers in brackets (the reference ran older library
defaults). ``--baselines hgb_balanced,balanced_rf,easy_ensemble`` adds EasyEnsemble.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pandas as pd

import balanceflow as bf
from balanceflow.metrics import METRIC_NAMES

# Mean over the six datasets, from the development suite's README (same protocol).
REFERENCE = {
    "none": (0.794, 0.962, 0.808, 0.673, 0.652, 0.652),
    "class_weight": (0.820, 0.962, 0.915, 0.906, 0.742, 0.739),
    "over": (0.846, 0.966, 0.911, 0.899, 0.804, 0.797),
    "under": (0.695, 0.915, 0.850, 0.829, 0.477, 0.488),
    "seed_ensemble": (0.833, 0.964, 0.899, 0.872, 0.796, 0.788),
    # The tree peers of the reference table ("library defaults" of their day).
    "balanced_rf": (0.804, 0.962, 0.932, 0.928, 0.747, 0.752),
    "hgb_balanced": (0.767, 0.951, 0.863, 0.812, 0.726, 0.726),
}
CALIBRATION = ("brier", "brier_corrected", "ece", "ece_corrected")
REFERENCE_METRICS = (
    "pr_auc",
    "roc_auc",
    "balanced_accuracy",
    "g_mean",
    "minority_f1",
    "mcc",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--epochs",
        type=_auto_or_int,
        default="auto",
        help="'auto' (the default recipe: early stopping) or N; the reference is 30",
    )
    parser.add_argument(
        "--batch-size",
        type=_auto_or_int,
        default="auto",
        help="'auto' (the default) or N; the reference is 64",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-splits", type=int, default=5)
    parser.add_argument("--datasets", nargs="*", default=None, help="default: all six")
    parser.add_argument(
        "--json", default=None, help="also write the per-dataset means here"
    )
    parser.add_argument("--strategy", default="default", help="'default' or 'best'")
    parser.add_argument("--inner-splits", type=int, default=5)
    parser.add_argument(
        "--bag", type=int, default=3, help="fit_best's bag (0: one final model)"
    )
    parser.add_argument("--candidates", default="default", help="'default' or 'all'")
    parser.add_argument(
        "--baselines",
        default="auto",
        help="'auto', 'none' or a comma-separated list of baseline names",
    )
    parser.add_argument(
        "--model",
        default="mlp",
        choices=sorted(bf.models.BUILT_IN),
        help="a built-in model (balanceflow.models); 'mlp' is the default",
    )
    parser.add_argument(
        "--strategies",
        default="default",
        help="'default' or a comma-separated list of presets (with --strategy default)",
    )
    args = parser.parse_args()
    model_fn = None if args.model == "mlp" else bf.models.BUILT_IN[args.model]
    strategies = (
        "default" if args.strategies == "default" else args.strategies.split(",")
    )
    baselines = (
        args.baselines
        if args.baselines in ("auto", "none")
        else args.baselines.split(",")
    )

    names = args.datasets or bf.datasets.names()
    per_dataset = []
    for name in names:
        X, y = bf.datasets.load(name)
        start = time.perf_counter()
        result = bf.compare(
            X,
            y,
            strategies=strategies,
            model_fn=model_fn,
            n_splits=args.n_splits,
            seed=args.seed,
            epochs=args.epochs,
            batch_size=args.batch_size,
            baselines=baselines,
        )
        seconds = time.perf_counter() - start
        keras_seconds = result.records[
            result.records["strategy"].isin(result.strategies)
        ]["fit_seconds"].sum()
        baseline_seconds = result.records[
            result.records["strategy"].isin(result.baselines)
        ]["fit_seconds"].sum()
        board = result.leaderboard()
        print(
            f"\n== {name} ({len(y)} rows, IR {result.imbalance_ratio:.1f}, {seconds:.0f} s;"
            f" fit seconds: Keras {keras_seconds:.1f}, baselines {baseline_seconds:.1f})"
        )
        print(result.to_text())
        comparison = result.baseline_comparison()
        if comparison is not None:
            print(comparison["summary"])
        for strategy, row in board.iterrows():
            entry = {"dataset": name, "strategy": strategy}
            entry.update({m: float(row[(m, "mean")]) for m in result.metrics})
            per_dataset.append(entry)
        if args.strategy == "best":
            entry, chosen = _nested_best(X, y, result, args)
            per_dataset.append({"dataset": name, "strategy": "best (tuned)", **entry})
            print(
                f"best (tuned): chosen per outer fold {chosen}; "
                + ", ".join(f"{m} {entry[m]:.3f}" for m in METRIC_NAMES)
            )

    frame = pd.DataFrame(per_dataset)
    mean = frame.groupby("strategy", sort=False)[list(METRIC_NAMES)].mean()
    print(
        f"\n== Mean over {len(names)} datasets: balanceflow vs reference (ref in brackets)"
    )
    header = f"{'strategy':<20}" + "".join(f"{m:>22}" for m in REFERENCE_METRICS)
    print(header)
    for strategy, row in mean.iterrows():
        ref = REFERENCE.get(strategy)
        cells = []
        for i, m in enumerate(REFERENCE_METRICS):
            ours = f"{row[m]:.3f}"
            cells.append(f"{ours} [{ref[i]:.3f}]" if ref else ours)
        print(f"{strategy:<20}" + "".join(f"{c:>22}" for c in cells))
    calibration = [m for m in CALIBRATION if m in frame.columns]
    if calibration:
        means = frame.groupby("strategy", sort=False)[calibration].mean()
        print(
            f"\n== Calibration, mean over {len(names)} datasets: as trained and corrected "
            "to the data's prior (lower is better)"
        )
        print(f"{'strategy':<20}" + "".join(f"{m:>20}" for m in calibration))
        for strategy, row in means.iterrows():
            print(f"{strategy:<20}" + "".join(f"{row[m]:>20.3f}" for m in calibration))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(per_dataset, handle, indent=2)


def _auto_or_int(text: str):
    return text if text == "auto" else int(text)


def _nested_best(X, y, result, args):
    """fit_best inside each outer training fold; score the outer test fold once."""
    from balanceflow.metrics import evaluate
    from balanceflow.model_selection import fit_best

    scores, chosen = [], []
    for train_idx, test_idx in result.folds:
        fitted = fit_best(
            X.iloc[train_idx],
            y.iloc[train_idx],
            candidates=args.candidates,
            model_fn=None if args.model == "mlp" else bf.models.BUILT_IN[args.model],
            n_splits=args.inner_splits,
            bag=args.bag,
            seed=args.seed,
            epochs=args.epochs,
            batch_size=args.batch_size,
            baselines="none",  # reference rows do not change the choice; saves time
        )
        chosen.append(fitted.card["strategy"])
        proba = fitted.predict_proba(X.iloc[test_idx])
        positive = fitted.threshold_class
        truth = (result.y_true[test_idx] == positive).astype(int)
        report = evaluate(truth, proba[:, positive], threshold=fitted.threshold)
        scores.append({m: getattr(report, m) for m in METRIC_NAMES})
    means = {m: float(sum(s[m] for s in scores) / len(scores)) for m in METRIC_NAMES}
    return means, chosen


if __name__ == "__main__":
    main()
