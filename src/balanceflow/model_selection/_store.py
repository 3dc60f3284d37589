"""A results store that survives interruption: one JSON line per finished trial."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from balanceflow.exceptions import InvalidParameterError

__all__ = ["ResultsStore", "config_hash"]

STORE_NAME = "trials.jsonl"


def config_hash(payload: Any) -> str:
    """A short, stable hash of a JSON-serialisable configuration."""
    text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class ResultsStore:
    """Finished trials of a comparison, appended to ``DIR/trials.jsonl``.

    Each line is one trial, keyed by a hash of everything that determines its result (the
    data, the settings, the strategy, the repeat and the fold). A line is written with one
    ``write`` call and flushed to disk before the next trial starts; a line cut short by a
    crash is not valid JSON and is ignored (and rewritten) on the next run, so a killed run
    resumes where it stopped and never counts a trial twice.
    """

    def __init__(self, directory: str | os.PathLike[str]):
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            probe = self.directory / ".write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as err:
            raise InvalidParameterError(
                f"The output directory {str(self.directory)!r} is not writable ({err.strerror}). "
                "Pass another --out directory."
            ) from None
        self.path = self.directory / STORE_NAME

    def load(self) -> dict[str, dict[str, Any]]:
        """Finished trials by key; a torn last line is dropped."""
        trials: dict[str, dict[str, Any]] = {}
        if not self.path.exists():
            return trials
        with self.path.open("r", encoding="utf-8") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(record, dict) and "key" in record:
                    trials[record["key"]] = record
        return trials

    def append(self, record: dict[str, Any]) -> None:
        """Append one finished trial and flush it to disk."""
        line = json.dumps(record, default=_to_json, separators=(",", ":")) + "\n"
        self._repair_tail()
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def _repair_tail(self) -> None:
        """Cut a torn last line (a crash mid-write) so the next record starts cleanly."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with self.path.open("rb+") as handle:
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) == b"\n":
                return
            data = handle.seek(0) or handle.read()
            handle.truncate(data.rfind(b"\n") + 1)


def _to_json(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
