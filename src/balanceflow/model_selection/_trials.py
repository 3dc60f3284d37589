"""One fold of a comparison: the unit of work for serial, joblib and Dask runs.

Every backend runs the same function, :func:`run_fold`, so a strategy's result depends
only on its seed, its fold and its strategy, never on where or after what it ran.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from sklearn.base import clone

from balanceflow._validation import derive_seed, take_rows

__all__ = ["FoldTask", "Plan", "clear_fold_cache", "run_fold", "strategy_config"]


@dataclass
class Plan:
    """Everything a worker needs to train the strategies of one fold (picklable)."""

    features: Any
    codes: np.ndarray
    n_classes: int
    transformer: Any
    model_fn: Any  # None: the default model (resolved where the trials run)
    strategies: dict[str, Any]  # name -> trained (non-ensemble) Strategy
    epochs: int
    batch_size: int
    seed: int
    # Identifies this comparison in a worker's fold cache.
    token: str = field(default_factory=lambda: uuid.uuid4().hex)


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
    """In a worker process: cap TensorFlow's thread pools, then start it quietly."""
    if not threads:
        return
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(threads))
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from balanceflow._quiet import import_keras_quietly

    import_keras_quietly()


def make_loss(strategy: Any, y: np.ndarray, n_classes: int) -> Any:
    """The strategy's loss, built afresh from the class counts of its training rows.

    Losses that take ``class_counts`` or ``class_priors`` get them from ``y`` unless the
    strategy's ``loss_options`` fix them.
    """
    import inspect

    from balanceflow.losses import get, loss_class

    counts = np.bincount(y, minlength=n_classes)
    options = dict(strategy.loss_options)
    parameters = inspect.signature(loss_class(strategy.loss).__init__).parameters
    if "class_counts" in parameters:
        options.setdefault("class_counts", counts.tolist())
    if "class_priors" in parameters:
        options.setdefault("class_priors", (counts / counts.sum()).tolist())
    return get(strategy.loss, **options)


def train_strategy(
    strategy: Any,
    state: Any,
    X: np.ndarray,
    y: np.ndarray,
    *,
    seed: int,
    epochs: int,
    batch_size: int,
    n_classes: int,
) -> Any:
    """Train one (non-ensemble) strategy from the snapshot ``state`` and return the model.

    The sampler and class weights come from ``strategy.prepare``; a loss recompiles the
    model; a pipeline feeds ``balanced_dataset`` (a fresh balanced draw every epoch);
    deferred re-weighting adds its callback.
    """
    import keras

    X_s, y_s, fit_kwargs = strategy.prepare(X, y, seed=seed)
    loss = make_loss(strategy, y_s, n_classes) if strategy.loss is not None else None
    model = state.restore(loss=loss)
    callbacks = []
    if strategy.deferred_reweighting is not None:
        from balanceflow.callbacks import DeferredReweighting

        start = round(strategy.deferred_reweighting * epochs)
        callbacks.append(
            DeferredReweighting(np.bincount(y_s, minlength=n_classes), start)
        )
    keras.utils.set_random_seed(seed)
    if strategy.pipeline is not None:
        from balanceflow.data import balanced_dataset

        dataset = balanced_dataset(
            X_s,
            y_s,
            batch_size=batch_size,
            method=strategy.pipeline,
            sampling_strategy=strategy.sampling_strategy,
            seed=seed,
            classes=np.arange(n_classes),
            **strategy.pipeline_options,
        )
        # The pipeline shuffles within its draws; Keras must not try to shuffle a dataset.
        model.fit(
            dataset,
            epochs=epochs,
            verbose=0,
            callbacks=callbacks,
            shuffle=False,
            **fit_kwargs,
        )
    else:
        from balanceflow._models import fit_arrays

        fit_arrays(
            model,
            X_s,
            y_s,
            epochs=epochs,
            batch_size=batch_size,
            seed=seed,
            callbacks=callbacks,
            **fit_kwargs,
        )
    return model


def inner_split(
    y: np.ndarray, seed: int, repeat: int, fold: int
) -> tuple[np.ndarray, np.ndarray]:
    """The stratified 75/25 split of a training fold on which thresholds are tuned."""
    from sklearn.model_selection import StratifiedShuffleSplit

    splitter = StratifiedShuffleSplit(
        n_splits=1, test_size=0.25, random_state=fold_seed(seed, "inner", repeat, fold)
    )
    fit_part, val_part = next(splitter.split(np.zeros(len(y)), y))
    return np.sort(fit_part), np.sort(val_part)


# TensorFlow's global seed is shared by the threads of a process: folds take turns (a Dask
# worker with several threads runs one balanceflow fold at a time).
_RUN_LOCK = threading.Lock()


def run_fold(
    plan: Plan, task: FoldTask, threads: int | None = None
) -> list[dict[str, Any]]:
    """Train ``task.names`` on one fold's training rows; predict its test rows.

    The preprocessing is fit on the training rows only; every strategy starts from the same
    initial weights (restored from a snapshot) with a fresh optimizer.
    """
    limit_threads(threads)
    with _RUN_LOCK:
        return _run_fold(plan, task)


# The last fold prepared in this process: trials of one fold sent one by one to a worker
# reuse its preprocessing and initial weights.
_FOLD_CACHE: dict[str, Any] = {}


def clear_fold_cache() -> None:
    """Drop the cached fold (its arrays and model) once a run is over."""
    _FOLD_CACHE.clear()


def _prepare_fold(plan: Plan, task: FoldTask) -> tuple:
    """(X_train, X_test, y_train, initial-weights snapshot) of the task's fold."""
    from balanceflow._models import ModelState, call_model_fn, default_model_fn

    key = (plan.token, task.repeat, task.fold)
    if _FOLD_CACHE.get("key") == key:
        return _FOLD_CACHE["value"]
    _FOLD_CACHE.clear()
    X_train = take_rows(plan.features, task.train_idx)
    X_test = take_rows(plan.features, task.test_idx)
    if plan.transformer is not None:
        fitted = clone(plan.transformer).fit(X_train)
        X_train, X_test = fitted.transform(X_train), fitted.transform(X_test)
    X_train = np.asarray(X_train, dtype=np.float32)
    X_test = np.asarray(X_test, dtype=np.float32)
    y_train = plan.codes[task.train_idx]
    build = plan.model_fn if plan.model_fn is not None else default_model_fn
    init_seed = fold_seed(plan.seed, "init", task.repeat, task.fold)
    state = ModelState(
        call_model_fn(build, X_train.shape[1:], plan.n_classes, seed=init_seed)
    )
    value = (X_train, X_test, y_train, state)
    _FOLD_CACHE.update(key=key, value=value)
    return value


def _run_fold(plan: Plan, task: FoldTask) -> list[dict[str, Any]]:
    from balanceflow._models import predict_proba

    X_train, X_test, y_train, state = _prepare_fold(plan, task)
    results = []
    for name in task.names:
        strategy = plan.strategies[name]
        start = time.perf_counter()
        trial_seed = fold_seed(plan.seed, "trial", task.repeat, task.fold, name)
        record: dict[str, Any] = {
            "strategy": name,
            "repeat": task.repeat,
            "fold": task.fold,
        }
        if strategy.tune_threshold is None:
            model = train_strategy(
                strategy,
                state,
                X_train,
                y_train,
                seed=trial_seed,
                epochs=plan.epochs,
                batch_size=plan.batch_size,
                n_classes=plan.n_classes,
            )
            record["proba"] = predict_proba(model, X_test, plan.n_classes)
        else:
            # A model trained on 75% of the training rows scores the other 25%, on which the
            # threshold is tuned later; the test rows are scored by the base strategy's
            # model, trained on the whole training fold.
            fit_part, val_part = inner_split(y_train, plan.seed, task.repeat, task.fold)
            model = train_strategy(
                strategy,
                state,
                X_train[fit_part],
                y_train[fit_part],
                seed=trial_seed,
                epochs=plan.epochs,
                batch_size=plan.batch_size,
                n_classes=plan.n_classes,
            )
            record["val_idx"] = task.train_idx[val_part]
            record["val_proba"] = predict_proba(
                model, X_train[val_part], plan.n_classes
            )
        record["fit_seconds"] = time.perf_counter() - start
        results.append(record)
    return results
