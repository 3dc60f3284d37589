"""The fused engine on the JAX backend: the same stacked step, compiled by ``jax.jit``
with ``jax.grad``, trains each member to the weights it gets alone.

The reference is the one-at-a-time path on the same backend (Keras' own ``model.fit``
and Adam under JAX) on the same trials. The backend is chosen when Keras is imported, so
this module runs in the JAX pass of ``make test`` (``KERAS_BACKEND=jax``); the
TensorFlow pass leaves it out (``tests/conftest.py``), as test_fused.py covers
TensorFlow.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from balanceflow.strategies import PRESETS, Strategy, get
from balanceflow.training import Recipe, Trial, TrialData, run_group

SINGLE = [name for name, s in PRESETS.items() if isinstance(s, Strategy)]
STOPPING = ["none", "class_weight", "under", "under_epochwise", "ldam_drw"]


def test_this_module_runs_on_jax():
    assert keras.backend.backend() == "jax"


def _trials(names, train, test, init_seed):
    return [
        Trial(get(n), train, test, seed=i, init_seed=init_seed, keep_model=True, tag=n)
        for i, n in enumerate(names)
    ]


@pytest.fixture(scope="module")
def both_engines():
    """Every single-model preset, 3 epochs (LDAM-DRW re-weights from epoch 2)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 5)).astype(np.float32)
    y = (X[:, 0] + 0.5 * rng.normal(size=400) > 1.3).astype(int)
    data = TrialData(X, y, 2)
    recipe = Recipe(epochs=3, batch_size=32)
    trials = _trials(SINGLE, np.arange(300), np.arange(300, 400), init_seed=3)
    return run_group(data, recipe, trials, "loop"), run_group(
        data, recipe, trials, "fused"
    )


@pytest.mark.parametrize("name", SINGLE)
def test_a_jax_fused_model_trains_to_the_weights_it_gets_alone(both_engines, name):
    loop, fused = ({r.tag: r for r in results} for results in both_engines)
    assert fused[name].engine == "fused" and loop[name].engine == "loop"
    assert fused[name].group_size == len(SINGLE)
    for alone, stacked in zip(loop[name].weights, fused[name].weights):
        np.testing.assert_allclose(stacked, alone, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fused[name].proba, loop[name].proba, atol=1e-6)


def test_the_jax_models_trained_and_differently(both_engines):
    _, fused = both_engines
    start = Recipe().build((5,), 2, seed=3).get_weights()
    finals = {r.tag: r.weights for r in fused}
    for weights in finals.values():
        assert max(np.abs(w - s).max() for w, s in zip(weights, start)) > 1e-3
    assert not np.allclose(finals["none"][0], finals["ldam_drw"][0])


@pytest.fixture(scope="module")
def stopped():
    """Early stopping on a noisy table, so models stop at different epochs."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(360, 4)).astype(np.float32)
    y = (X[:, 1] + 1.5 * rng.normal(size=360) > 1.8).astype(int)
    data = TrialData(X, y, 2)
    recipe = Recipe(
        epochs=30, batch_size=32, learning_rate=0.01, early_stopping=True, patience=3
    )
    trials = _trials(STOPPING, np.arange(280), np.arange(280, 360), init_seed=1)
    return (
        recipe,
        run_group(data, recipe, trials, "loop"),
        run_group(data, recipe, trials, "fused"),
    )


@pytest.mark.parametrize("name", STOPPING)
def test_a_jax_fused_member_stops_where_it_stops_alone(stopped, name):
    _, loop, fused = stopped
    alone = {r.tag: r for r in loop}[name]
    stacked = {r.tag: r for r in fused}[name]
    assert stacked.engine == "fused"
    assert stacked.best_epoch == alone.best_epoch
    for a, b in zip(alone.weights, stacked.weights):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)


def test_some_jax_members_stopped_before_the_budget(stopped):
    recipe, loop, _ = stopped
    epochs = [r.best_epoch for r in loop]
    assert min(epochs) < recipe.epochs - 1 - recipe.patience, epochs
    assert len(set(epochs)) > 1, epochs


def test_a_frozen_jax_member_keeps_its_weights_and_adam_state_exactly(
    two_member_stack, run_steps
):
    """Chunks of 3 steps run padded to 4 on JAX: the padding step must not move
    anything either."""
    stack = two_member_stack()
    before = stack.state()
    active = np.zeros((3, 2), bool)
    active[:, 0] = True
    run_steps(stack, 3, active)
    after = stack.state()
    for name in ("params", "m", "v", "t"):
        np.testing.assert_array_equal(after[name][1], before[name][1])
        assert not np.array_equal(after[name][0], before[name][0])
    assert after["t"].tolist() == [3.0, 0.0]  # three real steps, not four


def test_compare_on_jax_trains_fused_and_says_so():
    """The whole driver on JAX: the grid trains stacked, the engine line names the
    backend, and the scores equal those of the one-at-a-time engine."""
    import balanceflow as bf

    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 4)).astype(np.float32)
    y = (X[:, 0] + 0.5 * rng.normal(size=300) > 1.2).astype(int)
    runs = {
        engine: bf.compare(
            X,
            y,
            strategies=["none", "class_weight", "under"],
            n_splits=3,
            epochs=2,
            engine=engine,
            baselines="none",
        )
        for engine in ("fused", "loop")
    }
    assert runs["fused"].settings["engine"] == (
        "fused (on jax): 9 models, up to 9 per step"
    )
    assert runs["loop"].settings["engine"].startswith("loop: 9 models")
    fused, loop = (runs[e].leaderboard("pr_auc") for e in ("fused", "loop"))
    np.testing.assert_allclose(fused.to_numpy(float), loop.to_numpy(float), atol=1e-6)
