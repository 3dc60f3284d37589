"""balanced_dataset: fresh balanced draws every epoch, gathered from the caller's arrays.

Most tests use a feature column that holds the row number, so the rows a batch came from
can be read back from the batch itself.
"""

import warnings

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from balanceflow.data import balanced_dataset
from balanceflow.exceptions import DataError, InvalidParameterError


def _data(n_major=95, n_minor=10, n_features=3, seed=0):
    """Rows whose column 0 is the row number; the minority rows come last."""
    rng = np.random.default_rng(seed)
    n = n_major + n_minor
    X = rng.normal(size=(n, n_features)).astype("float32")
    X[:, 0] = np.arange(n)
    y = np.array([0] * n_major + [1] * n_minor)
    return X, y


def _epoch(ds):
    """One pass: the list of batches as numpy tuples."""
    return [tuple(np.asarray(part) for part in batch) for batch in ds]


def _ids(batches):
    return np.concatenate([b[0][:, 0] for b in batches]).astype(int)


def _labels(batches):
    return np.concatenate([b[1] for b in batches])


@pytest.mark.parametrize(
    "method, sampling_strategy, expected",
    [
        ("under", "auto", [10, 10]),
        ("under", 0.5, [20, 10]),
        ("over", "auto", [95, 95]),
        ("over", {1: 40}, [95, 40]),
        ("interpolate", "auto", [95, 95]),
    ],
)
def test_epoch_holds_exactly_the_target_counts(method, sampling_strategy, expected):
    """Check that every epoch holds the target count of each class and batches stay balanced.

    Counts per epoch are exact by construction (each draw takes target[c] rows of class c),
    which is stronger than a binomial tolerance; each batch is within one row of the target
    share, far inside the binomial band of random batches (sd sqrt(b * p * (1 - p)) ~ 2.5
    rows for b = 25, p = 1/2).
    """
    X, y = _data()
    batch = 25
    ds = balanced_dataset(
        X, y, batch_size=batch, method=method, sampling_strategy=sampling_strategy
    )
    total = sum(expected)
    assert int(ds.cardinality()) == -(-total // batch)
    share = expected[1] / total
    for _ in range(2):
        batches = _epoch(ds)
        assert len(batches) == int(ds.cardinality())
        assert np.bincount(_labels(batches), minlength=2).tolist() == expected
        for b in batches:
            assert abs(np.sum(b[1] == 1) - len(b[1]) * share) <= 1.0


def test_under_sampling_covers_every_majority_row_within_the_stated_epochs():
    """Check the coverage property: ceil(n_major / n_target) epochs use every majority row."""
    X, y = _data(n_major=95, n_minor=10)
    ds = balanced_dataset(X, y, batch_size=20, method="under", seed=7)
    epochs_needed = -(-95 // 10)  # 10
    for cycle in range(2):
        seen = []
        for _ in range(epochs_needed):
            ids = _ids(_epoch(ds))
            majority = ids[ids < 95]
            assert (
                len(majority) == len(np.unique(majority)) == 10
            )  # no repeat in a draw
            assert set(ids[ids >= 95]) == set(range(95, 105))  # all minority rows
            seen.append(majority)
        assert set(np.concatenate(seen)) == set(range(95)), f"cycle {cycle}"


def test_same_seed_same_batches_next_epoch_a_different_draw():
    X, y = _data()
    first = balanced_dataset(X, y, batch_size=10, method="under", seed=3)
    second = balanced_dataset(X, y, batch_size=10, method="under", seed=3)
    other_seed = balanced_dataset(X, y, batch_size=10, method="under", seed=4)
    epochs_a = [_ids(_epoch(first)) for _ in range(3)]
    epochs_b = [_ids(_epoch(second)) for _ in range(3)]
    for a, b in zip(epochs_a, epochs_b):
        assert np.array_equal(a, b)
    assert not np.array_equal(epochs_a[0], epochs_a[1])
    assert not np.array_equal(
        np.sort(epochs_a[0][epochs_a[0] < 95]), np.sort(epochs_a[1][epochs_a[1] < 95])
    )
    assert not np.array_equal(epochs_a[0], _ids(_epoch(other_seed)))


def test_an_abandoned_pass_does_not_use_up_a_draw():
    X, y = _data()
    ds = balanced_dataset(X, y, batch_size=5, method="under", seed=0)
    reference = balanced_dataset(X, y, batch_size=5, method="under", seed=0)
    next(iter(ds))  # a partial pass, as Keras' look-ahead iterator may make
    assert np.array_equal(_ids(_epoch(ds)), _ids(_epoch(reference)))
    assert np.array_equal(_ids(_epoch(ds)), _ids(_epoch(reference)))


def test_draws_per_epoch_puts_consecutive_draws_in_one_epoch():
    """Check that one epoch of d draws holds the rows of d one-draw epochs, in the same order."""
    X, y = _data()
    long = balanced_dataset(X, y, batch_size=8, method="under", draws_per_epoch=3)
    short = balanced_dataset(X, y, batch_size=20, method="under")
    assert int(long.cardinality()) == -(-3 * 20 // 8)
    one_long = _ids(_epoch(long))
    three_short = np.concatenate([_ids(_epoch(short)) for _ in range(3)])
    assert np.array_equal(one_long, three_short)
    assert np.array_equal(
        np.concatenate([_ids(_epoch(short)) for _ in range(3)]), _ids(_epoch(long))
    )


@pytest.mark.parametrize("method", ["under", "over", "interpolate"])
def test_batches_handed_over_in_groups_equal_batches_one_at_a_time(method, monkeypatch):
    """Check that grouping batches per generator call (long epochs) changes no batch."""
    import balanceflow.data._in_memory as in_memory

    X, y = _data()
    weights = np.arange(len(y), dtype=np.float32)

    def epochs():
        ds = balanced_dataset(
            X, y, batch_size=3, method=method, sample_weight=weights, draws_per_epoch=2
        )
        return [_epoch(ds) for _ in range(2)]

    grouped = epochs()
    assert int(np.ceil(len(grouped[0]) / 8)) > 1  # several batches per call
    monkeypatch.setattr(in_memory, "_MAX_GROUP", 1)
    single = epochs()
    for epoch_a, epoch_b in zip(grouped, single):
        assert len(epoch_a) == len(epoch_b)
        for a, b in zip(epoch_a, epoch_b):
            for part_a, part_b in zip(a, b):
                np.testing.assert_array_equal(part_a, part_b)


def test_images_keep_their_shape_and_dtype():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 255, size=(60, 6, 5, 3), dtype=np.uint8)
    y = np.array(["cat"] * 50 + ["dog"] * 10)
    for method, dtype in [("under", tf.uint8), ("over", tf.uint8)]:
        xb, yb = next(iter(balanced_dataset(X, y, batch_size=8, method=method)))
        assert xb.shape == (8, 6, 5, 3) and xb.dtype == dtype
        assert yb.dtype == tf.int32 and set(yb.numpy()) == {0, 1}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = balanced_dataset(X, y, batch_size=8, method="interpolate", k_neighbors=3)
    batches = _epoch(ds)
    assert all(
        b[0].shape[1:] == (6, 5, 3) and b[0].dtype == np.float32 for b in batches
    )
    real = {row.tobytes() for row in X.astype(np.float32)}
    synthetic = [row for b in batches for row in b[0] if row.tobytes() not in real]
    assert len(synthetic) == 40
    assert all(0 <= row.min() and row.max() <= 255 for row in synthetic)


def test_dict_inputs_stay_aligned_row_by_row():
    n = 60
    X = {
        "numbers": np.arange(n, dtype=np.float32)[:, None]
        * np.ones((1, 2), np.float32),
        "grid": np.arange(n)[:, None, None] * np.ones((1, 2, 2), np.int64),
        "flag": np.arange(n) % 2 == 0,
    }
    y = np.array([0] * 48 + [1] * 12)
    weights = np.arange(n) / 10.0
    for method in ["under", "over"]:
        ds = balanced_dataset(
            X, y, batch_size=12, method=method, sample_weight=weights, seed=1
        )
        for x, yb, wb in ds.as_numpy_iterator():
            ids = x["numbers"][:, 0].astype(int)
            assert np.array_equal(x["grid"][:, 1, 1], ids)
            assert np.array_equal(x["flag"], ids % 2 == 0)
            assert np.array_equal(yb, (ids >= 48).astype(int))
            np.testing.assert_allclose(wb, ids / 10.0, rtol=1e-6)


def _segment_fit(point, a, b):
    """(distance from point to the segment a-b, position lambda along it)."""
    direction = b - a
    lam = float(np.dot(point - a, direction) / np.dot(direction, direction))
    lam_clipped = min(max(lam, 0.0), 1.0)
    return float(np.linalg.norm(point - (a + lam_clipped * direction))), lam


def test_synthetic_rows_lie_on_segments_to_one_of_the_k_nearest_neighbours():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(112, 4))  # float64, so the tolerance is tight
    y = np.array([0] * 100 + [1] * 12)
    k = 3
    minority = X[100:]
    distances = np.linalg.norm(minority[:, None] - minority[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    neighbours = np.argsort(distances, axis=1)[:, :k]
    weights = np.linspace(1, 2, 112)
    ds = balanced_dataset(
        X,
        y,
        batch_size=16,
        method="interpolate",
        k_neighbors=k,
        sample_weight=weights,
        seed=5,
    )
    real = {row.tobytes(): i for i, row in enumerate(X)}
    lams, found = [], 0
    for xb, yb, wb in ds.as_numpy_iterator():
        for row, label, weight in zip(xb, yb, wb):
            if row.tobytes() in real:
                i = real[row.tobytes()]
                assert label == y[i] and np.isclose(weight, weights[i])
                continue
            assert label == 1
            # (base i, neighbour j) pairs whose segment holds the row; a pair of mutual
            # neighbours gives the same segment from both ends.
            on_segment = [
                (i, lam)
                for i in range(12)
                for j in neighbours[i]
                for distance, lam in [_segment_fit(row, minority[i], minority[j])]
                if distance < 1e-9 and 0.0 <= lam <= 1.0
            ]
            assert on_segment, "a synthetic row off every neighbour segment"
            matches = [
                lam
                for i, lam in on_segment
                if np.isclose(weight, weights[100 + i], rtol=1e-6)
            ]
            assert matches, "a synthetic row without its base row's weight"
            lams.append(matches[0])
            found += 1
    assert found == 88
    # lambda ~ U(0, 1): its mean is within 4 standard errors (1 / sqrt(12 n)) of 1/2.
    assert abs(np.mean(lams) - 0.5) < 4 / np.sqrt(12 * found)


def test_k_larger_than_a_class_falls_back_with_a_warning_or_fails_for_one_row():
    X, y = _data(n_major=30, n_minor=3)
    with pytest.warns(UserWarning, match="too few for k_neighbors=5.*2 nearest"):
        ds = balanced_dataset(X, y, batch_size=10, method="interpolate", k_neighbors=5)
    assert np.bincount(_labels(_epoch(ds))).tolist() == [30, 30]
    X, y = _data(n_major=30, n_minor=1)
    with pytest.raises(DataError, match="single row.*method='over'"):
        balanced_dataset(X, y, batch_size=10, method="interpolate")


def test_mixup_mixes_inputs_and_labels_with_the_same_weight():
    X, y = _data(n_major=40, n_minor=8)
    X[:, 1] = (
        y  # a feature equal to the label: after mixing it must equal the soft label
    )
    weights = np.where(y == 1, 3.0, 1.0)
    ds = balanced_dataset(
        X,
        y,
        batch_size=16,
        method="interpolate",
        mixup_alpha=0.4,
        sample_weight=weights,
    )
    batches = _epoch(ds)
    assert int(ds.cardinality()) == 5
    for xb, yb, wb in batches:
        assert yb.dtype == np.float32 and yb.shape == (len(xb),)
        np.testing.assert_allclose(xb[:, 1], yb, atol=1e-6)
        np.testing.assert_allclose(wb, 1.0 + 2.0 * yb, atol=1e-5)
    # Balanced over-sampling underneath: the soft labels average 1/2.
    assert abs(np.mean(_labels(batches)) - 0.5) < 0.15

    # A long epoch (mixed in groups of batches): every row still mixes within its batch.
    long = balanced_dataset(
        X, y, batch_size=4, method="interpolate", mixup_alpha=0.4, sample_weight=weights
    )
    assert int(long.cardinality()) == 20
    for xb, yb, wb in long.as_numpy_iterator():
        assert xb.shape == (4, 3) and yb.shape == (4,)
        np.testing.assert_allclose(xb[:, 1], yb, atol=1e-6)
        np.testing.assert_allclose(wb, 1.0 + 2.0 * yb, atol=1e-5)

    y3 = np.array([0] * 30 + [1] * 10 + [2] * 8)
    xb, yb = next(
        iter(
            balanced_dataset(X, y3, batch_size=6, method="interpolate", mixup_alpha=1.0)
        )
    )
    assert yb.shape == (6, 3)
    np.testing.assert_allclose(yb.numpy().sum(axis=1), 1.0, atol=1e-6)


def test_multi_label_balances_groups_of_the_rarest_positive_label():
    """Check the multi-label policy: rows are balanced by their rarest positive label."""
    rng = np.random.default_rng(0)
    n = 400
    Y = np.zeros((n, 3), dtype=int)
    Y[:, 0] = rng.random(n) < 0.6  # common
    Y[:, 1] = rng.random(n) < 0.15
    Y[:, 2] = rng.random(n) < 0.04  # rare
    counts = Y.sum(axis=0)
    assert counts[0] > counts[1] > counts[2] > 0
    X = np.arange(n, dtype=np.float32)[:, None]

    def group(rows):
        masked = np.where(rows > 0, counts[None, :], 10**9)
        g = masked.argmin(axis=1)
        g[rows.sum(axis=1) == 0] = -1
        return g

    groups = group(Y)
    sizes = {g: int(np.sum(groups == g)) for g in (-1, 0, 1, 2)}
    ds = balanced_dataset(X, Y, batch_size=16, method="under", seed=0)
    batches = _epoch(ds)
    ids = np.concatenate([b[0][:, 0] for b in batches]).astype(int)
    out = np.concatenate([b[1] for b in batches])
    assert out.dtype == np.float32 and out.shape[1] == 3
    np.testing.assert_array_equal(out, Y[ids])  # the label rows travel with their rows
    smallest = min(sizes.values())
    assert np.bincount(group(out) + 1, minlength=4).tolist() == [smallest] * 4
    assert out[:, 2].mean() > Y[:, 2].mean() * 2  # the rare label is much more frequent
    with pytest.raises(InvalidParameterError, match="multi-label"):
        balanced_dataset(X, Y, batch_size=16, method="interpolate")


def test_classes_keeps_class_indices_of_a_subset():
    X, y = _data()
    labels = np.where(y == 1, "b", "c")
    ds = balanced_dataset(X, labels, batch_size=10, classes=["a", "b", "c"][1:])
    assert set(_labels(_epoch(ds))) == {0, 1}
    ds = balanced_dataset(X, labels, batch_size=10, classes=["c", "b"])
    batches = _epoch(ds)
    assert np.array_equal(
        _labels(batches), (_ids(batches) >= 95).astype(int)
    )  # "b" is 1


def test_fit_consumes_the_dataset_without_steps_per_epoch():
    keras = pytest.importorskip("keras")
    X, y = _data(n_major=190, n_minor=20)
    ds = balanced_dataset(X, y, batch_size=16, method="over", seed=0)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(1, activation="sigmoid")]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.filterwarnings("ignore", message=".*shuffle=True.*")
        history = model.fit(ds, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (
            {"batch_size": 2, "y3": True},
            InvalidParameterError,
            "at least the number of classes \\(3\\)",
        ),
        ({"batch_size": 0}, InvalidParameterError, "batch_size=0"),
        ({"method": "smote"}, InvalidParameterError, "Unknown `method`"),
        ({"method": "under", "mixup_alpha": 0.2}, InvalidParameterError, "mixup_alpha"),
        (
            {"method": "interpolate", "mixup_alpha": -1.0},
            InvalidParameterError,
            "mixup_alpha=-1.0",
        ),
        ({"draws_per_epoch": 0}, InvalidParameterError, "draws_per_epoch=0"),
        ({"seed": -1}, InvalidParameterError, "seed=-1"),
        ({"short_y": True}, DataError, "same number of rows"),
        ({"sample_weight": np.ones(3)}, DataError, "sample_weight"),
        ({"classes": [0, 1, 2]}, DataError, "zero rows"),
        ({"single_class": True}, DataError, "at least 2 classes"),
        ({"sampling_strategy": {5: 3}}, InvalidParameterError, "not in y"),
    ],
)
def test_bad_input_raises_a_clear_error(kwargs, error, match):
    X, y = _data()
    kwargs = {"batch_size": 10, **kwargs}
    if kwargs.pop("y3", False):
        y = np.arange(len(y)) % 3
    if kwargs.pop("short_y", False):
        y = y[:-1]
    if kwargs.pop("single_class", False):
        y = np.zeros_like(y)
    with pytest.raises(error, match=match):
        balanced_dataset(X, y, **kwargs)
