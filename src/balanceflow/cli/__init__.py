"""The ``balanceflow`` command-line tool (Typer + Rich), a thin layer over the public API."""

from balanceflow.cli._app import DEFAULT_DATASET, app, main

__all__ = ["DEFAULT_DATASET", "app", "main"]
