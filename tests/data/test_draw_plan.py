"""Draw plans (numpy only): walks, interleaving and apportionment."""

import numpy as np
import pytest

from balanceflow.data._plan import DrawPlanner, interleave_order, walk_cycle_length
from balanceflow.data._stream import apportion


def _planner(counts, targets, method="under", seed=0, **kwargs):
    groups, start = [], 0
    for n in counts:
        groups.append(np.arange(start, start + n))
        start += n
    return DrawPlanner(groups, targets, method=method, seed=seed, **kwargs)


@pytest.mark.parametrize("n, per_draw", [(95, 10), (100, 10), (7, 3), (5, 5)])
def test_walk_covers_every_row_once_per_cycle(n, per_draw):
    """Check that the m = ceil(n / t) draws of each cycle use every row, none twice in a draw."""
    planner = _planner([n, per_draw], [per_draw, per_draw])
    m = walk_cycle_length(n, per_draw)
    for cycle in range(3):
        seen = []
        for draw in range(cycle * m, (cycle + 1) * m):
            part = planner.walk(0, per_draw, draw)
            assert len(part) == per_draw
            assert len(np.unique(part)) == per_draw
            seen.append(part)
        assert set(np.concatenate(seen)) == set(range(n))


def test_walk_without_shuffle_goes_in_row_order():
    planner = _planner([10, 3], [3, 3], shuffle=False)
    assert planner.walk(0, 3, 0).tolist() == [0, 1, 2]
    assert planner.walk(0, 3, 3).tolist() == [9, 0, 1]  # topped up from the same cycle


def test_interleave_order_balances_every_prefix():
    """Check that each prefix of the interleaved sequence is within one row of proportional."""
    counts = [700, 200, 100]
    order = interleave_order(counts)
    assert sorted(order.tolist()) == list(range(1000))
    classes = np.repeat(np.arange(3), counts)[order]
    shares = np.array(counts) / 1000
    for length in range(1, 1001):
        seen = np.bincount(classes[:length], minlength=3)
        assert np.all(np.abs(seen - length * shares) <= 1.0 + 1e-9)


def test_over_plan_repeats_rows_evenly():
    """Check that over-sampling uses every row target // n or target // n + 1 times."""
    planner = _planner([100, 7], [100, 100], method="over")
    for draw in range(3):
        rows = planner.draw(draw).rows
        minority = np.bincount(rows[rows >= 100] - 100, minlength=7)
        assert minority.sum() == 100
        assert set(minority.tolist()) <= {14, 15}
        assert np.array_equal(np.sort(rows[rows < 100]), np.arange(100))


def test_interpolate_plan_keeps_real_rows_and_uses_neighbours():
    neighbours = [None, np.array([[21, 22], [20, 22], [20, 21]])]
    planner = _planner([20, 3], [20, 20], method="interpolate", neighbors=neighbours)
    draw = planner.draw(0)
    real = ~draw.synthetic
    assert np.array_equal(np.sort(draw.rows[real]), np.arange(23))
    assert np.all(draw.lam[real] == 0)
    for base, partner in zip(draw.rows[draw.synthetic], draw.partners[draw.synthetic]):
        assert partner in neighbours[1][base - 20]
    assert draw.synthetic.sum() == 17
    assert np.all((draw.lam >= 0) & (draw.lam < 1))


def test_same_seed_same_draw_and_draws_differ():
    a, b = _planner([50, 5], [5, 5], seed=3), _planner([50, 5], [5, 5], seed=3)
    assert np.array_equal(a.draw(4).rows, b.draw(4).rows)
    assert not np.array_equal(a.draw(0).rows, a.draw(1).rows)
    assert not np.array_equal(
        a.draw(0).rows, _planner([50, 5], [5, 5], seed=4).draw(0).rows
    )


@pytest.mark.parametrize(
    "size, shares, expected",
    [
        (10, [0.5, 0.5], [5, 5]),
        (7, [0.5, 0.5], [4, 3]),
        (3, [0.98, 0.01, 0.01], [1, 1, 1]),
        (100, [0.7, 0.2, 0.1], [70, 20, 10]),
    ],
)
def test_apportion(size, shares, expected):
    quota = apportion(size, np.array(shares))
    assert quota.tolist() == expected
    assert quota.sum() == size
