"""``balanced_dataset``: a fresh balanced sample every epoch, gathered from the caller's arrays."""

from __future__ import annotations

import numbers
from collections.abc import Iterator, Mapping
from typing import Any, Literal

import numpy as np

from balanceflow._validation import (
    check_consistent_length,
    check_int,
    derive_seed,
    did_you_mean,
    num_rows,
    short_repr,
)
from balanceflow.data._neighbors import class_neighbors, interpolated_keys
from balanceflow.data._plan import Draw, DrawPlanner
from balanceflow.data._targets import (
    Targets,
    check_pipeline_seed,
    check_sample_weight,
    encode_targets,
)
from balanceflow.exceptions import DataError, InvalidParameterError
from balanceflow.sampling import resolve_sampling_strategy

__all__ = ["METHODS", "balanced_dataset"]

METHODS = ("under", "over", "interpolate")

_SINGLE = "__x__"  # key of a plain array input inside the internal dict of inputs

# The generator hands TensorFlow several equal-sized batches at once (stacked on a new
# leading axis, split again by ``unbatch`` in C++): each call into Python costs several
# hundred microseconds, far more than gathering a small batch. Groups stay this small so
# that wide rows (images) still travel one batch at a time.
_GROUP_BYTES = 4 * 2**20
_MAX_GROUP = 32
# Batches prefetched ahead of the model: up to this many bytes, 2 to 8 batches.
_PREFETCH_BYTES = 32 * 2**20


def _check_inputs(X: Any) -> tuple[dict[Any, np.ndarray], bool]:
    """The inputs as a dict of numpy arrays (no copy for numpy input) and whether X was a dict."""
    if isinstance(X, Mapping):
        if not X:
            raise DataError("`X` is an empty dict. Pass at least one input array.")
        inputs = {key: np.asarray(value) for key, value in X.items()}
        is_dict = True
    else:
        inputs = {_SINGLE: np.asarray(X)}
        is_dict = False
    for key, arr in inputs.items():
        label = "X" if not is_dict else f"X[{key!r}]"
        if arr.ndim == 0:
            raise DataError(
                f"`{label}` must have one row per sample. Received: a scalar "
                f"{short_repr(arr)}."
            )
        if arr.dtype.kind not in "biufSU":
            raise DataError(
                f"`{label}` must hold numbers, booleans or strings. Received: dtype "
                f"{arr.dtype}."
            )
    return inputs, is_dict


def _targets_per_group(
    sampling_strategy: Any, targets: Targets, kind: str
) -> list[int]:
    """Rows of every group in one draw, from ``resolve_sampling_strategy``."""
    counts = targets.counts
    resolved = resolve_sampling_strategy(sampling_strategy, targets.labels(), kind=kind)
    index = {
        (label.item() if hasattr(label, "item") else label): i
        for i, label in enumerate(targets.group_labels)
    }
    per_group = counts.astype(np.int64).tolist()
    for label, count in resolved.items():
        per_group[index[label]] = int(count)
    return per_group


def _equal_runs(parts: Iterator[Draw], limit: int) -> Iterator[list[Draw]]:
    """Consecutive parts of equal length, in lists of at most ``limit``."""
    group: list[Draw] = []
    for part in parts:
        if group and (len(group) == limit or len(part) != len(group[0])):
            yield group
            group = []
        group.append(part)
    if group:
        yield group


class _EpochCounter:
    """Counts complete passes over a dataset, to number each pass's draws.

    A pass takes the number of passes completed when it starts, and counts itself complete
    when it produces its last batch. So a pass that is abandoned (a partial loop, the
    look-ahead iterator Keras opens at the end of every epoch) does not use up a number: the
    next pass produces the same draws again.
    """

    def __init__(self) -> None:
        self.completed = 0


class _Pipeline:
    """Everything ``balanced_dataset`` needs at batch time; the generator is a method."""

    def __init__(
        self,
        inputs: dict[Any, np.ndarray],
        is_dict: bool,
        targets: Targets,
        weights: np.ndarray | None,
        planner: DrawPlanner,
        *,
        batch_size: int,
        draws_per_epoch: int,
        method: str,
        mixup_alpha: float | None,
        seed: int,
        shard: tuple[int, int, int] | None,
    ):
        self.inputs = inputs
        self.is_dict = is_dict
        self.targets = targets
        self.weights = weights
        self.planner = planner
        self.batch_size = batch_size
        self.draws_per_epoch = draws_per_epoch
        self.method = method
        self.mixup_alpha = mixup_alpha
        self.seed = seed
        # (pipeline id, number of pipelines, local replicas) under an InputContext.
        self.shard = shard
        self.counter = _EpochCounter()
        self.mixes = method == "interpolate"
        self.mix_keys = set(interpolated_keys(inputs)) if self.mixes else set()
        rows = planner.rows_per_draw * draws_per_epoch
        if shard is None:
            self.n_batches = -(-rows // batch_size)
        else:
            self.n_batches = (rows // batch_size) * shard[2]  # local replicas

    # -- types --------------------------------------------------------------------------

    def _out_dtype(self, key: Any) -> np.dtype:
        arr = self.inputs[key]
        if key in self.mix_keys and arr.dtype.kind != "f":
            return np.dtype(np.float32)
        return arr.dtype

    def _y_spec(self) -> tuple[tuple, np.dtype]:
        t = self.targets
        if t.multi_label:
            return (None, t.n_outputs), np.dtype(np.float32)
        if self.mixup_alpha is not None:
            if t.n_outputs == 2:
                return (None,), np.dtype(np.float32)
            return (None, t.n_outputs), np.dtype(np.float32)
        return (None,), np.dtype(np.int32)

    def output_signature(self):
        import tensorflow as tf

        def spec(shape, dtype):
            tf_dtype = tf.string if dtype.kind in "SU" else tf.as_dtype(dtype)
            return tf.TensorSpec(shape=shape, dtype=tf_dtype)

        # Elements are groups of batches: (batches, rows, ...).
        x = {
            key: spec((None, None, *arr.shape[1:]), self._out_dtype(key))
            for key, arr in self.inputs.items()
        }
        x_spec = x if self.is_dict else x[_SINGLE]
        y_shape, y_dtype = self._y_spec()
        y_spec = spec((None, *y_shape), y_dtype)
        if self.weights is None:
            return x_spec, y_spec
        return x_spec, y_spec, tf.TensorSpec(shape=(None, None), dtype=tf.float32)

    def _batch_bytes(self) -> int:
        row_bytes = sum(
            self._out_dtype(key).itemsize * int(np.prod(arr.shape[1:], dtype=np.int64))
            for key, arr in self.inputs.items()
        )
        rows = self.batch_size
        if self.shard is not None:
            rows = self.batch_size // (self.shard[1] * self.shard[2])
        return max(row_bytes * rows, 1)

    def prefetch_size(self) -> int:
        """Batches read ahead: 2 to 8 (about 32 MiB), and at most a quarter of the epoch.

        A pass counts once its generator has made its last batch. Reading ahead a whole
        short epoch would let an abandoned pass (Keras' look-ahead iterator) finish in the
        background and use up a draw, so short epochs read ahead less (one batch for an
        epoch of up to 7 batches).
        """
        by_bytes = max(2, min(8, _PREFETCH_BYTES // self._batch_bytes()))
        return int(max(1, min(by_bytes, self.n_batches // 4)))

    def group_size(self) -> int:
        """Batches per generator call: as many as fit in about 4 MiB, 1 to 32.

        At most an eighth of the epoch, so that a look-ahead or partial pass over a short
        epoch does not produce the whole epoch in one call (and count as complete).
        """
        by_bytes = _GROUP_BYTES // self._batch_bytes()
        return int(max(1, min(by_bytes, _MAX_GROUP, self.n_batches // 8)))

    # -- batches ------------------------------------------------------------------------

    def _parts(self, first_draw: int) -> Iterator[Draw]:
        """The epoch's batches (as plan slices), draw after draw, cut at batch_size."""
        size = self.batch_size
        carry: Draw | None = None
        for index in range(first_draw, first_draw + self.draws_per_epoch):
            draw = self.planner.draw(index)
            if carry is not None:
                draw = Draw.concatenate([carry, draw])
            full = len(draw) // size * size
            for start in range(0, full, size):
                yield draw.slice(start, start + size)
            carry = draw.slice(full, len(draw)) if full < len(draw) else None
        if carry is not None and self.shard is None:
            yield carry

    def epoch_parts(self, epoch: int) -> Iterator[Draw]:
        """The batches of pass ``epoch`` (0, 1, ...) as row plans, the ones ``dataset()``
        gathers: real rows, and for ``"interpolate"`` each entry's partner and mixing
        weight (0 for a real row)."""
        if self.shard is not None or self.mixup_alpha is not None:
            raise InvalidParameterError(
                "epoch_parts() plans plain batches: not with `input_context` or "
                "`mixup_alpha`."
            )
        return self._parts(epoch * self.draws_per_epoch)

    def _sharded(self, parts: Iterator[Draw]) -> Iterator[Draw]:
        """Under an InputContext: this pipeline's per-replica slices of each global batch."""
        pipeline_id, n_pipelines, local = self.shard
        per_replica = self.batch_size // (n_pipelines * local)
        for part in parts:
            for replica in range(local):
                start = (pipeline_id * local + replica) * per_replica
                yield part.slice(start, start + per_replica)

    def _gather(self, part: Draw) -> dict[Any, np.ndarray]:
        x = {}
        for key, arr in self.inputs.items():
            batch = arr.take(part.rows, axis=0)
            dtype = self._out_dtype(key)
            if batch.dtype != dtype:
                batch = batch.astype(dtype)
            x[key] = batch
        if part.lam is not None and self.mixup_alpha is None:
            synthetic = np.flatnonzero(part.lam)  # lam is 0 exactly for real entries
            if len(synthetic):
                partners = part.partners[synthetic]
                lam = part.lam[synthetic]
                for key in self.mix_keys:
                    base = x[key][synthetic]
                    # base + lam * (partner - base), in place on the partner rows.
                    step = self.inputs[key].take(partners, axis=0)
                    step = step.astype(base.dtype, copy=False)
                    np.subtract(step, base, out=step)
                    step *= lam.reshape((-1,) + (1,) * (base.ndim - 1)).astype(
                        base.dtype, copy=False
                    )
                    step += base
                    x[key][synthetic] = step
        return x

    def _mixup(self, x, y, w, rng: np.random.Generator, batches: int):
        """Mix every row with another row of the same batch (``batches`` equal batches)."""
        n = len(y)
        size = n // batches
        within = rng.permuted(np.tile(np.arange(size), (batches, 1)), axis=1)
        partner = (within + (np.arange(batches) * size)[:, None]).ravel()
        lam = rng.beta(self.mixup_alpha, self.mixup_alpha, size=n).astype(np.float32)
        for key in self.mix_keys:
            batch = x[key]
            weight = lam.reshape((-1,) + (1,) * (batch.ndim - 1)).astype(batch.dtype)
            x[key] = weight * batch + (1 - weight) * batch[partner]
        if self.targets.multi_label:
            soft = y
        elif self.targets.n_outputs == 2:
            soft = y.astype(np.float32)
        else:
            soft = np.eye(self.targets.n_outputs, dtype=np.float32)[y]
        lam_y = lam.reshape((-1,) + (1,) * (soft.ndim - 1))
        y = lam_y * soft + (1 - lam_y) * soft[partner]
        if w is not None:
            w = lam * w + (1 - lam) * w[partner]
        return x, y, w

    def generate(self) -> Iterator[tuple]:
        epoch = self.counter.completed
        parts = self._parts(epoch * self.draws_per_epoch)
        if self.shard is not None:
            parts = self._sharded(parts)
        rng = (
            np.random.default_rng(derive_seed(self.seed, "mixup", epoch))
            if self.mixup_alpha is not None
            else None
        )
        limit = self.group_size()
        done = 0
        for group in _equal_runs(parts, limit):
            part = Draw.concatenate(group)
            x = self._gather(part)
            y = self.targets.y_source.take(part.rows, axis=0)
            if self.targets.multi_label:
                y = y.astype(np.float32)
            w = None if self.weights is None else self.weights.take(part.rows)
            if rng is not None:
                x, y, w = self._mixup(x, y, w, rng, len(group))
            done += len(group)
            if done == self.n_batches:
                self.counter.completed = max(self.counter.completed, epoch + 1)
            shape = (len(group), len(group[0]))
            x = {
                key: value.reshape(shape + value.shape[1:]) for key, value in x.items()
            }
            x_out = x if self.is_dict else x[_SINGLE]
            y = y.reshape(shape + y.shape[1:])
            yield (x_out, y) if w is None else (x_out, y, w.reshape(shape))

    def dataset(self):
        import tensorflow as tf

        ds = tf.data.Dataset.from_generator(
            self.generate, output_signature=self.output_signature()
        ).unbatch()
        ds = ds.apply(tf.data.experimental.assert_cardinality(self.n_batches))
        options = tf.data.Options()
        # Shard by batch if a multi-worker strategy distributes it (there are no files).
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA
        )
        # Nothing here runs in parallel, so there is nothing to tune; tf.data's autotuning
        # threads cost CPU, which on a single core halved fit throughput (measured).
        options.autotune.enabled = False
        return ds.with_options(options).prefetch(self.prefetch_size())


def balanced_dataset(
    X: Any,
    y: Any,
    *,
    batch_size: int,
    method: Literal["under", "over", "interpolate"] = "under",
    sampling_strategy: Any = "auto",
    seed: int | None = 0,
    sample_weight: Any = None,
    draws_per_epoch: int = 1,
    k_neighbors: int = 5,
    mixup_alpha: float | None = None,
    shuffle: bool = True,
    classes: Any = None,
    input_context: Any = None,
):
    """A ``tf.data.Dataset`` of balanced batches, drawn afresh every epoch from in-memory data.

    Each pass over the dataset (each Keras epoch) uses a new balanced draw whose randomness
    comes from a seed derived from ``(seed, draw number)``. Rows are gathered from ``X``
    batch by batch, so the only extra memory is the index arrays of one draw (and, for
    interpolation, the neighbour table): no second copy of the data. The dataset has a known
    cardinality, so ``model.fit(ds, epochs=E)`` needs no ``steps_per_epoch``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, ...) or dict of such arrays
        Features of any rank (tabular, images ``N x H x W x C``, sequences); a dict feeds a
        multi-input model (every array has one row per sample). numpy arrays are used in
        place; anything else is converted once with ``np.asarray``.
    y : array-like of shape (n_samples,) or (n_samples, n_classes)
        Class labels of any type (int, bool, str, or one-hot rows): the dataset yields
        class indices ``0..K-1`` (int32) in sorted label order, or in the order of
        ``classes``. A multi-hot target (2-D 0/1, rows not all summing to 1) is multi-label:
        see Notes.
    batch_size : int
        Rows per batch; at least the number of classes, so that every batch can hold every
        class. Every batch, and every contiguous slice of it, holds the classes in the
        draw's proportions to within a row or two.
    method : {"under", "over", "interpolate"}, default="under"
        - ``"under"``: shrink the larger classes (``sampling_strategy`` as for an
          under-sampler; ``"auto"`` shrinks every class to the minority's size). Each
          shrunk class walks a random permutation of its rows without replacement across
          draws, so draws ``k*m ... k*m + m - 1``, with ``m = ceil(n_class / n_target)``,
          together use every one of its rows; a new permutation starts every ``m`` draws.
        - ``"over"``: grow the smaller classes (``"auto"``: to the majority's size) by
          repeating rows: each row ``target // n`` times plus a walk, as above, of the
          remaining ``target % n`` rows, so repeats are spread evenly over the rows.
        - ``"interpolate"``: grow the smaller classes with synthetic rows made at batch
          time, ``x_i + lam * (x_j - x_i)`` with ``lam ~ U(0, 1)``, where ``x_j`` is one of
          the ``k_neighbors`` nearest rows of the same class as ``x_i`` (SMOTE). Base rows
          are spread over the class as in ``"over"``; the class's real rows are kept.
          Neighbours are computed once with scikit-learn's ``NearestNeighbors`` on the
          interpolated inputs (flattened), in ``O(n_class * k)`` memory; no synthetic
          dataset is ever stored. With ``mixup_alpha``, mixup replaces SMOTE.
    sampling_strategy : float, str, dict or callable, default="auto"
        Rows of each class per draw, with imbalanced-learn's meanings (see
        :func:`balanceflow.sampling.resolve_sampling_strategy`; ``"interpolate"`` reads it
        as an over-sampler does).
    seed : int or None, default=0
        Seed of every draw; the same seed gives the same batches, pass after pass. None
        picks a random seed.
    sample_weight : array-like of shape (n_samples,), optional
        Per-row weights, yielded as a third element ``(x, y, sample_weight)`` aligned with
        the rows. A synthetic row takes its base row's weight; a mixup row the same mix of
        weights as of labels.
    draws_per_epoch : int, default=1
        Balanced draws per pass over the dataset (per Keras epoch). Heavy under-sampling
        makes draws short (1% minority: 2% of the rows), and then Keras' per-epoch work
        (callbacks, iterator start, validation) dominates; ``draws_per_epoch=d`` puts ``d``
        consecutive draws in one epoch, cut into batches across draw boundaries, so an
        epoch of ``E`` epochs uses draws ``0 ... E*d - 1`` exactly as ``E*d`` epochs would.
    k_neighbors : int, default=5
        Neighbours per minority row for ``"interpolate"``. A class with ``n <= k`` rows uses
        its ``n - 1`` neighbours and warns; a grown class with a single row raises a
        DataError (use ``"over"`` for it).
    mixup_alpha : float, optional
        ``"interpolate"`` only: mixup instead of neighbour interpolation. Rows are drawn as
        ``"over"`` draws them, then every row of a batch is mixed with another row of the
        same batch: ``lam * x_a + (1 - lam) * x_b`` and the same mix of the labels, with
        ``lam ~ Beta(mixup_alpha, mixup_alpha)`` per row. Labels are then soft: float32 of
        shape ``(batch,)`` (the probability of class 1) for two classes, for a sigmoid
        output and binary cross-entropy; ``(batch, K)`` otherwise, for a softmax output and
        categorical (not sparse) cross-entropy.
    shuffle : bool, default=True
        False walks each class in its original row order and keeps class rows in order
        inside a draw (the draw is still balanced); useful to inspect a pipeline.
    classes : array-like, optional
        The labels of the class indices, in order. Use it when ``y`` is a subset (a fold)
        that must keep the index of every class; a class listed here with no row in ``y``
        raises a DataError.
    input_context : tf.distribute.InputContext, optional
        For ``strategy.distribute_datasets_from_function`` in a custom training loop: the
        dataset then yields this input pipeline's per-replica batches
        (``input_context.get_per_replica_batch_size(batch_size)`` rows, each balanced),
        one slice of every global batch per local replica; a last partial global batch is
        dropped. Not needed for ``model.fit``: Keras distributes the plain dataset itself,
        and every replica's slice of a batch stays balanced.

    Returns
    -------
    tf.data.Dataset
        Of ``(x, y)`` batches, or ``(x, y, sample_weight)``, with a known cardinality:
        ``ceil(draws_per_epoch * rows_per_draw / batch_size)`` batches.

    Raises
    ------
    InvalidParameterError
        An unknown ``method``, ``batch_size`` smaller than the number of classes, a bad
        ``seed``, ``draws_per_epoch``, ``k_neighbors`` or ``mixup_alpha``.
    DataError
        ``X`` and ``y`` (or ``sample_weight``) of different lengths, a class with zero rows
        (through ``classes``, or a multi-label column never positive), a single-class ``y``,
        a grown class with one row under ``"interpolate"``.

    Notes
    -----
    **Draw numbers.** Pass ``p`` over the dataset uses draws ``p*d ... p*d + d - 1``
    (``d = draws_per_epoch``). A pass counts once it has produced its last batch; a pass
    abandoned earlier (a ``break`` out of a loop, ``ds.take(n)``, or the look-ahead iterator
    that Keras opens after every epoch) does not use up a number, so the next pass produces
    the same draws again. Under a ``tf.distribute`` strategy that look-ahead iterator
    prefetches batches; if an epoch is so short (a few batches) that it prefetches all of
    them, it counts as a pass and the next epoch skips one draw number. Draws then stay
    fresh and balanced, but which draw an epoch gets can depend on timing: use
    ``draws_per_epoch`` to keep epochs longer than a handful of batches.

    **Multi-label targets** (multi-hot ``y``). Each row is assigned to the group of its
    rarest positive label (the label column with the fewest positive rows; ties go to the
    lower column), and rows with no positive label form a group of their own, keyed ``-1``.
    The groups are balanced like classes (``sampling_strategy`` dict keys are column
    indices and ``-1``), so rows carrying a rare label are up-weighted together with all
    their labels. The dataset yields the multi-hot rows as float32 ``(batch, n_labels)``.
    ``"interpolate"`` supports multi-label targets only with ``mixup_alpha`` (labels are
    mixed); neighbour interpolation would invent label sets.

    **Distribution.** ``model.fit`` under ``tf.distribute.MirroredStrategy`` works as is:
    Keras splits every global batch into contiguous per-replica slices, each balanced.
    Keras 3 ``fit`` under ``MultiWorkerMirroredStrategy`` fails upstream
    (keras-team/keras#20585), so multi-worker training is not supported here; the
    ``input_context`` sharding is provided for custom loops.

    **Interpolated inputs.** Every int, unsigned and float input is interpolated and
    yielded as float (float32 unless it already was a float); bool and string inputs of a
    synthetic row are its base row's.

    Examples
    --------
    >>> import numpy as np
    >>> from balanceflow.data import balanced_dataset
    >>> X = np.random.default_rng(0).normal(size=(1000, 4)).astype("float32")
    >>> y = np.array([0] * 950 + [1] * 50)
    >>> ds = balanced_dataset(X, y, batch_size=20, method="under", seed=0)
    >>> int(ds.cardinality())  # 50 + 50 rows per draw
    5
    >>> xb, yb = next(iter(ds))
    >>> np.bincount(yb.numpy()).tolist()
    [10, 10]
    """
    return balanced_pipeline(
        X,
        y,
        batch_size=batch_size,
        method=method,
        sampling_strategy=sampling_strategy,
        seed=seed,
        sample_weight=sample_weight,
        draws_per_epoch=draws_per_epoch,
        k_neighbors=k_neighbors,
        mixup_alpha=mixup_alpha,
        shuffle=shuffle,
        classes=classes,
        input_context=input_context,
    ).dataset()


def balanced_pipeline(
    X: Any,
    y: Any,
    *,
    batch_size: int,
    method: Literal["under", "over", "interpolate"] = "under",
    sampling_strategy: Any = "auto",
    seed: int | None = 0,
    sample_weight: Any = None,
    draws_per_epoch: int = 1,
    k_neighbors: int = 5,
    mixup_alpha: float | None = None,
    shuffle: bool = True,
    classes: Any = None,
    input_context: Any = None,
):
    """The batch plan behind :func:`balanced_dataset` (same arguments, checked the same
    way): ``pipeline.epoch_parts(epoch)`` are the epoch's batches as row plans, which
    the fused trainer gathers itself; ``pipeline.dataset()`` is the ``tf.data`` stream."""
    if not isinstance(method, str) or method not in METHODS:
        raise InvalidParameterError(
            f"Unknown `method`. Received: method={short_repr(method)}. Use one of "
            f"{list(METHODS)}.{did_you_mean(method, METHODS)}"
        )
    batch_size = check_int(batch_size, "batch_size")
    draws_per_epoch = check_int(draws_per_epoch, "draws_per_epoch")
    k_neighbors = check_int(k_neighbors, "k_neighbors")
    seed = check_pipeline_seed(seed)
    if mixup_alpha is not None:
        if method != "interpolate":
            raise InvalidParameterError(
                "`mixup_alpha` applies to method='interpolate' only (mixup instead of "
                f"neighbour interpolation). Received: mixup_alpha={mixup_alpha!r} with "
                f"method={method!r}."
            )
        if (
            not isinstance(mixup_alpha, numbers.Real)
            or isinstance(mixup_alpha, bool)
            or not float(mixup_alpha) > 0
            or not np.isfinite(float(mixup_alpha))
        ):
            raise InvalidParameterError(
                "`mixup_alpha` must be a float > 0 (the Beta distribution's parameter; "
                f"0.2 to 0.4 is common). Received: mixup_alpha={short_repr(mixup_alpha)}."
            )
        mixup_alpha = float(mixup_alpha)

    inputs, is_dict = _check_inputs(X)
    n = num_rows(inputs if is_dict else inputs[_SINGLE])
    check_consistent_length(inputs if is_dict else inputs[_SINGLE], np.asarray(y))
    targets = encode_targets(y, classes=classes)
    weights = check_sample_weight(sample_weight, n)
    if targets.multi_label and method == "interpolate" and mixup_alpha is None:
        raise InvalidParameterError(
            "Neighbour interpolation needs one label per row; y is multi-label "
            "(multi-hot). Use method='over' or 'under', or mixup (mixup_alpha=0.2) which "
            "mixes the label rows too."
        )

    kind = "under" if method == "under" else "over"
    per_group = _targets_per_group(sampling_strategy, targets, kind)
    n_groups = len(per_group)
    shard = None
    if input_context is not None:
        n_pipelines = int(input_context.num_input_pipelines)
        local = int(input_context.num_replicas_in_sync) // n_pipelines
        per_replica = input_context.get_per_replica_batch_size(batch_size)
        shard = (int(input_context.input_pipeline_id), n_pipelines, local)
        if per_replica < n_groups:
            raise InvalidParameterError(
                f"Each replica's batch ({per_replica} rows = batch_size={batch_size} / "
                f"{input_context.num_replicas_in_sync} replicas) must hold at least one row "
                f"of each of the {n_groups} classes. Raise `batch_size` to at least "
                f"{n_groups * input_context.num_replicas_in_sync}."
            )
    if batch_size < n_groups:
        what = "label groups" if targets.multi_label else "classes"
        raise InvalidParameterError(
            f"`batch_size` must be at least the number of {what} ({n_groups}) so that every "
            f"batch can hold each of them. Received: batch_size={batch_size}."
        )

    groups = [np.flatnonzero(targets.codes == g) for g in range(n_groups)]
    neighbors = None
    if method == "interpolate" and mixup_alpha is None:
        keys = interpolated_keys(inputs)
        if not keys:
            raise DataError(
                "method='interpolate' needs at least one numeric input to interpolate; "
                "every input of X is bool or text. Use method='over'."
            )
        grow = [t > len(g) for t, g in zip(per_group, groups)]
        neighbors = class_neighbors(
            inputs, keys, groups, grow, k_neighbors, targets.group_labels
        )
    plan_method = "over" if mixup_alpha is not None else method
    planner = DrawPlanner(
        groups,
        per_group,
        method=plan_method,
        seed=seed,
        shuffle=shuffle,
        neighbors=neighbors,
    )
    if planner.rows_per_draw * draws_per_epoch < batch_size and shard is not None:
        raise InvalidParameterError(
            f"With `input_context`, an epoch must hold at least one global batch; it has "
            f"{planner.rows_per_draw * draws_per_epoch} rows for batch_size={batch_size}. "
            "Raise `draws_per_epoch` or lower `batch_size`."
        )
    pipeline = _Pipeline(
        inputs,
        is_dict,
        targets,
        weights,
        planner,
        batch_size=batch_size,
        draws_per_epoch=draws_per_epoch,
        method=method,
        mixup_alpha=mixup_alpha,
        seed=seed,
        shard=shard,
    )
    return pipeline
