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


def test_fit_deployment_prior_by_class_name_reaches_the_card(table, tmp_path):
    """Check that --deployment-prior CLASS=SHARE,... names classes as the target spells
    them, the card records that prior, and the terminal says the probabilities answer
    to it."""
    out = tmp_path / "m.keras"
    args = ["fit", str(table), "-t", "label", *FAST, "--bag", "0", "--out", str(out)]
    args += ["-s", "under", "--baselines", "none"]
    result = runner.invoke(app, [*args, "--deployment-prior", "churn=0.05,stay=0.95"])
    assert result.exit_code == 0, result.output
    card = json.loads((tmp_path / "m.card.json").read_text())
    # Classes sorted: churn, stay.
    assert card["calibration"]["target_prior"] == pytest.approx([0.05, 0.95])
    text = " ".join(result.output.split())
    assert "Probabilities: corrected to the deployment prior given (churn 0.05" in text


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("churn=0.05,gone=0.95", "--deployment-prior 'gone' is not a class"),
        ("churn:0.05", "'churn:0.05' is not CLASS=SHARE"),
        ("churn=lots,stay=0.5", "'churn=lots' is not CLASS=SHARE"),
        ("1.5", "strictly between 0 and 1"),
        ("churn=0.2,stay=0.2", "sum to 1; they sum to 0.4"),
    ],
)
def test_a_bad_deployment_prior_fails_before_training(table, tmp_path, value, message):
    args = ["fit", str(table), "-t", "label", *FAST, "--out", str(tmp_path / "m.keras")]
    result = runner.invoke(app, [*args, "--deployment-prior", value])
    assert result.exit_code != 0
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "m.keras").exists()


def test_predict_warns_once_with_a_count_of_unseen_categories(tmp_path):
    """Check that predict on rows with a category never seen in training prints one
    warning line naming the column and the count, and still predicts every row; and
    that a code column read back as floats (a blank cell) is not reported."""
    rng = np.random.default_rng(0)
    n = 60
    train = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "code": rng.choice(["1", "2", "x"], n),
            "label": np.where(np.arange(n) < 12, "yes", "no"),
        }
    )
    train.to_csv(tmp_path / "train.csv", index=False)
    out = tmp_path / "m.keras"
    args = ["fit", str(tmp_path / "train.csv"), "-t", "label", *FAST, "--bag", "0"]
    result = runner.invoke(
        app, [*args, "-s", "none", "--baselines", "none", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    new = pd.DataFrame({"a": [0.1, 0.2, 0.3, 0.4], "code": ["1", "zz", "zz", None]})
    new.to_csv(tmp_path / "new.csv", index=False)
    result = runner.invoke(app, ["predict", str(out), str(tmp_path / "new.csv")])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert text.count("Warning:") == 1
    assert "Warning: Column 'code' of" in text and "2 of 4 row(s)" in text
    assert "'zz'" in text and "Traceback" not in text
    floats = pd.DataFrame({"a": [0.1, 0.2, 0.3], "code": [1.0, 2.0, np.nan]})
    floats.to_csv(tmp_path / "floats.csv", index=False)
    result = runner.invoke(app, ["predict", str(out), str(tmp_path / "floats.csv")])
    assert result.exit_code == 0, result.output
    assert "Warning" not in result.output
    assert len(result.stdout.strip().splitlines()) == 4  # header + 3 rows
