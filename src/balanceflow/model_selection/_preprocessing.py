"""Default preprocessing of tabular features, fit on training folds only."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from balanceflow.exceptions import DataError

__all__ = ["MAX_CATEGORIES", "clean_features", "make_preprocessor"]

#: A categorical column is one-hot encoded into at most this many columns; rarer
#: categories share one "infrequent" column.
MAX_CATEGORIES = 50


def _is_categorical(series: pd.Series) -> bool:
    dtype = series.dtype
    return (
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_string_dtype(dtype)
        or pd.api.types.is_object_dtype(dtype)
    )


def clean_features(X: Any) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Check the columns of ``X`` and split them into numeric and categorical.

    Numeric and boolean columns become float64; text, categorical and object columns of
    strings become object columns of ``str`` with NaN for missing values. Nothing is fit
    here, so this may run on the whole table.

    Raises
    ------
    DataError
        For a column the default model cannot encode (dates, durations, complex numbers,
        objects that are not strings or numbers), or for inf in a numeric column.
    """
    if not isinstance(X, pd.DataFrame):
        arr = np.asarray(X)
        if arr.ndim != 2:
            raise DataError(
                f"Tabular preprocessing needs 2-D features. Received: X with shape {arr.shape}. "
                "Pass preprocess=None for images and other N-D inputs."
            )
        X = pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])
    if X.shape[1] == 0:
        raise DataError("`X` has no feature columns. Pass at least one feature.")
    labels = [str(name) for name in X.columns]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise DataError(
            f"Feature columns must have distinct names; {repeated} occur more than once "
            "(names are compared as text, so 0 and '0' collide). Rename the columns."
        )
    columns: dict[str, Any] = {}
    numeric, categorical = [], []
    for name in X.columns:
        col = X[name]
        label = str(name)
        if pd.api.types.is_bool_dtype(col.dtype) or (
            pd.api.types.is_numeric_dtype(col.dtype)
            and not pd.api.types.is_complex_dtype(col.dtype)
        ):
            values = col.astype("float64").to_numpy()
            if np.isinf(values).any():
                raise DataError(
                    f"Feature column {label!r} contains inf. Replace it with a finite value or "
                    "NaN (NaN is imputed with the training-fold median)."
                )
            columns[label] = values
            numeric.append(label)
        elif _is_categorical(col):
            present = col[col.notna()]
            odd = {
                type(v).__name__
                for v in present
                if not isinstance(v, (str, numbers.Number, bool, np.bool_))
            }
            if odd:
                raise DataError(
                    f"Feature column {label!r} holds values of type {sorted(odd)} that the default "
                    "model cannot encode. Convert them to strings or numbers, or drop the column."
                )
            columns[label] = np.where(
                col.notna().to_numpy(), col.astype(str).to_numpy(), np.nan
            )
            categorical.append(label)
        else:
            raise DataError(
                f"Feature column {label!r} has dtype {col.dtype}, which the default model cannot "
                "encode. Convert it to numbers (e.g. a timestamp to seconds) or drop the column."
            )
    frame = pd.DataFrame(columns, index=X.index)
    for label in categorical:
        frame[label] = frame[label].astype(object)
    return frame, numeric, categorical


def make_preprocessor(numeric: list[str], categorical: list[str]) -> ColumnTransformer:
    """An unfitted transformer: median imputation + standardisation for numeric columns,
    most-frequent imputation + one-hot encoding for categorical ones."""
    parts = []
    if numeric:
        parts.append(
            (
                "numeric",
                make_pipeline(
                    SimpleImputer(strategy="median", keep_empty_features=True),
                    StandardScaler(),
                ),
                numeric,
            )
        )
    if categorical:
        parts.append(
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent", keep_empty_features=True),
                    OneHotEncoder(
                        handle_unknown="infrequent_if_exist",
                        max_categories=MAX_CATEGORIES,
                        sparse_output=False,
                    ),
                ),
                categorical,
            )
        )
    return ColumnTransformer(parts, sparse_threshold=0.0)
