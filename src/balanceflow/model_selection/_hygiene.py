"""Checks of the data itself before anything trains: a feature that is the label in
disguise, a saved row index, a target that is not made of classes."""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import pandas as pd

from balanceflow._validation import short_repr
from balanceflow.exceptions import DataError

__all__ = ["check_features_against_target"]

_UNNAMED = re.compile(r"^Unnamed: \d+$")


def check_features_against_target(
    X: Any, codes: np.ndarray, n_classes: int, *, target: str = "the target"
) -> None:
    """Raise on a feature column that is a copy of the target (one value per class, each
    value always with the same class: training on it leaks the answer); warn on a column
    that looks like a saved row index (in a sorted file it encodes the label)."""
    if not isinstance(X, pd.DataFrame):
        return
    rows = len(codes)
    for column in X.columns:
        values = X[column]
        if _is_copy_of_target(values, codes, n_classes):
            raise DataError(
                f"Feature column {str(column)!r} is a copy of {target}: each of its "
                f"{n_classes} values always goes with the same class, so a model trained on "
                "it learns the answer, not the data. Drop the column (a repeated header "
                f"is read as {str(column)!r} by pandas)."
            )
        if _UNNAMED.match(str(column)) or _is_row_number(values, rows):
            warnings.warn(
                f"Feature column {str(column)!r} looks like a saved row index "
                f"({short_repr(values.head(3).tolist())}, ...). If the file was sorted, "
                "it encodes the label; drop it, or write the file with index=False.",
                UserWarning,
                stacklevel=3,
            )


def _is_copy_of_target(values: pd.Series, codes: np.ndarray, n_classes: int) -> bool:
    try:
        if values.isna().any() or values.nunique() != n_classes:
            return False
    except TypeError:  # unhashable cells (lists, dicts): clean_features names them
        return False
    classes_per_value = pd.Series(codes, index=values.index).groupby(values.to_numpy())
    return bool((classes_per_value.nunique() == 1).all())


def _is_row_number(values: pd.Series, rows: int) -> bool:
    if rows < 20 or not pd.api.types.is_integer_dtype(values.dtype):
        return False
    array = values.to_numpy()
    start = array[0]
    return start in (0, 1) and np.array_equal(array, np.arange(start, start + rows))
