"""The command-line tool, end to end, through Typer's runner."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import balanceflow as bf
from balanceflow.cli import DEFAULT_DATASET, app

runner = CliRunner()
FAST = ["--epochs", "1", "--n-splits", "2"]


def test_compare_without_file_runs_on_shipped_data():
    """Check exit 0, the dataset named, and a leaderboard row per default strategy."""
    result = runner.invoke(app, ["compare", *FAST])
    assert result.exit_code == 0, result.output
    assert DEFAULT_DATASET in result.output
    for name in ("none", "class_weight", "over", "under", "seed_ensemble"):
        assert name in result.output
    assert "PR-AUC" in result.output and "has the highest mean PR-AUC" in result.output


def test_compare_json_is_parseable_and_sorted(tmp_path):
    result = runner.invoke(
        app,
        [
            "compare",
            *FAST,
            "--format",
            "json",
            "-s",
            "none",
            "-s",
            "over",
            "--metric",
            "mcc",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    names = [row["strategy"] for row in data["leaderboard"] if not row["baseline"]]
    assert sorted(names) == ["none", "over"]
    references = [row["strategy"] for row in data["leaderboard"] if row["baseline"]]
    assert (
        sorted(references)
        == sorted(data["baselines"])
        == ["balanced_rf", "hgb_balanced"]
    )
    means = [row["mcc"]["mean"] for row in data["leaderboard"]]
    assert means == sorted(means, reverse=True)  # baselines ranked among the strategies
    keras = [r for r in data["records"] if r["strategy"] not in data["baselines"]]
    assert len(keras) == len(data["records"]) - 2 * 2 == 2 * 2  # 2 folds each
    assert data["baseline_comparison"]["keras"] in ("none", "over")


def test_compare_csv_with_string_target(tmp_path):
    rng = np.random.default_rng(0)
    n = 80
    label = np.where(np.arange(n) < 12, "churn", "stay")
    frame = pd.DataFrame(
        {
            "tenure": rng.normal(size=n) + (label == "churn"),
            "plan": rng.choice(["a", "b"], n),
        }
    )
    frame["label"] = label
    path = tmp_path / "customers.csv"
    frame.to_csv(path, index=False)
    result = runner.invoke(
        app,
        [
            "compare",
            str(path),
            "--target",
            "label",
            *FAST,
            "-s",
            "none",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["classes"] == ["churn", "stay"] and data["class_counts"] == [12, 68]


def test_compare_parquet(tmp_path):
    n = 40
    frame = pd.DataFrame({"x": np.arange(n, dtype=float), "y": [1] * 8 + [0] * 32})
    path = tmp_path / "d.parquet"
    frame.to_parquet(path)
    result = runner.invoke(app, ["compare", str(path), "-t", "y", *FAST, "-s", "none"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("a,b\n1,0\n2,1\n", ["--target", "label"], "--target 'label' is not a column"),
        ("", ["--target", "label"], "is empty"),
        ("a,label\n", ["--target", "label"], "has a header but no rows"),
        ("a,b\n1,0\n", [], "Name the label column"),
    ],
)
def test_file_errors_are_one_line_and_exit_1(tmp_path, content, args, message):
    path = tmp_path / "data.csv"
    path.write_text(content)
    result = runner.invoke(app, ["compare", str(path), *args])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_unencodable_feature_and_small_class(tmp_path):
    n = 30
    frame = pd.DataFrame(
        {"when": pd.date_range("2021-01-01", periods=n), "y": [1] * 3 + [0] * (n - 3)}
    )
    path = tmp_path / "d.parquet"
    frame.to_parquet(path)
    result = runner.invoke(app, ["compare", str(path), "-t", "y", "--n-splits", "2"])
    assert result.exit_code == 1 and "'when' has dtype datetime64" in result.output
    frame["when"] = 1.0
    frame.to_parquet(path)
    result = runner.invoke(app, ["compare", str(path), "-t", "y", "--n-splits", "5"])
    assert result.exit_code == 1 and "at least n_splits=5 rows" in result.output


def test_unknown_strategy_and_metric():
    result = runner.invoke(app, ["compare", "-s", "smote", *FAST])
    assert result.exit_code == 1 and "Unknown strategy" in result.output
    result = runner.invoke(app, ["compare", "--metric", "accuracy", *FAST])
    assert result.exit_code == 1 and "Unknown --metric 'accuracy'" in result.output


def test_datasets_lists_the_shipped_sets():
    result = runner.invoke(app, ["datasets", "--format", "json"])
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert {r["name"] for r in rows} >= {
        "flare-F",
        "wisconsin",
        "kddcup-rootkit-imap_vs_back",
    }
    table = runner.invoke(app, ["datasets"])
    assert table.exit_code == 0 and "flare-F" in table.output
    # The long-tailed image set is listed too, with the counts digits_lt() gives.
    (digits,) = [r for r in rows if r["name"] == "digits_lt"]
    _, y_train, _, _ = bf.datasets.digits_lt()
    counts = np.bincount(y_train)
    assert (digits["rows"], digits["classes"]) == (len(y_train), 10)
    assert (digits["minority"], digits["majority"]) == (counts.min(), counts.max())
    assert "digits_lt" in table.output


def test_user_model_function(tmp_path, monkeypatch):
    """Check --model module:function, and the errors for a bad spec or a non-model."""
    (tmp_path / "mymodels.py").write_text(
        "import keras\n"
        "def tiny(input_shape, n_classes):\n"
        "    return keras.Sequential([keras.Input(input_shape), keras.layers.Dense(1, 'sigmoid')])\n"
        "def not_a_model(input_shape, n_classes):\n"
        "    return 'oops'\n"
    )
    monkeypatch.chdir(tmp_path)
    ok = runner.invoke(
        app, ["compare", *FAST, "-s", "none", "--model", "mymodels:tiny"]
    )
    assert ok.exit_code == 0, ok.output
    assert "mymodels:tiny" in ok.output
    bad = runner.invoke(
        app, ["compare", *FAST, "-s", "none", "--model", "mymodels:not_a_model"]
    )
    assert bad.exit_code == 1 and "must return a keras.Model" in bad.output
    missing = runner.invoke(app, ["compare", *FAST, "--model", "mymodels"])
    assert missing.exit_code == 1 and "module:function" in missing.output
    assert "mlp, tabm" in missing.output  # the built-in names


def test_built_in_model_by_name():
    ok = runner.invoke(app, ["compare", *FAST, "-s", "none", "--model", "tabm"])
    assert ok.exit_code == 0, ok.output
    assert "tabm" in ok.output
    assert "TabM is not a functional chain of layers" in ok.output
