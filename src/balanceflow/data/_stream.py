"""``balance``: balanced batches from a stream that need not fit in memory.

The stream is split into one stream per class and the class streams are mixed batch by
batch: every batch takes a fixed number of rows from each class. No row is rejected to
reach the target mix: the class with the largest share of rows per slot sets the length of
an epoch (one pass over it), and the other classes are replayed, from an in-memory cache
of their rows after the first pass.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from balanceflow._validation import check_int, derive_seed, short_repr
from balanceflow.data._plan import interleave_order
from balanceflow.data._progress import progress_reporter
from balanceflow.data._targets import check_pipeline_seed
from balanceflow.exceptions import DataError, InvalidParameterError

__all__ = ["apportion", "balance"]

_COUNT_CHUNK = 65536
_SHUFFLE_ROWS = 10_000
_UNBATCHED_PERIOD = 1024


def apportion(size: int, shares: np.ndarray) -> np.ndarray:
    """Split ``size`` slots among classes in proportion to ``shares``, at least one each.

    Largest remainders; ``size`` must be at least ``len(shares)``.

    Examples
    --------
    >>> apportion(10, np.array([0.5, 0.3, 0.2])).tolist()
    [5, 3, 2]
    >>> apportion(4, np.array([0.97, 0.01, 0.02])).tolist()
    [2, 1, 1]
    """
    ideal = size * shares / shares.sum()
    quota = np.maximum(np.floor(ideal).astype(np.int64), 1)
    while (
        quota.sum() > size
    ):  # the minimum of one slot took seats from the large classes
        excess = np.where(quota > 1, quota - ideal, -np.inf)
        quota[np.argmax(excess)] -= 1
    remainder = ideal - quota
    for cls in np.argsort(-remainder, kind="stable")[: size - quota.sum()]:
        quota[cls] += 1
    return quota


def _plain(value: Any) -> Any:
    """A label as a hashable Python value; text as bytes (what TensorFlow yields)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        return value.encode("utf-8")
    return value


def _shown(value: Any) -> Any:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _second(*element):
    return element[1]


def _row_marker(*element):
    import tensorflow as tf

    return tf.constant(0, tf.int8)


def _label_getter(label_fn: Callable | None, element_spec: Any) -> Callable:
    """A function for ``Dataset.map`` that returns the label of one element.

    Named functions rather than lambdas: AutoGraph cannot read the source of a lambda that
    shares a line with others, and warns. The wrapper of ``label_fn`` stays convertible, so
    AutoGraph still converts Python control flow inside the user's function.
    """
    import tensorflow as tf

    if label_fn is None:
        if isinstance(element_spec, tuple) and len(element_spec) >= 2:
            return tf.autograph.experimental.do_not_convert(_second)
        raise InvalidParameterError(
            "`label_fn` is required unless the dataset yields (x, y, ...) tuples. Pass "
            "label_fn=lambda element: ... returning each element's class label. Received "
            f"elements of spec {short_repr(element_spec, 200)}."
        )
    if not callable(label_fn):
        raise InvalidParameterError(
            "`label_fn` must be a function of one dataset element that returns its label. "
            f"Received: label_fn={short_repr(label_fn)}."
        )

    def get_label(*element):
        return label_fn(element[0] if len(element) == 1 else element)

    return get_label


def _class_filter(get_label: Callable, target: Any) -> Callable:
    """A ``Dataset.filter`` predicate that keeps the elements of class ``target``."""
    import tensorflow as tf

    def keep(*element):
        return tf.equal(get_label(*element), target)

    return keep


def _check_label_spec(dataset: Any, get_label: Callable) -> Any:
    """Trace the label function once and check that it returns one int/bool/str label."""
    import tensorflow as tf

    try:
        spec = dataset.map(get_label).element_spec
    except Exception as err:  # the user's function failed while being traced
        raise InvalidParameterError(
            f"`label_fn` failed on the dataset's elements "
            f"({short_repr(dataset.element_spec, 200)}): {err}"
        ) from err
    if not isinstance(spec, tf.TensorSpec):
        raise InvalidParameterError(
            "`label_fn` must return one tensor (the class label) per element. Received: "
            f"{short_repr(spec, 200)}."
        )
    if spec.shape.rank != 0:
        raise InvalidParameterError(
            "`label_fn` must return one scalar label per element. Received: a label of shape "
            f"{spec.shape}. Pass an unbatched dataset (call .unbatch()), and for one-hot "
            "labels return tf.argmax(y)."
        )
    if not (spec.dtype.is_integer or spec.dtype in (tf.bool, tf.string)):
        raise InvalidParameterError(
            "`label_fn` must return an integer, bool or string label. Received: dtype "
            f"{spec.dtype.name}. If the values are whole class codes, return "
            "tf.cast(label, tf.int64)."
        )
    return spec


def _count_classes(
    labels: Any, progress: Any, description: str
) -> tuple[dict[Any, int], int]:
    """Count the labels of a dataset of scalar labels in one streaming pass."""
    import tensorflow as tf

    cardinality = int(labels.cardinality())
    if cardinality == int(tf.data.INFINITE_CARDINALITY):
        raise DataError(
            "The dataset is infinite (it repeats), so its classes cannot be counted. Pass "
            "`class_counts`, or balance the dataset before repeating it."
        )
    total = cardinality if cardinality >= 0 else None
    counts: dict[Any, int] = {}
    done = 0
    with progress_reporter(progress) as report:
        report(0, total, description)
        chunks = labels.batch(_COUNT_CHUNK).prefetch(tf.data.AUTOTUNE)
        for chunk in chunks.as_numpy_iterator():
            values, numbers_ = np.unique(chunk, return_counts=True)
            for value, number in zip(values, numbers_):
                key = _plain(value)
                counts[key] = counts.get(key, 0) + int(number)
            done += len(chunk)
            report(done, total, description)
    return counts, done


def _check_counts(class_counts: Any) -> dict[Any, int]:
    if not isinstance(class_counts, Mapping) or not class_counts:
        raise InvalidParameterError(
            "`class_counts` must be a non-empty {label: number of rows} dict. Received: "
            f"class_counts={short_repr(class_counts)}."
        )
    counts = {}
    for label, count in class_counts.items():
        if (
            not isinstance(count, numbers.Integral)
            or isinstance(count, bool)
            or count < 0
        ):
            raise InvalidParameterError(
                "`class_counts` must map each label to a non-negative int. Received: "
                f"{{{label!r}: {short_repr(count)}}}."
            )
        counts[_plain(label)] = int(count)
    return counts


def _shares(target_distribution: Any, counts: dict[Any, int]) -> dict[Any, float]:
    """``{label: share}`` of every class in the output (shares > 0, summing to 1)."""
    if isinstance(target_distribution, str) and target_distribution == "uniform":
        wanted = dict.fromkeys(counts, 1.0)
    elif isinstance(target_distribution, Mapping) and target_distribution:
        wanted = {}
        for label, share in target_distribution.items():
            if (
                not isinstance(share, numbers.Real)
                or isinstance(share, bool)
                or not np.isfinite(share)
                or share < 0
            ):
                raise InvalidParameterError(
                    "`target_distribution` must map labels to non-negative shares. "
                    f"Received: {{{label!r}: {short_repr(share)}}}."
                )
            key = _plain(label)
            if share > 0 and key not in counts:
                raise DataError(
                    f"`target_distribution` asks for class {label!r}, which has zero rows "
                    f"(it is not in the class counts {short_repr(_shown_counts(counts))})."
                )
            if share > 0:
                wanted[key] = float(share)
        if not wanted:
            raise InvalidParameterError(
                "`target_distribution` gives every class a share of 0. Received: "
                f"target_distribution={short_repr(target_distribution)}."
            )
    else:
        raise InvalidParameterError(
            "`target_distribution` must be 'uniform' or a {label: share} dict. Received: "
            f"target_distribution={short_repr(target_distribution)}."
        )
    empty = [_shown(label) for label in wanted if counts[label] == 0]
    if empty:
        raise DataError(
            f"Class(es) {short_repr(empty)} have zero rows, so no mix can include them. "
            "Leave them out of `target_distribution` (a dict) or check `class_counts`."
        )
    total = sum(wanted.values())
    return {label: share / total for label, share in wanted.items()}


def _shown_counts(counts: dict[Any, int]) -> dict[Any, int]:
    return {_shown(k): v for k, v in counts.items()}


def balance(
    dataset: Any,
    *,
    label_fn: Callable[[Any], Any] | None = None,
    class_counts: Mapping[Any, int] | None = None,
    target_distribution: str | Mapping[Any, float] = "uniform",
    seed: int | None = 0,
    batch_size: int | None = None,
    cache: bool = True,
    progress: Any = "auto",
):
    """Balance a ``tf.data`` stream that need not fit in memory, by mixing per-class streams.

    The dataset is split into one stream per class (``dataset.filter`` on the label), and
    every batch takes a fixed number of rows from each class stream, so no row is thrown
    away to reach the target mix. One epoch is one pass over the class with the most rows
    per slot (``ceil(n_c / slots_c)`` batches at most); the other classes are replayed
    within the epoch, in a new order each time. With ``cache=True`` a replayed class is
    read from the source once, on the first pass, and then replayed from memory, so the
    only extra memory is those classes' rows (plus a shuffle buffer of up to 10,000 of
    their rows): usually small minority classes. Each pass re-reads the largest class from
    the source.

    Parameters
    ----------
    dataset : tf.data.Dataset or dict of tf.data.Dataset
        Unbatched elements (e.g. ``(x, y)`` tuples parsed from TFRecord or Parquet shards,
        or decoded images). A ``{label: dataset}`` dict gives the class streams directly
        (for files sharded by class): nothing is filtered and ``label_fn`` is not used.
    label_fn : callable, optional
        ``label_fn(element) -> scalar`` integer, bool or string tensor: the element's class.
        Default: the second component of ``(x, y, ...)`` tuples. Checked once, when the
        dataset is built: any other dtype or a non-scalar shape raises an
        InvalidParameterError.
    class_counts : dict, optional
        ``{label: number of rows}``. If not given, a streaming pass over the data counts the
        labels first (with a progress bar on terminals; see ``progress``). Rows whose label
        is not in ``class_counts`` (or has no share) are left out.
    target_distribution : "uniform" or dict, default="uniform"
        The share of each class in every batch: equal shares, or ``{label: share}``
        (normalised to sum to 1; classes left out, or with share 0, are dropped).
    seed : int or None, default=0
        Seeds the order in which replayed classes are shuffled (reshuffled every pass).
    batch_size : int, optional
        Rows per batch; at least the number of classes with a share. Every batch holds
        exactly the same number of rows of each class (``batch_size * share``, rounded by
        largest remainders, at least one), laid out so that every contiguous slice of a
        batch, such as each replica's part under ``MirroredStrategy``, is balanced too.
        Without it the dataset yields single rows, in the same interleaved order (mix in
        blocks of 1,024 rows), to be batched by the caller.
    cache : bool, default=True
        Keep the replayed classes in memory after the first pass. False re-reads them from
        the source every time they are replayed: no memory, but one full read of the
        source per replay of a class.
    progress : "auto", bool or callable, default="auto"
        Progress of the counting pass: "auto" shows a Rich bar when standard error is a
        terminal and stays quiet otherwise; a callable is called as
        ``progress(rows_done, total_rows_or_None, description)``.

    Returns
    -------
    tf.data.Dataset
        Elements of the input's structure, batched when ``batch_size`` is given, with a
        known cardinality (the batches, or rows, of one epoch).

    Raises
    ------
    InvalidParameterError
        ``label_fn`` missing (for non-tuple elements), failing, or returning a non-scalar
        or a float; ``batch_size`` smaller than the number of classes; a bad
        ``target_distribution``, ``class_counts`` or ``seed``.
    DataError
        A class with zero rows in the requested mix; an infinite dataset without
        ``class_counts``.

    Notes
    -----
    The filtered class streams each read the source: a binary stream is read twice in the
    first epoch (once per class, the minority stream caching its rows) and once per epoch
    after that. With several large classes, give a ``{label: dataset}`` dict of per-class
    sources instead, so that no stream reads another class's rows.

    For ``tf.distribute``, pass the result to ``model.fit`` (Keras splits each batch into
    contiguous per-replica slices, which stay balanced). For a custom loop with
    ``distribute_datasets_from_function``, shard the source with
    ``dataset.shard(ctx.num_input_pipelines, ctx.input_pipeline_id)`` and pass
    ``batch_size=ctx.get_per_replica_batch_size(global_batch_size)``.

    Examples
    --------
    >>> import tensorflow as tf
    >>> from balanceflow.data import balance
    >>> rows = tf.data.Dataset.from_tensor_slices(
    ...     (tf.random.normal((1000, 3)), tf.constant([0] * 950 + [1] * 50)))
    >>> ds = balance(rows, class_counts={0: 950, 1: 50}, batch_size=10)
    >>> int(ds.cardinality())  # one pass over class 0, five rows of it per batch
    190
    >>> x, y = next(iter(ds))
    >>> y.numpy().tolist()
    [0, 1, 0, 1, 0, 1, 0, 1, 0, 1]
    """
    import tensorflow as tf

    seed = check_pipeline_seed(seed)
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size")
    if not isinstance(cache, bool):
        raise InvalidParameterError(
            f"`cache` must be True or False. Received: cache={short_repr(cache)}."
        )

    per_class_sources = isinstance(dataset, Mapping)
    if per_class_sources:
        if not dataset or not all(
            isinstance(ds, tf.data.Dataset) for ds in dataset.values()
        ):
            raise InvalidParameterError(
                "`dataset` must be a tf.data.Dataset or a non-empty {label: tf.data.Dataset} "
                f"dict. Received: {short_repr(dataset)}."
            )
        sources = {_plain(label): ds for label, ds in dataset.items()}
        specs = [ds.element_spec for ds in sources.values()]
        if any(spec != specs[0] for spec in specs[1:]):
            raise DataError(
                "The class datasets must yield elements of the same structure, shapes and "
                f"dtypes. Received: {short_repr([str(s) for s in specs], 300)}."
            )
        if class_counts is None:
            counts = {}
            for label, ds in sources.items():
                n = int(ds.cardinality())
                if n < 0:
                    n = _count_classes(
                        ds.map(tf.autograph.experimental.do_not_convert(_row_marker)),
                        progress,
                        f"counting rows of class {_shown(label)!r}",
                    )[1]
                counts[label] = n
        else:
            counts = _check_counts(class_counts)
            unknown = [_shown(k) for k in counts if k not in sources]
            if unknown:
                raise InvalidParameterError(
                    f"`class_counts` names class(es) {short_repr(unknown)} that have no "
                    "dataset in the `dataset` dict."
                )
    else:
        if not isinstance(dataset, tf.data.Dataset):
            raise InvalidParameterError(
                "`dataset` must be a tf.data.Dataset of unbatched elements (or a "
                f"{{label: dataset}} dict). Received: {short_repr(dataset)}."
            )
        get_label = _label_getter(label_fn, dataset.element_spec)
        label_spec = _check_label_spec(dataset, get_label)
        if class_counts is None:
            counts = _count_classes(
                dataset.map(get_label, num_parallel_calls=tf.data.AUTOTUNE),
                progress,
                "counting classes",
            )[0]
        else:
            counts = _check_counts(class_counts)

    shares = _shares(target_distribution, counts)
    labels = list(shares)
    share_array = np.array([shares[label] for label in labels])
    slots_per_batch = batch_size if batch_size is not None else _UNBATCHED_PERIOD
    if slots_per_batch < len(labels):
        raise InvalidParameterError(
            f"`batch_size` must be at least the number of classes in the mix "
            f"({len(labels)}) so that every batch can hold each of them. Received: "
            f"batch_size={batch_size}."
        )
    slots = apportion(slots_per_batch, share_array)
    n_rows = np.array([counts[label] for label in labels])
    n_batches = int(np.max(-(-n_rows // slots)))

    streams = []
    for index, (label, slot) in enumerate(zip(labels, slots)):
        if per_class_sources:
            stream = sources[label]
        else:
            try:
                target = tf.constant(label, dtype=label_spec.dtype)
            except (TypeError, ValueError) as err:
                raise InvalidParameterError(
                    f"Class {_shown(label)!r} (from `class_counts` or "
                    f"`target_distribution`) is not a {label_spec.dtype.name} label, the "
                    "dtype that `label_fn` returns."
                ) from err
            stream = dataset.filter(_class_filter(get_label, target))
        # A class that fills its slots in fewer batches than the epoch is replayed; the
        # class(es) that set the epoch's length make one pass (wrapping by < one batch).
        replayed = -(-int(n_rows[index]) // int(slot)) < n_batches
        if replayed:
            if cache:
                stream = stream.cache()
            stream = stream.shuffle(
                min(int(n_rows[index]), _SHUFFLE_ROWS),
                seed=derive_seed(seed, "balance", index),
                reshuffle_each_iteration=True,
            )
        streams.append(stream.repeat().batch(int(slot), drop_remainder=True))

    # Class-major rows of a batch -> the interleaved order, so any slice is balanced.
    order = tf.constant(interleave_order(slots), dtype=tf.int32)

    def join(*pieces):
        return tf.gather(tf.concat(pieces, axis=0), order)

    @tf.autograph.experimental.do_not_convert
    def mix(*parts):
        return tf.nest.map_structure(join, *parts)

    mixed = (
        tf.data.Dataset.zip(tuple(streams))
        .map(mix, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .take(n_batches)
    )
    if batch_size is None:
        # Stop when the class with the largest share of rows per slot has had one pass.
        n_out = int(np.max(-(-n_rows * slots_per_batch // slots)))
        mixed = mixed.unbatch().take(n_out)
    return mixed.prefetch(tf.data.AUTOTUNE)
