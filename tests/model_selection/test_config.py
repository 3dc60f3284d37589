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


def test_sampling_strategy_keys_are_the_targets_own_labels():
    """Check that {label: count} keys become class indices (sorted-label order) in
    every mode and part, that TOML's text keys match number labels, and that a key
    naming no class is an error listing the classes."""
    from balanceflow.sampling import RandomUnderSampler
    from balanceflow.strategies import EpochwiseBalance

    classes = ["fraud", "ok"]
    under = Strategy("u", [Resample("under", {"ok": 60})])
    assert under.with_class_indices(classes).parts[0].sampling_strategy == {1: 60}
    pipeline = Strategy("p", [EpochwiseBalance("over", {"fraud": 90})])
    assert pipeline.with_class_indices(classes).parts[0].sampling_strategy == {0: 90}
    vote = Ensemble("e", [under, Strategy("plain")]).tuned()
    keyed = vote.with_class_indices(classes)
    assert keyed.base.members[0].parts[0].sampling_strategy == {1: 60}
    assert keyed.name == vote.name
    # A sampler object keeps its own settings; its dict is re-keyed on a copy.
    sampler = RandomUnderSampler(sampling_strategy={"ok": 10})
    part = Resample(sampler).with_class_indices(classes)
    assert part.sampler.sampling_strategy == {1: 10}
    assert sampler.sampling_strategy == {"ok": 10}
    # Number labels: 2 is the class with index 1, whether written 2 or "2" (TOML).
    for key in (2, "2"):
        part = Resample("under", {key: 30}).with_class_indices([1, 2])
        assert part.sampling_strategy == {1: 30}
    # A float ratio or "auto" has no labels in it.
    assert Resample("under", 0.5).with_class_indices(classes).sampling_strategy == 0.5
    with pytest.raises(InvalidParameterError, match=r"names the class 1, which is not"):
        Resample("under", {1: 60}).with_class_indices(classes)


def test_compare_and_fit_read_label_keys_as_the_hand_written_class_indices(
    monkeypatch,
):
    """Check that compare trains a {label: count} strategy exactly as the same strategy
    written with class indices by hand (same seed, same probabilities), and that fit's
    final model trains under the prior of those counts."""
    import numpy as np
    import pandas as pd

    import balanceflow as bf
    import balanceflow.model_selection._fit as fit_module

    priors = []
    real = fit_module.trained_prior

    def spy(leaf, counts):
        priors.append(real(leaf, counts)[0])
        return real(leaf, counts)

    monkeypatch.setattr(fit_module, "trained_prior", spy)

    rng = np.random.default_rng(0)
    n = 160
    X = pd.DataFrame({"a": rng.normal(size=n) + (np.arange(n) < 30)})
    y = pd.Series(np.where(np.arange(n) < 30, "fraud", "ok"))
    by_label = Strategy("u", [Resample("under", {"ok": 40})])
    by_index = Strategy("u", [Resample("under", {1: 40})])
    options = {"epochs": 1, "n_splits": 2, "baselines": "none", "data_checks": False}
    left = bf.compare(X, y, strategies=[by_label], **options)
    right = bf.compare(
        X, y.map({"fraud": 0, "ok": 1}), strategies=[by_index], **options
    )
    np.testing.assert_allclose(left.proba["u"], right.proba["u"], atol=1e-6)
    fitted = bf.model_selection.fit_best(
        X, y, strategy=by_label, bag=0, epochs=1, n_splits=2, baselines="none"
    )
    # Under-sampled to all 30 "fraud" rows and 40 "ok": the prior it trained under.
    (prior,) = priors
    np.testing.assert_allclose(prior, [30 / 70, 40 / 70])
    share = fitted.card["calibration"]["target_prior"]
    assert share == pytest.approx([30 / 160, 130 / 160])


def test_a_toml_config_writes_class_counts_with_the_targets_labels(tmp_path):
    """Check that `sampling_strategy = {ok = 60}` in TOML (text keys, also for number
    labels) reaches the sampler keyed by class index."""
    path = write(
        tmp_path,
        """
        [strategies.under60]
        sampler = "under"
        sampling_strategy = { ok = 60 }

        [strategies.under_code]
        sampler = "under"
        sampling_strategy = { "7" = 20 }
        """,
    )
    by_name = {s.name: s for s in load_config(path)}
    keyed = by_name["under60"].with_class_indices(["fraud", "ok"])
    assert keyed.parts[0].sampling_strategy == {1: 60}
    keyed = by_name["under_code"].with_class_indices([3, 7])
    assert keyed.parts[0].sampling_strategy == {1: 20}
