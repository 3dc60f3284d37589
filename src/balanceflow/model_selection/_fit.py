"""From a comparison to a shipped model: select, train the final bag, tune the threshold."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from balanceflow._validation import (
    check_consistent_length,
    check_int,
    derive_seed,
    short_repr,
    take_rows,
)
from balanceflow.exceptions import DataError, InvalidParameterError
from balanceflow.metrics import evaluate
from balanceflow.model_selection._artefacts import FittedModel
from balanceflow.model_selection._calibrated import (
    ShippedPrior,
    check_deployment_prior,
)
from balanceflow.model_selection._compare import (
    Target,
    calibration,
    compare,
    score_fold,
    trained_prior,
)
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

__all__ = ["fit_best", "train_final"]


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
    engine: str = "auto",
    baselines: Any = "auto",
    calibrate: bool = True,
    deployment_prior: Any = None,
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
    4. With ``calibrate=True`` (default) every model of the final model is brought, by
       Bayes' rule baked in as a layer, from the class prior it trained under (resampled
       counts, class weights, a balanced loss: see
       :meth:`~balanceflow.strategies.Strategy.prior_state`) to the training data's class
       prior, or to ``deployment_prior`` where given (a float: binary targets, the share
       of ``pos_label``; a ``{class: share}`` mapping; or one share per class in sorted
       order). The shipped probabilities answer to that prior, and the threshold is tuned
       on them (on out-of-fold predictions corrected the same way). Multi-class models
       then decide by the largest ``P(k) / prior_k``, the Bayes decision for balanced
       accuracy, which does not depend on the prior the probabilities answer to. Where no
       prior describes a model (LDAM's margins, a sampler of your own) it stays as
       trained, and ``card["calibration"]`` says so; a hard vote is not corrected.

    Every model (the selection's and the bag's) is a trial of the same runner as
    :func:`compare`'s: ``n_jobs`` worker processes or a Dask ``scheduler`` give the serial
    result, and ``engine`` (``"auto"``, ``"fused"``, ``"loop"``) trains them stacked or
    one at a time with the same batches. ``recipe`` (or ``model_fn``, ``epochs``,
    ``batch_size``, ``seed``), ``pos_label`` and ``baselines`` mean what they mean for
    :func:`compare`: the baselines are cross-validated beside the candidates, never
    shipped, and the card records how the chosen strategy's best candidate compares with
    the best of them (``card["selection"]["baselines"]``).

    Returns a :class:`FittedModel`; ``save(path)`` writes one ``.keras`` file and a JSON model
    card (strategy, cross-validated metrics with intervals, the threshold and the rows it
    was tuned on, class priors, data schema).
    """
    from balanceflow._models import predict_proba

    vote, bag = _check_fit_options(X, holdout, vote, bag, metric, objective)
    recipe = resolve_recipe(
        recipe, model_fn=model_fn, epochs=epochs, batch_size=batch_size, seed=seed
    )
    runner = get_runner(n_jobs, scheduler, engine)
    check_consistent_length(X, y)
    target = Target.from_labels(y, pos_label)
    deployment = check_deployment_prior(
        deployment_prior, target.classes, target.positive
    )
    if not isinstance(calibrate, bool):
        raise InvalidParameterError(
            f"`calibrate` must be True or False. Received: calibrate={short_repr(calibrate)}."
        )
    pool = resolve_strategies(candidates if strategy == "best" else [strategy])
    train_idx, hold_idx = _split_holdout(target, holdout, n_splits, recipe.seed)
    recipe = recipe.for_rows(target.codes[train_idx])  # "auto" settings
    labels = target.classes[target.codes]  # y as checked by Target

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
        engine=engine,
        baselines=baselines,
    )
    voting = strategy == "best" and n_repeats == 1
    chosen = _select(result, pool, metric, vote if voting else 1)
    # Trained on class indices, as compare trains them ({label: count} keys re-keyed).
    members = [m.with_class_indices(target.classes) for m in chosen.leaves()]

    schema, features = _fit_schema(take_rows(X, train_idx))
    data = TrialData(features, target.codes[train_idx], target.n_classes)
    counts = np.bincount(data.codes, minlength=target.n_classes)
    shipped = ShippedPrior.plan(chosen, counts / counts.sum(), deployment, calibrate)
    models, bag_oof = train_final(
        data, members, result.folds, bag, recipe, runner, progress, shipped
    )
    final = _combine_final(models, features.shape[1:], chosen, target.n_classes)

    if hold_idx is not None:
        tune_codes = target.codes[hold_idx]
        tune_proba = predict_proba(
            final,
            schema.transform(take_rows(X, hold_idx), "the held-out part"),
            target.n_classes,
        )
        tuned_on = "held-out rows"
    else:
        # Out-of-fold probabilities: row i comes from models that did not train on it.
        tune_codes = target.codes
        tune_proba, tuned_on = _out_of_fold(
            result, chosen, shipped, bag_oof, bag * len(members)
        )
    scale = None
    if target.positive is None and shipped.calibrated:
        scale = 1.0 / shipped.target  # argmax of P(k) / prior_k
    threshold, tune_report = _tune_decision(
        tune_codes, tune_proba, target, objective, scale
    )

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
    card["decision"]["class_scale"] = None if scale is None else scale.tolist()
    if scale is not None:
        card["decision"]["rule"] = "argmax of P(k) / prior_k"
    card["calibration"] = {
        **shipped.to_dict(),
        "probabilities": "the model's outputs, those the threshold applies to",
        # Rows of the training prior say nothing of calibration to another prior.
        "tuning_rows": calibration(tune_codes, tune_proba, target.positive, "")
        if deployment is None
        else None,
    }
    # The label column's name (a named Series), so that predict can set it aside.
    name = getattr(y, "name", None)
    card["target"] = None if name is None else str(name)
    return FittedModel(
        final,
        schema,
        card["classes"],
        threshold,
        target.positive,
        card,
        oof_proba=tune_proba if hold_idx is None else None,
        class_scale=scale,
    )


def _fit_schema(frame: pd.DataFrame) -> tuple[TabularSchema, np.ndarray]:
    """The default preprocessing fit on ``frame`` (as a schema) and ``frame`` through it."""
    clean, numeric, categorical = clean_features(frame)
    transformer = make_preprocessor(numeric, categorical).fit(clean)
    schema = TabularSchema.from_fitted(transformer, numeric, categorical)
    return schema, schema.transform(frame, "the training part")


def _out_of_fold(
    result: Any,
    chosen: BaseStrategy,
    shipped: ShippedPrior,
    bag_oof: np.ndarray | None,
    per_row: int,
) -> tuple[np.ndarray, str]:
    """The out-of-fold probabilities the threshold is tuned on, and what they are: the
    bag's (``per_row`` models score each row) or, without a bag, the selection's."""
    if bag_oof is None:
        return (
            _selection_oof(result, chosen, shipped),
            "out-of-fold predictions of the cross-validation",
        )
    return bag_oof, (
        "out-of-fold predictions of the bag "
        f"({per_row} model{'s' if per_row != 1 else ''} per row)"
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
            "baselines": board["baseline_comparison"],
            "rows": len(result.y_true),
        },
        "threshold_tuning": {
            **tuning,
            # On out-of-fold rows the threshold was tuned on these very predictions, so
            # the label metrics are optimistic; PR-AUC and ROC-AUC are not affected.
            "metrics": tune_report,
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
        "data_checks": board["data_checks"],
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
) -> BaseStrategy:
    """The best of the compared strategies and of the soft votes of the 2..``vote`` best
    single strategies, by the mean ``metric`` over the cross-validation's folds. A vote
    is scored from its members' out-of-fold probabilities, fold by fold, exactly as the
    leaderboard scores a strategy (one repeat), so it costs no training."""
    by_name = {s.name: s for s in pool}
    best = by_name[result.best(metric)]
    best_proba = result.proba[best.name]
    if vote < 2:
        return best
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
            best_score = score
    return best


def train_final(
    data: TrialData,
    members: list[Strategy],
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    bag: int,
    recipe: Recipe,
    runner: Runner,
    progress: Any,
    shipped: ShippedPrior | None = None,
) -> tuple[list[Any], np.ndarray | None]:
    """The models of the final model, and the bag's out-of-fold probabilities.

    ``bag=0``: each member once, on every row (no out-of-fold probabilities). Otherwise
    each member ``bag`` times on every training fold and on all the rows; row i's
    out-of-fold probability is the mean over the ``bag`` x members models of the fold
    that did not train on it. Every model is a trial of ``runner``. With a ``shipped``
    target prior, every model (and its out-of-fold probabilities) is brought from the
    prior it trained under to that one; ``shipped`` records how exactly.
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
    step_progress = None
    if progress is not None:

        def step_progress(models: float, description: str) -> None:
            progress(
                min(models, len(trials)), len(trials), f"final bag · {description}"
            )

    for result in runner.run(data, recipe, trials, step_progress):
        results[result.tag] = result
        if progress is not None:
            name = trials[result.tag].strategy.name
            progress(len(results), len(trials), f"final bag · {name}")
    shape = data.features.shape[1:]
    models, probas = [], []
    for trial in trials:
        model = rebuild_model(
            recipe, shape, data.n_classes, trial, results[trial.tag].weights
        )
        proba = results[trial.tag].proba
        if shipped is not None and shipped.target is not None:
            model, proba = _bring_to_prior(model, proba, trial, data, shipped)
        models.append(model)
        probas.append(proba)
    if bag == 0:
        return models, None
    oof = np.zeros((len(data.codes), data.n_classes))
    for trial, proba in zip(trials, probas):  # in trial order: no runner-dependent sums
        if trial.score_rows is not None:
            oof[trial.score_rows] += proba / (bag * len(members))
    # A sum of B x M shares of 1 can exceed 1 by round-off (9 x 1/9 = 1.0000000000000002).
    return models, np.clip(oof, 0.0, 1.0)


def _selection_oof(
    result: Any, chosen: BaseStrategy, shipped: ShippedPrior
) -> np.ndarray:
    """The chosen strategy's out-of-fold probabilities of the selection, brought to the
    shipped prior: each strategy's (a vote's members') probabilities as compare corrected
    them to its training fold's prior, then fold by fold on to ``shipped.target``."""
    from balanceflow.thresholds import correct_prior

    if chosen.name in result.proba:
        names = [chosen.name]
    else:  # a vote of compared strategies (see _select)
        names = [m.name for m in chosen.members]
    if shipped.target is None:
        return np.mean([result.proba[n] for n in names], axis=0)
    probas = []
    for name in names:
        status = result.settings["prior_correction"][name]
        if status == "unknown":  # left as trained, as in the final model
            probas.append(result.proba[name])
            continue
        proba = result.proba_corrected[name].copy()
        for train, test in result.folds:
            counts = np.bincount(result.y_true[train], minlength=proba.shape[1])
            proba[test] = correct_prior(
                proba[test],
                train_prior=counts / counts.sum(),
                target_prior=shipped.target,
            )
        probas.append(proba)
    return np.mean(probas, axis=0)


def _bring_to_prior(
    model: Any, proba: Any, trial: Trial, data: TrialData, shipped: ShippedPrior
) -> tuple[Any, Any]:
    """``model`` with a prior-correction layer from the prior it trained under (on its
    training rows' counts) to ``shipped.target``, and its scored rows' probabilities
    corrected alike; unchanged where no prior describes the model."""
    from balanceflow.layers import with_prior_correction
    from balanceflow.thresholds import correct_prior, prior_shift

    codes = data.codes if trial.train_rows is None else data.codes[trial.train_rows]
    counts = np.bincount(codes, minlength=data.n_classes)
    prior, status = trained_prior(trial.strategy, counts)
    shipped.record(trial.strategy.name, status)
    if prior is None or np.allclose(
        prior_shift(prior, shipped.target), 0.0, atol=1e-12
    ):
        return model, proba
    model = with_prior_correction(
        model, train_prior=prior, target_prior=shipped.target, name=model.name
    )
    if proba is not None:
        proba = correct_prior(proba, train_prior=prior, target_prior=shipped.target)
    return model, proba


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


def _tune_decision(
    codes: np.ndarray,
    proba: np.ndarray,
    target: Target,
    objective: str,
    scale: np.ndarray | None = None,
) -> tuple[float | None, Any]:
    """Binary: the threshold on P(positive) that maximises ``objective`` on these rows and
    the metrics there. Multi-class: no threshold; the label metrics of the argmax of
    ``proba * scale`` (plain argmax without ``scale``), the ranking metrics of ``proba``."""
    from balanceflow.thresholds import TunedThreshold

    if target.positive is None:
        report = evaluate(codes, proba).to_dict()
        if scale is not None:
            scaled = proba * scale
            scaled /= scaled.sum(axis=1, keepdims=True)
            ranking = {m: report[m] for m in ("pr_auc", "roc_auc")}
            report = {**evaluate(codes, scaled).to_dict(), **ranking}
        return None, report
    truth = (codes == target.positive).astype(int)
    scores = proba[:, target.positive]
    tuner = TunedThreshold(objective=objective).fit(truth, scores)
    threshold = float(tuner.best_threshold_)
    report = evaluate(truth, scores, threshold=threshold, pos_label=1)
    return threshold, report.to_dict()
