"""Evaluation reports as one self-contained HTML file and PNG figures (no TensorFlow).

- :func:`from_predictions`: one model's probabilities on labelled rows.
- :func:`from_compare`: a :func:`balanceflow.compare` result, one curve per strategy and the
  leaderboard on top.

Both return a :class:`Report`; ``report.to_html(path)`` writes the page (figures embedded as
base64 PNG, every string from the data escaped, written atomically) and
``report.save_figures(directory)`` writes one PNG per figure. matplotlib draws on its Agg
canvas without pyplot, so the user's plotting backend is left alone.
"""

from balanceflow.report._build import from_compare, from_predictions
from balanceflow.report._document import FigureBlock, Report, Section, Table

__all__ = [
    "FigureBlock",
    "Report",
    "Section",
    "Table",
    "from_compare",
    "from_predictions",
]
