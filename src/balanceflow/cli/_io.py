"""Reading the user's table for the command-line tool."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from balanceflow.exceptions import DataError, InvalidParameterError

__all__ = ["read_table", "split_target"]

_READERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file into a DataFrame, with clear errors."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"File not found: {str(path)!r}.")
    suffixes = [s.lower() for s in path.suffixes]
    kind = _READERS.get(suffixes[-1] if suffixes else "")
    if kind is None and suffixes[-2:-1] == [".csv"]:
        kind = "csv"  # data.csv.gz, data.csv.zip: pandas infers the compression
    if kind is None:
        raise InvalidParameterError(
            f"Unsupported file type for {str(path)!r}. Use a .csv (optionally compressed, e.g. "
            ".csv.gz) or a .parquet file."
        )
    try:
        frame = pd.read_csv(path) if kind == "csv" else pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        raise DataError(
            f"{str(path)!r} is empty: it has no header and no rows."
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as err:
        raise DataError(f"Could not read {str(path)!r} as {kind}: {err}") from None
    if frame.shape[0] == 0:
        raise DataError(f"{str(path)!r} has a header but no rows.")
    if kind == "csv":
        _check_header(path, frame)
    return frame


def _check_header(path: Path, frame: pd.DataFrame) -> None:
    """Refuse a header that names a column twice: pandas renames the second copy
    ('label' -> 'label.1'), and the copy would silently become a feature."""
    header = pd.read_csv(path, header=None, nrows=1, dtype=str).iloc[0].tolist()
    seen: dict[str, int] = {}
    for name in header:
        seen[str(name)] = seen.get(str(name), 0) + 1
    repeated = {name: n for name, n in seen.items() if n > 1}
    if repeated:
        raise DataError(
            f"The header of {str(path)!r} names columns more than once "
            f"({', '.join(f'{k!r} x{v}' for k, v in repeated.items())}); pandas would read "
            f"the copies as {[c for c in map(str, frame.columns) if c not in seen][:5]}. "
            "Give every column its own name."
        )


def split_target(
    frame: pd.DataFrame, target: str | None, source: str
) -> tuple[pd.DataFrame, pd.Series]:
    """Split ``frame`` into features and the ``target`` column."""
    if target is None:
        raise InvalidParameterError(
            f"Name the label column of {source!r} with --target. Columns: "
            f"{[str(c) for c in frame.columns][:20]}."
        )
    if target not in frame.columns:
        raise InvalidParameterError(
            f"--target {target!r} is not a column of {source!r}. Columns: "
            f"{[str(c) for c in frame.columns][:20]}."
        )
    y = frame[target]
    if y.isna().any():
        raise DataError(
            f"The target column {target!r} has {int(y.isna().sum())} missing value(s). Remove "
            "those rows or fill them."
        )
    return frame.drop(columns=[target]), y
