"""User strategies from a TOML file.

```toml
[strategies.under_half]
sampler = "under"
sampling_strategy = 0.5          # minority / majority after resampling
description = "milder under-sampling"

[strategies.focal_mild]
loss = "focal"
loss_options = { gamma = 1.0 }
tune_threshold = "f1"            # also tune its decision threshold (a Tuned strategy)

[strategies.weighted_vote]
members = ["class_weight", "under_half"]   # an Ensemble
combine = "hard"
```
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from balanceflow._validation import did_you_mean, short_repr
from balanceflow.exceptions import InvalidParameterError
from balanceflow.strategies._strategy import PRESETS, BaseStrategy, Ensemble, Strategy

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["load_config"]

# key -> (accepted types, what to say)
_FIELDS: dict[str, tuple[tuple[type, ...], str]] = {
    "sampler": ((str,), "a sampler name such as 'over' or 'under'"),
    "sampling_strategy": (
        (float, int, str, dict),
        "a float, a keyword or a {class = count} table",
    ),
    "class_weight": ((str,), "a class weight method such as 'balanced'"),
    "loss": ((str,), "a loss name such as 'focal'"),
    "loss_options": ((dict,), "a table of the loss's arguments"),
    "deferred_reweighting": ((float, int), "a share of the epochs in [0, 1)"),
    "pipeline": ((str,), "'under', 'over' or 'interpolate'"),
    "pipeline_options": ((dict,), "a table of balanced_dataset arguments"),
    "tune_threshold": ((str,), "a threshold objective such as 'g_mean'"),
    "members": ((list,), "a list of strategy names"),
    "combine": ((str,), "'soft' or 'hard'"),
    "description": ((str,), "text"),
}

# Keys that only an ensemble (``members``) takes, and those only a single strategy takes.
_ENSEMBLE_KEYS = {"members", "combine"}
_SINGLE_KEYS = set(_FIELDS) - _ENSEMBLE_KEYS - {"description", "tune_threshold"}


def _line_of(text: str, section: str | None, key: str) -> int | None:
    """1-based line of ``key = ...`` (inside ``[section]`` when given), for messages."""
    lines = text.splitlines()
    inside = section is None
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith("["):
            inside = section is not None and stripped.strip("[] ") == section
            continue
        if inside and re.match(rf"^\s*\"?{re.escape(key)}\"?\s*=", line):
            return number
        if section is not None and stripped.strip("[] ") == section and key is None:
            return number
    return None


def _where(path: Path, text: str, section: str | None, key: str) -> str:
    line = _line_of(text, section, key)
    return f"{path}:{line}" if line else str(path)


def load_config(path: str | Path) -> list[BaseStrategy]:
    """Read the ``[strategies.NAME]`` tables of a TOML file into strategies.

    A table with ``members`` is an :class:`Ensemble`, one without a :class:`Strategy`;
    ``tune_threshold = "OBJECTIVE"`` wraps either in :class:`Tuned` (named ``NAME+tuned``).
    A ``sampling_strategy`` table maps class labels to counts (TOML keys are strings: a
    key that reads as an integer is taken as that integer label).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise InvalidParameterError(
            f"Cannot read the config file {str(path)!r}: {err.strerror}."
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InvalidParameterError(f"{path} is not valid TOML: {err}.") from None
    for key in data:
        if key != "strategies":
            raise InvalidParameterError(
                f"{_where(path, text, None, key)}: unknown top-level key {key!r}. The config "
                f"holds [strategies.NAME] tables.{did_you_mean(key, ['strategies'])}"
            )
    tables = data.get("strategies", {})
    if not isinstance(tables, dict) or not tables:
        raise InvalidParameterError(f"{path} defines no [strategies.NAME] table.")
    strategies = []
    for name, table in tables.items():
        section = f"strategies.{name}"
        if not isinstance(table, dict):
            raise InvalidParameterError(
                f"{_where(path, text, None, name)}: `strategies.{name}` must be a table."
            )
        if name in PRESETS:
            raise InvalidParameterError(
                f"{_where(path, text, section, '')}: {name!r} is a built-in strategy; give "
                "yours another name."
            )
        for key, value in table.items():
            if key not in _FIELDS:
                raise InvalidParameterError(
                    f"{_where(path, text, section, key)}: unknown key {key!r} in "
                    f"[{section}]. Use {sorted(_FIELDS)}.{did_you_mean(key, _FIELDS)}"
                )
            types, wanted = _FIELDS[key]
            if not isinstance(value, types) or isinstance(value, bool):
                raise InvalidParameterError(
                    f"{_where(path, text, section, key)}: `{key}` in [{section}] must be "
                    f"{wanted}. Received: {key}={short_repr(value)}."
                )
        options = dict(table)
        if "sampling_strategy" in options and isinstance(
            options["sampling_strategy"], dict
        ):
            options["sampling_strategy"] = {
                _label_key(k): v for k, v in options["sampling_strategy"].items()
            }
        if _ENSEMBLE_KEYS & options.keys() and _SINGLE_KEYS & options.keys():
            mixed = sorted(_SINGLE_KEYS & options.keys())
            raise InvalidParameterError(
                f"{_where(path, text, section, mixed[0])}: [{section}] is an ensemble "
                f"(members) and also sets {mixed}; set those on its member strategies."
            )
        objective = options.pop("tune_threshold", None)
        try:
            if "members" in options:
                strategy: BaseStrategy = Ensemble(
                    name, options.pop("members"), **options
                )
            elif "combine" in options:
                raise InvalidParameterError(
                    "`combine` applies to ensembles only; add `members`."
                )
            else:
                strategy = Strategy(name=name, **options)
            if objective is not None:
                strategy = strategy.tuned(objective)
        except InvalidParameterError as err:
            raise InvalidParameterError(
                f"{_where(path, text, section, '')}: {err}"
            ) from None
        strategies.append(strategy)
    return strategies


def _label_key(key: str) -> str | int:
    """A TOML table key as a class label: '1' is the int label 1, 'fraud' stays a str."""
    try:
        return int(key)
    except ValueError:
        return key
