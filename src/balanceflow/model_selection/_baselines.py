"""Reference rows of ``compare``: the models a user would try instead of a Keras remedy.

On tabular data most practitioners first try gradient-boosted trees with balanced class
weights, and benchmarks of imbalance methods find under-sampling ensembles (balanced random
forests, EasyEnsemble) the most robust family. ``compare`` trains these *baselines* in every
fold on exactly the training rows the Keras strategies get, through the same preprocessing
fit on those rows, scores the same test rows, and puts them on the leaderboard as reference
rows, so that a user sees whether a Keras remedy is worth it on their data.

A baseline is a scikit-learn classifier (anything with ``fit`` and ``predict_proba``),
cloned and seeded per fold. When ``compare`` tunes thresholds (``tune_threshold``), each
baseline also gets a ``NAME+tuned`` row, tuned on the same inner split of the training rows
as a tuned strategy: a baseline's threshold is tuned exactly when the Keras strategies'
are, so that the label metrics compare like with like.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import clone

from balanceflow._validation import did_you_mean, short_repr
from balanceflow.exceptions import InvalidParameterError

__all__ = [
    "BASELINES",
    "DEFAULT_BASELINES",
    "Baseline",
    "BaselineFit",
    "resolve_baselines",
    "run_baselines",
]


@dataclass(frozen=True)
class Baseline:
    """A reference model: a name, an unfitted classifier and one line for people.

    ``estimator`` is cloned for every fit, and its ``random_state`` (when it has one) set
    from the fold's seed. ``prior_status`` says whether it trains as if the classes were
    balanced (``"exact"`` or ``"approximate"``, as :class:`~balanceflow.strategies.PriorState`
    means them: its probabilities are then corrected back to the data's prior for the
    ``*_corrected`` calibration metrics) or not (``"unknown"``: left as they are).
    """

    name: str
    estimator: Any
    description: str
    prior_status: str = "unknown"

    def make(self, seed: int) -> Any:
        model = clone(self.estimator)
        if "random_state" in model.get_params():
            model.set_params(random_state=int(seed))
        return model


def _hgb() -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(class_weight="balanced")


def _balanced_rf() -> Any:
    from imblearn.ensemble import BalancedRandomForestClassifier

    return BalancedRandomForestClassifier()


def _easy_ensemble() -> Any:
    from imblearn.ensemble import EasyEnsembleClassifier

    return EasyEnsembleClassifier()


#: name -> (estimator factory, description, prior status). Library defaults otherwise, as
#: a user would first try them. All three train as if the classes were balanced:
#: weighted log-loss (exact), trees on balanced bootstraps (exact in the same sense as
#: resampling), AdaBoost on balanced subsets (approximate: boosting's scores are not
#: probabilities of the training distribution).
BASELINES: dict[str, tuple[Callable[[], Any], str, str]] = {
    "hgb_balanced": (
        _hgb,
        "scikit-learn HistGradientBoostingClassifier, class_weight='balanced'",
        "exact",
    ),
    "balanced_rf": (
        _balanced_rf,
        "imbalanced-learn BalancedRandomForestClassifier (balanced bootstraps)",
        "exact",
    ),
    "easy_ensemble": (
        _easy_ensemble,
        "imbalanced-learn EasyEnsembleClassifier (AdaBoost on 10 balanced under-samples)",
        "approximate",
    ),
}

#: On for tables unless turned off: the gradient-boosted trees a user would pick, and the
#: most robust family of the imbalance benchmarks. EasyEnsemble is available by name: on
#: the dev suite (5 folds, seed 0) its mean PR-AUC was 0.710, against 0.767 for
#: hgb_balanced and 0.799 for balanced_rf, at up to four times their fit time.
DEFAULT_BASELINES = ("hgb_balanced", "balanced_rf")


def resolve_baselines(baselines: Any, *, tabular: bool) -> list[Baseline]:
    """The baselines asked for: ``"auto"`` (the defaults for tables, none for images and
    other N-D inputs), ``None`` / ``"none"`` / ``[]``, a name, or a list of names and
    scikit-learn classifiers (named by their class)."""
    if baselines is None or (isinstance(baselines, str) and baselines == "none"):
        return []
    if isinstance(baselines, str) and baselines == "auto":
        return [_named(n) for n in DEFAULT_BASELINES] if tabular else []
    items = [baselines] if isinstance(baselines, str) else baselines
    if not isinstance(items, Sequence) or isinstance(items, (bytes, dict)):
        items = [items]
    resolved = []
    for item in items:
        if isinstance(item, str):
            resolved.append(_named(item))
        elif hasattr(item, "fit") and hasattr(item, "predict_proba"):
            if not hasattr(item, "get_params"):
                raise InvalidParameterError(
                    f"Baseline {short_repr(item)} has fit and predict_proba but no "
                    "get_params, so it cannot be cloned for every fold. Derive it from "
                    "sklearn.base.BaseEstimator (and ClassifierMixin)."
                )
            params = item.get_params()
            balanced = params.get("class_weight") == "balanced"
            resolved.append(
                Baseline(
                    type(item).__name__,
                    item,
                    f"your {type(item).__name__}",
                    "exact" if balanced else "unknown",
                )
            )
        else:
            raise InvalidParameterError(
                "`baselines` must be 'auto', 'none', or a list of baseline names "
                f"({list(BASELINES)}) and scikit-learn classifiers (with fit and "
                f"predict_proba). Received: {short_repr(item)}."
            )
    names = [b.name for b in resolved]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InvalidParameterError(
            f"Each baseline may be given once; {repeated} appear more than once. "
            f"Received: baselines={short_repr(baselines)}."
        )
    if resolved and not tabular:
        raise InvalidParameterError(
            "Baselines are tree models for tables; these features are not a 2-D table "
            f"(images or other N-D inputs). Received: baselines={short_repr(baselines)}. "
            "Use baselines='none' (or 'auto', which turns them off here)."
        )
    return resolved


def _named(name: str) -> Baseline:
    if name not in BASELINES:
        raise InvalidParameterError(
            f"Unknown baseline. Received: {short_repr(name)}. Use one of "
            f"{list(BASELINES)}, 'auto' or 'none'.{did_you_mean(name, list(BASELINES))}"
        )
    factory, description, status = BASELINES[name]
    return Baseline(name, factory(), description, status)


@dataclass
class BaselineFit:
    """One baseline fit: the probabilities of the rows it scored and its seconds."""

    proba: np.ndarray
    fit_seconds: float


def run_baselines(
    baselines: list[Baseline],
    jobs: list[tuple[Any, Any, np.ndarray, np.ndarray, int]],
    arrays: Callable[[Any], np.ndarray],
    codes: np.ndarray,
    n_classes: int,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[Any, BaselineFit]:
    """Fit every baseline on every job and score its rows.

    ``jobs`` are ``(tag, frame, train_rows, score_rows, seed)``; ``arrays(frame)`` gives
    every row through the preprocessing fit on that frame (the training fold), the same
    arrays the Keras trials get. Results are keyed ``(tag, baseline name)``.
    """
    results: dict[Any, BaselineFit] = {}
    total = len(jobs) * len(baselines)
    for tag, frame, train, score, seed in jobs if baselines else []:
        X = arrays(frame)
        for baseline in baselines:
            start = time.perf_counter()
            model = baseline.make(seed).fit(X[train], codes[train])
            proba = _class_proba(model, X[score], n_classes, baseline.name)
            results[(tag, baseline.name)] = BaselineFit(
                proba, time.perf_counter() - start
            )
            if progress is not None:
                progress(len(results), total, f"baseline {baseline.name}")
    return results


def _class_proba(model: Any, X: np.ndarray, n_classes: int, name: str) -> np.ndarray:
    """(n, n_classes) probabilities in class-index order (a fold's model may not have
    seen every class; its missing columns are 0)."""
    raw = np.asarray(model.predict_proba(X), dtype=np.float64)
    seen = np.asarray(getattr(model, "classes_", np.arange(raw.shape[1])))
    if raw.ndim != 2 or raw.shape != (len(X), len(seen)):
        raise InvalidParameterError(
            f"Baseline {name!r}: predict_proba returned shape {raw.shape}, expected "
            f"({len(X)}, {len(seen)})."
        )
    proba = np.zeros((len(X), n_classes))
    proba[:, seen.astype(np.int64)] = raw
    return np.clip(proba, 0.0, 1.0)
