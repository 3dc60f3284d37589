"""One fold of a comparison: the unit of work for serial, joblib and Dask runs.

Every backend runs the same function, :func:`run_fold`, so a strategy's result depends
only on its seed, its fold and its strategy, never on where or after what it ran.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from sklearn.base import clone

from balanceflow._validation import derive_seed, take_rows

__all__ = ["FoldTask", "Plan", "run_fold", "strategy_config"]


@dataclass
class Plan:
    """Everything a worker needs to train the strategies of one fold (picklable)."""

    features: Any
    codes: np.ndarray
    n_classes: int
    transformer: Any
    model_fn: Any
    strategies: dict[str, Any]  # name -> trained (non-ensemble) Strategy
    epochs: int
    batch_size: int
    seed: int


@dataclass
class FoldTask:
    repeat: int
    fold: int
    train_idx: np.ndarray = field(repr=False)
    test_idx: np.ndarray = field(repr=False)
    names: list[str]  # strategies to train (those not already in the results store)


def fold_seed(seed: int, kind: str, repeat: int, fold: int, *extra: Any) -> int:
    """Seeds of the initial weights ("init") and of each trial ("trial").

    Repeat 0 keeps the seeds of a single-repeat run, so adding repeats never changes the
    first repeat's numbers.
    """
    if repeat == 0:
        return derive_seed(seed, kind, fold, *extra)
    return derive_seed(seed, kind, fold, *extra, "repeat", repeat)


def strategy_config(strategy: Any) -> dict[str, Any]:
    """The fields that determine a strategy's results (for the results store's keys)."""
    return {
        f.name: repr(getattr(strategy, f.name)) for f in fields(strategy) if f.compare
    }


def limit_threads(threads: int | None) -> None:
    """Cap TensorFlow's thread pools in a worker process, before TensorFlow starts."""
    if not threads:
        return
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(threads))
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def run_fold(
    plan: Plan, task: FoldTask, threads: int | None = None
) -> list[dict[str, Any]]:
    """Train ``task.names`` on one fold's training rows; predict its test rows.

    The preprocessing is fit on the training rows only; every strategy starts from the same
    initial weights (restored from a snapshot) with a fresh optimizer.
    """
    limit_threads(threads)
    import keras

    from balanceflow._models import ModelState, call_model_fn, predict_proba

    X_train = take_rows(plan.features, task.train_idx)
    X_test = take_rows(plan.features, task.test_idx)
    if plan.transformer is not None:
        fitted = clone(plan.transformer).fit(X_train)
        X_train, X_test = fitted.transform(X_train), fitted.transform(X_test)
    X_train = np.asarray(X_train, dtype=np.float32)
    X_test = np.asarray(X_test, dtype=np.float32)
    y_train = plan.codes[task.train_idx]

    keras.utils.set_random_seed(fold_seed(plan.seed, "init", task.repeat, task.fold))
    state = ModelState(call_model_fn(plan.model_fn, X_train.shape[1:], plan.n_classes))
    results = []
    for name in task.names:
        strategy = plan.strategies[name]
        start = time.perf_counter()
        trial_seed = fold_seed(plan.seed, "trial", task.repeat, task.fold, name)
        X_s, y_s, fit_kwargs = strategy.prepare(X_train, y_train, seed=trial_seed)
        model = state.restore()
        keras.utils.set_random_seed(trial_seed)
        model.fit(
            X_s,
            y_s,
            epochs=plan.epochs,
            batch_size=plan.batch_size,
            verbose=0,
            **fit_kwargs,
        )
        results.append(
            {
                "strategy": name,
                "repeat": task.repeat,
                "fold": task.fold,
                "proba": predict_proba(model, X_test, plan.n_classes),
                "fit_seconds": time.perf_counter() - start,
            }
        )
    return results
