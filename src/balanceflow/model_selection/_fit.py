"""From a comparison to a shipped model: select, train, tune the threshold, save."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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
    encode_labels,
    short_repr,
    take_rows,
)
from balanceflow.exceptions import DataError, InvalidParameterError
from balanceflow.metrics import evaluate
from balanceflow.model_selection._compare import compare, score_fold
from balanceflow.model_selection._preprocessing import clean_features, make_preprocessor
from balanceflow.model_selection._schema import TabularSchema
from balanceflow.model_selection._trials import train_strategy
from balanceflow.strategies import Strategy, resolve_strategies

__all__ = ["FittedModel", "fit_best", "load_fitted"]

CARD_SUFFIX = ".card.json"


def card_path(model_path: str | os.PathLike[str]) -> Path:
    """The model card that goes with ``model.keras``: ``model.card.json``."""
    path = Path(model_path)
    return path.with_name(path.name.removesuffix(".keras") + CARD_SUFFIX)


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
        Binary only: a row is ``threshold_class`` when its probability is >= threshold.
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
        return self._labels(self.predict_proba(X, source))

    def _labels(self, proba: np.ndarray) -> np.ndarray:
        if self.threshold is None:
            codes = proba.argmax(axis=1)
        else:
            positive = self.threshold_class
            codes = np.where(
                proba[:, positive] >= self.threshold, positive, 1 - positive
            )
        return np.asarray(self.classes, dtype=object)[codes]

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``path`` (.keras) and its model card atomically; return the card's path."""
        path = Path(path)
        if path.suffix != ".keras":
            raise InvalidParameterError(
                f"The model file must end with '.keras'. Received: {str(path)!r}."
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        card = card_path(path)
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
            tmp_model = Path(tmp) / "model.keras"
            tmp_card = Path(tmp) / "card.json"
            self.model.save(tmp_model)
            tmp_card.write_text(json.dumps(self.card, indent=2, default=_json_default))
            os.replace(tmp_model, path)
            os.replace(tmp_card, card)
        return card


def load_fitted(path: str | os.PathLike[str]) -> FittedModel:
    """Load a model saved by ``balanceflow fit`` (the .keras file and its model card)."""
    import keras

    path = Path(path)
    card = card_path(path)
    if not path.exists():
        raise DataError(f"Model file not found: {str(path)!r}.")
    if not card.exists():
        raise DataError(
            f"The model card {str(card)!r} is missing; `balanceflow fit` writes it next to the "
            "model. It holds the preprocessing and the decision threshold."
        )
    data = json.loads(card.read_text())
    model = keras.models.load_model(path, safe_mode=True)
    decision = data["decision"]
    return FittedModel(
        model=model,
        schema=TabularSchema.from_dict(data["schema"]),
        classes=data["classes"],
        threshold=decision.get("threshold"),
        threshold_class=decision.get("threshold_class_index"),
        card=data,
    )


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
    strategy: str | Strategy = "best",
    candidates: str | Sequence[str | Strategy] = "default",
    metric: str = "pr_auc",
    objective: str = "g_mean",
    holdout: float | None = None,
    vote: int = 3,
    bag: int = 3,
    model_fn: Callable[..., Any] | None = None,
    n_splits: int = 5,
    n_repeats: int = 1,
    seed: int = 0,
    epochs: int = 30,
    batch_size: int = 64,
    progress: Any = None,
    n_jobs: int = 1,
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
       like the final model's. The bag costs B x (n_splits + 1) trainings per member
       (in ``n_jobs`` worker processes when > 1); ``bag=0``: one model trained on all
       the rows.
    3. Binary problems: the decision threshold is tuned for ``objective`` on rows the
       scoring models never trained on. By default (``holdout=None``) these are
       out-of-fold predictions: every row, each scored by models that did not see it (the
       bag's fold models; with ``bag=0`` the selection's fold model of the chosen
       strategy), so a rare class lends all its rows to the threshold and all of them to
       the final model. With ``holdout=0.2`` a stratified 20% is set aside first:
       selection and training use the rest, the threshold is tuned on the final model's
       predictions of the held-out rows, and the card reports metrics on them.

    Returns a :class:`FittedModel`; ``save(path)`` writes one ``.keras`` file and a JSON model
    card (strategy, cross-validated metrics with intervals, the threshold and the rows it
    was tuned on, class priors, data schema).
    """

    from balanceflow._models import default_model_fn, predict_proba
    from balanceflow.ensemble import combine_models

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
    if not isinstance(vote, int) or isinstance(vote, bool) or vote < 1:
        raise InvalidParameterError(
            "`vote` must be an int >= 1 (1: no vote of the best strategies). "
            f"Received: vote={short_repr(vote)}."
        )
    bag = check_int(bag, "bag", minimum=0)
    labels = check_targets(y)
    check_consistent_length(X, labels)
    codes, classes = encode_labels(labels)
    counts = np.bincount(codes)
    rows = np.arange(len(codes))
    if holdout is None:
        train_idx, hold_idx = rows, None
    else:
        if counts.min() * holdout < 2 or counts.min() * (1 - holdout) < n_splits:
            raise DataError(
                f"The smallest class has {counts.min()} rows: too few to keep a held-out "
                f"share of {holdout} (at least 2 rows) and {n_splits} folds on the rest. "
                "Use holdout=None to tune the threshold on out-of-fold predictions."
            )
        train_idx, hold_idx = train_test_split(
            rows,
            test_size=holdout,
            stratify=codes,
            random_state=derive_seed(seed, "holdout"),
        )
        train_idx, hold_idx = np.sort(train_idx), np.sort(hold_idx)
    X_train = take_rows(X, train_idx)
    y_train = take_rows(np.asarray(labels), train_idx)

    pool = resolve_strategies(candidates if strategy == "best" else [strategy])
    result = compare(
        X_train,
        y_train,
        strategies=pool,
        model_fn=model_fn,
        n_splits=n_splits,
        n_repeats=n_repeats,
        seed=seed,
        epochs=epochs,
        batch_size=batch_size,
        progress=progress,
        n_jobs=n_jobs,
    )
    chosen_name = result.best(metric)
    chosen = next(s for s in pool if s.name == chosen_name)
    oof = result.proba[chosen_name]  # out-of-fold probabilities (the first repeat)
    if strategy == "best" and n_repeats == 1:
        chosen, oof = _best_vote(result, pool, chosen, metric, vote)
        chosen_name = chosen.name
    known = {s.name: s for s in pool}
    members = (
        [known.get(m) or resolve_strategies([m])[0] for m in chosen.members]
        if chosen.is_ensemble
        else [chosen]
    )

    clean, numeric, categorical = clean_features(X_train)
    transformer = make_preprocessor(numeric, categorical).fit(clean)
    schema = TabularSchema.from_fitted(transformer, numeric, categorical)
    features = schema.transform(X_train, "the training part")
    ytr = codes[train_idx]
    build = model_fn if model_fn is not None else default_model_fn
    n_classes = len(classes)
    data = _BagData(features, ytr, build, n_classes, epochs, batch_size, seed)
    if bag == 0:
        models = [_train_one(data, member, None, None)[0] for member in members]
        bag_oof = None
    else:
        models, bag_oof = _train_bag(data, members, result.folds, bag, n_jobs, progress)
    if len(models) > 1:
        final = combine_models(
            models,
            features.shape[1:],
            chosen.combine if chosen.is_ensemble else "soft",
            np.full(len(models), 1 / len(models)),
            n_classes,
        )
    else:
        final = models[0]

    if hold_idx is None:
        # Out-of-fold probabilities: row i comes from fold models that did not train on it.
        if bag_oof is None:
            tune_codes, tune_proba = codes, oof
            tuned_on = "out-of-fold predictions of the cross-validation"
        else:
            tune_codes, tune_proba = codes, bag_oof
            tuned_on = (
                "out-of-fold predictions of the bag "
                f"({bag * len(members)} models per row)"
            )
    else:
        tune_codes = codes[hold_idx]
        tune_proba = predict_proba(
            final,
            schema.transform(take_rows(X, hold_idx), "the held-out part"),
            len(classes),
        )
        tuned_on = "held-out rows"
    threshold, threshold_class, tune_report = _tune_decision(
        tune_codes, tune_proba, counts, objective
    )

    board = result.to_dict(metric)
    card = {
        "format": "balanceflow-model-card/1",
        "strategy": chosen_name,
        "members": [m.name for m in members] if chosen.is_ensemble else [],
        "selection": {
            "metric": metric,
            "candidates": [s.name for s in pool],
            "votes_of_best": vote if strategy == "best" and n_repeats == 1 else 1,
            "cross_validation": board["leaderboard"],
            "statistics": board["statistics"],
            "rows": len(train_idx),
        },
        "threshold_tuning": {
            "on": tuned_on,
            "rows": len(tune_codes),
            "objective": objective,
            # On out-of-fold rows the threshold was tuned on these very predictions, so
            # the label metrics are optimistic; PR-AUC and ROC-AUC are not affected.
            "metrics": tune_report.to_dict(),
        },
        "final_model": {
            "bag": bag,
            "models": len(models),
            "trained_on": "all the rows"
            + (f" and each of the {n_splits} training folds" if bag else ""),
        },
        "classes": [c.item() if isinstance(c, np.generic) else c for c in classes],
        "class_priors": (counts / counts.sum()).tolist(),
        "decision": {
            "threshold": threshold,
            "threshold_class_index": threshold_class,
            "rule": "threshold on P(minority)" if threshold is not None else "argmax",
        },
        "schema": schema.to_dict(),
        "settings": {**result.settings, "holdout": holdout},
    }
    return FittedModel(
        final,
        schema,
        card["classes"],
        threshold,
        threshold_class,
        card,
        oof_proba=tune_proba if hold_idx is None else None,
    )


@dataclass
class _BagData:
    """What every model of the final bag trains on (sent to a worker with each job)."""

    features: np.ndarray
    codes: np.ndarray
    model_fn: Any
    n_classes: int
    epochs: int
    batch_size: int
    seed: int


def _train_one(
    data: _BagData,
    member: Strategy,
    rows: np.ndarray | None,
    test_rows: np.ndarray | None,
    tag: tuple = (),
    threads: int | None = None,
) -> tuple[Any, np.ndarray | None]:
    """Train ``member`` on ``rows`` (None: all) from the initial weights of ``tag``, as in
    the cross-validation (sampler, weights, loss, pipeline, callbacks); return the model
    and its probabilities of ``test_rows``. In a worker (``threads`` set) the model comes
    back as its weights."""
    from balanceflow._models import ModelState, call_model_fn, predict_proba
    from balanceflow.model_selection._trials import limit_threads

    limit_threads(threads)
    features = data.features if rows is None else data.features[rows]
    codes = data.codes if rows is None else data.codes[rows]
    state = ModelState(
        call_model_fn(
            data.model_fn,
            features.shape[1:],
            data.n_classes,
            seed=derive_seed(data.seed, "final-init", *tag),
        )
    )
    model = train_strategy(
        member,
        state,
        features,
        codes,
        seed=derive_seed(data.seed, "final", member.name, *tag),
        epochs=data.epochs,
        batch_size=data.batch_size,
        n_classes=data.n_classes,
    )
    proba = None
    if test_rows is not None:
        proba = predict_proba(model, data.features[test_rows], data.n_classes)
    return (model if threads is None else model.get_weights()), proba


def _train_bag(
    data: _BagData,
    members: list[Strategy],
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    bag: int,
    n_jobs: int,
    progress: Any,
) -> tuple[list[Any], np.ndarray]:
    """Train each member ``bag`` times on every training fold and on all the rows.

    Returns the models and the out-of-fold probabilities of the bag: row i gets the mean
    over the ``bag`` x members models of the fold that did not train on it. With
    ``n_jobs`` > 1 the models train in worker processes and are rebuilt here from their
    weights (the same initial-weights seed gives the same architecture).
    """
    from balanceflow._models import call_model_fn
    from balanceflow.model_selection._backends import map_in_workers

    sets = [(train, test, k) for k, (train, test) in enumerate(folds)]
    sets.append((None, None, "all"))
    jobs = [
        (member, train, test, (draw, k))
        for draw in range(bag)
        for train, test, k in sets
        for member in members
    ]
    if n_jobs == 1:
        outputs: Any = (_train_one(data, *job) for job in jobs)
    else:
        outputs = map_in_workers(_train_one, [(data, *job) for job in jobs], n_jobs)
    models: list[Any] = []
    oof = np.zeros((len(data.codes), data.n_classes))
    for (member, _, test_rows, tag), (model, proba) in zip(jobs, outputs):
        if n_jobs != 1:  # a worker sent the weights: rebuild the model around them
            weights = model
            model = call_model_fn(
                data.model_fn,
                data.features.shape[1:],
                data.n_classes,
                seed=derive_seed(data.seed, "final-init", *tag),
            )
            model.set_weights(weights)
        models.append(model)
        if progress is not None:
            progress(len(models), len(jobs), f"final bag · {member.name}")
        if test_rows is not None:
            oof[test_rows] += proba / (bag * len(members))
    return models, oof


def _best_vote(
    result: Any, pool: list[Strategy], chosen: Strategy, metric: str, vote: int
) -> tuple[Strategy, np.ndarray]:
    """The best of ``chosen`` and the soft votes of the 2..``vote`` best single strategies,
    by the mean ``metric`` over the cross-validation's folds, and its out-of-fold
    probabilities. A vote is scored from its members' out-of-fold probabilities, fold by
    fold, exactly as the leaderboard scores a strategy (one repeat)."""
    board = result.leaderboard(metric)
    by_name = {s.name: s for s in pool}
    singles = [
        n
        for n in board.index
        if n in by_name
        and not by_name[n].is_ensemble
        and by_name[n].tune_threshold is None
    ]
    counts = result.class_counts
    flip = len(counts) == 2 and counts[0] < counts[1]
    threshold = result.settings["threshold"]

    def mean_score(proba: np.ndarray) -> float:
        scores = [
            score_fold(result.y_true[test], proba[test], threshold, flip)[metric]
            for _, test in result.folds
        ]
        return float(np.mean(scores))

    best, best_proba = chosen, result.proba[chosen.name]
    best_score = mean_score(best_proba)
    for k in range(2, min(vote, len(singles)) + 1):
        members = tuple(singles[:k])
        proba = np.mean([result.proba[m] for m in members], axis=0)
        score = mean_score(proba)
        if score > best_score + 1e-12:
            name = "vote(" + "+".join(members) + ")"
            best = Strategy(
                name,
                members=members,
                combine="soft",
                description=f"soft vote of the {k} best strategies by {metric}",
            )
            best_score, best_proba = score, proba
    return best, best_proba


def _tune_decision(
    codes: np.ndarray, proba: np.ndarray, counts: np.ndarray, objective: str
) -> tuple[float | None, int | None, Any]:
    """Binary: the threshold on P(minority) that maximises ``objective`` on these rows, the
    minority's class index and the metrics there. Multi-class: argmax (no threshold)."""
    from balanceflow.thresholds import TunedThreshold

    if len(counts) != 2:
        return None, None, evaluate(codes, proba)
    positive = int(np.argmin(counts))  # the minority class
    truth = (codes == positive).astype(int)
    tuner = TunedThreshold(objective=objective).fit(truth, proba[:, positive])
    threshold = float(tuner.best_threshold_)
    return threshold, positive, evaluate(truth, proba[:, positive], threshold=threshold)
