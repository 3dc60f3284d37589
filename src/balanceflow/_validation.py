"""Input checks shared by every part of balanceflow (numpy only, no TensorFlow).

The error messages follow one pattern: they name the parameter, show the value received and
say how to fix it.
"""

from __future__ import annotations

import numbers
import os
from pathlib import Path
from typing import Any

import numpy as np

from balanceflow.exceptions import DataError, InvalidParameterError

__all__ = [
    "check_consistent_length",
    "check_int",
    "check_probabilities",
    "check_seed",
    "check_target_is_classes",
    "check_targets",
    "derive_seed",
    "did_you_mean",
    "encode_labels",
    "num_rows",
    "short_repr",
    "take_rows",
]


def short_repr(value: Any, limit: int = 80) -> str:
    """``repr`` cut to ``limit`` characters, for error messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def did_you_mean(value: Any, options: Any) -> str:
    """`` Did you mean 'x'?`` for the option closest to ``value``, or an empty string."""
    import difflib

    if not isinstance(value, str):
        return ""
    lowered = {str(option).lower(): option for option in options}
    close = difflib.get_close_matches(value.lower(), list(lowered), n=1, cutoff=0.5)
    return f" Did you mean {lowered[close[0]]!r}?" if close else ""


def is_sparse(X: Any) -> bool:
    """Whether ``X`` is a scipy sparse matrix or array (a DOK matrix is also a dict)."""
    return hasattr(X, "tocsr") and hasattr(X, "nnz")


def num_rows(X: Any, *, name: str = "X") -> int:
    """Number of samples (rows) in ``X``: an array of any rank, a DataFrame, or a dict of arrays."""
    if isinstance(X, dict) and not is_sparse(X):
        if not X:
            raise DataError(
                f"`{name}` is an empty dict. Pass at least one input array."
            )
        lengths = {
            key: num_rows(value, name=f"{name}[{key!r}]") for key, value in X.items()
        }
        if len(set(lengths.values())) > 1:
            raise DataError(
                f"The arrays in `{name}` have different numbers of rows: {lengths}. "
                "Every input of a multi-input model needs one row per sample."
            )
        return next(iter(lengths.values()))
    if hasattr(X, "shape") and len(getattr(X, "shape", ())) > 0:
        return int(X.shape[0])
    try:
        return len(X)
    except TypeError:
        raise DataError(
            f"`{name}` must be an array-like with one row per sample. "
            f"Received: {name} of type {type(X).__name__}."
        ) from None


def check_consistent_length(
    X: Any, y: Any, *, x_name: str = "X", y_name: str = "y"
) -> int:
    """Check that ``X`` and ``y`` have the same number of rows and return it."""
    n_x = num_rows(X, name=x_name)
    n_y = num_rows(y, name=y_name)
    if n_x != n_y:
        raise DataError(
            f"`{x_name}` and `{y_name}` must have the same number of rows. "
            f"Received: {x_name} with {n_x} rows and {y_name} with {n_y} rows."
        )
    return n_x


def _is_missing(value: Any) -> bool:
    """None, a float NaN, or pandas' NA / NaT (recognised without importing pandas)."""
    if value is None:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return type(value).__name__ in {"NAType", "NaTType"}


def check_targets(y: Any, *, name: str = "y", min_classes: int = 2) -> np.ndarray:
    """Validate class labels and return them as a 1-D numpy array.

    Accepts int, bool, float (whole class codes) and string labels, a pandas Series or a
    list, and one-hot / probability rows (2-D, each row summing to 1), which are turned into
    class indices by ``argmax``.
    """
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    elif arr.ndim == 2:
        if not np.issubdtype(arr.dtype, np.number) or not np.allclose(
            arr.sum(axis=1), 1.0
        ):
            raise DataError(
                f"`{name}` is 2-D with shape {arr.shape} but its rows are not one-hot. "
                "Pass one label per row (shape (n,)) or one-hot rows that sum to 1."
            )
        arr = arr.argmax(axis=1)
    elif arr.ndim != 1:
        raise DataError(
            f"`{name}` must hold one label per row (shape (n,)). Received: {name} with shape "
            f"{arr.shape}. For dense targets such as segmentation masks use "
            "balanceflow.class_weight on the flattened mask."
        )
    if arr.shape[0] == 0:
        raise DataError(f"`{name}` is empty. Pass at least one labelled row per class.")
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"`{name}` contains {int(bad.sum())} NaN or inf value(s) (first at row {first}: "
                f"{arr[first]!r}). Remove the unlabelled rows or fill them before resampling."
            )
    elif arr.dtype.kind == "O":
        missing = np.array([_is_missing(v) for v in arr], dtype=bool)
        if missing.any():
            first = int(np.flatnonzero(missing)[0])
            raise DataError(
                f"`{name}` contains {int(missing.sum())} missing label(s) (first at row "
                f"{first}). Remove the unlabelled rows or fill them."
            )
        kinds = {type(v) for v in arr}
        if len(kinds) > 1:
            raise DataError(
                f"`{name}` mixes label types {sorted(k.__name__ for k in kinds)}. "
                "Use one type for all labels (for example all strings)."
            )
    n_classes = len(np.unique(arr))
    if n_classes < min_classes:
        raise DataError(
            f"`{name}` must contain at least {min_classes} classes. Received: {name} with "
            f"{n_classes} class ({short_repr(np.unique(arr).tolist())}). An imbalance remedy "
            "needs examples of every class."
        )
    return arr


def encode_labels(
    y: Any, *, name: str = "y", min_classes: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Map labels to class indices ``0..K-1`` in sorted label order.

    Returns ``(codes, classes)`` where ``classes[codes] == y``. This is the order that
    scikit-learn's ``LabelEncoder`` uses, and the order of the keys of
    :func:`balanceflow.class_weight`.
    """
    arr = check_targets(y, name=name, min_classes=min_classes)
    classes, codes = np.unique(arr, return_inverse=True)
    return codes.astype(np.int64), classes


def check_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """``value`` as an int ``>= minimum``, or an InvalidParameterError naming ``name``."""
    if (
        not isinstance(value, numbers.Integral)
        or isinstance(value, bool)
        or value < minimum
    ):
        raise InvalidParameterError(
            f"`{name}` must be an int >= {minimum}. Received: {name}={short_repr(value)}."
        )
    return int(value)


def check_seed(seed: Any, *, name: str = "seed") -> np.random.Generator:
    """Turn ``seed`` (an int >= 0, None or a numpy Generator) into a numpy Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0:
        return np.random.default_rng(int(seed))
    raise InvalidParameterError(
        f"`{name}` must be a non-negative int, None or a numpy Generator. "
        f"Received: {name}={short_repr(seed)}."
    )


def take_rows(X: Any, indices: np.ndarray) -> Any:
    """Select rows of ``X`` by position, keeping its type.

    pandas objects keep their original index (so duplicated rows show duplicated labels); a
    dict of arrays is indexed input by input; a scipy sparse matrix stays sparse in its
    format; a list becomes a numpy array.
    """
    if is_sparse(X):  # rows through CSR, back in the input's format
        return X.tocsr()[indices].asformat(X.format)
    if isinstance(X, dict):
        return {key: take_rows(value, indices) for key, value in X.items()}
    if hasattr(X, "iloc"):
        return X.iloc[indices]
    return np.asarray(X)[indices]


#: How far outside [0, 1] a probability may stray by floating-point round-off (averaging
#: float32 model outputs, ``1 - p``) and still count as a probability.
PROBA_ROUND_OFF = 1e-6


def check_probabilities(arr: np.ndarray, *, name: str) -> np.ndarray:
    """Check that ``arr`` holds finite probabilities in [0, 1]; return it as float64.

    Values outside [0, 1] by at most :data:`PROBA_ROUND_OFF` (round-off of averaged or
    complemented probabilities, such as 1.0000000000000002) are clipped into it; anything
    further outside is an error, so logits and other scores are never taken silently.
    """
    arr = np.asarray(arr, dtype=np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.argwhere(bad)[0][0])
        raise DataError(
            f"`{name}` contains {int(bad.sum())} NaN or inf value(s) (first at row {first}: "
            f"{short_repr(arr[first].tolist())}). Probabilities must be finite."
        )
    outside = (arr < -PROBA_ROUND_OFF) | (arr > 1.0 + PROBA_ROUND_OFF)
    if outside.any():
        first = int(np.argwhere(outside)[0][0])
        raise DataError(
            f"`{name}` must hold probabilities in [0, 1]; {int(outside.sum())} value(s) are "
            f"outside (first at row {first}: {short_repr(arr[first].tolist())}). If these are "
            "logits, apply a sigmoid or softmax first (or pass from_logits=True where a "
            "function offers it)."
        )
    if (arr < 0.0).any() or (arr > 1.0).any():
        arr = np.clip(arr, 0.0, 1.0)
    return arr


def check_rows_sum_to_one(arr: np.ndarray, *, name: str, hint: str) -> np.ndarray:
    """Refuse (n, n_classes) probabilities whose rows do not sum to 1 (within 1e-3)."""
    sums = arr.sum(axis=1)
    off = np.abs(sums - 1.0) > 1e-3
    if off.any():
        first = int(np.flatnonzero(off)[0])
        raise DataError(
            f"The rows of `{name}` must be probabilities that sum to 1; {int(off.sum())} "
            f"row(s) do not (first at row {first}: sum {sums[first]:.6g}). {hint}"
        )
    return arr


def derive_seed(seed: int, *keys: Any) -> int:
    """A reproducible 31-bit seed derived from ``seed`` and ``keys`` (e.g. a fold and a name).

    Unlike ``hash()``, the result is the same in every process and Python version.
    """
    import zlib

    text = "|".join([str(int(seed))] + [str(key) for key in keys])
    return zlib.crc32(text.encode("utf-8")) & 0x7FFFFFFF


def minority_index(counts: Any) -> int:
    """Index of the least frequent class among those present (``counts > 0``).

    The one tie rule of balanceflow: among equally rare classes, the one with the highest
    index (for sorted labels, the one sorted last: ``1`` of ``{0, 1}``, as scikit-learn's
    default ``pos_label=1``).
    """
    counts = np.asarray(counts)
    present = np.flatnonzero(counts > 0)
    smallest = counts[present].min()
    return int(present[counts[present] == smallest][-1])


def resolve_pos_label(
    classes: Any, counts: Any, pos_label: Any = None, *, name: str = "pos_label"
) -> int | None:
    """Index of the positive class of a binary target, decided once for a whole run.

    ``pos_label`` is a label of ``classes``; ``None`` picks the minority class
    (:func:`minority_index`). Multi-class targets have no positive class: ``None`` is
    returned, and a ``pos_label`` is an error.
    """
    labels = list(np.asarray(classes, dtype=object))
    if len(labels) != 2:
        if pos_label is not None:
            raise InvalidParameterError(
                f"`{name}` applies to binary targets only; y has {len(labels)} classes. "
                f"Received: {name}={short_repr(pos_label)}."
            )
        return None
    if pos_label is None:
        return minority_index(counts)
    for index, label in enumerate(labels):
        comparable = type(label) is type(pos_label) or (
            isinstance(label, numbers.Number) and isinstance(pos_label, numbers.Number)
        )
        if comparable and label == pos_label:  # "1" is not the label 1
            return index
    raise InvalidParameterError(
        f"`{name}` must be one of the classes {short_repr(labels)}. Received: "
        f"{name}={short_repr(pos_label)}."
    )


def check_target_is_classes(labels: np.ndarray, *, name: str = "y") -> None:
    """Refuse a float target with fractional values: it is a quantity, not classes."""
    if labels.dtype.kind != "f":
        return
    fractional = labels != np.round(labels)
    if fractional.any():
        distinct = np.unique(labels)
        raise DataError(
            f"`{name}` looks continuous: {len(distinct)} distinct values, "
            f"{int(fractional.sum())} of them fractional (e.g. {labels[fractional][0]!r}). "
            "balanceflow compares classifiers: pass class labels, or bin the values into "
            "classes first (e.g. pandas.cut)."
        )


def writable_folder(path: Path) -> Path | None:
    """The nearest existing folder at or above ``path`` if a file can be made there,
    else None (it is a file, or not writable)."""
    existing = Path(path)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.is_dir() and os.access(existing, os.W_OK | os.X_OK):
        return existing
    return None
