"""Checks and label handling shared by the pipelines (numpy only).

Balancing works on *groups*: the classes of a single-label target, or, for a multi-label
(multi-hot) target, the rarest positive label of each row (see ``encode_targets``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from balanceflow._validation import check_int, check_targets, encode_labels, short_repr
from balanceflow.exceptions import DataError, InvalidParameterError

__all__ = [
    "NO_LABEL",
    "Targets",
    "check_pipeline_seed",
    "check_sample_weight",
    "encode_targets",
    "is_multi_label",
]

#: Group key of the rows of a multi-label target that have no positive label.
NO_LABEL = -1


def check_pipeline_seed(seed: Any) -> int:
    """A seed for derive_seed: an int >= 0 as given, or a fresh random one for None."""
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1)[0] & 0x7FFFFFFF)
    return check_int(seed, "seed", minimum=0)


def is_multi_label(y: Any) -> bool:
    """True for a 2-D 0/1 target with several columns whose rows do not all sum to 1."""
    arr = np.asarray(y)
    if arr.ndim != 2 or arr.shape[1] < 2 or arr.shape[0] == 0:
        return False
    if arr.dtype == bool:
        values_ok = True
    elif np.issubdtype(arr.dtype, np.number):
        values_ok = bool(np.isin(arr, (0, 1)).all())
    else:
        return False
    return values_ok and not bool((arr.sum(axis=1) == 1).all())


@dataclass(frozen=True)
class Targets:
    """Encoded targets of a pipeline.

    Attributes
    ----------
    codes : ndarray of shape (n,)
        Group index (0..G-1) of every row: what the pipeline balances.
    group_labels : ndarray of shape (G,)
        The label of every group (the class label; for multi-label targets the column
        index of the rarest positive label, or ``NO_LABEL``).
    y_source : ndarray
        What the dataset yields per row, gathered batch by batch: the class index
        (single-label) or the multi-hot row (multi-label).
    multi_label : bool
    n_outputs : int
        Number of classes (single-label) or of label columns (multi-label).
    """

    codes: np.ndarray
    group_labels: np.ndarray
    y_source: np.ndarray
    multi_label: bool
    n_outputs: int

    @property
    def counts(self) -> np.ndarray:
        return np.bincount(self.codes, minlength=len(self.group_labels))

    def labels(self) -> np.ndarray:
        """The group label of every row (what ``sampling_strategy`` refers to)."""
        return self.group_labels[self.codes]


def _encode_multi_label(y: Any, name: str) -> Targets:
    arr = np.asarray(y)
    positives = arr.astype(bool)
    label_counts = positives.sum(axis=0)
    empty = np.flatnonzero(label_counts == 0)
    if len(empty):
        raise DataError(
            f"`{name}` is multi-label (multi-hot) and label column(s) "
            f"{short_repr(empty.tolist())} have no positive row: a class with zero rows "
            "cannot be balanced. Drop those columns or add rows."
        )
    # Each row belongs to the group of its rarest positive label (ties: lowest column).
    masked = np.where(positives, label_counts[None, :], np.iinfo(np.int64).max)
    rarest = masked.argmin(axis=1)
    rarest[~positives.any(axis=1)] = NO_LABEL
    group_labels, codes = np.unique(rarest, return_inverse=True)
    if len(group_labels) < 2:
        raise DataError(
            f"Every row of the multi-label `{name}` falls in the same group "
            f"({group_labels.tolist()}): there is nothing to balance."
        )
    return Targets(
        codes=codes.astype(np.int64),
        group_labels=group_labels,
        y_source=arr,
        multi_label=True,
        n_outputs=arr.shape[1],
    )


def encode_targets(y: Any, *, classes: Any = None, name: str = "y") -> Targets:
    """Encode ``y`` for a pipeline.

    Single-label targets (int, bool, str labels or one-hot rows) become class indices
    ``0..K-1`` in sorted label order, or in the order of ``classes`` when given; every class
    needs at least one row. A multi-hot target (see :func:`is_multi_label`) is grouped by
    the rarest positive label of each row.
    """
    if is_multi_label(y):
        if classes is not None:
            raise InvalidParameterError(
                "`classes` applies to single-label targets; a multi-label target's classes "
                f"are its columns. Received: classes={short_repr(classes)}."
            )
        return _encode_multi_label(y, name)
    if classes is None:
        codes, labels = encode_labels(y, name=name, min_classes=2)
    else:
        labels = np.asarray(classes)
        if labels.ndim != 1 or len(labels) < 2 or len(np.unique(labels)) != len(labels):
            raise InvalidParameterError(
                "`classes` must list at least two distinct labels, in the order of the class "
                f"indices the dataset yields. Received: classes={short_repr(classes)}."
            )
        values = check_targets(y, name=name, min_classes=1)
        sorter = np.argsort(labels, kind="stable")
        position = np.searchsorted(labels[sorter], values)
        position = np.clip(position, 0, len(labels) - 1)
        known = labels[sorter][position] == values
        if not known.all():
            unknown = np.unique(values[~known])
            raise DataError(
                f"`{name}` holds label(s) {short_repr(unknown.tolist())} that are not in "
                f"`classes` ({short_repr(labels.tolist())})."
            )
        codes = sorter[position].astype(np.int64)
        counts = np.bincount(codes, minlength=len(labels))
        if (counts == 0).any():
            missing = labels[counts == 0].tolist()
            raise DataError(
                f"Class(es) {short_repr(missing)} of `classes` have zero rows in `{name}`. A "
                "balanced sample needs at least one row of every class: add rows, or leave "
                "the class out of `classes`."
            )
    return Targets(
        codes=codes,
        group_labels=labels,
        y_source=codes.astype(np.int32),
        multi_label=False,
        n_outputs=len(labels),
    )


def check_sample_weight(sample_weight: Any, n_rows: int) -> np.ndarray | None:
    """``sample_weight`` as a float32 vector of ``n_rows`` finite, non-negative values."""
    if sample_weight is None:
        return None
    weights = np.asarray(sample_weight)
    if weights.ndim != 1 or not (
        np.issubdtype(weights.dtype, np.number) or weights.dtype == bool
    ):
        raise DataError(
            "`sample_weight` must be a 1-D numeric array with one weight per row. "
            f"Received: sample_weight with shape {weights.shape} and dtype {weights.dtype}."
        )
    if len(weights) != n_rows:
        raise DataError(
            "`sample_weight` and `X` must have the same number of rows. Received: "
            f"sample_weight with {len(weights)} rows and X with {n_rows} rows."
        )
    weights = weights.astype(np.float32)
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise DataError(
            "`sample_weight` must hold finite, non-negative values. Received: values from "
            f"{np.nanmin(weights)!r} to {np.nanmax(weights)!r}, with "
            f"{int((~np.isfinite(weights)).sum())} NaN or inf."
        )
    return weights
