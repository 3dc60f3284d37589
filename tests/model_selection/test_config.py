"""User strategies from TOML: built like presets, with errors that name key and line."""

import textwrap

import pytest
from typer.testing import CliRunner

from balanceflow.cli import app
from balanceflow.exceptions import InvalidParameterError
from balanceflow.strategies import (
    PRESETS,
    ClassWeights,
    CountsLoss,
    Ensemble,
    Resample,
    Strategy,
    Tuned,
    load_config,
)


def write(tmp_path, text):
    path = tmp_path / "strategies.toml"
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def test_config_strategies_equal_their_hand_written_composition(tmp_path):
    path = write(
        tmp_path,
        """
        [strategies.under_half]
        sampler = "under"
        sampling_strategy = 0.5

        [strategies.vote]
        members = ["class_weight", "under_half"]
        combine = "hard"

        [strategies.focal_mild]
        loss = "focal"
        loss_options = { gamma = 1.0 }
        tune_threshold = "f1"

        [strategies.by_count]
        sampler = "under"
        sampling_strategy = { 0 = 30, 1 = 10 }
        """,
    )
    under_half, vote, focal_mild, by_count = load_config(path)
    assert under_half == Strategy("under_half", [Resample("under", 0.5)])
    assert vote == Ensemble("vote", ["class_weight", "under_half"], "hard")
    assert focal_mild == Tuned(
        Strategy("focal_mild", [CountsLoss("focal", {"gamma": 1.0})]), "f1"
    )
    assert focal_mild.name == "focal_mild+tuned"
    # TOML keys are text: a key that reads as an integer is that integer label.
    assert by_count.parts == (Resample("under", {0: 30, 1: 10}),)


def test_presets_are_compositions_of_the_same_parts():
    """Check that each preset equals the Strategy written by hand from its parts."""
    assert PRESETS["over"] == Strategy("over", [Resample("over")])
    assert PRESETS["under"] == Strategy("under", sampler="under")
    assert PRESETS["class_weight"] == Strategy("class_weight", [ClassWeights()])
    assert PRESETS["seed_ensemble"] == Ensemble(
        "seed_ensemble", ["none", "over", "under"], "soft"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            '[strategies.a]\nsampler = "under"\nsampling = 0.5\n',
            r"strategies.toml:3: unknown key 'sampling'.*Did you mean 'sampler'",
        ),
        (
            "[strategies.a]\n\nsampler = 3\n",
            r"strategies.toml:3: `sampler` in \[strategies.a\] must be a sampler name.*sampler=3",
        ),
        ('[strategies.a]\ncombine = "hard"\n', r"`combine` applies to ensembles only"),
        (
            '[strategies.a]\nmembers = ["none"]\ncombine = "vote"\n',
            r"unknown `combine` method",
        ),
        (
            '[strategies.a]\nmembers = ["none"]\nsampler = "under"\n',
            r"is an ensemble \(members\) and also sets \['sampler'\]",
        ),
        ('[strategies.a]\nloss = "focal"\ntune_threshold = "banana"\n', r"objective"),
        (
            '[strategies.a]\nloss = "focall"\n',
            r"Unknown `loss`. Received: loss='focall'.*Did you mean 'focal'",
        ),
        (
            '[strategy.a]\nsampler = "under"\n',
            r"unknown top-level key 'strategy'.*Did you mean 'strategies'",
        ),
        ('[strategies.over]\nsampler = "under"\n', r"'over' is a built-in strategy"),
        ("[strategies.a\n", r"not valid TOML"),
    ],
)
def test_bad_config_names_key_and_line(tmp_path, body, message):
    path = tmp_path / "strategies.toml"
    path.write_text(body)
    with pytest.raises(InvalidParameterError, match=message):
        load_config(path)


def test_cli_runs_config_strategies(tmp_path):
    path = write(
        tmp_path,
        '[strategies.under_half]\nsampler = "under"\nsampling_strategy = 0.5\n',
    )
    result = CliRunner().invoke(
        app,
        [
            "compare",
            "--epochs",
            "1",
            "--n-splits",
            "2",
            "-s",
            "none",
            "--config",
            str(path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "under_half" in result.output


def test_the_loss_names_strategies_check_are_the_registry_s():
    """The strategies layer checks loss names without importing Keras; its list must be
    the registry's."""
    from balanceflow.losses import LOSS_NAMES as REGISTRY
    from balanceflow.strategies._parts import LOSS_NAMES

    assert set(LOSS_NAMES) == set(REGISTRY)
