"""Shared set-up of the fused engine's stack tests: a stack of two members and plain
steps to run on it."""

from __future__ import annotations

import numpy as np
import pytest

from balanceflow.training import Recipe


@pytest.fixture
def two_member_stack():
    """``build(stopping=False, stopped=(False, False))``: a stack of two copies of the
    default model (4 inputs, binary) on a 60-row pool; with ``stopping``, both members
    hold out rows 50-59 with patience 3, and ``stopped`` says which are already out of
    patience."""
    import keras

    from balanceflow.training._fused import _Stack, stack_spec

    def build(stopping: bool = False, stopped=(False, False)):
        model = Recipe().build((4,), 2, seed=0)
        spec, reason = stack_spec(model)
        assert reason == ""
        weights = [model.get_weights(), model.get_weights()]
        state = _Stack.initial_state(weights, stopping=stopping)
        held = None
        if stopping:
            state["stopped"][:] = stopped
            rows = np.tile(np.arange(50, 60), (2, 1))
            held = (rows, np.full(rows.shape, 0.1, "f4"), np.full((2, 2), 0.5, "f4"), 3)
        rng = np.random.default_rng(1)
        return _Stack(
            spec,
            state,
            [keras.losses.BinaryCrossentropy()] * 2,
            rng.normal(size=(60, 4)).astype("f4"),
            (np.arange(60) % 3 == 0).astype("i4"),
            False,
            [w.shape for w in weights[0]],
            held,
        )

    return build


@pytest.fixture
def run_steps():
    """``run(stack, steps, active=None, ends=None)``: ``steps`` steps of 8 rows from
    pool rows 0-49, unit weights; ``active`` and ``ends`` are ``(steps, members)``
    (default: every member active, no epoch ending)."""

    def run(stack, steps: int, active=None, ends=None) -> None:
        members, size = stack.width, 8
        rows = np.arange(steps * members * size).reshape(steps, members, size) % 50
        stack.chunk(
            rows,
            rows,
            np.zeros(rows.shape, "f4"),
            np.ones(rows.shape, "f4"),
            np.full((steps, members), 1 / size, "f4"),
            np.ones((steps, members), bool) if active is None else active,
            np.full((steps, members), -1, "i4") if ends is None else ends,
        )

    return run
