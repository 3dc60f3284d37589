"""``compare``: every strategy, the same stratified folds, no leakage."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from balanceflow._validation import (
    check_consistent_length,
    check_int,
    check_targets,
    derive_seed,
    encode_labels,
    short_repr,
)
from balanceflow.exceptions import DataError, InvalidParameterError
from balanceflow.metrics import METRIC_NAMES, evaluate
from balanceflow.model_selection._backends import run_tasks
from balanceflow.model_selection._preprocessing import clean_features, make_preprocessor
from balanceflow.model_selection._result import CompareResult
from balanceflow.model_selection._store import ResultsStore, config_hash
from balanceflow.model_selection._trials import FoldTask, Plan, strategy_config
from balanceflow.strategies import Strategy, resolve_strategies
from balanceflow.strategies._strategy import TUNED_SUFFIX

__all__ = ["ProgressCallback", "compare"]

# 2: one tf.data pipeline for all epochs (fit_arrays) instead of model.fit on arrays.
TRIAL_PROTOCOL = 2


class ProgressCallback(Protocol):
    """Called after each trained model: ``progress(done, total, description)``."""

    def __call__(self, done: int, total: int, description: str) -> None: ...


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value (labels of an object array already are)."""
    return value.item() if isinstance(value, np.generic) else value


def compare(
    X: Any,
    y: Any,
    *,
    strategies: str | Sequence[str | Strategy] = "default",
    model_fn: Callable[..., Any] | None = None,
    n_splits: int = 5,
    n_repeats: int = 1,
    seed: int = 0,
    epochs: int = 30,
    batch_size: int = 64,
    threshold: float = 0.5,
    preprocess: Any = "auto",
    progress: ProgressCallback | None = None,
    n_jobs: int = 1,
    scheduler: str | None = None,
    out: str | None = None,
    tune_threshold: str | None = None,
) -> CompareResult:
    """Compare imbalance strategies under stratified K-fold cross-validation.

    In every fold, each strategy trains the same model from the same initial weights on
    the training rows only: the preprocessing, the resampling and the class weights are fit
    on the training fold, and the test fold is only predicted. Ensemble strategies reuse
    their members' models from the same fold (they are trained exactly as the single
    strategies of the same name, so this changes no number and saves the time).

    Parameters
    ----------
    X : DataFrame or array of shape (n_samples, n_features) (or N-D with ``preprocess=None``)
        Features. With ``preprocess="auto"``, numeric columns are median-imputed and
        standardised, text/categorical columns most-frequent-imputed and one-hot encoded
        (at most 50 columns each), all fit on the training fold. NaN in features is imputed;
        inf, dates and other types the default model cannot encode raise a DataError.
    y : array-like of shape (n_samples,)
        Class labels (int, bool or str); binary or multi-class.
    strategies : "default", "all", or list of names / Strategy objects
        ``"default"`` = none, class_weight, over, under, seed_ensemble.
    model_fn : callable, optional
        ``model_fn(input_shape, n_classes) -> keras.Model``; default: a
        Dense(32)-Dense(16) MLP with Adam(1e-3).
    n_splits : int, default=5
        Number of stratified folds; every class needs at least ``n_splits`` rows.
    seed : int, default=0
        Seeds the folds, the initial weights, the samplers and the training runs.
    epochs, batch_size : int
        Passed to ``model.fit``.
    threshold : float, default=0.5
        Binary decision threshold on the probability of the minority class (the less
        frequent label of ``y``; class index 1 on a tie): a row is predicted as the minority
        when that probability is >= ``threshold``. It sets the label metrics (balanced
        accuracy, G-mean, F1, MCC); PR-AUC and ROC-AUC do not depend on it.
    preprocess : "auto", None or a scikit-learn transformer
        ``None`` passes ``X`` to the model as float32; a transformer is cloned and fit on
        each training fold. ``"auto"`` is tabular preprocessing for 2-D data and ``None``
        for images (N x H x W [x C]), which the default model then fits with a small CNN.
    n_repeats : int, default=1
        Repeats of the K-fold split with different shuffles (``RepeatedStratifiedKFold``).
        More blocks make the statistical tests meaningful: with 5 folds and 1 repeat no
        Wilcoxon test can reach p < 0.05.
    progress : callable, optional
        ``progress(done, total, description)`` after each trained model.
    n_jobs : int, default=1
        Folds run in this many joblib worker processes (-1: one per core), each with its
        TensorFlow threads capped so the workers share the cores. Results equal the serial
        run's up to floating-point summation order.
    scheduler : str, optional
        Address of an existing Dask distributed scheduler (``tcp://host:port``); the folds
        run on its workers (needs ``balanceflow[dask]``).
    tune_threshold : str, optional
        Binary targets: add ``NAME+tuned`` beside every strategy, whose decision threshold is
        tuned for this objective (e.g. ``"g_mean"``, ``"f1"``, ``"mcc"``; see
        :class:`balanceflow.thresholds.TunedThreshold`) on an inner 25% split of each
        training fold, scored by a model trained on the other 75%; the test rows are scored
        by the strategy's full-fold model. Both the 0.5 and the tuned results are reported.
    out : str or path, optional
        A directory for the results store (``trials.jsonl``): every finished trial is
        appended as it completes, and a rerun with the same data and settings skips the
        trials already there, so an interrupted run resumes. Trials are keyed by the data,
        the settings, the strategy and the model function's *name*: use a new directory
        after changing a model function's body.

    Returns
    -------
    CompareResult
        Per-fold metrics (``records``), ``leaderboard(metric)`` and the settings.

    Examples
    --------
    >>> import balanceflow as bf
    >>> X, y = bf.datasets.load("new-thyroid1")
    >>> result = bf.compare(X, y, strategies=["none", "over"], epochs=5)  # doctest: +SKIP
    >>> print(result.leaderboard())                                       # doctest: +SKIP
    """

    n_splits = check_int(n_splits, "n_splits", minimum=2)
    n_repeats = check_int(n_repeats, "n_repeats")
    if (
        not isinstance(n_jobs, numbers.Integral)
        or isinstance(n_jobs, bool)
        or n_jobs == 0
    ):
        raise InvalidParameterError(
            "`n_jobs` must be a positive int, or -1 for one worker per core. "
            f"Received: n_jobs={short_repr(n_jobs)}."
        )
    epochs = check_int(epochs, "epochs")
    batch_size = check_int(batch_size, "batch_size")
    seed = check_int(seed, "seed", minimum=0)
    if not isinstance(threshold, numbers.Real) or not 0.0 < float(threshold) < 1.0:
        raise InvalidParameterError(
            f"`threshold` must be a float in (0, 1). Received: threshold={short_repr(threshold)}."
        )
    requested = resolve_strategies(strategies)
    if tune_threshold is not None:
        requested += [
            s.tuned(tune_threshold) for s in requested if s.tune_threshold is None
        ]
    by_name = _with_dependencies(requested)
    trained = [s for s in by_name.values() if not s.is_ensemble]

    labels = check_targets(y)
    check_consistent_length(X, labels)
    codes, classes = encode_labels(labels)
    counts = np.bincount(codes, minlength=len(classes))
    if counts.min() < n_splits:
        small = {
            _plain(classes[i]): int(c) for i, c in enumerate(counts) if c < n_splits
        }
        raise DataError(
            f"Every class needs at least n_splits={n_splits} rows for stratified folds; "
            f"{len(small)} class(es) have fewer (label: rows): {short_repr(small, 200)}. "
            "Lower `n_splits` or add rows."
        )

    tuned_names = [s.name for s in by_name.values() if s.tune_threshold is not None]
    if len(classes) > 2 and tuned_names:
        raise InvalidParameterError(
            f"Tuned thresholds are for binary targets; y has {len(classes)} classes. "
            f"Received strategies {tuned_names}."
        )
    if len(classes) > 2 and float(threshold) != 0.5:
        raise InvalidParameterError(
            f"`threshold` applies to binary targets only; y has {len(classes)} classes, whose "
            f"label is the class of highest probability. Received: threshold={threshold!r}."
        )
    if preprocess == "auto" and not hasattr(X, "columns") and np.ndim(X) > 2:
        preprocess = None  # images and other N-D inputs: no tabular preprocessing
    if preprocess == "auto":
        features, numeric, categorical = clean_features(X)
        transformer = make_preprocessor(numeric, categorical)
    elif preprocess is None:
        features, transformer = np.asarray(X, dtype=np.float32), None
        if not np.isfinite(features).all():
            raise DataError(
                "`X` contains NaN or inf, and preprocess=None does not impute. Clean X, or "
                "pass preprocess='auto' (tabular) or your own transformer."
            )
    elif hasattr(preprocess, "fit") and hasattr(preprocess, "transform"):
        features, transformer = X, preprocess
    else:
        raise InvalidParameterError(
            "`preprocess` must be 'auto', None or a scikit-learn transformer. "
            f"Received: preprocess={short_repr(preprocess)}."
        )
    # The binary threshold applies to the probability of the minority class; evaluate()
    # thresholds column 1, so when the minority is class index 0, flip codes and columns.
    flip = len(classes) == 2 and counts[0] < counts[1]
    settings = {
        "n_splits": n_splits,
        "n_repeats": n_repeats,
        "seed": seed,
        "epochs": epochs,
        "batch_size": batch_size,
        "threshold": float(threshold),
        "threshold_class": _plain(classes[0 if flip else 1])
        if len(classes) == 2
        else None,
        "model": "default MLP" if model_fn is None else _function_name(model_fn),
    }

    folds = {}
    for repeat in range(n_repeats):
        state = seed if repeat == 0 else derive_seed(seed, "folds", repeat)
        splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=state)
        for fold, (tr, te) in enumerate(splitter.split(np.zeros(len(codes)), codes)):
            folds[(repeat, fold)] = (tr, te)

    store = ResultsStore(out) if out is not None else None
    data_key = _data_fingerprint(features, codes, preprocess)

    def trial_key(name: str, repeat: int, fold: int) -> str:
        return config_hash(
            {
                "data": data_key,
                # Bumped whenever the way trials train changes, so that a results store
                # written by an older version is not mixed into a new leaderboard.
                "protocol": TRIAL_PROTOCOL,
                "settings": {k: v for k, v in settings.items() if k != "n_repeats"},
                "strategy": strategy_config(by_name[name]),
                "repeat": repeat,
                "fold": fold,
            }
        )

    finished = store.load() if store is not None else {}
    trials: dict[tuple[int, int, str], dict[str, Any]] = {}
    tasks = []
    for (repeat, fold), (tr, te) in folds.items():
        todo = []
        for strategy in trained:
            record = finished.get(trial_key(strategy.name, repeat, fold))
            if record is None:
                todo.append(strategy.name)
            else:
                trials[(repeat, fold, strategy.name)] = record
        if todo:
            tasks.append(FoldTask(repeat, fold, tr, te, todo))

    total = len(folds) * len(trained)
    done = total - sum(len(t.names) for t in tasks)
    if progress is not None:
        progress(done, total, "resumed" if done else "starting")
    plan = Plan(
        features=features,
        codes=codes,
        n_classes=len(classes),
        transformer=transformer,
        model_fn=model_fn,
        strategies={s.name: s for s in trained},
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
    )
    for results in run_tasks(plan, tasks, n_jobs=n_jobs, scheduler=scheduler):
        for trial in results:
            key = (trial["repeat"], trial["fold"], trial["strategy"])
            trials[key] = trial
            if store is not None:
                store.append({"key": trial_key(*key[2:], *key[:2]), **trial})
            done += 1
            if progress is not None:
                progress(done, total, f"fold {key[1] + 1} · {key[2]}")

    positive = 0 if flip else 1  # the class whose probability is thresholded (binary)
    records = []
    oof = {s.name: np.full((len(codes), len(classes)), np.nan) for s in requested}
    for (repeat, fold), (_, test_idx) in folds.items():
        fold_trials = {n: trials[(repeat, fold, n)] for n in (s.name for s in trained)}
        y_test = codes[test_idx]
        for strategy in requested:
            proba = _test_proba(strategy.name, by_name, fold_trials)
            cut = float(threshold)
            if strategy.tune_threshold is not None:
                cut = _tuned_threshold(strategy, by_name, fold_trials, codes, positive)
            if repeat == 0:
                oof[strategy.name][test_idx] = proba
            row = {"strategy": strategy.name, "repeat": repeat, "fold": fold}
            row.update(score_fold(y_test, proba, cut, flip))
            row["threshold"] = cut if len(classes) == 2 else None
            row["fit_seconds"] = sum(
                float(fold_trials[n]["fit_seconds"])
                for n in _trained_under(strategy.name, by_name)
            )
            records.append(row)
    return CompareResult(
        records=pd.DataFrame(records),
        strategies=[s.name for s in requested],
        classes=classes.tolist(),
        class_counts=counts.tolist(),
        folds=[folds[(0, f)] for f in range(n_splits)],
        y_true=codes,
        proba=oof,
        settings=settings,
    )


def score_fold(
    y_test: np.ndarray, proba: np.ndarray, threshold: float, flip: bool
) -> dict[str, float]:
    """Every metric of one test fold. Binary: ``threshold`` applies to the minority's
    probability, column 0 when ``flip`` (the minority is class index 0)."""
    if flip:
        report = evaluate(1 - y_test, proba[:, ::-1], threshold=threshold)
    else:
        report = evaluate(y_test, proba, threshold=threshold)
    return {name: getattr(report, name) for name in METRIC_NAMES}


def _base_name(name: str) -> str:
    return name.removesuffix(TUNED_SUFFIX)


def _with_dependencies(requested: list[Strategy]) -> dict[str, Strategy]:
    """The requested strategies plus everything they need trained: ensemble members and,
    for a tuned strategy, the base strategy whose full-fold model scores the test rows."""
    by_name = {s.name: s for s in requested}

    def need(name: str, wanted_by: str) -> None:
        if name not in by_name:
            by_name[name] = resolve_strategies([name])[0]
        strategy = by_name[name]
        if strategy.tune_threshold is not None and _base_name(name) != name:
            need(_base_name(name), name)
        for member in strategy.members:
            need(member, name)
            if by_name[member].is_ensemble:
                raise InvalidParameterError(
                    f"Strategy {name!r} has the ensemble {member!r} as a member; ensemble "
                    "members must be single strategies."
                )

    for strategy in list(requested):
        need(strategy.name, strategy.name)
    return by_name


def _trained_under(name: str, by_name: dict[str, Strategy]) -> list[str]:
    """The trained (non-ensemble) strategies whose models a strategy's result uses."""
    strategy = by_name[name]
    names = [] if strategy.is_ensemble else [name]
    if strategy.tune_threshold is not None and _base_name(name) != name:
        names += _trained_under(_base_name(name), by_name)
    for member in strategy.members:
        names += _trained_under(member, by_name)
    return list(dict.fromkeys(names))


def _test_proba(
    name: str, by_name: dict[str, Strategy], fold_trials: dict
) -> np.ndarray:
    """Test-fold probabilities: a tuned strategy uses its base strategy's full-fold model."""
    from balanceflow.ensemble import combine_proba

    strategy = by_name[name]
    if strategy.tune_threshold is not None and _base_name(name) != name:
        return _test_proba(_base_name(name), by_name, fold_trials)
    if strategy.is_ensemble:
        stack = np.stack(
            [_test_proba(m, by_name, fold_trials) for m in strategy.members]
        )
        return combine_proba(stack, strategy.combine)
    return np.asarray(fold_trials[name]["proba"], dtype=np.float64)


def _val_proba(name: str, by_name: dict[str, Strategy], fold_trials: dict) -> tuple:
    """(row indices, probabilities) of the inner validation rows of a tuned strategy."""
    from balanceflow.ensemble import combine_proba

    strategy = by_name[name]
    if strategy.is_ensemble:
        parts = [_val_proba(m, by_name, fold_trials) for m in strategy.members]
        stack = np.stack([proba for _, proba in parts])
        return parts[0][0], combine_proba(stack, strategy.combine)
    trial = fold_trials[name]
    return np.asarray(trial["val_idx"]), np.asarray(
        trial["val_proba"], dtype=np.float64
    )


def _tuned_threshold(
    strategy: Strategy,
    by_name: dict,
    fold_trials: dict,
    codes: np.ndarray,
    positive: int,
) -> float:
    """Tune the threshold on the inner validation rows (never the test rows); 0.5 when
    those rows cannot decide (e.g. constant scores)."""
    from balanceflow.exceptions import BalanceflowError
    from balanceflow.thresholds import TunedThreshold

    rows, proba = _val_proba(strategy.name, by_name, fold_trials)
    truth = (codes[rows] == positive).astype(int)
    try:
        tuner = TunedThreshold(objective=strategy.tune_threshold).fit(
            truth, proba[:, positive]
        )
    except BalanceflowError:
        return 0.5
    return float(tuner.best_threshold_)


def _function_name(function: Any) -> str:
    module = getattr(function, "__module__", None) or ""
    name = getattr(function, "__qualname__", None) or type(function).__name__
    return f"{module}:{name}" if module and module != "__main__" else name


def _data_fingerprint(features: Any, codes: np.ndarray, preprocess: Any) -> str:
    """A hash of the data and its preprocessing, for the results store's keys."""
    import hashlib

    digest = hashlib.sha256(np.ascontiguousarray(codes).tobytes())
    if isinstance(features, pd.DataFrame):
        digest.update(
            pd.util.hash_pandas_object(features, index=False).to_numpy().tobytes()
        )
        digest.update(repr(list(features.columns)).encode())
    else:
        digest.update(np.ascontiguousarray(np.asarray(features)).tobytes())
    digest.update(
        repr(preprocess if preprocess in ("auto", None) else type(preprocess)).encode()
    )
    return digest.hexdigest()[:16]
