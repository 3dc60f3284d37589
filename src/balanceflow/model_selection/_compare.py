"""``compare``: every strategy, the same stratified folds, no leakage."""

from __future__ import annotations

import numbers
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold

from balanceflow._validation import (
    check_consistent_length,
    check_targets,
    derive_seed,
    encode_labels,
    short_repr,
    take_rows,
)
from balanceflow.exceptions import DataError, InvalidParameterError
from balanceflow.metrics import METRIC_NAMES, evaluate
from balanceflow.model_selection._preprocessing import clean_features, make_preprocessor
from balanceflow.model_selection._result import CompareResult
from balanceflow.strategies import Strategy, resolve_strategies

__all__ = ["ProgressCallback", "compare"]


class ProgressCallback(Protocol):
    """Called after each trained model: ``progress(done, total, description)``."""

    def __call__(self, done: int, total: int, description: str) -> None: ...


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value (labels of an object array already are)."""
    return value.item() if isinstance(value, np.generic) else value


def _check_positive_int(value: Any, name: str, minimum: int = 1) -> int:
    if (
        not isinstance(value, numbers.Integral)
        or isinstance(value, bool)
        or value < minimum
    ):
        raise InvalidParameterError(
            f"`{name}` must be an int >= {minimum}. Received: {name}={short_repr(value)}."
        )
    return int(value)


def compare(
    X: Any,
    y: Any,
    *,
    strategies: str | Sequence[str | Strategy] = "default",
    model_fn: Callable[..., Any] | None = None,
    n_splits: int = 5,
    seed: int = 0,
    epochs: int = 30,
    batch_size: int = 64,
    threshold: float = 0.5,
    preprocess: Any = "auto",
    progress: ProgressCallback | None = None,
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
        ``None`` passes ``X`` to the model as float32 (for images); a transformer is cloned
        and fit on each training fold.
    progress : callable, optional
        ``progress(done, total, description)`` after each trained model.

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
    import keras

    from balanceflow._models import (
        ModelState,
        call_model_fn,
        default_model_fn,
        predict_proba,
    )
    from balanceflow.ensemble import combine_proba

    n_splits = _check_positive_int(n_splits, "n_splits", minimum=2)
    epochs = _check_positive_int(epochs, "epochs")
    batch_size = _check_positive_int(batch_size, "batch_size")
    seed = _check_positive_int(seed, "seed", minimum=0)
    if not isinstance(threshold, numbers.Real) or not 0.0 < float(threshold) < 1.0:
        raise InvalidParameterError(
            f"`threshold` must be a float in (0, 1). Received: threshold={short_repr(threshold)}."
        )
    requested = resolve_strategies(strategies)
    by_name = {s.name: s for s in requested}
    for strategy in requested:
        for member in strategy.members:
            by_name.setdefault(member, resolve_strategies([member])[0])
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

    if len(classes) > 2 and float(threshold) != 0.5:
        raise InvalidParameterError(
            f"`threshold` applies to binary targets only; y has {len(classes)} classes, whose "
            f"label is the class of highest probability. Received: threshold={threshold!r}."
        )
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
    build = model_fn if model_fn is not None else default_model_fn
    # The binary threshold applies to the probability of the minority class; evaluate()
    # thresholds column 1, so when the minority is class index 0, flip codes and columns.
    flip = len(classes) == 2 and counts[0] < counts[1]

    folds = list(
        StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed).split(
            np.zeros(len(codes)), codes
        )
    )
    total = len(folds) * len(trained)
    done = 0
    records = []
    oof = {s.name: np.full((len(codes), len(classes)), np.nan) for s in requested}
    for fold, (train_idx, test_idx) in enumerate(folds):
        X_train, X_test = take_rows(features, train_idx), take_rows(features, test_idx)
        if transformer is not None:
            fitted = clone(transformer).fit(X_train)
            X_train, X_test = fitted.transform(X_train), fitted.transform(X_test)
        X_train = np.asarray(X_train, dtype=np.float32)
        X_test = np.asarray(X_test, dtype=np.float32)
        y_train, y_test = codes[train_idx], codes[test_idx]

        keras.utils.set_random_seed(derive_seed(seed, "init", fold))
        state = ModelState(call_model_fn(build, X_train.shape[1:], len(classes)))
        fold_proba: dict[str, np.ndarray] = {}
        fit_seconds: dict[str, float] = {}
        for strategy in trained:
            start = time.perf_counter()
            trial_seed = derive_seed(seed, "trial", fold, strategy.name)
            X_s, y_s, fit_kwargs = strategy.prepare(X_train, y_train, seed=trial_seed)
            model = state.restore()
            keras.utils.set_random_seed(trial_seed)
            model.fit(
                X_s, y_s, epochs=epochs, batch_size=batch_size, verbose=0, **fit_kwargs
            )
            fold_proba[strategy.name] = predict_proba(model, X_test, len(classes))
            fit_seconds[strategy.name] = time.perf_counter() - start
            done += 1
            if progress is not None:
                progress(done, total, f"fold {fold + 1}/{len(folds)} · {strategy.name}")
        for strategy in requested:
            if strategy.is_ensemble:
                stack = np.stack([fold_proba[m] for m in strategy.members])
                proba = combine_proba(stack, strategy.combine)
                seconds = sum(fit_seconds[m] for m in strategy.members)
            else:
                proba, seconds = fold_proba[strategy.name], fit_seconds[strategy.name]
            oof[strategy.name][test_idx] = proba
            if flip:
                report = evaluate(
                    1 - y_test, proba[:, ::-1], threshold=float(threshold)
                )
            else:
                report = evaluate(y_test, proba, threshold=float(threshold))
            row = {"strategy": strategy.name, "fold": fold}
            row.update({name: getattr(report, name) for name in METRIC_NAMES})
            row["fit_seconds"] = seconds
            records.append(row)
    return CompareResult(
        records=pd.DataFrame(records),
        strategies=[s.name for s in requested],
        classes=classes.tolist(),
        class_counts=counts.tolist(),
        folds=[(tr, te) for tr, te in folds],
        y_true=codes,
        proba=oof,
        settings={
            "n_splits": n_splits,
            "seed": seed,
            "epochs": epochs,
            "batch_size": batch_size,
            "threshold": float(threshold),
            "threshold_class": _plain(classes[0 if flip else 1])
            if len(classes) == 2
            else None,
            "model": "default MLP"
            if model_fn is None
            else getattr(model_fn, "__name__", "custom"),
        },
    )
