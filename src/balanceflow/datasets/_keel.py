"""Reader for KEEL ``.dat`` files and the KEEL datasets shipped with balanceflow.

Only numpy and pandas are needed: nothing here imports TensorFlow or Keras, and nothing is
downloaded. The shipped files live in ``balanceflow/datasets/data`` (see the README there for
their origin and licence).
"""

from __future__ import annotations

import functools
import gzip
import math
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources

import numpy as np
import pandas as pd

from balanceflow._validation import did_you_mean, short_repr
from balanceflow.exceptions import DataError, InvalidParameterError

__all__ = ["describe", "description", "load", "names", "read_keel"]

# The shipped datasets, ordered by imbalance ratio (majority / minority), smallest first.
_DOMAINS: dict[str, str] = {
    "wisconsin": "medical, breast cytology",
    "new-thyroid1": "medical, thyroid",
    "vowel0": "speech, vowels",
    "flare-F": "solar flares",
    "poker-8-9_vs_6": "poker hands",
    "kddcup-rootkit-imap_vs_back": "network intrusion",
}

_MISSING_TOKENS = frozenset({"?", "<null>"})
_POSITIVE, _NEGATIVE = "positive", "negative"

_ATTRIBUTE_LINE = re.compile(
    r"""@attribute\s+(?:'(?P<sq>[^']*)'|"(?P<dq>[^"]*)"|(?P<bare>[^\s{]+))\s*(?P<spec>.*)$""",
    re.IGNORECASE,
)
_NUMERIC_SPEC = re.compile(
    r"(?P<kind>real|integer|numeric)\s*(?:\[[^\]]*\])?", re.IGNORECASE
)


@dataclass(frozen=True)
class _Attribute:
    """One ``@attribute`` declaration: its name, kind and (for nominal ones) categories."""

    name: str
    kind: str  # "real", "integer" or "nominal"
    categories: tuple[str, ...]
    line: int


def _unquote(token: str) -> str:
    """Strip surrounding whitespace and one pair of matching quotes."""
    token = token.strip()
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "'\"":
        return token[1:-1].strip()
    return token


def _parse_attribute(line: str, lineno: int, source: str) -> _Attribute:
    match = _ATTRIBUTE_LINE.match(line)
    if match is None:
        raise DataError(
            f"{source}, line {lineno}: cannot read the attribute declaration "
            f"{short_repr(line)}. Expected '@attribute <name> real|integer|numeric [min, max]' "
            "or '@attribute <name> {value1, value2, ...}'."
        )
    name = next(g for g in (match["sq"], match["dq"], match["bare"]) if g is not None)
    spec = match["spec"].strip()
    if spec.startswith("{"):
        if not spec.endswith("}"):
            raise DataError(
                f"{source}, line {lineno}: the values of nominal attribute {name!r} must be "
                f"enclosed in braces {{...}}. Received: {short_repr(spec)}."
            )
        categories = tuple(_unquote(v) for v in spec[1:-1].split(","))
        if any(not c for c in categories) or len(set(categories)) != len(categories):
            raise DataError(
                f"{source}, line {lineno}: nominal attribute {name!r} declares an empty or "
                f"repeated value: {short_repr(spec)}."
            )
        return _Attribute(name, "nominal", categories, lineno)
    numeric = _NUMERIC_SPEC.fullmatch(spec)
    if numeric is None:
        raise DataError(
            f"{source}, line {lineno}: attribute {name!r} has the unsupported type "
            f"{short_repr(spec)}. KEEL files use real, integer, numeric or a set of "
            "nominal values in braces."
        )
    kind = "integer" if numeric["kind"].lower() == "integer" else "real"
    return _Attribute(name, kind, (), lineno)


def _split_names(text: str) -> list[str]:
    return [_unquote(part) for part in text.split(",") if part.strip()]


def _first_bad(
    tokens: list[str], lines: list[int], is_bad: Callable[[str], bool]
) -> tuple[str, int]:
    """The first token for which ``is_bad`` holds, with its line number."""
    for token, lineno in zip(tokens, lines):
        if is_bad(token):
            return token, lineno
    raise AssertionError("called without a bad token")


def _is_not_number(token: str) -> bool:
    if token in _MISSING_TOKENS:
        return False
    try:
        float(token)
    except ValueError:
        return True
    return False


def _convert_column(
    attr: _Attribute, tokens: list[str], lines: list[int], source: str
) -> pd.Series:
    """Turn the raw tokens of one attribute into a typed pandas Series."""
    if attr.kind == "nominal":
        undeclared = set(tokens) - set(attr.categories) - _MISSING_TOKENS
        if undeclared:
            token, lineno = _first_bad(
                tokens,
                lines,
                lambda t: t not in attr.categories and t not in _MISSING_TOKENS,
            )
            raise DataError(
                f"{source}, line {lineno}: value {token!r} of nominal attribute {attr.name!r} "
                f"is not among its declared values {list(attr.categories)} "
                f"(declared on line {attr.line})."
            )
        values = [None if t in _MISSING_TOKENS else t for t in tokens]
        return pd.Series(
            pd.Categorical(values, categories=list(attr.categories)), name=attr.name
        )

    has_missing = any(t in _MISSING_TOKENS for t in tokens)
    if attr.kind == "integer" and not has_missing:
        try:
            return pd.Series(
                np.array([int(t) for t in tokens], dtype=np.int64), name=attr.name
            )
        except (ValueError, OverflowError):
            pass  # for example "3.0": read as float below, then check it is whole
    try:
        values = np.array(
            [math.nan if t in _MISSING_TOKENS else float(t) for t in tokens],
            dtype=np.float64,
        )
    except ValueError:
        token, lineno = _first_bad(tokens, lines, _is_not_number)
        raise DataError(
            f"{source}, line {lineno}: value {token!r} of {attr.kind} attribute "
            f"{attr.name!r} is not a number (missing values are written '?' or '<null>')."
        ) from None
    if attr.kind == "integer":
        present = ~np.isnan(values)
        not_whole = present & ~(np.isfinite(values) & (values == np.floor(values)))
        if not_whole.any():
            first = int(np.flatnonzero(not_whole)[0])
            raise DataError(
                f"{source}, line {lines[first]}: value {tokens[first]!r} of integer attribute "
                f"{attr.name!r} is not a whole number."
            )
        if not has_missing:
            values = values.astype(np.int64)
    return pd.Series(values, name=attr.name)


def _convert_target(
    attr: _Attribute, tokens: list[str], lines: list[int], source: str
) -> pd.Series:
    """Class labels: 1/0 for KEEL's positive/negative sets, the labels as read otherwise."""
    missing = [t in _MISSING_TOKENS for t in tokens]
    if any(missing):
        lineno = lines[missing.index(True)]
        raise DataError(
            f"{source}, line {lineno}: the class attribute {attr.name!r} is missing "
            "('?' or '<null>'). Every row needs a class label."
        )
    if attr.kind != "nominal":
        return _convert_column(attr, tokens, lines, source)
    _convert_column(attr, tokens, lines, source)  # checks that every label is declared
    if {c.lower() for c in attr.categories} == {_POSITIVE, _NEGATIVE}:
        codes = np.array([t.lower() == _POSITIVE for t in tokens], dtype=np.int64)
        return pd.Series(codes, name=attr.name)
    return pd.Series(tokens, name=attr.name)


def _parse_keel(lines: Iterable[str], source: str) -> tuple[pd.DataFrame, pd.Series]:
    """Parse the lines of a KEEL ``.dat`` file; ``source`` names the file in errors."""
    attributes: list[_Attribute] = []
    inputs: tuple[list[str], int] | None = None
    outputs: tuple[list[str], int] | None = None
    rows: list[list[str]] = []
    row_lines: list[int] = []
    in_data = False

    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("%"):
            continue
        if in_data:
            tokens = [_unquote(t) for t in line.split(",")]
            if len(tokens) != len(attributes):
                raise DataError(
                    f"{source}, line {lineno}: expected {len(attributes)} comma-separated "
                    f"values (one per @attribute), found {len(tokens)}: {short_repr(line)}."
                )
            rows.append(tokens)
            row_lines.append(lineno)
            continue
        if not line.startswith("@"):
            raise DataError(
                f"{source}, line {lineno}: found {short_repr(line)} before the @data line. "
                "The header holds only lines that start with '@'."
            )
        keyword = re.match(r"@[A-Za-z]+", line)
        keyword = keyword.group(0).lower() if keyword else line
        if keyword == "@relation":
            continue
        if keyword == "@attribute":
            attr = _parse_attribute(line, lineno, source)
            if any(a.name == attr.name for a in attributes):
                raise DataError(
                    f"{source}, line {lineno}: attribute {attr.name!r} is declared twice."
                )
            attributes.append(attr)
        elif keyword in ("@inputs", "@input"):
            inputs = (_split_names(line[len(keyword) :]), lineno)
        elif keyword in ("@outputs", "@output"):
            outputs = (_split_names(line[len(keyword) :]), lineno)
        elif keyword == "@data":
            if not attributes:
                raise DataError(
                    f"{source}, line {lineno}: @data comes before any @attribute declaration."
                )
            in_data = True
        else:
            raise DataError(
                f"{source}, line {lineno}: unknown header keyword {short_repr(keyword)}. "
                "Expected @relation, @attribute, @inputs, @outputs or @data."
            )

    if not in_data:
        raise DataError(
            f"{source}: no @data line found. A KEEL file declares its attributes, then a line "
            "'@data', then one comma-separated row per line."
        )

    by_name = {a.name: a for a in attributes}

    def lookup(declared: tuple[list[str], int], what: str) -> list[_Attribute]:
        names_, lineno = declared
        unknown = [n for n in names_ if n not in by_name]
        if unknown:
            raise DataError(
                f"{source}, line {lineno}: {what} names undeclared attribute(s) {unknown}. "
                f"Declared attributes: {list(by_name)}."
            )
        return [by_name[n] for n in names_]

    if outputs is not None:
        targets = lookup(outputs, "@outputs")
        if len(targets) != 1:
            raise DataError(
                f"{source}, line {outputs[1]}: @outputs must name exactly one class attribute. "
                f"Received: {outputs[0]}."
            )
        target = targets[0]
    else:
        target = attributes[-1]
    if inputs is not None:
        features = [a for a in lookup(inputs, "@inputs") if a.name != target.name]
    else:
        features = [a for a in attributes if a.name != target.name]

    position = {a.name: j for j, a in enumerate(attributes)}

    def column(attr: _Attribute) -> list[str]:
        j = position[attr.name]
        return [row[j] for row in rows]

    X = pd.DataFrame(
        {a.name: _convert_column(a, column(a), row_lines, source) for a in features},
        index=pd.RangeIndex(len(rows)),
        columns=[a.name for a in features],
    )
    y = _convert_target(target, column(target), row_lines, source)
    return X, y


def _decode(data: bytes) -> str:
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def read_keel(path: str | os.PathLike[str]) -> tuple[pd.DataFrame, pd.Series]:
    """Read a dataset in KEEL's ARFF-like ``.dat`` format (plain text or gzip).

    Parameters
    ----------
    path : str or path-like
        A KEEL ``.dat`` file, or its gzip (recognised by content, whatever the suffix).

    Returns
    -------
    X : pandas.DataFrame
        One column per input attribute, in declaration order (or in ``@inputs`` order when
        the file has that line), with a ``RangeIndex``. ``real`` and ``numeric``
        attributes become float64; ``integer`` attributes become int64, or float64 when
        they have missing values; nominal attributes ``{A, B, ...}`` become pandas
        ``category`` columns whose categories are the declared values, as strings. Missing
        values (``?`` or ``<null>``) are NaN.
    y : pandas.Series
        The class attribute: the one named by ``@outputs``, else the last attribute, and
        named after it. When its declared values are exactly ``positive`` and ``negative``
        (KEEL's imbalanced collection), ``y`` is int64 with 1 for ``positive`` (the minority)
        and 0 for ``negative``; otherwise it holds the labels as read (strings for a
        nominal class).

    Raises
    ------
    DataError
        Naming the file and line: a row with the wrong number of values, a nominal value
        that is not declared, a non-numeric value in a numeric attribute, a missing class
        label, an unsupported attribute type, or no ``@data`` line.

    Examples
    --------
    >>> from balanceflow.datasets import read_keel
    >>> X, y = read_keel("new-thyroid1.dat")  # doctest: +SKIP
    >>> X.shape, int(y.sum())  # doctest: +SKIP
    ((215, 5), 35)
    """
    path = os.fspath(path)
    with open(path, "rb") as handle:
        text = _decode(handle.read())
    return _parse_keel(text.splitlines(), source=path)


# --------------------------------------------------------------------------- shipped sets


def _data_file(filename: str):
    return resources.files(__package__).joinpath("data").joinpath(filename)


def names() -> list[str]:
    """Names of the shipped KEEL datasets, ordered by imbalance ratio, smallest first.

    Examples
    --------
    >>> from balanceflow import datasets
    >>> datasets.names()[0], datasets.names()[-1]
    ('wisconsin', 'kddcup-rootkit-imap_vs_back')
    """
    return list(_DOMAINS)


def _check_name(name: object) -> str:
    if isinstance(name, str) and name in _DOMAINS:
        return name
    valid = names()
    hint = did_you_mean(name, valid)
    raise InvalidParameterError(
        f"`name` must be one of the shipped datasets {valid}. "
        f"Received: name={short_repr(name)}.{hint}"
    )


@functools.cache  # lru_cache without a size bound
def _load_cached(name: str) -> tuple[pd.DataFrame, pd.Series]:
    data = _data_file(f"{name}.dat.gz").read_bytes()
    return _parse_keel(_decode(data).splitlines(), source=f"{name}.dat.gz (shipped)")


def load(name: str) -> tuple[pd.DataFrame, pd.Series]:
    """Load one of the shipped KEEL datasets (no network access).

    Parameters
    ----------
    name : str
        One of :func:`names`.

    Returns
    -------
    X : pandas.DataFrame
        The input attributes: float64 / int64 numeric columns and ``category`` columns for
        nominal attributes (see :func:`read_keel`). A fresh copy on every call.
    y : pandas.Series
        int64, 1 for the minority class (KEEL's ``positive``) and 0 for the majority class,
        named ``"Class"``.

    Raises
    ------
    InvalidParameterError
        If ``name`` is not a shipped dataset; the message lists the valid names and suggests
        the closest one.

    Examples
    --------
    >>> from balanceflow import datasets
    >>> X, y = datasets.load("new-thyroid1")
    >>> X.shape, int(y.sum()), int((y == 0).sum())
    ((215, 5), 35, 180)
    """
    X, y = _load_cached(_check_name(name))
    return X.copy(deep=True), y.copy(deep=True)


@functools.cache  # lru_cache without a size bound
def _describe_cached() -> pd.DataFrame:
    records = []
    for name, domain in _DOMAINS.items():
        X, y = _load_cached(name)
        counts = y.value_counts()
        minority, majority = int(counts.get(1, 0)), int(counts.get(0, 0))
        records.append(
            {
                "name": name,
                "domain": domain,
                "rows": len(X),
                "features": X.shape[1],
                "nominal_features": sum(
                    isinstance(dtype, pd.CategoricalDtype) for dtype in X.dtypes
                ),
                "minority": minority,
                "majority": majority,
                "classes": int(y.nunique()),
                "imbalance_ratio": round(majority / minority, 2),
            }
        )
    return pd.DataFrame.from_records(records)


def describe() -> pd.DataFrame:
    """One row per shipped dataset: its size, nominal features and class imbalance.

    The figures are computed from the loaded data. Columns: ``name``, ``domain``,
    ``rows``, ``features``, ``nominal_features``, ``minority`` and ``majority`` (class
    counts), ``classes`` and ``imbalance_ratio`` (majority / minority, 2 decimals).

    Examples
    --------
    >>> from balanceflow import datasets
    >>> table = datasets.describe()
    >>> table.loc[table["name"] == "vowel0", ["rows", "minority", "imbalance_ratio"]]
       rows  minority  imbalance_ratio
    2   988        90             9.98
    """
    return _describe_cached().copy(deep=True)


def description(name: str) -> str:
    """KEEL's description of a shipped dataset (its ``-names.txt``), or a short summary.

    Examples
    --------
    >>> from balanceflow import datasets
    >>> datasets.description("flare-F").splitlines()[0]
    'Solar Flare (Imbalanced: F vs rest) data set'
    """
    name = _check_name(name)
    text_file = _data_file(f"{name}-names.txt")
    if text_file.is_file():
        return text_file.read_text(encoding="utf-8")
    return (
        f"{name} ({_DOMAINS[name]}): a binary imbalanced dataset from the KEEL imbalanced "
        "data repository. KEEL ships no description file for it; see "
        "balanceflow.datasets.describe() for its size and class counts."
    )
