"""User strategies from a TOML file.

```toml
[strategies.under_half]
sampler = "under"
sampling_strategy = 0.5          # minority / majority after resampling
description = "milder under-sampling"

[strategies.weighted_vote]
members = ["class_weight", "under_half"]
combine = "hard"
```
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from balanceflow._validation import did_you_mean, short_repr
from balanceflow.exceptions import InvalidParameterError
from balanceflow.strategies._strategy import PRESETS, Strategy

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
    "members": ((list,), "a list of strategy names"),
    "combine": ((str,), "'soft', 'hard' or 'weighted'"),
    "description": ((str,), "text"),
}


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


def load_config(path: str | Path) -> list[Strategy]:
    """Read the ``[strategies.NAME]`` tables of a TOML file into Strategy objects."""
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
        if "members" in options:
            options["members"] = tuple(options["members"])
        try:
            strategies.append(Strategy(name=name, **options))
        except InvalidParameterError as err:
            raise InvalidParameterError(
                f"{_where(path, text, section, '')}: {err}"
            ) from None
    return strategies
