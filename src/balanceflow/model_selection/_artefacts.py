"""The shipped model: ``FittedModel``, and how it is saved and loaded.

The model card travels inside the ``.keras`` file (an archive entry Keras ignores), so one
rename replaces the model and its card together; a copy of the card is written beside the
model for people.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from balanceflow._validation import short_repr, writable_folder
from balanceflow.exceptions import DataError, InvalidParameterError
from balanceflow.model_selection._schema import TabularSchema

__all__ = [
    "CARD_ENTRY",
    "FittedModel",
    "card_path",
    "check_card",
    "check_model_path",
    "load_fitted",
]

CARD_SUFFIX = ".card.json"
#: Where the model card lives inside the .keras archive (Keras ignores the entry).
CARD_ENTRY = "balanceflow-card.json"


def card_path(model_path: str | os.PathLike[str]) -> Path:
    """The model card that goes with ``model.keras``: ``model.card.json``."""
    path = Path(model_path)
    return path.with_name(path.name.removesuffix(".keras") + CARD_SUFFIX)


def check_model_path(path: str | os.PathLike[str]) -> Path:
    """Check, before any training, that a model can be written at ``path``."""
    path = Path(path)
    if path.suffix != ".keras":
        raise InvalidParameterError(
            f"The model file must end with '.keras'. Received: {str(path)!r}. "
            f"Use e.g. {str(path.with_suffix('.keras'))!r}."
        )
    if path.is_dir():
        raise InvalidParameterError(
            f"The model path {str(path)!r} is a directory. Give a file name ending "
            "with '.keras'."
        )
    if writable_folder(path.parent) is None:
        raise InvalidParameterError(
            f"Cannot write the model to {str(path)!r}: {str(path.parent)!r} is not in a "
            "writable directory. Choose another --out."
        )
    return path


@dataclass
class FittedModel:
    """A trained strategy, its preprocessing and its decision rule, ready to predict.

    Attributes
    ----------
    model : keras.Model
        Takes the preprocessed features, outputs (n, n_classes) probabilities.
    schema : TabularSchema
        The input columns and their fitted preprocessing.
    classes : list
        Labels in class-index order.
    threshold : float or None
        Binary only: a row is the positive class (index ``threshold_class``, the card's
        ``pos_label``) when that class's probability is >= threshold.
    card : dict
        The model card (strategy, metrics with intervals, priors, schema, settings).
    oof_proba : ndarray or None
        (n, n_classes) out-of-fold probabilities of the training rows, those the threshold
        was tuned on (row i scored by models that never trained on it); ``None`` with a
        holdout and after :func:`load_fitted`.
    class_scale : ndarray or None
        Multi-class only: the decision is the argmax of ``P(k) * class_scale[k]``
        (``1 / prior_k`` for calibrated probabilities); None: the plain argmax.
    """

    model: Any
    schema: TabularSchema
    classes: list[Any]
    threshold: float | None
    threshold_class: int | None
    card: dict[str, Any] = field(repr=False)
    oof_proba: np.ndarray | None = field(default=None, repr=False)
    class_scale: np.ndarray | None = field(default=None, repr=False)

    def predict_proba(self, X: pd.DataFrame, source: str = "the input") -> np.ndarray:
        from balanceflow._models import predict_proba

        features = self.schema.transform(X, source)
        return predict_proba(self.model, features, len(self.classes))

    def predict(self, X: pd.DataFrame, source: str = "the input") -> np.ndarray:
        """Labels: the tuned threshold for binary problems; else the most probable class
        (relative to its prior when the card has a ``class_scale``)."""
        return self.labels_from_proba(self.predict_proba(X, source))

    def labels_from_proba(self, proba: np.ndarray) -> np.ndarray:
        """The labels that this model's decision rule gives these probabilities."""
        if self.threshold is None:
            scale = 1.0 if self.class_scale is None else np.asarray(self.class_scale)
            codes = (proba * scale).argmax(axis=1)
        else:
            positive = self.threshold_class
            codes = np.where(
                proba[:, positive] >= self.threshold, positive, 1 - positive
            )
        return np.asarray(self.classes, dtype=object)[codes]

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``path`` (.keras) with its model card inside, and a copy of the card
        beside it for people (``model.card.json``); return the copy's path.

        The model and the card balanceflow reads travel in one file, replaced by one
        rename: a reader sees the old model or the new one, never a model with another
        model's card, and an interrupted save leaves no temporary file beside it.
        """
        path = check_model_path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.card, indent=2, default=_json_default)
        with (
            tempfile.TemporaryDirectory() as scratch
        ):  # the system's, not path's folder
            staged = Path(scratch) / "model.keras"
            self.model.save(staged)
            with zipfile.ZipFile(staged, "a") as archive:
                archive.writestr(CARD_ENTRY, text)
            payload = staged.read_bytes()
        _replace_atomically(path, payload)
        copy = card_path(path)
        _replace_atomically(copy, text.encode("utf-8"), may_vanish=True)
        return copy


def _replace_atomically(
    path: Path, payload: bytes, *, may_vanish: bool = False
) -> None:
    """Put ``payload`` at ``path``.

    On Linux the bytes go to an unnamed file first (``O_TMPFILE``), so a process killed
    while writing leaves nothing behind. The file is then named: by a rename from a hidden
    name (a reader always finds the old file or the new one; only a kill in the moment
    between naming and renaming can leave the hidden name, which the next save removes),
    or, with ``may_vanish`` (a copy for people), by removing the old file and naming the
    new one in its place (no hidden name at all). Elsewhere a hidden file is written and
    renamed.
    """
    _remove_stale_temporaries(path)
    hidden = path.parent / f".{path.name}.{os.getpid()}.tmp"
    try:
        target = path if may_vanish else hidden
        if _write_unnamed(path.parent, target, payload, replace=may_vanish):
            if target == path:
                return
        else:
            with open(hidden, "wb") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(hidden, path)
    finally:
        if hidden.exists():
            hidden.unlink()


def _remove_stale_temporaries(path: Path) -> None:
    """Remove the hidden files of saves to ``path`` whose process is gone."""
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        pid = stale.name.removeprefix(f".{path.name}.").removesuffix(".tmp")
        try:
            os.kill(int(pid), 0)
        except (ValueError, ProcessLookupError):
            stale.unlink(missing_ok=True)
        except PermissionError:
            pass  # another user's live process


def _write_unnamed(
    folder: Path, target: Path, payload: bytes, *, replace: bool
) -> bool:
    """Write ``payload`` to an O_TMPFILE file in ``folder`` and name it ``target`` (first
    removing an existing ``target`` when ``replace``); False where the system cannot."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None:
        return False
    try:
        fd = os.open(folder, flag | os.O_WRONLY, 0o644)
    except OSError:
        return False
    folder_fd = os.open(folder, os.O_RDONLY)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
            if replace:
                target.unlink(missing_ok=True)
            try:  # linkat(AT_SYMLINK_FOLLOW) of the open file into the folder
                os.link(
                    f"/proc/self/fd/{handle.fileno()}",
                    target.name,
                    dst_dir_fd=folder_fd,
                    follow_symlinks=True,
                )
            except OSError:
                return False
        return True
    finally:
        os.close(folder_fd)


def load_fitted(path: str | os.PathLike[str]) -> FittedModel:
    """Load a model saved by ``balanceflow fit``: the .keras file and the card inside it.

    A damaged model or card is one clear error. The copy of the card beside the model is
    for people: if it differs from the card inside (edited, or from another model),
    balanceflow warns and uses the card inside.
    """
    import warnings

    import keras

    path = Path(path)
    if not path.is_file():
        raise DataError(f"Model file not found: {str(path)!r}.")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            text = (
                archive.read(CARD_ENTRY).decode("utf-8")
                if CARD_ENTRY in names
                else None
            )
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError) as err:
        raise DataError(
            f"{str(path)!r} is not a readable .keras model (damaged or truncated: "
            f"{err}). Write it again with `balanceflow fit`."
        ) from None
    beside = card_path(path)
    if text is None:  # written by balanceflow before the card moved inside the model
        if not beside.exists():
            raise DataError(
                f"{str(path)!r} holds no model card, and none is beside it "
                f"({str(beside)!r}): it was not written by `balanceflow fit`, or is "
                "damaged. The card holds the preprocessing and the decision threshold."
            )
        text = beside.read_text(encoding="utf-8", errors="replace")
    elif (
        beside.exists() and beside.read_text(encoding="utf-8", errors="replace") != text
    ):
        warnings.warn(
            f"{str(beside)!r} differs from the card inside {str(path)!r} (edited, or left "
            "by another model); using the card inside the model. To change the decision, "
            "run `balanceflow fit` again.",
            UserWarning,
            stacklevel=2,
        )
    data = check_card(text, str(path))
    try:
        model = keras.models.load_model(path, safe_mode=True)
    except (ValueError, OSError, TypeError, KeyError, zipfile.BadZipFile) as err:
        raise DataError(
            f"{str(path)!r} could not be loaded as a Keras model ({type(err).__name__}: "
            f"{str(err).splitlines()[0][:200] if str(err) else 'no detail'}). Write it "
            "again with `balanceflow fit`."
        ) from None
    decision = data["decision"]
    return FittedModel(
        model=model,
        schema=TabularSchema.from_dict(data["schema"]),
        classes=data["classes"],
        threshold=decision.get("threshold"),
        threshold_class=decision.get("threshold_class_index"),
        card=data,
        class_scale=None
        if decision.get("class_scale") is None
        else np.asarray(decision["class_scale"], dtype=np.float64),
    )


def check_card(text: str, source: str) -> dict[str, Any]:
    """The model card as a dict, checked against what ``fit`` writes (types, lengths,
    ranges), or a DataError that says what is wrong."""

    def fail(problem: str) -> None:
        raise DataError(
            f"The model card of {source!r} is damaged: {problem}. Write the model again "
            "with `balanceflow fit`."
        )

    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        fail(f"not valid JSON ({err.msg} at line {err.lineno})")
    if not isinstance(data, dict) or data.get("format") != "balanceflow-model-card/1":
        fail("it is not a balanceflow model card (format balanceflow-model-card/1)")
    classes = data.get("classes")
    if not isinstance(classes, list) or len(classes) < 2:
        fail(f"`classes` must list at least 2 labels, found {short_repr(classes)}")
    decision = data.get("decision")
    if not isinstance(decision, dict):
        fail("`decision` is missing")
    threshold = decision.get("threshold")
    index = decision.get("threshold_class_index")
    if len(classes) == 2:
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
            fail(
                f"the binary `threshold` must be a number, found {short_repr(threshold)}"
            )
        if not 0.0 <= threshold <= 1.0:
            fail(f"`threshold` must lie in [0, 1], found {threshold!r}")
        if index not in (0, 1) or isinstance(index, bool):
            fail(f"`threshold_class_index` must be 0 or 1, found {short_repr(index)}")
    elif threshold is not None or index is not None:
        fail(f"a {len(classes)}-class model decides by argmax, but a threshold is set")
    scale = decision.get("class_scale")
    if scale is not None and (
        len(classes) == 2
        or not isinstance(scale, list)
        or len(scale) != len(classes)
        or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < 1e12
            for v in scale
        )
    ):
        fail(
            "`class_scale` must be absent or, for a multi-class model, hold one "
            f"positive number per class; found {short_repr(scale)}"
        )
    priors = data.get("class_priors")
    if (
        not isinstance(priors, list)
        or len(priors) != len(classes)
        or not all(isinstance(p, (int, float)) and 0 <= p <= 1 for p in priors)
    ):
        fail("`class_priors` must hold one share in [0, 1] per class")
    if not isinstance(data.get("schema"), dict):
        fail("`schema` is missing")
    try:
        TabularSchema.from_dict(data["schema"])
    except (TypeError, ValueError, KeyError) as err:
        fail(f"`schema` does not describe the input columns ({err})")
    return data


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
