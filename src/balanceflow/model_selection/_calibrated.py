"""The prior that ``fit``'s shipped probabilities answer to, and how each model gets there.

A model trained on re-balanced data (resampling, class weights, balanced losses) answers
as if its training prior were the world's. ``fit`` bakes Bayes' rule into every model of
the final bag (a :class:`~balanceflow.layers.LogitShift` layer from the prior the model
trained under, :meth:`~balanceflow.strategies.Strategy.prior_state`, to the target prior),
so that the shipped probabilities answer to the training data's class prior, or to a
deployment prior the user gives, and the threshold is tuned on those probabilities.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from balanceflow._validation import short_repr
from balanceflow.exceptions import InvalidParameterError
from balanceflow.strategies import PRIOR_STATUSES, BaseStrategy, Ensemble, Tuned

__all__ = ["ShippedPrior", "check_deployment_prior"]

#: Shares this far from summing to 1 are refused rather than renormalised.
_SUM_TOLERANCE = 1e-3


def check_deployment_prior(value: Any, classes: np.ndarray, positive: int | None):
    """``deployment_prior`` as one share per class in class-index order, or None.

    Accepts None, a float in (0, 1) for a binary target (the share of the positive class,
    ``pos_label``), a mapping ``{label: share}`` naming every class, or a sequence of one
    share per class in sorted-label order. Shares must be in (0, 1) and sum to 1.
    """
    if value is None:
        return None
    n = len(classes)
    labels = [c.item() if isinstance(c, np.generic) else c for c in classes]
    hint = (
        "Give the share of each class where the model will be used, e.g. "
        + (
            f"deployment_prior=0.01 (the share of {labels[positive]!r}) or "
            if positive is not None
            else ""
        )
        + "{"
        + ", ".join(f"{label!r}: ..." for label in labels[:3])
        + (", ..." if n > 3 else "")
        + "} summing to 1."
    )
    if isinstance(value, bool):
        raise InvalidParameterError(
            f"`deployment_prior` must be a share or one share per class, not a bool. "
            f"Received: deployment_prior={value!r}. {hint}"
        )
    if isinstance(value, numbers.Real):
        if positive is None:
            raise InvalidParameterError(
                f"A single `deployment_prior` share fits a binary target; this one has "
                f"{n} classes. Received: deployment_prior={value!r}. {hint}"
            )
        share = float(value)
        shares = np.empty(2)
        shares[positive], shares[1 - positive] = share, 1.0 - share
    elif isinstance(value, Mapping):
        keys = [str(k) for k in value]
        known = {str(label) for label in labels}
        unknown = [k for k in value if str(k) not in known]
        missing = [label for label in labels if str(label) not in set(keys)]
        if len(set(keys)) != len(keys):
            raise InvalidParameterError(
                "`deployment_prior` names a class twice (keys "
                f"{short_repr(list(value))}). {hint}"
            )
        if unknown or missing:
            raise InvalidParameterError(
                "`deployment_prior` must name every class of the target once"
                + (f"; unknown: {short_repr(unknown)}" if unknown else "")
                + (f"; missing: {short_repr(missing)}" if missing else "")
                + f". The classes are {short_repr(labels)}. {hint}"
            )
        by_text = {str(k): v for k, v in value.items()}
        shares = np.array([_share(by_text[str(label)], hint) for label in labels])
    elif isinstance(value, (list, tuple, np.ndarray)):
        if len(value) != n:
            raise InvalidParameterError(
                f"`deployment_prior` needs one share per class ({n}: {short_repr(labels)}"
                f", in that order). Received {len(value)}: "
                f"deployment_prior={short_repr(value)}. {hint}"
            )
        shares = np.array([_share(v, hint) for v in value])
    else:
        raise InvalidParameterError(
            "`deployment_prior` must be None, a share, a {class: share} mapping or a "
            f"list of shares. Received: {type(value).__name__} "
            f"{short_repr(value)}. {hint}"
        )
    if not (np.isfinite(shares).all() and (shares > 0).all() and (shares < 1).all()):
        raise InvalidParameterError(
            "Every share of `deployment_prior` must lie strictly between 0 and 1 (a class "
            "that never occurs cannot be predicted). Received: "
            f"deployment_prior={short_repr(value)}. {hint}"
        )
    if abs(shares.sum() - 1.0) > _SUM_TOLERANCE:
        raise InvalidParameterError(
            f"The shares of `deployment_prior` must sum to 1; they sum to "
            f"{shares.sum():.4g}. Received: deployment_prior={short_repr(value)}. {hint}"
        )
    return shares / shares.sum()


def _share(value: Any, hint: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidParameterError(
            f"Each share of `deployment_prior` must be a number. Received: "
            f"{short_repr(value)}. {hint}"
        )
    return float(value)


@dataclass
class ShippedPrior:
    """The prior the final model's probabilities are brought to, and how it went.

    ``target`` is None when nothing is corrected (``calibrate=False``, or a hard vote,
    whose output is a share of votes, not a probability). ``statuses`` collects each
    leaf's worst :data:`~balanceflow.strategies.PRIOR_STATUSES` over its models.
    """

    target: np.ndarray | None
    source: str
    statuses: dict[str, str] = field(default_factory=dict)

    @classmethod
    def plan(
        cls,
        chosen: BaseStrategy,
        data_prior: np.ndarray,
        deployment: np.ndarray | None,
        calibrate: bool,
    ) -> ShippedPrior:
        base = chosen.base if isinstance(chosen, Tuned) else chosen
        if not calibrate:
            return cls(None, "not corrected (calibrate=False)")
        if isinstance(base, Ensemble) and base.combine_method == "hard":
            return cls(None, "not corrected: a hard vote outputs shares of votes")
        if deployment is not None:
            return cls(deployment, "the deployment prior given")
        return cls(
            np.asarray(data_prior, dtype=np.float64), "the training data's prior"
        )

    def record(self, leaf: str, status: str) -> None:
        old = self.statuses.get(leaf, "unchanged")
        worst = max(PRIOR_STATUSES.index(old), PRIOR_STATUSES.index(status))
        self.statuses[leaf] = PRIOR_STATUSES[worst]

    @property
    def status(self) -> str:
        """The worst status over the leaves (``"unknown"`` leaves stay as trained)."""
        if self.target is None:
            return "not corrected"
        worst = max(
            (PRIOR_STATUSES.index(s) for s in self.statuses.values()), default=0
        )
        return PRIOR_STATUSES[worst]

    @property
    def calibrated(self) -> bool:
        """Whether every model's probabilities answer to ``target``."""
        return self.target is not None and self.status != "unknown"

    def to_dict(self) -> dict[str, Any]:
        return {
            "target_prior": None if self.target is None else self.target.tolist(),
            "target": self.source,
            "status": self.status,
            "per_strategy": dict(self.statuses),
        }
