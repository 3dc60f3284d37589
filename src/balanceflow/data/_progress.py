"""Progress of long passes: a callback protocol, with a Rich bar on terminals only."""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any, Protocol

from balanceflow._validation import short_repr
from balanceflow.exceptions import InvalidParameterError

__all__ = ["ProgressCallback", "progress_reporter"]


class ProgressCallback(Protocol):
    """Called as work advances: ``progress(done, total, description)``.

    ``total`` is None when the length of the work is not known in advance.
    """

    def __call__(self, done: int, total: int | None, description: str) -> None: ...


@contextmanager
def _rich_bar():
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("", total=None)

        def update(done: int, total: int | None, description: str) -> None:
            bar.update(task, completed=done, total=total, description=description)

        yield update


@contextmanager
def progress_reporter(progress: Any):
    """Yield a ``ProgressCallback`` for ``progress``: "auto", None/False, True or a callable.

    "auto" shows a Rich bar when standard error is a terminal and stays quiet otherwise
    (logs, CI, notebooks' captured output); True always shows it.
    """
    if progress is None or progress is False:
        yield lambda done, total, description: None
    elif progress == "auto" or progress is True:
        if progress is True or sys.stderr.isatty():
            with _rich_bar() as update:
                yield update
        else:
            yield lambda done, total, description: None
    elif callable(progress):
        callback: Callable[..., Any] = progress
        yield callback
    else:
        raise InvalidParameterError(
            "`progress` must be 'auto', True, False, None or a callable "
            f"progress(done, total, description). Received: progress={short_repr(progress)}."
        )
