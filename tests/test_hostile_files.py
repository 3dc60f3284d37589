"""Hostile files: the data is checked before anything trains (a copy of the label, a
repeated header, a saved row index, a continuous target, a repeated --target, unhashable
cells), and names and labels full of Rich markup, mathtext and HTML come out as text in
the terminal, the figures and the report.

Damaged and edited models and cards are in ``model_selection/test_artefacts.py`` (one
clear error each, and the kill test of the save); bad options and values in
``test_bad_inputs.py``.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import balanceflow as bf
import balanceflow.training._fused as fused_module
import balanceflow.training._trial as trial_module
from balanceflow.cli import app
from balanceflow.exceptions import DataError

runner = CliRunner()
FAST = ["--epochs", "1", "--n-splits", "2"]


@pytest.fixture
def frame():
    rng = np.random.default_rng(0)
    n = 60
    label = np.where(rng.random(n) < 0.2, "fraud", "ok")
    return pd.DataFrame(
        {"amount": rng.normal(size=n) + (label == "fraud"), "label": label}
    )


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if any model trains."""

    def refuse(*args, **kwargs):
        raise AssertionError("a model was trained before the data was checked")

    monkeypatch.setattr(trial_module, "train_model", refuse)  # one at a time
    monkeypatch.setattr(fused_module, "fused_results", refuse)  # stacked


@pytest.mark.parametrize(
    "copy",
    [
        lambda y: y,  # the label itself
        lambda y: np.where(y == "fraud", 1, 0),  # relabelled as numbers
        lambda y: np.where(y == "fraud", "F", "-"),  # relabelled as text
    ],
)
def test_a_copy_of_the_label_is_refused_before_training(frame, copy, no_training):
    X = frame.drop(columns="label").assign(leak=copy(frame["label"].to_numpy()))
    with pytest.raises(DataError, match=r"'leak' is a copy of the target 'label'"):
        bf.compare(X, frame["label"], strategies=["none"], n_splits=2, epochs=1)


def test_a_feature_that_only_correlates_is_kept(frame):
    """Check that an informative column with errors is not mistaken for a copy."""
    noisy = np.where(frame["label"] == "fraud", 1, 0)
    noisy[:3] = 1 - noisy[:3]
    X = frame.drop(columns="label").assign(hint=noisy)
    result = bf.compare(X, frame["label"], strategies=["none"], n_splits=2, epochs=1)
    assert result.strategies == ["none"]


def test_a_repeated_header_is_refused_by_the_cli(frame, tmp_path):
    path = tmp_path / "dup.csv"
    text = frame.assign(copy=frame["label"]).to_csv(index=False)
    path.write_text(text.replace("amount,label,copy", "amount,label,label", 1))
    result = runner.invoke(app, ["compare", str(path), "-t", "label", *FAST])
    assert result.exit_code == 1
    assert "'label' x2" in result.stderr and "label.1" in result.stderr


def test_a_saved_row_index_is_named_in_a_warning(frame, tmp_path):
    X = frame.drop(columns="label")
    X.insert(0, "Unnamed: 0", np.arange(len(X)))
    with pytest.warns(UserWarning, match=r"'Unnamed: 0' looks like a saved row index"):
        bf.compare(X, frame["label"], strategies=["none"], n_splits=2, epochs=1)


def test_clean_data_raises_no_hygiene_warning(frame):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        bf.compare(
            frame.drop(columns="label"),
            frame["label"],
            strategies=["none"],
            n_splits=2,
            epochs=1,
        )


def test_a_continuous_target_is_refused(frame, no_training):
    y = np.random.default_rng(1).normal(size=len(frame))
    with pytest.raises(DataError, match="looks continuous"):
        bf.compare(frame.drop(columns="label"), y, strategies=["none"])


def test_whole_numbers_stored_as_floats_are_class_codes(frame):
    codes = (frame["label"] == "fraud").astype(float)
    assert bf.compare(
        frame.drop(columns="label"), codes, strategies=["none"], n_splits=2, epochs=1
    ).classes == [0.0, 1.0]


def test_target_given_twice_is_refused(frame, tmp_path):
    path = tmp_path / "t.csv"
    frame.assign(other=frame["label"]).to_csv(path, index=False)
    for command in ("compare", "fit"):
        result = runner.invoke(
            app, [command, str(path), "-t", "label", "-t", "other", *FAST]
        )
        assert result.exit_code == 1, command
        assert "--target was given 2 times" in result.stderr


def test_markup_in_names_and_labels_is_printed_as_text(tmp_path):
    """Check that a strategy name and class labels holding Rich markup come out literally."""
    rng = np.random.default_rng(2)
    n = 60
    label = np.where(rng.random(n) < 0.25, "[red]rare[/red]", "[b]common")
    path = tmp_path / "m.csv"
    pd.DataFrame(
        {"x": rng.normal(size=n) + (label == "[red]rare[/red]"), "y": label}
    ).to_csv(path, index=False)
    config = tmp_path / "s.toml"
    config.write_text('[strategies."[bold]mine[/bold]"]\nsampler = "under"\n')
    result = runner.invoke(
        app,
        ["compare", str(path), "-t", "y", *FAST, "-s", "none", "--config", str(config)],
    )
    assert result.exit_code == 0, result.output
    assert "[bold]mine[/bold]" in result.output
    assert "[red]rare[/red]" in result.output and "[b]common" in result.output


def test_unhashable_cells_get_the_column_error_not_a_traceback(no_training):
    X = pd.DataFrame({"a": np.linspace(0, 1, 30), "b": [[1, 2]] * 30})
    y = np.array([0] * 25 + [1] * 5)
    with pytest.raises(DataError, match=r"'b' holds values of type \['list'\]"):
        bf.compare(X, y, strategies=["none"], n_splits=2, epochs=1)


def test_mathtext_html_and_markup_labels_reach_the_report_as_text(tmp_path):
    """Check that class labels with mathtext ('$x^$' made matplotlib raise) and HTML, and
    a column named with Rich markup, give a report whose page shows them escaped, with
    its figures written, through the command line."""
    rng = np.random.default_rng(1)
    n = 60
    label = np.where(np.arange(n) < 15, "$x^$", "<b>ok</b>")
    table = pd.DataFrame({"[red]amount[/]": rng.normal(size=n), "label": label})
    path = tmp_path / "hostile.csv"
    table.to_csv(path, index=False)
    report = tmp_path / "report"
    args = ["compare", str(path), "-t", "label", *FAST, "-s", "none"]
    result = runner.invoke(app, [*args, "--baselines", "none", "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    page = (report / "report.html").read_text()
    assert "&lt;b&gt;ok&lt;/b&gt;" in page and "<b>ok</b>" not in page
    assert "$x^$" in page
    assert len(list(report.glob("*.png"))) >= 3
