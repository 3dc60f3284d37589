"""The shared checks: every registered part, preset, sampler and loss gets the same ones.

A new part, preset, sampler or loss is checked the day it is added: the registries are
iterated, and a part without an example here fails the first test.
"""

import keras
import numpy as np
import pytest

from balanceflow.losses import LOSS_NAMES
from balanceflow.sampling import SAMPLERS
from balanceflow.strategies import (
    PARTS,
    PRESETS,
    ClassWeights,
    CountsLoss,
    DeferredReweighting,
    EpochwiseBalance,
    Resample,
    Strategy,
    TrainingSetup,
    from_config,
    get,
)
from balanceflow.strategies._parts import part_config, part_from_config
from balanceflow.training import Recipe, Trial, TrialData, run_trial

# One example of every part kind, with non-default arguments where it has them.
PART_EXAMPLES = {
    "resample": Resample("under", 0.5),
    "class_weights": ClassWeights("effective_number"),
    "loss": CountsLoss("focal", {"gamma": 1.5}),
    "deferred_reweighting": DeferredReweighting(0.6),
    "epochwise": EpochwiseBalance("over", "auto", {"draws_per_epoch": 2}),
}


def _setup(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(60, 3)).astype("float32")
    y = np.array([0] * 50 + [1] * 10)
    return TrainingSetup(X=X, y=y, n_classes=2, epochs=5, batch_size=16, seed=seed)


def test_every_part_kind_has_an_example():
    assert set(PART_EXAMPLES) == set(PARTS)


@pytest.mark.parametrize("kind", sorted(PARTS))
def test_part_config_round_trip(kind):
    """Check that from_config(get_config()) rebuilds an equal part of the same class."""
    part = PART_EXAMPLES[kind]
    again = part_from_config(part_config(part))
    assert type(again) is type(part) and again == part
    assert type(part).from_config(part.get_config()) == part


@pytest.mark.parametrize("kind", sorted(PARTS))
def test_part_apply_returns_a_new_setup_and_leaves_its_input_alone(kind):
    """Check that a part changes only the setup it returns (parts compose in order)."""
    setup = _setup()
    X_before, y_before = setup.X.copy(), setup.y.copy()
    changed = PART_EXAMPLES[kind].apply(setup)
    assert isinstance(changed, TrainingSetup) and changed is not setup
    np.testing.assert_array_equal(setup.X, X_before)
    np.testing.assert_array_equal(setup.y, y_before)
    assert (setup.class_weight, setup.loss, setup.callbacks, setup.pipeline) == (
        None,
        None,
        (),
        None,
    )


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_config_round_trip_and_equality(name):
    """Check that every preset rebuilds from its config and that equality ignores the
    description only."""
    preset = get(name)
    assert from_config(preset.get_config()) == preset
    assert preset.identity() == from_config(preset.get_config()).identity()
    for leaf in preset.leaves():
        assert isinstance(leaf, Strategy)
        renamed = Strategy(leaf.name + "_x", leaf.parts)
        assert renamed != leaf


@pytest.mark.parametrize(
    "name", [n for n in PRESETS if isinstance(PRESETS[n], Strategy)]
)
def test_preset_trial_is_deterministic_and_depends_on_its_seed(name):
    """Check that a preset's trial gives the same probabilities twice for one seed, and
    (for strategies that draw at random) other ones for another seed."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 3)).astype("float32")
    y = (X[:, 0] > 0.7).astype(int)  # about 1 in 4 positive: enough for 5 neighbours
    data = TrialData(features=X, codes=y, n_classes=2)
    recipe = Recipe(epochs=2, batch_size=16)
    rows = np.arange(60)

    def proba(seed):
        trial = Trial(get(name), rows, np.arange(60, 80), seed=seed, init_seed=0)
        return run_trial(data, recipe, trial).proba

    first = proba(5)
    assert first.shape == (20, 2) and np.isfinite(first).all()
    np.testing.assert_allclose(first.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(first, proba(5))
    assert not np.array_equal(first, proba(6))  # the seed orders the batches


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_every_sampler_as_a_part_is_seeded_by_the_trial(sampler):
    """Check that Resample draws the same rows for one trial seed, other rows for another,
    and that 'auto' balances the classes."""
    part = Resample(sampler)
    first, again, other = (part.apply(_setup(s)) for s in (3, 3, 4))
    np.testing.assert_array_equal(first.X, again.X)
    assert not np.array_equal(first.X, other.X)
    counts = np.bincount(first.y)
    assert counts[0] == counts[1] == (50 if sampler == "over" else 10)


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_every_loss_built_by_a_part_survives_keras_serialization(name):
    """Check that the loss a CountsLoss part builds from class counts round-trips through
    Keras' serialization with the same config."""
    loss = CountsLoss(name).build(np.array([40, 10]))
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(again) is type(loss)
    assert again.get_config() == loss.get_config()
