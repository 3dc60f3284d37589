"""How member probabilities become one prediction (numpy)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import minimize

from balanceflow._validation import short_repr
from balanceflow.exceptions import DataError, InvalidParameterError

__all__ = [
    "COMBINE_METHODS",
    "combine_proba",
    "fit_vote_weights",
    "hard_vote",
    "log_loss",
]

COMBINE_METHODS = ("soft", "hard", "weighted")


def _check_stack(member_proba: Any) -> np.ndarray:
    stack = np.asarray(member_proba, dtype=np.float64)
    if stack.ndim != 3:
        raise DataError(
            "Member probabilities must have shape (n_members, n_samples, n_classes). "
            f"Received shape {stack.shape}."
        )
    return stack


def hard_vote(member_proba: Any) -> np.ndarray:
    """Share of the members that vote for each class (each votes for its argmax).

    Returns an (n_samples, n_classes) array whose rows sum to 1. Ties between classes are
    left as ties here; :func:`combine_proba` breaks them with the mean probability.
    """
    stack = _check_stack(member_proba)
    votes = np.zeros(stack.shape[1:], dtype=np.float64)
    winners = stack.argmax(axis=2)
    for member_votes in winners:
        votes[np.arange(stack.shape[1]), member_votes] += 1.0
    return votes / stack.shape[0]


def combine_proba(member_proba: Any, method: str, weights: Any = None) -> np.ndarray:
    """Combine member probabilities of shape (n_members, n_samples, n_classes).

    - ``"soft"``: the mean probability.
    - ``"hard"``: the share of member votes; an exact tie is broken in favour of the class
      with the larger mean probability (a nudge of 1e-9 times the mean probability).
    - ``"weighted"``: ``sum_m weights[m] * proba[m]`` with non-negative weights summing to 1.
    """
    return np.clip(_combine(_check_stack(member_proba), method, weights), 0.0, 1.0)


def _combine(stack: np.ndarray, method: str, weights: Any) -> np.ndarray:
    # Means of probabilities can stray above 1 by round-off (1.0000000000000002); the
    # caller clips them back into [0, 1].
    if method == "soft":
        return stack.mean(axis=0)
    if method == "hard":
        votes = hard_vote(stack) + 1e-9 * stack.mean(axis=0)
        return votes / votes.sum(axis=1, keepdims=True)
    if method == "weighted":
        w = np.asarray(weights, dtype=np.float64)
        if (
            w.shape != (stack.shape[0],)
            or (w < 0).any()
            or not np.isclose(w.sum(), 1.0)
        ):
            raise InvalidParameterError(
                "`weights` must hold one non-negative weight per member, summing to 1. "
                f"Received: weights={short_repr(weights)} for {stack.shape[0]} members."
            )
        return np.tensordot(w, stack, axes=1)
    raise InvalidParameterError(
        f"Unknown `combine` method. Received: combine={short_repr(method)}. "
        f"Use one of {list(COMBINE_METHODS)}."
    )


def log_loss(y: np.ndarray, proba: np.ndarray) -> float:
    """Mean negative log-likelihood of class indices ``y`` under ``proba`` (n, K)."""
    picked = np.clip(proba[np.arange(len(y)), y], 1e-12, 1.0)
    return float(-np.mean(np.log(picked)))


def fit_vote_weights(member_proba: Any, y: Any) -> np.ndarray:
    """Non-negative member weights, summing to 1, that minimise the log loss on ``(proba, y)``.

    The log loss of a weighted average of probabilities is convex in the weights, so the
    optimum over the simplex is global. The search starts from the best single member, and
    a descent never ends above its start: on the data they were fit on, the weights score
    at least as well as the best member.

    Parameters
    ----------
    member_proba : array of shape (n_members, n_samples, n_classes)
    y : array of shape (n_samples,)
        Class indices ``0..n_classes-1``.
    """
    stack = _check_stack(member_proba)
    y = np.asarray(y, dtype=np.int64)
    n_members = stack.shape[0]
    losses = [log_loss(y, member) for member in stack]
    start = np.zeros(n_members)
    start[int(np.argmin(losses))] = 1.0
    if n_members == 1:
        return start
    picked = stack[:, np.arange(len(y)), y].T  # (n_samples, n_members)

    def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
        mix = np.clip(picked @ w, 1e-12, None)
        return float(-np.mean(np.log(mix))), -(picked / mix[:, None]).mean(axis=0)

    result = minimize(
        objective,
        start,
        jac=True,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * n_members,
        constraints=[
            {
                "type": "eq",
                "fun": lambda w: w.sum() - 1.0,
                "jac": lambda w: np.ones_like(w),
            }
        ],
    )
    weights = np.clip(result.x, 0.0, None)
    weights /= weights.sum()
    if objective(weights)[0] > objective(start)[0]:
        return start  # the optimiser failed to descend: keep the best member
    return weights
