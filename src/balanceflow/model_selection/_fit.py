"""From a comparison to a shipped model: select, train, tune the threshold, save."""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from balanceflow._validation import (
    check_consistent_length,
    check_int,
    check_targets,
    derive_seed,
    short_repr,
    take_rows,
)
from balanceflow.exceptions import DataError, InvalidParameterError
from balanceflow.metrics import evaluate
from balanceflow.model_selection._compare import Target, compare, score_fold
from balanceflow.model_selection._preprocessing import clean_features, make_preprocessor
from balanceflow.model_selection._schema import TabularSchema
from balanceflow.strategies import (
    TUNABLE_OBJECTIVES,
    BaseStrategy,
    Ensemble,
    Strategy,
    Tuned,
    resolve_strategies,
)
from balanceflow.training import (
    Recipe,
    Runner,
    Trial,
    TrialData,
    get_runner,
    rebuild_model,
    resolve_recipe,
)

__all__ = ["FittedModel", "check_model_path", "fit_best", "load_fitted"]

CARD_SUFFIX = ".card.json"
#: Where the model card lives inside the .keras archive (Keras ignores the entry).
CARD_ENTRY = "balanceflow-card.json"


def card_path(model_path: str | os.PathLike[str]) -> Path:
    """The model card that goes with ``model.keras``: ``model.card.json``."""
    path = Path(model_path)
    return path.with_name(path.name.removesuffix(".keras") + CARD_SUFFIX)


def check_model_path(path: str | os.PathLike[str]) -> Path:
    """Check, before any training, that a model can be written at ``path``."""
    path = Path(path)
    if path.suffix != ".keras":
        raise InvalidParameterError(
            f"The model file must end with '.keras'. Received: {str(path)!r}. "
            f"Use e.g. {str(path.with_suffix('.keras'))!r}."
        )
    if path.is_dir():
        raise InvalidParameterError(
            f"The model path {str(path)!r} is a directory. Give a file name ending "
            "with '.keras'."
        )
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise InvalidParameterError(
            f"Cannot write the model to {str(path)!r}: {str(folder)!r} is not a writable "
            "directory. Choose another --out."
        )
    return path


@dataclass
class FittedModel:
    """A trained strategy, its preprocessing and its decision rule, ready to predict.

    Attributes
    ----------
    model : keras.Model
        Takes the preprocessed features, outputs (n, n_classes) probabilities.
    schema : TabularSchema
        The input columns and their fitted preprocessing.
    classes : list
        Labels in class-index order.
    threshold : float or None
        Binary only: a row is the positive class (index ``threshold_class``, the card's
        ``pos_label``) when that class's probability is >= threshold.
    card : dict
        The model card (strategy, metrics with intervals, priors, schema, settings).
    oof_proba : ndarray or None
        (n, n_classes) out-of-fold probabilities of the training rows, those the threshold
        was tuned on (row i scored by models that never trained on it); ``None`` with a
        holdout and after :func:`load_fitted`.
    """

    model: Any
    schema: TabularSchema
    classes: list[Any]
    threshold: float | None
    threshold_class: int | None
    card: dict[str, Any] = field(repr=False)
    oof_proba: np.ndarray | None = field(default=None, repr=False)

    def predict_proba(self, X: pd.DataFrame, source: str = "the input") -> np.ndarray:
        from balanceflow._models import predict_proba

        features = self.schema.transform(X, source)
        return predict_proba(self.model, features, len(self.classes))

    def predict(self, X: pd.DataFrame, source: str = "the input") -> np.ndarray:
        """Labels: the tuned threshold for binary problems, the most probable class else."""
        return self.labels_from_proba(self.predict_proba(X, source))

    def labels_from_proba(self, proba: np.ndarray) -> np.ndarray:
        """The labels that this model's decision rule gives these probabilities."""
        if self.threshold is None:
            codes = proba.argmax(axis=1)
        else:
            positive = self.threshold_class
            codes = np.where(
                proba[:, positive] >= self.threshold, positive, 1 - positive
            )
        return np.asarray(self.classes, dtype=object)[codes]

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``path`` (.keras) with its model card inside, and a copy of the card
        beside it for people (``model.card.json``); return the copy's path.

        The model and the card balanceflow reads travel in one file, replaced by one
        rename: a reader sees the old model or the new one, never a model with another
        model's card, and an interrupted save leaves no temporary file beside it.
        """
        path = check_model_path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.card, indent=2, default=_json_default)
        with (
            tempfile.TemporaryDirectory() as scratch
        ):  # the system's, not path's folder
            staged = Path(scratch) / "model.keras"
            self.model.save(staged)
            with zipfile.ZipFile(staged, "a") as archive:
                archive.writestr(CARD_ENTRY, text)
            payload = staged.read_bytes()
        _replace_atomically(path, payload)
        copy = card_path(path)
        _replace_atomically(copy, text.encode("utf-8"), may_vanish=True)
        return copy


def _replace_atomically(
    path: Path, payload: bytes, *, may_vanish: bool = False
) -> None:
    """Put ``payload`` at ``path``.

    On Linux the bytes go to an unnamed file first (``O_TMPFILE``), so a process killed
    while writing leaves nothing behind. The file is then named: by a rename from a hidden
    name (a reader always finds the old file or the new one; only a kill in the moment
    between naming and renaming can leave the hidden name, which the next save removes),
    or, with ``may_vanish`` (a copy for people), by removing the old file and naming the
    new one in its place (no hidden name at all). Elsewhere a hidden file is written and
    renamed.
    """
    _remove_stale_temporaries(path)
    hidden = path.parent / f".{path.name}.{os.getpid()}.tmp"
    try:
        target = path if may_vanish else hidden
        if _write_unnamed(path.parent, target, payload, replace=may_vanish):
            if target == path:
                return
        else:
            with open(hidden, "wb") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(hidden, path)
    finally:
        if hidden.exists():
            hidden.unlink()


def _remove_stale_temporaries(path: Path) -> None:
    """Remove the hidden files of saves to ``path`` whose process is gone."""
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        pid = stale.name.removeprefix(f".{path.name}.").removesuffix(".tmp")
        try:
            os.kill(int(pid), 0)
        except (ValueError, ProcessLookupError):
            stale.unlink(missing_ok=True)
        except PermissionError:
            pass  # another user's live process


def _write_unnamed(
    folder: Path, target: Path, payload: bytes, *, replace: bool
) -> bool:
    """Write ``payload`` to an O_TMPFILE file in ``folder`` and name it ``target`` (first
    removing an existing ``target`` when ``replace``); False where the system cannot."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None:
        return False
    try:
        fd = os.open(folder, flag | os.O_WRONLY, 0o644)
    except OSError:
        return False
    folder_fd = os.open(folder, os.O_RDONLY)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
            if replace:
                target.unlink(missing_ok=True)
            try:  # linkat(AT_SYMLINK_FOLLOW) of the open file into the folder
                os.link(
                    f"/proc/self/fd/{handle.fileno()}",
                    target.name,
                    dst_dir_fd=folder_fd,
                    follow_symlinks=True,
                )
            except OSError:
                return False
        return True
    finally:
        os.close(folder_fd)


def load_fitted(path: str | os.PathLike[str]) -> FittedModel:
    """Load a model saved by ``balanceflow fit``: the .keras file and the card inside it.

    A damaged model or card is one clear error. The copy of the card beside the model is
    for people: if it differs from the card inside (edited, or from another model),
    balanceflow warns and uses the card inside.
    """
    import warnings

    import keras

    path = Path(path)
    if not path.is_file():
        raise DataError(f"Model file not found: {str(path)!r}.")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            text = (
                archive.read(CARD_ENTRY).decode("utf-8")
                if CARD_ENTRY in names
                else None
            )
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError) as err:
        raise DataError(
            f"{str(path)!r} is not a readable .keras model (damaged or truncated: "
            f"{err}). Write it again with `balanceflow fit`."
        ) from None
    beside = card_path(path)
    if text is None:  # written by balanceflow before the card moved inside the model
        if not beside.exists():
            raise DataError(
                f"The model card {str(beside)!r} is missing; `balanceflow fit` writes it "
                "next to the model. It holds the preprocessing and the decision threshold."
            )
        text = beside.read_text(encoding="utf-8", errors="replace")
    elif (
        beside.exists() and beside.read_text(encoding="utf-8", errors="replace") != text
    ):
        warnings.warn(
            f"{str(beside)!r} differs from the card inside {str(path)!r} (edited, or left "
            "by another model); using the card inside the model. To change the decision, "
            "run `balanceflow fit` again.",
            UserWarning,
            stacklevel=2,
        )
    data = check_card(text, str(path))
    try:
        model = keras.models.load_model(path, safe_mode=True)
    except (ValueError, OSError, TypeError, KeyError, zipfile.BadZipFile) as err:
        raise DataError(
            f"{str(path)!r} could not be loaded as a Keras model ({type(err).__name__}: "
            f"{str(err).splitlines()[0][:200] if str(err) else 'no detail'}). Write it "
            "again with `balanceflow fit`."
        ) from None
    decision = data["decision"]
    return FittedModel(
        model=model,
        schema=TabularSchema.from_dict(data["schema"]),
        classes=data["classes"],
        threshold=decision.get("threshold"),
        threshold_class=decision.get("threshold_class_index"),
        card=data,
    )


def check_card(text: str, source: str) -> dict[str, Any]:
    """The model card as a dict, checked against what ``fit`` writes (types, lengths,
    ranges), or a DataError that says what is wrong."""

    def fail(problem: str) -> None:
        raise DataError(
            f"The model card of {source!r} is damaged: {problem}. Write the model again "
            "with `balanceflow fit`."
        )

    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        fail(f"not valid JSON ({err.msg} at line {err.lineno})")
    if not isinstance(data, dict) or data.get("format") != "balanceflow-model-card/1":
        fail("it is not a balanceflow model card (format balanceflow-model-card/1)")
    classes = data.get("classes")
    if not isinstance(classes, list) or len(classes) < 2:
        fail(f"`classes` must list at least 2 labels, found {short_repr(classes)}")
    decision = data.get("decision")
    if not isinstance(decision, dict):
        fail("`decision` is missing")
    threshold = decision.get("threshold")
    index = decision.get("threshold_class_index")
    if len(classes) == 2:
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
            fail(
                f"the binary `threshold` must be a number, found {short_repr(threshold)}"
            )
        if not 0.0 <= threshold <= 1.0:
            fail(f"`threshold` must lie in [0, 1], found {threshold!r}")
        if index not in (0, 1) or isinstance(index, bool):
            fail(f"`threshold_class_index` must be 0 or 1, found {short_repr(index)}")
    elif threshold is not None or index is not None:
        fail(f"a {len(classes)}-class model decides by argmax, but a threshold is set")
    priors = data.get("class_priors")
    if (
        not isinstance(priors, list)
        or len(priors) != len(classes)
        or not all(isinstance(p, (int, float)) and 0 <= p <= 1 for p in priors)
    ):
        fail("`class_priors` must hold one share in [0, 1] per class")
    if not isinstance(data.get("schema"), dict):
        fail("`schema` is missing")
    try:
        TabularSchema.from_dict(data["schema"])
    except (TypeError, ValueError, KeyError) as err:
        fail(f"`schema` does not describe the input columns ({err})")
    return data


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def fit_best(
    X: pd.DataFrame,
    y: Any,
    *,
    strategy: str | BaseStrategy = "best",
    candidates: str | Sequence[str | BaseStrategy] = "default",
    metric: str = "pr_auc",
    objective: str = "g_mean",
    holdout: float | None = None,
    vote: int = 3,
    bag: int = 3,
    recipe: Recipe | None = None,
    model_fn: Callable[..., Any] | None = None,
    n_splits: int = 5,
    n_repeats: int = 1,
    seed: int | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    pos_label: Any = None,
    progress: Any = None,
    n_jobs: int = 1,
    scheduler: str | None = None,
) -> FittedModel:
    """Choose a strategy by cross-validation, train it and tune its decision threshold.

    1. :func:`compare` cross-validates the ``candidates`` and picks the one with the best
       mean ``metric`` (or evaluates the one named by ``strategy``). With ``vote=K``
       (default 3, one repeat), soft votes of the 2..K best single strategies are scored
       on the same folds from their out-of-fold predictions (no extra training) and win
       when their mean ``metric`` is higher: an ensemble of different remedies often ranks
       rare rows better than any one of them.
    2. The chosen strategy is trained for the final model (preprocessing fit on all the
       rows). With ``bag=B`` (default 3) the final model is a bag: the strategy trained B
       times, from different seeds, on all the rows and on each training fold of the
       cross-validation, every model's probabilities averaged (B x (n_splits + 1) models
       per member strategy, saved as one Keras model). Averaging models that start and
       see the data differently ranks rare rows more steadily than any one of them. The
       fold models also give every row an out-of-fold prediction *of a bag* (the mean of
       the B models that did not train on it), so the threshold is tuned on scores shaped
       like the final model's. ``bag=0``: one model trained on all the rows.
    3. Binary problems: the decision threshold on P(``pos_label``) is tuned for
       ``objective`` on rows the scoring models never trained on. By default
       (``holdout=None``) these are out-of-fold predictions: every row, each scored by
       models that did not see it (the bag's fold models; with ``bag=0`` the selection's
       fold model of the chosen strategy), so a rare class lends all its rows to the
       threshold and all of them to the final model. With ``holdout=0.2`` a stratified 20%
       is set aside first: selection and training use the rest, the threshold is tuned on
       the final model's predictions of the held-out rows, and the card reports metrics
       on them.

    Every model (the selection's and the bag's) is a trial of the same runner as
    :func:`compare`'s: ``n_jobs`` worker processes or a Dask ``scheduler`` give the serial
    result. ``recipe`` (or ``model_fn``, ``epochs``, ``batch_size``, ``seed``) and
    ``pos_label`` mean what they mean for :func:`compare`.

    Returns a :class:`FittedModel`; ``save(path)`` writes one ``.keras`` file and a JSON model
    card (strategy, cross-validated metrics with intervals, the threshold and the rows it
    was tuned on, class priors, data schema).
    """
    vote, bag = _check_fit_options(X, holdout, vote, bag, metric, objective)
    recipe = resolve_recipe(
        recipe, model_fn=model_fn, epochs=epochs, batch_size=batch_size, seed=seed
    )
    runner = get_runner(n_jobs, scheduler)
    check_consistent_length(X, y)
    target = Target.from_labels(y, pos_label)
    pool = resolve_strategies(candidates if strategy == "best" else [strategy])
    train_idx, hold_idx = _split_holdout(target, holdout, n_splits, recipe.seed)
    labels = check_targets(y)

    result = compare(
        take_rows(X, train_idx),
        take_rows(np.asarray(labels), train_idx),
        strategies=pool,
        recipe=recipe,
        n_splits=n_splits,
        n_repeats=n_repeats,
        pos_label=target.pos_label,
        progress=progress,
        n_jobs=n_jobs,
        scheduler=scheduler,
    )
    voting = strategy == "best" and n_repeats == 1
    chosen, oof = _select(result, pool, metric, vote if voting else 1)
    members = chosen.leaves()

    X_train = take_rows(X, train_idx)
    clean, numeric, categorical = clean_features(X_train)
    transformer = make_preprocessor(numeric, categorical).fit(clean)
    schema = TabularSchema.from_fitted(transformer, numeric, categorical)
    features = schema.transform(X_train, "the training part")
    data = TrialData(features, target.codes[train_idx], target.n_classes)
    models, bag_oof = train_final(
        data, members, result.folds, bag, recipe, runner, progress
    )
    final = _combine_final(models, features.shape[1:], chosen, target.n_classes)

    if hold_idx is not None:
        tune_codes = target.codes[hold_idx]
        tune_proba = predict_proba_of(
            final, schema.transform(take_rows(X, hold_idx), "the held-out part"), target
        )
        tuned_on = "held-out rows"
    elif bag_oof is None:
        # Out-of-fold probabilities: row i comes from fold models that did not train on it.
        tune_codes, tune_proba = target.codes, oof
        tuned_on = "out-of-fold predictions of the cross-validation"
    else:
        tune_codes, tune_proba = target.codes, bag_oof
        per_row = bag * len(members)
        tuned_on = (
            "out-of-fold predictions of the bag "
            f"({per_row} model{'s' if per_row != 1 else ''} per row)"
        )
    threshold, tune_report = _tune_decision(tune_codes, tune_proba, target, objective)

    card = _model_card(
        result,
        metric,
        chosen,
        pool,
        vote if voting else 1,
        {"on": tuned_on, "rows": len(tune_codes), "objective": objective},
        tune_report,
        {"bag": bag, "models": len(models), "n_splits": n_splits},
        target,
        threshold,
        schema,
        holdout,
    )
    return FittedModel(
        final,
        schema,
        card["classes"],
        threshold,
        target.positive,
        card,
        oof_proba=tune_proba if hold_idx is None else None,
    )


def _check_fit_options(
    X: Any, holdout: Any, vote: Any, bag: Any, metric: Any, objective: Any
) -> tuple[int, int]:
    """Fail before any training on options ``fit_best`` cannot honour."""
    from balanceflow.metrics import METRIC_NAMES

    if not isinstance(X, pd.DataFrame):
        raise InvalidParameterError(
            f"`X` must be a pandas DataFrame (a table). Received: {type(X).__name__}."
        )
    if holdout is not None and (
        not isinstance(holdout, float) or not 0.05 <= holdout <= 0.5
    ):
        raise InvalidParameterError(
            "`holdout` must be None (tune on out-of-fold predictions) or a float in "
            f"[0.05, 0.5]. Received: holdout={short_repr(holdout)}."
        )
    vote = check_int(vote, "vote")
    bag = check_int(bag, "bag", minimum=0)
    if metric not in METRIC_NAMES:
        raise InvalidParameterError(
            f"Unknown `metric`. Received: metric={short_repr(metric)}. Use one of "
            f"{list(METRIC_NAMES)}."
        )
    if objective not in TUNABLE_OBJECTIVES:
        raise InvalidParameterError(
            f"Unknown threshold `objective`. Received: objective={short_repr(objective)}. "
            f"Use one of {list(TUNABLE_OBJECTIVES)}."
        )
    return vote, bag


def _model_card(
    result: Any,
    metric: str,
    chosen: BaseStrategy,
    pool: list[BaseStrategy],
    votes: int,
    tuning: dict[str, Any],
    tune_report: Any,
    final: dict[str, Any],
    target: Target,
    threshold: float | None,
    schema: TabularSchema,
    holdout: float | None,
) -> dict[str, Any]:
    """The model card: what was chosen, how well it did, and how it decides."""
    board = result.to_dict(metric)
    members = chosen.leaves()
    return {
        "format": "balanceflow-model-card/1",
        "strategy": chosen.name,
        "members": [m.name for m in members] if isinstance(chosen, Ensemble) else [],
        "selection": {
            "metric": metric,
            "candidates": [s.name for s in pool],
            "votes_of_best": votes,
            "cross_validation": board["leaderboard"],
            "statistics": board["statistics"],
            "rows": len(result.y_true),
        },
        "threshold_tuning": {
            **tuning,
            # On out-of-fold rows the threshold was tuned on these very predictions, so
            # the label metrics are optimistic; PR-AUC and ROC-AUC are not affected.
            "metrics": tune_report.to_dict(),
        },
        "final_model": {
            "bag": final["bag"],
            "models": final["models"],
            "trained_on": "all the rows"
            + (
                f" and each of the {final['n_splits']} training folds"
                if final["bag"]
                else ""
            ),
        },
        "classes": [
            c.item() if isinstance(c, np.generic) else c for c in target.classes
        ],
        "class_priors": (target.counts / target.counts.sum()).tolist(),
        "decision": {
            "threshold": threshold,
            "threshold_class_index": target.positive,
            "pos_label": target.pos_label,
            "rule": "threshold on P(pos_label)" if threshold is not None else "argmax",
        },
        "schema": schema.to_dict(),
        "settings": {**result.settings, "holdout": holdout},
    }


def _split_holdout(
    target: Target, holdout: float | None, n_splits: int, seed: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """(rows for selection and training, held-out rows or None)."""
    rows = np.arange(len(target.codes))
    if holdout is None:
        return rows, None
    smallest = target.counts.min()
    if smallest * holdout < 2 or smallest * (1 - holdout) < n_splits:
        raise DataError(
            f"The smallest class has {smallest} rows: too few to keep a held-out "
            f"share of {holdout} (at least 2 rows) and {n_splits} folds on the rest. "
            "Use holdout=None to tune the threshold on out-of-fold predictions."
        )
    train_idx, hold_idx = train_test_split(
        rows,
        test_size=holdout,
        stratify=target.codes,
        random_state=derive_seed(seed, "holdout"),
    )
    return np.sort(train_idx), np.sort(hold_idx)


def _select(
    result: Any, pool: list[BaseStrategy], metric: str, vote: int
) -> tuple[BaseStrategy, np.ndarray]:
    """The best of the compared strategies and of the soft votes of the 2..``vote`` best
    single strategies, by the mean ``metric`` over the cross-validation's folds, and its
    out-of-fold probabilities. A vote is scored from its members' out-of-fold
    probabilities, fold by fold, exactly as the leaderboard scores a strategy (one
    repeat), so it costs no training."""
    by_name = {s.name: s for s in pool}
    best = by_name[result.best(metric)]
    best_proba = result.proba[best.name]
    if vote < 2:
        return best, best_proba
    board = result.leaderboard(metric)
    singles = [n for n in board.index if isinstance(by_name.get(n), Strategy)]
    threshold = result.settings["threshold"]

    def mean_score(proba: np.ndarray) -> float:
        scores = [
            score_fold(result.y_true[test], proba[test], threshold, result.positive)[
                metric
            ]
            for _, test in result.folds
        ]
        return float(np.mean(scores))

    best_score = mean_score(best_proba)
    for k in range(2, min(vote, len(singles)) + 1):
        members = [by_name[n] for n in singles[:k]]
        proba = np.mean([result.proba[m.name] for m in members], axis=0)
        score = mean_score(proba)
        if score > best_score + 1e-12:
            best = Ensemble(
                "vote(" + "+".join(m.name for m in members) + ")",
                members,
                "soft",
                description=f"soft vote of the {k} best strategies by {metric}",
            )
            best_score, best_proba = score, proba
    return best, best_proba


def train_final(
    data: TrialData,
    members: list[Strategy],
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    bag: int,
    recipe: Recipe,
    runner: Runner,
    progress: Any,
) -> tuple[list[Any], np.ndarray | None]:
    """The models of the final model, and the bag's out-of-fold probabilities.

    ``bag=0``: each member once, on every row (no out-of-fold probabilities). Otherwise
    each member ``bag`` times on every training fold and on all the rows; row i's
    out-of-fold probability is the mean over the ``bag`` x members models of the fold
    that did not train on it. Every model is a trial of ``runner``.
    """
    seed = recipe.seed
    if bag == 0:
        trials = [
            Trial(
                member,
                None,
                None,
                derive_seed(seed, "final", member.name),
                derive_seed(seed, "final-init"),
                keep_model=True,
            )
            for member in members
        ]
    else:
        sets = [(train, test, k) for k, (train, test) in enumerate(folds)]
        sets.append((None, None, "all"))
        trials = [
            Trial(
                member,
                train,
                test,
                derive_seed(seed, "final", member.name, draw, k),
                derive_seed(seed, "final-init", draw, k),
                keep_model=True,
            )
            for draw in range(bag)
            for train, test, k in sets
            for member in members
        ]
    trials = [replace(t, tag=i) for i, t in enumerate(trials)]
    results: dict[int, Any] = {}
    for result in runner.run(data, recipe, trials):
        results[result.tag] = result
        if progress is not None:
            name = trials[result.tag].strategy.name
            progress(len(results), len(trials), f"final bag · {name}")
    shape = data.features.shape[1:]
    models = [
        rebuild_model(recipe, shape, data.n_classes, t, results[t.tag].weights)
        for t in trials
    ]
    if bag == 0:
        return models, None
    oof = np.zeros((len(data.codes), data.n_classes))
    for trial in trials:  # in trial order, so the sums do not depend on the runner
        if trial.score_rows is not None:
            oof[trial.score_rows] += results[trial.tag].proba / (bag * len(members))
    # A sum of B x M shares of 1 can exceed 1 by round-off (9 x 1/9 = 1.0000000000000002).
    return models, np.clip(oof, 0.0, 1.0)


def _combine_final(
    models: list[Any],
    input_shape: tuple[int, ...],
    chosen: BaseStrategy,
    n_classes: int,
) -> Any:
    """One Keras model: the only model, or every model joined by the chosen vote."""
    from balanceflow.ensemble import combine_models

    if len(models) == 1:
        return models[0]
    base = chosen.base if isinstance(chosen, Tuned) else chosen
    method = base.combine_method if isinstance(base, Ensemble) else "soft"
    return combine_models(
        models, input_shape, method, np.full(len(models), 1 / len(models)), n_classes
    )


def predict_proba_of(model: Any, features: np.ndarray, target: Target) -> np.ndarray:
    from balanceflow._models import predict_proba

    return predict_proba(model, features, target.n_classes)


def _tune_decision(
    codes: np.ndarray, proba: np.ndarray, target: Target, objective: str
) -> tuple[float | None, Any]:
    """Binary: the threshold on P(positive) that maximises ``objective`` on these rows and
    the metrics there. Multi-class: argmax (no threshold)."""
    from balanceflow.thresholds import TunedThreshold

    if target.positive is None:
        return None, evaluate(codes, proba)
    truth = (codes == target.positive).astype(int)
    scores = proba[:, target.positive]
    tuner = TunedThreshold(objective=objective).fit(truth, scores)
    threshold = float(tuner.best_threshold_)
    return threshold, evaluate(truth, scores, threshold=threshold, pos_label=1)
