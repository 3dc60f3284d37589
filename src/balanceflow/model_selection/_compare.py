"""``compare``: every strategy, the same stratified folds, no leakage.

``compare`` is a driver over the trial runner (:mod:`balanceflow.training`): it checks the
options and the target (:class:`Target`), prepares the features, lays out the folds,
turns every (fold, strategy leaf) into a :class:`~balanceflow.training.Trial`
(:func:`plan_trials`), runs those not already in the results store, and scores each
requested strategy on each test fold from its leaves' probabilities (:func:`score_trials`).
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit

from balanceflow._validation import (
    check_consistent_length,
    check_int,
    check_target_is_classes,
    check_targets,
    derive_seed,
    encode_labels,
    resolve_pos_label,
    short_repr,
)
from balanceflow.exceptions import BalanceflowError, DataError, InvalidParameterError
from balanceflow.metrics import (
    METRIC_NAMES,
    brier_score,
    evaluate,
    expected_calibration_error,
    log_loss,
)
from balanceflow.model_selection._baselines import (
    Baseline,
    BaselineFit,
    resolve_baselines,
    run_baselines,
)
from balanceflow.model_selection._data_checks import check_data, label_issues
from balanceflow.model_selection._hygiene import check_features_against_target
from balanceflow.model_selection._preprocessing import clean_features, make_preprocessor
from balanceflow.model_selection._result import CompareResult
from balanceflow.model_selection._store import ResultsStore, config_hash
from balanceflow.strategies import (
    PRIOR_STATUSES,
    TUNED_SUFFIX,
    BaseStrategy,
    Strategy,
    Tuned,
    resolve_strategies,
)
from balanceflow.training import (
    Recipe,
    Runner,
    Trial,
    TrialData,
    TrialResult,
    get_runner,
    resolve_recipe,
    transform_frame,
)

__all__ = ["ProgressCallback", "Target", "compare", "score_fold"]

# 2: one tf.data pipeline for all epochs (fit_arrays) instead of model.fit on arrays.
# 3: trials keyed by the strategy's parts (the same training as protocol 2).
# 4: epoch row orders from numpy (epoch_order), shared by the loop and fused engines.
# 5: early stopping (held-out rows, deferred re-weighting judged from its start).
TRIAL_PROTOCOL = 5


class ProgressCallback(Protocol):
    """Called after each trained model: ``progress(done, total, description)``."""

    def __call__(self, done: int, total: int, description: str) -> None: ...


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value (labels of an object array already are)."""
    return value.item() if isinstance(value, np.generic) else value


@dataclass(frozen=True)
class Target:
    """The labels of a run as class indices, and its positive class, decided once.

    Attributes
    ----------
    codes : ndarray of int
    classes : ndarray
        The labels in class-index order.
    counts : ndarray of int
    positive : int or None
        Binary targets: the index of the positive class (``pos_label``, by default the
        minority; on a tie the class sorted last). Its probability is the one every
        threshold applies to. None for multi-class targets (argmax decides).
    """

    codes: np.ndarray
    classes: np.ndarray
    counts: np.ndarray
    positive: int | None

    @classmethod
    def from_labels(cls, y: Any, pos_label: Any = None) -> Target:
        labels = check_targets(y)
        check_target_is_classes(labels)
        codes, classes = encode_labels(labels)
        counts = np.bincount(codes, minlength=len(classes))
        return cls(
            codes, classes, counts, resolve_pos_label(classes, counts, pos_label)
        )

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def pos_label(self) -> Any:
        return None if self.positive is None else _plain(self.classes[self.positive])


def compare(
    X: Any,
    y: Any,
    *,
    strategies: str | Sequence[str | BaseStrategy] = "default",
    recipe: Recipe | None = None,
    model_fn: Callable[..., Any] | None = None,
    n_splits: int = 5,
    n_repeats: int = 1,
    seed: int | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    threshold: float = 0.5,
    pos_label: Any = None,
    preprocess: Any = "auto",
    progress: ProgressCallback | None = None,
    n_jobs: int = 1,
    scheduler: str | None = None,
    out: str | None = None,
    tune_threshold: str | None = None,
    engine: str = "auto",
    baselines: Any = "auto",
    data_checks: bool = True,
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
        inf, durations, complex numbers and objects that are neither text nor numbers raise
        a DataError.
    y : array-like of shape (n_samples,)
        Class labels (int, bool or str); binary or multi-class.
    strategies : "default", "all", or list of names / strategy objects
        ``"default"`` = none, class_weight, over, under, seed_ensemble.
    recipe : Recipe, optional
        How every model is built and trained (:class:`balanceflow.training.Recipe`); or
        give its fields as ``model_fn``, ``epochs``, ``batch_size``, ``seed`` (default: the
        Dense(32)-Dense(16) MLP with Adam(1e-3), seed 0, and an epoch budget and batch
        size from the table's size with early stopping on held-out training rows;
        ``epochs=30, batch_size=64`` is the reference table's recipe).
    n_splits : int, default=5
        Number of stratified folds; every class needs at least ``n_splits`` rows.
    threshold : float, default=0.5
        Binary decision threshold on the probability of the positive class
        (``pos_label``): a row is predicted positive when that probability is
        >= ``threshold``. It sets the label metrics (balanced accuracy, G-mean, F1, MCC);
        PR-AUC and ROC-AUC do not depend on it.
    pos_label : label, optional
        Binary targets: the positive class, whose probability is thresholded and whose
        PR-AUC and F1 are reported. Default: the minority class (on a tie, the class sorted
        last). Stored in ``result.settings["pos_label"]``.
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
        Trials run in this many joblib worker processes (-1: one per core), each with its
        TensorFlow threads capped so the workers share the cores. Results equal the serial
        run's up to floating-point summation order.
    scheduler : str, optional
        Address of an existing Dask distributed scheduler (``tcp://host:port``); the trials
        run on its workers (needs ``balanceflow[dask]``).
    engine : {"auto", "fused", "loop"}, default="auto"
        How the models train: ``"fused"`` stacks many models into one computation (one
        step trains all of them; much faster for the small models of a comparison),
        ``"loop"`` trains one at a time, ``"auto"`` fuses what can be stacked (a chain of
        Dense layers with Adam, on TensorFlow) and loops over the rest. Every model gets
        the same batches either way, so the results agree up to float round-off.
        ``settings["engine"]`` says what ran.
    baselines : "auto", "none", or list of names and scikit-learn classifiers
        Reference rows: models a user would pick instead of a Keras remedy, trained in
        every fold on the same training rows through the same preprocessing, and scored on
        the same test rows. ``"auto"`` (default) is ``hgb_balanced`` (scikit-learn's
        HistGradientBoostingClassifier, balanced class weights) and ``balanced_rf``
        (imbalanced-learn's BalancedRandomForestClassifier) for tables, none for images;
        ``easy_ensemble`` is available by name, and any classifier with ``fit`` and
        ``predict_proba`` can be given. With ``tune_threshold``, each also gets a
        ``NAME+tuned`` row, tuned on the same inner splits as the tuned strategies.
        They enter the leaderboard and the statistics like any strategy (their names are
        in ``result.baselines``); :meth:`CompareResult.baseline_comparison` says whether
        the best Keras strategy is ahead of them.
    data_checks : bool, default=True
        Look at the data before any training: exact and near duplicates (and copies that
        straddle a training and a test fold), identical rows with different labels,
        missingness that differs by class, columns that alone separate the classes or
        look like IDs, and a nearest-neighbour estimate of class overlap; after training,
        rows whose label the out-of-fold probabilities contradict. ``result.data_checks``
        holds the findings (see :mod:`balanceflow.model_selection._data_checks`).
    tune_threshold : str, optional
        Binary targets: add ``NAME+tuned`` beside every strategy, whose decision threshold is
        tuned for this objective (e.g. ``"g_mean"``, ``"f1"``, ``"mcc"``; see
        :class:`balanceflow.strategies.Tuned`) on an inner 25% split of each training fold,
        scored by models trained on the other 75%; the test rows are scored by the
        strategy's full-fold models. Both the 0.5 and the tuned results are reported.
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
    recipe = resolve_recipe(
        recipe, model_fn=model_fn, epochs=epochs, batch_size=batch_size, seed=seed
    )
    n_splits = check_int(n_splits, "n_splits", minimum=2)
    n_repeats = check_int(n_repeats, "n_repeats")
    threshold = _check_threshold(threshold)
    runner = get_runner(n_jobs, scheduler, engine)
    check_consistent_length(X, y)
    target = Target.from_labels(y, pos_label)
    recipe = recipe.for_rows(target.codes)  # "auto" epochs, batch, stopping
    requested = _requested(strategies, tune_threshold, target)
    _check_target(target, requested, n_splits, threshold)
    if not isinstance(data_checks, bool):
        raise InvalidParameterError(
            "`data_checks` must be True or False. Received: "
            f"data_checks={short_repr(data_checks)}."
        )
    if isinstance(preprocess, str) and preprocess == "auto":
        check_features_against_target(
            X, target.codes, target.n_classes, target=f"the target {_name_of(y)}"
        )
    features, transformer = prepare_features(X, preprocess)
    references = resolve_baselines(baselines, tabular=np.ndim(features) == 2)
    _check_names(requested, references)
    folds = make_folds(target.codes, n_splits, n_repeats, recipe.seed)
    first_repeat = [folds[(0, f)] for f in range(n_splits)]
    checks = (
        check_data(
            features,
            target.codes,
            target.classes,
            first_repeat,
            positive=target.positive,
            seed=recipe.seed,
        )
        if data_checks
        else None
    )
    settings = {
        "n_splits": n_splits,
        "n_repeats": n_repeats,
        **recipe.settings(),
        "threshold": threshold,
        "pos_label": target.pos_label,
        # The former name of pos_label, kept for readers of earlier results.
        "threshold_class": target.pos_label,
    }
    data = TrialData(
        features=features,
        codes=target.codes,
        n_classes=target.n_classes,
        transformer=transformer,
        frames={key: train for key, (train, _) in folds.items()},
    )
    trials = plan_trials(requested, folds, target.codes, recipe.seed)
    store_key = {
        "data": _data_fingerprint(features, target.codes, preprocess),
        # Bumped whenever the way trials train changes, so that a results store
        # written by an older version is not mixed into a new leaderboard.
        "protocol": TRIAL_PROTOCOL,
        "settings": {k: v for k, v in settings.items() if k != "n_repeats"},
    }
    # The baselines first: cheap next to the Keras models, and one that cannot fit
    # fails before any of those trains.
    reference_fits = run_baselines(
        references,
        plan_baseline_jobs(
            folds, target, recipe.seed, tuned=tune_threshold is not None
        ),
        functools.partial(transform_frame, data),
        target.codes,
        target.n_classes,
        progress,
    )
    outputs = run_with_store(
        data,
        recipe,
        trials,
        runner,
        ResultsStore(out) if out else None,
        store_key,
        progress,
    )
    settings["engine"] = describe_engines(outputs.values())
    scored = score_trials(requested, folds, outputs, target, threshold, recipe.seed)
    references_scored = score_baselines(
        references,
        folds,
        reference_fits,
        target,
        threshold,
        recipe.seed,
        tune_threshold,
    )
    result = _result(
        requested, references, scored, references_scored, target, first_repeat, settings
    )
    result.data_checks = checks
    if checks is not None:
        _add_label_issues(result, checks, target)
    return result


def _result(
    requested: list[BaseStrategy],
    references: list[Baseline],
    scored: tuple,
    references_scored: tuple,
    target: Target,
    folds: list[tuple[np.ndarray, np.ndarray]],
    settings: dict[str, Any],
) -> CompareResult:
    """The comparison's result from the scores of the strategies and of the baselines."""
    records, oof, oof_corrected, corrections = scored
    reference_records, reference_oof, reference_corrected = references_scored
    for name in reference_oof:
        base = name.removesuffix(TUNED_SUFFIX)
        corrections[name] = next(b.prior_status for b in references if b.name == base)
    # How each row's *_corrected calibration came about (see PriorState).
    settings["prior_correction"] = corrections
    if references:
        settings["baselines"] = {b.name: b.description for b in references}
    return CompareResult(
        records=pd.DataFrame(records + reference_records),
        strategies=[s.name for s in requested],
        baselines=list(reference_oof),
        classes=target.classes.tolist(),
        class_counts=target.counts.tolist(),
        folds=folds,
        y_true=target.codes,
        proba={**oof, **reference_oof},
        proba_corrected={**oof_corrected, **reference_corrected},
        settings=settings,
    )


def _add_label_issues(result: CompareResult, checks: Any, target: Target) -> None:
    """Labels the data contradicts, judged by the out-of-fold probabilities of the best
    baseline (trees, trained balanced) or else of the best strategy."""
    board = result.leaderboard()
    source = next((str(n) for n in board.index if n in result.baselines), result.best())
    checks.checked.append("label_issues")
    finding = label_issues(
        result.proba[source],
        target.codes,
        target.classes,
        source,
        overlap=checks.overlap,
    )
    if finding is not None:
        checks.findings.append(finding)


def _requested(
    strategies: Any, tune_threshold: str | None, target: Target
) -> list[BaseStrategy]:
    """The strategies to compare, their ``+tuned`` twins with ``tune_threshold``, and
    every ``{label: count}`` sampling strategy keyed by class index, as trials see it."""
    requested = resolve_strategies(strategies)
    if tune_threshold is not None:
        requested += [
            s.tuned(tune_threshold) for s in requested if not isinstance(s, Tuned)
        ]
    return [s.with_class_indices(target.classes) for s in requested]


def _name_of(y: Any) -> str:
    name = getattr(y, "name", None)
    return repr(str(name)) if name is not None else "y"


def _check_threshold(threshold: Any) -> float:
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, numbers.Real)
        or not 0.0 < float(threshold) < 1.0
    ):
        raise InvalidParameterError(
            f"`threshold` must be a float in (0, 1). Received: threshold={short_repr(threshold)}."
        )
    return float(threshold)


def _check_target(
    target: Target, requested: list[BaseStrategy], n_splits: int, threshold: float
) -> None:
    """Fail before any training on a target the options cannot serve."""
    if target.counts.min() < n_splits:
        small = {
            _plain(target.classes[i]): int(c)
            for i, c in enumerate(target.counts)
            if c < n_splits
        }
        raise DataError(
            f"Every class needs at least n_splits={n_splits} rows for stratified folds; "
            f"{len(small)} class(es) have fewer (label: rows): {short_repr(small, 200)}. "
            "Lower `n_splits` or add rows."
        )
    if target.positive is not None:
        return
    tuned = [s.name for s in requested if isinstance(s, Tuned)]
    if tuned:
        raise InvalidParameterError(
            f"Tuned thresholds are for binary targets; y has {target.n_classes} classes. "
            f"Received strategies {tuned}."
        )
    if threshold != 0.5:
        raise InvalidParameterError(
            f"`threshold` applies to binary targets only; y has {target.n_classes} classes, "
            f"whose label is the class of highest probability. Received: threshold={threshold!r}."
        )


def _check_names(requested: list[BaseStrategy], references: list[Baseline]) -> None:
    clash = sorted({s.name for s in requested} & {b.name for b in references})
    if clash:
        raise InvalidParameterError(
            f"{clash} name both a strategy and a baseline; leaderboard rows need distinct "
            "names. Rename the strategy, or leave the baseline out (baselines='none')."
        )


def prepare_features(X: Any, preprocess: Any) -> tuple[Any, Any]:
    """The features the trials draw from and the transformer fit on each training fold."""
    if preprocess == "auto" and not hasattr(X, "columns") and np.ndim(X) > 2:
        preprocess = None  # images and other N-D inputs: no tabular preprocessing
    if isinstance(preprocess, str) and preprocess == "auto":
        features, numeric, categorical = clean_features(X)
        return features, make_preprocessor(numeric, categorical)
    if preprocess is None:
        features = np.asarray(X, dtype=np.float32)
        if not np.isfinite(features).all():
            raise DataError(
                "`X` contains NaN or inf, and preprocess=None does not impute. Clean X, or "
                "pass preprocess='auto' (tabular) or your own transformer."
            )
        return features, None
    if hasattr(preprocess, "fit") and hasattr(preprocess, "transform"):
        return X, preprocess
    raise InvalidParameterError(
        "`preprocess` must be 'auto', None or a scikit-learn transformer. "
        f"Received: preprocess={short_repr(preprocess)}."
    )


def make_folds(
    codes: np.ndarray, n_splits: int, n_repeats: int, seed: int
) -> dict[tuple[int, int], tuple[np.ndarray, np.ndarray]]:
    """(repeat, fold) -> (train rows, test rows) of the repeated stratified K-fold split.

    Repeat 0 keeps the folds of a single-repeat run, so adding repeats never changes the
    first repeat's numbers.
    """
    folds = {}
    for repeat in range(n_repeats):
        state = seed if repeat == 0 else derive_seed(seed, "folds", repeat)
        splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=state)
        for fold, (tr, te) in enumerate(splitter.split(np.zeros(len(codes)), codes)):
            folds[(repeat, fold)] = (tr, te)
    return folds


def fold_seed(seed: int, kind: str, repeat: int, fold: int, *extra: Any) -> int:
    """Seeds of the initial weights ("init"), of each trial ("trial") and of the inner
    split ("inner"); repeat 0 keeps the seeds of a single-repeat run."""
    if repeat == 0:
        return derive_seed(seed, kind, fold, *extra)
    return derive_seed(seed, kind, fold, *extra, "repeat", repeat)


def inner_split(
    y: np.ndarray, seed: int, repeat: int, fold: int
) -> tuple[np.ndarray, np.ndarray]:
    """The stratified 75/25 split of a training fold on which thresholds are tuned."""
    splitter = StratifiedShuffleSplit(
        n_splits=1, test_size=0.25, random_state=fold_seed(seed, "inner", repeat, fold)
    )
    fit_part, val_part = next(splitter.split(np.zeros(len(y)), y))
    return np.sort(fit_part), np.sort(val_part)


def plan_trials(
    requested: list[BaseStrategy],
    folds: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]],
    codes: np.ndarray,
    seed: int,
) -> list[Trial]:
    """Every trial the requested strategies need, tagged ``(repeat, fold, key)``.

    In each fold, every leaf of every strategy trains once on the training rows and scores
    the test rows (key: the leaf's name). A tuned strategy's leaves also train on the
    inner 75% of the training rows and score the other 25% (key: ``LEAF+tuned``). All the
    trials of a fold start from the same initial weights.
    """
    full = _unique_leaves(requested)
    inner = _unique_leaves([s.base for s in requested if isinstance(s, Tuned)])
    trials = []
    for (repeat, fold), (train, test) in folds.items():
        init_seed = fold_seed(seed, "init", repeat, fold)
        common = {"init_seed": init_seed, "frame": (repeat, fold)}
        for leaf in full:
            tag = (repeat, fold, leaf.name)
            trials.append(
                Trial(
                    leaf, train, test, fold_seed(seed, "trial", *tag), **common, tag=tag
                )
            )
        if inner:
            fit_part, val_part = inner_split(codes[train], seed, repeat, fold)
            for leaf in inner:
                tag = (repeat, fold, leaf.name + TUNED_SUFFIX)
                trials.append(
                    Trial(
                        leaf,
                        train[fit_part],
                        train[val_part],
                        fold_seed(seed, "trial", *tag),
                        **common,
                        tag=tag,
                    )
                )
    return trials


def _unique_leaves(strategies: list[BaseStrategy]) -> list[Strategy]:
    leaves: dict[str, Strategy] = {}
    for strategy in strategies:
        for leaf in strategy.leaves():
            leaves.setdefault(leaf.name, leaf)
    return list(leaves.values())


def run_with_store(
    data: TrialData,
    recipe: Recipe,
    trials: list[Trial],
    runner: Runner,
    store: ResultsStore | None,
    store_key: dict[str, Any],
    progress: ProgressCallback | None,
) -> dict[Any, TrialResult]:
    """Every trial's result by tag: those in the results store read back, the others
    run (and appended to the store as each one finishes)."""

    def key_of(trial: Trial) -> str:
        repeat, fold, name = trial.tag
        payload = {
            **store_key,
            "strategy": trial.strategy.identity(),
            "trial": name,
            "repeat": repeat,
        }
        return config_hash({**payload, "fold": fold})

    finished = store.load() if store is not None else {}
    outputs: dict[Any, TrialResult] = {}
    todo = []
    for trial in trials:
        record = finished.get(key_of(trial)) if store is not None else None
        if record is None:
            todo.append(trial)
        else:
            outputs[trial.tag] = TrialResult(
                trial.tag,
                np.asarray(record["proba"]),
                None,
                record["fit_seconds"],
                engine="stored",
                best_epoch=record.get("best_epoch"),
            )
    done, total = len(outputs), len(trials)
    if progress is not None:
        progress(done, total, "resumed" if done else "starting")
    by_tag = {t.tag: t for t in todo}
    step_progress = None
    if progress is not None:
        base = done

        def step_progress(models: float, description: str) -> None:
            progress(min(base + models, total), total, description)

    for result in runner.run(data, recipe, todo, step_progress):
        outputs[result.tag] = result
        if store is not None:
            store.append(
                {
                    "key": key_of(by_tag[result.tag]),
                    "trial": result.tag[2],
                    "repeat": result.tag[0],
                    "fold": result.tag[1],
                    "proba": result.proba,
                    "fit_seconds": result.fit_seconds,
                    "best_epoch": result.best_epoch,
                }
            )
        done += 1
        if progress is not None:
            progress(done, total, f"fold {result.tag[1] + 1} · {result.tag[2]}")
    return outputs


def describe_engines(results: Any) -> str:
    """How the trials of a run trained, in words: ``"fused: 20 models, up to 20 per
    step"`` (``"fused (on jax): ..."`` on another backend), ``"loop: 20 models"``, or
    both with the reason some trained alone; with early stopping, which epochs the
    models kept (1-based: the median and the range)."""
    results = list(results)
    fused = [r for r in results if r.engine == "fused"]
    alone = [r for r in results if r.engine == "loop"]
    stored = [r for r in results if r.engine == "stored"]
    parts = []
    if fused:
        widest = max(r.group_size for r in fused)
        # The backend where it is not the default (from the results: the driver of an
        # n_jobs run never starts Keras).
        others = sorted({r.backend for r in fused} - {"", "tensorflow"})
        on = f" (on {', '.join(others)})" if others else ""
        parts.append(f"fused{on}: {len(fused)} models, up to {widest} per step")
    if alone:
        notes = sorted({r.engine_note for r in alone if r.engine_note})
        why = f" ({'; '.join(notes)})" if notes else ""
        parts.append(f"loop: {len(alone)} models{why}")
    if stored:
        parts.append(f"{len(stored)} read back from the results store")
    kept = [
        r.best_epoch + 1
        for r in results
        if r.best_epoch is not None and r.best_epoch >= 0
    ]
    line = " + ".join(parts)
    if kept:
        line += (
            f"; early stopping kept epoch {int(np.median(kept))} (median; "
            f"{min(kept)}-{max(kept)})"
        )
    return line


def score_trials(
    requested: list[BaseStrategy],
    folds: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]],
    outputs: dict[Any, TrialResult],
    target: Target,
    threshold: float,
    seed: int,
) -> tuple[
    list[dict[str, Any]], dict[str, np.ndarray], dict[str, np.ndarray], dict[str, str]
]:
    """Per-fold metrics of every requested strategy, its out-of-fold probabilities (first
    repeat) as trained and corrected to the data's prior, and how its probabilities were corrected to the data's prior (its worst
    :class:`~balanceflow.strategies.PriorState` status). A strategy's probabilities are
    its ``combine`` of its leaves'; a tuned strategy's threshold is tuned on its inner
    validation rows, never on the test rows. The ``*_corrected`` calibration metrics
    combine the leaves' probabilities each brought back from the prior it trained under
    to its training fold's."""
    records = []
    oof = {
        s.name: np.full((len(target.codes), target.n_classes), np.nan)
        for s in requested
    }
    oof_corrected = {name: values.copy() for name, values in oof.items()}
    corrections = dict.fromkeys((s.name for s in requested), "unchanged")
    for (repeat, fold), (train, test) in folds.items():
        counts = np.bincount(target.codes[train], minlength=target.n_classes)
        for strategy in requested:
            proba = _proba(outputs, repeat, fold, strategy, "")
            corrected, status = _corrected(outputs, repeat, fold, strategy, counts)
            corrections[strategy.name] = _worse(corrections[strategy.name], status)
            cut, seconds = threshold, _seconds(outputs, repeat, fold, strategy, "")
            if isinstance(strategy, Tuned):
                _, val_part = inner_split(target.codes[train], seed, repeat, fold)
                cut = _tune(
                    strategy.objective,
                    target.codes[train[val_part]] == target.positive,
                    _proba(outputs, repeat, fold, strategy.base, TUNED_SUFFIX)[
                        :, target.positive
                    ],
                )
                seconds += _seconds(outputs, repeat, fold, strategy, TUNED_SUFFIX)
            if repeat == 0:
                oof[strategy.name][test] = proba
                oof_corrected[strategy.name][test] = corrected
            records.append(
                _fold_record(
                    strategy.name,
                    (repeat, fold),
                    test,
                    (proba, corrected),
                    cut,
                    target,
                    seconds,
                )
            )
    return records, oof, oof_corrected, corrections


def _worse(a: str, b: str) -> str:
    return PRIOR_STATUSES[max(PRIOR_STATUSES.index(a), PRIOR_STATUSES.index(b))]


def correct_to(proba: np.ndarray, prior: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``proba`` of a model trained under ``prior``, brought back to the prior of rows
    with these class counts (Bayes' rule, :func:`balanceflow.thresholds.correct_prior`)."""
    from balanceflow.thresholds import correct_prior

    return correct_prior(proba, train_prior=prior, target_prior=counts / counts.sum())


def _corrected(
    outputs: dict, repeat: int, fold: int, strategy: BaseStrategy, counts: np.ndarray
) -> tuple[np.ndarray, str]:
    """A strategy's probabilities in one fold with every leaf's brought back from the
    prior it trained under to the training fold's, and the worst status among them."""
    probas, worst = {}, "unchanged"
    for leaf in strategy.leaves():
        proba = outputs[(repeat, fold, leaf.name)].proba
        prior, status = trained_prior(leaf, counts)
        if status in ("exact", "approximate"):
            proba = correct_to(proba, prior, counts)
        probas[leaf.name] = proba
        worst = _worse(worst, status)
    return strategy.combine(probas), worst


def trained_prior(leaf: Strategy, counts: np.ndarray) -> tuple[np.ndarray | None, str]:
    """The class prior that ``leaf``'s model answers to when trained on rows with these
    class counts, and its :data:`~balanceflow.strategies.PRIOR_STATUSES` status; the
    prior is None where none describes the model (``"unknown"``)."""
    try:
        state = leaf.prior_state(counts)
    except BalanceflowError:  # a sampling strategy no prior describes
        return None, "unknown"
    if state.status == "unknown":
        return None, "unknown"
    return state.prior, state.status


def _fold_record(
    name: str,
    block: tuple[int, int],
    test: np.ndarray,
    probas: tuple[np.ndarray, np.ndarray],
    cut: float,
    target: Target,
    seconds: float,
) -> dict[str, Any]:
    """One leaderboard record: a row's metrics on one (repeat, fold) test fold, from its
    probabilities as trained and as corrected to the data's prior."""
    proba, corrected = probas
    y_test = target.codes[test]
    row: dict[str, Any] = {"strategy": name, "repeat": block[0], "fold": block[1]}
    row.update(score_fold(y_test, proba, cut, target.positive))
    row.update(calibration(y_test, corrected, target.positive, "_corrected"))
    row["threshold"] = cut if target.positive is not None else None
    row["fit_seconds"] = seconds
    return row


def plan_baseline_jobs(
    folds: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]],
    target: Target,
    seed: int,
    *,
    tuned: bool,
) -> list[tuple[Any, Any, np.ndarray, np.ndarray, int]]:
    """The fits every baseline needs, as ``run_baselines`` jobs: in each fold, one on the
    training rows scoring the test rows (tag ``(repeat, fold, "")``) and, with ``tuned``
    (binary targets), one on the inner 75% scoring the other 25% (tag
    ``(repeat, fold, "+tuned")``): the rows and preprocessing (frame) that the Keras
    trials of that fold get."""
    jobs = []
    for (repeat, fold), (train, test) in folds.items():
        frame = (repeat, fold)
        jobs.append(
            (
                (repeat, fold, ""),
                frame,
                train,
                test,
                fold_seed(seed, "baseline", *frame),
            )
        )
        if tuned and target.positive is not None:
            fit_part, val_part = inner_split(target.codes[train], seed, repeat, fold)
            jobs.append(
                (
                    (repeat, fold, TUNED_SUFFIX),
                    frame,
                    train[fit_part],
                    train[val_part],
                    fold_seed(seed, "baseline", *frame, "inner"),
                )
            )
    return jobs


def score_baselines(
    references: list[Baseline],
    folds: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]],
    fits: dict[Any, BaselineFit],
    target: Target,
    threshold: float,
    seed: int,
    objective: str | None,
) -> tuple[list[dict[str, Any]], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per-fold records and out-of-fold probabilities of every baseline, and with an
    ``objective`` (binary targets) of its ``+tuned`` row: the threshold tuned for it on
    the inner validation rows, as for a tuned strategy. The out-of-fold probabilities come
    as trained and corrected to the data's prior."""
    records: list[dict[str, Any]] = []
    oof: dict[str, np.ndarray] = {}
    oof_corrected: dict[str, np.ndarray] = {}
    binary = objective is not None and target.positive is not None
    for baseline in references:
        names = [baseline.name] + ([baseline.name + TUNED_SUFFIX] if binary else [])
        for name in names:
            oof[name] = np.full((len(target.codes), target.n_classes), np.nan)
            oof_corrected[name] = oof[name].copy()
        for (repeat, fold), (train, test) in folds.items():
            full = fits[((repeat, fold, ""), baseline.name)]
            counts = np.bincount(target.codes[train], minlength=target.n_classes)
            corrected = full.proba
            if baseline.prior_status in ("exact", "approximate"):  # trained balanced
                uniform = np.full(target.n_classes, 1.0 / target.n_classes)
                corrected = correct_to(full.proba, uniform, counts)
            cuts = [(names[0], threshold, full.fit_seconds)]
            if binary:
                inner = fits[((repeat, fold, TUNED_SUFFIX), baseline.name)]
                _, val_part = inner_split(target.codes[train], seed, repeat, fold)
                truth = target.codes[train[val_part]] == target.positive
                cut = _tune(objective, truth, inner.proba[:, target.positive])
                cuts.append((names[1], cut, full.fit_seconds + inner.fit_seconds))
            for name, cut, seconds in cuts:
                if repeat == 0:
                    oof[name][test] = full.proba
                    oof_corrected[name][test] = corrected
                records.append(
                    _fold_record(
                        name,
                        (repeat, fold),
                        test,
                        (full.proba, corrected),
                        cut,
                        target,
                        seconds,
                    )
                )
    return records, oof, oof_corrected


def _proba(
    outputs: dict, repeat: int, fold: int, strategy: BaseStrategy, suffix: str
) -> np.ndarray:
    """A strategy's probabilities in one fold, combined from its leaves' trials (those
    keyed ``LEAF + suffix``)."""
    return strategy.combine(
        {
            leaf.name: outputs[(repeat, fold, leaf.name + suffix)].proba
            for leaf in strategy.leaves()
        }
    )


def _seconds(
    outputs: dict, repeat: int, fold: int, strategy: BaseStrategy, suffix: str
) -> float:
    return sum(
        float(outputs[(repeat, fold, leaf.name + suffix)].fit_seconds)
        for leaf in strategy.leaves()
    )


def score_fold(
    y_test: np.ndarray, proba: np.ndarray, threshold: float, positive: int | None
) -> dict[str, float]:
    """Every metric of one test fold, calibration included. Binary: ``threshold`` applies
    to the probability of the class with index ``positive``, whose PR-AUC and F1 are
    reported."""
    if positive is None:
        report = evaluate(y_test, proba)
    else:
        truth = (y_test == positive).astype(np.int64)
        report = evaluate(truth, proba[:, positive], threshold=threshold, pos_label=1)
    scores = {name: getattr(report, name) for name in METRIC_NAMES}
    return {**scores, **calibration(y_test, proba, positive)}


def calibration(
    y_test: np.ndarray, proba: np.ndarray, positive: int | None, suffix: str = ""
) -> dict[str, float]:
    """Brier score, log loss and ECE of one fold (binary: of P(positive))."""
    if positive is None:
        truth, score = y_test, proba
    else:
        truth, score = (y_test == positive).astype(np.int64), proba[:, positive]
    return {
        "brier" + suffix: brier_score(truth, score),
        "log_loss" + suffix: log_loss(truth, score),
        "ece" + suffix: expected_calibration_error(truth, score),
    }


def _tune(objective: str, truth: np.ndarray, scores: np.ndarray) -> float:
    """The threshold that maximises ``objective`` on these rows; 0.5 when they cannot
    decide (e.g. constant scores)."""
    from balanceflow.thresholds import TunedThreshold

    try:
        tuner = TunedThreshold(objective=objective).fit(truth.astype(int), scores)
    except BalanceflowError:
        return 0.5
    return float(tuner.best_threshold_)


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
