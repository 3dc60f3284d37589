"""The HTML report: parses, holds every section, embeds its images, escapes data strings,
writes atomically, needs no TensorFlow, and renders in headless Chromium."""

import base64
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from balanceflow.exceptions import InvalidParameterError
from balanceflow.report import Report, from_compare, from_predictions

EVIL = "<script>alert(1)</script>"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PREDICTION_SECTIONS = ["summary", "curves", "confusion", "calibration", "per-class"]
COMPARE_SECTIONS = [
    "leaderboard",
    "curves",
    "confusion",
    "calibration",
    "per-class",
    "settings",
]


class Page(HTMLParser):
    """Collects what the tests look at: tags, section ids, image sources, links, text."""

    def __init__(self):
        super().__init__()
        self.tags, self.sections, self.images, self.links, self.text = (
            [],
            [],
            [],
            [],
            [],
        )

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "section":
            self.sections.append(attrs.get("id"))
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        for key in ("src", "href"):
            if key in attrs and tag != "img":
                self.links.append(attrs[key])

    def handle_data(self, data):
        self.text.append(data)


def parse(path):
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def check_page(path, report, sections):
    raw = path.read_text(encoding="utf-8")
    page = parse(path)
    assert page.sections == sections
    assert "script" not in page.tags and "iframe" not in page.tags
    assert all(
        link.startswith("#") for link in page.links
    )  # nothing loaded from outside
    assert len(page.images) == len(report.figures)
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG_SIGNATURE)
    return raw, page


def binary_data(seed=0, n=400):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.15).astype(int)
    p = np.clip(0.45 * y + 0.55 * rng.random(n), 0, 1)
    return y, p


def test_binary_report_has_every_section_and_escapes_labels(tmp_path):
    y, p = binary_data()
    labels = np.where(y == 1, EVIL, "costs $5 & more")
    report = from_predictions(labels, 1 - p, threshold=0.4, title=f"run {EVIL}")
    path = report.to_html(tmp_path / "out" / "report.html")
    raw, page = check_page(path, report, PREDICTION_SECTIONS)
    assert EVIL not in raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw
    assert "costs $5 &amp; more" in raw
    assert EVIL in "".join(page.text)  # the label reads correctly once unescaped
    assert set(report.figures) == {
        "pr_curve",
        "roc_curve",
        "confusion_matrix",
        "reliability",
    }


def test_multiclass_report(tmp_path):
    rng = np.random.default_rng(1)
    y = rng.choice(4, size=500, p=[0.6, 0.25, 0.1, 0.05])
    proba = rng.dirichlet(np.ones(4), size=500) + 0.5 * np.eye(4)[y]
    proba /= proba.sum(axis=1, keepdims=True)
    report = from_predictions(y, proba)
    path = report.to_html(tmp_path / "report.html")
    check_page(path, report, PREDICTION_SECTIONS)
    # one PR curve per class, plus the chance line
    assert len(report.figures["pr_curve"].axes[0].get_lines()) == 4


def compare_result(n=500, strategies=("none", EVIL, "over"), n_classes=2):
    from sklearn.model_selection import StratifiedKFold

    from balanceflow.metrics import METRIC_NAMES
    from balanceflow.model_selection._result import CompareResult

    rng = np.random.default_rng(2)
    priors = [0.85, 0.15] if n_classes == 2 else [0.7, 0.2, 0.1]
    y = rng.choice(n_classes, size=n, p=priors)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(np.zeros(n), y))
    proba, records = {}, []
    for i, name in enumerate(strategies):
        raw = (
            rng.dirichlet(np.ones(n_classes), size=n)
            + (0.4 + 0.2 * i) * np.eye(n_classes)[y]
        )
        proba[name] = raw / raw.sum(axis=1, keepdims=True)
        for fold in range(5):
            row = {"strategy": name, "fold": fold}
            row.update({m: 0.5 + 0.1 * i + 0.01 * fold for m in METRIC_NAMES})
            row["fit_seconds"] = 1.0
            records.append(row)
    classes = ["neg", EVIL] if n_classes == 2 else ["a", "b", EVIL]
    return CompareResult(
        records=pd.DataFrame(records),
        strategies=list(strategies),
        classes=classes,
        class_counts=np.bincount(y).tolist(),
        folds=folds,
        y_true=y,
        proba=proba,
        settings={"n_splits": 5, "seed": 0, "threshold": 0.5, "model": EVIL},
        dataset=f"data {EVIL}.csv",
    )


@pytest.mark.parametrize("n_classes", [2, 3])
def test_compare_report_puts_the_leaderboard_on_top(tmp_path, n_classes):
    result = compare_result(n_classes=n_classes)
    report = from_compare(result)
    path = report.to_html(tmp_path / "compare.html")
    raw, page = check_page(path, report, COMPARE_SECTIONS)
    assert EVIL not in raw
    # leaderboard rows: best PR-AUC first, one row per strategy
    text = "".join(page.text)
    board = raw.split('<section id="leaderboard">')[1].split("</section>")[0]
    order = [board.find(f'<td class="text">{s}') for s in ("over", "&lt;script")]
    assert 0 <= order[0] < order[1]
    assert "0.720 ±\u00a00.016" in board  # "over": 0.70..0.74, mean 0.72, std 0.016
    assert f"data {EVIL}.csv" in text
    # one curve per strategy (plus chance)
    assert len(report.figures["pr_curve"].axes[0].get_lines()) == 4
    assert len(report.figures["confusion_matrices"].axes) >= 3


def test_compare_thresholds_per_strategy_and_per_row():
    result = compare_result()
    n = len(result.y_true)
    report = from_compare(result, threshold={"over": 0.2, "none": np.full(n, 0.7)})
    titles = [ax.get_title() for ax in report.figures["confusion_matrices"].axes]
    assert any(">= 0.2" in t for t in titles) and any("per-row" in t for t in titles)
    with pytest.raises(InvalidParameterError, match="does not hold"):
        from_compare(result, threshold={"under": 0.3})
    with pytest.raises(InvalidParameterError, match=r"\[0, 1\]"):
        from_compare(result, threshold=1.5)
    with pytest.raises(InvalidParameterError, match="CompareResult"):
        from_compare(object())


def test_save_figures_and_atomic_writes(tmp_path, monkeypatch):
    y, p = binary_data()
    report = from_predictions(y, p)
    paths = report.save_figures(tmp_path / "figures")
    assert sorted(x.name for x in paths) == sorted(f"{k}.png" for k in report.figures)
    for x in paths:
        assert x.read_bytes().startswith(PNG_SIGNATURE)

    target = tmp_path / "report.html"
    target.write_text("previous report")

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        report.to_html(target)
    monkeypatch.undo()
    assert target.read_text() == "previous report"  # untouched
    assert sorted(x.name for x in tmp_path.iterdir()) == ["figures", "report.html"]
    report.to_html(target)
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert isinstance(report, Report) and "summary" in repr(report)


def test_report_needs_neither_tensorflow_nor_pyplot(tmp_path):
    code = f"""
import sys
import numpy as np
import balanceflow.report as r
y = np.array([0] * 40 + [1] * 10)
p = np.linspace(0, 1, 50)
r.from_predictions(y, p).to_html({str(tmp_path / "r.html")!r})
loaded = [m for m in ("tensorflow", "keras", "matplotlib.pyplot") if m in sys.modules]
assert not loaded, loaded
print("ok")
"""
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed (Debian: apt-get install chromium); the headless "
    "rendering check of the HTML report is skipped",
)
def test_report_renders_in_headless_chromium(tmp_path):
    """Check a real browser builds the page without script and draws something."""
    from matplotlib.image import imread

    report = from_compare(compare_result())
    path = report.to_html(tmp_path / "report.html")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1200,1800"]
    dom = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", path.as_uri()],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    for section in COMPARE_SECTIONS:
        assert f'id="{section}"' in dom.stdout
    assert "<script" not in dom.stdout
    shot = tmp_path / "shot.png"
    run = subprocess.run(
        [CHROMIUM, *flags, f"--screenshot={shot}", path.as_uri()],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert run.returncode == 0 and shot.exists(), run.stderr[-2000:]
    pixels = imread(shot)
    assert pixels.shape[0] >= 1000 and pixels.std() > 0.05


def test_compare_report_marks_the_baselines_and_draws_them(tmp_path):
    """Check that reference rows are in the leaderboard, marked as baselines and ordered
    by their scores among the strategies, and get their own curves."""
    from dataclasses import replace

    full = compare_result(strategies=("none", "over", "brf"))
    result = replace(full, strategies=["none", "over"], baselines=["brf"])
    report = from_compare(result)
    raw, _ = check_page(report.to_html(tmp_path / "c.html"), report, COMPARE_SECTIONS)
    board = raw.split('<section id="leaderboard">')[1].split("</section>")[0]
    # brf has the highest scores of the three (0.5 + 0.1 * 2 per metric): first row.
    rows = [
        board.find(f'<td class="text">{s}') for s in ("brf (baseline)", "over", "none")
    ]
    assert 0 <= rows[0] < rows[1] < rows[2]
    assert "reference model, not Keras" in board
    assert len(report.figures["pr_curve"].axes[0].get_lines()) == 4  # 3 rows + chance


def test_compare_report_draws_the_corrected_reliability_only_when_it_differs(tmp_path):
    """Check the calibration section: a second reliability diagram and the corrected
    Brier / ECE columns appear when compare corrected a strategy's probabilities (here
    'over' brought back from a balanced prior with the closed form), and not otherwise."""
    from dataclasses import replace

    from balanceflow.metrics import expected_calibration_error
    from balanceflow.thresholds import correct_prior

    plain = compare_result()
    assert "reliability_corrected" not in from_compare(plain).figures
    counts = np.bincount(plain.y_true)
    fixed = correct_prior(
        plain.proba["over"], train_prior=[0.5, 0.5], target_prior=counts / counts.sum()
    )
    result = replace(plain, proba_corrected={**plain.proba, "over": fixed})
    report = from_compare(result)
    assert "reliability_corrected" in report.figures
    raw, _ = check_page(report.to_html(tmp_path / "c.html"), report, COMPARE_SECTIONS)
    table = raw.split('<section id="calibration">')[1].split("</section>")[0]
    assert "ECE (corrected)" in table
    expected = expected_calibration_error(result.y_true == 1, fixed[:, 1])
    assert f"{expected:.4f}" in table
