"""Decision threshold 0.5 vs a threshold tuned on an inner split, on the shipped dev suite.

The reference protocol of ``datasets/data/README.md`` (stratified 5-fold, seed 0, the default
Dense(32)-Dense(16) MLP, Adam 1e-3, batch 64, 30 epochs), for the strategies none,
class_weight and over. The positive class is the minority (as in ``compare``). In each outer
fold four predictions are scored on the test fold:

- ``full@0.5``   the model trained on the whole training fold, threshold 0.5 (what
                 ``compare`` reports today; seeds as in ``compare``);
- ``inner@0.5``  a model trained on 75% of the training fold (a stratified inner split),
                 threshold 0.5;
- ``inner@tuned`` that model, with the threshold tuned by ``TunedThreshold`` on the other
                 25% of the training fold (never on the test fold);
- ``full@tuned`` the full-fold model with the threshold tuned on the inner model.

Each metric is tuned for itself (G-mean with objective "g_mean", MCC with "mcc", minority F1
with "f1"); a second table uses one threshold tuned for "f1" for all three. Prints the mean
over the six datasets.

    python benchmarks/thresholds_dev_suite.py [--epochs 30] [--threads 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit

import balanceflow as bf
from balanceflow._validation import derive_seed, encode_labels, take_rows
from balanceflow.exceptions import DataError
from balanceflow.metrics import evaluate
from balanceflow.model_selection._preprocessing import clean_features, make_preprocessor
from balanceflow.strategies import resolve_strategies
from balanceflow.thresholds import TunedThreshold

STRATEGIES = ("none", "class_weight", "over")
METRICS = {"g_mean": "G-mean", "mcc": "MCC", "minority_f1": "Min. F1"}
OBJECTIVE_OF = {"g_mean": "g_mean", "mcc": "mcc", "minority_f1": "f1"}
VARIANTS = ("full@0.5", "inner@0.5", "inner@tuned", "full@tuned")
INNER_SHARE = 0.25


def scores(y_pos: np.ndarray, p_pos: np.ndarray, threshold: float) -> dict[str, float]:
    report = evaluate(y_pos, p_pos, threshold=threshold)
    return {m: float(getattr(report, m)) for m in METRICS}


def tune(y_pos: np.ndarray, p_pos: np.ndarray, objective: str) -> tuple[float, bool]:
    """The tuned threshold, or 0.5 (flagged) when it cannot be tuned."""
    try:
        return TunedThreshold(objective).fit(y_pos, p_pos).best_threshold_, True
    except DataError:
        return 0.5, False


def run_dataset(name: str, args: argparse.Namespace) -> list[dict]:
    import keras

    from balanceflow._models import (
        ModelState,
        call_model_fn,
        default_model_fn,
        predict_proba,
    )

    X, y = bf.datasets.load(name)
    features, numeric, categorical = clean_features(X)
    transformer = make_preprocessor(numeric, categorical)
    codes, classes = encode_labels(y)
    counts = np.bincount(codes)
    positive = (
        0 if counts[0] < counts[1] else 1
    )  # the minority, as compare thresholds it
    strategies = resolve_strategies(list(STRATEGIES))
    folds = StratifiedKFold(
        n_splits=args.n_splits, shuffle=True, random_state=args.seed
    ).split(np.zeros(len(codes)), codes)
    rows = []
    for fold, (train_idx, test_idx) in enumerate(folds):
        fitted = clone(transformer).fit(take_rows(features, train_idx))
        X_train = np.asarray(
            fitted.transform(take_rows(features, train_idx)), np.float32
        )
        X_test = np.asarray(fitted.transform(take_rows(features, test_idx)), np.float32)
        y_train, y_test = codes[train_idx], codes[test_idx]
        inner_fit, inner_val = next(
            StratifiedShuffleSplit(
                n_splits=1,
                test_size=INNER_SHARE,
                random_state=derive_seed(args.seed, "inner", fold),
            ).split(X_train, y_train)
        )
        keras.utils.set_random_seed(derive_seed(args.seed, "init", fold))
        state = ModelState(
            call_model_fn(default_model_fn, X_train.shape[1:], len(classes))
        )

        def train(X_fit, y_fit, trial_seed, strategy, state=state):
            X_s, y_s, fit_kwargs = strategy.prepare(X_fit, y_fit, seed=trial_seed)
            model = state.restore()
            keras.utils.set_random_seed(trial_seed)
            model.fit(
                X_s,
                y_s,
                epochs=args.epochs,
                batch_size=args.batch_size,
                verbose=0,
                **fit_kwargs,
            )
            return model

        y_pos_test = (y_test == positive).astype(int)
        y_pos_val = (y_train[inner_val] == positive).astype(int)
        for strategy in strategies:
            full = train(
                X_train,
                y_train,
                derive_seed(args.seed, "trial", fold, strategy.name),
                strategy,
            )
            p_full = predict_proba(full, X_test, len(classes))[:, positive]
            inner = train(
                X_train[inner_fit],
                y_train[inner_fit],
                derive_seed(args.seed, "inner-trial", fold, strategy.name),
                strategy,
            )
            p_inner = predict_proba(inner, X_test, len(classes))[:, positive]
            p_val = predict_proba(inner, X_train[inner_val], len(classes))[:, positive]

            row = {"dataset": name, "fold": fold, "strategy": strategy.name}
            for metric, value in scores(y_pos_test, p_full, 0.5).items():
                row[f"{metric}|full@0.5"] = value
            for metric, value in scores(y_pos_test, p_inner, 0.5).items():
                row[f"{metric}|inner@0.5"] = value
            for objective in sorted(set(OBJECTIVE_OF.values())):
                threshold, tuned = tune(y_pos_val, p_val, objective)
                row[f"threshold|{objective}"] = threshold
                row[f"tuned|{objective}"] = tuned
                inner_scores = scores(y_pos_test, p_inner, threshold)
                full_scores = scores(y_pos_test, p_full, threshold)
                for metric in METRICS:
                    row[f"{metric}|inner@tuned[{objective}]"] = inner_scores[metric]
                    row[f"{metric}|full@tuned[{objective}]"] = full_scores[metric]
            rows.append(row)
    return rows


def column(metric: str, variant: str, own: bool) -> str:
    if variant.endswith("@tuned"):
        objective = OBJECTIVE_OF[metric] if own else "f1"
        return f"{metric}|{variant}[{objective}]"
    return f"{metric}|{variant}"


def table(frame: pd.DataFrame, own: bool) -> str:
    """Mean over datasets (of the mean over folds), strategies as rows."""
    per_dataset = frame.groupby(["strategy", "dataset"], sort=False).mean(
        numeric_only=True
    )
    mean = per_dataset.groupby("strategy", sort=False).mean()
    lines = []
    for metric, title in METRICS.items():
        lines.append(f"{title:<15}" + "".join(f"{v:>13}" for v in VARIANTS))
        for strategy in STRATEGIES:
            cells = "".join(
                f"{mean.loc[strategy, column(metric, v, own)]:>13.3f}" for v in VARIANTS
            )
            lines.append(f"  {strategy:<13}{cells}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-splits", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow threads")
    parser.add_argument("--datasets", nargs="*", default=None, help="default: all six")
    parser.add_argument("--json", default=None, help="also write every fold's row here")
    args = parser.parse_args()

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    names = args.datasets or bf.datasets.names()
    rows = []
    for name in names:
        start = time.perf_counter()
        rows += run_dataset(name, args)
        print(f"{name}: {time.perf_counter() - start:.0f} s", flush=True)
    frame = pd.DataFrame(rows)

    print(
        f"\n== Mean over {len(names)} datasets ({args.n_splits} folds, seed {args.seed}, "
        f"{args.epochs} epochs); each metric at its own tuned objective"
    )
    print(table(frame, own=True))
    print("\n== The same, one threshold tuned for F1 used for every metric")
    print(table(frame, own=False))

    thresholds = frame.groupby("strategy", sort=False)[
        [f"threshold|{o}" for o in ("f1", "g_mean", "mcc")]
    ].mean()
    print("\n== Mean tuned threshold (on P(minority))")
    print(thresholds.rename(columns=lambda c: c.split("|")[1]).round(3).to_string())
    untuned = int((~frame[[c for c in frame if c.startswith("tuned|")]]).sum().sum())
    print(f"\nthresholds that could not be tuned (0.5 used instead): {untuned}")

    per_dataset = frame.groupby(["dataset", "strategy"], sort=False)[
        [column(m, v, True) for m in METRICS for v in ("full@0.5", "inner@tuned")]
    ].mean()
    print("\n== Per dataset: full@0.5 vs inner@tuned (own objective)")
    print(per_dataset.round(3).to_string())
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(rows, handle, indent=1, default=float)


if __name__ == "__main__":
    main()
