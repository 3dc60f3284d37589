"""balance(): per-class streams of a file-backed dataset mixed into balanced batches."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from balanceflow.data import balance
from balanceflow.exceptions import DataError, InvalidParameterError

N_ROWS, N_SHARDS = 400, 4
COUNTS = {0: 340, 1: 40, 2: 20}  # of _labels_of(N_ROWS)


def _labels_of(n):
    """About 10% class 1 and 5% class 2, spread over the rows."""
    labels = np.zeros(n, dtype=np.int64)
    labels[::10] = 1
    labels[5::20] = 2
    return labels


@pytest.fixture
def tfrecord_files(tmp_path):
    """Four TFRecord shards of (row id, 2 features, label) rows."""
    labels = _labels_of(N_ROWS)
    paths = []
    for shard, rows in enumerate(np.array_split(np.arange(N_ROWS), N_SHARDS)):
        path = str(tmp_path / f"part-{shard}.tfrecord")
        with tf.io.TFRecordWriter(path) as writer:
            for row in rows:
                features = {
                    "id": tf.train.Feature(int64_list=tf.train.Int64List(value=[row])),
                    "x": tf.train.Feature(
                        float_list=tf.train.FloatList(value=[row * 0.5, -row])
                    ),
                    "label": tf.train.Feature(
                        int64_list=tf.train.Int64List(value=[labels[row]])
                    ),
                }
                example = tf.train.Example(features=tf.train.Features(feature=features))
                writer.write(example.SerializeToString())
        paths.append(path)
    return paths, labels


def _parse(record):
    spec = {
        "id": tf.io.FixedLenFeature([], tf.int64),
        "x": tf.io.FixedLenFeature([2], tf.float32),
        "label": tf.io.FixedLenFeature([], tf.int64),
    }
    parsed = tf.io.parse_single_example(record, spec)
    return {"id": parsed["id"], "x": parsed["x"]}, parsed["label"]


def _rows(paths):
    return tf.data.TFRecordDataset(paths).map(_parse)


def test_labels_of_match_the_counts_used_in_the_tests():
    assert dict(enumerate(np.bincount(_labels_of(N_ROWS)).tolist())) == COUNTS


def test_balance_on_tfrecord_shards_yields_the_target_mix(tfrecord_files):
    """Check the mix per batch, one pass over the largest class, replays of the others."""
    paths, labels = tfrecord_files
    counts = np.bincount(labels)
    reports = []
    ds = balance(
        _rows(paths),
        batch_size=12,
        seed=0,
        progress=lambda done, total, what: reports.append((done, total)),
    )
    assert reports[-1][0] == N_ROWS  # the counting pass read every row
    n_batches = int(ds.cardinality())
    assert n_batches == -(-counts[0] // 4)  # 4 rows of each class per batch
    epochs = []
    for _ in range(2):
        ids, ys = [], []
        for x, y in ds.as_numpy_iterator():
            assert np.bincount(y, minlength=3).tolist() == [4, 4, 4]
            # Both halves of a batch (two replicas' parts) are balanced too.
            assert np.bincount(y[:6], minlength=3).tolist() == [2, 2, 2]
            assert np.array_equal(labels[x["id"]], y)
            np.testing.assert_allclose(x["x"][:, 0], x["id"] * 0.5)
            ids.append(x["id"])
            ys.append(y)
        ids, ys = np.concatenate(ids), np.concatenate(ys)
        assert len(ids) == 12 * n_batches
        majority = ids[ys == 0]
        assert len(np.unique(majority)) == len(majority)  # no majority row twice ...
        assert len(majority) >= counts[0] - 3  # ... and (nearly) all of them used
        for cls in (1, 2):  # replayed classes: every row used evenly
            uses = np.bincount(ids[ys == cls], minlength=N_ROWS)[labels == cls]
            assert uses.max() - uses.min() <= 1
        epochs.append(ids[ys == 1])
    assert not np.array_equal(epochs[0], epochs[1])  # a new order every epoch


def test_balance_with_class_counts_and_a_target_distribution(tfrecord_files):
    paths, labels = tfrecord_files
    counts = np.bincount(labels)
    ds = balance(
        _rows(paths),
        class_counts={0: int(counts[0]), 1: int(counts[1]), 2: int(counts[2])},
        target_distribution={0: 0.5, 1: 0.5},  # class 2 left out
        batch_size=10,
    )
    ys = np.concatenate([y for _, y in ds.as_numpy_iterator()])
    assert set(np.unique(ys)) == {0, 1}
    assert np.bincount(ys).tolist() == [len(ys) // 2] * 2


def test_balance_unbatched_keeps_the_mix_in_every_window(tfrecord_files):
    paths, _ = tfrecord_files
    ds = balance(_rows(paths), label_fn=lambda element: element[1], progress=None)
    ys = np.array([int(y) for _, y in ds.as_numpy_iterator()])
    assert len(ys) == int(ds.cardinality())
    for start in range(0, len(ys) - 30, 30):
        assert np.bincount(ys[start : start + 30], minlength=3).tolist() == [10, 10, 10]


def test_balance_from_per_class_npy_shards(tmp_path):
    """Check the {label: dataset} form, one stream per class read from .npy shards."""
    rng = np.random.default_rng(0)
    streams = {}
    for label, n in [("common", 90), ("rare", 9)]:
        path = tmp_path / f"{label}.npy"
        np.save(path, rng.normal(size=(n, 3)).astype(np.float32))
        rows = np.load(path, mmap_mode="r")
        streams[label] = tf.data.Dataset.from_generator(
            lambda rows=rows, label=label: ((np.asarray(r), label) for r in rows),
            output_signature=(
                tf.TensorSpec((3,), tf.float32),
                tf.TensorSpec((), tf.string),
            ),
        )
    ds = balance(streams, batch_size=4, progress=None)
    assert int(ds.cardinality()) == 45
    for _, y in ds.as_numpy_iterator():
        assert sorted(y.tolist()) == [b"common", b"common", b"rare", b"rare"]
    dict_rows = {
        label: stream.map(lambda x, y: {"x": x, "label": y})
        for label, stream in streams.items()
    }
    ds = balance(dict_rows, class_counts={"common": 90, "rare": 9}, batch_size=10)
    assert int(ds.cardinality()) == 18  # 5 + 5 rows per batch
    first = next(iter(ds))
    assert first["x"].shape == (10, 3)
    with pytest.raises(DataError, match="same structure"):
        balance({"a": streams["common"], "b": dict_rows["rare"]}, batch_size=4)


def test_balance_progress_is_quiet_when_not_a_terminal(tfrecord_files, capsys):
    paths, _ = tfrecord_files
    balance(_rows(paths), batch_size=6)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (
            {"label_fn": lambda e: tf.cast(e[1], tf.float32)},
            InvalidParameterError,
            "dtype float32",
        ),
        (
            {"label_fn": lambda e: e[0]["x"]},
            InvalidParameterError,
            "scalar label.*shape \\(2,\\)",
        ),
        ({"label_fn": lambda e: (e[1], e[1])}, InvalidParameterError, "one tensor"),
        ({"label_fn": "label"}, InvalidParameterError, "must be a function"),
        ({"class_counts": {0: 10, 1: 0, 2: 3}}, DataError, "zero rows"),
        ({"target_distribution": {0: 0.5, 7: 0.5}}, DataError, "class 7.*zero rows"),
        ({"target_distribution": {0: -1}}, InvalidParameterError, "non-negative"),
        ({"target_distribution": "balanced"}, InvalidParameterError, "'uniform'"),
        ({"batch_size": 2}, InvalidParameterError, "at least the number of classes"),
        ({"class_counts": {0: 1.5}}, InvalidParameterError, "non-negative int"),
        ({"class_counts": {"a": 3, 0: 5}}, InvalidParameterError, "'a'.*not a int64"),
    ],
)
def test_balance_bad_input_raises_a_clear_error(tfrecord_files, kwargs, error, match):
    paths, _ = tfrecord_files
    kwargs = {"batch_size": 12, "progress": None, "class_counts": COUNTS, **kwargs}
    with pytest.raises(error, match=match):
        balance(_rows(paths), **kwargs)


def test_balance_needs_label_fn_for_non_tuple_elements():
    rows = tf.data.Dataset.from_tensor_slices({"x": np.zeros((4, 2), np.float32)})
    with pytest.raises(InvalidParameterError, match="label_fn` is required"):
        balance(rows, batch_size=2)
    with pytest.raises(DataError, match="infinite"):
        balance(tf.data.Dataset.from_tensor_slices(([1.0], [0])).repeat(), batch_size=2)
