"""The report document: sections of tables and figures, written as HTML or PNG files.

Every string that reaches the HTML goes through :func:`html.escape` (class labels, strategy
names, titles and settings can come from the user's data); figures are embedded as base64
PNG, so the page is one self-contained file with no script.
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["FigureBlock", "Report", "Section", "Table", "atomic_write"]


@dataclass
class Table:
    """A table: a header row and rows of cells (strings or numbers)."""

    columns: list[str]
    rows: list[list[Any]]
    caption: str = ""


@dataclass
class FigureBlock:
    """A matplotlib figure; ``key`` names its PNG file (fixed names, never from data)."""

    key: str
    figure: Figure
    caption: str = ""
    wide: bool = False  # take the full width of the page


@dataclass
class Section:
    """One part of the report, with an ``id`` to link to."""

    id: str
    title: str
    blocks: list[Table | FigureBlock | str] = field(default_factory=list)


def _escape(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _render_cell(value: Any) -> str:
    numeric = isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
    css = "" if numeric else ' class="text"'
    return f"<td{css}>{_escape(_cell(value))}</td>"


def png_bytes(figure: Figure) -> bytes:
    """Render a figure to PNG with the Agg canvas (the user's pyplot backend is untouched)."""
    if not isinstance(figure.canvas, FigureCanvasAgg):
        FigureCanvasAgg(figure)  # attaches itself to the figure
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def atomic_write(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder + os.replace,
    so a reader never sees a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1100px; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 1.8em; }
nav a { margin-right: 1em; }
.meta { color: #555; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.5em; text-align: right; }
th:first-child, td:first-child, td.text { text-align: left; }
th { background: #f3f3f3; }
.note { color: #555; font-size: 0.9em; margin-top: -0.4em; }
figure { display: inline-block; width: calc(50% - 1.5em); margin: 0.5em 1em 0.5em 0;
         vertical-align: top; }
figure.wide { width: 100%; }
figure img { width: 100%; }
figcaption { color: #555; font-size: 0.9em; }
footer { margin-top: 3em; color: #888; font-size: 0.85em; }
"""


class Report:
    """An evaluation report: sections of tables and figures.

    Build one with :func:`balanceflow.report.from_predictions` or
    :func:`balanceflow.report.from_compare`, then write it with :meth:`to_html` (one
    self-contained file) or :meth:`save_figures` (one PNG per figure).

    Attributes
    ----------
    title : str
    subtitle : str
    sections : list of Section
        Each with an ``id`` (the HTML anchor), a title and its tables and figures.
    """

    def __init__(self, title: str, sections: list[Section], subtitle: str = ""):
        self.title = title
        self.subtitle = subtitle
        self.sections = sections

    @property
    def figures(self) -> dict[str, Figure]:
        """Every figure by key (its PNG file name without ``.png``), in report order."""
        return {
            block.key: block.figure
            for section in self.sections
            for block in section.blocks
            if isinstance(block, FigureBlock)
        }

    def render_html(self) -> str:
        """The report as one HTML page (a string)."""
        from balanceflow import __version__

        parts = [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_escape(self.title)}</title>",
            f"<style>{_STYLE}</style>",
            "</head>",
            "<body>",
            "<header>",
            f"<h1>{_escape(self.title)}</h1>",
        ]
        if self.subtitle:
            parts.append(f'<p class="meta">{_escape(self.subtitle)}</p>')
        links = " ".join(
            f'<a href="#{_escape(s.id)}">{_escape(s.title)}</a>' for s in self.sections
        )
        parts += [f"<nav>{links}</nav>", "</header>", "<main>"]
        for section in self.sections:
            parts.append(f'<section id="{_escape(section.id)}">')
            parts.append(f"<h2>{_escape(section.title)}</h2>")
            for block in section.blocks:
                parts.append(self._render_block(block))
            parts.append("</section>")
        parts += [
            "</main>",
            f"<footer>Generated by balanceflow {_escape(__version__)}.</footer>",
            "</body>",
            "</html>",
        ]
        return "\n".join(parts) + "\n"

    @staticmethod
    def _render_block(block: Table | FigureBlock | str) -> str:
        if isinstance(block, str):
            return f"<p>{_escape(block)}</p>"
        if isinstance(block, FigureBlock):
            data = base64.b64encode(png_bytes(block.figure)).decode("ascii")
            caption = (
                f"<figcaption>{_escape(block.caption)}</figcaption>"
                if block.caption
                else ""
            )
            wide = ' class="wide"' if block.wide else ""
            return (
                f'<figure id="figure-{_escape(block.key)}"{wide}>'
                f'<img alt="{_escape(block.caption or block.key)}" '
                f'src="data:image/png;base64,{data}">{caption}</figure>'
            )
        head = "".join(f"<th>{_escape(c)}</th>" for c in block.columns)
        body = "".join(
            "<tr>" + "".join(_render_cell(v) for v in row) + "</tr>"
            for row in block.rows
        )
        note = f'<p class="note">{_escape(block.caption)}</p>' if block.caption else ""
        return (
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{note}"
        )

    def to_html(self, path: str | os.PathLike) -> Path:
        """Write the report to ``path`` as one self-contained HTML file, atomically.

        Images are embedded as base64 PNG; the page loads nothing else and runs no script.
        Missing parent folders are created. Returns the path written.
        """
        return atomic_write(path, self.render_html().encode("utf-8"))

    def save_figures(self, directory: str | os.PathLike) -> list[Path]:
        """Write each figure as ``<directory>/<key>.png``; return the paths written."""
        directory = Path(directory)
        return [
            atomic_write(directory / f"{key}.png", png_bytes(figure))
            for key, figure in self.figures.items()
        ]

    def _repr_html_(self) -> str:  # Jupyter
        return self.render_html()

    def __repr__(self) -> str:
        ids = ", ".join(s.id for s in self.sections)
        return f"Report(title={self.title!r}, sections=[{ids}])"
