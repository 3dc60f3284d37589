"""The fitted default preprocessing as plain JSON, and its numpy replay at predict time.

A shipped model needs its preprocessing, and a pickle is not a safe artefact. The fitted
imputers, scaler and one-hot encoder reduce to a few lists of numbers and strings, which
the model card stores; :class:`TabularSchema` replays them exactly (a test checks it
against scikit-learn) and refuses tables whose columns do not match.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer

from balanceflow.exceptions import DataError

__all__ = ["TabularSchema"]


@dataclass
class TabularSchema:
    """Column names and kinds, and the fitted preprocessing of each column."""

    numeric: list[str]
    categorical: list[str]
    medians: list[float]
    means: list[float]
    scales: list[float]
    fill_values: list[str]
    categories: list[list[str]]  # frequent categories, one output column each
    infrequent: list[
        list[str] | None
    ]  # categories sharing the extra "infrequent" column

    @classmethod
    def from_fitted(
        cls, transformer: ColumnTransformer, numeric: list[str], categorical: list[str]
    ) -> TabularSchema:
        """Read the fitted parts of :func:`make_preprocessor`'s transformer."""
        medians = means = scales = []
        fills: list[str] = []
        categories: list[list[str]] = []
        infrequent: list[list[str] | None] = []
        if numeric:
            imputer, scaler = transformer.named_transformers_["numeric"].steps
            medians = imputer[1].statistics_.astype(float).tolist()
            means = scaler[1].mean_.astype(float).tolist()
            scales = scaler[1].scale_.astype(float).tolist()
        if categorical:
            imputer, encoder = transformer.named_transformers_["categorical"].steps
            fills = [str(v) for v in imputer[1].statistics_]
            rare = getattr(
                encoder[1], "infrequent_categories_", [None] * len(categorical)
            )
            for cats, rare_cats in zip(encoder[1].categories_, rare):
                rare_set = set() if rare_cats is None else {str(c) for c in rare_cats}
                categories.append([str(c) for c in cats if str(c) not in rare_set])
                infrequent.append(None if rare_cats is None else sorted(rare_set))
        return cls(
            numeric, categorical, medians, means, scales, fills, categories, infrequent
        )

    @property
    def columns(self) -> list[str]:
        return self.numeric + self.categorical

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TabularSchema:
        return cls(**data)

    def check_columns(self, frame: pd.DataFrame, source: str) -> None:
        """Refuse a table whose columns differ from the training table's."""
        given = [str(c) for c in frame.columns]
        missing = [c for c in self.columns if c not in given]
        extra = [c for c in given if c not in self.columns]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing column(s) {missing}")
            if extra:
                parts.append(f"unexpected column(s) {extra}")
            raise DataError(
                f"{source} does not match the model's schema: {' and '.join(parts)}. The "
                f"model expects exactly {self.columns}."
            )

    @staticmethod
    def _numbers(column: pd.Series, source: str) -> np.ndarray:
        try:
            values = pd.to_numeric(column, errors="raise").astype("float64").to_numpy()
        except (ValueError, TypeError):
            text = column[
                pd.to_numeric(column, errors="coerce").isna() & column.notna()
            ]
            raise DataError(
                f"Column {column.name!r} of {source} must hold numbers, as in training; it "
                f"holds text such as {text.iloc[0]!r}."
            ) from None
        if np.isinf(values).any():
            raise DataError(f"Column {column.name!r} of {source} contains inf.")
        return values

    def transform(self, frame: pd.DataFrame, source: str = "the input") -> np.ndarray:
        """The model's input for ``frame``: what the fitted scikit-learn transformer gave."""
        self.check_columns(frame, source)
        frame = frame.rename(columns=str)
        blocks = []
        if self.numeric:
            values = np.column_stack(
                [self._numbers(frame[c], source) for c in self.numeric]
            )
            values = np.where(np.isnan(values), np.asarray(self.medians), values)
            blocks.append((values - np.asarray(self.means)) / np.asarray(self.scales))
        for i, name in enumerate(self.categorical):
            raw = frame[name]
            column = np.where(
                raw.isna().to_numpy(), self.fill_values[i], raw.astype(str)
            )
            column = column.astype(str)
            known = self.categories[i]
            seen = set(known) | set(self.infrequent[i] or ())
            column = _as_training_text(column, seen)
            unseen = ~np.isin(column, list(seen))
            if unseen.any():
                examples = [str(v) for v in dict.fromkeys(column[unseen])][:3]
                warnings.warn(
                    f"Column {name!r} of {source}: {int(unseen.sum())} of {len(column)} "
                    f"row(s) hold categories never seen in training (e.g. "
                    f"{', '.join(map(repr, examples))}); the model reads them as none of "
                    "the known categories"
                    + (" (the 'infrequent' group)." if self.infrequent[i] else ".")
                    + " Check the spelling, or train on data that has them.",
                    UserWarning,
                    stacklevel=2,
                )
            onehot = (column[:, None] == np.asarray(known, dtype=str)[None, :]).astype(
                float
            )
            if self.infrequent[i] is not None:
                other = ~np.isin(column, known)  # infrequent and unseen categories
                onehot = np.hstack([onehot, other[:, None].astype(float)])
            blocks.append(onehot)
        return np.hstack(blocks).astype(np.float32)


def _number_key(text: str) -> str | None:
    """``"1"``, ``"1.0"`` and ``"1e0"`` share the key ``"1"``; None for non-numbers."""
    try:
        value = float(text)
    except ValueError:
        return None
    if not np.isfinite(value):
        return None
    return str(int(value)) if value == int(value) else repr(value)


def _as_training_text(column: np.ndarray, seen: set[str]) -> np.ndarray:
    """Categories spelled as in training where only the number format differs.

    pandas reads a code column with one blank cell as floats, so ``1`` comes back as
    ``"1.0"`` (and the other way round): such a value is mapped to the training spelling
    of the same number, when exactly one training category has that number.
    """
    by_key: dict[str, str | None] = {}
    for category in seen:
        key = _number_key(category)
        if key is not None:
            by_key[key] = None if key in by_key else category  # None: ambiguous
    if not by_key:
        return column
    out = column.copy()
    for value in set(column) - seen:
        spelled = by_key.get(_number_key(value) or "")
        if spelled is not None:
            out[column == value] = spelled
    return out
