"""compare and fit take the same options: --model, --config, --scheduler, --pos-label,
--format json; bad values fail before any training."""

import json
import textwrap

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from balanceflow.cli import app

runner = CliRunner()
FAST = ["--epochs", "1", "--n-splits", "2"]


@pytest.fixture
def table(tmp_path):
    rng = np.random.default_rng(3)
    n = 90
    label = np.where(np.arange(n) < 15, "churn", "stay")
    frame = pd.DataFrame(
        {"tenure": rng.normal(size=n) + (label == "churn"), "label": label}
    )
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def user_files(tmp_path, monkeypatch):
    """A model builder module and a strategies config in the working directory."""
    (tmp_path / "mymodels.py").write_text(
        textwrap.dedent(
            """
            import keras

            def tiny(input_shape, n_classes):
                return keras.Sequential(
                    [keras.Input(input_shape), keras.layers.Dense(1, activation="sigmoid")]
                )
            """
        )
    )
    config = tmp_path / "strategies.toml"
    config.write_text(
        '[strategies.under_half]\nsampler = "under"\nsampling_strategy = 0.5\n'
    )
    monkeypatch.chdir(tmp_path)
    return config


def test_fit_takes_model_config_and_json_like_compare(table, user_files, tmp_path):
    """Check fit with --model, --config (the config's strategy is a candidate),
    --pos-label and --format json: the JSON names the files, the strategy and the model,
    and the threshold is on P(churn)."""
    out = tmp_path / "m.keras"
    args = ["fit", str(table), "-t", "label", *FAST, "--bag", "0", "--out", str(out)]
    args += [
        "--model",
        "mymodels:tiny",
        "--config",
        str(user_files),
        "--candidate",
        "none",
    ]
    result = runner.invoke(app, [*args, "--pos-label", "churn", "--format", "json"])
    assert result.exit_code == 0, result.output
    card = json.loads(result.stdout)
    assert card["model"] == str(out) and out.exists()
    assert card["selection"]["candidates"] == ["none", "under_half"]
    assert card["settings"]["model"] == "mymodels:tiny"
    assert card["decision"]["pos_label"] == "churn"


def test_fit_can_name_a_config_strategy(table, user_files, tmp_path):
    out = tmp_path / "m.keras"
    result = runner.invoke(
        app,
        [
            "fit",
            str(table),
            "-t",
            "label",
            *FAST,
            "--bag",
            "0",
            "--out",
            str(out),
            "--config",
            str(user_files),
            "--strategy",
            "under_half",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Strategy: under_half" in result.output


def test_compare_takes_model_and_pos_label(table, user_files):
    result = runner.invoke(
        app,
        [
            "compare",
            str(table),
            "-t",
            "label",
            *FAST,
            "-s",
            "none",
            "--model",
            "mymodels:tiny",
            "--pos-label",
            "stay",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["settings"]["pos_label"] == "stay"
    assert data["settings"]["model"] == "mymodels:tiny"


@pytest.mark.parametrize(
    ("command", "extra", "message"),
    [
        ("fit", ["--out", "model.h5"], "must end with '.keras'"),
        ("fit", ["--scheduler", "localhost"], "scheduler"),
        ("fit", ["--n-jobs", "-5"], "n_jobs"),
        ("fit", ["--pos-label", "maybe"], "--pos-label 'maybe'"),
        ("fit", ["--objective", "banana"], "objective"),
        ("fit", ["--metric", "speed"], "--metric"),
        ("compare", ["--scheduler", "localhost"], "scheduler"),
        ("compare", ["--n-jobs", "0"], "n_jobs"),
        ("compare", ["--tune-threshold", "banana"], "objective"),
        ("compare", ["--pos-label", "maybe"], "--pos-label 'maybe'"),
        ("fit", ["--baselines", "xgboost"], "Unknown baseline"),
        ("compare", ["--baselines", "hgb_balance"], "Did you mean 'hgb_balanced'"),
        ("compare", ["--baselines", "hgb_balanced,"], "empty name"),
    ],
)
def test_bad_shared_options_fail_in_one_line_before_training(
    table, tmp_path, command, extra, message
):
    args = [command, str(table), "-t", "label", *FAST, *extra]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) <= 3


@pytest.mark.parametrize(
    ("engine", "said"),
    [("loop", "engine loop: 4 models"), ("fused", "engine fused: 4")],
)
def test_compare_says_which_engine_trained_the_models(table, engine, said):
    args = ["compare", str(table), "-t", "label", *FAST, "--engine", engine]
    result = runner.invoke(app, [*args, "-s", "none", "-s", "under"])
    assert result.exit_code == 0, result.output
    assert said in " ".join(result.output.split())


def test_an_unknown_engine_is_refused_with_the_choices(table):
    args = ["fit", str(table), "-t", "label", *FAST, "--engine", "turbo"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "turbo" in result.output and "fused" in result.output


def test_fit_records_the_baselines_and_compare_can_turn_them_off(table, tmp_path):
    """Check that fit's card holds the comparison of the chosen candidate with the best
    baseline (and prints it), and that --baselines none leaves only Keras rows."""
    out = tmp_path / "m.keras"
    args = ["fit", str(table), "-t", "label", *FAST, "--bag", "0", "--out", str(out)]
    result = runner.invoke(app, [*args, "--candidate", "none", "--candidate", "over"])
    assert result.exit_code == 0, result.output
    assert "Against the baselines:" in " ".join(result.output.split())
    card = json.loads((tmp_path / "m.card.json").read_text())["selection"]["baselines"]
    assert card["keras"] in ("none", "over")
    assert card["baseline"] in ("hgb_balanced", "balanced_rf")
    assert card["verdict"] in ("ahead", "level", "behind")

    args = ["compare", str(table), "-t", "label", *FAST, "-s", "none"]
    result = runner.invoke(app, [*args, "--baselines", "none", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["baselines"] == [] and data["baseline_comparison"] is None
    assert {row["strategy"] for row in data["leaderboard"]} == {"none"}

    result = runner.invoke(app, [*args, "--baselines", "easy_ensemble"])
    assert result.exit_code == 0, result.output
    assert "easy_ensemble (baseline)" in result.output
