"""Imbalance-aware losses on a long-tailed image task: digits_lt with a tiny CNN.

For each imbalance ratio and seed, ``balanceflow.datasets.digits_lt`` gives a long-tailed
training set (10 digits, head/tail = ratio) and a balanced test set (50 images per digit).
The same tiny CNN (Conv 16 - pool - Conv 32 - global average - Dense 10 logits, Adam 3e-3,
batch 32) is trained with each strategy; the test set is scored by balanced accuracy and
macro F1 of the plain ``argmax`` of the logits (no post-hoc correction). The table shows
mean +- std over seeds and the paired difference to cross-entropy; a strategy "beats" CE
when the 95% t-interval of the paired difference (same seed = same data and same
initial weights) lies above 0.

    python benchmarks/losses_long_tail.py [--ratios 10 50] [--seeds 5] [--epochs 30]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

import balanceflow as bf
from balanceflow.callbacks._reweighting import DeferredReweighting
from balanceflow.datasets import digits_lt
from balanceflow.losses import (
    BalancedSoftmaxLoss,
    ClassBalancedLoss,
    FocalLoss,
    LDAMLoss,
    LogitAdjustedLoss,
    weighted,
)
from balanceflow.metrics import balanced_accuracy, macro_f1

# Two-sided 95% t quantiles for n - 1 degrees of freedom (n = number of seeds).
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 9: 2.262}

STRATEGIES = (
    "ce",
    "class_weight",
    "focal",
    "class_balanced",
    "logit_adjusted",
    "balanced_softmax",
    "ldam",
    "ldam_drw",
    "ce_drw",
)


def build_model(n_classes: int) -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(n_classes),  # logits
        ]
    )


def strategy_setup(name: str, y_train: np.ndarray, args) -> tuple:
    """(loss, fit keyword arguments) of one strategy, from the training labels only."""
    counts = bf.class_counts(y_train)
    priors = bf.class_priors(y_train)
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    drw_start = args.drw_start if args.drw_start is not None else (3 * args.epochs) // 4
    if name == "ce":
        return ce, {}
    if name == "class_weight":
        return ce, {"class_weight": bf.class_weight(y_train, method="balanced")}
    if name == "focal":
        return FocalLoss(
            gamma=2.0, alpha="balanced", class_counts=counts, from_logits=True
        ), {}
    if name == "class_balanced":
        return ClassBalancedLoss(counts, beta=0.999, from_logits=True), {}
    if name == "logit_adjusted":
        return LogitAdjustedLoss(priors, tau=1.0, from_logits=True), {}
    if name == "balanced_softmax":
        return BalancedSoftmaxLoss(counts, from_logits=True), {}
    if name in ("ldam", "ldam_drw"):
        loss = LDAMLoss(
            counts, max_margin=args.ldam_margin, scale=args.ldam_scale, from_logits=True
        )
        if name == "ldam":
            return loss, {}
        return loss, {"callbacks": [DeferredReweighting(counts, drw_start, beta=0.999)]}
    if name == "ce_drw":
        loss = weighted(ce, np.ones(len(counts)))
        return loss, {"callbacks": [DeferredReweighting(counts, drw_start, beta=0.999)]}
    raise ValueError(name)


def run_one(name: str, ratio: float, seed: int, args) -> tuple[float, float]:
    X_train, y_train, X_test, y_test = digits_lt(imbalance_ratio=ratio, seed=seed)
    keras.utils.set_random_seed(seed)
    model = build_model(10)
    loss, fit_kwargs = strategy_setup(name, y_train, args)
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate),
        loss=loss,
        jit_compile=False,
    )
    model.fit(
        X_train,
        y_train,
        epochs=args.epochs,
        batch_size=args.batch_size,
        verbose=0,
        **fit_kwargs,
    )
    pred = keras.ops.convert_to_numpy(model(X_test, training=False)).argmax(axis=1)
    keras.utils.clear_session(free_memory=True)
    return balanced_accuracy(y_test, pred), macro_f1(y_test, pred)


def paired(diffs: np.ndarray) -> tuple[float, float, bool]:
    """Mean and std of paired differences, and whether the 95% t-interval is above 0."""
    n = len(diffs)
    mean = float(diffs.mean())
    sd = float(diffs.std(ddof=1)) if n > 1 else math.nan
    half = T95.get(n - 1, 1.96) * sd / math.sqrt(n) if n > 1 else math.inf
    return mean, sd, mean - half > 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ratios", type=float, nargs="+", default=[10.0, 50.0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument(
        "--drw-start", type=int, default=None, help="default: 3/4 of epochs"
    )
    parser.add_argument("--ldam-scale", type=float, default=30.0)
    parser.add_argument("--ldam-margin", type=float, default=0.5)
    parser.add_argument("--strategies", nargs="*", default=list(STRATEGIES))
    parser.add_argument("--json", default=None, help="also write every score here")
    args = parser.parse_args()
    if "ce" not in args.strategies:  # the baseline of every delta
        args.strategies.insert(0, "ce")

    scores: dict = {}
    start = time.perf_counter()
    for ratio in args.ratios:
        for seed in range(args.seeds):
            for name in args.strategies:
                scores[(ratio, name, seed)] = run_one(name, ratio, seed, args)
        print(
            f"ratio {ratio:g} done after {time.perf_counter() - start:.0f} s",
            flush=True,
        )

    print()
    print(
        f"digits_lt, tiny CNN, {args.epochs} epochs, {args.seeds} seeds; balanced test "
        "set of 500 images. mean +- std over seeds; delta = paired difference to ce; "
        "'*' = 95% t-interval of delta above 0."
    )
    header = (
        f"{'ratio':>5}  {'strategy':<17}{'balanced acc':>16}{'macro F1':>16}"
        f"{'delta bal. acc':>18}{'delta macro F1':>18}"
    )
    print(header)
    print("-" * len(header))
    for ratio in args.ratios:
        base = np.array([scores[(ratio, "ce", s)] for s in range(args.seeds)])
        for name in args.strategies:
            arr = np.array([scores[(ratio, name, s)] for s in range(args.seeds)])
            cells = []
            for j in range(2):
                sd = arr[:, j].std(ddof=1) if args.seeds > 1 else 0.0
                cells.append(f"{arr[:, j].mean():.3f} +- {sd:.3f}")
            deltas = []
            for j in range(2):
                if name == "ce":
                    deltas.append("")
                    continue
                mean, sd, beats = paired(arr[:, j] - base[:, j])
                deltas.append(f"{mean:+.3f} +- {sd:.3f}{' *' if beats else '  '}")
            print(
                f"{ratio:>5g}  {name:<17}{cells[0]:>16}{cells[1]:>16}"
                f"{deltas[0]:>18}{deltas[1]:>18}"
            )
        print()
    print(f"total time {time.perf_counter() - start:.0f} s")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(
                [
                    {
                        "ratio": r,
                        "strategy": n,
                        "seed": s,
                        "balanced_accuracy": a,
                        "macro_f1": f,
                    }
                    for (r, n, s), (a, f) in scores.items()
                ],
                handle,
                indent=1,
            )


if __name__ == "__main__":
    main()
