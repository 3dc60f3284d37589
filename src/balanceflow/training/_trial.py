"""A trial, and the one function that trains it.

A trial is (strategy, training rows, scored rows, seeds) over a shared :class:`TrialData`,
trained with a :class:`~balanceflow.training.Recipe`. ``compare``'s folds, ``fit_best``'s
selection and bag, and ``StrategyEnsemble``'s members are all lists of trials; every runner
(serial, worker processes, Dask) calls :func:`run_trial` on each, so a trial's result
depends only on the trial, never on where or after what it ran.

The flow of one trial::

    run_trial(data, recipe, trial)
      frame_arrays    preprocessing fit on the frame's rows (cached per frame)
      initial_state   the model built from trial.init_seed (cached per frame and seed)
      train_model     setup = TrainingSetup(rows); setup = part.apply(setup) for each part;
                      compile setup.loss; fit_arrays(...) or model.fit(balanced_dataset(...))
      predict_proba   the scored rows
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import clone

from balanceflow._validation import take_rows
from balanceflow.strategies import Strategy, TrainingSetup

__all__ = [
    "Trial",
    "TrialData",
    "TrialResult",
    "clear_cache",
    "frame_arrays",
    "rebuild_model",
    "run_trial",
    "train_alone",
    "train_model",
    "training_rows",
    "transform_frame",
]


@dataclass
class TrialData:
    """The rows every trial of a run draws from (sent once to each worker).

    Attributes
    ----------
    features : DataFrame or array
        All rows, before preprocessing.
    codes : ndarray of int
        Class indices of the rows.
    n_classes : int
    transformer : scikit-learn transformer, optional
        Cloned and fit on each frame's rows; None: ``features`` are used as float32.
    frames : dict
        Frame key -> the rows the transformer is fit on (the training rows of a fold).
    """

    features: Any
    codes: np.ndarray
    n_classes: int
    transformer: Any = None
    frames: dict[Hashable, np.ndarray] = field(default_factory=dict)
    # Identifies this run in a worker's cache.
    token: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass(frozen=True)
class Trial:
    """One model to train.

    Attributes
    ----------
    strategy : Strategy
        A single-model strategy (an ensemble's leaves are separate trials).
    train_rows : ndarray, optional
        Rows it trains on (None: every row).
    score_rows : ndarray, optional
        Rows whose probabilities come back (None: none).
    seed : int
        Seeds the strategy's samplers, pipelines and the training run.
    init_seed : int
        Seeds the model's initial weights (trials with the same one start alike).
    frame : hashable, default=None
        Which preprocessing the rows go through (a key of ``TrialData.frames``); None:
        the transformer fit on every row, or no transformer.
    keep_model : bool, default=False
        Return the trained weights (to rebuild the model with :func:`rebuild_model`).
    tag : any
        The driver's label of the trial, returned with its result.
    """

    strategy: Strategy
    train_rows: np.ndarray | None = field(repr=False)
    score_rows: np.ndarray | None = field(repr=False)
    seed: int
    init_seed: int
    frame: Hashable = None
    keep_model: bool = False
    tag: Any = None


@dataclass
class TrialResult:
    """What a trained trial sends back: its scored rows' probabilities, its weights when
    asked (``keep_model``), and the seconds it trained for (a fused group's time shared
    equally by its members).

    ``engine`` says how it trained: ``"loop"`` (alone) or ``"fused"`` (stacked with
    ``group_size - 1`` others); ``engine_note`` why a trial of a fused run trained alone.
    ``best_epoch``: with early stopping, the epoch (0-based) whose weights it kept; -1
    when no epoch was scored (a budget too short to reach a deferred re-weighting), and
    the last epoch's weights were kept. ``backend``: the Keras backend a fused group
    trained on.
    """

    tag: Any
    proba: np.ndarray | None
    weights: list[np.ndarray] | None
    fit_seconds: float
    engine: str = "loop"
    group_size: int = 1
    engine_note: str = ""
    best_epoch: int | None = None
    backend: str = ""


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


def train_model(
    strategy: Strategy,
    state: Any,
    X: np.ndarray,
    y: np.ndarray,
    *,
    seed: int,
    recipe: Any,
    n_classes: int,
    validation: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> Any:
    """Train ``strategy`` from the snapshot ``state`` on ``(X, y)``; return the model.

    The strategy's parts turn the rows into a :class:`TrainingSetup`, one change each;
    then the model is compiled with the setup's loss (if any) and fit: on a balanced
    ``tf.data`` pipeline when the setup has one, else every row once per epoch. With
    ``validation`` (held-out rows and labels, untouched by the parts, and the prior the
    strategy trains under on ``y``), the model stops early on them
    (``recipe.patience``) and keeps its best epoch's weights; ``model.best_epoch_`` says
    which epoch that was.
    """
    import keras

    recipe = recipe.for_rows(y)
    setup = TrainingSetup(
        X=X,
        y=y,
        n_classes=n_classes,
        epochs=recipe.epochs,
        batch_size=recipe.batch_size,
        seed=seed,
    )
    for part in strategy.parts:
        setup = part.apply(setup)
    model = state.restore(loss=setup.loss)
    keras.utils.set_random_seed(seed)
    callbacks = list(setup.callbacks)
    stopper = None
    if validation is not None:
        from balanceflow.training._stopping import (
            best_epoch_callback,
            first_scored_epoch,
        )

        stopper = best_epoch_callback(
            *validation, recipe.patience, first_scored_epoch(setup.callbacks)
        )
        callbacks.append(stopper)
    if setup.pipeline is not None:
        from balanceflow.data import balanced_dataset

        dataset = balanced_dataset(
            setup.X,
            setup.y,
            batch_size=setup.batch_size,
            seed=seed,
            classes=np.arange(n_classes),
            **setup.pipeline,
        )
        # The pipeline shuffles within its draws; Keras must not try to shuffle a dataset.
        model.fit(
            dataset,
            epochs=setup.epochs,
            verbose=0,
            callbacks=callbacks,
            shuffle=False,
            class_weight=setup.class_weight,
        )
    else:
        from balanceflow._models import fit_arrays

        fit_arrays(
            model,
            setup.X,
            setup.y,
            epochs=setup.epochs,
            batch_size=setup.batch_size,
            seed=seed,
            callbacks=callbacks,
            class_weight=setup.class_weight,
        )
    model.best_epoch_ = None if stopper is None else stopper.best_epoch
    return model


# TensorFlow's global seed is shared by the threads of a process: trials take turns (a
# Dask worker with several threads runs one balanceflow trial at a time).
_RUN_LOCK = threading.Lock()

# The last frame's arrays and the last initial model prepared in this process: the
# trials of one fold, sent one by one to a worker, reuse them.
_CACHE: dict[str, Any] = {}


def clear_cache() -> None:
    """Drop the cached frame and model once a run is over."""
    _CACHE.clear()


def run_trial(
    data: TrialData, recipe: Any, trial: Trial, threads: int | None = None
) -> TrialResult:
    """Train one trial alone and return its result.

    ``threads``: in a worker process, its share of the cores for TensorFlow.
    """
    limit_threads(threads)
    with _RUN_LOCK:
        return train_alone(data, recipe, trial)


def train_alone(data: TrialData, recipe: Any, trial: Trial) -> TrialResult:
    """Train one trial alone (the caller holds the run lock); its result."""
    from balanceflow._models import predict_proba
    from balanceflow.training._stopping import training_prior

    start = time.perf_counter()
    recipe = recipe.for_rows(data.codes)
    X = frame_arrays(data, trial.frame)
    state = _initial_state(data, recipe, trial, X)
    rows, held = training_rows(data, recipe, trial)
    model = train_model(
        trial.strategy,
        state,
        X[rows],
        data.codes[rows],
        seed=trial.seed,
        recipe=recipe,
        n_classes=data.n_classes,
        validation=None
        if held is None
        else (
            X[held],
            data.codes[held],
            training_prior(trial.strategy, data.codes[rows], data.n_classes),
        ),
    )
    proba = None
    if trial.score_rows is not None:
        proba = predict_proba(model, X[trial.score_rows], data.n_classes)
    weights = model.get_weights() if trial.keep_model else None
    return TrialResult(
        trial.tag,
        proba,
        weights,
        time.perf_counter() - start,
        best_epoch=model.best_epoch_,
    )


def training_rows(
    data: TrialData, recipe: Any, trial: Trial
) -> tuple[np.ndarray, np.ndarray | None]:
    """The rows a trial trains on and, with early stopping, the rows it holds out of
    them to stop on (None without). Both engines call this, so they split alike; the
    held-out rows are a subset of ``trial.train_rows``, never of the scored rows."""
    rows = (
        np.arange(len(data.codes))
        if trial.train_rows is None
        else np.asarray(trial.train_rows)
    )
    if not recipe.for_rows(data.codes).early_stopping:
        return rows, None
    from balanceflow.training._stopping import validation_rows

    # Seeded by the initial-weights seed, which the trials of a fold share: every
    # strategy of the fold holds out the same rows, so their scores stay paired.
    return validation_rows(
        rows, data.codes, recipe.validation_fraction, trial.init_seed
    )


def frame_arrays(data: TrialData, frame: Hashable) -> np.ndarray:
    """Every row as float32, through the transformer fit on the frame's rows."""
    key = (data.token, frame)
    if _CACHE.get("frame_key") == key:
        return _CACHE["frame"]
    _CACHE.clear()
    X = transform_frame(data, frame)
    _CACHE.update(frame_key=key, frame=X)
    return X


def transform_frame(data: TrialData, frame: Hashable) -> np.ndarray:
    """:func:`frame_arrays` without the cache (safe to call from any thread)."""
    if data.transformer is None:
        return np.asarray(data.features, dtype=np.float32)
    fit_rows = data.frames.get(frame)
    fitted = clone(data.transformer).fit(
        data.features if fit_rows is None else take_rows(data.features, fit_rows)
    )
    return np.asarray(fitted.transform(data.features), dtype=np.float32)


def _initial_state(data: TrialData, recipe: Any, trial: Trial, X: np.ndarray) -> Any:
    """The snapshot of the model built from ``trial.init_seed`` (a fresh optimizer)."""
    from balanceflow._models import ModelState

    key = (data.token, trial.frame, trial.init_seed)
    if _CACHE.get("state_key") != key:
        model = recipe.build(X.shape[1:], data.n_classes, seed=trial.init_seed)
        _CACHE.update(state_key=key, state=ModelState(model))
    return _CACHE["state"]


def rebuild_model(
    recipe: Any,
    input_shape: tuple[int, ...],
    n_classes: int,
    trial: Trial,
    weights: list[np.ndarray],
) -> Any:
    """The trained model of a ``keep_model`` trial, rebuilt around its weights (the same
    initial-weights seed gives the same architecture)."""
    model = recipe.build(input_shape, n_classes, seed=trial.init_seed)
    model.set_weights(weights)
    if model.optimizer is not None and not model.optimizer.built:
        # Saved with its (untrained) optimizer slots, so that loading it matches them.
        model.optimizer.build(model.trainable_variables)
    return model
