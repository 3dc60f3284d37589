"""Nearest neighbours inside each class, computed once for interpolation (scikit-learn)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.neighbors import NearestNeighbors

from balanceflow._validation import short_repr
from balanceflow.exceptions import DataError

__all__ = ["class_neighbors", "interpolated_keys"]


def interpolated_keys(inputs: dict[Any, np.ndarray]) -> list[Any]:
    """The inputs that interpolation mixes: every int, unsigned or float array.

    Bool and string inputs are taken from the base row unchanged.
    """
    return [key for key, arr in inputs.items() if arr.dtype.kind in "iuf"]


def _features(
    inputs: dict[Any, np.ndarray], keys: list[Any], rows: np.ndarray
) -> np.ndarray:
    """The rows' interpolated inputs, flattened and side by side (a copy of these rows only)."""
    parts = [
        inputs[key].take(rows, axis=0).reshape(len(rows), -1).astype(np.float64)
        for key in keys
    ]
    return np.concatenate(parts, axis=1)


def class_neighbors(
    inputs: dict[Any, np.ndarray],
    keys: list[Any],
    groups: list[np.ndarray],
    grow: list[bool],
    k_neighbors: int,
    group_labels: np.ndarray,
) -> list[np.ndarray | None]:
    """For every class that gets synthetic rows, its rows' ``k`` nearest same-class rows.

    Returns ``table[c]`` of shape ``(n_c, k_c)`` holding global row positions (None for a
    class that is not grown). A class with ``n_c <= k_neighbors`` rows uses
    ``k_c = n_c - 1`` neighbours and warns; a class with a single row cannot be
    interpolated and raises a DataError. Memory: ``O(n_c * k_c)`` per grown class, plus a
    transient copy of that class's features while the neighbours are computed.
    """
    tables: list[np.ndarray | None] = []
    for group, needed, label in zip(groups, grow, group_labels):
        if not needed:
            tables.append(None)
            continue
        n = len(group)
        label = label.item() if hasattr(label, "item") else label
        if n < 2:
            raise DataError(
                f"Class {label!r} has a single row: interpolation needs at least two rows of "
                "every class it grows. Use method='over' for it, or lower its target in "
                "`sampling_strategy`."
            )
        k = min(k_neighbors, n - 1)
        if k < k_neighbors:
            warnings.warn(
                f"Class {label!r} has {n} rows, too few for k_neighbors={k_neighbors}; its "
                f"synthetic rows use its {k} nearest neighbour(s) instead.",
                UserWarning,
                stacklevel=4,
            )
        features = _features(inputs, keys, group)
        if not np.isfinite(features).all():
            raise DataError(
                f"The rows of class {label!r} contain NaN or inf in the inputs "
                f"{short_repr(keys)}; interpolation needs finite features. Impute them first."
            )
        # kneighbors() without X leaves each row out of its own neighbours.
        local = (
            NearestNeighbors(n_neighbors=k)
            .fit(features)
            .kneighbors(return_distance=False)
        )
        tables.append(group[local])
    return tables
