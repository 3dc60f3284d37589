"""Bad and unusual inputs, across the command line and the Python API, checked against one
contract.

Each case either fails clearly or gives a correct result:

- command line: exit code 1 for input balanceflow refuses, 2 for a command line that
  cannot be parsed (click's convention); at most three lines on stderr, no traceback,
  and the message names the option or column (and, where it has one, the value);
- Python: a :class:`~balanceflow.exceptions.BalanceflowError` (or, for a bad Keras-level
  call, the error Keras itself raises) whose message names the parameter and the value;
- accepted inputs: the result checked against an independent expectation.

Every refused command-line case fails before any training: the module fits one model (for
the predict cases) and nothing else.
"""

from __future__ import annotations

import re
import zipfile

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import balanceflow as bf
from balanceflow.cli import app
from balanceflow.exceptions import BalanceflowError, DataError, InvalidParameterError

runner = CliRunner()
FAST = ["--epochs", "1", "--n-splits", "2"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Every file the command-line cases read, made once."""
    root = tmp_path_factory.mktemp("bad_inputs")
    rng = np.random.default_rng(0)
    n = 80
    train = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "shop": rng.choice(["x", "y", "z"], n),
            "label": np.where(np.arange(n) < 16, "yes", "no"),
        }
    )
    train.to_csv(root / "train.csv", index=False)
    train.to_parquet(root / "train.parquet")
    train.assign(label="yes").to_csv(root / "one_class.csv", index=False)
    train.assign(label=rng.normal(size=n)).to_csv(root / "continuous.csv", index=False)
    with_gap = train.copy()
    with_gap.loc[3, "label"] = None
    with_gap.to_csv(root / "missing_label.csv", index=False)
    (root / "empty.csv").write_text("")
    (root / "header_only.csv").write_text("a,b,label\n")
    (root / "data.txt").write_text("a,b,label\n1,2,yes\n")
    (root / "garbage.csv").write_bytes(bytes(range(256)) * 8)
    (root / "broken.parquet").write_bytes(b"PAR1 not really parquet")
    (root / "a_folder").mkdir()
    (root / "not_a_folder").write_text("a file where a folder is expected")
    (root / "bad.toml").write_text("[strategies.x\nsampler = 'under'\n")
    (root / "unknown_key.toml").write_text(
        "[strategies.x]\nsampler = 'under'\nsize = 3\n"
    )
    (root / "mymodels.py").write_text(
        "def tiny(input_shape, n_classes):\n    return 3\n"
    )
    (root / "not_a_model.keras").write_text("hello")
    new = train.drop(columns="label")
    new.to_csv(root / "new.csv", index=False)
    new.drop(columns="b").to_csv(root / "missing_column.csv", index=False)
    new.assign(extra=1).to_csv(root / "extra_column.csv", index=False)
    new.assign(a=["text"] + [0.5] * (n - 1)).to_csv(
        root / "text_number.csv", index=False
    )
    new.assign(a=[np.inf] + [0.5] * (n - 1)).to_csv(
        root / "inf_number.csv", index=False
    )
    model = root / "model.keras"
    result = runner.invoke(
        app,
        ["fit", str(root / "train.csv"), "-t", "label", *FAST, "--bag", "0"]
        + ["-s", "none", "--baselines", "none", "--out", str(model)],
    )
    assert result.exit_code == 0, result.output
    data = model.read_bytes()
    (root / "truncated.keras").write_bytes(data[: len(data) // 2])
    return root


def _clear_cli_error(result, code, pattern):
    """exit code, at most three lines on stderr, no traceback, the pattern named."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 3, result.stderr
    text = " ".join(result.stderr.split())
    assert re.search(pattern, text), text


# (id, arguments with {root} for the files folder, exit code, what stderr must name)
CLI_CASES = [
    # The table itself
    (
        "missing-file",
        "compare {root}/nope.csv -t label",
        1,
        r"File not found.*nope\.csv",
    ),
    (
        "txt-file",
        "compare {root}/data.txt -t label",
        1,
        r"Unsupported file type.*data\.txt",
    ),
    ("folder-as-file", "compare {root}/a_folder -t label", 1, r"a_folder"),
    ("empty-file", "compare {root}/empty.csv -t label", 1, r"empty\.csv.*is empty"),
    (
        "header-only",
        "compare {root}/header_only.csv -t label",
        1,
        r"header but no rows",
    ),
    ("binary-garbage", "compare {root}/garbage.csv -t label", 1, r"garbage\.csv"),
    ("broken-parquet", "compare {root}/broken.parquet -t label", 1, r"broken\.parquet"),
    ("unknown-target", "compare {root}/train.csv -t nope", 1, r"'nope'"),
    ("two-targets", "compare {root}/train.csv -t label -t shop", 1, r"--target"),
    ("one-class", "compare {root}/one_class.csv -t label", 1, r"class"),
    ("continuous-target", "compare {root}/continuous.csv -t label", 1, r"label"),
    ("missing-label", "compare {root}/missing_label.csv -t label", 1, r"label"),
    # Numbers
    ("epochs-zero", "compare {root}/train.csv -t label --epochs 0", 1, r"epochs.*0"),
    (
        "epochs-negative",
        "compare {root}/train.csv -t label --epochs -3",
        1,
        r"epochs.*-3",
    ),
    (
        "epochs-text",
        "compare {root}/train.csv -t label --epochs abc",
        2,
        r"--epochs 'abc'",
    ),
    (
        "epochs-float",
        "compare {root}/train.csv -t label --epochs 2.5",
        2,
        r"--epochs '2\.5'",
    ),
    (
        "batch-zero",
        "compare {root}/train.csv -t label --batch-size 0",
        1,
        r"batch_size.*0",
    ),
    (
        "batch-text",
        "compare {root}/train.csv -t label --batch-size x",
        2,
        r"--batch-size 'x'",
    ),
    ("splits-one", "compare {root}/train.csv -t label --n-splits 1", 1, r"n_splits.*1"),
    ("splits-too-many", "compare {root}/train.csv -t label --n-splits 50", 1, r"50"),
    ("repeats-zero", "compare {root}/train.csv -t label --repeats 0", 1, r"repeats.*0"),
    ("jobs-zero", "compare {root}/train.csv -t label --n-jobs 0", 1, r"n_jobs.*0"),
    (
        "jobs-negative",
        "compare {root}/train.csv -t label --n-jobs -5",
        1,
        r"n_jobs.*-5",
    ),
    ("jobs-text", "compare {root}/train.csv -t label --n-jobs=x", 2, r"--n-jobs=x"),
    ("seed-text", "compare {root}/train.csv -t label --seed x", 2, r"--seed 'x'"),
    ("seed-negative", "compare {root}/train.csv -t label --seed -1", 1, r"seed.*-1"),
    (
        "threshold-high",
        "compare {root}/train.csv -t label --threshold 1.5",
        1,
        r"threshold.*1\.5",
    ),
    (
        "threshold-low",
        "compare {root}/train.csv -t label --threshold -0.1",
        1,
        r"threshold.*-0\.1",
    ),
    (
        "threshold-nan",
        "compare {root}/train.csv -t label --threshold nan",
        1,
        r"threshold.*nan",
    ),
    # Names
    (
        "engine",
        "compare {root}/train.csv -t label --engine turbo",
        2,
        r"--engine 'turbo'",
    ),
    ("format", "compare {root}/train.csv -t label --format xml", 2, r"--format 'xml'"),
    ("unknown-option", "compare {root}/train.csv -t label --epoch 3", 2, r"--epoch"),
    ("unknown-command", "comapre {root}/train.csv", 2, r"comapre"),
    ("metric", "compare {root}/train.csv -t label --metric banana", 1, r"banana"),
    (
        "tune-threshold",
        "compare {root}/train.csv -t label --tune-threshold banana",
        1,
        r"banana",
    ),
    (
        "strategy-typo",
        "compare {root}/train.csv -t label -s focall",
        1,
        r"focall.*focal",
    ),
    ("strategy-empty", "compare {root}/train.csv -t label -s ''", 1, r"strateg"),
    (
        "pos-label",
        "compare {root}/train.csv -t label --pos-label maybe",
        1,
        r"--pos-label 'maybe'",
    ),
    ("baselines", "compare {root}/train.csv -t label --baselines nope", 1, r"nope"),
    (
        "scheduler-text",
        "compare {root}/train.csv -t label --scheduler garbage",
        1,
        r"scheduler.*garbage",
    ),
    (
        "scheduler-empty-host",
        "compare {root}/train.csv -t label --scheduler tcp://",
        1,
        r"scheduler",
    ),
    (
        "config-missing",
        "compare {root}/train.csv -t label --config {root}/no.toml",
        1,
        r"no\.toml",
    ),
    (
        "config-broken",
        "compare {root}/train.csv -t label --config {root}/bad.toml",
        1,
        r"bad\.toml",
    ),
    (
        "config-key",
        "compare {root}/train.csv -t label --config {root}/unknown_key.toml",
        1,
        r"size",
    ),
    (
        "model-module",
        "compare {root}/train.csv -t label --model nomodule:fn",
        1,
        r"nomodule",
    ),
    (
        "model-function",
        "compare {root}/train.csv -t label --model math:nofn",
        1,
        r"nofn",
    ),
    (
        "model-no-colon",
        "compare {root}/train.csv -t label --model tiny",
        1,
        r"module:function",
    ),
    (
        "report-is-a-file",
        "compare {root}/train.csv -t label --report {root}/not_a_folder",
        1,
        r"not_a_folder",
    ),
    # fit
    ("fit-suffix", "fit {root}/train.csv -t label --out {root}/m.h5", 1, r"m\.h5"),
    (
        "fit-out-folder",
        "fit {root}/train.csv -t label --out {root}/not_a_folder/m.keras",
        1,
        r"not_a_folder",
    ),
    (
        "fit-holdout-high",
        "fit {root}/train.csv -t label --holdout 0.9",
        1,
        r"holdout.*0\.9",
    ),
    (
        "fit-holdout-low",
        "fit {root}/train.csv -t label --holdout 0.01",
        1,
        r"holdout.*0\.01",
    ),
    ("fit-vote", "fit {root}/train.csv -t label --vote 0", 1, r"vote.*0"),
    ("fit-bag", "fit {root}/train.csv -t label --bag -1", 1, r"bag.*-1"),
    (
        "fit-objective",
        "fit {root}/train.csv -t label --objective banana",
        1,
        r"objective.*banana",
    ),
    ("fit-metric-calibration", "fit {root}/train.csv -t label --metric ece", 1, r"ece"),
    ("fit-strategy", "fit {root}/train.csv -t label -s nope", 1, r"nope"),
    ("fit-candidate", "fit {root}/train.csv -t label --candidate nope", 1, r"nope"),
    ("fit-target", "fit {root}/train.csv -t nope", 1, r"'nope'"),
    ("fit-pos-label", "fit {root}/train.csv -t label --pos-label maybe", 1, r"maybe"),
    (
        "fit-engine",
        "fit {root}/train.csv -t label --engine turbo",
        2,
        r"--engine 'turbo'",
    ),
    ("fit-jobs", "fit {root}/train.csv -t label --n-jobs 0", 1, r"n_jobs"),
    (
        "fit-scheduler",
        "fit {root}/train.csv -t label --scheduler garbage",
        1,
        r"garbage",
    ),
    ("fit-model", "fit {root}/train.csv -t label --model nomodule:fn", 1, r"nomodule"),
    (
        "fit-config",
        "fit {root}/train.csv -t label --config {root}/no.toml",
        1,
        r"no\.toml",
    ),
    ("fit-missing-file", "fit {root}/nope.csv -t label", 1, r"nope\.csv"),
    ("fit-no-file", "fit", 2, r"file"),
    (
        "prior-zero",
        "fit {root}/train.csv -t label --deployment-prior 0",
        1,
        r"deployment_prior",
    ),
    (
        "prior-one",
        "fit {root}/train.csv -t label --deployment-prior 1",
        1,
        r"deployment_prior",
    ),
    (
        "prior-negative",
        "fit {root}/train.csv -t label --deployment-prior -0.1",
        1,
        r"deployment",
    ),
    (
        "prior-unknown-class",
        "fit {root}/train.csv -t label --deployment-prior yes=0.2,maybe=0.8",
        1,
        r"'maybe'",
    ),
    (
        "prior-missing-class",
        "fit {root}/train.csv -t label --deployment-prior yes=0.2",
        1,
        r"missing.*'no'",
    ),
    (
        "prior-sum",
        "fit {root}/train.csv -t label --deployment-prior yes=0.5,no=0.6",
        1,
        r"sum to 1",
    ),
    (
        "prior-form",
        "fit {root}/train.csv -t label --deployment-prior yes:0.5",
        1,
        r"CLASS=SHARE",
    ),
    # predict
    ("predict-no-model", "predict {root}/nope.keras {root}/new.csv", 1, r"nope\.keras"),
    (
        "predict-not-a-model",
        "predict {root}/not_a_model.keras {root}/new.csv",
        1,
        r"not_a_model\.keras",
    ),
    (
        "predict-truncated",
        "predict {root}/truncated.keras {root}/new.csv",
        1,
        r"truncated\.keras",
    ),
    ("predict-no-table", "predict {root}/model.keras {root}/nope.csv", 1, r"nope\.csv"),
    (
        "predict-missing-column",
        "predict {root}/model.keras {root}/missing_column.csv",
        1,
        r"missing column.*'b'",
    ),
    (
        "predict-extra-column",
        "predict {root}/model.keras {root}/extra_column.csv",
        1,
        r"unexpected column.*'extra'",
    ),
    (
        "predict-text-number",
        "predict {root}/model.keras {root}/text_number.csv",
        1,
        r"'a'.*'text'",
    ),
    ("predict-inf", "predict {root}/model.keras {root}/inf_number.csv", 1, r"'a'.*inf"),
    ("predict-txt", "predict {root}/model.keras {root}/data.txt", 1, r"data\.txt"),
]


@pytest.mark.parametrize(
    ("command", "code", "pattern"),
    [case[1:] for case in CLI_CASES],
    ids=[case[0] for case in CLI_CASES],
)
def test_a_bad_command_line_fails_clearly_before_training(
    files, command, code, pattern, monkeypatch
):
    import balanceflow.training._fused as fused_module
    import balanceflow.training._trial as trial_module

    def refuse(*args, **kwargs):
        raise AssertionError("a model was trained before the input was checked")

    monkeypatch.setattr(trial_module, "train_model", refuse)
    monkeypatch.setattr(fused_module, "fused_results", refuse)
    import shlex

    args = shlex.split(command.format(root=files))
    if args[0] in ("compare", "fit"):
        args[1:1] = FAST  # first, so that a case's own value wins
    result = runner.invoke(app, args)
    _clear_cli_error(result, code, pattern)
    if args[0] == "fit":
        assert not list(files.glob("m.*")), "fit wrote a model though it refused"


def _table(n=80, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "shop": rng.choice(["x", "y"], n)})
    y = pd.Series(np.where(np.arange(n) < 16, "yes", "no"), name="label")
    return X, y


def _compare(**kwargs):
    X, y = _table()
    options = {"epochs": 1, "n_splits": 2, "baselines": "none", "data_checks": False}
    X = kwargs.pop("X", X)
    y = kwargs.pop("y", y)
    return bf.compare(X, y, **{**options, **kwargs})


def _fit(**kwargs):
    X, y = _table()
    return bf.model_selection.fit_best(X, y, epochs=1, n_splits=2, **kwargs)


def _deployment_prior(value):
    from balanceflow.model_selection._calibrated import check_deployment_prior

    return check_deployment_prior(value, np.array([0, 1]), 1)


def _strategy(*args, **kwargs):
    return bf.strategies.Strategy(*args, **kwargs)


def _sampler(name, y=None, X=None, **kwargs):
    y = np.array([0] * 30 + [1] * 6) if y is None else y
    X = np.arange(len(y), dtype=float).reshape(-1, 1) if X is None else X
    sampler = {
        "over": bf.sampling.RandomOverSampler,
        "under": bf.sampling.RandomUnderSampler,
    }[name]
    return sampler(**kwargs).fit_resample(X, y)


def _evaluate(proba, y=(0, 0, 1, 1), **kwargs):
    return bf.metrics.evaluate(np.asarray(y), np.asarray(proba), **kwargs)


def _loss_call(loss, y, p):
    return loss(np.asarray(y), np.asarray(p, dtype="float32"))


def _losses():
    return bf.losses


# (id, call, the error class, what the message must name)
API_CASES = [
    # compare
    ("compare-X-list", lambda: _compare(X=[[1.0], [2.0]]), BalanceflowError, r"X"),
    (
        "compare-y-length",
        lambda: _compare(y=pd.Series(["a", "b"] * 3)),
        BalanceflowError,
        r"80.*6|6.*80",
    ),
    (
        "compare-splits-one",
        lambda: _compare(n_splits=1),
        InvalidParameterError,
        r"n_splits.*1",
    ),
    (
        "compare-splits-float",
        lambda: _compare(n_splits=2.5),
        InvalidParameterError,
        r"n_splits.*2\.5",
    ),
    (
        "compare-splits-text",
        lambda: _compare(n_splits="3"),
        InvalidParameterError,
        r"n_splits.*'3'",
    ),
    (
        "compare-splits-bool",
        lambda: _compare(n_splits=True),
        InvalidParameterError,
        r"n_splits.*True",
    ),
    (
        "compare-repeats",
        lambda: _compare(n_repeats=0),
        InvalidParameterError,
        r"n_repeats.*0",
    ),
    ("compare-epochs", lambda: _compare(epochs=0), InvalidParameterError, r"epochs.*0"),
    (
        "compare-epochs-text",
        lambda: _compare(epochs="5"),
        InvalidParameterError,
        r"epochs.*'5'",
    ),
    (
        "compare-batch",
        lambda: _compare(batch_size=0),
        InvalidParameterError,
        r"batch_size.*0",
    ),
    ("compare-seed", lambda: _compare(seed="x"), InvalidParameterError, r"seed.*'x'"),
    (
        "compare-threshold",
        lambda: _compare(threshold=1.5),
        InvalidParameterError,
        r"threshold.*1\.5",
    ),
    (
        "compare-threshold-text",
        lambda: _compare(threshold="0.5"),
        InvalidParameterError,
        r"threshold.*'0\.5'",
    ),
    (
        "compare-strategy-name",
        lambda: _compare(strategies=["nope"]),
        InvalidParameterError,
        r"nope",
    ),
    (
        "compare-strategy-type",
        lambda: _compare(strategies=[3]),
        InvalidParameterError,
        r"3",
    ),
    (
        "compare-strategy-typo",
        lambda: _compare(strategies="focall"),
        InvalidParameterError,
        r"focall.*focal",
    ),
    (
        "compare-tune",
        lambda: _compare(tune_threshold="banana"),
        InvalidParameterError,
        r"banana",
    ),
    (
        "compare-pos-label",
        lambda: _compare(pos_label="maybe"),
        InvalidParameterError,
        r"pos_label.*maybe",
    ),
    (
        "compare-baseline-name",
        lambda: _compare(baselines=["nope"]),
        InvalidParameterError,
        r"nope",
    ),
    (
        "compare-baseline-object",
        lambda: _compare(baselines=[object()]),
        InvalidParameterError,
        r"Received: <object object",
    ),
    (
        "compare-baseline-twice",
        lambda: _compare(baselines=["hgb_balanced", "hgb_balanced"]),
        InvalidParameterError,
        r"hgb_balanced",
    ),
    (
        "compare-data-checks",
        lambda: _compare(data_checks="yes"),
        InvalidParameterError,
        r"data_checks.*'yes'",
    ),
    (
        "compare-jobs-zero",
        lambda: _compare(n_jobs=0),
        InvalidParameterError,
        r"n_jobs.*0",
    ),
    (
        "compare-jobs-negative",
        lambda: _compare(n_jobs=-5),
        InvalidParameterError,
        r"n_jobs.*-5",
    ),
    (
        "compare-jobs-float",
        lambda: _compare(n_jobs=1.5),
        InvalidParameterError,
        r"n_jobs.*1\.5",
    ),
    (
        "compare-scheduler",
        lambda: _compare(scheduler="garbage"),
        InvalidParameterError,
        r"scheduler.*garbage",
    ),
    (
        "compare-engine",
        lambda: _compare(engine="turbo"),
        InvalidParameterError,
        r"engine.*turbo",
    ),
    (
        "compare-one-class",
        lambda: _compare(y=pd.Series(["a"] * 80)),
        BalanceflowError,
        r"class",
    ),
    (
        "compare-missing-label",
        lambda: _compare(y=pd.Series(["a", None] + ["b"] * 78)),
        BalanceflowError,
        r"missing|NaN|None",
    ),
    (
        "compare-continuous",
        lambda: _compare(y=pd.Series(np.linspace(0, 1, 80))),
        BalanceflowError,
        r"continuous|classes",
    ),
    (
        "compare-X-inf",
        lambda: _compare(X=pd.DataFrame({"a": [np.inf] + [0.0] * 79})),
        BalanceflowError,
        r"'a'.*inf",
    ),
    (
        "compare-X-no-columns",
        lambda: _compare(X=pd.DataFrame(index=range(80))),
        BalanceflowError,
        r"column",
    ),
    (
        "compare-label-in-X",
        lambda: _compare(X=_table()[0].assign(label=_table()[1])),
        BalanceflowError,
        r"label",
    ),
    (
        "compare-recipe-and-epochs",
        lambda: _compare(recipe=bf.training.Recipe(), epochs=3),
        InvalidParameterError,
        r"recipe",
    ),
    # fit
    (
        "fit-X-array",
        lambda: bf.model_selection.fit_best(np.zeros((10, 2)), np.zeros(10)),
        InvalidParameterError,
        r"`X` must be a pandas DataFrame.*ndarray",
    ),
    ("fit-holdout", lambda: _fit(holdout=0.9), InvalidParameterError, r"holdout.*0\.9"),
    ("fit-holdout-int", lambda: _fit(holdout=1), InvalidParameterError, r"holdout.*1"),
    ("fit-vote", lambda: _fit(vote=0), InvalidParameterError, r"vote.*0"),
    ("fit-bag", lambda: _fit(bag=-1), InvalidParameterError, r"bag.*-1"),
    ("fit-bag-float", lambda: _fit(bag=1.5), InvalidParameterError, r"bag.*1\.5"),
    ("fit-metric", lambda: _fit(metric="ece"), InvalidParameterError, r"metric.*'ece'"),
    (
        "fit-objective",
        lambda: _fit(objective="banana"),
        InvalidParameterError,
        r"objective.*banana",
    ),
    (
        "fit-prior-high",
        lambda: _fit(deployment_prior=1.5),
        InvalidParameterError,
        r"deployment_prior=1\.5",
    ),
    (
        "fit-prior-nan",
        lambda: _fit(deployment_prior=float("nan")),
        InvalidParameterError,
        r"deployment_prior=nan",
    ),
    (
        "fit-prior-dict",
        lambda: _fit(deployment_prior={"yes": 0.5}),
        InvalidParameterError,
        r"missing.*'no'",
    ),
    (
        "fit-prior-list",
        lambda: _fit(deployment_prior=[0.2, 0.3, 0.5]),
        InvalidParameterError,
        r"Received 3",
    ),
    (
        "fit-prior-text",
        lambda: _fit(deployment_prior="0.1"),
        InvalidParameterError,
        r"deployment_prior.*'0\.1'",
    ),
    (
        "fit-prior-key-twice",
        lambda: _deployment_prior({0: 0.5, "0": 0.2, 1: 0.3}),
        InvalidParameterError,
        r"names a class twice",
    ),
    (
        "fit-prior-share-text",
        lambda: _fit(deployment_prior={"yes": "0.1", "no": 0.9}),
        InvalidParameterError,
        r"'0\.1'",
    ),
    (
        "fit-calibrate",
        lambda: _fit(calibrate="no"),
        InvalidParameterError,
        r"calibrate.*'no'",
    ),
    ("fit-strategy", lambda: _fit(strategy="nope"), InvalidParameterError, r"nope"),
    # strategies
    (
        "strategy-sampler",
        lambda: _strategy("x", sampler="nope"),
        InvalidParameterError,
        r"sampler.*nope",
    ),
    (
        "strategy-empty-name",
        lambda: _strategy("", sampler="under"),
        InvalidParameterError,
        r"name",
    ),
    ("strategy-name-type", lambda: _strategy(3), InvalidParameterError, r"name.*3"),
    (
        "strategy-parts-type",
        lambda: _strategy("x", parts=[1]),
        InvalidParameterError,
        r"part.*1",
    ),
    (
        "strategy-parts-and-keywords",
        lambda: _strategy("x", parts=[bf.strategies.Resample("under")], sampler="over"),
        InvalidParameterError,
        r"not both",
    ),
    (
        "strategy-class-weight",
        lambda: _strategy("x", class_weight="nope"),
        InvalidParameterError,
        r"nope",
    ),
    (
        "strategy-loss",
        lambda: _strategy("x", loss="focall"),
        InvalidParameterError,
        r"focall",
    ),
    (
        "strategy-pipeline",
        lambda: _strategy("x", pipeline="nope"),
        InvalidParameterError,
        r"pipeline.*nope",
    ),
    (
        "strategy-unknown-keyword",
        lambda: _strategy("x", members=["a"]),
        InvalidParameterError,
        r"members",
    ),
    (
        "resample-name",
        lambda: bf.strategies.Resample("nope"),
        InvalidParameterError,
        r"sampler.*nope",
    ),
    (
        "epochwise-name",
        lambda: bf.strategies.EpochwiseBalance("nope"),
        InvalidParameterError,
        r"pipeline.*nope",
    ),
    (
        "ensemble-empty",
        lambda: bf.strategies.Ensemble("e", []),
        InvalidParameterError,
        r"members",
    ),
    (
        "ensemble-string",
        lambda: bf.strategies.Ensemble("e", "over"),
        InvalidParameterError,
        r"members.*'over'",
    ),
    (
        "ensemble-combine",
        lambda: bf.strategies.Ensemble("e", ["over"], combine="avg"),
        InvalidParameterError,
        r"combine.*avg",
    ),
    (
        "tuned-objective",
        lambda: bf.strategies.Tuned(_strategy("x"), "banana"),
        InvalidParameterError,
        r"banana",
    ),
    (
        "tuned-base",
        lambda: bf.strategies.Tuned("over"),
        InvalidParameterError,
        r"base.*'over'",
    ),
    (
        "strategy-get",
        lambda: bf.strategies.get("focall"),
        InvalidParameterError,
        r"focall",
    ),
    (
        "label-key",
        lambda: _strategy(
            "x", sampler="under", sampling_strategy={"maybe": 3}
        ).with_class_indices(["no", "yes"]),
        InvalidParameterError,
        r"'maybe'.*\['no', 'yes'\]",
    ),
    # samplers
    (
        "sampler-ratio-negative",
        lambda: _sampler("over", sampling_strategy=-1.0),
        InvalidParameterError,
        r"sampling_strategy.*-1",
    ),
    (
        "sampler-ratio-over-one",
        lambda: _sampler("under", sampling_strategy=1.5),
        InvalidParameterError,
        r"sampling_strategy.*1\.5",
    ),
    (
        "sampler-name",
        lambda: _sampler("over", sampling_strategy="nope"),
        InvalidParameterError,
        r"sampling_strategy.*nope",
    ),
    (
        "sampler-unknown-class",
        lambda: _sampler("over", sampling_strategy={9: 50}),
        InvalidParameterError,
        r"9",
    ),
    (
        "sampler-under-grows",
        lambda: _sampler("under", sampling_strategy={1: 20}),
        InvalidParameterError,
        r"20",
    ),
    (
        "sampler-over-shrinks",
        lambda: _sampler("over", sampling_strategy={0: 5}),
        InvalidParameterError,
        r"5",
    ),
    (
        "sampler-continuous",
        lambda: _sampler("over", y=np.linspace(0, 1, 36)),
        BalanceflowError,
        r"continuous",
    ),
    (
        "sampler-one-class",
        lambda: _sampler("over", y=np.zeros(36)),
        BalanceflowError,
        r"class",
    ),
    (
        "sampler-length",
        lambda: _sampler("over", X=np.zeros((5, 1))),
        BalanceflowError,
        r"5.*36|36.*5",
    ),
    (
        "sampler-random-state",
        lambda: _sampler("over", random_state="x"),
        InvalidParameterError,
        r"'x'",
    ),
    (
        "sampler-missing-label",
        lambda: _sampler("over", y=np.array([0.0] * 30 + [np.nan] + [1.0] * 5)),
        BalanceflowError,
        r"missing|NaN",
    ),
    (
        "sampler-get",
        lambda: bf.sampling.get_sampler("nope"),
        InvalidParameterError,
        r"nope",
    ),
    # class weights
    (
        "class-weight-method",
        lambda: bf.class_weight(np.array([0, 1, 1]), method="nope"),
        InvalidParameterError,
        r"method.*nope",
    ),
    (
        "class-weight-one-class",
        lambda: bf.class_weight(np.zeros(5)),
        BalanceflowError,
        r"class",
    ),
    # metrics
    (
        "evaluate-nan",
        lambda: _evaluate([0.1, np.nan, 0.8, 0.9]),
        BalanceflowError,
        r"NaN|finite",
    ),
    (
        "evaluate-above-one",
        lambda: _evaluate([0.1, 1.5, 0.8, 0.9]),
        BalanceflowError,
        r"1\.5",
    ),
    (
        "evaluate-negative",
        lambda: _evaluate([0.1, -0.2, 0.8, 0.9]),
        BalanceflowError,
        r"-0\.2",
    ),
    (
        "evaluate-length",
        lambda: _evaluate([0.1, 0.2, 0.8]),
        BalanceflowError,
        r"3.*4|4.*3",
    ),
    (
        "evaluate-threshold",
        lambda: _evaluate([0.1, 0.2, 0.8, 0.9], threshold=2.0),
        InvalidParameterError,
        r"threshold.*2",
    ),
    (
        "evaluate-threshold-multiclass",
        lambda: _evaluate(np.full((3, 3), 1 / 3), y=(0, 1, 2), threshold=0.3),
        InvalidParameterError,
        r"threshold",
    ),
    (
        "evaluate-pos-label",
        lambda: _evaluate([0.1, 0.2, 0.8, 0.9], pos_label=7),
        BalanceflowError,
        r"pos_label.*7",
    ),
    (
        "evaluate-one-class",
        lambda: _evaluate([0.1, 0.2, 0.8, 0.9], y=(1, 1, 1, 1)),
        BalanceflowError,
        r"class",
    ),
    (
        "evaluate-rows-not-one",
        lambda: _evaluate(np.full((3, 3), 0.5), y=(0, 1, 2)),
        BalanceflowError,
        r"sum",
    ),
    (
        "brier-length",
        lambda: bf.metrics.brier_score(np.array([0, 1]), np.array([0.5])),
        BalanceflowError,
        r"1.*2|2.*1",
    ),
    (
        "ece-bins",
        lambda: bf.metrics.expected_calibration_error(
            np.array([0, 1]), np.array([0.2, 0.8]), n_bins=0
        ),
        InvalidParameterError,
        r"n_bins.*0",
    ),
    # thresholds
    (
        "prior-zero",
        lambda: bf.thresholds.correct_prior(
            [0.5], train_prior=[1.0, 0.0], target_prior=[0.5, 0.5]
        ),
        BalanceflowError,
        r"train_prior.*\[1\.0, 0\.0\]",
    ),
    (
        "prior-negative",
        lambda: bf.thresholds.correct_prior(
            [0.5], train_prior=[1.2, -0.2], target_prior=[0.5, 0.5]
        ),
        BalanceflowError,
        r"train_prior",
    ),
    (
        "prior-length",
        lambda: bf.thresholds.correct_prior(
            [0.5], train_prior=[0.2, 0.3, 0.5], target_prior=[0.5, 0.5]
        ),
        BalanceflowError,
        r"one value per class",
    ),
    (
        "tuned-threshold-objective",
        lambda: bf.thresholds.TunedThreshold(objective="x").fit(
            np.array([0, 1]), np.array([0.2, 0.7])
        ),
        InvalidParameterError,
        r"objective.*'x'",
    ),
    (
        "tuned-threshold-scores",
        lambda: bf.thresholds.TunedThreshold().fit(
            np.array([0, 1]), np.array([0.2, 7.0])
        ),
        BalanceflowError,
        r"7",
    ),
    # losses
    (
        "focal-gamma",
        lambda: _losses().FocalLoss(gamma=-1.0),
        InvalidParameterError,
        r"gamma.*-1",
    ),
    (
        "focal-alpha-length",
        lambda: _loss_call(
            _losses().FocalLoss(alpha=[0.5, 0.5]), [0, 1, 2], np.full((3, 3), 1 / 3)
        ),
        BalanceflowError,
        r"alpha",
    ),
    (
        "ldam-counts-zero",
        lambda: _losses().LDAMLoss([0, 5]),
        InvalidParameterError,
        r"class_counts",
    ),
    (
        "ldam-scale",
        lambda: _losses().LDAMLoss([5, 5], scale=0.0),
        InvalidParameterError,
        r"scale.*0",
    ),
    (
        "logit-adjusted-tau",
        lambda: _losses().LogitAdjustedLoss([0.5, 0.5], tau=-1.0),
        InvalidParameterError,
        r"tau",
    ),
    (
        "class-balanced-beta",
        lambda: _losses().ClassBalancedLoss([5, 5], beta=1.5),
        InvalidParameterError,
        r"beta.*1\.5",
    ),
    (
        "weighted-loss",
        lambda: _losses().weighted("nope", [1.0, 2.0]),
        BalanceflowError,
        r"nope",
    ),
    (
        "weighted-negative",
        lambda: _losses().weighted("binary_crossentropy", [1.0, -2.0]),
        InvalidParameterError,
        r"class_weight.*-2",
    ),
    ("loss-get", lambda: _losses().get("focall"), InvalidParameterError, r"focall"),
    (
        "loss-label-range",
        lambda: _loss_call(_losses().FocalLoss(), [1, 2, 3], np.full((3, 3), 1 / 3)),
        DataError,
        r"first: 3",
    ),
    (
        "loss-binary-label",
        lambda: _loss_call(_losses().FocalLoss(), [0, 2], np.full((2, 1), 0.5)),
        DataError,
        r"first: 2",
    ),
    (
        "loss-shape",
        lambda: _loss_call(
            _losses().FocalLoss(), np.zeros((3, 2)), np.full((3, 3), 1 / 3)
        ),
        DataError,
        r"\(3, 2\).*\(3, 3\)",
    ),
    # layers, datasets, saved models
    (
        "layer-prior-length",
        lambda: bf.layers.with_prior_correction(
            _tiny_model(), train_prior=[0.2, 0.3, 0.5], target_prior=[0.3, 0.3, 0.4]
        ),
        InvalidParameterError,
        r"3 classes",
    ),
    ("datasets-name", lambda: bf.datasets.load("nope"), BalanceflowError, r"nope"),
    (
        "load-missing",
        lambda: bf.model_selection.load_fitted("nope.keras"),
        DataError,
        r"nope\.keras",
    ),
]


def _tiny_model():
    import keras

    return keras.Sequential(
        [keras.Input((2,)), keras.layers.Dense(1, activation="sigmoid")]
    )


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [case[1:] for case in API_CASES],
    ids=[case[0] for case in API_CASES],
)
def test_a_bad_python_call_fails_with_a_message_that_names_it(call, error, pattern):
    with pytest.raises(error) as caught:
        call()
    text = " ".join(str(caught.value).split())
    assert re.search(pattern, text), text


# Inputs that look unusual but are fine: each is checked against an independent result.


def test_sparse_input_to_a_sampler_resamples_like_the_dense_one():
    from scipy import sparse

    X = np.arange(72, dtype=float).reshape(36, 2)
    y = np.array([0] * 30 + [1] * 6)
    dense_X, dense_y = bf.sampling.RandomOverSampler(random_state=0).fit_resample(X, y)
    sparse_X, sparse_y = bf.sampling.RandomOverSampler(random_state=0).fit_resample(
        sparse.csr_matrix(X), y
    )
    assert sparse.issparse(sparse_X)
    np.testing.assert_array_equal(sparse_X.toarray(), dense_X)
    np.testing.assert_array_equal(sparse_y, dense_y)
    assert np.bincount(dense_y).tolist() == [30, 30]


def test_a_probability_over_one_by_round_off_is_accepted_as_one():
    report = _evaluate([0.1, 0.2, 0.8, 1.0000000000000002])
    assert report.roc_auc == pytest.approx(1.0)


def test_boolean_and_text_targets_give_the_weights_of_their_classes():
    weights = bf.class_weight(np.array([True, False, False, False]))
    # balanced: n / (K * count): 4 / (2 * 3) for False (index 0), 4 / (2 * 1) for True.
    assert weights == pytest.approx({0: 4 / 6, 1: 2.0})
    text = bf.class_weight(np.array(["b", "a", "a", "a"]))
    assert text == pytest.approx({0: 4 / 6, 1: 2.0})


def test_soft_binary_labels_are_accepted_by_the_losses():
    """Soft labels in [0, 1] are a label-smoothing convention Keras accepts: the focal
    loss with gamma 0 and no alpha is then the binary cross-entropy of soft labels."""
    import keras

    p = np.array([[0.3], [0.8]], dtype="float32")
    y = np.array([0.2, 0.9], dtype="float32")
    focal = bf.losses.FocalLoss(gamma=0.0, reduction=None)
    expected = -(y * np.log(p[:, 0]) + (1 - y) * np.log(1 - p[:, 0]))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(focal(y, p)), expected, rtol=1e-5
    )


def test_a_corrupt_zip_named_keras_is_one_clear_error(tmp_path):
    path = tmp_path / "m.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", "{not json")
    with pytest.raises(DataError, match=r"m\.keras"):
        bf.model_selection.load_fitted(path)
